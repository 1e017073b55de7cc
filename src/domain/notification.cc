#include "domain/notification.h"

#include <string>

namespace growhook {

std::optional<HealthNews> health_news(const WebhookHealth& before, const HealthStep& step, int64_t at_ms) {
  if (step.change == HealthChange::kNone) return std::nullopt;
  HealthNews n;
  n.kind = to_string(step.change);
  n.at_ms = at_ms;
  n.failing_since_ms = step.health.failing_since_ms.value_or(before.failing_since_ms.value_or(at_ms));
  switch (step.change) {
    case HealthChange::kFailing: n.reason = step.health.last_error; break;
    case HealthChange::kDisabled: n.reason = step.disabled_reason; break;
    case HealthChange::kRecovered: n.reason = "the receiver answered 2xx again"; break;
    case HealthChange::kNone: break;
  }
  return n;
}

Status validate_notification_email(std::string_view e) {
  if (e.empty()) return Error::invalid("is empty: give an address like shop@example.com, or null");
  if (e.size() > 254) return Error::invalid("is longer than 254 characters");
  for (unsigned char c : e) {
    if (c <= 0x20 || c == 0x7f || c == '"' || c == ',' || c == '<' || c == '>' || c == ';' || c == '\\' ||
        c == '(' || c == ')' || c == '[' || c == ']') {
      return Error::invalid("must be one plain address like shop@example.com (no spaces, "
                            "quotes, commas, brackets or names)");
    }
  }
  const size_t at = e.find('@');
  if (at == std::string_view::npos || at == 0 || e.find('@', at + 1) != std::string_view::npos) {
    return Error::invalid("must have one '@' with a name before it, like shop@example.com");
  }
  const std::string_view domain = e.substr(at + 1);
  const bool dotted = domain.find('.') != std::string_view::npos && domain.front() != '.' && domain.back() != '.' &&
                      domain.find("..") == std::string_view::npos;
  if (!dotted && domain != "localhost") {
    return Error::invalid("has the domain '" + std::string(domain) +
                          "', which is not a mail domain: write it like shop@example.com");
  }
  return ok_status();
}

}  // namespace growhook
