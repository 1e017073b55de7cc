// The batch routes: list a webhook's batches, open one, retry.
#include <spdlog/spdlog.h>

#include "api/app.h"
#include "api/problem.h"
#include "api/render.h"

namespace growhook::api {

Response App::list_batches(const Account& a, const std::string& webhook_id, const Request& req) {
  auto w = webhooks_.get_webhook(a.id, webhook_id);
  if (!w.ok()) return problem_from(w.error());
  std::optional<BatchState> state;
  if (auto s = req.query_param("state"); !s.empty()) {
    state = parse_batch_state(s);
    if (!state) return problem(400, "state: must be pending, delivered or failed");
  }
  int limit = 50;
  if (auto l = req.query_param("limit"); !l.empty()) {
    limit = std::atoi(l.c_str());
    if (limit < 1 || limit > 200) return problem(400, "limit: must be from 1 to 200");
  }
  auto list = batches_.list_batches(a.id, webhook_id, state, req.query_param("cursor"), limit);
  if (!list.ok()) return problem_from(list.error());
  nlohmann::json data = nlohmann::json::array();
  for (const auto& b : *list) data.push_back(batch_json(b));
  nlohmann::json next = static_cast<int>(list->size()) == limit ? nlohmann::json(list->back().id) : nlohmann::json(nullptr);
  return json_response(200, {{"data", data}, {"next_cursor", next}});
}

Response App::get_batch(const Account& a, const std::string& id) {
  auto d = batches_.get_batch(a.id, id);
  if (!d.ok()) return problem_from(d.error());
  auto j = batch_json(d->batch);
  j["events"] = nlohmann::json::parse(d->events_json, nullptr, false);
  return json_response(200, j);
}

Response App::retry_batch(const Account& a, const std::string& id) {
  auto b = batches_.retry_batch(a.id, id, clock_.now_ms());
  if (!b.ok()) return problem_from(b.error());
  spdlog::info("msg=\"batch retried by hand\" account={} batch={}", a.id, id);
  if (engine_) engine_->wake();
  return json_response(202, batch_json(*b));
}

Response App::retry_failed(const Account& a, const std::string& webhook_id) {
  auto w = webhooks_.get_webhook(a.id, webhook_id);
  if (!w.ok()) return problem_from(w.error());
  auto n = batches_.retry_failed(a.id, webhook_id, clock_.now_ms());
  if (!n.ok()) return problem_from(n.error());
  spdlog::info("msg=\"failed batches retried by hand\" account={} webhook={} count={}", a.id, webhook_id, *n);
  if (engine_) engine_->wake();
  return json_response(202, {{"retried", *n}});
}

}  // namespace growhook::api
