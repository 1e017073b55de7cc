// TIMESTAMP values of the data set: strings "YYYY-MM-DDTHH:MM:SS.mmmZ" in UTC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace growhook {

// Accepts RFC 3339 date-times: "2024-09-26T00:08:18.161Z", without a fraction
// or with 1-9 fraction digits (cut to milliseconds), and with "Z", "z" or a
// "+HH:MM"/"-HH:MM" offset. The calendar is checked (month lengths, leap
// years; seconds 00-59). Years 1970-9999. Returns milliseconds since the
// epoch, or nullopt when the text is not such a date-time.
std::optional<int64_t> parse_timestamp(std::string_view text);

// The canonical form, always 24 characters: "2024-09-26T00:08:18.161Z".
std::string format_timestamp(int64_t epoch_ms);

}  // namespace growhook
