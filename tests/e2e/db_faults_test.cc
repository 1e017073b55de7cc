// End-to-end: the path to PostgreSQL fails under load. A loopback proxy
// (tcp_proxy.h) sits between the node and the test cluster and goes silent
// (holds every byte, closes nothing) or cuts every connection. The node must
// answer every ingestion request (202, or 503 naming the database; never
// hang), say so on /readyz while it lasts, keep /healthz 200, serve again by
// itself when the path comes back, and deliver every acknowledged event.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include "e2e/harness.h"
#include "e2e/tcp_proxy.h"

namespace e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The port of a postgresql://user@host:port/db URL, and the URL with another port.
uint16_t port_of(const std::string& url) {
  size_t host = url.find('@') + 1;
  size_t colon = url.find(':', host);
  return static_cast<uint16_t>(std::stoi(url.substr(colon + 1)));
}
std::string with_port(const std::string& url, uint16_t port) {
  size_t host = url.find('@') + 1;
  size_t colon = url.find(':', host);
  size_t slash = url.find('/', colon);
  return url.substr(0, colon + 1) + std::to_string(port) + url.substr(slash);
}

// One request on a connection of its own, with a read bound well above the
// node's own (--db-timeout 2s): status 0 means the node did not answer.
HttpResult raw_request(uint16_t port, const std::string& method, const std::string& path,
                       const std::string& body = "") {
  try {
    RawClient c(port);
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                      kPlatformToken + "\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    if (!c.send(req)) return HttpResult{0, "", {}, "send failed"};
    return c.read_response(seconds(20));
  } catch (const std::exception& e) {
    return HttpResult{0, "", {}, e.what()};
  }
}

// A node on its own database, reached through a proxy.
struct ProxiedNode {
  ProxiedNode()
      : db(),
        proxy(port_of(db.url())),
        server({"--database", with_port(db.url(), proxy.port()), "--db-timeout", "2s", "--retry-delays", "1s",
                "--node-id", "proxied"}) {
    std::tie(account, key) = server.create_account();
    add_webhook(server, key, receiver.url());
  }
  PgDatabase db;
  TcpProxy proxy;
  Server server;
  Receiver receiver;
  std::string account, key;
};

// Posters that ingest one event a request, each with its own id, until stopped.
class Load {
 public:
  Load(ProxiedNode& n, int threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, &n, t] {
        for (int i = 0; !stop_; ++i) {
          std::string id = "evt_t" + std::to_string(t) + "_" + std::to_string(i);
          auto sent = std::chrono::steady_clock::now();
          auto r = raw_request(n.server.port(), "POST", "/v1/accounts/" + n.account + "/events",
                               event_body(1000 + i, id));
          auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - sent);
          std::lock_guard lock(mu_);
          slowest_ = std::max(slowest_, took);
          if (r.status == 202) acked_.insert(id);
          else if (r.status == 503) unavailable_.push_back(r.body);
          else unanswered_.push_back(std::to_string(r.status) + " " + r.error + " " + r.body);
          if (r.status != 202) std::this_thread::sleep_for(milliseconds(100));
        }
      });
    }
  }
  void stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  ~Load() { stop(); }
  size_t acked() const {
    std::lock_guard lock(mu_);
    return acked_.size();
  }
  std::set<std::string> acked_ids() const {
    std::lock_guard lock(mu_);
    return acked_;
  }
  std::vector<std::string> unavailable() const {
    std::lock_guard lock(mu_);
    return unavailable_;
  }
  // Reported, not asserted (timing belongs in benchmarks).
  milliseconds slowest() const {
    std::lock_guard lock(mu_);
    return slowest_;
  }
  std::vector<std::string> unanswered() const {
    std::lock_guard lock(mu_);
    return unanswered_;
  }

 private:
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::set<std::string> acked_;
  std::vector<std::string> unavailable_, unanswered_;
  milliseconds slowest_{0};
  std::vector<std::thread> threads_;
};

