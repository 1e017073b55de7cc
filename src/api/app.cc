#include "api/app.h"

#include <spdlog/spdlog.h>

#include "api/content_type.h"
#include "api/problem.h"
#include "common/crypto.h"
#include "common/ids.h"

namespace growhook::api {
namespace {

App::Parts split_path(const std::string& path) {
  App::Parts parts;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

std::string bearer(const Request& req) {
  std::string_view a = req.authorization;
  if (a.size() > 7 && (a.substr(0, 7) == "Bearer " || a.substr(0, 7) == "bearer ")) return std::string(a.substr(7));
  return {};
}

Response method_not_allowed(const char* allowed) {
  auto r = problem(405, std::string("this path accepts ") + allowed);
  r.headers.emplace_back("Allow", allowed);
  return r;
}

}  // namespace

App::App(AppStores stores, GroupCommitter& committer, Transport& transport, const Clock& clock, Metrics& metrics,
         DeliveryEngine* engine, std::string platform_token_hash, AppOptions options)
    : accounts_(stores.accounts),
      webhooks_(stores.webhooks),
      batches_(stores.batches),
      maintenance_(stores.maintenance),
      contacts_(stores.contacts),
      backlog_(stores.backlog),
      activity_(stores.activity),
      committer_(committer),
      transport_(transport),
      clock_(clock),
      metrics_(metrics),
      engine_(engine),
      platform_token_hash_(std::move(platform_token_hash)),
      options_(std::move(options)),
      portal_(stores.portal, clock, options_.public_url) {}

bool App::platform_authorized(const Request& req) const {
  std::string token = bearer(req);
  if (token.empty()) return false;
  return crypto::constant_time_equal(crypto::sha256_hex(token), platform_token_hash_);
}

Result<Account> App::account_for(const Request& req) {
  std::string token = bearer(req);
  if (token.empty()) return Error::not_found("missing");
  // A portal session is looked up each time (never cached): it expires,
  // and the platform or a sign-out may end it.
  if (Portal::is_session_token(token)) {
    auto g = portal_.session(token);
    if (!g.ok()) return g.error();
    return std::move(g->account);
  }
  std::string hash = crypto::sha256_hex(token);
  {
    std::lock_guard lock(key_cache_mu_);
    if (auto it = key_cache_.find(hash); it != key_cache_.end()) return it->second;
  }
  auto a = accounts_.account_by_key_hash(hash);
  if (!a.ok()) return a;
  std::lock_guard lock(key_cache_mu_);
  if (key_cache_.size() > 100'000) key_cache_.clear();
  key_cache_.emplace(hash, *a);
  return a;
}

std::optional<Response> App::refuse_token(const Request& req, const Parts& p, std::optional<Account>* account) {
  // The page's portal sign-in carries no token, its sign-out the session's:
  // their handlers check it.
  if (p.size() == 2 && p[1] == "portal-session") return std::nullopt;
  if (p.size() >= 2 && p[1] == "accounts") {
    if (platform_authorized(req)) return std::nullopt;
    auto r = problem(401, "send the platform token as 'Authorization: Bearer <token>'");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  auto a = account_for(req);
  if (a.ok()) {
    *account = std::move(*a);
    return std::nullopt;
  }
  if (a.error().code != ErrorCode::kNotFound) return problem_from(a.error());
  auto r = problem(401, "send the account's API key as 'Authorization: Bearer <key>'");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

std::optional<Response> App::check_head(const Request& head) {
  auto p = split_path(head.path);
  if (p.size() < 2 || p[0] != "v1" || !options_.serve_api) return std::nullopt;
  // The same order as route(): the body's Content-Type (content_type.h),
  // then the credentials.
  if (!body_content_type_accepted(head.content_type))
    return problem(415, body_content_type_refusal(head.content_type));
  try {
    std::optional<Account> account;
    if (auto refused = refuse_token(head, p, &account)) return refused;
  } catch (const std::exception&) {
    return std::nullopt;  // the route answers (and logs) it once the body is read
  }
  return std::nullopt;
}

void App::handle(Request&& req, Responder respond) {
  auto parts = split_path(req.path);
  try {
    route(req, parts, respond);
  } catch (const std::exception& e) {
    spdlog::error("msg=\"handler threw\" path=\"{}\" error=\"{}\"", req.path, e.what());
    respond(problem(500, "internal error; the operator's log has the details"));
  }
}

void App::route(Request& req, const Parts& p, Responder& respond) {
  const std::string& m = req.method;
  const size_t n = p.size();
  if (n == 0 || p[0] != "v1") {
    if (n == 1 && p[0] == "healthz") return respond(healthz());
    if (n == 1 && p[0] == "readyz") return respond(readyz());
    if (n == 1 && p[0] == "metrics") return respond(metrics());
    if (m != "GET" && m != "HEAD") return respond(method_not_allowed("GET"));
    return respond(asset(req.path));
  }
  if (!options_.serve_api) return respond(problem(404, "this node runs with --role worker: no API here"));
  if (n < 2) return respond(problem(404, "no such path: " + req.path));
  for (size_t i = 1; i < n; ++i) {
    if (!is_valid_id(p[i])) return respond(problem(404, "no such path: " + req.path));
  }
  // One rule for the body's Content-Type on every route (content_type.h).
  if (!req.body.empty() && !body_content_type_accepted(req.content_type)) {
    if (n == 4 && p[1] == "accounts" && p[3] == "events") metrics_.ingest_requests_invalid++;
    return respond(problem(415, body_content_type_refusal(req.content_type)));
  }
  std::optional<Account> account;
  if (auto refused = refuse_token(req, p, &account)) return respond(std::move(*refused));
  if (auto r = route_portal(req, p)) return respond(std::move(*r));
  // Platform routes.
  if (n >= 2 && p[1] == "accounts") {
    if (n == 2) return respond(m == "POST" ? create_account(req) : method_not_allowed("POST"));
    if (n == 4 && p[3] == "events") {
      if (m != "POST") return respond(method_not_allowed("POST"));
      return ingest(req, p[2], std::move(respond));
    }
    return respond(problem(404, "no such path: " + req.path));
  }
  // Account routes.
  const Account& a = *account;
  if (n == 2 && p[1] == "account") {
    if (m == "GET") return respond(get_account(a));
    if (m == "PATCH") return respond(patch_account(a, req));
    return respond(method_not_allowed("GET, PATCH"));
  }
  if (n == 2 && p[1] == "sample-event") {
    if (m != "GET") return respond(method_not_allowed("GET"));
    return respond(json_response(200, {{"type", "contact.subscribed"},
                                       {"data", nlohmann::json::parse(sample_contact_json())}}));
  }
  if (p[1] == "webhooks") {
    if (n == 2) {
      if (m == "GET") return respond(list_webhooks(a, req));
      if (m == "POST") return respond(create_webhook(a, req));
      return respond(method_not_allowed("GET, POST"));
    }
    const std::string& id = p[2];
    if (n == 3) {
      if (m == "GET") return respond(get_webhook(a, id));
      if (m == "PATCH") return respond(patch_webhook(a, id, req));
      if (m == "DELETE") return respond(delete_webhook(a, id));
      return respond(method_not_allowed("GET, PATCH, DELETE"));
    }
    if (n == 4) {
      const std::string& action = p[3];
      if (action == "batches") return respond(m == "GET" ? list_batches(a, id, req) : method_not_allowed("GET"));
      if (action == "secret") return respond(m == "GET" ? get_secret(a, id) : method_not_allowed("GET"));
      if (action == "stats") return respond(m == "GET" ? webhook_stats(a, id) : method_not_allowed("GET"));
      if (m != "POST") return respond(method_not_allowed("POST"));
      if (action == "test") return test_webhook(a, id, req, std::move(respond));
      if (action == "rotate-secret") return respond(rotate_secret(a, id, req));
      if (action == "retry-failed") return respond(retry_failed(a, id));
      if (action == "enable") return respond(enable_webhook(a, id, req));
      if (action == "recover") return respond(recover_webhook(a, id, req));
      if (action == "disable") return respond(set_enabled(a, id, false));
    }
  }
  if (auto r = route_records(a, req, p)) return respond(std::move(*r));
  respond(problem(404, "no such path: " + req.path));
}

std::optional<Response> App::route_records(const Account& a, const Request& req, const Parts& p) {
  const std::string& m = req.method;
  const size_t n = p.size();
  if (p[1] == "batches" && n == 3) return m == "GET" ? get_batch(a, p[2]) : method_not_allowed("GET");
  if (p[1] == "batches" && n == 4 && p[3] == "retry") {
    return m == "POST" ? retry_batch(a, p[2]) : method_not_allowed("POST");
  }
  if (p[1] == "events" && n == 2) return m == "GET" ? find_contact(a, req) : method_not_allowed("GET");
  if (p[1] == "events" && n == 3) return m == "GET" ? get_event(a, p[2]) : method_not_allowed("GET");
  return std::nullopt;
}

}  // namespace growhook::api
