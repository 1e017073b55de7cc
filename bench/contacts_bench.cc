// Finding a contact (store/contacts.h) in a big store: N events over C
// contacts, each with an email, delivered to three webhooks in batches of
// 100, then searches by msisdn and by email of random contacts, timed one
// by one. Also the ingestion cost of the contact indexes: the same events
// appended into stores with and without them, alternating, in the same run.
//
//   build/contacts_bench [EVENTS=1000000] [CONTACTS=100000] [SEARCHES=2000] [DIR | postgresql://URL]
//   (PostgreSQL: GROWHOOK_SECRETS_KEYS set, an empty database)
// prints the append cost with and without the indexes and their ratio,
// "search_msisdn_ms p50/p99/max", "search_email_ms p50/p99/max".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench_store.h"
#include "domain/event.h"

using namespace growhook;
using growhook::bench::open_store;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kBaseMsisdn = 4915100000000;

std::string email_of(int contact) { return "Contact." + std::to_string(contact) + "@Example.com"; }

// Appends the events; returns microseconds per event.
double fill(Store& store, int events, int contacts) {
  const auto start = Clock::now();
  for (int done = 0; done < events;) {
    AppendRequest r{"acc_1", {}, kNow};
    for (int i = 0; i < 1000 && done < events; ++i, ++done) {
      const int contact = done % contacts;
      IncomingEvent e;
      e.type = (done / contacts) % 2 ? EventType::kUnsubscribed : EventType::kSubscribed;
      e.occurred_at = "2024-09-26T00:08:18.161Z";
      e.data_json = "{\"msisdn\":" + std::to_string(kBaseMsisdn + contact) + ",\"ecom_email\":\"" + email_of(contact) +
                    "\",\"source\":\"form\"}";
      e.msisdn = kBaseMsisdn + contact;
      e.email = ascii_lower(email_of(contact));
      set_event_id(e, "evt_" + std::to_string(done));
      r.events.push_back(std::move(e));
    }
    auto res = store.append_events(std::span<const AppendRequest>(&r, 1));
    if (!res[0].ok()) {
      std::fprintf(stderr, "append: %s\n", res[0].error().message.c_str());
      std::exit(1);
    }
  }
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count() / events;
}

bool setup(Store& store) {
  if (!store.create_account({"acc_1", "shop", kNow}, "hash").ok()) return false;
  for (int i = 1; i <= 3; ++i) {
    if (!store.create_webhook(growhook::bench::bench_webhook(i)).ok()) return false;
  }
  return true;
}

// Cuts and "delivers" every batch, so that each event has its batches.
int drain(Store& store) {
  ClaimRequest req;
  req.owner = "bench";
  req.per_webhook_in_flight = 64;
  req.max_batches = 192;
  std::vector<AttemptOutcome> outcomes;
  int batches = 0;
  for (int64_t t = kNow;; ++t) {
    req.now_ms = t;
    auto claimed = store.record_and_claim(outcomes, req);
    if (!claimed.ok()) {
      std::fprintf(stderr, "claim: %s\n", claimed.error().message.c_str());
      std::exit(1);
    }
    outcomes.clear();
    if (claimed->empty()) break;
    for (const auto& c : *claimed) outcomes.push_back(growhook::bench::outcome_of(c, t, 200, BatchState::kDelivered));
    batches += static_cast<int>(claimed->size());
  }
  return batches;
}

void report(const char* what, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))]; };
  std::printf("%s p50 %.2f p99 %.2f max %.2f\n", what, at(0.5), at(0.99), ms.back());
}

}  // namespace

int main(int argc, char** argv) {
  const int events = argc > 1 ? std::atoi(argv[1]) : 1'000'000;
  const int contacts = argc > 2 ? std::atoi(argv[2]) : 100'000;
  const int searches = argc > 3 ? std::atoi(argv[3]) : 2000;
  const std::string where = argc > 4 ? argv[4] : "/tmp/growhook-contacts-bench";
  const bool sqlite = where.rfind("postgres", 0) != 0;

  if (sqlite) {
    // The ingestion cost of the contact indexes: the same appends into a
    // fresh store with them and into one without them (dropped right after
    // the schema was made), three rounds each, alternating, medians.
    const int ab_events = std::min(events, 100'000);
    std::vector<double> with, without;
    for (int round = 0; round < 3; ++round) {
      for (bool bare : {true, false}) {
        const std::string dir = where + "-ab";
        {
          auto s = open_store(dir);
          if (!s.ok() || !setup(**s)) return 1;
        }
        if (bare) growhook::bench::exec_on_sqlite_folder(dir, "DROP INDEX events_by_msisdn; DROP INDEX events_by_email");
        auto s = open_sqlite_store(dir);
        if (!s.ok()) return 1;
        (bare ? without : with).push_back(fill(**s, ab_events, contacts));
        s->reset();
        std::filesystem::remove_all(dir);
      }
    }
    std::sort(with.begin(), with.end());
    std::sort(without.begin(), without.end());
    std::printf("append_us_per_event (%d events, median of 3): with the contact indexes %.2f, without %.2f, "
                "ratio %.2f\n",
                ab_events, with[1], without[1], with[1] / without[1]);
  }
  auto opened = open_store(where);
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.error().message.c_str());
    return 1;
  }
  Store& store = **opened;
  if (!setup(store)) return 1;
  const double per_event = fill(store, events, contacts);
  std::printf("events %d contacts %d\nappend_us_per_event %.2f\n", events, contacts, per_event);
  const auto t0 = Clock::now();
  const int batches = drain(store);
  std::printf("batches %d (drained in %.1f s)\n", batches,
              std::chrono::duration<double>(Clock::now() - t0).count());

  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pick(0, contacts - 1);
  std::vector<double> by_msisdn, by_email;
  size_t found = 0;
  for (int i = 0; i < searches; ++i) {
    const int c = pick(rng);
    ContactQuery q;
    q.msisdn = kBaseMsisdn + c;
    auto t = Clock::now();
    auto r = store.find_contact_events("acc_1", q);
    by_msisdn.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    if (r.ok()) found += r->size();
    ContactQuery e;
    e.email = "contact." + std::to_string(c) + "@example.COM";
    t = Clock::now();
    r = store.find_contact_events("acc_1", e);
    by_email.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    if (r.ok()) found += r->size();
  }
  std::printf("events found per search %.1f\n", static_cast<double>(found) / (2.0 * searches));
  report("search_msisdn_ms", by_msisdn);
  report("search_email_ms", by_email);
  if (sqlite) std::filesystem::remove_all(where);
  return found > 0 ? 0 : 1;
}
