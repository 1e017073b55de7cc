#include "domain/webhook.h"

#include <curl/curl.h>

#include <cctype>
#include <optional>

namespace growhook {
namespace {

using nlohmann::json;

void add(FieldErrors& errors, const std::string& field, const std::string& message) {
  errors.push_back({field, message});
}

bool has_ctl(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

// http or https, a host, no spaces; a literal address must pass the guard.
void check_url(const std::string& url, const AddressGuard& guard, FieldErrors& errors) {
  if (url.empty() || url.size() > 2048) return add(errors, "url", "must be 1 to 2048 characters");
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    return add(errors, "url", "must be an http:// or https:// URL, like https://example.com/hooks");
  if (url.find(' ') != std::string::npos || has_ctl(url)) return add(errors, "url", "must not contain spaces");
  CURLU* h = curl_url();
  CURLUcode rc = curl_url_set(h, CURLUPART_URL, url.c_str(), 0);
  char* scheme = nullptr;
  char* host = nullptr;
  if (rc == CURLUE_OK) curl_url_get(h, CURLUPART_SCHEME, &scheme, 0);
  if (rc == CURLUE_OK) curl_url_get(h, CURLUPART_HOST, &host, 0);
  std::string s = scheme ? scheme : "", hs = host ? host : "";
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(h);
  if (rc != CURLUE_OK || (s != "http" && s != "https") || url.rfind(s + "://", 0) != 0) {
    return add(errors, "url", "must be an http:// or https:// URL, like https://example.com/hooks");
  }
  if (hs.empty()) return add(errors, "url", "must name a host");
  if (auto ip = IpAddress::parse(hs); ip && !guard.permits(*ip)) {
    add(errors, "url", "address " + ip->to_string() + " is " + std::string(to_string(classify(*ip))) +
                          " and not allowed; use a public address (the operator can open ranges with --allow-targets)");
  }
}

bool valid_header_name(std::string_view n) {
  if (n.empty() || n.size() > 100) return false;
  for (char c : n) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  std::string lower;
  for (char c : n) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower != "content-type" && lower != "content-length" && lower != "host" && lower != "user-agent" &&
         lower != "transfer-encoding" && lower != "connection" && lower.rfind("webhook-", 0) != 0;
}

std::optional<std::string> string_field(const json& o, const char* key, const std::string& path,
                                        FieldErrors& errors, size_t max_len = 1024) {
  if (!o.contains(key) || !o[key].is_string()) {
    add(errors, path + "." + key, "is required and must be a string");
    return std::nullopt;
  }
  std::string v = o[key];
  if (v.empty() || v.size() > max_len || has_ctl(v)) {
    add(errors, path + "." + key, "must be 1 to " + std::to_string(max_len) + " characters without line breaks");
    return std::nullopt;
  }
  return v;
}

void parse_auth(const json& j, WebhookAuth& auth, FieldErrors& errors) {
  auth = WebhookAuth{};
  if (j.is_null()) return;
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    return add(errors, "auth", "must be null or an object with \"type\": \"basic\", \"bearer\" or \"header\"");
  std::string type = j["type"];
  auto allow = [&](std::initializer_list<const char*> keys) {
    for (auto& [k, v] : j.items()) {
      bool known = k == "type";
      for (auto* key : keys) known |= k == key;
      if (!known) add(errors, "auth." + k, "unknown field for auth type " + type);
    }
  };
  if (type == "basic") {
    allow({"username", "password"});
    auth.kind = WebhookAuth::Kind::kBasic;
    auth.username = string_field(j, "username", "auth", errors, 200).value_or("");
    if (auth.username.find(':') != std::string::npos) add(errors, "auth.username", "must not contain ':'");
    auth.password = string_field(j, "password", "auth", errors, 200).value_or("");
  } else if (type == "bearer") {
    allow({"token"});
    auth.kind = WebhookAuth::Kind::kBearer;
    auth.token = string_field(j, "token", "auth", errors, 2048).value_or("");
  } else if (type == "header") {
    allow({"name", "value"});
    auth.kind = WebhookAuth::Kind::kHeader;
    auth.header_name = string_field(j, "name", "auth", errors, 100).value_or("");
    if (!auth.header_name.empty() && !valid_header_name(auth.header_name))
      add(errors, "auth.name", "must be a header name of letters, digits, '-' or '_', and not one growhook sets");
    auth.header_value = string_field(j, "value", "auth", errors, 2048).value_or("");
  } else {
    add(errors, "auth.type", "must be \"basic\", \"bearer\" or \"header\"");
  }
}

// Sets out from body[field] when body has it: an integer from min to max.
void int_field(const json& body, const char* field, int min, int max, int& out, FieldErrors& errors) {
  if (!body.contains(field)) return;
  const json& v = body[field];
  if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max)
    add(errors, field, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  else out = v.get<int>();
}

}  // namespace

void apply_webhook_fields(const json& body, Webhook& w, bool create, const AddressGuard& guard, FieldErrors& errors) {
  static const char* known[] = {"name", "url", "enabled", "event_types", "batch_max_events", "batch_max_bytes",
                                "ordering", "auth"};
  for (auto& [k, v] : body.items()) {
    bool ok = false;
    for (auto* key : known) ok |= k == key;
    if (!ok)
      add(errors, k, "unknown field; accepted: name, url, enabled, event_types, batch_max_events, batch_max_bytes, ordering, auth");
  }
  if (body.contains("name") || create) {
    if (!body.contains("name") || !body["name"].is_string()) {
      add(errors, "name", "is required and must be a string");
    } else {
      w.name = body["name"];
      if (w.name.empty() || w.name.size() > 200 || has_ctl(w.name)) add(errors, "name", "must be 1 to 200 characters");
    }
  }
  if (body.contains("url") || create) {
    if (!body.contains("url") || !body["url"].is_string()) {
      add(errors, "url", "is required and must be a string");
    } else {
      w.url = body["url"];
      check_url(w.url, guard, errors);
    }
  }
  if (body.contains("enabled")) {
    if (!body["enabled"].is_boolean()) add(errors, "enabled", "must be true or false");
    else w.enabled = body["enabled"];
  }
  if (body.contains("event_types")) {
    const json& t = body["event_types"];
    uint8_t mask = 0;
    if (!t.is_array() || t.empty()) {
      add(errors, "event_types", "must be a non-empty array of \"contact.subscribed\", \"contact.unsubscribed\"");
    } else {
      for (const auto& item : t) {
        auto type = item.is_string() ? parse_event_type(item.get<std::string>()) : std::nullopt;
        if (!type) add(errors, "event_types", "unknown event type; use \"contact.subscribed\" or \"contact.unsubscribed\"");
        else mask |= type_bit(*type);
      }
      w.event_types = mask;
    }
  }
  int_field(body, "batch_max_events", 1, kMaxBatchEvents, w.batch_max_events, errors);
  int_field(body, "batch_max_bytes", kMinBatchBytes, kMaxBatchBytes, w.batch_max_bytes, errors);
  if (body.contains("ordering")) {
    const json& o = body["ordering"];
    auto ordering = o.is_string() ? parse_ordering(o.get<std::string>()) : std::nullopt;
    if (!ordering) add(errors, "ordering", "must be \"none\" or \"contact\"");
    else w.ordering = *ordering;
  }
  if (body.contains("auth")) parse_auth(body["auth"], w.auth, errors);
}

}  // namespace growhook
