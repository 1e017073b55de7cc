#include "delivery/retry_policy.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "domain/timestamp.h"

namespace growhook {

Result<int64_t> parse_duration_ms(std::string_view t) {
  auto bad = [&] {
    return Error::invalid("duration '" + std::string(t) + "' is not like 500ms, 10s, 1m or 2h");
  };
  size_t digits = 0;
  while (digits < t.size() && t[digits] >= '0' && t[digits] <= '9') ++digits;
  if (digits == 0 || digits > 9) return bad();
  int64_t n = 0;
  std::from_chars(t.data(), t.data() + digits, n);
  std::string_view unit = t.substr(digits);
  if (unit == "ms") return n;
  if (unit == "s") return n * 1000;
  if (unit == "m") return n * 60'000;
  if (unit == "h") return n * 3'600'000;
  if (unit == "d") return n * 86'400'000;
  if (unit.empty() && n == 0) return int64_t{0};
  return bad();
}

Result<std::vector<int64_t>> parse_delays(std::string_view text) {
  std::vector<int64_t> out;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    auto d = parse_duration_ms(item);
    if (!d.ok()) return Error::invalid("--retry-delays: " + d.error().message);
    out.push_back(*d);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  if (out.size() > 20) return Error::invalid("--retry-delays: at most 20 retries");
  return out;
}

namespace {

int month_index(std::string_view m) {
  static const char* names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i)
    if (m == names[i]) return i + 1;
  return 0;
}

}  // namespace

std::string describe_failure(const TransportResult& r) {
  if (r.error_kind != TransportErrorKind::kNone) return r.error;
  if (is_success(r)) return {};
  if (r.status_code >= 300 && r.status_code < 400)
    return "HTTP " + std::to_string(r.status_code) + " (redirects are not followed)";
  return "HTTP " + std::to_string(r.status_code);
}

std::optional<int64_t> parse_retry_after(std::string_view v, int64_t now_ms) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  if (v.front() >= '0' && v.front() <= '9') {
    int64_t s = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), s);
    if (ec != std::errc() || p != v.data() + v.size() || s > 100'000'000) return std::nullopt;
    return s * 1000;
  }
  // IMF-fixdate: "Wed, 21 Oct 2015 07:28:00 GMT"
  if (v.size() != 29 || v.substr(25) != " GMT") return std::nullopt;
  int mon = month_index(v.substr(8, 3));
  if (mon == 0) return std::nullopt;
  char iso[32];
  std::snprintf(iso, sizeof iso, "%.4s-%02d-%.2sT%.8sZ", v.data() + 12, mon, v.data() + 5, v.data() + 17);
  auto at = parse_timestamp(iso);
  if (!at) return std::nullopt;
  return std::max<int64_t>(0, *at - now_ms);
}

Decision decide(const TransportResult& r, int attempts_in_cycle, int64_t now_ms, const RetryConfig& config,
                const std::function<double()>& rand01) {
  if (is_success(r)) return Delivered{};
  std::string reason = describe_failure(r);
  if (r.error_kind == TransportErrorKind::kNone && r.status_code == 410) {
    return Failed{"the endpoint answered 410 Gone", /*disable_webhook=*/true};
  }
  size_t retries_done = attempts_in_cycle > 0 ? static_cast<size_t>(attempts_in_cycle - 1) : 0;
  if (retries_done >= config.delays_ms.size()) {
    return Failed{"all " + std::to_string(attempts_in_cycle) + " attempts failed; last: " + reason};
  }
  int64_t base = config.delays_ms[retries_done];
  double scale = 1.0 - config.jitter + 2.0 * config.jitter * rand01();
  int64_t wait = static_cast<int64_t>(static_cast<double>(base) * scale);
  if (auto ra = retry_after_of(r, now_ms)) wait = std::min(*ra, config.retry_after_cap_ms);
  return Retry{now_ms + std::max<int64_t>(0, wait), std::move(reason)};
}

std::optional<int64_t> retry_after_of(const TransportResult& r, int64_t now_ms) {
  if (r.error_kind != TransportErrorKind::kNone || (r.status_code != 429 && r.status_code != 503)) return std::nullopt;
  return parse_retry_after(r.retry_after, now_ms);
}

Decision as_probe(Decision d, int64_t now_ms) {
  if (auto* f = std::get_if<Failed>(&d); f && !f->disable_webhook) return Retry{now_ms, std::move(f->reason)};
  if (auto* r = std::get_if<Retry>(&d)) return Retry{now_ms, std::move(r->reason)};
  return d;
}

void apply_decision(const Decision& d, int64_t now_ms, AttemptOutcome& o) {
  if (std::holds_alternative<Delivered>(d)) {
    o.new_state = BatchState::kDelivered;
  } else if (const auto* retry = std::get_if<Retry>(&d)) {
    o.new_state = BatchState::kPending;
    o.next_attempt_at_ms = retry->at_ms;
  } else if (const auto* failed = std::get_if<Failed>(&d)) {
    o.new_state = BatchState::kFailed;
    if (failed->disable_webhook) o.disabled_reason = "disabled at " + format_timestamp(now_ms) + ": " + failed->reason;
  }
}

}  // namespace growhook