// Every acknowledged event arrives at the webhook.
void expect_all_delivered(ProxiedNode& n, const std::set<std::string>& acked) {
  bool all = n.receiver.wait_for(
      [&](const auto& reqs) {
        auto got = event_ids_in(reqs);
        for (const auto& id : acked) {
          if (!got.count(id)) return false;
        }
        return true;
      },
      seconds(60));
  auto got = event_ids_in(n.receiver.requests());
  size_t missing = 0;
  for (const auto& id : acked) missing += got.count(id) ? 0 : 1;
  EXPECT_TRUE(all) << missing << " of " << acked.size() << " acknowledged events never arrived";
}

bool ready(ProxiedNode& n) { return raw_request(n.server.port(), "GET", "/readyz").status == 200; }

TEST(DbFaults, ASilentPathUnderLoadIsAnsweredReportedAndRecoveredWithNothingLost) {
  GROWHOOK_E2E_POSTGRES_ONLY("the proxy stands between the node and PostgreSQL");
  ProxiedNode n;
  Load load(n, 3);
  ASSERT_TRUE(eventually([&] { return load.acked() >= 20; }, seconds(30))) << "no ingestion before the fault";

  n.proxy.silent();
  // Readiness answers at once, from the background check, and says why.
  HttpResult readyz;
  EXPECT_TRUE(eventually(
      [&] {
        readyz = raw_request(n.server.port(), "GET", "/readyz");
        // (The delivery loop's failed turn may say so first.)
        return readyz.status == 503 && readyz.body.find("database unreachable") != std::string::npos;
      },
      seconds(15)))
      << "/readyz never said the database was unreachable while it was silent: " << readyz.status << " "
      << readyz.body;
  // The path stays silent a while longer (12 s in all: six times the bound);
  // /healthz does not ask the database.
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(raw_request(n.server.port(), "GET", "/healthz").status, 200);
    std::this_thread::sleep_for(milliseconds(1000));
  }
  size_t acked_during = load.acked();

  n.proxy.pass();
  EXPECT_TRUE(eventually([&] { return ready(n); }, seconds(30))) << "not ready again after the path came back";
  EXPECT_TRUE(eventually([&] { return load.acked() > acked_during + 10; }, seconds(30)))
      << "ingestion did not resume";
  load.stop();
  std::printf("silent path: %zu acknowledged, %zu answered 503, slowest answer %lld ms (--db-timeout 2s)\n",
              load.acked(), load.unavailable().size(), static_cast<long long>(load.slowest().count()));

  EXPECT_TRUE(load.unanswered().empty()) << load.unanswered().size()
                                         << " requests got no answer, the first: " << load.unanswered()[0];
  auto unavailable = load.unavailable();
  ASSERT_FALSE(unavailable.empty()) << "no request was refused while the database was silent";
  EXPECT_NE(unavailable[0].find("PostgreSQL"), std::string::npos) << "the 503 does not name the database: "
                                                                   << unavailable[0];
  expect_all_delivered(n, load.acked_ids());
}

TEST(DbFaults, ConnectionsCutMidTransactionLoseNothingAcknowledged) {
  GROWHOOK_E2E_POSTGRES_ONLY("the proxy stands between the node and PostgreSQL");
  ProxiedNode n;
  Load load(n, 3);
  ASSERT_TRUE(eventually([&] { return load.acked() >= 20; }, seconds(30))) << "no ingestion before the fault";
  for (int i = 0; i < 5; ++i) {
    size_t before = load.acked();
    n.proxy.cut();  // every open connection, mid-statement or mid-transaction
    EXPECT_TRUE(eventually([&] { return load.acked() > before + 5; }, seconds(30)))
        << "ingestion did not resume after cut " << i;
  }
  load.stop();
  EXPECT_TRUE(load.unanswered().empty()) << load.unanswered().size()
                                         << " requests got no answer, the first: " << load.unanswered()[0];
  EXPECT_TRUE(eventually([&] { return ready(n); }, seconds(30)));
  expect_all_delivered(n, load.acked_ids());
}

}  // namespace
}  // namespace e2e
