#include "delivery/message.h"

#include "common/crypto.h"
#include "domain/signature.h"

namespace growhook {

std::pair<std::string, std::string> auth_header(const WebhookAuth& auth) {
  switch (auth.kind) {
    case WebhookAuth::Kind::kNone: return {};
    case WebhookAuth::Kind::kBasic:
      return {"Authorization", "Basic " + crypto::base64_encode(auth.username + ":" + auth.password)};
    case WebhookAuth::Kind::kBearer: return {"Authorization", "Bearer " + auth.token};
    case WebhookAuth::Kind::kHeader: return {auth.header_name, auth.header_value};
  }
  return {};
}

OutgoingRequest build_request(const Webhook& w, std::string_view batch_id, std::string_view events_json, bool test,
                              int64_t now_ms, const Timeouts& timeouts) {
  OutgoingRequest req;
  req.url = w.url;
  req.connect_timeout_ms = timeouts.connect_ms;
  req.total_timeout_ms = timeouts.total_ms;
  std::string& b = req.body;
  b.reserve(events_json.size() + 160);
  b += "{\"batch_id\":";
  append_json_string(b, batch_id);
  b += ",\"webhook_id\":";
  append_json_string(b, w.id);
  b += ",\"account_id\":";
  append_json_string(b, w.account_id);
  b += test ? ",\"test\":true,\"events\":" : ",\"test\":false,\"events\":";
  b += events_json;
  b += '}';
  int64_t ts = now_ms / 1000;
  req.headers.emplace_back("webhook-id", std::string(batch_id));
  req.headers.emplace_back("webhook-timestamp", std::to_string(ts));
  req.headers.emplace_back("webhook-signature", signature_header(w.signing_secrets(now_ms), batch_id, ts, b));
  if (auto h = auth_header(w.auth); !h.first.empty()) req.headers.push_back(std::move(h));
  return req;
}

}  // namespace growhook
