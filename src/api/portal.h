// Portal sessions, the rules (docs/embedding.md tells the whole story):
// the platform mints a link for an account; the page, opened at that link,
// redeems its one-time secret (carried in the URL's fragment, so it is
// never sent in a request line, a Referer or a server log) for a session
// token, which it sends as a bearer token like an API key and keeps in
// sessionStorage. A session opens its account's routes and nothing else
// (no platform route, no minting), until expires_at or sign-out. Only
// SHA-256 hashes of secrets and tokens are stored (store/portal_sessions.h).
// Time comes from the injected clock.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "store/portal_sessions.h"

namespace growhook::api {

inline constexpr std::string_view kPortalLinkPrefix = "ghpl_";   // the link's one-time secret
inline constexpr std::string_view kPortalTokenPrefix = "ghps_";  // the session's bearer token
inline constexpr int64_t kPortalMinTtlS = 10;
inline constexpr int64_t kPortalMaxTtlS = 86'400;
inline constexpr int64_t kPortalDefaultTtlS = 3'600;

// What the platform's mint request asks for.
struct PortalRequest {
  int64_t ttl_s = kPortalDefaultTtlS;
  bool embed = false;  // the page hides its own header (?embed=1)
};
// The body of POST /v1/accounts/{id}/portal-sessions ({"ttl_seconds"?,
// "embed"?}; an empty body takes the defaults); kInvalid says what to fix.
Result<PortalRequest> parse_portal_request(std::string_view body);

struct PortalLink {
  std::string url;  // {public_url}/#s=ghpl_… (or /?embed=1#s=…)
  std::string session_id;
  int64_t expires_at_ms = 0;
};

struct PortalSignIn {
  std::string token;  // ghps_…, handed to the page once
  PortalGrant grant;
};

class Portal {
 public:
  // public_url: the base of the links, without a trailing slash.
  Portal(PortalSessions& store, const Clock& clock, std::string public_url);

  // kNotFound when the account does not exist. Also deletes up to 100
  // sessions that ended (the table's retention).
  Result<PortalLink> mint(const std::string& account_id, const PortalRequest& req);
  // kNotFound for a secret that signs nobody in (unknown, used, expired,
  // ended): the caller cannot tell which.
  Result<PortalSignIn> redeem(std::string_view link_secret);
  // The account a session token opens now; kNotFound otherwise.
  Result<PortalGrant> session(std::string_view token);
  Status sign_out(std::string_view token);
  // Ends every session of the account; how many were live.
  Result<int> end_all(const std::string& account_id);

  void set_public_url(std::string url);

  static bool is_session_token(std::string_view bearer) { return bearer.starts_with(kPortalTokenPrefix); }

 private:
  PortalSessions& store_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::string public_url_;  // guarded by mu_
};

// --public-url: an http(s) URL of a host (and port), with an optional path;
// returned without its trailing slash. kInvalid says what to fix.
Result<std::string> parse_public_url(std::string_view url);
// --frame-ancestors "ORIGIN,…" → the CSP source list ("'none'" when empty).
// Each origin is scheme://host[:port] (http or https), or 'self'.
Result<std::string> frame_ancestors_sources(std::string_view list);

}  // namespace growhook::api
