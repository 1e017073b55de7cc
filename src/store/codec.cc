#include "store/codec.h"

#include <nlohmann/json.hpp>

namespace growhook {

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
