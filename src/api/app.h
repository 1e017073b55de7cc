// The HTTP API: routing, authentication, and the handlers of every route of
// docs/openapi.yaml. Handlers run on the HTTP server's threads; ingestion answers
// asynchronously once the group committer has committed.
#pragma once

#include <atomic>
#include <functional>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/http.h"
#include "api/portal.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "delivery/engine.h"
#include "delivery/address_guard.h"
#include "delivery/transport.h"
#include "domain/event.h"
#include "ingest/group_committer.h"
#include "store/store.h"

namespace growhook::api {

struct AppOptions {
  IngestLimits ingest;
  Timeouts test_timeouts;
  int64_t default_rotation_grace_ms = 24 * 3'600'000LL;
  int64_t readiness_stall_ms = 30'000;  // the delivery loop must have turned within this
  AddressGuard guard;                   // literal IP URLs are checked at creation too
  bool serve_api = true;                // false on --role worker: only the ops routes
  std::string public_url = "http://127.0.0.1:8080";  // the base of portal links (--public-url)
  std::string frame_ancestors = "'none'";             // the page's CSP frame-ancestors (--frame-ancestors)
  size_t max_batch_bytes = 1 << 20;  // the cap on a batch's bytes, as the delivery engine's (recover)
  // What /readyz says of the database without a call of its own: nullopt
  // when reachable, else why not (maintenance/db_health.h). Unset: /readyz
  // pings the store itself.
  std::function<std::optional<std::string>()> database_problem;
};

// The roles of the store that the routes use (store.h).
struct AppStores {
  Accounts& accounts;        // ingest_routes (accounts), app.cc (API keys)
  Webhooks& webhooks;        // webhook_routes, batch_routes
  Batches& batches;          // batch_routes
  Maintenance& maintenance;  // ops_routes: /readyz, /metrics
  Contacts& contacts;        // contact_routes
  PortalSessions& portal;    // portal_routes, app.cc (session tokens)
  Backlog& backlog;          // webhook_routes: enable, recover
  DeliveryActivity& activity;  // stats_routes
  static AppStores of(Store& s) { return {s, s, s, s, s, s, s, s}; }
};

class App {
 public:
  App(AppStores stores, GroupCommitter& committer, Transport& transport, const Clock& clock, Metrics& metrics,
      DeliveryEngine* engine, std::string platform_token_hash, AppOptions options);

  void handle(Request&& req, Responder respond);
  // The HTTP server's HeadCheck (a request that waits for 100 Continue):
  // the 401 of a missing or wrong token, or the 415 of an ingestion that is
  // not JSON, answered before the body is sent; nullopt otherwise (the
  // route decides once the body is read, and checks the token again).
  std::optional<Response> check_head(const Request& head);
  // The node is stopping: /readyz answers 503 from now on, everything else
  // is served as before until the server closes.
  void set_draining() { draining_ = true; }
  // The base of portal links when --public-url is not given: the address
  // bound (known once the server listens).
  void set_public_url(std::string url) { portal_.set_public_url(std::move(url)); }

  // Route handlers; `parts` are the path's segments.
  using Parts = std::vector<std::string>;

 private:
  struct Ctx;
  void route(Request& req, const Parts& parts, Responder& respond);
  // The routes under /v1/batches and /v1/events, or nullopt for another path.
  std::optional<Response> route_records(const Account& a, const Request& req, const Parts& p);
  bool platform_authorized(const Request& req) const;
  // The 401 of a request whose token does not open path parts p, or
  // nullopt; sets *account to the account for account routes.
  std::optional<Response> refuse_token(const Request& req, const Parts& p, std::optional<Account>* account);
  Result<Account> account_for(const Request& req);

  // ingest_routes.cc
  void ingest(Request& req, const std::string& account_id, Responder respond);
  Response create_account(const Request& req);
  // webhook_routes.cc
  Response list_webhooks(const Account& a, const Request& req);
  Response create_webhook(const Account& a, const Request& req);
  Response get_webhook(const Account& a, const std::string& id);
  Response patch_webhook(const Account& a, const std::string& id, const Request& req);
  Response set_enabled(const Account& a, const std::string& id, bool enabled);
  Response enable_webhook(const Account& a, const std::string& id, const Request& req);
  Response recover_webhook(const Account& a, const std::string& id, const Request& req);
  Response delete_webhook(const Account& a, const std::string& id);
  Response get_secret(const Account& a, const std::string& id);
  Response rotate_secret(const Account& a, const std::string& id, const Request& req);
  void test_webhook(const Account& a, const std::string& id, const Request& req, Responder respond);
  // batch_routes.cc
  Response list_batches(const Account& a, const std::string& webhook_id, const Request& req);
  Response get_batch(const Account& a, const std::string& id);
  Response retry_batch(const Account& a, const std::string& id);
  Response retry_failed(const Account& a, const std::string& webhook_id);
  // account_routes.cc
  Response get_account(const Account& a);
  Response patch_account(const Account& a, const Request& req);
  // contact_routes.cc
  Response find_contact(const Account& a, const Request& req);
  Response get_event(const Account& a, const std::string& id);
  // stats_routes.cc
  Response webhook_stats(const Account& a, const std::string& webhook_id);
  // portal_routes.cc: the page's POST and DELETE /v1/portal-session, the
  // platform's POST and DELETE /v1/accounts/{id}/portal-sessions (after
  // refuse_token); nullopt for any other path.
  std::optional<Response> route_portal(const Request& req, const Parts& p);
  Response mint_portal_session(const std::string& account_id, const Request& req);
  Response end_portal_sessions(const std::string& account_id);
  Response redeem_portal_link(const Request& req);
  Response sign_out_portal(const Request& req);
  // ops_routes.cc
  Response healthz();
  Response readyz();
  Response metrics();
  Response asset(const std::string& path);

  std::atomic<bool> draining_{false};
  Accounts& accounts_;
  Webhooks& webhooks_;
  Batches& batches_;
  Maintenance& maintenance_;
  Contacts& contacts_;
  Backlog& backlog_;
  DeliveryActivity& activity_;
  GroupCommitter& committer_;
  Transport& transport_;
  const Clock& clock_;
  Metrics& metrics_;
  DeliveryEngine* engine_;
  std::string platform_token_hash_;
  AppOptions options_;
  Portal portal_;
  std::mutex key_cache_mu_;
  std::unordered_map<std::string, Account> key_cache_;  // sha256 hex of a key → account
};

}  // namespace growhook::api
