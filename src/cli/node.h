// A running growhook node: everything `serve` builds, owned by one struct.
//
// Members are declared in the order they are built: each part holds
// references to parts above it, and C++ destroys them in the reverse order,
// so nothing outlives what it uses. stop() is the shutdown, in its own
// order (ingestion first, the store last).
//
// Which role of the store each part holds (store.h):
//   GroupCommitter  EventLog        (gh-ingest)
//   DeliveryEngine  WorkQueue       (gh-delivery; the transport's thread
//                                    gh-http-client calls back into it)
//   Retention       Maintenance     (gh-retention)
//   DbHealth        Maintenance     (gh-db-health: ping, for /readyz)
//   NotificationSender Outbox, Accounts, Webhooks (gh-notify; its own transport
//                                   for the platform's webhook, and the mailer)
//   api::App        Accounts, Webhooks, Batches, Maintenance
//                                   (gh-http-server threads)
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/app.h"
#include "cli/serve.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "delivery/address_guard.h"
#include "delivery/engine.h"
#include "delivery/trust_store.h"
#include "ingest/group_committer.h"
#include "maintenance/db_health.h"
#include "maintenance/retention.h"
#include "notify/sender.h"
#include "notify/smtp.h"
#include "store/store.h"

namespace growhook {

// What check_config made of a ServeConfig: what was parsed and derived.
struct CheckedConfig {
  std::vector<Cidr> allowed_targets;  // --allow-targets
  std::vector<int64_t> retry_delays;  // --retry-delays
  int64_t lease_ms = 0;               // --lease, or its default
  std::string host;                   // of --listen, without brackets
  uint16_t port = 0;
  bool single_node = true;            // SQLite: no --database
  bool delivers = true;               // --role all or worker
  // The CAs of webhook HTTPS: the system's store plus --tls-ca-file.
  std::shared_ptr<const TrustStore> trust;
  std::string public_url;       // --public-url without its trailing slash; empty: from the bound address
  std::string frame_ancestors;  // the CSP source list of --frame-ancestors ("'none'" by default)
  std::string platform_webhook_secret;  // GROWHOOK_PLATFORM_WEBHOOK_SECRET, checked when --platform-webhook-url is set
  std::string smtp_password;            // GROWHOOK_SMTP_PASSWORD
};

// The configuration's own rules (ranges, durations, the lease against the
// timeouts, the CA file), before the store is opened. kInvalid says what to
// fix.
Result<CheckedConfig> check_config(const ServeConfig& c);

class Node {
 public:
  // Opens the store, takes or makes the platform token, frees the leases
  // of this node's previous life, builds every part and binds the listen
  // address. Nothing is started but the HTTP server.
  static Result<std::unique_ptr<Node>> build(const ServeConfig& c, const CheckedConfig& checked);
  ~Node() { stop(); }

  // Starts delivery and retention (unless --role api), and prints where the
  // node listens.
  void start();
  // Readiness answers 503 from now on; the rest goes on serving.
  void drain() { app_.set_draining(); }
  // The shutdown: commits and answers what ingestion holds, stops the HTTP
  // server, retention, then delivery (deliveries in flight get
  // --shutdown-grace to finish and be recorded) and the transport.
  // Idempotent.
  void stop();

 private:
  // Unhooks the store's notifier before the engine it wakes goes away.
  struct WakeOnNewWork {
    WakeOnNewWork(WorkNotifier* n, DeliveryEngine& engine);
    ~WakeOnNewWork();
    WorkNotifier* notifier;
  };

  // The notification sender and its channels (when the node delivers).
  Status build_notifier();
  // http://HOST:PORT of the address bound.
  std::string base_url() const;

  Node(OpenedStore opened, std::shared_ptr<DbCallStats> db_calls, std::string token_hash, const ServeConfig& c,
       const CheckedConfig& checked, std::string owner);

  const ServeConfig config_;
  const CheckedConfig checked_;
  const std::string owner_;
  std::string new_token_;  // printed once, when this node made it
  OpenedStore opened_;
  Store& store_;
  SystemClock clock_;
  Metrics metrics_;
  std::unique_ptr<Transport> transport_;
  DeliveryEngine engine_;
  GroupCommitter committer_;
  WakeOnNewWork wake_on_new_work_;
  DbHealth db_health_;  // what /readyz says of the database
  api::App app_;
  Retention retention_;
  std::unique_ptr<Mailer> mailer_;                 // --smtp-url; null without it
  std::unique_ptr<Transport> platform_transport_;  // --platform-webhook-url; null without it
  std::unique_ptr<NotificationSender> notifier_;   // built when the node delivers
  std::unique_ptr<api::HttpServer> server_;  // last: its threads call app_
  bool stopped_ = false;
};

}  // namespace growhook
