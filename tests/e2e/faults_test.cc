// End-to-end: the receiver fault matrix. Each test puts one faulty receiver
// and one healthy receiver in the same account, posts one event, and checks
// (a) the healthy webhook gets it while the faulty one is still being
// retried (isolation), (b) the exact number of attempts the retry rules give
// (1 + one per --retry-delays entry; 1 for 410), (c) the end state.
#include <gtest/gtest.h>

#include <array>

#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr size_t kAttempts = 4;  // 1 + 3 retries: the count of the retry delays below

// A server, an account, and a healthy webhook beside the faulty one.
class Scene {
 public:
  explicit Scene(std::vector<std::string> args = {"--retry-delays", "1s,1s,1s"}) : server(std::move(args)) {
    std::tie(account, key) = server.create_account();
  }

  // Creates the faulty webhook and then the healthy one; returns the faulty id.
  std::string add_hooks(const std::string& faulty_url) {
    std::string id = add_webhook(server, key, faulty_url).id;
    healthy_id = add_webhook(server, key, healthy.url()).id;
    return id;
  }

  void post(const std::string& event_id) {
    auto r = server.platform("POST", "/v1/accounts/" + account + "/events", event_body(1, event_id));
    ASSERT_EQ(r.status, 202) << r.body;
  }

  // The healthy webhook gets the event while the faulty one has not yet run
  // out of attempts: a failing endpoint does not hold the others back.
  void expect_healthy_first(const std::string& event_id, const std::string& faulty_id) {
    ASSERT_TRUE(healthy.wait_for([&](auto& r) { return event_ids_in(r).count(event_id) == 1; }))
        << "the healthy webhook never got " << event_id;
    EXPECT_EQ(webhook_batches(server, key, faulty_id, "failed").size(), 0u)
        << "the faulty webhook's attempts were exhausted before the healthy one got its event";
  }

  // Waits for the faulty webhook's one batch to be failed; returns it.
  json wait_failed(const std::string& hook_id, milliseconds timeout = seconds(30)) {
    json failed;
    bool ok = eventually(
        [&] {
          failed = webhook_batches(server, key, hook_id, "failed");
          return failed.size() == 1;
        },
        timeout);
    if (!ok) ADD_FAILURE() << "no failed batch; all batches: " << webhook_batches(server, key, hook_id).dump();
    return ok ? failed[0] : json::object();
  }

  json wait_delivered(const std::string& hook_id) {
    json delivered;
    bool ok = eventually([&] {
      delivered = webhook_batches(server, key, hook_id, "delivered");
      return delivered.size() == 1;
    });
    if (!ok) ADD_FAILURE() << "no delivered batch; all batches: " << webhook_batches(server, key, hook_id).dump();
    return ok ? delivered[0] : json::object();
  }

  Server server;
  Receiver healthy;
  std::string account, key, healthy_id;
};

// Every attempt of a failed batch carries an error (and, for transport
// failures, no status code).
void expect_transport_failures(const json& batch, const std::string& error_part) {
  ASSERT_EQ(batch["attempts"].size(), kAttempts) << batch.dump();
  for (const auto& a : batch["attempts"]) {
    EXPECT_TRUE(a["status_code"].is_null()) << a.dump();
    EXPECT_NE(a["error"].get<std::string>().find(error_part), std::string::npos) << a.dump();
  }
}

int64_t ms_between(const ReceivedRequest& a, const ReceivedRequest& b) {
  return std::chrono::duration_cast<milliseconds>(b.at - a.at).count();
}

TEST(Faults, Status500IsTriedFourTimesThenFailed) {
  Scene scene;
  Receiver faulty;
  faulty.set_status(500);
  auto hook = scene.add_hooks(faulty.url());
  scene.post("e-500");
  scene.expect_healthy_first("e-500", hook);
  auto b = scene.wait_failed(hook);
  EXPECT_EQ(b["state"], "failed");
  EXPECT_EQ(b["event_count"], 1);
  ASSERT_EQ(b["attempts"].size(), kAttempts);
  for (const auto& a : b["attempts"]) EXPECT_EQ(a["status_code"], 500);
  EXPECT_EQ(faulty.count(), kAttempts);
  for (const auto& r : faulty.requests()) EXPECT_EQ(r.headers.at("webhook-id"), b["id"]);
  EXPECT_EQ(event_ids_in(faulty.requests()), std::set<std::string>{"e-500"});
  EXPECT_EQ(scene.wait_delivered(scene.healthy_id)["attempts"].size(), 1u);
}

TEST(Faults, Status503WithRetryAfterWaitsAsLongAsTheReceiverAsks) {
  // The configured delay is 100 ms; Retry-After: 1 stretches every wait to ~1 s.
  Scene scene({"--retry-delays", "100ms,100ms,100ms"});
  Receiver faulty;
  faulty.set_handler([](const ReceivedRequest&) {
    Reply r;
    r.status = 503;
    r.headers.push_back({"Retry-After", "1"});
    return r;
  });
  auto hook = scene.add_hooks(faulty.url());
  scene.post("e-503");
  scene.expect_healthy_first("e-503", hook);
  auto b = scene.wait_failed(hook);
  ASSERT_EQ(b["attempts"].size(), kAttempts);
  for (const auto& a : b["attempts"]) EXPECT_EQ(a["status_code"], 503);
  auto reqs = faulty.requests();
  ASSERT_EQ(reqs.size(), kAttempts);
  for (size_t i = 1; i < reqs.size(); ++i) EXPECT_GE(ms_between(reqs[i - 1], reqs[i]), 950) << "retry " << i;
}

