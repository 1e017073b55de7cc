#include "domain/signature.h"

#include "common/crypto.h"

namespace growhook {

namespace {

constexpr std::string_view kPrefix = "whsec_";
constexpr size_t kMinKeyBytes = 24;  // the Standard Webhooks test vector's key has 24
constexpr size_t kMaxKeyBytes = 64;
constexpr size_t kNewKeyBytes = 32;

// |a - b| without overflow: any two int64 values differ by less than 2^64.
uint64_t distance(int64_t a, int64_t b) {
  return a >= b ? static_cast<uint64_t>(a) - static_cast<uint64_t>(b)
                : static_cast<uint64_t>(b) - static_cast<uint64_t>(a);
}

}  // namespace

std::string new_webhook_secret() {
  return std::string(kPrefix) + crypto::base64_encode(crypto::random_bytes(kNewKeyBytes));
}

Result<std::string> decode_webhook_secret(std::string_view secret) {
  if (secret.substr(0, kPrefix.size()) != kPrefix) return Error::invalid("a webhook secret starts with \"whsec_\"");
  std::string_view text = secret.substr(kPrefix.size());
  auto key = crypto::base64_decode(text);
  // Only the canonical spelling: crypto::base64_decode tolerates stray '='
  // ("AB=C"), which a receiver's library would decode differently or refuse,
  // and then no signature of ours would verify there.
  if (!key || crypto::base64_encode(*key) != text) {
    return Error::invalid("a webhook secret is \"whsec_\" followed by standard, padded base64");
  }
  if (key->size() < kMinKeyBytes || key->size() > kMaxKeyBytes) {
    return Error::invalid("a webhook secret holds 24 to 64 bytes after \"whsec_\"; this one holds " +
                          std::to_string(key->size()));
  }
  return std::move(*key);
}

std::string sign_message(std::string_view secret, std::string_view msg_id, int64_t timestamp_s,
                         std::string_view body) {
  // The delivery loop signs batch after batch with the same secret: the last
  // one decoded on this thread is kept (decoding and checking it cost as
  // much as a fifth of signing a one-event batch).
  thread_local std::string last_secret;
  thread_local Result<std::string> last_key = Error::invalid("no secret yet");
  if (secret != last_secret) {
    last_key = decode_webhook_secret(secret);
    last_secret.assign(secret);
  }
  const Result<std::string>& key = last_key;
  // Never sign with a stand-in key: an HMAC under an empty key proves nothing.
  if (!key.ok()) return "";
  // Standard Webhooks signs "{id}.{timestamp}.{body}".
  const std::string ts = std::to_string(timestamp_s);
  return "v1," + crypto::base64_encode(crypto::hmac_sha256(*key, {msg_id, ".", ts, ".", body}));
}

std::string signature_header(const std::vector<std::string>& secrets, std::string_view msg_id, int64_t timestamp_s,
                             std::string_view body) {
  std::string out;
  for (const auto& s : secrets) {
    std::string one = sign_message(s, msg_id, timestamp_s, body);
    if (one.empty()) continue;
    if (!out.empty()) out += ' ';
    out += one;
  }
  return out;
}

bool verify_signature(std::string_view secret, std::string_view msg_id, int64_t timestamp_s, std::string_view body,
                      std::string_view header, int64_t now_s, int64_t tolerance_s) {
  if (tolerance_s < 0 || distance(timestamp_s, now_s) > static_cast<uint64_t>(tolerance_s)) return false;
  std::string expected = sign_message(secret, msg_id, timestamp_s, body);
  if (expected.empty()) return false;
  // Every entry is compared, so the time taken does not tell which matched.
  bool match = false;
  while (!header.empty()) {
    auto sp = header.find(' ');
    match |= crypto::constant_time_equal(header.substr(0, sp), expected);
    if (sp == std::string_view::npos) break;
    header.remove_prefix(sp + 1);
  }
  return match;
}

}  // namespace growhook
