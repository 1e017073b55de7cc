#include "domain/timestamp.h"

#include <algorithm>

namespace growhook {
namespace {

constexpr int64_t kMsPerSecond = 1000;
constexpr int64_t kMsPerMinute = 60 * kMsPerSecond;
constexpr int64_t kMsPerHour = 60 * kMsPerMinute;
constexpr int64_t kMsPerDay = 24 * kMsPerHour;
// The range whose canonical form has a four-digit year in 1970-9999: every
// value parse_timestamp returns lies in it, and format_timestamp clamps to it
// so that its output always parses back.
constexpr int64_t kMinEpochMs = 0;                   // 1970-01-01T00:00:00.000Z
constexpr int64_t kMaxEpochMs = 253402300799999;     // 9999-12-31T23:59:59.999Z

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// algorithm): pure arithmetic, so no dependency on timegm, TZ or locale.
constexpr int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;                                // [0, 399]
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;        // [0, 146096]
  return era * 146097 + doe - 719468;
}

struct CivilDate {
  int64_t year;
  int month;
  int day;
};

// The inverse of days_from_civil.
constexpr CivilDate civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;                                  // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);          // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                // [0, 11]
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(civil_from_days(11017).year == 2000 && civil_from_days(11017).month == 3);

bool is_leap_year(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int64_t year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : kDays[month - 1];
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `count` decimal digits at text[pos]; false if any is missing.
bool read_digits(std::string_view text, size_t pos, size_t count, int* value) {
  if (pos + count > text.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (!is_digit(text[i])) return false;
    v = v * 10 + (text[i] - '0');
  }
  *value = v;
  return true;
}

// Reads an optional ".f{1,9}" at text[*pos], truncated to milliseconds.
bool read_fraction(std::string_view text, size_t* pos, int* millis) {
  *millis = 0;
  if (*pos >= text.size() || text[*pos] != '.') return true;
  size_t i = *pos + 1;
  int digits = 0;
  for (; i < text.size() && is_digit(text[i]); ++i, ++digits) {
    if (digits < 3) *millis = *millis * 10 + (text[i] - '0');
  }
  if (digits < 1 || digits > 9) return false;
  for (int d = digits; d < 3; ++d) *millis *= 10;
  *pos = i;
  return true;
}

// Reads the zone, which must end the text: "Z", "z", "+HH:MM" or "-HH:MM".
// *offset_ms is what to subtract from local time to get UTC.
bool read_zone(std::string_view text, size_t pos, int64_t* offset_ms) {
  if (pos >= text.size()) return false;
  const char c = text[pos];
  if (c == 'Z' || c == 'z') {
    *offset_ms = 0;
    return pos + 1 == text.size();
  }
  if (c != '+' && c != '-') return false;
  int hours = 0, minutes = 0;
  if (pos + 6 != text.size() || text[pos + 3] != ':') return false;
  if (!read_digits(text, pos + 1, 2, &hours) || !read_digits(text, pos + 4, 2, &minutes)) return false;
  if (hours > 23 || minutes > 59) return false;
  const int64_t offset = hours * kMsPerHour + minutes * kMsPerMinute;
  *offset_ms = c == '+' ? offset : -offset;
  return true;
}

// Writes v as `width` zero-padded digits at out.
void write_digits(char* out, int64_t v, int width) {
  for (int i = width - 1; i >= 0; --i, v /= 10) out[i] = static_cast<char>('0' + v % 10);
}

}  // namespace

std::optional<int64_t> parse_timestamp(std::string_view text) {
  // Fixed part: "YYYY-MM-DDTHH:MM:SS" (19 characters).
  if (text.size() < 20) return std::nullopt;
  int year, month, day, hour, minute, second;
  if (!read_digits(text, 0, 4, &year) || text[4] != '-' || !read_digits(text, 5, 2, &month) ||
      text[7] != '-' || !read_digits(text, 8, 2, &day) || (text[10] != 'T' && text[10] != 't') ||
      !read_digits(text, 11, 2, &hour) || text[13] != ':' || !read_digits(text, 14, 2, &minute) ||
      text[16] != ':' || !read_digits(text, 17, 2, &second)) {
    return std::nullopt;
  }
  size_t pos = 19;
  int millis = 0;
  int64_t offset_ms = 0;
  if (!read_fraction(text, &pos, &millis) || !read_zone(text, pos, &offset_ms)) return std::nullopt;
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
      hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  const int64_t local_ms = days_from_civil(year, month, day) * kMsPerDay + hour * kMsPerHour +
                           minute * kMsPerMinute + second * kMsPerSecond + millis;
  const int64_t utc_ms = local_ms - offset_ms;
  // An offset can carry the first or last day across the supported range.
  if (utc_ms < kMinEpochMs || utc_ms > kMaxEpochMs) return std::nullopt;
  return utc_ms;
}

std::string format_timestamp(int64_t epoch_ms) {
  epoch_ms = std::clamp(epoch_ms, kMinEpochMs, kMaxEpochMs);
  const int64_t days = epoch_ms / kMsPerDay;
  int64_t rest = epoch_ms % kMsPerDay;
  const CivilDate date = civil_from_days(days);
  std::string out = "0000-00-00T00:00:00.000Z";
  write_digits(&out[0], date.year, 4);
  write_digits(&out[5], date.month, 2);
  write_digits(&out[8], date.day, 2);
  write_digits(&out[11], rest / kMsPerHour, 2);
  rest %= kMsPerHour;
  write_digits(&out[14], rest / kMsPerMinute, 2);
  rest %= kMsPerMinute;
  write_digits(&out[17], rest / kMsPerSecond, 2);
  write_digits(&out[20], rest % kMsPerSecond, 3);
  return out;
}

}  // namespace growhook
