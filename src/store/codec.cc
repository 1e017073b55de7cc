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

namespace growhook {
namespace {

std::string aad(const std::string& id, const char* column) { return "webhooks/" + id + "/" + column; }

Result<std::string> open_one(const SecretBox& box, const std::string& id, const char* column,
                             const std::string& stored) {
  if (stored.empty() && std::string_view(column) == "previous_secret") return std::string();
  auto r = box.open(stored, aad(id, column));
  if (r.ok()) return r;
  std::string given;
  for (const auto& k : box.key_ids()) given += (given.empty() ? "" : ", ") + k;
  return Error::internal("the " + std::string(column) + " of webhook " + id + " " +
                         (SecretBox::is_sealed(stored) ? "was " + r.error().message : std::string("is not sealed")) +
                         " (key ids given: " + given + "); start with the keys that sealed the store's secrets");
}

// The value to store in place of stored; nullopt when it stays.
Result<std::optional<std::string>> refresh_one(const SecretBox& box, const std::string& id, const char* column,
                                               const std::string& stored, bool reseal) {
  if (stored.empty() && std::string_view(column) == "previous_secret") return std::optional<std::string>();
  if (!SecretBox::is_sealed(stored)) return std::optional<std::string>(box.seal(stored, aad(id, column)));
  auto plain = open_one(box, id, column, stored);
  if (!plain.ok()) return plain.error();
  if (!reseal || SecretBox::key_id_of(stored) == box.sealing_key_id()) return std::optional<std::string>();
  return std::optional<std::string>(box.seal(*plain, aad(id, column)));
}

}  // namespace

StoredSecrets seal_secrets(const SecretBox& box, const Webhook& w) {
  StoredSecrets s;
  s.id = w.id;
  s.auth = box.seal(auth_to_storage(w.auth), aad(w.id, "auth"));
  s.secret = box.seal(w.secret, aad(w.id, "secret"));
  if (!w.previous_secret.empty()) s.previous_secret = box.seal(w.previous_secret, aad(w.id, "previous_secret"));
  return s;
}

Status open_secrets(const SecretBox& box, const StoredSecrets& stored, Webhook& w) {
  auto auth = open_one(box, stored.id, "auth", stored.auth);
  if (!auth.ok()) return auth.error();
  auto secret = open_one(box, stored.id, "secret", stored.secret);
  if (!secret.ok()) return secret.error();
  auto previous = open_one(box, stored.id, "previous_secret", stored.previous_secret);
  if (!previous.ok()) return previous.error();
  w.auth = auth_from_storage(*auth);
  w.secret = std::move(*secret);
  w.previous_secret = std::move(*previous);
  return ok_status();
}

Result<std::optional<StoredSecrets>> refreshed_secrets(const SecretBox& box, const StoredSecrets& row, bool reseal) {
  StoredSecrets out = row;
  bool changed = false;
  for (auto [column, value] : {std::pair{"auth", &out.auth}, std::pair{"secret", &out.secret},
                               std::pair{"previous_secret", &out.previous_secret}}) {
    auto next = refresh_one(box, row.id, column, *value, reseal);
    if (!next.ok()) return next.error();
    if (*next) {
      *value = std::move(**next);
      changed = true;
    }
  }
  if (!changed) return std::optional<StoredSecrets>();
  return std::optional<StoredSecrets>(std::move(out));
}

std::string sealed_by_first_pattern(const SecretBox& box) { return "gh1:" + box.sealing_key_id() + ":%"; }

}  // namespace growhook
