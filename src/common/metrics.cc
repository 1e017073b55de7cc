#include "common/metrics.h"

#include <cstdio>

namespace growhook {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}

void Histogram::observe(double seconds) {
  size_t i = 0;
  while (i < bounds_.size() && seconds > bounds_[i]) ++i;
  counts_[i]++;
  total_++;
  sum_us_ += static_cast<uint64_t>(seconds < 0 ? 0 : seconds * 1e6);
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  uint64_t cumulative = 0;
  char buf[64];
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i].load();
    std::snprintf(buf, sizeof buf, "%g", bounds_[i]);
    out += name + "_bucket{le=\"" + buf + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += counts_[bounds_.size()].load();
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(sum_us_.load()) / 1e6);
  out += name + "_sum " + buf + "\n";
  out += name + "_count " + std::to_string(total_.load()) + "\n";
}

namespace {
void counter(std::string& out, const char* name, const char* help, uint64_t v, const char* labels = "") {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n";
  out += std::string(name) + labels + " " + std::to_string(v) + "\n";
}
void labelled(std::string& out, const char* name, const char* labels, uint64_t v) {
  out += std::string(name) + labels + " " + std::to_string(v) + "\n";
}
}  // namespace

void DbCallStats::ok(double seconds, int64_t now_mono_ms) {
  latency.observe(seconds);
  last_ok_mono_ms = now_mono_ms;
}

void DbCallStats::failed(Failure kind, double seconds) {
  latency.observe(seconds);
  switch (kind) {
    case Failure::kTimeout: failed_timeout++; break;
    case Failure::kConnection: failed_connection++; break;
    case Failure::kOther: failed_other++; break;
  }
}

void DbCallStats::render(std::string& out, int64_t now_mono_ms) const {
  latency.render(out, "growhook_db_call_duration_seconds", "Duration of database statements, failed ones included.");
  out += "# HELP growhook_db_call_failures_total Database statements that failed, by kind.\n"
         "# TYPE growhook_db_call_failures_total counter\n";
  labelled(out, "growhook_db_call_failures_total", "{kind=\"timeout\"}", failed_timeout);
  labelled(out, "growhook_db_call_failures_total", "{kind=\"connection\"}", failed_connection);
  labelled(out, "growhook_db_call_failures_total", "{kind=\"other\"}", failed_other);
  int64_t last = last_ok_mono_ms.load();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", last < 0 ? -1.0 : static_cast<double>(now_mono_ms - last) / 1000.0);
  out += "# HELP growhook_db_seconds_since_last_success Time since a database call last succeeded (-1: never).\n"
         "# TYPE growhook_db_seconds_since_last_success gauge\ngrowhook_db_seconds_since_last_success ";
  out += buf;
  out += "\n";
}

std::string Metrics::render(const std::function<void(std::string&)>& extra) const {
  std::string out;
  counter(out, "growhook_events_ingested_total", "Events stored by ingestion.", events_ingested);
  counter(out, "growhook_events_duplicate_total", "Events acknowledged again by id, not stored twice.",
          events_duplicate);
  out += "# HELP growhook_ingest_requests_total Ingestion requests by outcome.\n"
         "# TYPE growhook_ingest_requests_total counter\n";
  labelled(out, "growhook_ingest_requests_total", "{outcome=\"accepted\"}", ingest_requests_ok);
  labelled(out, "growhook_ingest_requests_total", "{outcome=\"invalid\"}", ingest_requests_invalid);
  labelled(out, "growhook_ingest_requests_total", "{outcome=\"unavailable\"}", ingest_requests_unavailable);
  counter(out, "growhook_batches_created_total", "Batches cut from pending events.", batches_created);
  out += "# HELP growhook_batches_total Batches that reached an end state.\n# TYPE growhook_batches_total counter\n";
  labelled(out, "growhook_batches_total", "{outcome=\"delivered\"}", batches_delivered);
  labelled(out, "growhook_batches_total", "{outcome=\"failed\"}", batches_failed);
  counter(out, "growhook_events_delivered_total", "Events in delivered batches.", events_delivered);
  out += "# HELP growhook_attempts_total Delivery attempts by outcome.\n# TYPE growhook_attempts_total counter\n";
  labelled(out, "growhook_attempts_total", "{outcome=\"success\"}", attempts_ok);
  labelled(out, "growhook_attempts_total", "{outcome=\"http_error\"}", attempts_http_error);
  labelled(out, "growhook_attempts_total", "{outcome=\"transport_error\"}", attempts_transport_error);
  counter(out, "growhook_webhooks_disabled_total", "Webhooks disabled by the service (410 Gone).",
          webhooks_disabled);
  counter(out, "growhook_delivery_loop_turns_total", "Turns of the delivery loop (it is alive if this grows).",
          delivery_loop_turns);
  counter(out, "growhook_store_errors_total", "Store calls that failed.", store_errors);
  counter(out, "growhook_pruned_total", "Rows removed by retention.", pruned_rows);
  out += "# HELP growhook_notifications_total Notifications of webhooks' health finished, by channel and result "
         "(failed: a send that did not get through; it is tried again).\n"
         "# TYPE growhook_notifications_total counter\n";
  for (int c = 0; c < 2; ++c) {
    for (int r = 0; r < 3; ++r) {
      static const char* const kResults[] = {"sent", "failed", "skipped"};
      const std::string labels =
          std::string("{channel=\"") + (c ? "platform" : "email") + "\",result=\"" + kResults[r] + "\"}";
      labelled(out, "growhook_notifications_total", labels.c_str(), notifications[c][r]);
    }
  }
  out += "# HELP growhook_in_flight Delivery requests in flight.\n# TYPE growhook_in_flight gauge\n";
  out += "growhook_in_flight " + std::to_string(in_flight.load()) + "\n";
  ingest_to_delivery.render(out, "growhook_ingest_to_delivery_seconds",
                            "From an event's commit to the 2xx of the batch that carried it.");
  attempt_duration.render(out, "growhook_attempt_duration_seconds", "Duration of delivery attempts.");
  if (extra) extra(out);
  return out;
}

}  // namespace growhook
