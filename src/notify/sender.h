// The notification sender: a thread of its own that takes due rows of the
// outbox (store/outbox.h), sends each on its channel (mail through the
// Mailer, the platform's webhook through a Transport of its own) and
// finishes it: sent, skipped (nowhere to send it), retried later at growing
// delays, or given up after max_attempts. It holds the outbox, accounts and
// webhooks roles of the store only, and never the delivery loop's: an SMTP
// server that is down or hangs delays mail and nothing else.
//
// Bounded: at most per_turn rows a turn, each send bounded by its channel's
// timeouts; between turns it waits (through the injected clock) until the
// next row is due, at most idle_poll_ms (rows written by other nodes, or
// by this node's delivery loop, are found within that), or until stop().
// A turn's rows are leased together for lease_ms, longer than per_turn
// sends can take one after the other, so no other node sends one of them
// meanwhile; a node that dies holding it leaves it due again
// when the lease ends (sent again, with the same dedupe key, if the first
// send got through: receivers drop it by webhook-id or Message-ID).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "delivery/transport.h"
#include "notify/message.h"
#include "notify/smtp.h"
#include "store/accounts.h"
#include "store/outbox.h"
#include "store/webhooks.h"

namespace growhook {

struct SenderOptions {
  std::string owner;            // the lease owner (the node's id)
  std::string smtp_from;        // --smtp-from; mail needs it and a mailer
  std::string platform_url;     // --platform-webhook-url; empty: platform rows are skipped
  std::string platform_secret;  // GROWHOOK_PLATFORM_WEBHOOK_SECRET (whsec_…)
  std::string page_url;         // the page's address in the mail (--public-url + "/")
  Timeouts platform_timeouts;
  int64_t lease_ms = 16 * 35'000 + 30'000;  // per_turn sends of their longest, and a margin
  int per_turn = 16;
  // The waits after failed sends; the last one repeats up to max_attempts.
  std::vector<int64_t> retry_delays_ms = {10'000, 30'000, 60'000, 300'000, 900'000, 3'600'000};
  int max_attempts = 30;        // about a day of tries, then it is given up (logged, counted)
  int64_t idle_poll_ms = 1'000;
  int64_t keep_sent_ms = 7 * 86'400'000LL;  // sent and skipped rows are pruned after this
  int64_t prune_interval_ms = 60'000;
};

class NotificationSender {
 public:
  // mailer and platform may be null (no --smtp-url; no --platform-webhook-url):
  // their rows are then skipped. All references outlive the sender.
  NotificationSender(Outbox& outbox, Accounts& accounts, Webhooks& webhooks, Mailer* mailer, Transport* platform,
                     const Clock& clock, Metrics& metrics, SenderOptions options);
  ~NotificationSender() { stop(); }
  void start();
  // Ends a send in progress (the mailer aborts, the transport is the
  // caller's to stop) and joins. Idempotent.
  void stop();
  // One turn on the caller's thread: claims the due rows (at most
  // per_turn), sends and finishes each. Returns how many it finished.
  int run_once();
  // The wait until the next turn, from the outbox (at most idle_poll_ms).
  int64_t next_wait_ms();

 private:
  NotificationDone send(const Notification& n);
  NotificationDone send_mail(const Notification& n);
  NotificationDone send_platform(const Notification& n);
  NotificationDone retry(const Notification& n, std::string error) const;
  void count(const Notification& n, const NotificationDone& d);
  void loop();

  Outbox& outbox_;
  Accounts& accounts_;
  Webhooks& webhooks_;
  Mailer* mailer_;
  Transport* platform_;
  const Clock& clock_;
  Metrics& metrics_;
  const SenderOptions options_;
  int64_t last_prune_ms_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace growhook
