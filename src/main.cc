// growhook: the thin front end. Parses the command line (flags, GROWHOOK_*
// environment variables, a config file) and runs the subcommand.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>

#include "cli/backup.h"
#include "cli/migrate.h"
#include "cli/reencrypt.h"
#include "cli/serve.h"
#include "delivery/retry_policy.h"

namespace {

// Adds a duration flag ("10s", "5m", "7d") that writes milliseconds to *ms.
CLI::Option* duration_flag(CLI::App* app, const std::string& name, int64_t* ms, const std::string& env,
                           const std::string& help) {
  return app
      ->add_option_function<std::string>(
          name,
          [ms, name](const std::string& v) {
            auto d = growhook::parse_duration_ms(v);
            if (!d.ok()) throw CLI::ValidationError(name, d.error().message);
            *ms = *d;
          },
          help)
      ->envname(env);
}

// Where the node listens, what it stores in, what its webhooks may reach.
void add_store_and_network_flags(CLI::App* serve, growhook::ServeConfig& c) {
  serve->add_option("--listen", c.listen, "HOST:PORT to listen on (port 0 picks a free port)")
      ->envname("GROWHOOK_LISTEN")
      ->capture_default_str();
  serve->add_option("--data-dir", c.data_dir, "Folder of the embedded SQLite store (created if missing)")
      ->envname("GROWHOOK_DATA_DIR")
      ->capture_default_str();
  serve->add_option("--database", c.database, "A postgresql:// URL: use PostgreSQL instead of SQLite")
      ->envname("GROWHOOK_DATABASE");
  serve->add_option("--allow-targets", c.allow_targets,
                    "Comma-separated CIDR ranges that webhooks may reach although the address guard refuses "
                    "them by default (loopback, private, link-local, ...), e.g. 127.0.0.0/8 for local tests")
      ->envname("GROWHOOK_ALLOW_TARGETS");
  serve->add_option("--tls-ca-file", c.tls_ca_file,
                    "PEM file of CA certificates trusted for https:// webhooks in addition to the system's "
                    "store (e.g. an internal CA); read at start")
      ->envname("GROWHOOK_TLS_CA_FILE");
}

// The page: where its links point, who may frame it (docs/embedding.md).
void add_page_flags(CLI::App* serve, growhook::ServeConfig& c) {
  serve->add_option("--public-url", c.public_url,
                    "The address people open the page at, the base of absolute links such as portal session "
                    "URLs, e.g. https://hooks.example.com (default: http:// and the --listen address)")
      ->envname("GROWHOOK_PUBLIC_URL");
  serve->add_option("--frame-ancestors", c.frame_ancestors,
                    "Comma-separated origins that may show the page in an iframe (its CSP frame-ancestors), "
                    "e.g. https://app.example.com (default: none may)")
      ->envname("GROWHOOK_FRAME_ANCESTORS");
}

// Who hears of a webhook that fails, is disabled, recovers (docs/operations.md, "Notifications").
void add_notification_flags(CLI::App* serve, growhook::ServeConfig& c) {
  serve->add_option("--smtp-url", c.smtp_url,
                    "Where notification mail goes out: smtp://HOST:PORT (STARTTLS when offered) or "
                    "smtps://HOST:PORT, user:password@ allowed (or the password in GROWHOOK_SMTP_PASSWORD); "
                    "no mail without it")
      ->envname("GROWHOOK_SMTP_URL");
  serve->add_option("--smtp-from", c.smtp_from, "The From address of notification mail, e.g. hooks@example.com")
      ->envname("GROWHOOK_SMTP_FROM");
  serve->add_option("--platform-webhook-url", c.platform_webhook_url,
                    "The platform's own webhook for growhook's news (webhook.failing, .disabled, .recovered), "
                    "signed with GROWHOOK_PLATFORM_WEBHOOK_SECRET; the address guard applies")
      ->envname("GROWHOOK_PLATFORM_WEBHOOK_URL");
}

// Timeouts, retries, leases, retention and shutdown: durations ("10s", "5m", "7d").
void add_timing_flags(CLI::App* serve, growhook::ServeConfig& c) {
  serve->add_option("--retry-delays", c.retry_delays,
                    "Waits before each retry (jittered by +-20%); their count is the number of retries")
      ->envname("GROWHOOK_RETRY_DELAYS")
      ->capture_default_str();
  duration_flag(serve, "--connect-timeout", &c.connect_timeout_ms, "GROWHOOK_CONNECT_TIMEOUT",
                "Connect timeout of a delivery attempt (default 5s)");
  duration_flag(serve, "--request-timeout", &c.request_timeout_ms, "GROWHOOK_REQUEST_TIMEOUT",
                "Total timeout of a delivery attempt (default 15s)");
  duration_flag(serve, "--lease", &c.lease_ms, "GROWHOOK_LEASE",
                "How long a claimed batch stays with this node before another node may take it over (when "
                "this one died); must be longer than --request-timeout (default: connect timeout + request "
                "timeout + 30s)");
  duration_flag(serve, "--retry-after-cap", &c.retry_after_cap_ms, "GROWHOOK_RETRY_AFTER_CAP",
                "Longest Retry-After (on 429/503) that is honoured (default 1h)");
  duration_flag(serve, "--disable-after", &c.disable_after_ms, "GROWHOOK_DISABLE_AFTER",
                "A webhook whose receiver keeps failing this long is disabled (default 5d)");
  duration_flag(serve, "--probe-max-interval", &c.probe_max_interval_ms, "GROWHOOK_PROBE_MAX_INTERVAL",
                "Longest wait between two tries of a failing webhook, whose backlog waits meanwhile "
                "(default 5m)");
  duration_flag(serve, "--retention-delivered", &c.retention_delivered_ms, "GROWHOOK_RETENTION_DELIVERED",
                "How long delivered batches are kept (default 7d)");
  duration_flag(serve, "--retention-failed", &c.retention_failed_ms, "GROWHOOK_RETENTION_FAILED",
                "How long failed batches are kept for a manual retry (default 30d)");
  duration_flag(serve, "--shutdown-grace", &c.shutdown_grace_ms, "GROWHOOK_SHUTDOWN_GRACE",
                "On SIGTERM, how long deliveries in flight may finish (default 10s)");
  duration_flag(serve, "--drain-delay", &c.drain_delay_ms, "GROWHOOK_DRAIN_DELAY",
                "On SIGTERM, how long to go on serving with /readyz answering 503 before ingestion stops, "
                "so that a load balancer takes the node out first (default 0s)");
  duration_flag(serve, "--db-timeout", &c.db_timeout_ms, "GROWHOOK_DB_TIMEOUT",
                "Longest a database call may take: connecting, a statement, the wait for a pooled "
                "connection or for SQLite's lock; past it the call fails (ingestion answers 503), the "
                "connection is replaced and /readyz says 503 (default 5s)");
  duration_flag(serve, "--request-read-timeout", &c.request_read_timeout_ms, "GROWHOOK_REQUEST_READ_TIMEOUT",
                "How long an API request may take to arrive, headers and body; slower clients are "
                "disconnected (default 30s)");
}

// The bounds on delivery requests in flight.
void add_delivery_bound_flags(CLI::App* serve, growhook::ServeConfig& c) {
  serve->add_option("--max-in-flight", c.max_in_flight, "Delivery requests in flight at most, in all")
      ->envname("GROWHOOK_MAX_IN_FLIGHT")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  serve->add_option("--per-webhook-in-flight", c.per_webhook_in_flight,
                    "Delivery requests in flight at most to one webhook")
      ->envname("GROWHOOK_PER_WEBHOOK_IN_FLIGHT")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
}

// Request limits, threads, the node's name and role, logging.
void add_node_flags(CLI::App* serve, growhook::ServeConfig& c) {
  serve->add_option("--max-events-per-request", c.max_events_per_request,
                    "Events accepted in one ingestion request (413 beyond)")
      ->envname("GROWHOOK_MAX_EVENTS_PER_REQUEST")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  serve->add_option("--max-body-bytes", c.max_body_bytes, "Largest request body accepted (413 beyond)")
      ->envname("GROWHOOK_MAX_BODY_BYTES")
      ->check(CLI::Range(1024, 256 << 20))
      ->capture_default_str();
  serve->add_option("--threads", c.threads, "HTTP server threads")
      ->envname("GROWHOOK_THREADS")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  serve->add_option("--pg-pool-size", c.pg_pool_size, "PostgreSQL connections per node")
      ->envname("GROWHOOK_PG_POOL_SIZE")
      ->check(CLI::Range(2, 200))
      ->capture_default_str();
  serve->add_option("--node-id", c.node_id, "This node's name in leases (default: generated)")
      ->envname("GROWHOOK_NODE_ID");
  serve
      ->add_option_function<std::string>(
          "--role",
          [&c](const std::string& v) {
            // CLI::IsMember below has refused anything else.
            c.role = growhook::parse_role(v).value_or(growhook::Role::kAll);
          },
          "all: API, page and delivery; api: API and page only; worker: delivery only "
          "(with /healthz, /readyz, /metrics)")
      ->envname("GROWHOOK_ROLE")
      ->check(CLI::IsMember({"all", "api", "worker"}))
      ->default_str("all");
  serve->add_option("--log-level", c.log_level, "trace, debug, info, warn, error")
      ->envname("GROWHOOK_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  serve->footer(
      "The platform token comes from GROWHOOK_PLATFORM_TOKEN; when it is unset, one is generated on first "
      "start, printed once, and only its hash is kept.");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"growhook: the webhook connector of the Grow marketing platform"};
  // CLI11 reads no environment variable for the config option itself: the
  // default file name comes from GROWHOOK_CONFIG instead.
  const char* config_env = std::getenv("GROWHOOK_CONFIG");
  app.set_config("--config", config_env ? config_env : "",
                 "Read options from this TOML/INI file ([serve] section, keys as the long flag names); "
                 "default from GROWHOOK_CONFIG",
                 /*config_required=*/config_env != nullptr);
  // A key of the config file that no flag has is an error, not ignored: a
  // typo in /etc/growhook/growhook.toml must not silently keep a default.
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.fallthrough();  // `growhook serve --config FILE` works too
  app.require_subcommand(1);
  app.set_version_flag("--version", GROWHOOK_VERSION);

  growhook::ServeConfig c;
  auto* serve = app.add_subcommand("serve", "Start the API, the web page and the delivery workers");
  add_store_and_network_flags(serve, c);
  add_timing_flags(serve, c);
  add_delivery_bound_flags(serve, c);
  add_node_flags(serve, c);
  add_page_flags(serve, c);
  add_notification_flags(serve, c);

  const growhook::cli::Command commands[] = {growhook::cli::add_backup_command(app),
                                             growhook::cli::add_migrate_command(app),
                                             growhook::cli::add_reencrypt_command(app)};

  CLI11_PARSE(app, argc, argv);
  if (serve->parsed()) return growhook::serve(c);
  for (const auto& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  return 0;
}
