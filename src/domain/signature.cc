#include "domain/signature.h"

#include "common/crypto.h"

namespace growhook {

namespace {
constexpr std::string_view kPrefix = "whsec_";
}

std::string new_webhook_secret() { return std::string(kPrefix) + crypto::base64_encode(crypto::random_bytes(32)); }

Result<std::string> decode_webhook_secret(std::string_view secret) {
  if (secret.substr(0, kPrefix.size()) != kPrefix)
    return Error::invalid("a webhook secret starts with \"whsec_\"");
  auto key = crypto::base64_decode(secret.substr(kPrefix.size()));
  if (!key) return Error::invalid("a webhook secret is \"whsec_\" followed by base64");
  if (key->size() < 24 || key->size() > 64)
    return Error::invalid("a webhook secret holds 24 to 64 bytes, this one " + std::to_string(key->size()));
  return std::move(*key);
}

std::string sign_message(std::string_view secret, std::string_view msg_id, int64_t timestamp_s,
                         std::string_view body) {
  auto key = decode_webhook_secret(secret);
  std::string to_sign;
  to_sign.reserve(msg_id.size() + body.size() + 24);
  to_sign += msg_id;
  to_sign += '.';
  to_sign += std::to_string(timestamp_s);
  to_sign += '.';
  to_sign += body;
  return "v1," + crypto::base64_encode(crypto::hmac_sha256(key.ok() ? *key : std::string(), to_sign));
}

std::string signature_header(const std::vector<std::string>& secrets, std::string_view msg_id, int64_t timestamp_s,
                             std::string_view body) {
  std::string out;
  for (const auto& s : secrets) {
    if (!out.empty()) out += ' ';
    out += sign_message(s, msg_id, timestamp_s, body);
  }
  return out;
}

bool verify_signature(std::string_view secret, std::string_view msg_id, int64_t timestamp_s, std::string_view body,
                      std::string_view header, int64_t now_s, int64_t tolerance_s) {
  if (!decode_webhook_secret(secret).ok()) return false;
  if (timestamp_s < now_s - tolerance_s || timestamp_s > now_s + tolerance_s) return false;
  std::string expected = sign_message(secret, msg_id, timestamp_s, body);
  bool match = false;
  while (!header.empty()) {
    auto sp = header.find(' ');
    std::string_view one = header.substr(0, sp);
    match |= crypto::constant_time_equal(one, expected);
    if (sp == std::string_view::npos) break;
    header.remove_prefix(sp + 1);
  }
  return match;
}

}  // namespace growhook
