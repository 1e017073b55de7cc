#include "common/secret_box.h"

#include <openssl/evp.h>

#include <memory>

#include "common/crypto.h"

namespace growhook {
namespace {

constexpr std::string_view kPrefix = "gh1:";
constexpr size_t kKeyBytes = 32, kNonceBytes = 12, kTagBytes = 16, kIdChars = 8;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// AES-256-GCM in one direction; false when OpenSSL refuses (or, opening,
// the tag does not match).
bool gcm(bool seal, std::string_view key, std::string_view nonce, std::string_view aad, std::string_view in,
         std::string& out, std::string& tag) {
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  if (!ctx) return false;
  auto* c = ctx.get();
  if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), nullptr, nullptr, nullptr, seal ? 1 : 0) != 1) return false;
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) != 1) return false;
  if (EVP_CipherInit_ex(c, nullptr, nullptr, bytes(key), bytes(nonce), -1) != 1) return false;
  int n = 0;
  if (EVP_CipherUpdate(c, nullptr, &n, bytes(aad), static_cast<int>(aad.size())) != 1) return false;
  out.assign(in.size(), '\0');
  if (!in.empty() && EVP_CipherUpdate(c, bytes(out), &n, bytes(in), static_cast<int>(in.size())) != 1) return false;
  if (!seal && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1) return false;
  unsigned char end[16];
  if (EVP_CipherFinal_ex(c, end, &n) != 1) return false;
  if (seal) {
    tag.assign(kTagBytes, '\0');
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, kTagBytes, tag.data()) != 1) return false;
  }
  return true;
}

}  // namespace

Result<SecretBox> SecretBox::from_keys(std::string_view list, std::string_view source) {
  std::vector<Key> keys;
  int position = 0;
  while (true) {
    ++position;
    size_t comma = list.find(',');
    std::string_view part = trim(list.substr(0, comma));
    const std::string which = std::string(source) + ": key " + std::to_string(position);
    if (part.empty()) {
      return Error::invalid(which + " is empty; give base64 keys of 32 bytes separated by commas (make one with "
                                    "`openssl rand -base64 32`)");
    }
    auto raw = crypto::base64_decode(part);
    if (!raw || raw->size() != kKeyBytes) {
      return Error::invalid(which + " is not the base64 of 32 bytes" +
                            (raw ? " (it decodes to " + std::to_string(raw->size()) + " bytes)" : "") +
                            "; make one with `openssl rand -base64 32`");
    }
    Key k{crypto::hex_encode(crypto::sha256(*raw)).substr(0, kIdChars), std::move(*raw)};
    for (const auto& o : keys) {
      if (o.id == k.id) return Error::invalid(which + " is given twice (key id " + k.id + ")");
    }
    keys.push_back(std::move(k));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return SecretBox(std::move(keys));
}

std::string SecretBox::generate_key() { return crypto::base64_encode(crypto::random_bytes(kKeyBytes)); }

std::string SecretBox::seal(std::string_view plain, std::string_view aad) const {
  const Key& k = keys_.front();
  std::string nonce = crypto::random_bytes(kNonceBytes), ct, tag;
  if (!gcm(true, k.raw, nonce, aad, plain, ct, tag)) std::abort();  // OpenSSL without AES-GCM: nothing works
  return std::string(kPrefix) + k.id + ":" + crypto::base64_encode(nonce + ct + tag);
}

Result<std::string> SecretBox::open(std::string_view sealed, std::string_view aad) const {
  if (!is_sealed(sealed)) return Error::invalid("not a sealed value");
  std::string_view id = key_id_of(sealed);
  const Key* k = find(id);
  if (!k) return Error::not_found("sealed with key " + std::string(id) + ", which GROWHOOK_SECRETS_KEYS does not hold");
  auto raw = crypto::base64_decode(sealed.substr(kPrefix.size() + kIdChars + 1));
  if (!raw || raw->size() < kNonceBytes + kTagBytes) return Error::invalid("a sealed value is truncated");
  std::string_view all(*raw);
  std::string tag(all.substr(all.size() - kTagBytes)), plain;
  if (!gcm(false, k->raw, all.substr(0, kNonceBytes), aad, all.substr(kNonceBytes, all.size() - kNonceBytes - kTagBytes),
           plain, tag)) {
    return Error::invalid("sealed with key " + k->id + " but does not open: altered, moved from another row, "
                          "or sealed by another key with the same id");
  }
  return plain;
}

bool SecretBox::is_sealed(std::string_view v) {
  return v.size() > kPrefix.size() + kIdChars + 1 && v.substr(0, kPrefix.size()) == kPrefix &&
         v[kPrefix.size() + kIdChars] == ':';
}

std::string_view SecretBox::key_id_of(std::string_view sealed) {
  return is_sealed(sealed) ? sealed.substr(kPrefix.size(), kIdChars) : std::string_view();
}

std::vector<std::string> SecretBox::key_ids() const {
  std::vector<std::string> out;
  for (const auto& k : keys_) out.push_back(k.id);
  return out;
}

const SecretBox::Key* SecretBox::find(std::string_view id) const {
  for (const auto& k : keys_) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

}  // namespace growhook
