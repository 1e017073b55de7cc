// Fuzzes the retry policy's parsers (--retry-delays, durations, Retry-After)
// and decide() fed with what they parse. Checks: durations are never
// negative; a delay list has at most 20 entries; a Retry-After wait is never
// negative; and a decision never schedules a retry in the past or beyond
// the Retry-After cap plus the longest jittered delay.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "delivery/retry_policy.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  // First bytes: the status code, attempts so far, and the random draw.
  const int status = 100 + (data[0] | (data[1] << 8)) % 500;
  const int attempts = 1 + data[2] % 24;
  const double rand01 = data[3] / 256.0;
  const std::string_view text(reinterpret_cast<const char*>(data + 4), size - 4);
  const int64_t now_ms = 1'700'000'000'000;

  if (auto d = growhook::parse_duration_ms(text); d.ok()) FUZZ_CHECK(*d >= 0);
  growhook::RetryConfig config;
  if (auto delays = growhook::parse_delays(text); delays.ok()) {
    FUZZ_CHECK(delays->size() <= 20);
    for (int64_t d : *delays) FUZZ_CHECK(d >= 0);
    config.delays_ms = *delays;
  }
  if (auto wait = growhook::parse_retry_after(text, now_ms)) FUZZ_CHECK(*wait >= 0);

  growhook::TransportResult r;
  r.status_code = status;
  r.retry_after = std::string(text);
  const auto d = growhook::decide(r, attempts, now_ms, config, [&] { return rand01; });
  const bool success = status >= 200 && status <= 299;
  FUZZ_CHECK(std::holds_alternative<growhook::Delivered>(d) == success);
  if (const auto* retry = std::get_if<growhook::Retry>(&d)) {
    int64_t longest = 0;
    for (int64_t x : config.delays_ms) longest = std::max(longest, x);
    FUZZ_CHECK(retry->at_ms >= now_ms);
    const int64_t bound = std::max<int64_t>(config.retry_after_cap_ms, longest + longest / 4 + 1);
    FUZZ_CHECK(retry->at_ms - now_ms <= bound);
    FUZZ_CHECK(!retry->reason.empty());
  }
  const auto* failed = std::get_if<growhook::Failed>(&d);
  if (failed) FUZZ_CHECK(!failed->reason.empty());
  // 410 Gone fails the batch at once and disables the webhook; nothing else does.
  FUZZ_CHECK((failed && failed->disable_webhook) == (status == 410));
  return 0;
}
