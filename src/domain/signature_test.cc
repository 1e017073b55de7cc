#include "domain/signature.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "common/crypto.h"

namespace growhook {
namespace {

// The published Standard Webhooks test vector (standard-webhooks spec and
// every reference library use it). Its key decodes to 24 bytes.
constexpr std::string_view kVectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kVectorId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr int64_t kVectorTimestamp = 1614265330;
constexpr std::string_view kVectorBody = R"({"test": 2432232314})";
constexpr std::string_view kVectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

// A valid secret holding n bytes of a fixed pattern.
std::string secret_of(size_t n, char fill = 'k') { return "whsec_" + crypto::base64_encode(std::string(n, fill)); }

// ---------- Secrets ----------

TEST(Signature, NewSecretIsWhsecAndBase64OfThirtyTwoRandomBytes) {
  std::string s = new_webhook_secret();
  ASSERT_EQ(s.rfind("whsec_", 0), 0u) << s;
  auto key = decode_webhook_secret(s);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->size(), 32u);
  EXPECT_NE(new_webhook_secret(), s);  // fresh randomness each time
}

TEST(Signature, PublishedVectorKeyDecodesToTwentyFourBytes) {
  auto key = decode_webhook_secret(kVectorSecret);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->size(), 24u);
}

TEST(Signature, SecretsOfTwentyFourToSixtyFourBytesAreValid) {
  for (size_t n : {24u, 25u, 32u, 48u, 63u, 64u}) {
    auto key = decode_webhook_secret(secret_of(n));
    ASSERT_TRUE(key.ok()) << n << ": " << key.error().message;
    EXPECT_EQ(*key, std::string(n, 'k'));
  }
}

TEST(Signature, SecretsTooShortOrTooLongAreRefusedWithTheirSize) {
  for (size_t n : {0u, 1u, 16u, 23u, 65u, 128u}) {
    auto key = decode_webhook_secret(secret_of(n));
    ASSERT_FALSE(key.ok()) << n;
    EXPECT_EQ(key.error().code, ErrorCode::kInvalid);
    EXPECT_NE(key.error().message.find("24 to 64 bytes"), std::string::npos) << key.error().message;
    EXPECT_NE(key.error().message.find("holds " + std::to_string(n)), std::string::npos) << key.error().message;
  }
}

TEST(Signature, SecretsWithoutThePrefixAreRefused) {
  const std::string body = crypto::base64_encode(std::string(32, 'k'));
  for (std::string s : {body, "WHSEC_" + body, "whsec" + body, "whsk_" + body, " whsec_" + body, std::string()}) {
    auto key = decode_webhook_secret(s);
    ASSERT_FALSE(key.ok()) << s;
    EXPECT_EQ(key.error().code, ErrorCode::kInvalid);
    EXPECT_NE(key.error().message.find("starts with \"whsec_\""), std::string::npos) << key.error().message;
  }
}

TEST(Signature, SecretsWithBadBase64AreRefused) {
  const std::string good = crypto::base64_encode(std::string(32, 'k'));  // 44 characters, one '='
  ASSERT_EQ(good.substr(42), "s=");  // 's' carries the last 4 bits and 2 zero bits
  std::string stray_bits = good;
  stray_bits[42] = 't';  // the same 4 bits and a set "zero" bit: decodes alike, yet not canonical
  const std::string bad[] = {
      "whsec_" + good.substr(0, 43),          // length not a multiple of 4
      "whsec_" + good + " ",                  // trailing space
      "whsec_" + good + "\n",                 // trailing newline
      "whsec_" + good.substr(0, 20) + "!" + good.substr(21),  // outside the alphabet
      "whsec_" + std::string(43, '-') + "=",  // base64url, not standard base64
      "whsec_" + std::string(44, '='),        // padding only
      "whsec_" + good.substr(0, 20) + "=" + good.substr(21),  // '=' in the middle
      "whsec_" + stray_bits,                  // not the canonical spelling of its bytes
  };
  for (const auto& s : bad) {
    auto key = decode_webhook_secret(s);
    ASSERT_FALSE(key.ok()) << s;
    EXPECT_EQ(key.error().code, ErrorCode::kInvalid);
    EXPECT_NE(key.error().message.find("base64"), std::string::npos) << key.error().message;
  }
}

// ---------- Signing ----------

TEST(Signature, SignsThePublishedStandardWebhooksVector) {
  EXPECT_EQ(sign_message(kVectorSecret, kVectorId, kVectorTimestamp, kVectorBody), kVectorSignature);
  EXPECT_EQ(signature_header({std::string(kVectorSecret)}, kVectorId, kVectorTimestamp, kVectorBody),
            kVectorSignature);
}

