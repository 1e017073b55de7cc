#include "api/portal.h"

#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/ids.h"

namespace growhook::api {
namespace {

std::string new_secret(std::string_view prefix) {
  return std::string(prefix) + crypto::base64url_encode(crypto::random_bytes(32));
}

// scheme://host[:port], host of letters, digits, '.', '-', or [v6]; port digits.
bool is_origin(std::string_view o, bool path_allowed) {
  size_t rest = 0;
  if (o.starts_with("http://")) rest = 7;
  else if (o.starts_with("https://")) rest = 8;
  else return false;
  std::string_view host = o.substr(rest);
  size_t slash = host.find('/');
  if (slash != std::string_view::npos) {
    if (!path_allowed) return false;
    for (char c : host.substr(slash))
      if (c <= ' ' || c == '#' || c == '?' || c == '\\' || c == '"' || c == '\'' || c > '~') return false;
    host = host.substr(0, slash);
  }
  if (host.empty()) return false;
  size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(']', colon) == std::string_view::npos) {
    std::string_view port = host.substr(colon + 1);
    if (port.empty() || port.size() > 5) return false;
    for (char c : port)
      if (c < '0' || c > '9') return false;
    host = host.substr(0, colon);
  }
  if (host.empty()) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '[' || c == ']' || c == ':';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<PortalRequest> parse_portal_request(std::string_view body) {
  PortalRequest out;
  if (body.empty()) return out;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return Error::invalid("body must be a JSON object: {\"ttl_seconds\"?, \"embed\"?}");
  for (auto& [k, v] : j.items()) {
    if (k == "ttl_seconds") {
      if (!v.is_number_integer() || v.get<int64_t>() < kPortalMinTtlS || v.get<int64_t>() > kPortalMaxTtlS)
        return Error::invalid("ttl_seconds: must be a whole number of seconds from 10 to 86400");
      out.ttl_s = v.get<int64_t>();
    } else if (k == "embed") {
      if (!v.is_boolean()) return Error::invalid("embed: must be true or false");
      out.embed = v.get<bool>();
    } else {
      return Error::invalid("unknown field \"" + k + "\"; only \"ttl_seconds\" and \"embed\" are accepted");
    }
  }
  return out;
}

Portal::Portal(PortalSessions& store, const Clock& clock, std::string public_url)
    : store_(store), clock_(clock), public_url_(std::move(public_url)) {}

Result<PortalLink> Portal::mint(const std::string& account_id, const PortalRequest& req) {
  const int64_t now = clock_.now_ms();
  std::string secret = new_secret(kPortalLinkPrefix);
  PortalSession s{new_id("ps", now), account_id, crypto::sha256_hex(secret), now, now + req.ttl_s * 1000};
  if (auto st = store_.create_portal_session(s); !st.ok()) return st.error();
  // Ended sessions go as new ones come: the table stays as large as the
  // sessions of the last day. A failure here is no reason to refuse the link.
  (void)store_.prune_portal_sessions(now, 100);
  std::string base;
  {
    std::lock_guard lock(mu_);
    base = public_url_;
  }
  return PortalLink{base + (req.embed ? "/?embed=1#s=" : "/#s=") + secret, s.id, s.expires_at_ms};
}

void Portal::set_public_url(std::string url) {
  std::lock_guard lock(mu_);
  public_url_ = std::move(url);
}

Result<PortalSignIn> Portal::redeem(std::string_view link_secret) {
  if (!link_secret.starts_with(kPortalLinkPrefix)) return Error::not_found("no such portal link");
  std::string token = new_secret(kPortalTokenPrefix);
  auto g = store_.redeem_portal_link(crypto::sha256_hex(link_secret), crypto::sha256_hex(token), clock_.now_ms());
  if (!g.ok()) return g.error();
  return PortalSignIn{std::move(token), std::move(*g)};
}

Result<PortalGrant> Portal::session(std::string_view token) {
  if (!is_session_token(token)) return Error::not_found("not a portal session token");
  return store_.portal_session_by_token(crypto::sha256_hex(token), clock_.now_ms());
}

Status Portal::sign_out(std::string_view token) {
  if (!is_session_token(token)) return Error::not_found("not a portal session token");
  return store_.end_portal_session(crypto::sha256_hex(token), clock_.now_ms());
}

Result<int> Portal::end_all(const std::string& account_id) { return store_.end_portal_sessions(account_id, clock_.now_ms()); }

Result<std::string> parse_public_url(std::string_view url) {
  while (url.size() > 1 && url.back() == '/') url.remove_suffix(1);
  if (!is_origin(url, /*path_allowed=*/true))
    return Error::invalid("--public-url: give the page's address as http(s)://host[:port][/path], e.g. "
                          "https://hooks.example.com");
  return std::string(url);
}

Result<std::string> frame_ancestors_sources(std::string_view list) {
  std::string out;
  size_t i = 0;
  while (i <= list.size()) {
    size_t j = list.find(',', i);
    if (j == std::string_view::npos) j = list.size();
    std::string_view o = list.substr(i, j - i);
    while (!o.empty() && o.front() == ' ') o.remove_prefix(1);
    while (!o.empty() && o.back() == ' ') o.remove_suffix(1);
    while (o.size() > 1 && o.back() == '/') o.remove_suffix(1);
    if (!o.empty()) {
      if (o != "'self'" && !is_origin(o, /*path_allowed=*/false))
        return Error::invalid("--frame-ancestors: \"" + std::string(o) +
                              "\" is not an origin; give scheme://host[:port] (e.g. https://app.example.com) or "
                              "'self', comma-separated");
      if (!out.empty()) out += ' ';
      out += o;
    }
    i = j + 1;
  }
  return out.empty() ? std::string("'none'") : out;
}

}  // namespace growhook::api
