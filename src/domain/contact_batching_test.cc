// pack_by_contact (ordering "contact"): a contact's later event never goes
// while its earlier one is unfinished, and other contacts' events fill the
// batches meanwhile.
#include <gtest/gtest.h>

#include "domain/batching.h"

namespace growhook {
namespace {

// Event seq of contact msisdn (0: none).
ContactEvent ev(int64_t seq, int64_t msisdn, bool deferred = false) {
  ContactEvent e;
  e.event = {seq, seq, 1000 + seq, "{\"s\":" + std::to_string(seq) + "}"};
  if (msisdn) e.msisdn = msisdn;
  e.deferred = deferred;
  return e;
}

std::vector<std::vector<int64_t>> seqs(const ContactPacking& p) {
  std::vector<std::vector<int64_t>> out;
  for (const auto& b : p.batches) out.push_back(b.seqs);
  return out;
}

std::vector<int64_t> deferred(const ContactPacking& p) {
  std::vector<int64_t> out;
  for (const auto& e : p.defer) out.push_back(e.event.seq);
  return out;
}

using V = std::vector<int64_t>;
using VV = std::vector<std::vector<int64_t>>;

TEST(ContactBatching, AHeldContactsEventWaitsAndTheOthersFillTheBatch) {
  std::vector<ContactEvent> fresh = {ev(11, 7), ev(12, 8), ev(13, 7), ev(14, 9)};
  auto p = pack_by_contact({}, true, fresh, true, 10, 20, /*held=*/{7}, {}, {10, 1 << 20, 4});
  EXPECT_EQ(seqs(p), (VV{{12, 14}}));
  EXPECT_EQ(deferred(p), (V{11, 13}));
  EXPECT_EQ(p.position, 20) << "the waiting events are kept aside, so the position passes them";
  ASSERT_EQ(p.batches.size(), 1u);
  EXPECT_EQ(p.batches[0].contacts, (V{8, 9}));
  EXPECT_EQ(p.batches[0].cut.first_seq, 12);
  EXPECT_EQ(p.batches[0].cut.last_seq, 14);
  EXPECT_EQ(p.batches[0].cut.event_count, 2);
  EXPECT_EQ(p.batches[0].cut.events_json, "[{\"s\":12},{\"s\":14}]");
}

TEST(ContactBatching, AContactsEventsShareABatchButNeverTwoBatchesOfOneCut) {
  // Batches of 2: contact 7's first two events share the first batch; its
  // third must wait for that batch, though a second batch is cut.
  std::vector<ContactEvent> fresh = {ev(1, 7), ev(2, 7), ev(3, 7), ev(4, 8), ev(5, 9)};
  auto p = pack_by_contact({}, true, fresh, true, 0, 5, {}, {}, {2, 1 << 20, 4});
  EXPECT_EQ(seqs(p), (VV{{1, 2}, {4, 5}}));
  EXPECT_EQ(deferred(p), (V{3}));
  EXPECT_EQ(p.position, 5);
}

TEST(ContactBatching, EventsWithoutAContactNeverWait) {
  std::vector<ContactEvent> fresh = {ev(1, 7), ev(2, 0), ev(3, 7)};
  auto p = pack_by_contact({}, true, fresh, true, 0, 3, {7}, {}, {10, 1 << 20, 1});
  EXPECT_EQ(seqs(p), (VV{{2}}));
  EXPECT_EQ(deferred(p), (V{1, 3}));
}

TEST(ContactBatching, ReadyDeferredEventsGoFirstAndTheirContactIsHeldAgain) {
  // 3 and 5 waited for contact 7; its batch ended. 5 does not fit the batch
  // that takes 3 (one event a batch), so 7 is held by that batch and the
  // fresh event of 7 waits behind 5.
  std::vector<ContactEvent> ready = {ev(3, 7, true), ev(5, 7, true)};
  std::vector<ContactEvent> fresh = {ev(21, 7), ev(22, 8)};
  auto p = pack_by_contact(ready, true, fresh, true, 20, 22, {}, {}, {1, 1 << 20, 4});
  EXPECT_EQ(seqs(p), (VV{{3}, {22}}));
  EXPECT_EQ(p.taken, (V{3}));
  EXPECT_EQ(deferred(p), (V{21}));
  EXPECT_FALSE(p.ready_left) << "5 waits again: it is not ready any more";
  EXPECT_EQ(p.held_again, (V{7}));
  EXPECT_EQ(p.position, 22);
}

TEST(ContactBatching, FreshEventsWaitUntilEveryReadyOneWasRead) {
  // The store read only part of the ready events: a fresh event could be
  // of a contact whose older deferred event was not read, so none is taken.
  std::vector<ContactEvent> ready = {ev(3, 7, true)};
  std::vector<ContactEvent> fresh = {ev(21, 9)};
  auto p = pack_by_contact(ready, /*ready_complete=*/false, fresh, true, 20, 21, {}, {}, {10, 1 << 20, 4});
  EXPECT_EQ(seqs(p), (VV{{3}}));
  EXPECT_TRUE(p.ready_left);
  EXPECT_TRUE(p.defer.empty());
  EXPECT_EQ(p.position, 20) << "the fresh event is left for the next cut";
}

TEST(ContactBatching, AContactsReadyEventGoesButItsFreshOneWaitsBehindItsOtherDeferredOnes) {
  // 7's first deferred event is ready (its batch ended); more of 7's
  // deferred events wait behind it (queued): 7's fresh event must not pass
  // them, though the ready one goes. 8 is queued only: its fresh one waits.
  std::vector<ContactEvent> ready = {ev(3, 7, true)};
  std::vector<ContactEvent> fresh = {ev(21, 7), ev(22, 8), ev(23, 9)};
  auto p = pack_by_contact(ready, true, fresh, true, 20, 23, {}, /*queued=*/{7, 8}, {10, 1 << 20, 4});
  EXPECT_EQ(seqs(p), (VV{{3, 23}}));
  EXPECT_EQ(deferred(p), (V{21, 22}));
}

TEST(ContactBatching, NoRoomLeftStopsTheCutBeforeTheNextEvent) {
  std::vector<ContactEvent> fresh = {ev(1, 7), ev(2, 8), ev(3, 9)};
  auto p = pack_by_contact({}, true, fresh, true, 0, 9, {}, {}, {1, 1 << 20, 2});
  EXPECT_EQ(seqs(p), (VV{{1}, {2}}));
  EXPECT_TRUE(p.defer.empty());
  EXPECT_EQ(p.position, 2) << "3 is neither in a batch nor waiting: the next cut takes it";
}

TEST(ContactBatching, ReadyEventsLeftForLackOfRoomStayReady) {
  std::vector<ContactEvent> ready = {ev(3, 7, true), ev(4, 8, true)};
  auto p = pack_by_contact(ready, true, {}, true, 20, 20, {}, {}, {1, 1 << 20, 1});
  EXPECT_EQ(seqs(p), (VV{{3}}));
  EXPECT_TRUE(p.ready_left);
  EXPECT_TRUE(p.held_again.empty()) << "4 was not read: it stays ready";
}

TEST(ContactBatching, WithoutHoldingNothingWaits) {
  std::vector<ContactEvent> ready = {ev(3, 7, true)};
  std::vector<ContactEvent> fresh = {ev(21, 7), ev(22, 7)};
  auto p = pack_by_contact(ready, true, fresh, true, 20, 22, {7}, {}, {10, 1 << 20, 1}, /*hold=*/false);
  EXPECT_EQ(seqs(p), (VV{{3, 21, 22}}));
  EXPECT_TRUE(p.defer.empty());
  EXPECT_TRUE(p.batches[0].contacts.empty()) << "no contact is held";
}

TEST(ContactBatching, ABatchTakesNoMoreBytesThanItsCap) {
  std::vector<ContactEvent> fresh = {ev(1, 7), ev(2, 8), ev(3, 9)};  // 7 bytes each: two are 2 + 2 * 8 = 18
  auto p = pack_by_contact({}, true, fresh, true, 0, 3, {}, {}, {10, 19, 4});
  EXPECT_EQ(seqs(p), (VV{{1, 2}, {3}}));
}

}  // namespace
}  // namespace growhook
