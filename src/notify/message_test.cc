#include "notify/message.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>

#include "domain/signature.h"

namespace growhook {
namespace {

constexpr int64_t kAt = 1'764'612'192'000;  // 2025-12-01T18:03:12Z

Notification failing() {
  return {"wh_1.failing.1764612192000", NotificationChannel::kEmail, "acc_1", "wh_1", "failing", kAt, kAt,
          "HTTP 500", 0};
}

std::string header(const std::string& message, const std::string& name) {
  auto at = message.find("\r\n" + name + ": ");
  if (message.rfind(name + ": ", 0) == 0) at = 0;
  else if (at == std::string::npos) return "";
  else at += 2;
  auto end = message.find("\r\n", at);
  return message.substr(at + name.size() + 2, end - at - name.size() - 2);
}

TEST(NotificationMail, HasTheHeadersAMailServerNeedsAndTheFactsAPersonNeeds) {
  NotificationFacts facts{"CRM", "https://crm.example.com/hook", 42, 3, "https://hooks.example.com/"};
  Mail m = build_mail(failing(), facts, "hooks@example.com", "shop@example.com", kAt + 1'000);
  EXPECT_EQ(m.from, "hooks@example.com");
  EXPECT_EQ(m.to, "shop@example.com");
  EXPECT_EQ(header(m.message, "From"), "growhook <hooks@example.com>");
  EXPECT_EQ(header(m.message, "To"), "<shop@example.com>");
  EXPECT_EQ(header(m.message, "Subject"), "Webhook \"CRM\" is failing");
  EXPECT_EQ(header(m.message, "Date"), "Mon, 01 Dec 2025 18:03:13 +0000");
  EXPECT_EQ(header(m.message, "Message-ID"), "<wh_1.failing.1764612192000@example.com>") << "from the dedupe key";
  EXPECT_EQ(header(m.message, "Content-Type"), "text/plain; charset=UTF-8");
  EXPECT_EQ(header(m.message, "MIME-Version"), "1.0");
  for (const char* fact : {"https://crm.example.com/hook", "Failing since:  2025-12-01T18:03:12.000Z",
                           "Last error:     HTTP 500", "Events waiting: 42", "Failed batches: 3",
                           "https://hooks.example.com/"}) {
    EXPECT_NE(m.message.find(fact), std::string::npos) << fact;
  }
  for (size_t i = m.message.find('\n'); i != std::string::npos; i = m.message.find('\n', i + 1)) {
    ASSERT_GT(i, 0u);
    EXPECT_EQ(m.message[i - 1], '\r') << "every line ends in CRLF, at " << i;
  }
}

TEST(NotificationMail, ANameCannotAddHeadersAndANonAsciiSubjectIsEncoded) {
  NotificationFacts facts{"Kníhkupectvo\r\nBcc: x@evil.example", "https://a.example", 0, 0, "https://h/"};
  Notification n = failing();
  n.kind = "disabled";
  Mail m = build_mail(n, facts, "hooks@example.com", "shop@example.com", kAt);
  EXPECT_EQ(m.message.find("\r\nBcc:"), std::string::npos);
  EXPECT_EQ(header(m.message, "Subject").rfind("=?UTF-8?B?", 0), 0u);
}

TEST(PlatformEvent, IsTheDocumentedJsonSignedLikeAnyMessageWithTheDedupeKeyAsItsId) {
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  Notification n = failing();
  n.channel = NotificationChannel::kPlatform;
  OutgoingRequest r = build_platform_request(n, 7, "https://platform.example/hook", secret, kAt + 2'000, {});
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["type"], "webhook.failing");
  EXPECT_EQ(j["account_id"], "acc_1");
  EXPECT_EQ(j["webhook_id"], "wh_1");
  EXPECT_EQ(j["at"], "2025-12-01T18:03:12.000Z");
  EXPECT_EQ(j["reason"], "HTTP 500");
  EXPECT_EQ(j["events_waiting"], 7);
  std::map<std::string, std::string> h(r.headers.begin(), r.headers.end());
  EXPECT_EQ(h["webhook-id"], n.id);
  EXPECT_EQ(h["webhook-timestamp"], std::to_string((kAt + 2'000) / 1000));
  const int64_t ts = (kAt + 2'000) / 1000;
  EXPECT_TRUE(verify_signature(secret, n.id, ts, r.body, h["webhook-signature"], ts));
}

}  // namespace
}  // namespace growhook
