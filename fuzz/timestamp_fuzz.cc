// Fuzzes parse_timestamp and format_timestamp. Checks: what parses lies in
// 1970..9999 and formats to 24 characters that parse back to the same value;
// a canonical text formats back to itself; the value agrees with glibc's
// timegm on the same calendar fields (an independent oracle for the date
// arithmetic); and any int64 formats to a text that parses back (clamped).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>

#include "domain/timestamp.h"
#include "fuzz_check.h"

namespace {

constexpr int64_t kMaxEpochMs = 253402300799999;  // 9999-12-31T23:59:59.999Z

int digits(std::string_view s, size_t pos, size_t n) {
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

// The value glibc gives the same fields: local time, fraction cut to
// milliseconds, then the zone's offset.
int64_t oracle_ms(std::string_view s) {
  std::tm tm{};
  tm.tm_year = digits(s, 0, 4) - 1900;
  tm.tm_mon = digits(s, 5, 2) - 1;
  tm.tm_mday = digits(s, 8, 2);
  tm.tm_hour = digits(s, 11, 2);
  tm.tm_min = digits(s, 14, 2);
  tm.tm_sec = digits(s, 17, 2);
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  size_t pos = 19;
  if (s[pos] == '.') {
    int frac = 0, n = 0;
    for (++pos; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, ++n) {
      if (n < 3) frac = frac * 10 + (s[pos] - '0');
    }
    for (; n < 3; ++n) frac *= 10;
    ms += frac;
  }
  if (s[pos] == '+' || s[pos] == '-') {
    int64_t off = (digits(s, pos + 1, 2) * 60 + digits(s, pos + 4, 2)) * 60'000;
    ms -= s[pos] == '+' ? off : -off;
  }
  return ms;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto ms = growhook::parse_timestamp(text)) {
    FUZZ_CHECK(*ms >= 0 && *ms <= kMaxEpochMs);
    const std::string canonical = growhook::format_timestamp(*ms);
    FUZZ_CHECK(canonical.size() == 24);
    FUZZ_CHECK(growhook::parse_timestamp(canonical) == *ms);
    const bool looks_canonical = text.size() == 24 && text[10] == 'T' && text[19] == '.' && text[23] == 'Z';
    if (looks_canonical) FUZZ_CHECK(canonical == text);
    FUZZ_CHECK(oracle_ms(text) == *ms);
  }
  if (size >= 8) {
    int64_t v;
    std::memcpy(&v, data, sizeof v);
    const std::string s = growhook::format_timestamp(v);
    FUZZ_CHECK(s.size() == 24);
    const int64_t clamped = v < 0 ? 0 : v > kMaxEpochMs ? kMaxEpochMs : v;
    FUZZ_CHECK(growhook::parse_timestamp(s) == clamped);
  }
  return 0;
}
