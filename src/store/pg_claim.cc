#include "store/pg_claim.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "common/ids.h"
#include "domain/batching.h"
#include "domain/health.h"
#include "store/codec.h"
#include "store/pg_ordering.h"
#include "store/pg_outbox.h"
#include "store/pg_rows.h"

namespace growhook::pg {
namespace {

using Busy = std::unordered_map<std::string, int>;

// Batches in flight per webhook over all nodes: this node's own count, or
// the live leases in the database when they are more (other nodes' work),
// so that per_webhook_in_flight bounds a webhook across the cluster.
Result<Busy> busy_webhooks(Conn& c, const ClaimRequest& req) {
  Busy busy = req.in_flight;
  GH_PG_ASSIGN(r, c.exec("SELECT webhook_id, count(*) FROM batches WHERE lease_owner IS NOT NULL AND "
                         "lease_until > $1::bigint AND state = 'pending' GROUP BY webhook_id",
                         Params().add(req.now_ms)));
  for (int i = 0; i < r->rows(); ++i) {
    int& n = busy[r->str(i, 0)];
    n = std::max(n, static_cast<int>(r->i64(i, 1)));
  }
  return busy;
}

// Webhooks a claim leaves out in its query: those at their limit, and the
// failing ones once their lane is full (delivery/fair_share.h).
std::vector<std::string> left_out(const ClaimRequest& req, const Busy& busy, const LaneRoom& lanes) {
  std::vector<std::string> full;
  for (const auto& [id, n] : busy) {
    if (n >= req.limit_for(id)) full.push_back(id);
  }
  if (lanes.failing_full()) {
    for (auto& id : req.failing_ids()) full.push_back(std::move(id));
  }
  return full;
}

// Everyone but the fast webhooks is left out once the unproven lane is full;
// a null array restricts nothing.
Params& add_only_fast(Params& p, const ClaimRequest& req, const LaneRoom& lanes) {
  if (!lanes.only_fast()) return p.add_null();
  return p.add(text_array(req.fast_ids()));
}

Status claim_due(Conn& c, const ClaimRequest& req, Busy& busy, LaneRoom& lanes, std::vector<ClaimedBatch>& out) {
  // Webhooks at their limit are left out in the query, not after it: the
  // due batches of a few saturated (slow or dead) webhooks must not fill the
  // window and hide everyone else's retries.
  std::vector<std::string> full = left_out(req, busy, lanes);
  GH_PG_ASSIGN(due, c.exec("SELECT " GH_PG_BATCH_COLUMNS ", b.first_seq, b.last_seq, b.type_mask, "
                           "w.failing_since IS NOT NULL, b.members "
                           "FROM batches b JOIN webhooks w ON w.id = b.webhook_id WHERE b.state = 'pending' AND "
                           "b.next_attempt_at <= $1::bigint AND b.lease_until <= $1::bigint AND w.enabled "
                           "AND b.webhook_id <> ALL($3::text[]) AND ($4::text[] IS NULL OR b.webhook_id = ANY($4)) "
                           "AND (w.failing_since IS NULL OR w.next_probe_at <= $1::bigint) "
                           "ORDER BY b.next_attempt_at LIMIT $2::integer FOR NO KEY UPDATE OF b SKIP LOCKED",
                           add_only_fast(Params().add(req.now_ms).add(req.max_batches * 4).add(text_array(full)),
                                         req, lanes)));
  std::vector<int> chosen;
  std::vector<std::string> ids, webhook_ids;
  for (int i = 0; i < due->rows() && static_cast<int>(chosen.size()) < req.max_batches; ++i) {
    int& n = busy[due->str(i, 1)];
    if (n >= in_flight_limit(due->boolean(i, 11), req.limit_for(due->str(i, 1))) ||
        lanes.left(due->str(i, 1)) <= 0)
      continue;
    ++n;
    lanes.take(due->str(i, 1), 1);
    chosen.push_back(i);
    ids.push_back(due->str(i, 0));
    webhook_ids.push_back(due->str(i, 1));
  }
  if (chosen.empty()) return ok_status();
  GH_PG_ASSIGN(leased, c.exec("UPDATE batches SET lease_owner = $2::text, lease_until = $3::bigint "
                              "WHERE id = ANY($1::text[])",
                              Params().add(text_array(ids)).add(req.owner).add(req.now_ms + req.lease_ms)));
  GH_PG_ASSIGN(hooks, c.exec("SELECT " GH_PG_WEBHOOK_COLUMNS " FROM webhooks w WHERE w.id = ANY($1::text[])",
                             Params().add(text_array(webhook_ids))));
  std::unordered_map<std::string, Webhook> by_id;
  for (int i = 0; i < hooks->rows(); ++i) {
    auto w = webhook_from_row(c.secrets(), *hooks, i);
    if (!w.ok()) return w.error();
    by_id.emplace(w->id, std::move(*w));
  }
  for (int i : chosen) {
    ClaimedBatch cb;
    cb.batch = batch_from_row(*due, i);
    cb.webhook = by_id[cb.batch.webhook_id];
    GH_PG_ASSIGN(ev, batch_events(c, cb.batch.account_id, cb.batch.id, due->boolean(i, 12), due->i64(i, 8),
                                  due->i64(i, 9), due->i64(i, 10), &cb.oldest_event_created_ms));
    cb.events_json = std::move(*ev);
    cb.by_contact = due->boolean(i, 12);
    out.push_back(std::move(cb));
  }
  return ok_status();
}

// Cuts up to `count` batches from the webhook's events after its position
// (updated) by the batching rule (domain/batching.h), in three statements
// whatever the count: the events, the position, the batches. None when none
// of its types is pending: the position then moves to head, as it does when
// every pending event of its types went into the batches.
Result<std::vector<ClaimedBatch>> cut_batches(Conn& c, const ClaimRequest& req, const Webhook& w, int64_t& position,
                                              int64_t head, int count) {
  std::vector<ClaimedBatch> out;
  const BatchLimits limits = batch_limits(w, req.max_batch_bytes, count);
  const int64_t limit = events_to_read(limits);
  GH_PG_ASSIGN(r, c.exec("SELECT seq, occurred_at, created_at, body FROM events WHERE account_id = $1::text AND "
                         "seq > $2::bigint AND seq <= $3::bigint AND (type & $4::smallint) <> 0 "
                         "ORDER BY seq LIMIT $5::bigint",
                         Params().add(w.account_id).add(position).add(head).add(static_cast<int>(w.event_types))
                             .add(limit)));
  std::vector<PendingEvent> rows;
  rows.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) rows.push_back({r->i64(i, 0), r->i64(i, 1), r->i64(i, 2), r->str(i, 3)});
  // Fewer rows than asked: nothing more of its types up to head.
  Packing packed = pack_batches(rows, position, head, r->rows() < limit, limits);
  position = packed.position;
  GH_PG_ASSIGN(u, c.exec("UPDATE webhooks SET cursor = $2::bigint WHERE id = $1::text",
                         Params().add(w.id).add(position)));
  if (packed.batches.empty()) return out;

