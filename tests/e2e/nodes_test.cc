// End-to-end: several `growhook serve` nodes on one PostgreSQL database
// (PostgreSQL only; skipped on SQLite). Each node is a Server with a
// --node-id of its own; the first one's data folder names the database
// (harness.h), so the others pass it to share that database.
//
// What several nodes must keep from one: every acknowledged event reaches
// every webhook, whichever node took it in; a batch is never sent by two
// nodes at the same time (the receiver watches its webhook-id); a node that
// dies loses nothing (its leases expire and another node sends its batches,
// with the same ids); a node that restarts under its own id takes its leases
// back at once.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Counts, for one or more receivers, how often each batch (webhook-id)
// arrived, and records every time a batch arrived while the same batch was
// still being answered: that would be two nodes sending it at once. Declare
// it before the receivers that use it (their threads call it until they end).
class BatchWatch {
 public:
  // A receiver handler that answers 200 after delay_ms.
  std::function<Reply(const ReceivedRequest&)> handler(int delay_ms) {
    return [this, delay_ms](const ReceivedRequest& r) {
      auto it = r.headers.find("webhook-id");
      std::string id = it == r.headers.end() ? "" : it->second;
      {
        std::lock_guard lock(mu_);
        if (in_flight_[id]++ > 0) overlaps_.push_back(id);
        if (sends_[id]++ > 0) resend_times_.push_back(std::chrono::steady_clock::now());
        max_in_flight_ = std::max(max_in_flight_, ++total_in_flight_);
      }
      if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      {
        std::lock_guard lock(mu_);
        in_flight_[id]--;
        total_in_flight_--;
      }
      return Reply{};
    };
  }
  std::vector<std::string> overlaps() const {
    std::lock_guard lock(mu_);
    return overlaps_;
  }
  size_t batches() const {
    std::lock_guard lock(mu_);
    return sends_.size();
  }
  // Sends beyond the first of each batch.
  size_t resends() const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& [id, k] : sends_) n += static_cast<size_t>(k - 1);
    return n;
  }
  int max_in_flight() const {
    std::lock_guard lock(mu_);
    return max_in_flight_;
  }
  // When each send beyond the first of its batch began.
  std::vector<std::chrono::steady_clock::time_point> resend_times() const {
    std::lock_guard lock(mu_);
    return resend_times_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int> in_flight_, sends_;
  std::vector<std::string> overlaps_;
  std::vector<std::chrono::steady_clock::time_point> resend_times_;
  int total_in_flight_ = 0, max_in_flight_ = 0;
};

// n nodes on one database: node 0 makes it, the others join.
std::vector<std::unique_ptr<Server>> start_nodes(int n, const std::vector<std::string>& args = {}) {
  std::vector<std::unique_ptr<Server>> nodes;
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> a = args;
    a.insert(a.end(), {"--node-id", "node-" + std::string(1, static_cast<char>('a' + i))});
    nodes.push_back(std::make_unique<Server>(a, i == 0 ? "" : nodes[0]->data_dir()));
  }
  return nodes;
}

// A metric of a node's /metrics (0 when absent or unreachable).
double metric(Server& s, const std::string& name) {
  auto r = http("GET", s.base() + "/metrics");
  size_t pos = 0;
  while ((pos = r.body.find(name + " ", pos)) != std::string::npos) {
    if (pos == 0 || r.body[pos - 1] == '\n') return std::atof(r.body.c_str() + pos + name.size() + 1);
    pos += name.size();
  }
  return 0;
}

// Event ids in the given requests, each counted once.
std::set<std::string> received_ids(const Receiver& rx) { return event_ids_in(rx.requests()); }