TEST(Signature, SignsIdDotTimestampDotBodyWithTheDecodedKey) {
  const std::string secret = secret_of(32);
  const std::string expected =
      "v1," + crypto::base64_encode(crypto::hmac_sha256(std::string(32, 'k'), "msg_1.1700000000.{\"a\":1}"));
  EXPECT_EQ(sign_message(secret, "msg_1", 1700000000, R"({"a":1})"), expected);
}

TEST(Signature, SignsAnEmptyBody) {
  const std::string secret = secret_of(32);
  const std::string sig = sign_message(secret, "msg_1", 5, "");
  EXPECT_EQ(sig, "v1," + crypto::base64_encode(crypto::hmac_sha256(std::string(32, 'k'), "msg_1.5.")));
  EXPECT_TRUE(verify_signature(secret, "msg_1", 5, "", sig, 5));
}

TEST(Signature, DifferentSecretsGiveDifferentSignatures) {
  EXPECT_NE(sign_message(secret_of(32, 'a'), "msg_1", 1, "{}"), sign_message(secret_of(32, 'b'), "msg_1", 1, "{}"));
}

TEST(Signature, SecretsTakenInTurnEachSignWithTheirOwnKey) {
  // The last decoded key is kept per thread: switching back and forth, and
  // through an invalid secret, must never sign with the wrong one.
  const std::string a = secret_of(32, 'a'), b = secret_of(32, 'b');
  const std::string first = sign_message(a, "msg_1", 1, "{}");
  const std::string with_b = sign_message(b, "msg_1", 1, "{}");
  EXPECT_EQ(sign_message("not-a-secret", "msg_1", 1, "{}"), "");
  EXPECT_EQ(sign_message(a, "msg_1", 1, "{}"), first);
  EXPECT_EQ(sign_message(b, "msg_1", 1, "{}"), with_b);
  EXPECT_NE(first, with_b);
}

TEST(Signature, AnInvalidSecretSignsNothing) {
  EXPECT_EQ(sign_message("not-a-secret", "msg_1", 1, "{}"), "");
  EXPECT_EQ(sign_message(secret_of(8), "msg_1", 1, "{}"), "");
}

TEST(Signature, RotationHeaderCarriesBothSignaturesSpaceSeparated) {
  const std::string fresh = secret_of(32, 'n'), old = secret_of(32, 'o');
  const std::string header = signature_header({fresh, old}, "msg_1", 1700000000, "{}");
  EXPECT_EQ(header, sign_message(fresh, "msg_1", 1700000000, "{}") + " " + sign_message(old, "msg_1", 1700000000, "{}"));
}

TEST(Signature, HeaderLeavesOutSecretsThatDoNotDecode) {
  const std::string good = secret_of(32);
  EXPECT_EQ(signature_header({"whsec_broken", good, "plain"}, "msg_1", 1, "{}"), sign_message(good, "msg_1", 1, "{}"));
  EXPECT_EQ(signature_header({"whsec_broken"}, "msg_1", 1, "{}"), "");
  EXPECT_EQ(signature_header({}, "msg_1", 1, "{}"), "");
}

// ---------- Verifying ----------

TEST(Signature, VerifiesThePublishedVector) {
  EXPECT_TRUE(verify_signature(kVectorSecret, kVectorId, kVectorTimestamp, kVectorBody, kVectorSignature,
                               kVectorTimestamp));
}

TEST(Signature, VerifyAcceptsEitherSecretOfARotationHeader) {
  const std::string fresh = secret_of(32, 'n'), old = secret_of(40, 'o'), other = secret_of(32, 'x');
  const std::string header = signature_header({fresh, old}, "msg_1", 1000, "{}");
  EXPECT_TRUE(verify_signature(fresh, "msg_1", 1000, "{}", header, 1000));
  EXPECT_TRUE(verify_signature(old, "msg_1", 1000, "{}", header, 1000));
  EXPECT_FALSE(verify_signature(other, "msg_1", 1000, "{}", header, 1000));
}

TEST(Signature, VerifyToleratesExtraSpacesBetweenSignatures) {
  const std::string s = secret_of(32);
  const std::string sig = sign_message(s, "msg_1", 1000, "{}");
  EXPECT_TRUE(verify_signature(s, "msg_1", 1000, "{}", "  v1,AAAA  " + sig + "  ", 1000));
}