  std::vector<std::string> ids;
  std::vector<int64_t> firsts, lasts, counts;
  for (auto& cut : packed.batches) {
    ClaimedBatch cb;
    cb.webhook = w;
    Batch& b = cb.batch;
    b.id = new_id("bat", req.now_ms);
    b.webhook_id = w.id;
    b.account_id = w.account_id;
    b.state = BatchState::kPending;
    b.event_count = cut.event_count;
    b.created_at_ms = req.now_ms;
    b.next_attempt_at_ms = req.now_ms;
    ids.push_back(b.id);
    firsts.push_back(cut.first_seq);
    lasts.push_back(cut.last_seq);
    counts.push_back(b.event_count);
    cb.oldest_event_created_ms = cut.oldest_created_at_ms;
    cb.events_json = std::move(cut.events_json);
    out.push_back(std::move(cb));
  }
  GH_PG_ASSIGN(ins, c.exec("INSERT INTO batches(id, webhook_id, account_id, state, first_seq, last_seq, type_mask, "
                           "event_count, created_at, updated_at, next_attempt_at, cycle_attempts, lease_owner, "
                           "lease_until) SELECT t.id, $2, $3, 'pending', t.first_seq, t.last_seq, $4, t.event_count, "
                           "$5, $5, $5, 0, $6, $7 FROM unnest($1::text[], $8::bigint[], $9::bigint[], $10::integer[]) "
                           "AS t(id, first_seq, last_seq, event_count)",
                           Params().add(text_array(ids)).add(w.id).add(w.account_id)
                               .add(static_cast<int>(w.event_types)).add(req.now_ms).add(req.owner)
                               .add(req.now_ms + req.lease_ms).add(int_array(firsts)).add(int_array(lasts))
                               .add(int_array(counts))));
  return out;
}

Status cut_new_batches(Conn& c, const ClaimRequest& req, Busy& busy, LaneRoom& lanes,
                       std::vector<ClaimedBatch>& out) {
  if (static_cast<int>(out.size()) >= req.max_batches) return ok_status();
  std::vector<std::string> full = left_out(req, busy, lanes);
  // head_seq comes from this statement's snapshot: every event up to it is
  // committed, and none at or below it can commit later (see
  // postgres_store.cc), so the position never passes an event still invisible.
  // At most as many webhooks as there are batches left to cut (each gives
  // one at least, or has nothing of its types and just moves its position):
  // the rows locked here are skipped by the other nodes' claims until this
  // commits, so locking every webhook with work would leave them none.
  GH_PG_ASSIGN(cand, c.exec("SELECT " GH_PG_WEBHOOK_COLUMNS ", w.cursor, a.head_seq, w.deferred_ready FROM "
                            "webhooks w JOIN accounts a ON a.id = w.account_id WHERE w.enabled AND (w.cursor < "
                            "w.work_seq OR w.deferred_ready) "
                            "AND w.id <> ALL($1::text[]) AND ($4::text[] IS NULL OR w.id = ANY($4)) AND "
                            "(w.failing_since IS NULL OR (w.next_probe_at <= $3::bigint AND NOT EXISTS (SELECT 1 "
                            "FROM batches b WHERE b.webhook_id = w.id AND b.state = 'pending'))) "
                            "LIMIT $2::integer FOR NO KEY UPDATE OF w SKIP LOCKED",
                            add_only_fast(Params().add(text_array(full))
                                              .add(req.max_batches - static_cast<int>(out.size()))
                                              .add(req.now_ms), req, lanes)));
  if (req.counts) req.counts->webhooks_read += cand->rows();
  for (int i = 0; i < cand->rows() && static_cast<int>(out.size()) < req.max_batches; ++i) {
    auto opened = webhook_from_row(c.secrets(), *cand, i);
    if (!opened.ok()) return opened.error();
    Webhook& w = *opened;
    int64_t position = cand->i64(i, kWebhookColumnCount), head = cand->i64(i, kWebhookColumnCount + 1);
    int& n = busy[w.id];
    int room = std::min({in_flight_limit(w.health.failing(), req.limit_for(w.id)) - n,
                         req.max_batches - static_cast<int>(out.size()), lanes.left(w.id)});
    if (room <= 0) continue;
    const bool deferred_ready = cand->boolean(i, kWebhookColumnCount + 2);
    GH_PG_ASSIGN(cut, w.ordering == Ordering::kContact || deferred_ready
                          ? cut_by_contact(c, req, w, position, head, room, deferred_ready)
                          : cut_batches(c, req, w, position, head, room));
    n += static_cast<int>(cut->size());
    lanes.take(w.id, static_cast<int>(cut->size()));
    for (auto& b : *cut) out.push_back(std::move(b));
  }
  return ok_status();
}

// What became of an outcome's batch: recorded or dropped (lease lost), and
// whether it was cut by contact (its end releases contacts).
struct Applied {
  bool recorded = false;
  bool members = false;
};

// Applies one outcome when its lease is still held.
Result<Applied> record_one(Conn& c, const AttemptOutcome& o) {
  GH_PG_ASSIGN(r, c.exec("WITH b AS (UPDATE batches SET state = $3::text, next_attempt_at = $4::bigint, "
                         "cycle_attempts = cycle_attempts + 1, lease_owner = NULL, lease_until = 0, updated_at = "
                         "$5::bigint WHERE id = $1::text AND lease_owner = $2::text RETURNING id, members), "
                         "a AS (INSERT INTO attempts(batch_id, n, at, status_code, duration_ms, error, response_body) "
                         "SELECT b.id, (SELECT coalesce(max(n), 0) + 1 FROM attempts WHERE batch_id = $1::text), "
                         "$6::bigint, $7::integer, $8::bigint, $9::text, $10::text FROM b) SELECT members FROM b",
                         Params()
                             .add(o.batch_id)
                             .add(o.owner)
                             .add(to_string(o.new_state))
                             .add(o.next_attempt_at_ms)
                             .add(o.attempt.at_ms + o.attempt.duration_ms)
                             .add(o.attempt.at_ms)
                             .add(o.attempt.status_code)
                             .add(o.attempt.duration_ms)
                             .add(clean_text(o.attempt.error))
                             .add(clean_text(o.attempt.response_body))));
  if (r->rows() == 0) return Applied{};
  return Applied{true, r->boolean(0, 0)};
}

// record_one for many outcomes of distinct batches, sorted by batch id, in
// two statements; returns the batch ids whose outcome was applied (the
// others' lease was lost), with whether each was cut by contact.
Result<std::unordered_map<std::string, bool>> record_all(Conn& c, const std::vector<const AttemptOutcome*>& sorted) {
  std::vector<std::string> ids, owners, states, errors, bodies;
  std::vector<int64_t> updated, at, status, duration;
  std::string next = "{";
  for (const AttemptOutcome* o : sorted) {
    ids.push_back(o->batch_id);
    owners.push_back(o->owner);
    states.emplace_back(to_string(o->new_state));
    if (next.size() > 1) next += ',';
    next += o->next_attempt_at_ms ? std::to_string(*o->next_attempt_at_ms) : "NULL";
    updated.push_back(o->attempt.at_ms + o->attempt.duration_ms);
    at.push_back(o->attempt.at_ms);
    status.push_back(o->attempt.status_code);
    duration.push_back(o->attempt.duration_ms);
    errors.push_back(clean_text(o->attempt.error));
    bodies.push_back(clean_text(o->attempt.response_body));
  }
  next += '}';
  const std::string id_array = text_array(ids);
  // The locks in batch id order, as record_one one by one would take them.
  // (Below, "id = ANY" as well as the join, so that the batches are found
  // by their key rather than by scanning the table.)
  GH_PG_ASSIGN(l, c.exec("SELECT id FROM batches WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE",
                         Params().add(id_array)));
  GH_PG_ASSIGN(r, c.exec("WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], "
                         "$5::bigint[], $6::bigint[], $7::integer[], $8::bigint[], $9::text[], $10::text[]) AS "
                         "u(batch_id, owner, state, next_attempt_at, updated_at, at, status_code, duration_ms, "
                         "error, response_body)), "
                         "b AS (UPDATE batches SET state = u.state, next_attempt_at = u.next_attempt_at, "
                         "cycle_attempts = cycle_attempts + 1, lease_owner = NULL, lease_until = 0, updated_at = "
                         "u.updated_at FROM u WHERE batches.id = ANY($1::text[]) AND batches.id = u.batch_id AND "
                         "batches.lease_owner = u.owner "
                         "RETURNING batches.id, batches.members), "
                         "a AS (INSERT INTO attempts(batch_id, n, at, status_code, duration_ms, error, response_body) "
                         "SELECT u.batch_id, (SELECT coalesce(max(a.n), 0) + 1 FROM attempts a WHERE a.batch_id = "
                         "u.batch_id), u.at, u.status_code, u.duration_ms, u.error, u.response_body "
                         "FROM u JOIN b ON b.id = u.batch_id) SELECT id, members FROM b",
                         Params()
                             .add(id_array)
                             .add(text_array(owners))
                             .add(text_array(states))
                             .add(next)
                             .add(int_array(updated))
                             .add(int_array(at))
                             .add(int_array(status))
                             .add(int_array(duration))
                             .add(text_array(errors))
                             .add(text_array(bodies))));
  std::unordered_map<std::string, bool> applied;
  for (int i = 0; i < r->rows(); ++i) applied.emplace(r->str(i, 0), r->boolean(i, 1));
  return applied;
}

// The health of the webhooks of these outcomes (domain/health.h): their
// rows read and locked in id order in one statement, observe() applied to
// each outcome in turn, the rows that changed written back; a change to
// disabled disables the webhook.
Status record_health(Conn& c, const std::vector<const AttemptOutcome*>& outcomes) {
  if (outcomes.empty()) return ok_status();
  std::vector<std::string> ids;
  for (const AttemptOutcome* o : outcomes) ids.push_back(o->webhook_id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  GH_PG_ASSIGN(r, c.exec("SELECT " GH_PG_WEBHOOK_HEALTH_COLUMNS ", w.id FROM webhooks w WHERE w.id = "
                         "ANY($1::text[]) ORDER BY w.id FOR NO KEY UPDATE",
                         Params().add(text_array(ids))));
  struct Row {
    WebhookHealth stored, now;
    std::string disabled_reason;
    int64_t disabled_at = 0;
  };
  std::map<std::string, Row> rows;  // enabled webhooks only: a disabled one's health waits for it
  for (int i = 0; i < r->rows(); ++i) {
    if (!r->boolean(i, 5)) continue;
    WebhookHealth h = health_from_row(*r, i);
    rows.emplace(r->str(i, 6), Row{h, h, "", 0});
  }
  std::vector<std::pair<std::string, HealthNews>> news;  // written after the webhooks, in their order
  for (const AttemptOutcome* o : outcomes) {
    auto it = rows.find(o->webhook_id);
    if (it == rows.end() || !it->second.disabled_reason.empty()) continue;
    const AttemptReport report = health_report(*o);
    HealthStep step = observe(it->second.now, report, o->health);
    log_health_change(o->webhook_id, step);
    if (auto n = health_news(it->second.now, step, report.at_ms)) news.emplace_back(o->webhook_id, std::move(*n));
    it->second.now = step.health;
    if (step.change == HealthChange::kDisabled) {
      it->second.disabled_reason = step.disabled_reason;
      it->second.disabled_at = o->attempt.at_ms;
    }
  }
  for (const auto& [id, row] : rows) {
    if (row.now == row.stored && row.disabled_reason.empty()) continue;
    const WebhookHealth& h = row.now;
    const bool disable = !row.disabled_reason.empty();
    GH_PG_ASSIGN(u, c.exec("UPDATE webhooks SET failing_since = $2::bigint, failure_streak = $3::integer, "
                           "probe_count = $4::integer, next_probe_at = $5::bigint, last_error = $6::text, "
                           "enabled = enabled AND NOT $7::boolean, disabled_reason = CASE WHEN $7::boolean THEN "
                           "$8::text ELSE disabled_reason END, updated_at = CASE WHEN $7::boolean THEN $9::bigint "
                           "ELSE updated_at END WHERE id = $1::text",
                           Params().add(id).add(h.failing_since_ms).add(h.failure_streak).add(h.probe_count)
                               .add(h.next_probe_at_ms).add(clean_text(h.last_error)).add(disable)
                               .add(clean_text(row.disabled_reason)).add(row.disabled_at)));
  }
  // The changes' notifications commit with them (store/outbox.h).
  for (const auto& [id, n] : news) GH_PG_RETURN_IF_ERROR(enqueue_notifications(c, id, n));
  return ok_status();
}

}  // namespace

Result<std::vector<ClaimedBatch>> claim_in_transaction(Conn& c, const ClaimRequest& req) {
  std::vector<ClaimedBatch> out;
  if (req.max_batches <= 0) return out;
  GH_PG_ASSIGN(busy, busy_webhooks(c, req));
  LaneRoom lanes(req);
  GH_PG_RETURN_IF_ERROR(claim_due(c, req, *busy, lanes, out));
  GH_PG_RETURN_IF_ERROR(cut_new_batches(c, req, *busy, lanes, out));
  return out;
}

Status record_outcomes(Conn& c, std::span<const AttemptOutcome> outcomes) {
  // Rows are locked in one order (batches by id, then webhooks by id), so
  // that two nodes recording at once cannot deadlock.
  std::vector<const AttemptOutcome*> sorted;
  for (const auto& o : outcomes) sorted.push_back(&o);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const AttemptOutcome* a, const AttemptOutcome* b) { return a->batch_id < b->batch_id; });
  bool distinct = std::adjacent_find(sorted.begin(), sorted.end(), [](const AttemptOutcome* a,
                                                                       const AttemptOutcome* b) {
                    return a->batch_id == b->batch_id;
                  }) == sorted.end();
  std::unordered_set<const AttemptOutcome*> applied;
  std::vector<std::string> ended_by_contact;  // batches cut by contact that ended
  auto note = [&](const AttemptOutcome* o, bool members) {
    applied.insert(o);
    if (members && o->new_state != BatchState::kPending) ended_by_contact.push_back(o->batch_id);
  };
  if (sorted.size() > 1 && distinct) {
    // Many outcomes (a busy node records a turn's worth at once): their
    // rows locked in order in one statement, all recorded in another.
    GH_PG_ASSIGN(ids, record_all(c, sorted));
    for (const AttemptOutcome* o : sorted) {
      auto it = ids->find(o->batch_id);
      if (it != ids->end()) note(o, it->second);
    }
  } else {
    for (const AttemptOutcome* o : sorted) {
      GH_PG_ASSIGN(one, record_one(c, *o));
      if (one->recorded) note(o, one->members);
    }
  }
  // Health follows the attempts in the order they came back.
  std::vector<const AttemptOutcome*> in_order;
  for (const auto& o : outcomes) {
    if (applied.count(&o)) in_order.push_back(&o);
  }
  GH_PG_RETURN_IF_ERROR(record_health(c, in_order));
  // After the webhooks are locked (record_health): see pg_ordering.h.
  return release_contacts(c, ended_by_contact);
}

