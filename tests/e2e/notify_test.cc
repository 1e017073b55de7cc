// End-to-end: notifications of a webhook's health (store/outbox.h,
// notify/sender.h). A receiver fails, recovers, fails again until a short
// --disable-after: each change gives one mail, received by a loopback SMTP
// sink (tests/support/smtp_sink.h), and one platform event, verified with
// the npm standardwebhooks package. An SMTP server that refuses delays mail
// (sent once it takes it, also across a SIGKILL); one that hangs delays
// nothing else. Loopback only; arrival and states, never durations.
#include <gtest/gtest.h>

#include <set>

#include "e2e/harness.h"
#include "support/smtp_sink.h"

namespace e2e {
namespace {

using nlohmann::json;
using test_smtp::Mode;
using test_smtp::SmtpSink;

const char* const kPlatformSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

std::vector<std::string> notify_args(const SmtpSink& sink, const Receiver& platform) {
  return {"--smtp-url", sink.url(), "--smtp-from", "hooks@example.com", "--platform-webhook-url",
          platform.url("/growhook"), "--disable-after", "3s"};
}

std::map<std::string, std::string> notify_env() { return {{"GROWHOOK_PLATFORM_WEBHOOK_SECRET", kPlatformSecret}}; }

void ingest(Server& s, const std::string& account, int first, int count) {
  json events = json::array();
  for (int i = first; i < first + count; ++i) events.push_back(json::parse(event_body(i, "e" + std::to_string(i))));
  auto r = s.platform("POST", "/v1/accounts/" + account + "/events", json{{"events", events}}.dump());
  if (r.status != 202) throw std::runtime_error("ingest: " + r.body);
}

void set_email(Server& s, const std::string& key, const std::string& email) {
  auto r = s.account(key, "PATCH", "/v1/account", json{{"notification_email", email}}.dump());
  if (r.status != 200) throw std::runtime_error("PATCH /v1/account: " + r.body);
}

std::string subject_of(const test_smtp::ReceivedMail& m) {
  auto at = m.data.find("\r\nSubject: ");
  return at == std::string::npos ? "" : m.data.substr(at + 11, m.data.find("\r\n", at + 2) - at - 11);
}

std::vector<std::string> platform_types(const Receiver& platform) {
  std::vector<std::string> out;
  for (const auto& r : platform.requests()) out.push_back(json::parse(r.body)["type"].get<std::string>());
  return out;
}

bool failing(Server& s, const std::string& key, const std::string& hook) {
  return s.account(key, "GET", "/v1/webhooks/" + hook).json()["failing_since"].is_string();
}

// An SMTP sink, the platform's receiver, a receiver that answers 500, and a
// node that notifies both, with an account whose notification_email is set.
struct Scene {
  explicit Scene(Mode mode) : server((sink.set_mode(mode), notify_args(sink, platform)), "", notify_env()) {
    rx.set_status(500);
    std::tie(account, key) = server.create_account();
    set_email(server, key, "shop@example.com");
  }
  SmtpSink sink;
  Receiver platform;
  Receiver rx;
  Server server;
  std::string account, key;
};

TEST(Notifications, EachChangeOfHealthGivesOneMailAndOneSignedPlatformEvent) {
  Scene scene(Mode::kAccept);
  auto& [sink, platform, rx, server, account, key] = scene;
  auto hook = add_webhook(server, key, rx.url(), {{"name", "CRM"}, {"batch_max_events", 5}});
  // More events than the batches in flight carry: some wait, and probes go.
  ingest(server, account, 1, 50);
  ASSERT_TRUE(eventually([&] { return failing(server, key, hook.id); }));
  rx.set_status(200);  // back well before --disable-after
  ASSERT_TRUE(eventually([&] { return !failing(server, key, hook.id); }, std::chrono::seconds(30)));
  ASSERT_TRUE(eventually([&] { return platform.count() >= 2 && sink.mails().size() >= 2; }));

  rx.set_status(500);
  ingest(server, account, 51, 50);
  ASSERT_TRUE(eventually(
      [&] { return !server.account(key, "GET", "/v1/webhooks/" + hook.id).json()["enabled"].get<bool>(); },
      std::chrono::seconds(60)))
      << "disabled after --disable-after of failing";
  ASSERT_TRUE(eventually([&] { return platform.count() >= 4 && sink.mails().size() >= 4; }, std::chrono::seconds(30)))
      << platform.count() << " platform events, " << sink.mails().size() << " mails";
  std::this_thread::sleep_for(std::chrono::seconds(2));  // anything sent twice would have come by now

  EXPECT_EQ(platform_types(platform),
            (std::vector<std::string>{"webhook.failing", "webhook.recovered", "webhook.failing", "webhook.disabled"}));
  std::vector<Signed> signed_events;
  std::set<std::string> ids;
  for (const auto& r : platform.requests()) {
    signed_events.push_back({kPlatformSecret, r});
    ids.insert(r.headers.at("webhook-id"));
    json e = json::parse(r.body);
    EXPECT_EQ(e["account_id"], account);
    EXPECT_EQ(e["webhook_id"], hook.id);
    EXPECT_TRUE(e["at"].is_string());
    EXPECT_TRUE(e["events_waiting"].is_number_integer());
    EXPECT_FALSE(e["reason"].get<std::string>().empty()) << r.body;
  }
  EXPECT_EQ(ids.size(), 4u) << "one webhook-id (the dedupe key) per change";
  expect_standardwebhooks_verifies(signed_events);

  auto mails = sink.mails();
  ASSERT_EQ(mails.size(), 4u);
  std::vector<std::string> subjects;
  std::set<std::string> message_ids;
  for (const auto& m : mails) {
    EXPECT_EQ(m.from, "hooks@example.com");
    EXPECT_EQ(m.to, std::vector<std::string>{"shop@example.com"});
    subjects.push_back(subject_of(m));
    auto at = m.data.find("Message-ID: <");
    ASSERT_NE(at, std::string::npos);
    message_ids.insert(m.data.substr(at, m.data.find("\r\n", at) - at));
    EXPECT_NE(m.data.find(rx.url()), std::string::npos) << "the webhook's URL is in the mail";
    EXPECT_NE(m.data.find("Open the webhooks page: " + server.base() + "/"), std::string::npos) << m.data;
  }
  EXPECT_EQ(subjects, (std::vector<std::string>{"Webhook \"CRM\" is failing", "Webhook \"CRM\" recovered",
                                                "Webhook \"CRM\" is failing", "Webhook \"CRM\" was disabled"}));
  EXPECT_EQ(message_ids.size(), 4u);
  EXPECT_NE(mails[3].data.find("Reason:         failing since "), std::string::npos) << mails[3].data;
}

TEST(Notifications, TheAccountsNotificationEmailIsReadChangedAndABadOneIsA400NamingTheField) {
  Server server;
  auto [account, key] = server.create_account();
  auto got = server.account(key, "GET", "/v1/account").json();
  EXPECT_EQ(got["id"], account);
  EXPECT_TRUE(got["notification_email"].is_null());
  EXPECT_TRUE(got["created_at"].is_string());
  for (const std::string bad : {R"({"notification_email": "not an address"})", R"({"notification_email": 5})",
                                R"({"notification_email": "a@b.com\r\nBcc: c@d.com"})"}) {
    auto r = server.account(key, "PATCH", "/v1/account", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.headers["content-type"], "application/problem+json");
    EXPECT_EQ(r.json()["errors"][0]["field"], "notification_email") << r.body;
    EXPECT_NE(r.json()["detail"].get<std::string>().find("notification_email"), std::string::npos) << r.body;
  }
  EXPECT_EQ(server.account(key, "PATCH", "/v1/account", R"({"name": "x"})").status, 400);
  EXPECT_TRUE(server.account(key, "GET", "/v1/account").json()["notification_email"].is_null())
      << "nothing stored by a refused PATCH";
  auto set = server.account(key, "PATCH", "/v1/account", R"({"notification_email": "shop@example.com"})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.json()["notification_email"], "shop@example.com");
  server.stop();
  server.start();
  EXPECT_EQ(server.account(key, "GET", "/v1/account").json()["notification_email"], "shop@example.com");
  auto cleared = server.account(key, "PATCH", "/v1/account", R"({"notification_email": null})");
  EXPECT_TRUE(cleared.json()["notification_email"].is_null()) << cleared.body;
}

// The SMTP server refuses (451) while the webhook starts failing, and the
// node is killed with the mail pending: after the restart, once the server
// takes mail again, the mail arrives, once.
TEST(Notifications, MailRefusedThenPendingAcrossASigkillArrivesOnceTheServerTakesIt) {
  Scene scene(Mode::kRefuse);
  auto& [sink, platform, rx, server, account, key] = scene;
  auto hook = add_webhook(server, key, rx.url());
  ingest(server, account, 1, 3);
  ASSERT_TRUE(eventually([&] { return sink.refused() >= 1; }, std::chrono::seconds(30)));
  ASSERT_TRUE(eventually([&] { return platform.count() == 1; })) << "the platform hears of it all the same";
  server.kill9();
  sink.set_mode(Mode::kAccept);
  server.start();
  ASSERT_TRUE(sink.wait_for([](const auto& m) { return m.size() >= 1; }, std::chrono::seconds(60)));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_EQ(sink.mails().size(), 1u);
  EXPECT_EQ(subject_of(sink.mails()[0]), "Webhook \"receiver\" is failing");
  EXPECT_NE(sink.mails()[0].data.find(hook.id), std::string::npos);
  std::set<std::string> platform_ids;
  for (const auto& r : platform.requests()) platform_ids.insert(r.headers.at("webhook-id"));
  EXPECT_EQ(platform_ids.size(), 1u) << "one platform event (a copy killed before it was recorded as sent would "
                                        "carry the same webhook-id)";
}

// An SMTP server that accepts connections and never answers holds mail, not
// delivery: another webhook's events arrive meanwhile, and the node stops.
TEST(Notifications, AnSmtpServerThatHangsDelaysNothingElse) {
  Scene scene(Mode::kHang);
  auto& [sink, platform, down, server, account, key] = scene;
  Receiver up;
  add_webhook(server, key, down.url());
  ingest(server, account, 1, 3);
  ASSERT_TRUE(eventually([&] { return sink.connections() >= 1; }, std::chrono::seconds(30)))
      << "the mail of the failing webhook is on its way to the hanging server";
  add_webhook(server, key, up.url());
  ingest(server, account, 100, 20);
  ASSERT_TRUE(eventually([&] { return event_ids_in(up.requests()).size() == 20; }))
      << "deliveries go on while the mail hangs";
  server.stop();
  EXPECT_EQ(server.exit_code(), 0);
}

}  // namespace
}  // namespace e2e
