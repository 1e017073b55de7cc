// The webhook routes: create, list, read, change, delete, enable/disable,
// secret, rotation and test connection.
#include <spdlog/spdlog.h>

#include "api/app.h"
#include "api/problem.h"
#include "api/render.h"
#include "common/ids.h"
#include "delivery/message.h"
#include "delivery/retry_policy.h"
#include "domain/signature.h"
#include "domain/timestamp.h"
#include "domain/webhook.h"

namespace growhook::api {
namespace {

using nlohmann::json;

// The problem for field errors: each in "errors", all of them in the detail.
Response field_problem(const FieldErrors& errors) {
  json list = json::array();
  std::string detail;
  for (const auto& e : errors) {
    list.push_back({{"field", e.field}, {"message", e.message}});
    if (!detail.empty()) detail += "; ";
    detail += e.field + ": " + e.message;
  }
  return problem(400, detail, list);
}

// The most events one recover call sends again (the answer's "complete"
// says whether that was all).
constexpr int64_t kMaxRecoverEvents = 100'000;

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
  auto list = webhooks_.list_webhooks(a.id, req.query_param("cursor"), limit);
  if (!list.ok()) return problem_from(list.error());
  std::vector<std::string> ids;
  for (const auto& w : *list) ids.push_back(w.id);
  auto stats = webhooks_.webhook_stats(a.id, ids);
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
  apply_webhook_fields(*body, w, /*create=*/true, options_.guard, errors);
  if (!errors.empty()) return field_problem(errors);
  int64_t now = clock_.now_ms();
  w.id = new_id("wh", now);
  w.secret = new_webhook_secret();
  w.created_at_ms = w.updated_at_ms = now;
  if (auto s = webhooks_.create_webhook(w); !s.ok()) return problem_from(s.error());
  spdlog::info("msg=\"webhook created\" account={} webhook={}", a.id, w.id);
  WebhookStats stats;
  json j = webhook_json(w, &stats);
  j["secret"] = w.secret;
  return json_response(201, j);
}

Response App::get_webhook(const Account& a, const std::string& id) {
  auto w = webhooks_.get_webhook(a.id, id);
  if (!w.ok()) return problem_from(w.error());
  auto stats = webhooks_.webhook_stats(a.id, {id});
  if (!stats.ok()) return problem_from(stats.error());
  return json_response(200, webhook_json(*w, &(*stats)[id]));
}

Response App::patch_webhook(const Account& a, const std::string& id, const Request& req) {
  Response err;
  auto body = parse_object(req, &err);
  if (!body) return err;
  auto w = webhooks_.get_webhook(a.id, id);
  if (!w.ok()) return problem_from(w.error());
  bool was_enabled = w->enabled;
  FieldErrors errors;
  apply_webhook_fields(*body, *w, /*create=*/false, options_.guard, errors);
  if (!errors.empty()) return field_problem(errors);
  if (w->enabled && !was_enabled) w->disabled_reason.clear();
  w->updated_at_ms = clock_.now_ms();
  if (auto s = webhooks_.update_webhook(*w); !s.ok()) return problem_from(s.error());
  // Enabled again: it resumes where it stopped (store/backlog.h).
  if (w->enabled && !was_enabled && engine_) engine_->wake();
  return get_webhook(a, id);
}

Response App::set_enabled(const Account& a, const std::string& id, bool enabled) {
  auto w = webhooks_.get_webhook(a.id, id);
  if (!w.ok()) return problem_from(w.error());
  if (enabled) w->disabled_reason.clear();
  w->enabled = enabled;
  w->updated_at_ms = clock_.now_ms();
  if (auto s = webhooks_.update_webhook(*w); !s.ok()) return problem_from(s.error());
  return get_webhook(a, id);
}

// POST /v1/webhooks/{id}/enable: resumes where it stopped, or with
// {"resume": "now"} from the account's head (what arrived while it was
// disabled is skipped, and counted).
Response App::enable_webhook(const Account& a, const std::string& id, const Request& req) {
  Response err;
  auto body = parse_object(req, &err);
  if (!body) return err;
  for (auto& [k, v] : body->items()) {
    if (k != "resume") return problem(400, "unknown field \"" + k + "\"; accepted: resume");
  }
  bool from_head = false;
  if (body->contains("resume")) {
    const json& r = (*body)["resume"];
    if (!r.is_string() || (r != "now" && r != "where_stopped"))
      return problem(400, "resume: must be \"now\" (skip what arrived while disabled) or \"where_stopped\" (the default)",
                     json::array({{{"field", "resume"}, {"message", "must be \"now\" or \"where_stopped\""}}}));
    from_head = r == "now";
  }
  auto done = backlog_.enable_webhook(a.id, id, from_head, clock_.now_ms());
  if (!done.ok()) return problem_from(done.error());
  spdlog::info("msg=\"webhook enabled\" account={} webhook={} resume={} events_skipped={}", a.id, id,
               from_head ? "now" : "where_stopped", done->events_skipped);
  if (engine_) engine_->wake();
  Response r = get_webhook(a, id);
  if (r.status == 200 && from_head) {
    json j = json::parse(r.body);
    j["events_skipped"] = done->events_skipped;
    r = json_response(200, j);
  }
  return r;
}

// POST /v1/webhooks/{id}/recover {"since": TIMESTAMP}: every event of the
// webhook's types ingested since then that it already had its turn at,
// sent again as new batches (same event ids).
Response App::recover_webhook(const Account& a, const std::string& id, const Request& req) {
  Response err;
  auto body = parse_object(req, &err);
  if (!body) return err;
  for (auto& [k, v] : body->items()) {
    if (k != "since") return problem(400, "unknown field \"" + k + "\"; accepted: since");
  }
  const auto bad_since = [] {
    return problem(400, "since: must be an RFC 3339 time such as \"2026-12-01T08:00:00Z\", not in the future",
                   json::array({{{"field", "since"}, {"message", "must be an RFC 3339 time, not in the future"}}}));
  };
  if (!body->contains("since") || !(*body)["since"].is_string()) return bad_since();
  auto since = parse_timestamp((*body)["since"].get<std::string>());
  const int64_t now = clock_.now_ms();
  if (!since || *since > now) return bad_since();
  RecoverRequest rr;
  rr.since_ms = *since;
  rr.max_events = kMaxRecoverEvents;
  rr.max_batch_bytes = options_.max_batch_bytes;
  rr.now_ms = now;
  auto done = backlog_.recover(a.id, id, rr);
  if (!done.ok()) return problem_from(done.error());
  spdlog::info("msg=\"webhook recovered\" account={} webhook={} since={} events={} batches={}", a.id, id,
               format_timestamp(*since), done->events, done->batches);
  if (engine_ && done->batches > 0) engine_->wake();
  return json_response(202, {{"events", done->events},
                             {"batches", done->batches},
                             {"complete", done->events < kMaxRecoverEvents}});
}

Response App::delete_webhook(const Account& a, const std::string& id) {
  if (auto s = webhooks_.delete_webhook(a.id, id); !s.ok()) return problem_from(s.error());
  spdlog::info("msg=\"webhook deleted\" account={} webhook={}", a.id, id);
  Response r;
  r.status = 204;
  r.content_type = "application/json";
  return r;
}

Response App::get_secret(const Account& a, const std::string& id) {
  auto w = webhooks_.get_webhook(a.id, id);
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
  auto w = webhooks_.get_webhook(a.id, id);
  if (!w.ok()) return problem_from(w.error());
  int64_t now = clock_.now_ms();
  w->previous_secret = w->secret;
  w->previous_secret_expires_ms = now + grace_ms;
  w->secret = new_webhook_secret();
  w->updated_at_ms = now;
  if (auto s = webhooks_.update_webhook(*w); !s.ok()) return problem_from(s.error());
  spdlog::info("msg=\"secret rotated\" account={} webhook={}", a.id, id);
  return json_response(200, {{"secret", w->secret}, {"previous_secret_expires_at", timestamp_json(now + grace_ms)}});
}

void App::test_webhook(const Account& a, const std::string& id, const Request& req, Responder respond) {
  Response err;
  auto body = parse_object(req, &err);
  if (!body) return respond(err);
  auto w = webhooks_.get_webhook(a.id, id);
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
      for (const auto& i : issues) errors.push_back({i.path, i.message});
      if (errors.empty()) errors.push_back({"data", canon.error().message});
      return respond(field_problem(errors));
    }
    data = std::move(*canon);
  }
  int64_t now = clock_.now_ms();
  std::string events = "[" + event_json(new_id("evt_test", now), type, format_timestamp(now), data) + "]";
  auto out = build_request(*w, new_id("test", now), events, /*test=*/true, now, options_.test_timeouts);
  transport_.send(std::move(out), [respond](TransportResult r) {
    bool ok = is_success(r);
    std::string error = describe_failure(r);
    respond(json_response(200, {{"ok", ok},
                                {"status_code", r.status_code ? json(r.status_code) : json(nullptr)},
                                {"duration_ms", r.duration_ms},
                                {"response_body", r.body.substr(0, 2048)},
                                {"error", ok ? json(nullptr) : json(error)}}));
  });
}

}  // namespace growhook::api
