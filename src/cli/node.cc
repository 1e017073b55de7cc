#include "cli/node.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/crypto.h"
#include "common/ids.h"
#include "delivery/curl_transport.h"
#include "delivery/retry_policy.h"
#include "store/open_store.h"

namespace growhook {
namespace {

constexpr const char* kTokenMetaKey = "platform_token_sha256";
constexpr int64_t kMailTimeoutMs = 30'000;  // one SMTP conversation, DATA included

// The platform token: from the environment, or generated on first start and
// printed once; only its SHA-256 is stored.
Result<std::string> platform_token_hash(Maintenance& store, std::string* printed_token) {
  if (const char* env = std::getenv("GROWHOOK_PLATFORM_TOKEN"); env && *env) {
    if (std::strlen(env) < 16) return Error::invalid("GROWHOOK_PLATFORM_TOKEN must be at least 16 characters");
    return crypto::sha256_hex(env);
  }
  auto stored = store.get_meta(kTokenMetaKey);
  if (!stored.ok()) return stored.error();
  if (*stored) return **stored;
  std::string token = "ghp_" + crypto::base64url_encode(crypto::random_bytes(32));
  std::string hash = crypto::sha256_hex(token);
  // Several nodes starting together on a new PostgreSQL database: the first
  // token written is the one; only the node that wrote it prints it.
  auto kept = store.add_meta(kTokenMetaKey, hash);
  if (!kept.ok()) return kept.error();
  if (*kept == hash) *printed_token = token;
  return *kept;
}

CurlTransportOptions transport_options(const ServeConfig& c, const CheckedConfig& k) {
  CurlTransportOptions t;
  t.guard = AddressGuard(k.allowed_targets);
  t.trust = k.trust;
  t.max_response_bytes = c.max_response_bytes;
  // A webhook's requests in flight each need a connection of their own, or
  // they queue inside curl behind its host limit; the engine's bounds are
  // the ones that count, so the connection limits follow them.
  t.max_connections_per_host = std::max<size_t>(t.max_connections_per_host, c.per_webhook_in_flight);
  t.max_connections_total = std::max<size_t>(t.max_connections_total, c.max_in_flight);
  return t;
}

DeliveryOptions delivery_options(const ServeConfig& c, const CheckedConfig& k, const std::string& owner) {
  DeliveryOptions d;
  d.owner = owner;
  d.max_in_flight = c.max_in_flight;
  d.per_webhook_in_flight = c.per_webhook_in_flight;
  // Claiming ahead would let the nodes of a PostgreSQL cluster together hold
  // more of a webhook's batches than --per-webhook-in-flight; one node alone
  // (SQLite) sends no more than that at once either way.
  if (!k.single_node) d.ready_ahead = 0;
  d.timeouts = {c.connect_timeout_ms, c.request_timeout_ms};
  d.lease_ms = k.lease_ms;
  // A delivered batch whose webhook had room is recorded with the next
  // claim (new events come within milliseconds when they come one by one),
  // or 5 ms later: one transaction an event instead of two (issue 12).
  d.record_delay_ms = 5;
  d.retry.delays_ms = k.retry_delays;
  d.retry.retry_after_cap_ms = c.retry_after_cap_ms;
  d.health.attempts_to_fail = static_cast<int>(k.retry_delays.size()) + 1;
  d.health.disable_after_ms = c.disable_after_ms;
  d.health.probe_max_interval_ms = c.probe_max_interval_ms;
  d.health.retry_after_cap_ms = c.retry_after_cap_ms;
  return d;
}

api::AppOptions app_options(const ServeConfig& c, const CheckedConfig& k, const DbHealth& health) {
  api::AppOptions a;
  a.database_problem = [&health] { return health.problem(); };
  a.ingest.max_events = c.max_events_per_request;
  a.test_timeouts = {c.connect_timeout_ms, c.request_timeout_ms};
  a.guard = AddressGuard(k.allowed_targets);
  a.serve_api = c.role != Role::kWorker;
  a.public_url = k.public_url;  // set from the bound address in Node::build when empty
  a.frame_ancestors = k.frame_ancestors;
  return a;
}

SenderOptions sender_options(const ServeConfig& c, const CheckedConfig& k, const std::string& owner) {
  SenderOptions s;
  s.owner = owner;
  s.smtp_from = c.smtp_from;
  s.platform_url = c.platform_webhook_url;
  s.platform_secret = k.platform_webhook_secret;
  s.platform_timeouts = {c.connect_timeout_ms, c.request_timeout_ms};
  // A turn's rows are leased together and sent one after the other: the
  // lease outlives a whole turn of sends that each take their longest (a
  // mail: 30 s; a platform POST: connect + request timeout), so no other
  // node takes the last of them while this one is still on its way to it.
  const int64_t longest_send = std::max<int64_t>(kMailTimeoutMs, c.connect_timeout_ms + c.request_timeout_ms);
  s.lease_ms = std::max<int64_t>(k.lease_ms, s.per_turn * longest_send + 30'000);
  s.keep_sent_ms = c.retention_delivered_ms;
  return s;
}

RetentionOptions retention_options(const ServeConfig& c) {
  RetentionOptions r;
  r.delivered_ms = c.retention_delivered_ms;
  r.failed_ms = c.retention_failed_ms;
  return r;
}

}  // namespace

Node::WakeOnNewWork::WakeOnNewWork(WorkNotifier* n, DeliveryEngine& engine) : notifier(n) {
  if (notifier) notifier->on_new_work([&engine] { engine.wake(); });
}

Node::WakeOnNewWork::~WakeOnNewWork() {
  if (notifier) notifier->on_new_work(nullptr);
}

Node::Node(OpenedStore opened, std::shared_ptr<DbCallStats> db_calls, std::string token_hash, const ServeConfig& c,
           const CheckedConfig& k, std::string owner)
    : config_(c),
      checked_(k),
      owner_(std::move(owner)),
      opened_(std::move(opened)),
      store_(*opened_.store),
      transport_(make_curl_transport(transport_options(c, k))),
      engine_(store_, *transport_, clock_, metrics_, delivery_options(c, k, owner_)),
      committer_(store_, {}, [this] { engine_.wake(); }),
      wake_on_new_work_(opened_.notifier, engine_),
      db_health_([this] { return store_.ping(); }, clock_, {1'000, c.db_timeout_ms}),
      app_(api::AppStores::of(store_), committer_, *transport_, clock_, metrics_, k.delivers ? &engine_ : nullptr,
           std::move(token_hash), app_options(c, k, db_health_)),
      retention_(store_, clock_, metrics_, retention_options(c)) {
  metrics_.db_calls = std::move(db_calls);
}

Result<std::unique_ptr<Node>> Node::build(const ServeConfig& c, const CheckedConfig& k) {
  const char* keys = std::getenv("GROWHOOK_SECRETS_KEYS");
  auto db_calls = std::make_shared<DbCallStats>();
  auto opened = open_store({c.database, c.data_dir, c.pg_pool_size, keys ? keys : "", DbLimits{c.db_timeout_ms}, db_calls});
  if (!opened.ok()) return opened.error();
  std::string new_token;
  auto token_hash = platform_token_hash(*opened->store, &new_token);
  if (!token_hash.ok()) return token_hash.error();
  if (k.single_node || !c.node_id.empty()) {
    // SQLite: nobody else can hold a lease on this data folder, so whatever
    // was in flight when the last process died is due again now. PostgreSQL
    // with a stable --node-id: this node's own leases are from its previous
    // life; take them back at once instead of waiting for them to expire.
    if (auto s = opened->store->release_leases(k.single_node ? "" : c.node_id); !s.ok()) return s.error();
    if (auto s = opened->store->release_notification_leases(k.single_node ? "" : c.node_id); !s.ok()) {
      return s.error();
    }
  }
  std::string owner = c.node_id.empty() ? new_id("node", SystemClock().now_ms()) : c.node_id;
  std::unique_ptr<Node> node(new Node(std::move(*opened), std::move(db_calls), std::move(*token_hash), c, k, std::move(owner)));
  node->new_token_ = std::move(new_token);

  api::ServerLimits limits;
  limits.max_body_bytes = c.max_body_bytes;
  limits.read_timeout_ms = c.request_read_timeout_ms;
  std::string error;
  api::App& app = node->app_;
  node->server_ = api::start_http_server(
      k.host, k.port, c.threads, limits,
      [&app](api::Request&& r, api::Responder respond) { app.handle(std::move(r), std::move(respond)); },
      [&app](const api::Request& head) { return app.check_head(head); }, &error);
  if (!node->server_) return Error::unavailable(error);
  if (k.public_url.empty()) app.set_public_url(node->base_url());
  if (auto st = node->build_notifier(); !st.ok()) return st.error();
  return node;
}

Status Node::build_notifier() {
  if (!checked_.delivers) return ok_status();
  const ServeConfig& c = config_;
  if (!c.smtp_url.empty()) {
    auto m = make_smtp_mailer({c.smtp_url, checked_.smtp_password, c.connect_timeout_ms, kMailTimeoutMs});
    if (!m.ok()) return m.error();
    mailer_ = std::move(*m);
  }
  if (!c.platform_webhook_url.empty()) platform_transport_ = make_curl_transport(transport_options(c, checked_));
  SenderOptions o = sender_options(c, checked_, owner_);
  o.page_url = (checked_.public_url.empty() ? base_url() : checked_.public_url) + "/";
  notifier_ = std::make_unique<NotificationSender>(store_, store_, store_, mailer_.get(), platform_transport_.get(),
                                                   clock_, metrics_, std::move(o));
  return ok_status();
}

void Node::start() {
  db_health_.start();
  if (checked_.delivers) {
    engine_.start();
    retention_.start();
    if (notifier_) notifier_->start();
  }
  std::string base = base_url();
  std::printf("growhook %s listening on %s\n", GROWHOOK_VERSION, base.c_str());
  std::printf("  API:  %s/v1\n  Page: %s/\n", base.c_str(), base.c_str());
  std::printf("  Store: %s\n", checked_.single_node ? ("SQLite in " + config_.data_dir).c_str() : "PostgreSQL");
  if (checked_.trust && !checked_.trust->system_problem().empty()) {
    std::printf("  TLS: no system CA certificates (%s): https:// webhooks fail unless --tls-ca-file trusts "
                "their CA\n", checked_.trust->system_problem().c_str());
  }
  if (!new_token_.empty()) {
    std::printf("  Platform token (shown once; only its hash is kept): %s\n", new_token_.c_str());
  }
  std::fflush(stdout);
  spdlog::info("msg=\"started\" listen={} node={} role={} lease_ms={}", base, owner_, to_string(config_.role),
               checked_.lease_ms);
}

std::string Node::base_url() const {
  const std::string& host = checked_.host;
  return "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(server_->port());
}

void Node::stop() {
  if (stopped_) return;
  stopped_ = true;
  // Commit what ingestion holds and answer it, then stop the server, then
  // let deliveries in hand finish and record them.
  committer_.stop();
  if (server_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    server_->stop();
  }
  retention_.stop();
  // Mail or a platform message in progress ends now; its row's lease ends
  // and it is sent after the restart.
  if (platform_transport_) platform_transport_->stop();
  if (notifier_) notifier_->stop();
  db_health_.stop();
  engine_.stop(config_.shutdown_grace_ms);
  transport_->stop();
}

}  // namespace growhook
