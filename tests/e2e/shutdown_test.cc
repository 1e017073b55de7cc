// End-to-end: what a clean stop (SIGTERM) must not do.
#include <gtest/gtest.h>

#include <csignal>

#include "e2e/harness.h"

namespace e2e {
namespace {

// Regression: on PostgreSQL the store's LISTEN thread woke the delivery
// engine through a callback that stayed hooked after serve() destroyed the
// engine (the store, and so its thread, outlives the engine): a
// notification at shutdown touched a destroyed engine. ThreadSanitizer saw
// it on every stop after a notification (scripts/sanitize.sh tsan runs this
// on PostgreSQL); serve() now unhooks the callback before the engine goes.
TEST(Shutdown, OnPostgresTheWakeUpListenerNeverTouchesTheEngineAfterItIsGone) {
  GROWHOOK_E2E_POSTGRES_ONLY("the LISTEN/NOTIFY wake-up is PostgreSQL's");
  Server server;
  Receiver rx;
  auto [account, key] = server.create_account();
  add_webhook(server, key, rx.url());
  for (int round = 0; round < 3; ++round) {
    // Each commit notifies the listener, which wakes the engine.
    for (int i = 0; i < 5; ++i) {
      ASSERT_EQ(server.platform("POST", "/v1/accounts/" + account + "/events", event_body(round * 10 + i + 1)).status,
                202);
    }
    ASSERT_TRUE(rx.wait_for([&](const auto& reqs) { return event_ids_in(reqs).size() >= (round + 1) * 5u; }));
    server.stop();
    EXPECT_EQ(server.exit_code(), 0) << "round " << round;  // 66 when ThreadSanitizer reported
    server.start();
  }
}

// A load balancer learns from readiness that a node is going before the node
// stops taking requests: with --drain-delay, /readyz answers 503 at once on
// SIGTERM while ingestion is still accepted; a second signal ends the wait.
TEST(Shutdown, WithADrainDelayReadinessFailsFirstAndIngestionGoesOn) {
  Server server({"--drain-delay", "60s"});
  auto [account, key] = server.create_account();
  ASSERT_EQ(server.platform("GET", "/readyz").status, 200);
  server.signal(SIGTERM);
  ASSERT_TRUE(eventually([&] { return server.platform("GET", "/readyz").status == 503; }));
  auto ready = server.platform("GET", "/readyz");
  EXPECT_NE(ready.body.find("stopping"), std::string::npos) << ready.body;
  EXPECT_EQ(server.platform("POST", "/v1/accounts/" + account + "/events", event_body(1)).status, 202);
  EXPECT_EQ(server.platform("GET", "/healthz").status, 200);
  server.stop();  // the second SIGTERM: no 60 s wait
  EXPECT_EQ(server.exit_code(), 0);
}

}  // namespace
}  // namespace e2e
