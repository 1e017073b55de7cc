#include "store/pg_claim.h"

#include <algorithm>
#include <unordered_map>

#include "common/ids.h"
#include "domain/batching.h"
#include "store/codec.h"
#include "store/pg_rows.h"

namespace growhook::pg {
namespace {

using Busy = std::unordered_map<std::string, int>;

// Batches in flight per webhook over all nodes: this node's own count, or
// the live leases in the database when they are more (other nodes' work),
// so that per_webhook_limit bounds a webhook across the cluster.
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

Status claim_due(Conn& c, const ClaimRequest& req, Busy& busy, std::vector<ClaimedBatch>& out) {
  // Webhooks at their limit are left out in the query, not after it: the
  // due batches of a few saturated (slow or dead) webhooks must not fill the
  // window and hide everyone else's retries.
  std::vector<std::string> full;
  for (const auto& [id, n] : busy) {
    if (n >= req.limit_for(id)) full.push_back(id);
  }
  GH_PG_ASSIGN(due, c.exec("SELECT " GH_PG_BATCH_COLUMNS ", b.first_seq, b.last_seq, b.type_mask "
                           "FROM batches b JOIN webhooks w ON w.id = b.webhook_id WHERE b.state = 'pending' AND "
                           "b.next_attempt_at <= $1::bigint AND b.lease_until <= $1::bigint AND w.enabled "
                           "AND b.webhook_id <> ALL($3::text[]) "
                           "ORDER BY b.next_attempt_at LIMIT $2::integer FOR NO KEY UPDATE OF b SKIP LOCKED",
                           Params().add(req.now_ms).add(req.max_batches * 4).add(text_array(full))));
  std::vector<int> chosen;
  std::vector<std::string> ids, webhook_ids;
  for (int i = 0; i < due->rows() && static_cast<int>(chosen.size()) < req.max_batches; ++i) {
    int& n = busy[due->str(i, 1)];
    if (n >= req.limit_for(due->str(i, 1))) continue;
    ++n;
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
    Webhook w = webhook_from_row(*hooks, i);
    by_id.emplace(w.id, std::move(w));
  }
  for (int i : chosen) {
    ClaimedBatch cb;
    cb.batch = batch_from_row(*due, i);
    cb.webhook = by_id[cb.batch.webhook_id];
    GH_PG_ASSIGN(ev, batch_events(c, cb.batch.account_id, due->i64(i, 8), due->i64(i, 9), due->i64(i, 10),
                                  &cb.oldest_event_created_ms));
    cb.events_json = std::move(*ev);
    out.push_back(std::move(cb));
  }
  return ok_status();
}

// Cuts up to `count` batches from the webhook's events after cursor
// (updated) by the batching rule (domain/batching.h), in three statements
// whatever the count: the events, the cursor, the batches. None when none
// of its types is pending: the cursor then moves to head, as it does when
// every pending event of its types went into the batches.
Result<std::vector<ClaimedBatch>> cut_batches(Conn& c, const ClaimRequest& req, const Webhook& w, int64_t& cursor,
                                              int64_t head, int count) {
  std::vector<ClaimedBatch> out;
  const BatchLimits limits = batch_limits(w, req.max_batch_bytes, count);
  const int64_t limit = events_to_read(limits);
  GH_PG_ASSIGN(r, c.exec("SELECT seq, occurred_at, created_at, body FROM events WHERE account_id = $1::text AND "
                         "seq > $2::bigint AND seq <= $3::bigint AND (type & $4::smallint) <> 0 "
                         "ORDER BY seq LIMIT $5::bigint",
                         Params().add(w.account_id).add(cursor).add(head).add(static_cast<int>(w.event_types))
                             .add(limit)));
  std::vector<PendingEvent> rows;
  rows.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) rows.push_back({r->i64(i, 0), r->i64(i, 1), r->i64(i, 2), r->str(i, 3)});
  // Fewer rows than asked: nothing more of its types up to head.
  Packing packed = pack_batches(rows, cursor, head, r->rows() < limit, limits);
  cursor = packed.position;
  GH_PG_ASSIGN(u, c.exec("UPDATE webhooks SET cursor = $2::bigint WHERE id = $1::text",
                         Params().add(w.id).add(cursor)));
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

Status cut_new_batches(Conn& c, const ClaimRequest& req, Busy& busy, std::vector<ClaimedBatch>& out) {
  if (static_cast<int>(out.size()) >= req.max_batches) return ok_status();
  std::vector<std::string> full;
  for (const auto& [id, n] : busy) {
    if (n >= req.limit_for(id)) full.push_back(id);
  }
  // head_seq comes from this statement's snapshot: every event up to it is
  // committed, and none at or below it can commit later (see
  // postgres_store.cc), so the cursor never passes an event still invisible.
  // At most as many webhooks as there are batches left to cut (each gives
  // one at least, or has nothing of its types and just moves its cursor):
  // the rows locked here are skipped by the other nodes' claims until this
  // commits, so locking every webhook with work would leave them none.
  GH_PG_ASSIGN(cand, c.exec("SELECT " GH_PG_WEBHOOK_COLUMNS ", w.cursor, a.head_seq FROM webhooks w "
                            "JOIN accounts a ON a.id = w.account_id WHERE w.enabled AND w.cursor < a.head_seq "
                            "AND w.id <> ALL($1::text[]) LIMIT $2::integer FOR NO KEY UPDATE OF w SKIP LOCKED",
                            Params().add(text_array(full)).add(req.max_batches - static_cast<int>(out.size()))));
  for (int i = 0; i < cand->rows() && static_cast<int>(out.size()) < req.max_batches; ++i) {
    Webhook w = webhook_from_row(*cand, i);
    int64_t cursor = cand->i64(i, 15), head = cand->i64(i, 16);
    int& n = busy[w.id];
    int room = std::min(req.limit_for(w.id) - n, req.max_batches - static_cast<int>(out.size()));
    if (room <= 0) continue;
    GH_PG_ASSIGN(cut, cut_batches(c, req, w, cursor, head, room));
    n += static_cast<int>(cut->size());
    for (auto& b : *cut) out.push_back(std::move(b));
  }
  return ok_status();
}

}  // namespace

Result<std::vector<ClaimedBatch>> claim_in_transaction(Conn& c, const ClaimRequest& req) {
  std::vector<ClaimedBatch> out;
  if (req.max_batches <= 0) return out;
  GH_PG_ASSIGN(busy, busy_webhooks(c, req));
  GH_PG_RETURN_IF_ERROR(claim_due(c, req, *busy, out));
  GH_PG_RETURN_IF_ERROR(cut_new_batches(c, req, *busy, out));
  return out;
}

}  // namespace growhook::pg
