// A webhook's stats (store/delivery_activity.h, GET /v1/webhooks/{id}/stats)
// in a store holding a week of its deliveries: B batches of one event each,
// ended over 7 days (one in ten failed once before it was delivered, one in
// a hundred ended failed), beside a second webhook with as many. Times
// webhook_activity one call at a time, and what the index it reads
// (batches_finished_by_webhook, schema 8) costs delivery: the same drain
// into a store with the index and into one without it, alternating, in the
// same run (SQLite).
//
//   build/stats_bench [BATCHES=50000] [CALLS=200] [DIR | postgresql://URL]
//   (PostgreSQL: GROWHOOK_SECRETS_KEYS set, an empty database)
// prints "drain_us_per_batch" with and without the index and their ratio,
// then "stats_ms p50/p99/max".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_store.h"
#include "domain/delivery_stats.h"
#include "domain/event.h"

using namespace growhook;
using growhook::bench::open_store;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kStart = 1'700'000'000'000;

void check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.error().message.c_str());
    std::exit(1);
  }
}

void fill(Store& store, int events) {
  check(store.create_account({"acc_1", "shop", kStart}, "hash"), "account");
  for (int i = 1; i <= 2; ++i) check(store.create_webhook(growhook::bench::bench_webhook(i, 1)), "webhook");
  for (int done = 0; done < events;) {
    AppendRequest r{"acc_1", {}, kStart};
    for (int i = 0; i < 1000 && done < events; ++i, ++done) {
      IncomingEvent e;
      e.occurred_at = "2024-09-26T00:08:18.161Z";
      e.data_json = "{\"msisdn\":" + std::to_string(4915100000000 + done) + "}";
      e.msisdn = 4915100000000 + done;
      set_event_id(e, "evt_" + std::to_string(done));
      r.events.push_back(std::move(e));
    }
    auto res = store.append_events(std::span<const AppendRequest>(&r, 1));
    if (!res[0].ok()) check(res[0].error(), "append");
  }
}

// Claims and records every batch, the clock moving so that they end over
// 7 days; returns microseconds per batch.
double drain(Store& store, int batches) {
  ClaimRequest req;
  req.owner = "bench";
  req.per_webhook_in_flight = 64;
  req.max_batches = 128;
  const int64_t step = 7 * kDayMs / std::max(1, batches / 64 + 1);
  std::vector<AttemptOutcome> outcomes;
  long n = 0;
  const auto t0 = Clock::now();
  for (int64_t t = kStart;; t += step) {
    req.now_ms = t;
    auto claimed = store.record_and_claim(outcomes, req);
    if (!claimed.ok()) check(claimed.error(), "claim");
    outcomes.clear();
    if (claimed->empty()) break;
    for (const auto& c : *claimed) {
      const bool fails = (n % 10 == 0 && c.batch.cycle_attempts == 0) || n % 100 == 1;
      const BatchState state = !fails ? BatchState::kDelivered : n % 100 == 1 ? BatchState::kFailed : BatchState::kPending;
      AttemptOutcome o = growhook::bench::outcome_of(c, t, fails ? 500 : 200, state);
      if (state == BatchState::kPending) o.next_attempt_at_ms = t;  // due in the next turn
      outcomes.push_back(std::move(o));
      ++n;
    }
  }
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / static_cast<double>(n);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int batches = argc > 1 ? std::atoi(argv[1]) : 50'000;
  const int calls = argc > 2 ? std::atoi(argv[2]) : 200;
  const std::string where = argc > 3 ? argv[3] : "/tmp/growhook-stats-bench";
  if (where.rfind("postgres", 0) != 0) {
    std::vector<double> with, without;
    for (int round = 0; round < 3; ++round) {
      for (bool bare : {true, false}) {
        const std::string dir = where + "-ab";
        {
          auto s = open_store(dir);
          if (!s.ok()) check(s.error(), "open");
          fill(**s, std::min(batches, 20'000));
        }
        if (bare) growhook::bench::exec_on_sqlite_folder(dir, "DROP INDEX batches_finished_by_webhook");
        auto s = open_sqlite_store(dir);
        if (!s.ok()) check(s.error(), "reopen");
        (bare ? without : with).push_back(drain(**s, 2 * std::min(batches, 20'000)));
        s->reset();
        std::filesystem::remove_all(dir);
      }
    }
    std::printf("drain_us_per_batch (%d batches of 1 event, 2 webhooks, median of 3): with the index %.1f, "
                "without %.1f, ratio %.3f\n",
                2 * std::min(batches, 20'000), median(with), median(without), median(with) / median(without));
  }
  auto opened = open_store(where);
  if (!opened.ok()) check(opened.error(), "open");
  Store& store = **opened;
  fill(store, batches);
  drain(store, 2 * batches);
  const int64_t now = kStart + 7 * kDayMs;
  std::vector<double> ms;
  ActivityCounts total;
  for (int i = 0; i < calls; ++i) {
    const auto t = Clock::now();
    auto r = store.webhook_activity("acc_1", "wh_1", activity_since(now));
    if (!r.ok()) check(r.error(), "webhook_activity");
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    if (i == 0) {
      for (const auto& b : activity_series(now, *r).days) total += b.counts;
    }
  }
  std::printf("batches of the webhook %d; in its 7 days: delivered %lld (%lld events), failed attempts %lld, "
              "failed batches %lld\n",
              batches, static_cast<long long>(total.batches_delivered), static_cast<long long>(total.events_delivered),
              static_cast<long long>(total.attempts_failed), static_cast<long long>(total.batches_failed));
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))]; };
  std::printf("stats_ms p50 %.2f p99 %.2f max %.2f (%d calls)\n", at(0.5), at(0.99), ms.back(), calls);
}
