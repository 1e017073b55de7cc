// `growhook serve` in three steps: check the configuration, build the node
// (cli/node.h), run it until a signal.
#include "cli/serve.h"

#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "api/portal.h"
#include "cli/node.h"
#include "delivery/retry_policy.h"
#include "delivery/trust_store.h"
#include "domain/notification.h"
#include "domain/signature.h"
#include "notify/smtp.h"

namespace growhook {
namespace {

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("growhook");
  spdlog::set_default_logger(logger);
  // logfmt: one line an event, key=value, UTC timestamps.
  spdlog::set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::info);
}

sigset_t shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// Waits for SIGTERM or SIGINT, then drains: readiness answers 503 at once
// and the node goes on serving for --drain-delay while the load balancer
// notices; a second signal cuts the wait short.
void run_until_signal(Node& node, const sigset_t& signals, int64_t drain_delay_ms) {
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("msg=\"shutting down\" signal={} drain_delay_ms={}", sig, drain_delay_ms);
  node.drain();
  if (drain_delay_ms > 0) {
    timespec wait{static_cast<time_t>(drain_delay_ms / 1000), static_cast<long>(drain_delay_ms % 1000) * 1'000'000};
    if (sigtimedwait(&signals, nullptr, &wait) > 0) spdlog::info("msg=\"second signal: stopping now\"");
  }
  node.stop();
  spdlog::info("msg=\"stopped\"");
}

// The CAs of webhook HTTPS: the system's store and --tls-ca-file. A broken
// --tls-ca-file stops the start; a missing system store is said loudly in
// the log, since every https:// webhook whose CA is not in --tls-ca-file
// will fail.
Result<std::shared_ptr<const TrustStore>> load_trust(const std::string& tls_ca_file) {
  TrustStoreSources sources = system_defaults();
  sources.extra_file = tls_ca_file;
  auto trust = TrustStore::load(sources);
  if (!trust.ok()) return trust.error();
  const TrustStore& t = **trust;
  if (!t.system_problem().empty()) {
    spdlog::warn("msg=\"no system CA certificates: https:// webhooks will fail certificate verification{}\" "
                 "problem=\"{}\"",
                 t.extra_certificates() ? " unless --tls-ca-file trusts their CA" : "", t.system_problem());
  }
  spdlog::info("msg=\"TLS CA store\" detail=\"{}\"", t.summary());
  return std::shared_ptr<const TrustStore>(std::move(*trust));
}

// --smtp-url with --smtp-from, --platform-webhook-url with its secret.
Status check_notification_config(const ServeConfig& c, CheckedConfig& k) {
  if (!c.smtp_url.empty()) {
    if (c.smtp_from.empty()) return Error::invalid("--smtp-url needs --smtp-from (the From address of the mail)");
    if (auto s = validate_notification_email(c.smtp_from); !s.ok())
      return Error::invalid("--smtp-from " + s.error().message);
    SmtpOptions smtp;
    smtp.url = c.smtp_url;
    if (auto m = make_smtp_mailer(smtp); !m.ok()) return m.error();
  }
  if (const char* p = std::getenv("GROWHOOK_SMTP_PASSWORD")) k.smtp_password = p;
  if (c.platform_webhook_url.empty()) return ok_status();
  if (c.platform_webhook_url.rfind("http://", 0) != 0 && c.platform_webhook_url.rfind("https://", 0) != 0)
    return Error::invalid("--platform-webhook-url must be an http:// or https:// URL");
  const char* secret = std::getenv("GROWHOOK_PLATFORM_WEBHOOK_SECRET");
  if (!secret || !decode_webhook_secret(secret).ok()) {
    return Error::invalid("--platform-webhook-url needs GROWHOOK_PLATFORM_WEBHOOK_SECRET: a whsec_ secret (whsec_ and "
                          "the base64 of 24 to 64 random bytes) to sign its messages with");
  }
  k.platform_webhook_secret = secret;
  return ok_status();
}

}  // namespace

std::string_view to_string(Role r) {
  switch (r) {
    case Role::kAll: return "all";
    case Role::kApi: return "api";
    case Role::kWorker: return "worker";
  }
  return "all";
}

std::optional<Role> parse_role(std::string_view s) {
  for (Role r : {Role::kAll, Role::kApi, Role::kWorker}) {
    if (s == to_string(r)) return r;
  }
  return std::nullopt;
}

Result<CheckedConfig> check_config(const ServeConfig& c) {
  CheckedConfig k;
  auto ranges = parse_cidr_list(c.allow_targets);
  if (!ranges.ok()) return Error::invalid("--allow-targets: " + ranges.error().message);
  k.allowed_targets = std::move(*ranges);
  if (c.request_read_timeout_ms < 1) return Error::invalid("--request-read-timeout must be longer than 0");
  if (c.disable_after_ms < 1) return Error::invalid("--disable-after must be longer than 0");
  if (c.probe_max_interval_ms < 1) return Error::invalid("--probe-max-interval must be longer than 0");
  if (c.db_timeout_ms < 100) return Error::invalid("--db-timeout must be at least 100ms (e.g. 5s)");
  k.lease_ms = lease_ms_or_default(c.lease_ms, {c.connect_timeout_ms, c.request_timeout_ms});
  if (k.lease_ms <= c.request_timeout_ms) {
    // A lease that can end while its attempt is still running lets another
    // node send the same batch at the same time.
    return Error::invalid("--lease (" + std::to_string(k.lease_ms) + " ms) must be longer than --request-timeout (" +
                          std::to_string(c.request_timeout_ms) +
                          " ms): a batch's lease must outlive its longest attempt, or another node would send it "
                          "again meanwhile");
  }
  auto delays = parse_delays(c.retry_delays);
  if (!delays.ok()) return delays.error();
  k.retry_delays = std::move(*delays);
  k.host = c.listen.substr(0, c.listen.rfind(':'));
  if (k.host.size() > 2 && k.host.front() == '[' && k.host.back() == ']') k.host = k.host.substr(1, k.host.size() - 2);
  k.port = static_cast<uint16_t>(std::atoi(c.listen.substr(c.listen.rfind(':') + 1).c_str()));
  k.single_node = c.database.empty();
  k.delivers = c.role != Role::kApi;
  if (!c.public_url.empty()) {
    auto url = api::parse_public_url(c.public_url);
    if (!url.ok()) return url.error();
    k.public_url = std::move(*url);
  }
  auto ancestors = api::frame_ancestors_sources(c.frame_ancestors);
  if (!ancestors.ok()) return ancestors.error();
  k.frame_ancestors = std::move(*ancestors);
  if (auto s = check_notification_config(c, k); !s.ok()) return s.error();
  auto trust = load_trust(c.tls_ca_file);
  if (!trust.ok()) return trust.error();
  k.trust = std::move(*trust);
  return k;
}

int serve(const ServeConfig& c) {
  // Block the shutdown signals before any thread starts, so every thread
  // inherits the mask and only sigwait receives them.
  sigset_t signals = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  setup_logging(c.log_level);

  auto checked = check_config(c);
  if (!checked.ok()) {
    std::fprintf(stderr, "growhook: %s\n", checked.error().message.c_str());
    return 2;
  }
  auto node = Node::build(c, *checked);
  if (!node.ok()) {
    std::fprintf(stderr, "growhook: %s\n", node.error().message.c_str());
    return 1;
  }
  (*node)->start();
  run_until_signal(**node, signals, c.drain_delay_ms);
  return 0;
}

}  // namespace growhook
