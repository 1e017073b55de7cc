// `growhook serve`: the API, the page and the delivery workers in one process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace growhook {

// What a node runs (--role).
enum class Role {
  kAll,     // API, page and delivery
  kApi,     // API and page; no delivery (nor retention)
  kWorker,  // delivery and retention; of the HTTP routes only /healthz, /readyz, /metrics
};
std::string_view to_string(Role r);  // "all", "api", "worker"
std::optional<Role> parse_role(std::string_view s);

struct ServeConfig {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./growhook-data";
  std::string database;            // postgresql:// URL; empty: SQLite in data_dir
  std::string allow_targets;       // CIDR list opened in the address guard
  std::string tls_ca_file;         // PEM CAs trusted for webhook HTTPS besides the system's store
  std::string public_url;          // the base of portal links; empty: http://<listen address>
  std::string frame_ancestors;     // origins that may frame the page; empty: none
  std::string smtp_url;            // smtp:// or smtps://; empty: no notification mail
  std::string smtp_from;           // the From of notification mail
  std::string platform_webhook_url;  // the platform's webhook for health news; empty: none
  std::string retry_delays = "10s,1m,5m";
  std::string node_id;             // lease owner; empty: generated
  std::string log_level = "info";
  Role role = Role::kAll;
  int threads = 4;                 // HTTP threads
  int max_in_flight = 256;
  int per_webhook_in_flight = 4;
  int64_t connect_timeout_ms = 5'000;
  int64_t request_timeout_ms = 15'000;
  int64_t retry_after_cap_ms = 3'600'000;
  int64_t disable_after_ms = 5 * 86'400'000LL;  // a webhook failing that long is disabled
  int64_t probe_max_interval_ms = 300'000;      // the longest wait between two probes of a failing webhook
  int64_t retention_delivered_ms = 7 * 86'400'000LL;
  int64_t retention_failed_ms = 30 * 86'400'000LL;
  int64_t shutdown_grace_ms = 10'000;
  int64_t drain_delay_ms = 0;  // after SIGTERM, /readyz answers 503 this long before anything stops
  int64_t request_read_timeout_ms = 30'000;  // an API request must arrive whole within this
  int64_t lease_ms = 0;            // a claimed batch's lease; 0: connect + request timeout + 30 s
  size_t max_events_per_request = 1000;
  size_t max_body_bytes = 4 << 20;
  size_t max_response_bytes = 64 << 10;
  int pg_pool_size = 8;
  int64_t db_timeout_ms = 5'000;  // every database call: connect, statement, pool wait, lock wait
};

// Runs until SIGTERM or SIGINT; returns the process exit code: 2 for a
// configuration that does not hold, 1 when the node cannot start.
int serve(const ServeConfig& config);

}  // namespace growhook
