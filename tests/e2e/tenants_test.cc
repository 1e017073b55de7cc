// End-to-end: many shops on one node, most of whose receivers are broken
// (delivery/fair_share.h). A healthy shop's events all arrive beside 100
// receivers that hang, each on its own loopback port with a backlog of
// batches, for longer than the test lasts (so no slot they hold comes back
// by a timeout); and beside 100 that refuse connections. On both stores,
// and on two PostgreSQL nodes.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int kBroken = 100;
constexpr int kBacklog = 4;         // batches waiting at each broken receiver
constexpr int kHealthyEvents = 60;

// Few slots, so that 100 broken receivers could take them all many times
// over, and requests that outlast the test.
const std::vector<std::string> kArgs = {"--max-in-flight", "32", "--per-webhook-in-flight", "4",
                                        "--request-timeout", "120s", "--retry-delays", "1s,1s"};

void ingest(Server& s, const std::string& account, const std::string& body) {
  auto r = s.platform("POST", "/v1/accounts/" + account + "/events", body);
  if (r.status != 202) throw std::runtime_error("ingest: " + std::to_string(r.status) + " " + r.body);
}

// A shop with one webhook to url (one event a batch) and a backlog there.
void broken_shop(Server& s, int i, const std::string& url) {
  auto [account, key] = s.create_account("broken-" + std::to_string(i));
  add_webhook(s, key, url, {{"batch_max_events", 1}});
  for (int k = 0; k < kBacklog; ++k) ingest(s, account, event_body(5500000000000 + k));
}

// The healthy shop: its webhook answers once before the broken shops
// arrive (the node has seen it answer fast), then gets kHealthyEvents
// single events, spread over the nodes; all of them must arrive.
struct HealthyShop {
  Receiver rx;
  std::string account, key;
  explicit HealthyShop(Server& s) {
    std::tie(account, key) = s.create_account("healthy");
    add_webhook(s, key, rx.url(), {{"batch_max_events", 1}});
    ingest(s, account, event_body(5511000000000, "warm-up"));
    if (!rx.wait_for([](auto& r) { return !r.empty(); }, 20s)) throw std::runtime_error("no warm-up delivery");
  }
  void post_and_expect_all(const std::vector<Server*>& nodes) {
    for (int i = 0; i < kHealthyEvents; ++i) {
      ingest(*nodes[static_cast<size_t>(i) % nodes.size()], account,
             event_body(5511000000001 + i, "h-" + std::to_string(i)));
    }
    // Generous: arrival is what is asserted, not how fast (the broken
    // receivers' requests last 120 s, far longer than this wait).
    EXPECT_TRUE(rx.wait_for([](auto& r) { return event_ids_in(r).size() == kHealthyEvents + 1; }, 60s))
        << event_ids_in(rx.requests()).size() - 1 << " of " << kHealthyEvents << " arrived";
  }
};

Reply hang(const ReceivedRequest&) {
  Reply r;
  r.hang = true;
  return r;
}

void beside_hanging_receivers(const std::vector<Server*>& nodes) {
  Server& s = *nodes[0];
  HealthyShop healthy(s);
  Receiver::reset_most_hanging_at_once();
  std::vector<std::unique_ptr<Receiver>> hanging;
  for (int i = 0; i < kBroken; ++i) {
    hanging.push_back(std::make_unique<Receiver>());
    hanging.back()->set_handler(hang);
    broken_shop(s, i, hanging.back()->url());
  }
  healthy.post_and_expect_all(nodes);
  // The broken ones got requests too (they are held, not skipped), within
  // the bounds: at most half of --max-in-flight of each node at one time.
  // (Counted at once, not in all: a request that ends some other way than
  // an answer, a connection that fails, say, frees its slot for another.)
  size_t received = 0;
  for (auto& h : hanging) received += h->count();
  EXPECT_GT(received, 0u);
  EXPECT_LE(Receiver::most_hanging_at_once(), 16 * static_cast<int>(nodes.size()));
}

void beside_refusing_receivers(const std::vector<Server*>& nodes) {
  Server& s = *nodes[0];
  HealthyShop healthy(s);
  std::vector<std::unique_ptr<RefusingPort>> refusing;
  for (int i = 0; i < kBroken; ++i) {
    refusing.push_back(std::make_unique<RefusingPort>());
    broken_shop(s, i, refusing.back()->url());
  }
  healthy.post_and_expect_all(nodes);
}

TEST(Tenants, EveryEventOfAHealthyShopArrivesBesideAHundredHangingReceivers) {
  Server server(kArgs);
  beside_hanging_receivers({&server});
}

TEST(Tenants, EveryEventOfAHealthyShopArrivesBesideAHundredRefusingReceivers) {
  Server server(kArgs);
  beside_refusing_receivers({&server});
}

std::vector<std::unique_ptr<Server>> two_nodes() {
  std::vector<std::unique_ptr<Server>> nodes;
  for (int i = 0; i < 2; ++i) {
    std::vector<std::string> a = kArgs;
    a.insert(a.end(), {"--node-id", i == 0 ? "node-a" : "node-b"});
    nodes.push_back(std::make_unique<Server>(a, i == 0 ? "" : nodes[0]->data_dir()));
  }
  return nodes;
}

TEST(Tenants, TwoPostgresNodesBesideAHundredHangingReceivers) {
  GROWHOOK_E2E_POSTGRES_ONLY("two nodes share one database");
  auto nodes = two_nodes();
  beside_hanging_receivers({nodes[0].get(), nodes[1].get()});
}

}  // namespace
}  // namespace e2e
