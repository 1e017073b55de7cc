#include "api/render.h"

#include "domain/timestamp.h"

namespace growhook::api {

nlohmann::json timestamp_json(int64_t ms) { return format_timestamp(ms); }

nlohmann::json event_types_json(uint8_t mask) {
  auto types = nlohmann::json::array();
  for (EventType t : {EventType::kSubscribed, EventType::kUnsubscribed}) {
    if (mask & type_bit(t)) types.push_back(std::string(to_string(t)));
  }
  return types;
}

namespace {
nlohmann::json auth_json(const WebhookAuth& a) {
  switch (a.kind) {
    case WebhookAuth::Kind::kNone: return nullptr;
    case WebhookAuth::Kind::kBasic: return {{"type", "basic"}, {"username", a.username}};
    case WebhookAuth::Kind::kBearer: return {{"type", "bearer"}};
    case WebhookAuth::Kind::kHeader: return {{"type", "header"}, {"name", a.header_name}};
  }
  return nullptr;
}
}  // namespace

nlohmann::json webhook_json(const Webhook& w, const WebhookStats* stats) {
  nlohmann::json j = {{"id", w.id},
                      {"name", w.name},
                      {"url", w.url},
                      {"enabled", w.enabled},
                      {"event_types", event_types_json(w.event_types)},
                      {"batch_max_events", w.batch_max_events},
                      {"batch_max_bytes", w.batch_max_bytes},
                      {"ordering", to_string(w.ordering)},
                      {"auth", auth_json(w.auth)},
                      {"created_at", timestamp_json(w.created_at_ms)},
                      {"updated_at", timestamp_json(w.updated_at_ms)}};
  if (!w.disabled_reason.empty()) j["disabled_reason"] = w.disabled_reason;
  // Health (domain/health.h): null while healthy; while failing, the next
  // probe and the last error.
  j["failing_since"] = w.health.failing() ? timestamp_json(*w.health.failing_since_ms) : nlohmann::json(nullptr);
  if (w.health.failing()) {
    j["next_probe_at"] = timestamp_json(w.health.next_probe_at_ms);
    j["last_error"] = w.health.last_error;
  }
  if (stats) {
    j["stats"] = {{"last_delivery_at", stats->last_delivery_at_ms ? timestamp_json(*stats->last_delivery_at_ms)
                                                                   : nlohmann::json(nullptr)},
                  {"failed_batches", stats->failed_batches},
                  {"pending_batches", stats->pending_batches},
                  {"events_waiting", stats->events_waiting}};
  }
  return j;
}

nlohmann::json batch_json(const Batch& b) {
  auto attempts = nlohmann::json::array();
  for (const auto& a : b.attempts) {
    attempts.push_back({{"at", timestamp_json(a.at_ms)},
                        {"status_code", a.status_code ? nlohmann::json(a.status_code) : nlohmann::json(nullptr)},
                        {"duration_ms", a.duration_ms},
                        {"error", a.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.error)},
                        {"response_body", a.response_body}});
  }
  return {{"id", b.id},
          {"webhook_id", b.webhook_id},
          {"state", std::string(to_string(b.state))},
          {"event_count", b.event_count},
          {"created_at", timestamp_json(b.created_at_ms)},
          {"next_attempt_at", b.next_attempt_at_ms ? timestamp_json(*b.next_attempt_at_ms) : nlohmann::json(nullptr)},
          {"attempts", attempts}};
}

}  // namespace growhook::api
