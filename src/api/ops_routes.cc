// Operations: health, readiness, metrics, and the page's files.
#include "api/app.h"
#include "api/problem.h"
#include "web/assets.h"

namespace growhook::api {

Response App::healthz() { return json_response(200, {{"status", "ok"}}); }

Response App::readyz() {
  if (draining_) return problem(503, "the node is stopping (SIGTERM); send traffic to the other nodes");
  if (options_.database_problem) {
    if (auto p = options_.database_problem()) return problem(503, *p);
  } else if (auto s = maintenance_.ping(); !s.ok()) {
    return problem(503, "the store does not answer: " + s.error().message);
  }
  if (engine_) {
    int64_t idle = clock_.mono_ms() - engine_->last_turn_mono_ms();
    if (idle > options_.readiness_stall_ms)
      return problem(503, "the delivery loop has not turned for " + std::to_string(idle / 1000) + " s");
    if (!engine_->last_turn_ok()) return problem(503, "the delivery loop cannot reach the store");
  }
  return json_response(200, {{"status", "ready"}});
}

Response App::metrics() {
  Response r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = metrics_.render([this](std::string& out) {
    if (metrics_.db_calls) metrics_.db_calls->render(out, clock_.mono_ms());
    auto c = maintenance_.counts();
    if (!c.ok()) return;
    auto gauge = [&](const char* name, const char* help, int64_t v) {
      out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name + " " +
             std::to_string(v) + "\n";
    };
    gauge("growhook_pending_batches", "Batches neither delivered nor failed yet.", c->pending_batches);
    gauge("growhook_retry_scheduled_batches", "Pending batches that failed an attempt of their cycle: waiting for a retry, or being retried.", c->retry_scheduled);
    gauge("growhook_failed_batches", "Failed batches kept for a manual retry.", c->failed_batches);
    gauge("growhook_pending_events", "Events not yet in a batch, summed over webhooks.", c->pending_events);
    out += "# HELP growhook_webhooks Webhooks by health (failing: its backlog waits for a probe to succeed).\n"
           "# TYPE growhook_webhooks gauge\n";
    out += "growhook_webhooks{health=\"failing\"} " + std::to_string(c->failing_webhooks) + "\n";
    out += "growhook_webhooks{health=\"disabled\"} " + std::to_string(c->disabled_webhooks) + "\n";
    gauge("growhook_ingest_queue", "Ingestion requests waiting for the group commit.",
          static_cast<int64_t>(committer_.queued()));
    if (c->wal_checkpoints_background && c->wal_checkpoints_forced) {
      out += "# HELP growhook_sqlite_wal_checkpoints_total WAL checkpoints, by the checkpoint thread or by a "
             "writer that found it behind.\n# TYPE growhook_sqlite_wal_checkpoints_total counter\n";
      out += "growhook_sqlite_wal_checkpoints_total{by=\"thread\"} " + std::to_string(*c->wal_checkpoints_background) +
             "\n";
      out += "growhook_sqlite_wal_checkpoints_total{by=\"writer\"} " + std::to_string(*c->wal_checkpoints_forced) +
             "\n";
    }
  });
  return r;
}

Response App::asset(const std::string& path) {
  std::string want = path == "/" ? "/index.html" : path;
  for (const auto& a : web::assets()) {
    if (a.path != want) continue;
    Response r;
    r.body = std::string(a.body);
    auto ends = [&](const char* ext) { return want.size() >= strlen(ext) && want.compare(want.size() - strlen(ext), std::string::npos, ext) == 0; };
    r.content_type = ends(".html")  ? "text/html; charset=utf-8"
                     : ends(".js")  ? "text/javascript; charset=utf-8"
                     : ends(".css") ? "text/css; charset=utf-8"
                     : ends(".svg") ? "image/svg+xml"
                                    : "application/octet-stream";
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                           "connect-src 'self'; frame-ancestors " + options_.frame_ancestors);
    return r;
  }
  return problem(404, "no such path: " + path);
}

}  // namespace growhook::api
