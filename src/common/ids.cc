#include "common/ids.h"

#include <cstdio>

#include "common/crypto.h"

namespace growhook {

std::string new_id(std::string_view prefix, int64_t now_ms) {
  char time_part[16];
  std::snprintf(time_part, sizeof time_part, "%012llx",
                static_cast<unsigned long long>(now_ms) & 0xffffffffffffULL);
  std::string id(prefix);
  id += '_';
  id += time_part;
  id += crypto::hex_encode(crypto::random_bytes(8));
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
