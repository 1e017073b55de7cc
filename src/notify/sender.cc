#include "notify/sender.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>

#include "common/thread_name.h"

namespace growhook {

NotificationSender::NotificationSender(Outbox& outbox, Accounts& accounts, Webhooks& webhooks, Mailer* mailer,
                                       Transport* platform, const Clock& clock, Metrics& metrics,
                                       SenderOptions options)
    : outbox_(outbox),
      accounts_(accounts),
      webhooks_(webhooks),
      mailer_(mailer),
      platform_(platform),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)) {}

void NotificationSender::start() {
  thread_ = std::thread([this] {
    name_this_thread("gh-notify");
    loop();
  });
}

void NotificationSender::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (mailer_) mailer_->abort();
  if (thread_.joinable()) thread_.join();
}

void NotificationSender::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    run_once();
    const int64_t wait = next_wait_ms();
    lock.lock();
    clock_.wait_for(lock, cv_, wait, [&] { return stopping_; });
  }
}

int64_t NotificationSender::next_wait_ms() {
  auto due = outbox_.next_notification_due_ms();
  if (!due.ok() || !*due) return options_.idle_poll_ms;
  return std::clamp<int64_t>(**due - clock_.now_ms(), 0, options_.idle_poll_ms);
}

int NotificationSender::run_once() {
  const int64_t now = clock_.now_ms();
  if (now - last_prune_ms_ >= options_.prune_interval_ms) {
    last_prune_ms_ = now;
    auto pruned = outbox_.prune_notifications(now - options_.keep_sent_ms, 500);
    if (pruned.ok() && *pruned > 0) metrics_.pruned_rows += static_cast<uint64_t>(*pruned);
  }
  auto claimed = outbox_.claim_notifications(options_.owner, now, options_.lease_ms, options_.per_turn);
  if (!claimed.ok()) {
    metrics_.store_errors++;
    spdlog::warn("msg=\"notification claim failed\" error=\"{}\"", claimed.error().message);
    return 0;
  }
  int finished = 0;
  for (const Notification& n : *claimed) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;  // its lease ends and it is due again after a restart
    }
    NotificationDone d = send(n);
    auto ok = outbox_.finish_notification(options_.owner, d, clock_.now_ms());
    if (!ok.ok()) {
      metrics_.store_errors++;
      spdlog::warn("msg=\"notification not finished\" id={} error=\"{}\"", n.id, ok.error().message);
      continue;
    }
    count(n, d);
    ++finished;
  }
  return finished;
}

NotificationDone NotificationSender::send(const Notification& n) {
  return n.channel == NotificationChannel::kEmail ? send_mail(n) : send_platform(n);
}

NotificationDone NotificationSender::retry(const Notification& n, std::string error) const {
  NotificationDone d{n.id, n.channel, NotificationDone::Outcome::kRetry, 0, std::move(error)};
  if (n.attempts + 1 >= options_.max_attempts) {
    d.outcome = NotificationDone::Outcome::kGiveUp;
    return d;
  }
  const auto& delays = options_.retry_delays_ms;
  const size_t i = std::min(static_cast<size_t>(n.attempts), delays.size() - 1);
  d.retry_at_ms = clock_.now_ms() + delays[i];
  return d;
}

NotificationDone NotificationSender::send_mail(const Notification& n) {
  auto skipped = [&n](std::string why) {
    return NotificationDone{n.id, n.channel, NotificationDone::Outcome::kSkipped, 0, std::move(why)};
  };
  if (!mailer_ || options_.smtp_from.empty()) return skipped("no --smtp-url and --smtp-from");
  auto account = accounts_.get_account(n.account_id);
  if (!account.ok()) {
    if (account.error().code == ErrorCode::kNotFound) return skipped("the account is gone");
    return retry(n, account.error().message);
  }
  if (!account->notification_email) return skipped("the account has no notification_email");
  auto webhook = webhooks_.get_webhook(n.account_id, n.webhook_id);
  if (!webhook.ok()) {
    if (webhook.error().code == ErrorCode::kNotFound) return skipped("the webhook is gone");
    return retry(n, webhook.error().message);
  }
  NotificationFacts facts{webhook->name, webhook->url, 0, 0, options_.page_url};
  if (auto waiting = outbox_.events_waiting(n.webhook_id); waiting.ok()) facts.events_waiting = *waiting;
  if (auto stats = webhooks_.webhook_stats(n.account_id, {n.webhook_id}); stats.ok()) {
    if (auto it = stats->find(n.webhook_id); it != stats->end()) facts.failed_batches = it->second.failed_batches;
  }
  Mail mail = build_mail(n, facts, options_.smtp_from, *account->notification_email, clock_.now_ms());
  MailResult r = mailer_->send(mail);
  if (r.sent) return {n.id, n.channel, NotificationDone::Outcome::kSent, 0, ""};
  spdlog::warn("msg=\"notification mail not sent\" id={} attempt={} error=\"{}\"", n.id, n.attempts + 1, r.error);
  return retry(n, r.error);
}

NotificationDone NotificationSender::send_platform(const Notification& n) {
  if (!platform_ || options_.platform_url.empty()) {
    return {n.id, n.channel, NotificationDone::Outcome::kSkipped, 0, "no --platform-webhook-url"};
  }
  int64_t waiting = 0;
  if (auto w = outbox_.events_waiting(n.webhook_id); w.ok()) waiting = *w;
  OutgoingRequest req = build_platform_request(n, waiting, options_.platform_url, options_.platform_secret,
                                               clock_.now_ms(), options_.platform_timeouts);
  // The transport calls back exactly once (also when it stops), within the
  // request's total timeout.
  auto promise = std::make_shared<std::promise<TransportResult>>();
  auto answer = promise->get_future();
  platform_->send(std::move(req), [promise](TransportResult r) { promise->set_value(std::move(r)); });
  TransportResult r = answer.get();
  if (r.status_code >= 200 && r.status_code < 300) return {n.id, n.channel, NotificationDone::Outcome::kSent, 0, ""};
  std::string error = r.status_code ? "HTTP " + std::to_string(r.status_code) : r.error;
  spdlog::warn("msg=\"platform notification not sent\" id={} attempt={} error=\"{}\"", n.id, n.attempts + 1, error);
  return retry(n, error);
}

void NotificationSender::count(const Notification& n, const NotificationDone& d) {
  const int channel = n.channel == NotificationChannel::kEmail ? 0 : 1;
  switch (d.outcome) {
    case NotificationDone::Outcome::kSent:
      metrics_.notifications[channel][0]++;
      spdlog::info("msg=\"notification sent\" id={} channel={}", n.id, to_string(n.channel));
      break;
    case NotificationDone::Outcome::kRetry: metrics_.notifications[channel][1]++; break;
    case NotificationDone::Outcome::kGiveUp:
      metrics_.notifications[channel][1]++;
      spdlog::error("msg=\"notification given up\" id={} channel={} attempts={} error=\"{}\"", n.id,
                    to_string(n.channel), n.attempts + 1, d.error);
      break;
    case NotificationDone::Outcome::kSkipped: metrics_.notifications[channel][2]++; break;
  }
}

}  // namespace growhook
