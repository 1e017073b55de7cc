// Shared by the fuzz targets: an invariant check that aborts (which libFuzzer
// reports as a crash and saves the input), and the SPEC's data set keys,
// written out here independently of src/domain/event.cc so the targets can
// check the code against the SPEC rather than against itself.
#pragma once

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

namespace fuzz {

enum class KeyType { kLong, kTimestamp, kBoolean, kText };

struct SpecKey {
  std::string_view name;
  KeyType type;
};

// The SPEC's table, in its order.
inline constexpr std::array<SpecKey, 20> kSpecKeys = {{
    {"msisdn", KeyType::kLong},
    {"profileCreatedAt", KeyType::kTimestamp},
    {"source", KeyType::kText},
    {"source_value", KeyType::kText},
    {"eshop_opt_in", KeyType::kBoolean},
    {"last_eshop_opt_in_date", KeyType::kTimestamp},
    {"ecom_email", KeyType::kText},
    {"ecom_signups_count", KeyType::kLong},
    {"ecom_device_type", KeyType::kText},
    {"ecom_browser_name", KeyType::kText},
    {"ecom_locale", KeyType::kText},
    {"ecom_timezone", KeyType::kText},
    {"ecom_os_name", KeyType::kText},
    {"ecom_signup_domain", KeyType::kText},
    {"ecom_signup_path", KeyType::kText},
    {"ecom_signup_referrer_url", KeyType::kText},
    {"last_order_date", KeyType::kTimestamp},
    {"ecom_total_order_count", KeyType::kLong},
    {"ecom_total_order_amount", KeyType::kLong},
    {"last_click_date", KeyType::kTimestamp},
}};

}  // namespace fuzz
