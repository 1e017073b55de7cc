// The notification sender over a real store (both, contract_test_support.h)
// with a fake clock and a mailer that fails on purpose: a mail refused is
// retried after the first delay and sent once; a channel with nowhere to
// send is skipped, not retried; an account without notification_email
// gets no mail.
#include "notify/sender.h"

#include <gtest/gtest.h>

#include "store/contract_test_support.h"

namespace growhook::store_test {
namespace {

class FakeMailer final : public Mailer {
 public:
  MailResult send(const Mail& m) override {
    sent.push_back(m);
    if (fail_next > 0) {
      --fail_next;
      return {false, "451 try again later"};
    }
    return {true, ""};
  }
  void abort() override {}
  int fail_next = 0;
  std::vector<Mail> sent;  // every try, refused ones included
};

class SenderContract : public StoreContractTest {
 protected:
  SenderOptions options() {
    SenderOptions o;
    o.owner = "node-a";
    o.smtp_from = "hooks@example.com";
    o.page_url = "https://hooks.example.com/";
    o.retry_delays_ms = {10'000, 60'000};
    return o;
  }
  // An account (with email, or not) whose webhook just became failing.
  Account failing_account(std::optional<std::string> email) {
    Account a = add_account(st());
    if (email) {
      EXPECT_TRUE(st().set_notification_email(a.id, email).ok());
    }
    Webhook w = add_webhook(st(), a, T, 1);
    append(st(), a, {event("e1", T)});
    auto got = claim(st(), T);
    EXPECT_EQ(got.size(), 1u);
    AttemptOutcome o = outcome(got[0], "node-a", BatchState::kFailed, 500, T);
    record(st(), o);
    return a;
  }
  uint64_t count(int channel, int result) const { return metrics_.notifications[channel][result].load(); }

  FakeClock clock_{T + 1'000};
  Metrics metrics_;
  FakeMailer mailer_;
};
GH_STORE_CONTRACT(SenderContract);

TEST_P(SenderContract, ARefusedMailIsRetriedAfterTheFirstDelayAndSentOnceAndAMissingChannelIsSkipped) {
  failing_account("shop@example.com");
  mailer_.fail_next = 1;
  NotificationSender sender(st(), st(), st(), &mailer_, nullptr, clock_, metrics_, options());
  EXPECT_EQ(sender.run_once(), 2) << "the mail (refused: retried) and the platform row (skipped)";
  ASSERT_EQ(mailer_.sent.size(), 1u);
  EXPECT_EQ(count(0, 1), 1u) << "email failed once";
  EXPECT_EQ(count(1, 2), 1u) << "platform skipped: no --platform-webhook-url";
  EXPECT_EQ(sender.run_once(), 0) << "nothing due before the retry";
  clock_.advance_ms(9'999);
  EXPECT_EQ(sender.run_once(), 0);
  clock_.advance_ms(1);
  EXPECT_EQ(sender.run_once(), 1);
  ASSERT_EQ(mailer_.sent.size(), 2u);
  EXPECT_EQ(mailer_.sent[1].to, "shop@example.com");
  EXPECT_EQ(mailer_.sent[1].from, "hooks@example.com");
  EXPECT_NE(mailer_.sent[1].message.find("https://hooks.example.com/"), std::string::npos);
  EXPECT_EQ(count(0, 0), 1u) << "email sent";
  clock_.advance_ms(3'600'000);
  EXPECT_EQ(sender.run_once(), 0) << "sent once: nothing more";
  EXPECT_EQ(mailer_.sent.size(), 2u);
}

TEST_P(SenderContract, AnAccountWithoutNotificationEmailGetsNoMail) {
  failing_account(std::nullopt);
  NotificationSender sender(st(), st(), st(), &mailer_, nullptr, clock_, metrics_, options());
  EXPECT_EQ(sender.run_once(), 2);
  EXPECT_TRUE(mailer_.sent.empty());
  EXPECT_EQ(count(0, 2), 1u) << "email skipped";
  clock_.advance_ms(3'600'000);
  EXPECT_EQ(sender.run_once(), 0) << "skipped rows are not retried";
}

}  // namespace
}  // namespace growhook::store_test
