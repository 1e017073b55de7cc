#include "store/codec.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "domain/timestamp.h"

namespace growhook {

void log_health_change(const std::string& webhook_id, const HealthStep& step) {
  switch (step.change) {
    case HealthChange::kNone: return;
    case HealthChange::kFailing:
      spdlog::warn("msg=\"webhook failing: its backlog waits, probes follow\" webhook={} since={} error=\"{}\"",
                   webhook_id, format_timestamp(step.health.failing_since_ms.value_or(0)), step.health.last_error);
      return;
    case HealthChange::kDisabled:
      spdlog::warn("msg=\"webhook disabled\" webhook={} reason=\"{}\"", webhook_id, step.disabled_reason);
      return;
    case HealthChange::kRecovered: spdlog::info("msg=\"webhook recovered\" webhook={}", webhook_id); return;
  }
}

std::string auth_to_storage(const WebhookAuth& auth) {
  nlohmann::json j;
  switch (auth.kind) {
    case WebhookAuth::Kind::kNone: return "{}";
    case WebhookAuth::Kind::kBasic:
      j = {{"type", "basic"}, {"username", auth.username}, {"password", auth.password}};
      break;
    case WebhookAuth::Kind::kBearer: j = {{"type", "bearer"}, {"token", auth.token}}; break;
    case WebhookAuth::Kind::kHeader:
      j = {{"type", "header"}, {"name", auth.header_name}, {"value", auth.header_value}};
      break;
  }
  return j.dump();
}

WebhookAuth auth_from_storage(std::string_view text) {
  WebhookAuth a;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return a;
  std::string type = j.value("type", "");
  if (type == "basic") {
    a.kind = WebhookAuth::Kind::kBasic;
    a.username = j.value("username", "");
    a.password = j.value("password", "");
  } else if (type == "bearer") {
    a.kind = WebhookAuth::Kind::kBearer;
    a.token = j.value("token", "");
  } else if (type == "header") {
    a.kind = WebhookAuth::Kind::kHeader;
    a.header_name = j.value("name", "");
    a.header_value = j.value("value", "");
  }
  return a;
}

}  // namespace growhook
