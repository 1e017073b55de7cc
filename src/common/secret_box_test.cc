#include "common/secret_box.h"

#include <gtest/gtest.h>

#include "common/crypto.h"

namespace growhook {
namespace {

const std::string kKeyA = crypto::base64_encode(std::string(32, 'a'));
const std::string kKeyB = crypto::base64_encode(std::string(32, 'b'));

SecretBox box(const std::string& keys) {
  auto b = SecretBox::from_keys(keys);
  EXPECT_TRUE(b.ok()) << b.error().message;
  return *b;
}

TEST(SecretBox, SealsAndOpensWithARandomNonceEachTime) {
  auto b = box(kKeyA);
  std::string one = b.seal("whsec_c2VjcmV0", "webhooks/wh_1/secret");
  std::string two = b.seal("whsec_c2VjcmV0", "webhooks/wh_1/secret");
  EXPECT_NE(one, two);
  EXPECT_EQ(one.find("c2VjcmV0"), std::string::npos);
  EXPECT_TRUE(SecretBox::is_sealed(one));
  EXPECT_EQ(*b.open(one, "webhooks/wh_1/secret"), "whsec_c2VjcmV0");
  EXPECT_EQ(*b.open(two, "webhooks/wh_1/secret"), "whsec_c2VjcmV0");
  EXPECT_EQ(*b.open(b.seal("", "x"), "x"), "");
}

TEST(SecretBox, ValuesNameTheKeyThatSealedThem) {
  auto a = box(kKeyA);
  auto ba = box(kKeyB + "," + kKeyA);
  EXPECT_EQ(a.sealing_key_id().size(), 8u);
  EXPECT_NE(a.sealing_key_id(), ba.sealing_key_id());
  EXPECT_EQ(ba.key_ids(), (std::vector<std::string>{box(kKeyB).sealing_key_id(), a.sealing_key_id()}));
  std::string old = a.seal("token", "r");
  EXPECT_EQ(SecretBox::key_id_of(old), a.sealing_key_id());
  // Every key of the ring opens; the first seals.
  EXPECT_EQ(*ba.open(old, "r"), "token");
  EXPECT_EQ(SecretBox::key_id_of(ba.seal("token", "r")), ba.sealing_key_id());
}

TEST(SecretBox, AValueOfAKeyNotInTheRingIsNotFound) {
  std::string sealed = box(kKeyA).seal("token", "r");
  auto r = box(kKeyB).open(sealed, "r");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find(box(kKeyA).sealing_key_id()), std::string::npos) << r.error().message;
}

TEST(SecretBox, ATamperedValueDoesNotOpen) {
  auto b = box(kKeyA);
  std::string sealed = b.seal("a bearer token", "webhooks/wh_1/auth");
  auto raw = *crypto::base64_decode(sealed.substr(13));
  for (size_t at : {size_t{0}, size_t{12}, raw.size() - 1}) {  // nonce, ciphertext, tag
    std::string bent = raw;
    bent[at] = static_cast<char>(bent[at] ^ 1);
    auto r = b.open(sealed.substr(0, 13) + crypto::base64_encode(bent), "webhooks/wh_1/auth");
    ASSERT_FALSE(r.ok()) << at;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalid);
  }
  EXPECT_FALSE(b.open(sealed.substr(0, 20), "webhooks/wh_1/auth").ok());
  EXPECT_FALSE(b.open("whsec_clear", "webhooks/wh_1/auth").ok());
}

TEST(SecretBox, AValueMovedToAnotherRowOrColumnDoesNotOpen) {
  auto b = box(kKeyA);
  std::string sealed = b.seal("whsec_x", "webhooks/wh_1/secret");
  EXPECT_FALSE(b.open(sealed, "webhooks/wh_2/secret").ok());
  EXPECT_FALSE(b.open(sealed, "webhooks/wh_1/previous_secret").ok());
}

TEST(SecretBox, AnotherKeyWithTheSameIdDoesNotOpen) {
  auto a = box(kKeyA);
  std::string sealed = a.seal("whsec_x", "r");
  // The id of kKeyB spliced onto a value of kKeyA: the ring finds kKeyB, whose tag check fails.
  std::string spliced = "gh1:" + box(kKeyB).sealing_key_id() + sealed.substr(12);
  auto r = box(kKeyB).open(spliced, "r");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalid);
}

TEST(SecretBox, MalformedKeysAreNamedByPosition) {
  for (const std::string& bad : {std::string(""), kKeyA + ",", kKeyA + ",not base64!",
                                 kKeyA + "," + crypto::base64_encode(std::string(16, 'x')), kKeyA + "," + kKeyA}) {
    auto r = SecretBox::from_keys(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalid);
    EXPECT_NE(r.error().message.find(bad.empty() ? "key 1" : "key 2"), std::string::npos) << r.error().message;
  }
  auto short_key = SecretBox::from_keys(crypto::base64_encode(std::string(16, 'x')));
  EXPECT_NE(short_key.error().message.find("openssl rand -base64 32"), std::string::npos);
  EXPECT_TRUE(SecretBox::from_keys(" " + kKeyA + " , " + kKeyB + "\n").ok());
  EXPECT_TRUE(SecretBox::from_keys(SecretBox::generate_key()).ok());
}

}  // namespace
}  // namespace growhook
