// End-to-end crash test: growhook is killed with SIGKILL at random moments
// while four clients post events and a receiver (failing now and then)
// takes deliveries; it is restarted on the same data folder each time. In
// the end every acknowledged event has reached the receiver, and nothing
// reached it that was never posted.
//
// The kill moments come from a seeded RNG; the seed is printed, and
// GROWHOOK_CRASH_SEED=<seed> replays the same schedule (the machine's own
// timing still varies).
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>

#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kKills = 20;
constexpr int kClients = 4;
constexpr int kFailEvery = 7;          // every 7th delivery request is answered 500 ...
constexpr int kMaxFailuresPerBatch = 2;  // ... but a batch never fails 4 times in a row (it would end failed)

uint64_t crash_seed() {
  if (const char* s = std::getenv("GROWHOOK_CRASH_SEED"); s && *s) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// What the clients posted and what the receiver got, under one lock.
struct Ledger {
  std::mutex mu;
  std::map<std::string, int64_t> posted;    // event id -> msisdn, recorded before the POST
  std::set<std::string> acknowledged;       // answered 202
  std::map<std::string, int> delivered;     // event id -> times in a request answered 2xx
  std::vector<std::string> strangers;       // delivered but never posted, or with other data
  std::map<std::string, int> failures_by_batch;
  int requests = 0;

  size_t lost() {
    std::lock_guard lock(mu);
    size_t n = 0;
    for (const auto& id : acknowledged) n += delivered.count(id) == 0;
    return n;
  }
};

// The receiver's answer: 500 for every 7th request (at most twice for the
// same batch), otherwise 200; checks every event id against the ledger.
Reply receive(Ledger& ledger, const ReceivedRequest& req) {
  auto body = json::parse(req.body, nullptr, false);
  std::lock_guard lock(ledger.mu);
  const int n = ++ledger.requests;
  const std::string batch = req.headers.count("webhook-id") ? req.headers.at("webhook-id") : "";
  const bool fail = n % kFailEvery == 0 && ledger.failures_by_batch[batch] < kMaxFailuresPerBatch;
  if (!body.is_object() || !body["events"].is_array()) {
    ledger.strangers.push_back("unparseable body: " + req.body.substr(0, 100));
    return Reply{};
  }
  for (const auto& e : body["events"]) {
    std::string id = e.value("id", "");
    auto it = ledger.posted.find(id);
    if (it == ledger.posted.end()) {
      ledger.strangers.push_back("never posted: " + id);
    } else if (e["data"]["msisdn"] != it->second) {
      ledger.strangers.push_back("other data for " + id + ": " + e["data"].dump());
    }
    if (!fail) ledger.delivered[id]++;
  }
  Reply r;
  if (fail) {
    ledger.failures_by_batch[batch]++;
    r.status = 500;
  }
  return r;
}

// The growhook API's current address; it changes on every restart (port 0).
class Endpoint {
 public:
  void set(const std::string& base) {
    std::lock_guard lock(mu_);
    base_ = base;
  }
  std::string get() const {
    std::lock_guard lock(mu_);
    return base_;
  }

 private:
  mutable std::mutex mu_;
  std::string base_;
};

// One client: posts single events and small bulks with its own ids until
// stop, retrying the same request (same ids) until it is acknowledged.
void run_client(int client, uint64_t seed, const std::string& path, Endpoint& endpoint, Ledger& ledger,
                const std::atomic<bool>& stop) {
  std::mt19937_64 rng(seed + static_cast<uint64_t>(client));
  for (int i = 0; !stop; ++i) {
    // Half single events, half bulks of 2 to 5.
    const bool single = std::uniform_int_distribution<int>(0, 1)(rng) == 0;
    const int count = single ? 1 : std::uniform_int_distribution<int>(2, 5)(rng);
    std::vector<std::string> ids;
    json events = json::array();
    {
      std::lock_guard lock(ledger.mu);
      for (int k = 0; k < count; ++k) {
        std::string id = "c" + std::to_string(client) + "-" + std::to_string(i) + "-" + std::to_string(k);
        int64_t msisdn = 5500000000000 + client * 100'000'000LL + i * 10LL + k;
        ledger.posted[id] = msisdn;
        ids.push_back(id);
        events.push_back(json::parse(event_body(msisdn, id)));
      }
    }
    const std::string body = single ? events[0].dump() : json({{"events", events}}).dump();
    while (!stop) {
      auto r = http("POST", endpoint.get() + path, body, kPlatformToken);
      if (r.status == 202) {
        auto got = r.json()["ids"];
        std::lock_guard lock(ledger.mu);
        if (got != json(ids)) ledger.strangers.push_back("202 with other ids: " + r.body);
        for (const auto& id : ids) ledger.acknowledged.insert(id);
        break;
      }
      // Down, restarting, or killed mid-request: the same ids again.
      std::this_thread::sleep_for(milliseconds(10));
    }
  }
}

TEST(Crash, NothingAcknowledgedIsLostAcrossRepeatedKills) {
  const uint64_t seed = crash_seed();
  std::printf("crash test seed: %llu (GROWHOOK_CRASH_SEED=%llu replays it)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);

  Ledger ledger;
  Receiver rx;
  rx.set_handler([&](const ReceivedRequest& req) { return receive(ledger, req); });
  auto server = std::make_unique<Server>(std::vector<std::string>{"--retry-delays", "100ms,100ms,100ms"});
  auto [account, key] = server->create_account();
  auto hook = add_webhook(*server, key, rx.url(), {{"batch_max_events", 10}});
  const std::string path = "/v1/accounts/" + account + "/events";

  Endpoint endpoint;
  endpoint.set(server->base());
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  // Stops and joins the clients on every way out, failed assertions too.
  struct Joiner {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~Joiner() {
      stop = true;
      for (auto& t : threads)
        if (t.joinable()) t.join();
    }
  } joiner{stop, clients};
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&, c] { run_client(c, seed, path, endpoint, ledger, stop); });

  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(ledger.mu);
    return ledger.acknowledged.size() >= 20;
  }));
  int kills = 0;
  for (; kills < kKills; ++kills) {
    std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<int>(0, 1000)(rng)));
    server->kill9();
    std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<int>(0, 100)(rng)));
    server->start();
    endpoint.set(server->base());
  }
  // Let the clients see the last start, then stop them.
  std::this_thread::sleep_for(milliseconds(300));
  stop = true;
  for (auto& t : clients) t.join();

  size_t acknowledged;
  {
    std::lock_guard lock(ledger.mu);
    acknowledged = ledger.acknowledged.size();
  }
  bool all_arrived = eventually([&] { return ledger.lost() == 0; }, seconds(30));

  std::lock_guard lock(ledger.mu);
  size_t lost = 0, duplicated = 0;
  std::vector<std::string> lost_ids;
  for (const auto& id : ledger.acknowledged) {
    if (!ledger.delivered.count(id)) {
      ++lost;
      if (lost_ids.size() < 10) lost_ids.push_back(id);
    }
  }
  for (const auto& [id, times] : ledger.delivered) duplicated += times > 1;
  std::printf("crash test: %d kills, %zu events acknowledged, %zu lost, %zu duplicated deliveries\n", kills,
              acknowledged, lost, duplicated);
  EXPECT_TRUE(all_arrived);
  EXPECT_EQ(lost, 0u) << "first lost ids: " << json(lost_ids).dump();
  EXPECT_TRUE(ledger.strangers.empty()) << ledger.strangers.size() << " unexpected deliveries, first: "
                                        << ledger.strangers.front();
  EXPECT_GE(acknowledged, 100u) << "too little traffic for the test to mean much";
  // No batch ran out of attempts: the receiver never failed one 4 times.
  EXPECT_EQ(webhook_batches(*server, key, hook.id, "failed").size(), 0u);
}

}  // namespace
}  // namespace e2e
