// Identifiers: a prefix, 12 hex digits of milliseconds, 16 hex digits of
// randomness ("wh_018c2f6a9b10_9f3c..."). They sort by creation time, so a
// list ordered by id is ordered by age, and cursor paging is a range scan.
// Within one process that holds inside a millisecond too (the random part
// then counts up); between nodes, only to the millisecond.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace growhook {

std::string new_id(std::string_view prefix, int64_t now_ms);

// True for 1..64 characters of [A-Za-z0-9_.:-], the alphabet accepted for
// caller-supplied event ids and for every id in a URL path.
bool is_valid_id(std::string_view id);

}  // namespace growhook