TEST(Faults, Status429WithRetryAfterComesBackSoonerThanTheSchedule) {
  // The configured delays are a minute; Retry-After: 1 brings each retry to ~1 s.
  Scene scene({"--retry-delays", "60s,60s,60s"});
  Receiver faulty;
  faulty.set_handler([](const ReceivedRequest&) {
    Reply r;
    r.status = 429;
    r.headers.push_back({"Retry-After", "1"});
    return r;
  });
  auto hook = scene.add_hooks(faulty.url());
  scene.post("e-429");
  scene.expect_healthy_first("e-429", hook);
  auto b = scene.wait_failed(hook, seconds(40));
  ASSERT_EQ(b["attempts"].size(), kAttempts);
  for (const auto& a : b["attempts"]) EXPECT_EQ(a["status_code"], 429);
  auto reqs = faulty.requests();
  ASSERT_EQ(reqs.size(), kAttempts);
  for (size_t i = 1; i < reqs.size(); ++i) {
    EXPECT_GE(ms_between(reqs[i - 1], reqs[i]), 950) << "retry " << i;
    EXPECT_LT(ms_between(reqs[i - 1], reqs[i]), 30'000) << "retry " << i;
  }
}

TEST(Faults, GoneIsTriedOnceAndDisablesTheWebhookWithAReason) {
  Scene scene;
  Receiver faulty;
  faulty.set_status(410);
  auto hook = scene.add_hooks(faulty.url());
  scene.post("e-410");
  ASSERT_TRUE(scene.healthy.wait_for([](auto& r) { return event_ids_in(r).count("e-410") == 1; }));
  auto b = scene.wait_failed(hook);
  ASSERT_EQ(b["attempts"].size(), 1u);
  EXPECT_EQ(b["attempts"][0]["status_code"], 410);
  auto w = scene.server.account(scene.key, "GET", "/v1/webhooks/" + hook).json();
  EXPECT_EQ(w["enabled"], false);
  ASSERT_TRUE(w["disabled_reason"].is_string()) << w.dump();
  EXPECT_NE(w["disabled_reason"].get<std::string>().find("410"), std::string::npos) << w.dump();
  // Later events go to the healthy webhook only.
  scene.post("e-after");
  ASSERT_TRUE(scene.healthy.wait_for([](auto& r) { return event_ids_in(r).count("e-after") == 1; }));
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(faulty.count(), 1u);
}

TEST(Faults, RefusedConnectionIsTriedFourTimesThenFailed) {
  Scene scene;
  RefusingPort closed;
  auto hook = scene.add_hooks(closed.url());
  scene.post("e-refused");
  scene.expect_healthy_first("e-refused", hook);
  expect_transport_failures(scene.wait_failed(hook), "refused");
}

TEST(Faults, ConnectionClosedInTheMiddleOfTheHeadersIsAFailure) {
  Scene scene;
  RawReceiver faulty([](RawConn& c) {
    if (c.read_request()) c.send("HTTP/1.1 200 OK\r\nContent-Ty");
  });
  auto hook = scene.add_hooks(faulty.url());
  scene.post("e-cut");
  scene.expect_healthy_first("e-cut", hook);
  auto b = scene.wait_failed(hook);
  expect_transport_failures(b, "closed");
  EXPECT_EQ(faulty.count(), kAttempts);
}

TEST(Faults, AReceiverThatNeverAnswersTimesOut) {
  Scene scene({"--retry-delays", "1s,1s,1s", "--request-timeout", "500ms"});
  RawReceiver faulty([](RawConn& c) {
    if (c.read_request()) c.wait_peer_close();  // growhook gives up and closes
  });
  auto hook = scene.add_hooks(faulty.url());
  scene.post("e-hang");
  scene.expect_healthy_first("e-hang", hook);
  expect_transport_failures(scene.wait_failed(hook), "timed out");
  EXPECT_EQ(faulty.count(), kAttempts);
  // Every abandoned connection was closed by growhook, not left open.
  EXPECT_TRUE(eventually([&] { return faulty.scripts_finished() == faulty.connections(); }));
}

TEST(Faults, HeadersTrickledPastTheTotalTimeoutTimeOut) {
  Scene scene({"--retry-delays", "1s,1s,1s", "--request-timeout", "500ms"});
  RawReceiver faulty([](RawConn& c) {
    // 47 bytes at one per 100 ms: ~4.7 s, far past the 500 ms total timeout,
    // although the receiver is never silent for long.
    if (c.read_request()) c.trickle("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\nok", milliseconds(100));
  });
  auto hook = scene.add_hooks(faulty.url());
  scene.post("e-trickle");
  scene.expect_healthy_first("e-trickle", hook);
  expect_transport_failures(scene.wait_failed(hook), "timed out");
  EXPECT_EQ(faulty.count(), kAttempts);
}

TEST(Faults, AHundredMegabyteBodyIsASuccessAtItsStatusAndMemoryStaysBounded) {
  Scene scene;
  constexpr size_t kBody = 100u << 20;
  std::atomic<size_t> sent{0};
  RawReceiver faulty([&](RawConn& c) {
    if (!c.read_request()) return;
    if (!c.send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(kBody) + "\r\n\r\n"))
      return;
    const std::string chunk(64 << 10, 'x');
    for (size_t n = 0; n < kBody && c.send(chunk); n += chunk.size()) {
    }
    sent += c.bytes_sent();
  });
  auto hook = scene.add_hooks(faulty.url());
  const long rss_before = rss_kib(scene.server.pid());
  ASSERT_GT(rss_before, 0);
  scene.post("e-big");
  ASSERT_TRUE(scene.healthy.wait_for([](auto& r) { return event_ids_in(r).count("e-big") == 1; }));
  auto b = scene.wait_delivered(hook);
  ASSERT_EQ(b["attempts"].size(), 1u) << b.dump();
  EXPECT_EQ(b["attempts"][0]["status_code"], 200);
  EXPECT_LE(b["attempts"][0]["response_body"].get<std::string>().size(), 1024u);
  ASSERT_TRUE(eventually([&] { return faulty.scripts_finished() == 1; })) << "growhook kept the connection open";
  const long rss_after = rss_kib(scene.server.pid());
  std::printf("100 MB body: growhook VmRSS %ld KiB before, %ld KiB after; receiver wrote %zu bytes\n", rss_before,
              rss_after, sent.load());
  EXPECT_LT(rss_after - rss_before, 64L * 1024);
  EXPECT_LT(sent.load(), kBody) << "the whole body was read: response bodies should be read up to a cap";
  EXPECT_EQ(faulty.count(), 1u);
}