Status release_leases(Conn& c, const std::string& owner) {
  GH_PG_ASSIGN(r, c.exec("UPDATE batches SET lease_owner = NULL, lease_until = 0 WHERE lease_owner IS NOT NULL "
                         "AND ($1::text = '' OR lease_owner = $1::text)",
                         Params().add(owner)));
  if (r->affected() > 0) return notify_work(c);
  return ok_status();
}

Result<std::optional<int64_t>> next_due_ms(Conn& c) {
  // As SQLite's (sqlite_claim.cc): from batches_due_at and webhooks_failing.
  GH_PG_ASSIGN(r, c.exec("SELECT min(t) FROM ((SELECT greatest(b.next_attempt_at, b.lease_until) AS t FROM batches "
                         "b JOIN webhooks w ON w.id = b.webhook_id WHERE b.state = 'pending' AND w.enabled AND "
                         "w.failing_since IS NULL ORDER BY greatest(b.next_attempt_at, b.lease_until) LIMIT 1) "
                         "UNION ALL SELECT CASE WHEN w.cursor < w.work_seq THEN w.next_probe_at ELSE (SELECT "
                         "min(greatest(b.next_attempt_at, b.lease_until, w.next_probe_at)) FROM batches b WHERE "
                         "b.webhook_id = w.id AND b.state = 'pending') END FROM webhooks w WHERE w.enabled AND "
                         "w.failing_since IS NOT NULL) AS due"));
  return r->opt_i64(0, 0);
}

}  // namespace growhook::pg
