// POST /v1/accounts (create an account) and POST /v1/accounts/{id}/events.
#include <spdlog/spdlog.h>

#include "api/app.h"
#include "api/problem.h"
#include "common/crypto.h"
#include "common/ids.h"

namespace growhook::api {
namespace {

Response ids_response(const AppendOutcome& out) {
  std::string body = "{\"ids\":[";
  for (size_t i = 0; i < out.ids.size(); ++i) {
    if (i) body += ',';
    append_json_string(body, out.ids[i]);
  }
  body += "]}";
  Response r;
  r.status = 202;
  r.body = std::move(body);
  return r;
}

}  // namespace

std::optional<Response> refuse_non_json(const std::string& content_type) {
  if (content_type.empty() || content_type.rfind("application/json", 0) == 0 ||
      content_type.find("+json") != std::string::npos)
    return std::nullopt;
  return problem(415, "send the events as 'Content-Type: application/json'");
}

Response App::create_account(const Request& req) {
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("name") || !body["name"].is_string())
    return problem(400, "body must be a JSON object with a string \"name\"",
                   nlohmann::json::array({{{"field", "name"}, {"message", "is required and must be a string"}}}));
  for (auto& [k, v] : body.items()) {
    if (k != "name") return problem(400, "unknown field \"" + k + "\"; only \"name\" is accepted");
  }
  std::string name = body["name"];
  if (name.empty() || name.size() > 200)
    return problem(400, "name: must be 1 to 200 characters",
                   nlohmann::json::array({{{"field", "name"}, {"message", "must be 1 to 200 characters"}}}));
  Account a{new_id("acc", clock_.now_ms()), name, clock_.now_ms()};
  std::string key = "ghk_" + crypto::base64url_encode(crypto::random_bytes(32));
  if (auto s = store_.create_account(a, crypto::sha256_hex(key)); !s.ok()) return problem_from(s.error());
  spdlog::info("msg=\"account created\" account={}", a.id);
  return json_response(201, {{"id", a.id}, {"name", a.name}, {"api_key", key}});
}

void App::ingest(Request& req, const std::string& account_id, Responder respond) {
  if (auto refused = refuse_non_json(req.content_type)) {
    metrics_.ingest_requests_invalid++;
    return respond(std::move(*refused));
  }
  ParsedIngest parsed = parse_ingest_body(req.body, options_.ingest);
  if (parsed.too_many_events) {
    metrics_.ingest_requests_invalid++;
    return respond(problem(413, "at most " + std::to_string(options_.ingest.max_events) +
                                    " events per request; split the events over several requests"));
  }
  if (!parsed.issues.empty()) {
    metrics_.ingest_requests_invalid++;
    auto errors = nlohmann::json::array();
    std::string detail;
    for (const auto& i : parsed.issues) {
      nlohmann::json e = {{"field", i.path}, {"message", i.message}};
      if (i.event_index >= 0) e["event_index"] = i.event_index;
      errors.push_back(std::move(e));
      if (detail.size() < 400) detail += (detail.empty() ? "" : "; ") + (i.path.empty() ? "" : i.path + ": ") + i.message;
    }
    std::string summary = std::to_string(parsed.issues.size()) + (parsed.issues.size() == 1 ? " problem" : " problems") +
                          " in the request, nothing was stored: " + detail;
    return respond(problem(400, summary, errors));
  }
  int64_t now = clock_.now_ms();
  for (auto& e : parsed.events) {
    if (e.id.empty()) e.id = new_id("evt", now);
    e.message_json = event_json(e.id, e.type, e.occurred_at, e.data_json);
  }
  size_t count = parsed.events.size();
  AppendRequest request{account_id, std::move(parsed.events), now};
  bool queued = committer_.submit(std::move(request), [this, respond, count](Result<AppendOutcome> r) {
    if (r.ok()) {
      metrics_.ingest_requests_ok++;
      metrics_.events_ingested += static_cast<uint64_t>(r->stored);
      metrics_.events_duplicate += count - static_cast<uint64_t>(r->stored);
      return respond(ids_response(*r));
    }
    if (r.error().code == ErrorCode::kNotFound) {
      metrics_.ingest_requests_invalid++;
      return respond(problem(404, r.error().message));
    }
    metrics_.ingest_requests_unavailable++;
    respond(problem_from(r.error()));
  });
  if (!queued) {
    metrics_.ingest_requests_unavailable++;
    auto r = problem(503, "ingestion is saturated; retry shortly");
    r.headers.emplace_back("Retry-After", "1");
    respond(std::move(r));
  }
}

}  // namespace growhook::api
