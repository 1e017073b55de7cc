// The batching rule with exact numbers: sizes, bytes, order, and where the
// webhook's position ends.
#include "domain/batching.h"

#include <gtest/gtest.h>

namespace growhook {
namespace {

// Events seq first..first+n-1, bodies of `len` bytes ("aaa…"), occurring in
// log order unless `occurred` says otherwise.
std::vector<PendingEvent> events(int64_t first, int n, size_t len = 10, std::vector<int64_t> occurred = {}) {
  std::vector<PendingEvent> out;
  for (int i = 0; i < n; ++i) {
    int64_t seq = first + i;
    out.push_back({seq, occurred.empty() ? seq : occurred[i], 1000 + seq, std::string(len, 'a' + i % 26)});
  }
  return out;
}

std::vector<int> sizes(const Packing& p) {
  std::vector<int> out;
  for (const auto& b : p.batches) out.push_back(b.event_count);
  return out;
}

TEST(Batching, BatchesAreCutUpToMaxEventsInLogOrder) {
  auto p = pack_batches(events(11, 5), 10, 20, /*complete=*/true, {2, 1 << 20, 10});
  EXPECT_EQ(sizes(p), (std::vector<int>{2, 2, 1}));
  ASSERT_EQ(p.batches.size(), 3u);
  EXPECT_EQ(p.batches[0].first_seq, 11);
  EXPECT_EQ(p.batches[0].last_seq, 12);
  EXPECT_EQ(p.batches[1].first_seq, 13);
  EXPECT_EQ(p.batches[2].last_seq, 15);
  EXPECT_EQ(p.batches[0].events_json, "[" + std::string(10, 'a') + "," + std::string(10, 'b') + "]");
  EXPECT_EQ(p.batches[1].oldest_created_at_ms, 1013);
  EXPECT_EQ(p.position, 20) << "every pending event of its types up to head is in a batch";
}

TEST(Batching, ABatchTakesNoMoreBytesThanItsCapCountingACommaAnEvent) {
  // "[" + 3 x (10 + 1) + "]" = 35 bytes: three events fit, a fourth does not.
  auto p = pack_batches(events(1, 7), 0, 7, true, {100, 35, 10});
  EXPECT_EQ(sizes(p), (std::vector<int>{3, 3, 1}));
  auto tighter = pack_batches(events(1, 7), 0, 7, true, {100, 34, 10});
  EXPECT_EQ(sizes(tighter), (std::vector<int>{2, 2, 2, 1}));
}

TEST(Batching, AnEventLargerThanTheCapGoesAlone) {
  auto p = pack_batches(events(1, 2, 500), 0, 2, true, {100, 10, 10});
  EXPECT_EQ(sizes(p), (std::vector<int>{1, 1}));
  EXPECT_EQ(p.batches[0].events_json.size(), 502u);
}

TEST(Batching, EventsInABatchAreOrderedByOccurredAtThenByLog) {
  auto p = pack_batches(events(1, 4, 1, {300, 100, 200, 100}), 0, 4, true, {10, 1 << 20, 1});
  ASSERT_EQ(p.batches.size(), 1u);
  EXPECT_EQ(p.batches[0].events_json, "[b,d,c,a]");
  EXPECT_EQ(p.batches[0].first_seq, 1);
  EXPECT_EQ(p.batches[0].last_seq, 4) << "the batch covers the log range, whatever the order inside";
}

TEST(Batching, OutOfRoomThePositionStopsAtTheLastBatch) {
  auto p = pack_batches(events(1, 5), 0, 9, /*complete=*/true, {2, 1 << 20, /*max_batches=*/2});
  EXPECT_EQ(sizes(p), (std::vector<int>{2, 2}));
  EXPECT_EQ(p.position, 4) << "event 5 stays pending";
}

TEST(Batching, AnIncompleteReadStopsThePositionAtItsLastEvent) {
  // The store read as many as it asked for: more may follow, up to head.
  auto p = pack_batches(events(3, 4), 2, 50, /*complete=*/false, {2, 1 << 20, 2});
  EXPECT_EQ(sizes(p), (std::vector<int>{2, 2}));
  EXPECT_EQ(p.batches[0].first_seq, 3);
  EXPECT_EQ(p.position, 6);
}

TEST(Batching, NothingOfItsTypesPendingMovesThePositionToHead) {
  auto p = pack_batches({}, 7, 12, true, {100, 1 << 20, 4});
  EXPECT_TRUE(p.batches.empty());
  EXPECT_EQ(p.position, 12);
  // Events of other types before the first one of its own belong to its first batch's range.
  auto q = pack_batches(events(10, 1), 7, 12, true, {100, 1 << 20, 4});
  ASSERT_EQ(q.batches.size(), 1u);
  EXPECT_EQ(q.batches[0].first_seq, 8);
  EXPECT_EQ(q.position, 12);
}

TEST(Batching, ABatchReadAgainHasTheSameJsonAsWhenItWasCut) {
  auto evs = events(1, 3, 1, {20, 10, 10});
  EXPECT_EQ(batch_events_json(evs), "[b,c,a]");
  EXPECT_EQ(oldest_created_at_ms(evs), 1001);
  EXPECT_EQ(batch_events_json({}), "[]");
  EXPECT_EQ(oldest_created_at_ms({}), 0);
}

TEST(Batching, LimitsComeFromTheWebhookWithinTheNodesCap) {
  Webhook w;
  w.batch_max_events = 7;
  w.batch_max_bytes = 4096;
  auto l = batch_limits(w, 1 << 20, 3);
  EXPECT_EQ(l.max_events, 7);
  EXPECT_EQ(l.max_bytes, 4096u);
  EXPECT_EQ(l.max_batches, 3);
  EXPECT_EQ(batch_limits(w, 1000, 3).max_bytes, 1000u);
  EXPECT_EQ(events_to_read(l), 21);
}

}  // namespace
}  // namespace growhook
