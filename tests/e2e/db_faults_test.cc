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
#include <filesystem>
#include <map>
#include <stdexcept>
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
  Load(Server& server, const std::string& account, int threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, &server, account, t] {
        for (int i = 0; !stop_; ++i) {
          std::string id = "evt_t" + std::to_string(t) + "_" + std::to_string(i);
          auto sent = std::chrono::steady_clock::now();
          auto r = raw_request(server.port(), "POST", "/v1/accounts/" + account + "/events",
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
void expect_all_delivered(Receiver& receiver, const std::set<std::string>& acked) {
  bool all = receiver.wait_for(
      [&](const auto& reqs) {
        auto got = event_ids_in(reqs);
        for (const auto& id : acked) {
          if (!got.count(id)) return false;
        }
        return true;
      },
      seconds(60));
  auto got = event_ids_in(receiver.requests());
  size_t missing = 0;
  for (const auto& id : acked) missing += got.count(id) ? 0 : 1;
  EXPECT_TRUE(all) << missing << " of " << acked.size() << " acknowledged events never arrived";
}

bool ready(ProxiedNode& n) { return raw_request(n.server.port(), "GET", "/readyz").status == 200; }

TEST(DbFaults, ASilentPathUnderLoadIsAnsweredReportedAndRecoveredWithNothingLost) {
  GROWHOOK_E2E_POSTGRES_ONLY("the proxy stands between the node and PostgreSQL");
  ProxiedNode n;
  Load load(n.server, n.account, 3);
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
  expect_all_delivered(n.receiver, load.acked_ids());
}

TEST(DbFaults, ConnectionsCutMidTransactionOrRefusedLoseNothingAcknowledged) {
  GROWHOOK_E2E_POSTGRES_ONLY("the proxy stands between the node and PostgreSQL");
  ProxiedNode n;
  Load load(n.server, n.account, 3);
  ASSERT_TRUE(eventually([&] { return load.acked() >= 20; }, seconds(30))) << "no ingestion before the fault";
  for (int i = 0; i < 5; ++i) {
    size_t before = load.acked();
    n.proxy.cut();  // every open connection, mid-statement or mid-transaction
    EXPECT_TRUE(eventually([&] { return load.acked() > before + 5; }, seconds(30)))
        << "ingestion did not resume after cut " << i;
  }
  // Refused: the database's host answers with resets. Reported at once,
  // and over as soon as it accepts again.
  n.proxy.refuse();
  n.proxy.cut();
  HttpResult readyz;
  EXPECT_TRUE(eventually(
      [&] {
        readyz = raw_request(n.server.port(), "GET", "/readyz");
        return readyz.body.find("database unreachable") != std::string::npos;
      },
      seconds(15)))
      << "/readyz while the database refused connections: " << readyz.status << " " << readyz.body;
  size_t before_pass = load.acked();
  n.proxy.pass();
  EXPECT_TRUE(eventually([&] { return load.acked() > before_pass + 5; }, seconds(30)))
      << "ingestion did not resume after the refusals";
  load.stop();
  EXPECT_TRUE(load.unanswered().empty()) << load.unanswered().size()
                                         << " requests got no answer, the first: " << load.unanswered()[0];
  EXPECT_TRUE(eventually([&] { return ready(n); }, seconds(30)));
  expect_all_delivered(n.receiver, load.acked_ids());
}

// Sends of one batch (webhook-id) in progress at the receiver at once.
class OverlapWatch {
 public:
  Reply handle(const ReceivedRequest& r) {
    std::string id = r.headers.count("webhook-id") ? r.headers.at("webhook-id") : "";
    {
      std::lock_guard lock(mu_);
      if (++in_flight_[id] > 1) overlaps_.push_back(id);
      ++started_;
    }
    std::this_thread::sleep_for(milliseconds(1500));  // the lease is held meanwhile
    std::lock_guard lock(mu_);
    --in_flight_[id];
    return Reply{};
  }
  int started() const {
    std::lock_guard lock(mu_);
    return started_;
  }
  std::vector<std::string> overlaps() const {
    std::lock_guard lock(mu_);
    return overlaps_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int> in_flight_;
  std::vector<std::string> overlaps_;
  int started_ = 0;
};

TEST(DbFaults, LeasesHeldByANodeWhosePathGoesSilentAreTakenOverAfterTheLeaseNeverSentTwiceAtOnce) {
  GROWHOOK_E2E_POSTGRES_ONLY("two nodes on one PostgreSQL, one through the proxy");
  PgDatabase db;
  TcpProxy proxy(port_of(db.url()));
  OverlapWatch watch;
  Receiver receiver;
  receiver.set_handler([&](const ReceivedRequest& r) { return watch.handle(r); });
  const std::vector<std::string> timing = {"--db-timeout", "2s", "--connect-timeout", "1s", "--request-timeout",
                                           "3s", "--lease", "6s", "--retry-delays", "1s"};
  auto args = [&](const std::string& url, const std::string& node) {
    std::vector<std::string> a = {"--database", url, "--node-id", node};
    a.insert(a.end(), timing.begin(), timing.end());
    return a;
  };
  Server a(args(with_port(db.url(), proxy.port()), "a"));
  auto [account, key] = a.create_account();
  add_webhook(a, key, receiver.url());
  std::set<std::string> acked;
  for (int i = 0; i < 10; ++i) {
    std::string id = "evt_lease_" + std::to_string(i);
    auto r = a.platform("POST", "/v1/accounts/" + account + "/events", event_body(2000 + i, id));
    ASSERT_EQ(r.status, 202) << r.body;
    acked.insert(id);
  }
  ASSERT_TRUE(eventually([&] { return watch.started() > 0; }, seconds(20))) << "node a never sent";
  proxy.silent();  // a's sends finish, but it can record nothing: its leases run out
  Server b(args(db.url(), "b"));
  // The batches a had in progress when the path went silent were never
  // recorded: b sends them again once their lease ends (one send after the
  // other, never two at once).
  EXPECT_TRUE(eventually(
      [&] {
        std::map<std::string, int> sends;
        for (const auto& r : receiver.requests()) sends[r.headers.count("webhook-id") ? r.headers.at("webhook-id") : ""]++;
        return std::any_of(sends.begin(), sends.end(), [](const auto& kv) { return kv.second > 1; });
      },
      seconds(30)))
      << "no batch of a was taken over by b";
  expect_all_delivered(receiver, acked);
  EXPECT_TRUE(watch.overlaps().empty()) << "a batch was sent by two nodes at once: " << watch.overlaps()[0];
  proxy.pass();
  EXPECT_TRUE(eventually([&] { return raw_request(a.port(), "GET", "/readyz").status == 200; }, seconds(30)))
      << "node a did not come back after the path returned";
}

// A primary and its synchronous streaming standby, each a cluster of its
// own (scripts/pg-test-cluster.sh), stopped and removed at the end.
class ReplicatedPair {
 public:
  ReplicatedPair() {
    char tmpl[] = "/tmp/growhook-failover.XXXXXX";
    dir_ = mkdtemp(tmpl);
    // The clusters run as the postgres user when the tests run as root.
    std::filesystem::permissions(dir_, std::filesystem::perms(0755));
    try {
      primary_ = script({"start", dir_ + "/primary"});
      standby_ = script({"standby", dir_ + "/standby", dir_ + "/primary"});
    } catch (...) {
      clean_up();  // no destructor runs for a constructor that throws
      throw;
    }
  }
  ~ReplicatedPair() { clean_up(); }
  // Both hosts; libpq keeps the one that takes writes.
  std::string multi_host_url() const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_of(primary_)) + ",127.0.0.1:" +
           std::to_string(port_of(standby_)) + "/growhook_test?target_session_attrs=read-write";
  }
  void kill_primary() { script({"kill", dir_ + "/primary"}); }
  void promote_standby() { script({"promote", dir_ + "/standby"}); }

 private:
  static constexpr const char* kScript = GROWHOOK_SOURCE_DIR "/scripts/pg-test-cluster.sh";
  void clean_up() {
    (void)run_command({kScript, "stop", dir_ + "/standby"});
    (void)run_command({kScript, "stop", dir_ + "/primary"});
    std::filesystem::remove_all(dir_);
  }
  // Runs the script; the last line it printed (a URL for start and standby).
  std::string script(std::vector<std::string> args) {
    args.insert(args.begin(), kScript);
    auto r = run_command(args);
    if (r.exit_code != 0) throw std::runtime_error("pg-test-cluster.sh failed: " + r.output);
    std::string out = r.output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    size_t url = out.rfind("postgresql://");
    return url == std::string::npos ? "" : out.substr(url, out.find('\n', url) - url);
  }
  std::string dir_, primary_, standby_;
};

TEST(DbFaults, APrimaryKilledUnderLoadAndItsSynchronousStandbyPromotedLosesNothingAcknowledged) {
  GROWHOOK_E2E_POSTGRES_ONLY("a failover of PostgreSQL");
  auto t0 = std::chrono::steady_clock::now();
  auto since = [&] {
    return static_cast<long long>(
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0).count());
  };
  ReplicatedPair pair;
  std::printf("failover: primary and synchronous standby up after %lld ms\n", since());
  Receiver receiver;
  Server server({"--database", pair.multi_host_url(), "--db-timeout", "2s", "--retry-delays", "1s", "--node-id",
                 "failover"});
  auto [account, key] = server.create_account();
  add_webhook(server, key, receiver.url());
  Load load(server, account, 3);
  ASSERT_TRUE(eventually([&] { return load.acked() >= 20; }, seconds(30))) << "no ingestion before the failover";

  pair.kill_primary();
  pair.promote_standby();
  size_t acked_at_promotion = load.acked();
  std::printf("failover: primary killed and standby promoted at %lld ms\n", since());
  // The same node, not restarted, finds the new primary by itself.
  EXPECT_TRUE(eventually([&] { return load.acked() > acked_at_promotion + 20; }, seconds(60)))
      << "ingestion did not resume on the promoted standby";
  std::printf("failover: ingestion resumed by %lld ms\n", since());
  load.stop();
  EXPECT_TRUE(load.unanswered().empty()) << load.unanswered().size()
                                         << " requests got no answer, the first: " << load.unanswered()[0];
  EXPECT_TRUE(eventually([&] { return raw_request(server.port(), "GET", "/readyz").status == 200; }, seconds(30)));
  expect_all_delivered(receiver, load.acked_ids());
}

}  // namespace
}  // namespace e2e
