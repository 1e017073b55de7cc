#include "common/ids.h"

#include <cstdio>
#include <cstring>
#include <mutex>

#include "common/crypto.h"

namespace growhook {

std::string new_id(std::string_view prefix, int64_t now_ms) {
  // Ids made in the same millisecond by this process follow each other:
  // the random part of the previous one, plus one. Otherwise two webhooks
  // created within a millisecond (easy on PostgreSQL, whose commits are
  // quicker than SQLite's fsync) could list newest first, and a page cursor
  // would skip one.
  static std::mutex mu;
  static int64_t last_ms = -1;
  static uint64_t last_random = 0;
  uint64_t random;
  {
    std::lock_guard lock(mu);
    if (now_ms == last_ms && last_random != UINT64_MAX) {
      random = ++last_random;
    } else {
      std::string bytes = crypto::random_bytes(8);
      random = 0;
      for (unsigned char b : bytes) random = (random << 8) | b;
      // Leave room to count up within the millisecond.
      random &= ~uint64_t{0} >> 1;
      last_ms = now_ms;
      last_random = random;
    }
  }
  // "%012llx%016llx" of (now_ms & 2^48-1, random), without snprintf: the
  // delivery loop makes one for every batch it cuts.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(prefix.size() + 1 + 28);
  id.append(prefix);
  id += '_';
  const uint64_t ms = static_cast<uint64_t>(now_ms) & 0xffffffffffffULL;
  for (int shift = 44; shift >= 0; shift -= 4) id += kHex[(ms >> shift) & 0xf];
  for (int shift = 60; shift >= 0; shift -= 4) id += kHex[(random >> shift) & 0xf];
  return id;
}

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace growhook
