// Checks a canonical data set (IncomingEvent::data_json, the result of
// canonical_contact_json) against the SPEC: a JSON object with exactly the
// 20 keys, in the table's order, each null or of its type, timestamps in
// canonical form, msisdn present.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "domain/timestamp.h"
#include "fuzz_check.h"

namespace fuzz {

inline bool is_canonical_timestamp(const std::string& s) {
  auto ms = growhook::parse_timestamp(s);
  return ms && growhook::format_timestamp(*ms) == s;
}

inline void check_data_set(const std::string& data_json, size_t max_text_length) {
  // ordered_json keeps the key order, so the order is checked too.
  auto j = nlohmann::ordered_json::parse(data_json, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!j.is_discarded());
  FUZZ_CHECK(j.is_object());
  FUZZ_CHECK(j.size() == kSpecKeys.size());
  size_t i = 0;
  for (auto it = j.begin(); it != j.end(); ++it, ++i) {
    const SpecKey& key = kSpecKeys[i];
    FUZZ_CHECK(it.key() == key.name);
    const auto& v = it.value();
    if (v.is_null()) {
      FUZZ_CHECK(key.name != "msisdn");
      continue;
    }
    switch (key.type) {
      case KeyType::kLong:
        FUZZ_CHECK(v.is_number_integer());
        if (key.name == "msisdn") {
          FUZZ_CHECK(v.get<int64_t>() >= 1 && v.get<int64_t>() <= 999'999'999'999'999);
        } else if (key.name != "msisdn" && key.name.find("count") != std::string_view::npos) {
          FUZZ_CHECK(v.get<int64_t>() >= 0);
        }
        break;
      case KeyType::kTimestamp:
        FUZZ_CHECK(v.is_string());
        FUZZ_CHECK(is_canonical_timestamp(v.get<std::string>()));
        break;
      case KeyType::kBoolean:
        FUZZ_CHECK(v.is_boolean());
        break;
      case KeyType::kText:
        FUZZ_CHECK(v.is_string());
        FUZZ_CHECK(v.get<std::string>().size() <= max_text_length);
        if (key.name == "source") {
          const std::string s = v.get<std::string>();
          FUZZ_CHECK(s == "form" || s == "keyword" || s == "mobile_identity" || s == "import");
        }
        break;
    }
  }
}

}  // namespace fuzz