TEST(Faults, ANeverEndingChunkedBodyIsCutAndItsStatusTaken) {
  Scene scene;
  RawReceiver faulty([](RawConn& c) {
    if (!c.read_request()) return;
    if (!c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")) return;
    const std::string chunk = "1000\r\n" + std::string(0x1000, 'y') + "\r\n";
    while (c.send(chunk)) {
    }
  });
  auto hook = scene.add_hooks(faulty.url());
  scene.post("e-chunked");
  ASSERT_TRUE(scene.healthy.wait_for([](auto& r) { return event_ids_in(r).count("e-chunked") == 1; }));
  auto b = scene.wait_delivered(hook);
  ASSERT_EQ(b["attempts"].size(), 1u) << b.dump();
  EXPECT_EQ(b["attempts"][0]["status_code"], 200);
  EXPECT_TRUE(eventually([&] { return faulty.scripts_finished() == 1; })) << "growhook kept reading";
  EXPECT_EQ(faulty.count(), 1u);
}

TEST(Faults, RedirectsAreFailuresAndTheirLocationIsNeverRequested) {
  Scene scene;
  std::vector<std::unique_ptr<Receiver>> faulty;
  std::vector<std::string> hooks;
  for (int status : {301, 302, 307}) {
    auto rx = std::make_unique<Receiver>();
    std::string moved = rx->url("/moved");
    rx->set_handler([status, moved](const ReceivedRequest&) {
      Reply r;
      r.status = status;
      r.headers.push_back({"Location", moved});
      return r;
    });
    hooks.push_back(add_webhook(scene.server, scene.key, rx->url()).id);
    faulty.push_back(std::move(rx));
  }
  scene.healthy_id = add_webhook(scene.server, scene.key, scene.healthy.url()).id;
  scene.post("e-redirect");
  for (const auto& hook : hooks) scene.expect_healthy_first("e-redirect", hook);
  for (size_t i = 0; i < hooks.size(); ++i) {
    auto b = scene.wait_failed(hooks[i]);
    ASSERT_EQ(b["attempts"].size(), kAttempts) << b.dump();
    for (const auto& a : b["attempts"]) {
      EXPECT_EQ(a["status_code"], (std::array{301, 302, 307})[i]);
      EXPECT_NE(a["error"].get<std::string>().find("redirects are not followed"), std::string::npos) << a.dump();
    }
    EXPECT_EQ(faulty[i]->count(), kAttempts);
    for (const auto& r : faulty[i]->requests()) EXPECT_EQ(r.target, "/hook");
  }
}

TEST(Faults, AnAnswerThatIsNotHttpIsAFailure) {
  Scene scene;
  RawReceiver faulty([](RawConn& c) {
    if (c.read_request()) c.send("HELLO\r\n\r\n");
  });
  auto hook = scene.add_hooks(faulty.url());
  scene.post("e-hello");
  scene.expect_healthy_first("e-hello", hook);
  expect_transport_failures(scene.wait_failed(hook), "protocol error");
  EXPECT_EQ(faulty.count(), kAttempts);
}

}  // namespace
}  // namespace e2e
