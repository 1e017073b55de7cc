// Counters, gauges and histograms rendered as Prometheus text. Lock-free to
// update; render() takes a consistent-enough snapshot for scraping.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace growhook {

class Histogram {
 public:
  // Upper bounds in seconds, ascending.
  explicit Histogram(std::vector<double> bounds);
  void observe(double seconds);
  void render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<uint64_t>> counts_;  // one per bound, plus +Inf
  std::atomic<uint64_t> sum_us_{0};
  std::atomic<uint64_t> total_{0};
};

// The store's database calls: latency, failures by kind, the last success.
// The store counts (pg_conn.cc; the background health check on both stores),
// /metrics renders. Thread-safe.
struct DbCallStats {
  enum class Failure { kTimeout, kConnection, kOther };
  void ok(double seconds, int64_t now_mono_ms);
  void failed(Failure kind, double seconds);
  // now_mono_ms: to render the time since the last success.
  void render(std::string& out, int64_t now_mono_ms) const;

  Histogram latency{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
  std::atomic<uint64_t> failed_timeout{0};
  std::atomic<uint64_t> failed_connection{0};
  std::atomic<uint64_t> failed_other{0};
  std::atomic<int64_t> last_ok_mono_ms{-1};  // -1: none yet
};

struct Metrics {
  std::atomic<uint64_t> events_ingested{0};
  std::atomic<uint64_t> events_duplicate{0};
  std::atomic<uint64_t> ingest_requests_ok{0};
  std::atomic<uint64_t> ingest_requests_invalid{0};
  std::atomic<uint64_t> ingest_requests_unavailable{0};
  std::atomic<uint64_t> batches_delivered{0};
  std::atomic<uint64_t> batches_failed{0};
  std::atomic<uint64_t> batches_created{0};
  std::atomic<uint64_t> events_delivered{0};
  std::atomic<uint64_t> attempts_ok{0};
  std::atomic<uint64_t> attempts_http_error{0};
  std::atomic<uint64_t> attempts_transport_error{0};
  std::atomic<uint64_t> webhooks_disabled{0};
  std::atomic<uint64_t> delivery_loop_turns{0};
  std::atomic<uint64_t> store_errors{0};
  std::atomic<uint64_t> pruned_rows{0};
  std::atomic<int64_t> in_flight{0};
  // Notifications finished, by [channel: email, platform][result: sent, failed, skipped].
  std::atomic<uint64_t> notifications[2][3] = {};
  Histogram ingest_to_delivery{{0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}};
  Histogram attempt_duration{{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30}};

  // The store's, when it counts them (set by the node; rendered by the
  // API's /metrics with its clock).
  std::shared_ptr<const DbCallStats> db_calls;

  // Gauges read at scrape time (store counts), appended by the caller.
  std::string render(const std::function<void(std::string&)>& extra) const;
};

}  // namespace growhook
