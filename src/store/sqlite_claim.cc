#include "store/sqlite_claim.h"

#include <algorithm>
#include <unordered_map>

#include "common/ids.h"
#include "domain/batching.h"
#include "domain/health.h"
#include "store/codec.h"
#include "store/sqlite_ordering.h"
#include "store/sqlite_outbox.h"
#include "store/sqlite_rows.h"

namespace growhook::sqlite {
namespace {

// Batches claimed and not finished, by webhook id.
using Busy = std::unordered_map<std::string, int>;

// ids as a JSON array, for json_each (ids are [a-z0-9_]).
void append_id(std::string& list, const std::string& id) {
  if (list.size() > 1) list += ',';
  list += '"' + id + '"';
}

Status claim_due(Db& db, const ClaimRequest& req, Busy& busy, LaneRoom& lanes,
                 std::vector<ClaimedBatch>& out) {
  struct Due {
    std::string id, webhook_id, account_id;
    int64_t first, last, mask;
    bool failing, members;
  };
  std::vector<Due> due;
  {
    // Webhooks at their limit are left out in the query, not after it: the
    // due batches of a few saturated (slow or dead) webhooks must not fill
    // the window and hide everyone else's retries. So are the failing
    // webhooks once their lane is full (delivery/fair_share.h).
    std::string full = "[";
    for (const auto& [id, n] : busy) {
      if (n >= req.limit_for(id)) append_id(full, id);
    }
    if (lanes.failing_full()) {
      for (const auto& id : req.failing_ids()) append_id(full, id);
    }
    full += ']';
    GH_STMT(s, db,
            "SELECT b.id, b.webhook_id, b.account_id, b.first_seq, b.last_seq, b.type_mask, "
            "w.failing_since IS NOT NULL, b.members FROM batches b "
            "JOIN webhooks w ON w.id = b.webhook_id WHERE b.state = 'pending' AND b.next_attempt_at <= $1 "
            "AND b.lease_until <= $1 AND w.enabled = 1 AND b.webhook_id NOT IN (SELECT value FROM json_each($3)) "
            "AND (w.failing_since IS NULL OR w.next_probe_at <= $1) "
            "ORDER BY b.next_attempt_at LIMIT $2");
    s->bind(1, req.now_ms).bind(2, req.max_batches * 4).bind(3, full);
    while (s->step() == SQLITE_ROW) {
      due.push_back(
          {s->str(0), s->str(1), s->str(2), s->i64(3), s->i64(4), s->i64(5), s->i64(6) != 0, s->i64(7) != 0});
    }
  }
  for (auto& d : due) {
    if (static_cast<int>(out.size()) >= req.max_batches) break;
    int& n = busy[d.webhook_id];
    if (n >= in_flight_limit(d.failing, req.limit_for(d.webhook_id)) || lanes.left(d.webhook_id) <= 0) continue;
    {
      GH_STMT(u, db,
              "UPDATE batches SET lease_owner = $2, lease_until = $3 WHERE id = $1 AND lease_until <= $4");
      u->bind(1, d.id).bind(2, req.owner).bind(3, req.now_ms + req.lease_ms).bind(4, req.now_ms);
      GH_RETURN_IF_ERROR(done(db, u->step(), "lease batch"));
      if (db.changes() == 0) continue;
    }
    ClaimedBatch c;
    auto w = load_webhook(db, d.account_id, d.webhook_id);
    if (!w.ok()) return w.error();
    c.webhook = std::move(*w);
    auto b = load_batch(db, d.id);
    if (!b.ok()) return b.error();
    c.batch = std::move(*b);
    {
      GH_STMT(n, db, "SELECT coalesce(max(n), 0) + 1 FROM attempts WHERE batch_id = $1");
      n->bind(1, d.id);
      int rc = n->step();
      if (rc != SQLITE_ROW) return db.error(rc, "attempt number");
      c.next_attempt_number = static_cast<int>(n->i64(0));
    }
    auto ev = batch_events(db, d.account_id, {d.id, d.members, d.first, d.last, d.mask}, &c.oldest_event_created_ms);
    if (!ev.ok()) return ev.error();
    c.events_json = std::move(*ev);
    c.by_contact = d.members;
    out.push_back(std::move(c));
    ++n;
    lanes.take(d.webhook_id, 1);
  }
  return ok_status();
}

}  // namespace

Result<ClaimedBatch> insert_batch(Db& db, const ClaimRequest& req, const Webhook& w, CutBatch& cut, bool members) {
  ClaimedBatch c;
  c.webhook = w;
  c.batch.id = new_id("bat", req.now_ms);
  c.batch.webhook_id = w.id;
  c.batch.account_id = w.account_id;
  c.batch.state = BatchState::kPending;
  c.batch.event_count = cut.event_count;
  c.batch.created_at_ms = req.now_ms;
  c.batch.next_attempt_at_ms = req.now_ms;
  c.next_attempt_number = 1;
  GH_STMT(ins, db,
          "INSERT INTO batches(id, webhook_id, account_id, state, first_seq, last_seq, type_mask, event_count, "
          "created_at, updated_at, next_attempt_at, cycle_attempts, lease_owner, lease_until, members) "
          "VALUES($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $8, $8, 0, $9, $10, $11)");
  ins->bind(1, c.batch.id).bind(2, w.id).bind(3, w.account_id).bind(4, cut.first_seq).bind(5, cut.last_seq);
  ins->bind(6, static_cast<int>(w.event_types)).bind(7, c.batch.event_count).bind(8, req.now_ms);
  ins->bind(9, req.owner).bind(10, req.now_ms + req.lease_ms).bind(11, members ? 1 : 0);
  GH_RETURN_IF_ERROR(done(db, ins->step(), "insert batch"));
  c.oldest_event_created_ms = cut.oldest_created_at_ms;
  c.events_json = std::move(cut.events_json);
  c.by_contact = members;
  return c;
}

namespace {

// Cuts up to `room` batches from the webhook's pending events after its
// position (domain/batching.h), with one read of the events and one move of
// the position.
Status cut_batches(Db& db, const ClaimRequest& req, const Webhook& w, int64_t position, int64_t head, int room,
                   std::vector<ClaimedBatch>& out) {
  const BatchLimits limits = batch_limits(w, req.max_batch_bytes, room);
  const int64_t limit = events_to_read(limits);
  std::vector<PendingEvent> rows;
  {
    GH_STMT(s, db,
            "SELECT seq, occurred_at, created_at, body FROM events WHERE account_id = $1 AND seq > $2 AND "
            "seq <= $3 AND (type & $4) != 0 ORDER BY seq LIMIT $5");
    s->bind(1, w.account_id).bind(2, position).bind(3, head).bind(4, static_cast<int>(w.event_types));
    s->bind(5, limit);
    while (s->step() == SQLITE_ROW) rows.push_back({s->i64(0), s->i64(1), s->i64(2), s->str(3)});
  }
  // Fewer rows than asked: nothing more of its types up to head.
  Packing packed = pack_batches(rows, position, head, static_cast<int64_t>(rows.size()) < limit, limits);
  for (auto& b : packed.batches) {
    auto c = insert_batch(db, req, w, b, /*members=*/false);
    if (!c.ok()) return c.error();
    out.push_back(std::move(*c));
  }
  GH_STMT(u, db, "UPDATE webhooks SET cursor = $2 WHERE id = $1");
  u->bind(1, w.id).bind(2, packed.position);
  return done(db, u->step(), "advance position");
}

Status cut_new_batches(Db& db, const ClaimRequest& req, Busy& busy, LaneRoom& lanes,
                       std::vector<ClaimedBatch>& out) {
  struct Candidate {
    Webhook w;
    int64_t position, head;
    bool deferred_ready;
  };
  std::vector<Candidate> candidates;
  {
    GH_STMT(s, db,
            // The webhooks with work alone, from their index (schema 12): new
            // events (the position below work_seq) or deferred events ready
            // (ordering "contact", schema 11).
            "SELECT " GH_WEBHOOK_COLUMNS ", w.cursor, a.head_seq, w.deferred_ready FROM webhooks w INDEXED BY "
            "webhooks_with_work JOIN accounts a ON a.id = w.account_id WHERE w.enabled = 1 AND (w.cursor < "
            "w.work_seq OR w.deferred_ready = 1) AND (w.failing_since IS NULL OR (w.next_probe_at <= $1 AND NOT "
            "EXISTS (SELECT 1 FROM batches b WHERE b.webhook_id = w.id AND b.state = 'pending')))");
    s->bind(1, req.now_ms);
    while (s->step() == SQLITE_ROW) {
      if (req.counts) ++req.counts->webhooks_read;
      // A webhook without room (at its limit, or its lane full: hanging
      // receivers with backlogs, issue 12) is not decoded (its secrets
      // opened) at every turn only to be skipped.
      const std::string id = s->str(0);
      auto b = busy.find(id);
      if (in_flight_limit(!s->is_null(15), req.limit_for(id)) - (b == busy.end() ? 0 : b->second) <= 0 ||
          lanes.left(id) <= 0)
        continue;
      auto w = webhook_from_row(db.secrets(), *s);
      if (!w.ok()) return w.error();
      candidates.push_back({std::move(*w), s->i64(kWebhookColumnCount), s->i64(kWebhookColumnCount + 1),
                            s->i64(kWebhookColumnCount + 2) != 0});
    }
  }
  for (auto& c : candidates) {
    int& n = busy[c.w.id];
    int room = std::min({in_flight_limit(c.w.health.failing(), req.limit_for(c.w.id)) - n,
                         req.max_batches - static_cast<int>(out.size()), lanes.left(c.w.id)});
    if (room <= 0) continue;
    size_t before = out.size();
    if (c.w.ordering == Ordering::kContact || c.deferred_ready) {
      GH_RETURN_IF_ERROR(cut_by_contact(db, req, c.w, c.position, c.head, room, c.deferred_ready, out));
    } else {
      GH_RETURN_IF_ERROR(cut_batches(db, req, c.w, c.position, c.head, room, out));
    }
    n += static_cast<int>(out.size() - before);
    lanes.take(c.w.id, static_cast<int>(out.size() - before));
  }
  return ok_status();
}

// The webhook's health after o (domain/health.h), written when it changed;
// a change to disabled disables it.
Status record_health(Db& db, const AttemptOutcome& o) {
  WebhookHealth h;
  {
    GH_STMT(s, db, "SELECT " GH_WEBHOOK_HEALTH_COLUMNS " FROM webhooks w WHERE w.id = $1");
    s->bind(1, o.webhook_id);
    int rc = s->step();
    if (rc == SQLITE_DONE) return ok_status();  // deleted meanwhile
    if (rc != SQLITE_ROW) return db.error(rc, "webhook health");
    if (s->i64(5) == 0) return ok_status();  // disabled meanwhile: its health waits for it to be enabled
    h = health_from_row(*s);
  }
  const HealthStep step = observe(h, health_report(o), o.health);
  if (step.health == h && step.change == HealthChange::kNone) return ok_status();
  log_health_change(o.webhook_id, step);
  const bool disable = step.change == HealthChange::kDisabled;
  GH_STMT(u, db,
          "UPDATE webhooks SET failing_since = $2, failure_streak = $3, probe_count = $4, next_probe_at = $5, "
          "last_error = $6, enabled = CASE WHEN $7 = 1 THEN 0 ELSE enabled END, disabled_reason = CASE WHEN $7 = 1 "
          "THEN $8 ELSE disabled_reason END, updated_at = CASE WHEN $7 = 1 THEN $9 ELSE updated_at END "
          "WHERE id = $1");
  u->bind(1, o.webhook_id).bind(2, step.health.failing_since_ms).bind(3, step.health.failure_streak);
  u->bind(4, step.health.probe_count).bind(5, step.health.next_probe_at_ms).bind(6, step.health.last_error);
  u->bind(7, disable ? 1 : 0).bind(8, step.disabled_reason).bind(9, o.attempt.at_ms);
  GH_RETURN_IF_ERROR(done(db, u->step(), "webhook health"));
  // The change's notifications commit with it (store/outbox.h).
  if (auto news = health_news(h, step, health_report(o).at_ms)) return enqueue_notifications(db, o.webhook_id, *news);
  return ok_status();
}

}  // namespace

Status record_outcome(Db& db, const AttemptOutcome& o) {
  {
    GH_STMT(u, db,
            "UPDATE batches SET state = $3, next_attempt_at = $4, cycle_attempts = cycle_attempts + 1, "
            "lease_owner = NULL, lease_until = 0, updated_at = $5 WHERE id = $1 AND lease_owner = $2");
    u->bind(1, o.batch_id).bind(2, o.owner).bind(3, to_string(o.new_state));
    u->bind(4, o.next_attempt_at_ms).bind(5, o.attempt.at_ms + o.attempt.duration_ms);
    GH_RETURN_IF_ERROR(done(db, u->step(), "record outcome"));
    if (db.changes() == 0) return ok_status();  // lease lost: another node owns it now
  }
  // The batch ended: the contacts it held go free (ordering "contact"). (The
  // flag comes with the outcome: reading it back, with RETURNING or a
  // lookup, cost 11-50% more instructions an outcome, callgrind over
  // bench/store_turns.)
  if (o.by_contact && o.new_state != BatchState::kPending)
    GH_RETURN_IF_ERROR(release_contacts(db, o.webhook_id, o.batch_id));
  {
    // The number, when the claim brought it, saves a lookup a batch.
    auto insert = [&](Stmt& a) {
      a.bind(1, o.batch_id).bind(2, o.attempt.at_ms).bind(3, o.attempt.status_code);
      a.bind(4, o.attempt.duration_ms).bind(5, o.attempt.error).bind(6, o.attempt.response_body);
      if (o.attempt_number > 0) a.bind(7, o.attempt_number);
      return done(db, a.step(), "insert attempt");
    };
    if (o.attempt_number > 0) {
      GH_STMT(a, db,
              "INSERT INTO attempts(batch_id, n, at, status_code, duration_ms, error, response_body) "
              "VALUES($1, $7, $2, $3, $4, $5, $6)");
      GH_RETURN_IF_ERROR(insert(*a));
    } else {
      GH_STMT(a, db,
              "INSERT INTO attempts(batch_id, n, at, status_code, duration_ms, error, response_body) VALUES($1, "
              "(SELECT coalesce(max(n), 0) + 1 FROM attempts WHERE batch_id = $1), $2, $3, $4, $5, $6)");
      GH_RETURN_IF_ERROR(insert(*a));
    }
  }
  return record_health(db, o);
}

Result<std::vector<ClaimedBatch>> claim(Db& db, const ClaimRequest& req) {
  std::vector<ClaimedBatch> out;
  Busy busy = req.in_flight;
  LaneRoom lanes(req);
  GH_RETURN_IF_ERROR(claim_due(db, req, busy, lanes, out));
  GH_RETURN_IF_ERROR(cut_new_batches(db, req, busy, lanes, out));
  return out;
}

Status release_leases(Db& db, const std::string& owner) {
  GH_STMT(s, db,
          "UPDATE batches SET lease_owner = NULL, lease_until = 0 WHERE lease_owner IS NOT NULL AND "
          "($1 = '' OR lease_owner = $1)");
  s->bind(1, owner);
  return done(db, s->step(), "release_leases");
}

// From two indexes, reading neither every pending batch nor every webhook:
// the first pending batch, in due order (batches_due_at), of an enabled
// webhook that is not failing; and each failing webhook (webhooks_failing):
// its next probe when it has events to cut, else the later of its probe
// and its first pending batch.
Result<std::optional<int64_t>> next_due_ms(Db& db) {
  GH_STMT(s, db,
          "SELECT min(t) FROM (SELECT * FROM (SELECT max(b.next_attempt_at, b.lease_until) AS t FROM batches b "
          "INDEXED BY batches_due_at JOIN webhooks w ON w.id = b.webhook_id WHERE b.state = 'pending' AND "
          "w.enabled = 1 AND w.failing_since IS NULL ORDER BY max(b.next_attempt_at, b.lease_until) LIMIT 1) "
          "UNION ALL SELECT CASE WHEN w.cursor < w.work_seq THEN w.next_probe_at ELSE (SELECT "
          "min(max(b.next_attempt_at, b.lease_until, w.next_probe_at)) FROM batches b WHERE b.webhook_id = w.id "
          "AND b.state = 'pending') END FROM webhooks w INDEXED BY webhooks_failing WHERE w.enabled = 1 AND "
          "w.failing_since IS NOT NULL)");
  int rc = s->step();
  if (rc != SQLITE_ROW) return db.error(rc, "next_due_ms");
  return s->opt_i64(0);
}

}  // namespace growhook::sqlite
