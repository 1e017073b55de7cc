#include "cli/serve.h"

#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "api/app.h"
#include "common/crypto.h"
#include "common/ids.h"
#include "delivery/engine.h"
#include "delivery/retention.h"
#include "delivery/trust_store.h"
#include "ingest/group_committer.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace growhook {
namespace {

constexpr const char* kTokenMetaKey = "platform_token_sha256";

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("growhook");
  spdlog::set_default_logger(logger);
  // logfmt: one line an event, key=value, UTC timestamps.
  spdlog::set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::info);
}

// The platform token: from the environment, or generated on first start and
// printed once; only its SHA-256 is stored.
Result<std::string> platform_token_hash(Store& store, std::string* printed_token) {
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

Result<std::unique_ptr<Store>> open_store(const ServeConfig& c) {
  if (!c.database.empty()) {
    if (c.database.rfind("postgresql://", 0) != 0 && c.database.rfind("postgres://", 0) != 0)
      return Error::invalid("--database must be a postgresql:// URL");
    return open_postgres_store(c.database, c.pg_pool_size);
  }
  return open_sqlite_store(c.data_dir);
}

// The CAs of webhook HTTPS: the system's store and --tls-ca-file. A broken
// --tls-ca-file stops the start (null); a missing system store is said
// loudly in the log, since every https:// webhook whose CA is not in
// --tls-ca-file will fail.
std::shared_ptr<const TrustStore> load_trust(const std::string& tls_ca_file) {
  TrustStoreSources sources = system_defaults();
  sources.extra_file = tls_ca_file;
  auto trust = TrustStore::load(sources);
  if (!trust.ok()) {
    std::fprintf(stderr, "growhook: %s\n", trust.error().message.c_str());
    return nullptr;
  }
  const TrustStore& t = **trust;
  if (!t.system_problem().empty()) {
    spdlog::warn("msg=\"no system CA certificates: https:// webhooks will fail certificate verification{}\" "
                 "problem=\"{}\"",
                 t.extra_certificates() ? " unless --tls-ca-file trusts their CA" : "", t.system_problem());
  }
  spdlog::info("msg=\"TLS CA store\" detail=\"{}\"", t.summary());
  return *trust;
}

sigset_t shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

int serve(const ServeConfig& c) {
  // Block the shutdown signals before any thread starts, so every thread
  // inherits the mask and only sigwait below receives them.
  sigset_t signals = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  setup_logging(c.log_level);

  auto guard_ranges = parse_cidr_list(c.allow_targets);
  if (!guard_ranges.ok()) {
    std::fprintf(stderr, "growhook: --allow-targets: %s\n", guard_ranges.error().message.c_str());
    return 2;
  }
  if (c.request_read_timeout_ms < 1) {
    std::fprintf(stderr, "growhook: --request-read-timeout must be longer than 0\n");
    return 2;
  }
  const int64_t lease_ms =
      c.lease_ms > 0 ? c.lease_ms : default_lease_ms({c.connect_timeout_ms, c.request_timeout_ms});
  if (lease_ms <= c.request_timeout_ms) {
    // A lease that can end while its attempt is still running lets another
    // node send the same batch at the same time.
    std::fprintf(stderr,
                 "growhook: --lease (%lld ms) must be longer than --request-timeout (%lld ms): a batch's lease "
                 "must outlive its longest attempt, or another node would send it again meanwhile\n",
                 static_cast<long long>(lease_ms), static_cast<long long>(c.request_timeout_ms));
    return 2;
  }
  auto delays = parse_delays(c.retry_delays);
  if (!delays.ok()) {
    std::fprintf(stderr, "growhook: %s\n", delays.error().message.c_str());
    return 2;
  }
  auto trust = load_trust(c.tls_ca_file);
  if (!trust) return 2;
  auto store = open_store(c);
  if (!store.ok()) {
    std::fprintf(stderr, "growhook: %s\n", store.error().message.c_str());
    return 1;
  }
  std::string new_token;
  auto token_hash = platform_token_hash(**store, &new_token);
  if (!token_hash.ok()) {
    std::fprintf(stderr, "growhook: %s\n", token_hash.error().message.c_str());
    return 1;
  }
  const bool single_node = c.database.empty();
  std::string owner = c.node_id.empty() ? new_id("node", SystemClock().now_ms()) : c.node_id;
  if (single_node || !c.node_id.empty()) {
    // SQLite: nobody else can hold a lease on this data folder, so whatever
    // was in flight when the last process died is due again now. PostgreSQL
    // with a stable --node-id: this node's own leases are from its previous
    // life; take them back at once instead of waiting for them to expire.
    if (auto s = (*store)->release_leases(single_node ? "" : c.node_id); !s.ok()) {
      std::fprintf(stderr, "growhook: %s\n", s.error().message.c_str());
      return 1;
    }
  }

  SystemClock clock;
  Metrics metrics;
  CurlTransportOptions topts;
  topts.trust = std::move(trust);
  topts.guard = AddressGuard(*guard_ranges);
  topts.max_response_bytes = c.max_response_bytes;
  // A webhook's requests in flight each need a connection of their own, or
  // they queue inside curl behind its host limit; the engine's bounds are
  // the ones that count, so the connection limits follow them.
  topts.max_connections_per_host = std::max<size_t>(topts.max_connections_per_host, c.per_webhook_in_flight);
  topts.max_connections_total = std::max<size_t>(topts.max_connections_total, c.max_in_flight);
  auto transport = make_curl_transport(topts);

  DeliveryOptions dopts;
  dopts.owner = owner;
  dopts.max_in_flight = c.max_in_flight;
  dopts.per_webhook_in_flight = c.per_webhook_in_flight;
  // Claiming ahead would let the nodes of a PostgreSQL cluster together hold
  // more of a webhook's batches than --per-webhook-in-flight; one node alone
  // (SQLite) sends no more than that at once either way.
  if (!single_node) dopts.ready_ahead = 0;
  dopts.timeouts = {c.connect_timeout_ms, c.request_timeout_ms};
  dopts.lease_ms = lease_ms;
  dopts.retry.delays_ms = *delays;
  dopts.retry.retry_after_cap_ms = c.retry_after_cap_ms;
  DeliveryEngine engine(**store, *transport, clock, metrics, dopts);

  GroupCommitter committer(**store, {}, [&engine] { engine.wake(); });
  // The store's notifier (PostgreSQL's LISTEN thread) calls back until the
  // store ends, which is after the engine: unhook it before the engine goes,
  // on every way out of this function.
  auto* notifier = dynamic_cast<WorkNotifier*>(store->get());
  if (notifier) notifier->on_new_work([&engine] { engine.wake(); });
  struct Unhook {
    WorkNotifier* notifier;
    ~Unhook() {
      if (notifier) notifier->on_new_work(nullptr);
    }
  } unhook{notifier};

  api::AppOptions aopts;
  aopts.ingest.max_events = c.max_events_per_request;
  aopts.test_timeouts = dopts.timeouts;
  aopts.guard = AddressGuard(*guard_ranges);
  aopts.serve_api = c.role != "worker";
  const bool deliver = c.role != "api";
  api::App app(**store, committer, *transport, clock, metrics, deliver ? &engine : nullptr, *token_hash, aopts);

  api::ServerLimits limits;
  limits.max_body_bytes = c.max_body_bytes;
  limits.read_timeout_ms = c.request_read_timeout_ms;
  std::string host = c.listen.substr(0, c.listen.rfind(':'));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = std::atoi(c.listen.substr(c.listen.rfind(':') + 1).c_str());
  std::string error;
  auto server = api::start_http_server(
      host, static_cast<uint16_t>(port), c.threads, limits,
      [&app](api::Request&& r, api::Responder respond) { app.handle(std::move(r), std::move(respond)); },
      [&app](const api::Request& head) { return app.check_head(head); }, &error);
  if (!server) {
    std::fprintf(stderr, "growhook: %s\n", error.c_str());
    return 1;
  }
  if (deliver) engine.start();
  RetentionOptions ropts;
  ropts.delivered_ms = c.retention_delivered_ms;
  ropts.failed_ms = c.retention_failed_ms;
  Retention retention(**store, clock, metrics, ropts);
  if (deliver) retention.start();

  std::string base = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                     std::to_string(server->port());
  std::printf("growhook %s listening on %s\n", GROWHOOK_VERSION, base.c_str());
  std::printf("  API:  %s/v1\n  Page: %s/\n", base.c_str(), base.c_str());
  std::printf("  Store: %s\n", single_node ? ("SQLite in " + c.data_dir).c_str() : "PostgreSQL");
  if (!topts.trust->system_problem().empty()) {
    std::printf("  TLS: no system CA certificates (%s): https:// webhooks fail unless --tls-ca-file trusts "
                "their CA\n", topts.trust->system_problem().c_str());
  }
  if (!new_token.empty()) {
    std::printf("  Platform token (shown once; only its hash is kept): %s\n", new_token.c_str());
  }
  std::fflush(stdout);
  spdlog::info("msg=\"started\" listen={} node={} role={} lease_ms={}", base, owner, c.role, lease_ms);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("msg=\"shutting down\" signal={} drain_delay_ms={}", sig, c.drain_delay_ms);
  // First tell the load balancer (readiness), and keep serving while it
  // notices; a second signal cuts the wait short.
  app.set_draining();
  if (c.drain_delay_ms > 0) {
    timespec wait{static_cast<time_t>(c.drain_delay_ms / 1000), static_cast<long>(c.drain_delay_ms % 1000) * 1'000'000};
    if (sigtimedwait(&signals, nullptr, &wait) > 0) spdlog::info("msg=\"second signal: stopping now\"");
  }
  // Commit what ingestion holds and answer it, then stop the server, then
  // let deliveries in hand finish and record them.
  committer.stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server->stop();
  retention.stop();
  engine.stop(c.shutdown_grace_ms);
  transport->stop();
  spdlog::info("msg=\"stopped\"");
  return 0;
}

}  // namespace growhook
