// The stats route: GET /v1/webhooks/{id}/stats, a webhook's deliveries and
// failures per hour over the last 24 hours and per day over the last 7 days
// (domain/delivery_stats.h, store/delivery_activity.h), for the chart of the
// webhook's page. Times are the injected clock's.
#include "api/app.h"
#include "api/problem.h"
#include "api/render.h"

namespace growhook::api {
namespace {

nlohmann::json series_json(const std::vector<ActivityBucket>& series) {
  auto out = nlohmann::json::array();
  for (const auto& b : series) {
    out.push_back({{"start", timestamp_json(b.start_ms)},
                   {"batches_delivered", b.counts.batches_delivered},
                   {"events_delivered", b.counts.events_delivered},
                   {"attempts_failed", b.counts.attempts_failed},
                   {"batches_failed", b.counts.batches_failed}});
  }
  return out;
}

}  // namespace

Response App::webhook_stats(const Account& a, const std::string& webhook_id) {
  const int64_t now = clock_.now_ms();
  auto hourly = activity_.webhook_activity(a.id, webhook_id, activity_since(now));
  if (!hourly.ok()) return problem_from(hourly.error());
  WebhookActivity s = activity_series(now, *hourly);
  return json_response(200, {{"webhook_id", webhook_id},
                             {"generated_at", timestamp_json(now)},
                             {"hourly", series_json(s.hours)},
                             {"daily", series_json(s.days)}});
}

}  // namespace growhook::api
