#include "common/crypto.h"

#include <gtest/gtest.h>

#include <thread>

namespace growhook::crypto {
namespace {

// RFC 4231, test cases 1 and 2.
TEST(Crypto, HmacSha256MatchesTheRfc4231Vectors) {
  EXPECT_EQ(hex_encode(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, HmacOfPartsEqualsHmacOfThemJoined) {
  EXPECT_EQ(hmac_sha256("key", {"msg_1", ".", "", ".", "{\"a\":1}"}), hmac_sha256("key", "msg_1..{\"a\":1}"));
  // The per-thread context is keyed anew each call: nothing of the last key stays.
  EXPECT_NE(hmac_sha256("key-a", "same"), hmac_sha256("key-b", "same"));
  EXPECT_EQ(hmac_sha256("", "x"), hmac_sha256(std::string_view(), {"x"}));
}

TEST(Crypto, HmacGivesTheSameAnswerOnEveryThread) {
  const std::string want = hmac_sha256("Jefe", "what do ya want for nothing?");
  std::vector<std::string> got(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int n = 0; n < 100; ++n) got[i] = hmac_sha256("Jefe", {"what do ya want ", "for nothing?"});
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(hex_encode(g), hex_encode(want));
}

}  // namespace
}  // namespace growhook::crypto
