// The EventLog contract (event_log.h): ingestion's group commit.
// Run on both stores (contract_test_support.h).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "store/contract_test_support.h"

namespace growhook::store_test {
namespace {

class EventLogContract : public StoreContractTest {};
GH_STORE_CONTRACT(EventLogContract);

TEST_P(EventLogContract, AppendIsIdempotentPerEventId) {
  Account a = add_account(st());
  Webhook w = add_webhook(st(), a);
  auto first = append(st(), a, {event("e1", T), event("e2", T)});
  EXPECT_EQ(first.ids, (std::vector<std::string>{"e1", "e2"}));
  EXPECT_EQ(first.stored, 2);
  auto again = append(st(), a, {event("e1", T), event("e3", T), event("e3", T)});
  EXPECT_EQ(again.ids, (std::vector<std::string>{"e1", "e3", "e3"}));
  EXPECT_EQ(again.stored, 1);
  // Another account may use the same ids.
  Account b = add_account(st());
  EXPECT_EQ(append(st(), b, {event("e1", T)}).stored, 1);

  auto got = claim(st(), T);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].webhook.id, w.id);
  EXPECT_EQ(ids_of(got[0].events_json), (std::vector<std::string>{"e1", "e2", "e3"}));
}

TEST_P(EventLogContract, AGroupStoresAnIdOnceAcrossItsRequestsAndAccounts) {
  Account a = add_account(st()), b = add_account(st());
  Webhook wa = add_webhook(st(), a), wb = add_webhook(st(), b);
  append(st(), a, {event("old", T)});
  claim(st(), T);  // "old" is in a batch already
  std::vector<AppendRequest> reqs{{a.id, {event("x", T), event("y", T)}, T},
                                  {b.id, {event("x", T)}, T},
                                  {a.id, {event("y", T), event("old", T), event("z", T)}, T},
                                  {a.id, {event("x", T)}, T}};
  auto r = st().append_events(reqs);
  ASSERT_EQ(r.size(), 4u);
  for (auto& one : r) ASSERT_TRUE(one.ok()) << one.error().message;
  EXPECT_EQ(r[0]->stored, 2);
  EXPECT_EQ(r[1]->stored, 1);
  EXPECT_EQ(r[2]->stored, 1);
  EXPECT_EQ(r[2]->ids, (std::vector<std::string>{"y", "old", "z"}));
  EXPECT_EQ(r[3]->stored, 0);
  std::map<std::string, std::vector<std::string>> by_hook;
  for (auto& c : claim(st(), T + 1)) {
    for (auto& id : ids_of(c.events_json)) by_hook[c.webhook.id].push_back(id);
  }
  EXPECT_EQ(by_hook[wa.id], (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(by_hook[wb.id], (std::vector<std::string>{"x"}));
}

TEST_P(EventLogContract, AppendGroupFailsOnlyTheRequestOfAnUnknownAccount) {
  Account a = add_account(st()), b = add_account(st());
  add_webhook(st(), a);
  add_webhook(st(), b);
  std::vector<AppendRequest> reqs{{a.id, {event("a1", T)}, T},
                                  {"acc_unknown", {event("x1", T)}, T},
                                  {b.id, {event("b1", T), event("b2", T)}, T}};
  auto r = st().append_events(reqs);
  ASSERT_EQ(r.size(), 3u);
  ASSERT_TRUE(r[0].ok());
  EXPECT_EQ(r[0]->stored, 1);
  ASSERT_FALSE(r[1].ok());
  EXPECT_EQ(r[1].error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(r[2].ok());
  EXPECT_EQ(r[2]->stored, 2);
  std::multiset<std::string> delivered;
  for (auto& id : ids_of(claim(st(), T))) delivered.insert(id);
  EXPECT_EQ(delivered, (std::multiset<std::string>{"a1", "b1", "b2"}));
}

}  // namespace
}  // namespace growhook::store_test