// Posts single events with ids "<prefix>-<client>-<i>" from `clients`
// threads, spread over the nodes in turn, until stop or `per_client` posts
// each. Only what a node acknowledged (202) is kept in acked.
class Load {
 public:
  Load(std::vector<std::unique_ptr<Server>>& nodes, std::string account, std::string prefix, int clients,
       int per_client, int events_per_post = 1)
      : nodes_(nodes), account_(std::move(account)), prefix_(std::move(prefix)) {
    for (int c = 0; c < clients; ++c) {
      threads_.emplace_back([this, c, per_client, events_per_post] {
        for (int i = 0; !stop_ && (per_client <= 0 || i < per_client); ++i) {
          Server& node = *nodes_[static_cast<size_t>(c + i) % nodes_.size()];
          if (node.pid() <= 0) continue;  // a node the test killed
          std::vector<std::string> ids;
          json bulk = {{"events", json::array()}};
          for (int k = 0; k < events_per_post; ++k) {
            ids.push_back(prefix_ + "-" + std::to_string(c) + "-" + std::to_string(i) + "-" + std::to_string(k));
            bulk["events"].push_back(json::parse(event_body(5500000000000 + i, ids.back())));
          }
          auto r = http("POST", node.base() + "/v1/accounts/" + account_ + "/events", bulk.dump(), kPlatformToken);
          std::lock_guard lock(mu_);
          if (r.status == 202) acked_.insert(ids.begin(), ids.end());
          else failed_++;
        }
      });
    }
  }
  ~Load() { join(); }
  void join() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  void finish() {  // waits for the posts without stopping them early
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  std::set<std::string> acked() const {
    std::lock_guard lock(mu_);
    return acked_;
  }
  int failed() const {
    std::lock_guard lock(mu_);
    return failed_;
  }

 private:
  std::vector<std::unique_ptr<Server>>& nodes_;
  std::string account_, prefix_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::set<std::string> acked_;
  int failed_ = 0;
  std::vector<std::thread> threads_;
};

// Whether every id of want is in got; the first missing one in *missing.
bool covers(const std::set<std::string>& got, const std::set<std::string>& want, std::string* missing = nullptr) {
  for (const auto& id : want) {
    if (!got.count(id)) {
      if (missing) *missing = id;
      return false;
    }
  }
  return true;
}

void expect_every_event_delivered_once_at_a_time(int n) {
  BatchWatch watch;
  std::vector<std::unique_ptr<Receiver>> rx;
  for (int i = 0; i < 3; ++i) {
    rx.push_back(std::make_unique<Receiver>());
    rx.back()->set_handler(watch.handler(5));
  }
  // A node keeps claiming while it has slots free: with 4 each, no node can
  // hold all 12 (3 webhooks x 4), so the work is shared.
  auto nodes = start_nodes(n, {"--max-in-flight", "4"});
  auto [account, key] = nodes[0]->create_account();
  // Webhooks made through different nodes; small batches, so that there
  // are many of them to share out.
  for (size_t i = 0; i < rx.size(); ++i) {
    add_webhook(*nodes[i % nodes.size()], key, rx[i]->url("/hook-" + std::to_string(i)),
                {{"batch_max_events", 10}});
  }
  Load load(nodes, account, "n" + std::to_string(n), 4, 60, 4);  // 960 events, each to 3 webhooks
  load.finish();
  auto acked = load.acked();
  ASSERT_EQ(acked.size(), 960u) << load.failed() << " posts were refused";
  for (size_t i = 0; i < rx.size(); ++i) {
    std::string missing;
    EXPECT_TRUE(rx[i]->wait_for([&](const auto& reqs) { return covers(event_ids_in(reqs), acked); }, 60s))
        << "webhook " << i << " is missing events, e.g. " << (covers(received_ids(*rx[i]), acked, &missing), missing);
    EXPECT_EQ(received_ids(*rx[i]).size(), acked.size()) << "webhook " << i << " got events it should not have";
  }
  EXPECT_TRUE(watch.overlaps().empty()) << watch.overlaps().size() << " times a batch arrived while it was "
                                        << "still in flight, e.g. " << watch.overlaps().front();
  // No node died: every batch went out once, and is recorded as delivered.
  EXPECT_EQ(watch.resends(), 0u);
  ASSERT_TRUE(eventually([&] { return metric(*nodes[0], "growhook_pending_batches") == 0; }, 20s));
  EXPECT_EQ(metric(*nodes[0], "growhook_failed_batches"), 0);
  // The work was shared: several nodes sent batches.
  int working = 0;
  double total = 0;
  std::string per_node;
  for (auto& node : nodes) {
    double d = metric(*node, "growhook_batches_total{outcome=\"delivered\"}");
    total += d;
    working += d > 0;
    per_node += " " + node->node_id() + "=" + std::to_string(static_cast<int>(d));
  }
  EXPECT_EQ(total, static_cast<double>(watch.batches())) << per_node;
  EXPECT_GE(working, 2) << "batches delivered per node:" << per_node;
  std::cout << n << " nodes: " << watch.batches() << " batches, delivered per node:" << per_node << "\n";
}

TEST(Nodes, TwoNodesDeliverEveryEventAndNeverSendABatchTwiceAtOnce) {
  GROWHOOK_E2E_POSTGRES_ONLY("several nodes share a PostgreSQL database");
  expect_every_event_delivered_once_at_a_time(2);
}

TEST(Nodes, ThreeNodesDeliverEveryEventAndNeverSendABatchTwiceAtOnce) {
  GROWHOOK_E2E_POSTGRES_ONLY("several nodes share a PostgreSQL database");
  expect_every_event_delivered_once_at_a_time(3);
}

TEST(Nodes, ANodeKilledUnderLoadLosesNothingItsLeasesExpire) {
  GROWHOOK_E2E_POSTGRES_ONLY("several nodes share a PostgreSQL database");
  BatchWatch watch;
  // Slow receivers, so that every node has batches in flight at the kill.
  std::vector<std::unique_ptr<Receiver>> rx;
  for (int i = 0; i < 3; ++i) {
    rx.push_back(std::make_unique<Receiver>());
    rx.back()->set_handler(watch.handler(200));
  }
  // A short lease, so that the dead node's batches come back soon.
  constexpr auto kLease = 3s;
  // 8 slots a node for 24 in all (3 webhooks x 8): every node has work.
  auto nodes = start_nodes(3, {"--lease", "3s", "--request-timeout", "1s", "--connect-timeout", "500ms",
                               "--per-webhook-in-flight", "8", "--max-in-flight", "8"});
  auto [account, key] = nodes[0]->create_account();
  for (size_t i = 0; i < rx.size(); ++i) {
    add_webhook(*nodes[i], key, rx[i]->url("/hook-" + std::to_string(i)), {{"batch_max_events", 5}});
  }
  Load load(nodes, account, "k", 6, 0);
  ASSERT_TRUE(eventually([&] { return load.acked().size() >= 300 && metric(*nodes[1], "growhook_in_flight") >= 2; },
                         30s));
  nodes[1]->kill9();
  const auto killed_at = std::chrono::steady_clock::now();
  // Ingestion goes on through the two others.
  const size_t acked_at_kill = load.acked().size();
  ASSERT_TRUE(eventually([&] { return load.acked().size() >= acked_at_kill + 200; }, 30s));
  load.join();
  auto acked = load.acked();
  for (size_t i = 0; i < rx.size(); ++i) {
    std::string missing;
    ASSERT_TRUE(rx[i]->wait_for([&](const auto& reqs) { return covers(event_ids_in(reqs), acked); }, 90s))
        << "webhook " << i << ": " << acked.size() << " acknowledged, " << received_ids(*rx[i]).size()
        << " received; missing e.g. " << (covers(received_ids(*rx[i]), acked, &missing), missing);
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at);
  EXPECT_TRUE(watch.overlaps().empty()) << "a batch arrived while it was still in flight: " << watch.overlaps().front();
  // The dead node's batches were sent again, by the others, once their
  // lease had run out (claimed at most a request before the kill).
  auto resends = watch.resend_times();
  EXPECT_GE(resends.size(), 2u) << "the killed node's batches in flight were not sent again";
  for (auto t : resends) {
    EXPECT_GE(t - killed_at, kLease - 1200ms) << "a batch was taken over before its lease expired";
  }
  ASSERT_TRUE(eventually([&] { return metric(*nodes[0], "growhook_pending_batches") == 0; }, 30s))
      << "batches left pending: " << metric(*nodes[0], "growhook_pending_batches");
  EXPECT_EQ(metric(*nodes[0], "growhook_failed_batches"), 0);
  std::cout << acked.size() << " acknowledged events reached the 3 webhooks " << took.count()
            << " ms after the kill; " << resends.size() << " batches of the killed node were sent again\n";
}

TEST(Nodes, ARestartedNodeTakesItsOwnLeasesBackAtOnce) {
  GROWHOOK_E2E_POSTGRES_ONLY("several nodes share a PostgreSQL database");
  Receiver rx;
  std::atomic<bool> hang{true};
  rx.set_handler([&](const ReceivedRequest&) {
    Reply r;
    r.hang = hang.load();
    return r;
  });
  // The default lease: connect + request timeout + 30 s, here 35.5 s.
  auto nodes = start_nodes(2, {"--request-timeout", "5s", "--connect-timeout", "500ms"});
  auto [account, key] = nodes[0]->create_account();
  add_webhook(*nodes[0], key, rx.url());
  ASSERT_EQ(nodes[1]->platform("POST", "/v1/accounts/" + account + "/events", event_body(1, "held")).status, 202);
  ASSERT_TRUE(rx.wait_for([](const auto& r) { return r.size() == 1; }));
  // Whichever node holds the batch dies while its request hangs.
  size_t holder = metric(*nodes[0], "growhook_in_flight") > 0 ? 0 : 1;
  ASSERT_EQ(metric(*nodes[holder], "growhook_in_flight"), 1);
  nodes[holder]->kill9();
  hang = false;
  // The other node leaves the batch alone: its lease is live.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(rx.count(), 1u) << "another node took a batch whose lease was live";
  // Back under the same --node-id, the node frees its own leases at start.
  auto restarted = std::chrono::steady_clock::now();
  nodes[holder]->start();
  ASSERT_TRUE(rx.wait_for([](const auto& r) { return r.size() >= 2; }, 15s)) << "not sent again within 15 s";
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - restarted);
  EXPECT_LT(took.count(), 10'000) << "the lease was waited out instead of taken back";
  auto reqs = rx.requests();
  EXPECT_EQ(reqs[0].headers["webhook-id"], reqs[1].headers["webhook-id"]);  // the same batch again
  EXPECT_EQ(event_ids_in(reqs), std::set<std::string>{"held"});
}

TEST(Nodes, ANodeStoppedWithSigtermFinishesItsWorkAndTheOthersGoOn) {
  GROWHOOK_E2E_POSTGRES_ONLY("several nodes share a PostgreSQL database");
  BatchWatch watch;
  Receiver rx;
  rx.set_handler(watch.handler(50));
  auto nodes = start_nodes(2);
  auto [account, key] = nodes[0]->create_account();
  add_webhook(*nodes[0], key, rx.url(), {{"batch_max_events", 5}});
  Load load(nodes, account, "t", 4, 0);
  ASSERT_TRUE(eventually([&] { return load.acked().size() >= 200 && rx.count() >= 10; }, 30s));
  nodes[0]->stop();  // drains: answers what it took in, finishes its deliveries
  EXPECT_EQ(nodes[0]->exit_code(), 0);
  const size_t acked_at_stop = load.acked().size();
  ASSERT_TRUE(eventually([&] { return load.acked().size() >= acked_at_stop + 100; }, 30s));
  load.join();
  auto acked = load.acked();
  ASSERT_TRUE(rx.wait_for([&](const auto& reqs) { return covers(event_ids_in(reqs), acked); }, 30s))
      << acked.size() << " acknowledged, " << received_ids(rx).size() << " received";
  EXPECT_TRUE(watch.overlaps().empty());
  // A clean stop records what it sent: nothing is sent twice.
  EXPECT_EQ(watch.resends(), 0u);
  ASSERT_TRUE(eventually([&] { return metric(*nodes[1], "growhook_pending_batches") == 0; }, 20s));
}

// The lease flag, on either store: it must outlive the longest attempt.
TEST(Nodes, ALeaseNoLongerThanTheRequestTimeoutIsRefused) {
  char tmpl[] = "/tmp/growhook-lease.XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string cmd = std::string(GROWHOOK_BINARY) + " serve --listen 127.0.0.1:0 --data-dir " + dir +
                    " --request-timeout 10s --lease 10s 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  int status = pclose(p);
  std::filesystem::remove_all(dir);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << out;
  EXPECT_NE(out.find("--lease"), std::string::npos) << out;
  EXPECT_NE(out.find("longer than --request-timeout"), std::string::npos) << out;
}

}  // namespace
}  // namespace e2e
