// The webhook routes: create, list, read, change, delete, enable/disable,
// secret, rotation and test connection.
#include <curl/curl.h>

#include <spdlog/spdlog.h>

#include "api/app.h"
#include "api/problem.h"
#include "api/render.h"
#include "common/ids.h"
#include "delivery/message.h"
#include "delivery/retry_policy.h"
#include "domain/signature.h"
#include "domain/timestamp.h"

namespace growhook::api {
namespace {

using nlohmann::json;

constexpr int kMaxBatchEvents = 1000;
constexpr int kMinBatchBytes = 1024;
constexpr int kMaxBatchBytes = 1 << 20;

// Collects field errors; the first becomes the detail.
struct FieldErrors {
  json list = json::array();
  void add(const std::string& field, const std::string& message) {
    list.push_back({{"field", field}, {"message", message}});
  }
  bool any() const { return !list.empty(); }
  Response response() const {
    std::string detail;
    for (const auto& e : list) {
      if (!detail.empty()) detail += "; ";
      detail += e["field"].get<std::string>() + ": " + e["message"].get<std::string>();
    }
    return problem(400, detail, list);
  }
};

bool has_ctl(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

// http or https, a host, no spaces; a literal address must pass the guard.
void check_url(const std::string& url, const AddressGuard& guard, FieldErrors& errors) {
  if (url.empty() || url.size() > 2048) return errors.add("url", "must be 1 to 2048 characters");
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    return errors.add("url", "must be an http:// or https:// URL, like https://example.com/hooks");
  if (url.find(' ') != std::string::npos || has_ctl(url)) return errors.add("url", "must not contain spaces");
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
    return errors.add("url", "must be an http:// or https:// URL, like https://example.com/hooks");
  }
  if (hs.empty()) return errors.add("url", "must name a host");
  if (auto ip = IpAddress::parse(hs); ip && !guard.permits(*ip)) {
    errors.add("url", "address " + ip->to_string() + " is " + std::string(to_string(classify(*ip))) +
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
    errors.add(path + "." + key, "is required and must be a string");
    return std::nullopt;
  }
  std::string v = o[key];
  if (v.empty() || v.size() > max_len || has_ctl(v)) {
    errors.add(path + "." + key, "must be 1 to " + std::to_string(max_len) + " characters without line breaks");
    return std::nullopt;
  }
  return v;
}

void parse_auth(const json& j, WebhookAuth& auth, FieldErrors& errors) {
  auth = WebhookAuth{};
  if (j.is_null()) return;
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    return errors.add("auth", "must be null or an object with \"type\": \"basic\", \"bearer\" or \"header\"");
  std::string type = j["type"];
  auto allow = [&](std::initializer_list<const char*> keys) {
    for (auto& [k, v] : j.items()) {
      bool known = k == "type";
      for (auto* key : keys) known |= k == key;
      if (!known) errors.add("auth." + k, "unknown field for auth type " + type);
    }
  };
  if (type == "basic") {
    allow({"username", "password"});
    auth.kind = WebhookAuth::Kind::kBasic;
    auth.username = string_field(j, "username", "auth", errors, 200).value_or("");
    if (auth.username.find(':') != std::string::npos) errors.add("auth.username", "must not contain ':'");
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
      errors.add("auth.name", "must be a header name of letters, digits, '-' or '_', and not one growhook sets");
    auth.header_value = string_field(j, "value", "auth", errors, 2048).value_or("");
  } else {
    errors.add("auth.type", "must be \"basic\", \"bearer\" or \"header\"");
  }
}

// Sets out from body[field] when body has it: an integer from min to max.
void int_field(const json& body, const char* field, int min, int max, int& out, FieldErrors& errors) {
  if (!body.contains(field)) return;
  const json& v = body[field];
  if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max)
    errors.add(field, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  else out = v.get<int>();
}

// Applies the fields of body to w. create: name and url are required.
void apply_fields(const json& body, Webhook& w, bool create, const AddressGuard& guard, FieldErrors& errors) {
  static const char* known[] = {"name", "url", "enabled", "event_types", "batch_max_events", "batch_max_bytes",
                                "auth"};
  for (auto& [k, v] : body.items()) {
    bool ok = false;
    for (auto* key : known) ok |= k == key;
    if (!ok)
      errors.add(k, "unknown field; accepted: name, url, enabled, event_types, batch_max_events, batch_max_bytes, auth");
  }
  if (body.contains("name") || create) {
    if (!body.contains("name") || !body["name"].is_string()) {
      errors.add("name", "is required and must be a string");
    } else {
      w.name = body["name"];
      if (w.name.empty() || w.name.size() > 200 || has_ctl(w.name)) errors.add("name", "must be 1 to 200 characters");
    }
  }
  if (body.contains("url") || create) {
    if (!body.contains("url") || !body["url"].is_string()) {
      errors.add("url", "is required and must be a string");
    } else {
      w.url = body["url"];
      check_url(w.url, guard, errors);
    }
  }
  if (body.contains("enabled")) {
    if (!body["enabled"].is_boolean()) errors.add("enabled", "must be true or false");
    else w.enabled = body["enabled"];
  }
  if (body.contains("event_types")) {
    const json& t = body["event_types"];
    uint8_t mask = 0;
    if (!t.is_array() || t.empty()) {
      errors.add("event_types", "must be a non-empty array of \"contact.subscribed\", \"contact.unsubscribed\"");
    } else {
      for (const auto& item : t) {
        auto type = item.is_string() ? parse_event_type(item.get<std::string>()) : std::nullopt;
        if (!type) errors.add("event_types", "unknown event type; use \"contact.subscribed\" or \"contact.unsubscribed\"");
        else mask |= type_bit(*type);
      }
      w.event_types = mask;
    }
  }
  int_field(body, "batch_max_events", 1, kMaxBatchEvents, w.batch_max_events, errors);
  int_field(body, "batch_max_bytes", kMinBatchBytes, kMaxBatchBytes, w.batch_max_bytes, errors);
  if (body.contains("auth")) parse_auth(body["auth"], w.auth, errors);
}

std::optional<json> parse_object(const Request& req, Response* error) {
  json body;
  try {
    body = json::parse(req.body.empty() ? std::string("{}") : req.body);
  } catch (const json::parse_error& e) {
    // Say where, not only what shape: "must be a JSON object" would send
    // the caller looking at a body that is an object with a bad byte in it.
    *error = problem(400, "body is not valid JSON (error at byte " + std::to_string(e.byte) +
                              "; check quotes, brackets, commas and UTF-8)");
    return std::nullopt;
  } catch (const json::out_of_range&) {  // 1e400 and the like
    *error = problem(400, "body is not valid JSON: a number is out of range");
    return std::nullopt;
  } catch (const json::exception&) {
    *error = problem(400, "body is not valid JSON");
    return std::nullopt;
  }
  if (!body.is_object()) {
    *error = problem(400, "body must be a JSON object");
    return std::nullopt;
  }
  return body;
}

}  // namespace

Response App::list_webhooks(const Account& a, const Request& req) {
  int limit = 50;
  if (auto l = req.query_param("limit"); !l.empty()) {
    limit = std::atoi(l.c_str());
    if (limit < 1 || limit > 200) return problem(400, "limit: must be from 1 to 200");
  }
  auto list = store_.list_webhooks(a.id, req.query_param("cursor"), limit);
  if (!list.ok()) return problem_from(list.error());
  std::vector<std::string> ids;
  for (const auto& w : *list) ids.push_back(w.id);
  auto stats = store_.webhook_stats(a.id, ids);
  if (!stats.ok()) return problem_from(stats.error());
  json data = json::array();
  for (const auto& w : *list) data.push_back(webhook_json(w, &(*stats)[w.id]));
  json next = static_cast<int>(list->size()) == limit ? json(list->back().id) : json(nullptr);
  return json_response(200, {{"data", data}, {"next_cursor", next}});
}

Response App::create_webhook(const Account& a, const Request& req) {
  Response err;
  auto body = parse_object(req, &err);
  if (!body) return err;
  Webhook w;
  w.account_id = a.id;
  FieldErrors errors;
  apply_fields(*body, w, /*create=*/true, options_.guard, errors);
  if (errors.any()) return errors.response();
  int64_t now = clock_.now_ms();
  w.id = new_id("wh", now);
  w.secret = new_webhook_secret();
  w.created_at_ms = w.updated_at_ms = now;
  if (auto s = store_.create_webhook(w); !s.ok()) return problem_from(s.error());
  spdlog::info("msg=\"webhook created\" account={} webhook={}", a.id, w.id);
  WebhookStats stats;
  json j = webhook_json(w, &stats);
  j["secret"] = w.secret;
  return json_response(201, j);
}

Response App::get_webhook(const Account& a, const std::string& id) {
  auto w = store_.get_webhook(a.id, id);
  if (!w.ok()) return problem_from(w.error());
  auto stats = store_.webhook_stats(a.id, {id});
  if (!stats.ok()) return problem_from(stats.error());
  return json_response(200, webhook_json(*w, &(*stats)[id]));
}

Response App::patch_webhook(const Account& a, const std::string& id, const Request& req) {
  Response err;
  auto body = parse_object(req, &err);
  if (!body) return err;
  auto w = store_.get_webhook(a.id, id);
  if (!w.ok()) return problem_from(w.error());
  bool was_enabled = w->enabled;
  FieldErrors errors;
  apply_fields(*body, *w, /*create=*/false, options_.guard, errors);
  if (errors.any()) return errors.response();
  if (w->enabled && !was_enabled) w->disabled_reason.clear();
  w->updated_at_ms = clock_.now_ms();
  if (auto s = store_.update_webhook(*w); !s.ok()) return problem_from(s.error());
  return get_webhook(a, id);
}

Response App::set_enabled(const Account& a, const std::string& id, bool enabled) {
  auto w = store_.get_webhook(a.id, id);
  if (!w.ok()) return problem_from(w.error());
  if (enabled) w->disabled_reason.clear();
  w->enabled = enabled;
  w->updated_at_ms = clock_.now_ms();
  if (auto s = store_.update_webhook(*w); !s.ok()) return problem_from(s.error());
  return get_webhook(a, id);
}

Response App::delete_webhook(const Account& a, const std::string& id) {
  if (auto s = store_.delete_webhook(a.id, id); !s.ok()) return problem_from(s.error());
  spdlog::info("msg=\"webhook deleted\" account={} webhook={}", a.id, id);
  Response r;
  r.status = 204;
  r.content_type = "application/json";
  return r;
}

Response App::get_secret(const Account& a, const std::string& id) {
  auto w = store_.get_webhook(a.id, id);
  if (!w.ok()) return problem_from(w.error());
  json j = {{"secret", w->secret}};
  if (!w->previous_secret.empty() && w->previous_secret_expires_ms > clock_.now_ms())
    j["previous_secret_expires_at"] = timestamp_json(w->previous_secret_expires_ms);
  return json_response(200, j);
}

Response App::rotate_secret(const Account& a, const std::string& id, const Request& req) {
  Response err;
  auto body = parse_object(req, &err);
  if (!body) return err;
  for (auto& [k, v] : body->items()) {
    if (k != "grace_period_s") return problem(400, "unknown field \"" + k + "\"; accepted: grace_period_s");
  }
  int64_t grace_ms = options_.default_rotation_grace_ms;
  if (body->contains("grace_period_s")) {
    const json& g = (*body)["grace_period_s"];
    if (!g.is_number_integer() || g.get<int64_t>() < 0 || g.get<int64_t>() > 30 * 86400)
      return problem(400, "grace_period_s: must be an integer from 0 to 2592000 (30 days)",
                     json::array({{{"field", "grace_period_s"}, {"message", "must be an integer from 0 to 2592000"}}}));
    grace_ms = g.get<int64_t>() * 1000;
  }
  auto w = store_.get_webhook(a.id, id);
  if (!w.ok()) return problem_from(w.error());
  int64_t now = clock_.now_ms();
  w->previous_secret = w->secret;
  w->previous_secret_expires_ms = now + grace_ms;
  w->secret = new_webhook_secret();
  w->updated_at_ms = now;
  if (auto s = store_.update_webhook(*w); !s.ok()) return problem_from(s.error());
  spdlog::info("msg=\"secret rotated\" account={} webhook={}", a.id, id);
  return json_response(200, {{"secret", w->secret}, {"previous_secret_expires_at", timestamp_json(now + grace_ms)}});
}

void App::test_webhook(const Account& a, const std::string& id, const Request& req, Responder respond) {
  Response err;
  auto body = parse_object(req, &err);
  if (!body) return respond(err);
  auto w = store_.get_webhook(a.id, id);
  if (!w.ok()) return respond(problem_from(w.error()));
  for (auto& [k, v] : body->items()) {
    if (k != "type" && k != "data") return respond(problem(400, "unknown field \"" + k + "\"; accepted: type, data"));
  }
  EventType type = EventType::kSubscribed;
  if (body->contains("type")) {
    auto t = (*body)["type"].is_string() ? parse_event_type((*body)["type"].get<std::string>()) : std::nullopt;
    if (!t) return respond(problem(400, "type: must be \"contact.subscribed\" or \"contact.unsubscribed\""));
    type = *t;
  }
  std::string data = sample_contact_json();
  if (body->contains("data")) {
    // Applied over the sample: a key given replaces the sample's value
    // (null clears it), the others keep theirs.
    json edited = (*body)["data"];
    if (edited.is_object()) {
      json merged = json::parse(data);
      for (auto& [k, v] : edited.items()) merged[k] = std::move(v);
      edited = std::move(merged);
    }
    std::vector<ValidationIssue> issues;
    auto canon = canonical_contact_json(edited.dump(), &issues);
    if (!canon.ok()) {
      FieldErrors errors;
      for (const auto& i : issues) errors.add(i.path, i.message);
      if (!errors.any()) errors.add("data", canon.error().message);
      return respond(errors.response());
    }
    data = std::move(*canon);
  }
  int64_t now = clock_.now_ms();
  std::string events = "[" + event_json(new_id("evt_test", now), type, format_timestamp(now), data) + "]";
  auto out = build_request(*w, new_id("test", now), events, /*test=*/true, now, options_.test_timeouts);
  transport_.send(std::move(out), [respond](TransportResult r) {
    bool ok = r.error_kind == TransportErrorKind::kNone && r.status_code >= 200 && r.status_code < 300;
    std::string error = describe_failure(r);
    respond(json_response(200, {{"ok", ok},
                                {"status_code", r.status_code ? json(r.status_code) : json(nullptr)},
                                {"duration_ms", r.duration_ms},
                                {"response_body", r.body.substr(0, 2048)},
                                {"error", ok ? json(nullptr) : json(error)}}));
  });
}

}  // namespace growhook::api
