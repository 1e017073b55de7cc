// Fuzzes canonical_contact_json, which validates the data set a user edits
// for a test connection. A valid result has exactly the SPEC's 20 keys, and
// is a fixed point: canonicalising it again changes nothing. An invalid one
// names its problems under "data".
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data_set_check.h"
#include "domain/event.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<growhook::ValidationIssue> issues;
  auto canon = growhook::canonical_contact_json(text, &issues);
  if (!canon.ok()) {
    FUZZ_CHECK(!issues.empty());
    FUZZ_CHECK(!canon.error().message.empty());
    for (const auto& i : issues) FUZZ_CHECK(i.path.rfind("data", 0) == 0);
    return 0;
  }
  FUZZ_CHECK(issues.empty());
  fuzz::check_data_set(*canon, growhook::IngestLimits{}.max_text_length);
  auto again = growhook::canonical_contact_json(*canon);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *canon);
  return 0;
}