TEST(Signature, VerifyRejectsATamperedBody) {
  const std::string header = signature_header({std::string(kVectorSecret)}, kVectorId, kVectorTimestamp, kVectorBody);
  EXPECT_FALSE(verify_signature(kVectorSecret, kVectorId, kVectorTimestamp, R"({"test": 2432232315})", header,
                                kVectorTimestamp));
  EXPECT_FALSE(verify_signature(kVectorSecret, kVectorId, kVectorTimestamp, R"({"test": 2432232314} )", header,
                                kVectorTimestamp));
  EXPECT_FALSE(verify_signature(kVectorSecret, kVectorId, kVectorTimestamp, "", header, kVectorTimestamp));
}

TEST(Signature, VerifyRejectsATamperedId) {
  EXPECT_FALSE(verify_signature(kVectorSecret, "msg_p5jXN8AQM9LWM0D4loKWxJeK", kVectorTimestamp, kVectorBody,
                                kVectorSignature, kVectorTimestamp));
  EXPECT_FALSE(verify_signature(kVectorSecret, "", kVectorTimestamp, kVectorBody, kVectorSignature, kVectorTimestamp));
}

TEST(Signature, VerifyRejectsATamperedTimestamp) {
  // A replay with a fresh timestamp: within tolerance, but not what was signed.
  EXPECT_FALSE(verify_signature(kVectorSecret, kVectorId, kVectorTimestamp + 1, kVectorBody, kVectorSignature,
                                kVectorTimestamp + 1));
}

TEST(Signature, VerifyRejectsATamperedOrMalformedSignature) {
  std::string flipped(kVectorSignature);
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  const std::string bare(kVectorSignature.substr(3));
  for (const std::string& h : {flipped, bare, "v2," + bare, "v1a," + bare, std::string(kVectorSignature) + "=",
                               std::string(kVectorSignature.substr(0, 20)), std::string("v1,"), std::string()}) {
    EXPECT_FALSE(verify_signature(kVectorSecret, kVectorId, kVectorTimestamp, kVectorBody, h, kVectorTimestamp)) << h;
  }
}

TEST(Signature, VerifyRejectsAnInvalidSecret) {
  EXPECT_FALSE(verify_signature("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", kVectorId, kVectorTimestamp, kVectorBody,
                                kVectorSignature, kVectorTimestamp));
}

TEST(Signature, VerifyAcceptsTimestampsWithinToleranceInclusive) {
  const int64_t ts = kVectorTimestamp;
  auto verify_at = [&](int64_t now, int64_t tolerance) {
    return verify_signature(kVectorSecret, kVectorId, ts, kVectorBody, kVectorSignature, now, tolerance);
  };
  EXPECT_TRUE(verify_at(ts + 300, 300));   // 5 minutes old: the default tolerance
  EXPECT_TRUE(verify_at(ts - 300, 300));   // 5 minutes ahead (clock skew)
  EXPECT_FALSE(verify_at(ts + 301, 300));  // too old: a replay
  EXPECT_FALSE(verify_at(ts - 301, 300));  // too far in the future
  EXPECT_TRUE(verify_at(ts, 0));
  EXPECT_FALSE(verify_at(ts + 1, 0));
  EXPECT_FALSE(verify_at(ts, -1));  // a negative tolerance admits nothing
  EXPECT_TRUE(verify_signature(kVectorSecret, kVectorId, ts, kVectorBody, kVectorSignature, ts + 300));  // default
  EXPECT_FALSE(verify_signature(kVectorSecret, kVectorId, ts, kVectorBody, kVectorSignature, ts + 301));
}

TEST(Signature, VerifyHandlesExtremeTimestampsWithoutOverflow) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();
  const std::string s = secret_of(32);
  const std::string at_min = sign_message(s, "msg_1", kMin, "{}");
  const std::string at_max = sign_message(s, "msg_1", kMax, "{}");
  EXPECT_FALSE(verify_signature(s, "msg_1", kMin, "{}", at_min, kMax, kMax));
  EXPECT_FALSE(verify_signature(s, "msg_1", kMax, "{}", at_max, kMin, kMax));
  EXPECT_TRUE(verify_signature(s, "msg_1", kMin, "{}", at_min, kMin, 0));
  EXPECT_TRUE(verify_signature(s, "msg_1", kMax, "{}", at_max, kMax - 5, 300));
  EXPECT_TRUE(verify_signature(s, "msg_1", 0, "{}", sign_message(s, "msg_1", 0, "{}"), kMax, kMax));
}

}  // namespace
}  // namespace growhook
