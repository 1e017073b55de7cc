// Portal sessions over HTTP (api/portal.h has the rules): the platform
// mints and ends them; the page redeems a link and signs out.
#include <spdlog/spdlog.h>

#include "api/app.h"
#include "api/problem.h"
#include "domain/timestamp.h"

// Every answer carries Cache-Control: no-store (http_server.cc): the link
// and the token are never cached.
namespace growhook::api {

std::optional<Response> App::route_portal(const Request& req, const Parts& p) {
  const std::string& m = req.method;
  const bool page = p.size() == 2 && p[1] == "portal-session";
  const bool platform = p.size() == 4 && p[1] == "accounts" && p[3] == "portal-sessions";
  if (!page && !platform) return std::nullopt;
  if (m == "POST") return page ? redeem_portal_link(req) : mint_portal_session(p[2], req);
  if (m == "DELETE") return page ? sign_out_portal(req) : end_portal_sessions(p[2]);
  auto r = problem(405, "this path accepts POST, DELETE");
  r.headers.emplace_back("Allow", "POST, DELETE");
  return r;
}

Response App::mint_portal_session(const std::string& account_id, const Request& req) {
  auto want = parse_portal_request(req.body);
  if (!want.ok()) return problem_from(want.error());
  auto link = portal_.mint(account_id, *want);
  if (!link.ok()) return problem_from(link.error());
  spdlog::info("msg=\"portal session minted\" account={} session={} ttl_s={}", account_id, link->session_id,
               want->ttl_s);
  return json_response(201, {{"url", link->url}, {"expires_at", format_timestamp(link->expires_at_ms)}});
}

Response App::end_portal_sessions(const std::string& account_id) {
  if (auto a = accounts_.get_account(account_id); !a.ok()) return problem_from(a.error());
  auto n = portal_.end_all(account_id);
  if (!n.ok()) return problem_from(n.error());
  spdlog::info("msg=\"portal sessions ended\" account={} live={}", account_id, *n);
  return json_response(200, {{"ended", *n}});
}

Response App::redeem_portal_link(const Request& req) {
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("secret") || !body["secret"].is_string() || body.size() != 1)
    return problem(400, "body must be {\"secret\": \"ghpl_…\"}, the secret of the portal link's #s= fragment");
  auto in = portal_.redeem(body["secret"].get<std::string>());
  if (!in.ok()) {
    if (in.error().code != ErrorCode::kNotFound) return problem_from(in.error());
    return problem(401, "this portal link signs nobody in: it was used already, it expired, or its sessions were "
                        "ended; open the page again from your Grow account");
  }
  spdlog::info("msg=\"portal session signed in\" account={} session={}", in->grant.account.id,
               in->grant.session_id);
  return json_response(201, {{"token", in->token},
                             {"expires_at", format_timestamp(in->grant.expires_at_ms)},
                             {"account", {{"id", in->grant.account.id}, {"name", in->grant.account.name}}}});
}

Response App::sign_out_portal(const Request& req) {
  std::string_view a = req.authorization;
  std::string_view token = a.starts_with("Bearer ") || a.starts_with("bearer ") ? a.substr(7) : std::string_view();
  if (!Portal::is_session_token(token))
    return problem(401, "send the portal session's token as 'Authorization: Bearer ghps_…'");
  auto s = portal_.sign_out(token);
  if (!s.ok() && s.error().code != ErrorCode::kNotFound) return problem_from(s.error());
  Response r;
  r.status = 204;
  return r;
}

}  // namespace growhook::api
