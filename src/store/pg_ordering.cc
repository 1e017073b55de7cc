#include "store/pg_ordering.h"

#include <initializer_list>
#include <unordered_set>

#include "common/ids.h"
#include "domain/batching.h"
#include "store/pg_rows.h"

namespace growhook::pg {
namespace {

// Rows (seq, occurred_at, created_at, body, msisdn); a deferred row whose
// event is gone (body null: retention pruned it while the webhook was
// disabled) goes to *gone instead.
void read_events(const PgResult& r, bool deferred, std::vector<ContactEvent>& out,
                 std::vector<int64_t>* gone = nullptr) {
  for (int i = 0; i < r.rows(); ++i) {
    if (gone && r.is_null(i, 3)) {
      gone->push_back(r.i64(i, 0));
      continue;
    }
    ContactEvent e;
    e.event = {r.i64(i, 0), r.i64(i, 1), r.i64(i, 2), r.str(i, 3)};
    if (!r.is_null(i, 4)) e.msisdn = r.i64(i, 4);
    e.deferred = deferred;
    out.push_back(std::move(e));
  }
}

// Drops the deferred rows whose event is gone, and readies the next deferred
// event of each of their contacts (otherwise those would wait forever).
Status drop_gone(Conn& c, const std::string& webhook_id, const std::vector<int64_t>& gone) {
  GH_PG_ASSIGN(r, c.exec("WITH g AS (DELETE FROM deferred_events WHERE webhook_id = $1::text AND seq = "
                         "ANY($2::bigint[]) RETURNING msisdn) UPDATE deferred_events d SET ready = true WHERE "
                         "d.webhook_id = $1::text AND d.seq IN (SELECT (SELECT min(x.seq) FROM deferred_events x "
                         "WHERE x.webhook_id = $1::text AND x.msisdn = g.msisdn AND x.seq <> ALL($2::bigint[])) "
                         "FROM g)",
                         Params().add(webhook_id).add(int_array(gone))));
  return ok_status();
}

// Of the contacts of these events: those an unfinished batch holds (kind
// 0), and those with deferred events that are not ready (kind 1, queued).
Status waiting_among(Conn& c, const std::string& webhook_id, std::initializer_list<const std::vector<ContactEvent>*> lists,
                     std::unordered_set<int64_t>& held, std::unordered_set<int64_t>& queued) {
  std::vector<int64_t> contacts;
  for (const auto* list : lists) {
    for (const auto& e : *list) {
      if (e.msisdn) contacts.push_back(*e.msisdn);
    }
  }
  if (contacts.empty()) return ok_status();
  GH_PG_ASSIGN(r, c.exec("SELECT msisdn, 0 FROM held_contacts WHERE webhook_id = $1::text AND msisdn = "
                         "ANY($2::bigint[]) UNION SELECT msisdn, 1 FROM deferred_events WHERE webhook_id = "
                         "$1::text AND msisdn = ANY($2::bigint[]) AND NOT ready",
                         Params().add(webhook_id).add(int_array(contacts))));
  for (int i = 0; i < r->rows(); ++i) (r->i64(i, 1) == 0 ? held : queued).insert(r->i64(i, 0));
  return ok_status();
}

// Inserts the packed batches, leased, with their listed events and the
// contacts they hold.
Result<std::vector<ClaimedBatch>> write_batches(Conn& c, const ClaimRequest& req, const Webhook& w,
                                                ContactPacking& packed) {
  std::vector<ClaimedBatch> out;
  std::vector<std::string> ids, member_batch, held_batch;
  std::vector<int64_t> firsts, lasts, counts, member_seq, held_contact;
  for (auto& b : packed.batches) {
    ClaimedBatch cb;
    cb.webhook = w;
    Batch& batch = cb.batch;
    batch.id = new_id("bat", req.now_ms);
    batch.webhook_id = w.id;
    batch.account_id = w.account_id;
    batch.state = BatchState::kPending;
    batch.event_count = b.cut.event_count;
    batch.created_at_ms = req.now_ms;
    batch.next_attempt_at_ms = req.now_ms;
    ids.push_back(batch.id);
    firsts.push_back(b.cut.first_seq);
    lasts.push_back(b.cut.last_seq);
    counts.push_back(batch.event_count);
    for (int64_t seq : b.seqs) {
      member_batch.push_back(batch.id);
      member_seq.push_back(seq);
    }
    for (int64_t contact : b.contacts) {
      held_batch.push_back(batch.id);
      held_contact.push_back(contact);
    }
    cb.next_attempt_number = 1;
    cb.by_contact = true;
    cb.oldest_event_created_ms = b.cut.oldest_created_at_ms;
    cb.events_json = std::move(b.cut.events_json);
    out.push_back(std::move(cb));
  }
  if (!ids.empty()) {
    GH_PG_ASSIGN(ins, c.exec("INSERT INTO batches(id, webhook_id, account_id, state, first_seq, last_seq, type_mask, "
                             "event_count, created_at, updated_at, next_attempt_at, cycle_attempts, lease_owner, "
                             "lease_until, members) SELECT t.id, $2, $3, 'pending', t.first_seq, t.last_seq, $4, "
                             "t.event_count, $5, $5, $5, 0, $6, $7, true FROM unnest($1::text[], $8::bigint[], "
                             "$9::bigint[], $10::integer[]) AS t(id, first_seq, last_seq, event_count)",
                             Params().add(text_array(ids)).add(w.id).add(w.account_id)
                                 .add(static_cast<int>(w.event_types)).add(req.now_ms).add(req.owner)
                                 .add(req.now_ms + req.lease_ms).add(int_array(firsts)).add(int_array(lasts))
                                 .add(int_array(counts))));
    GH_PG_ASSIGN(m, c.exec("INSERT INTO batch_members(batch_id, seq, webhook_id) SELECT t.b, t.s, $3::text FROM "
                           "unnest($1::text[], $2::bigint[]) AS t(b, s)",
                           Params().add(text_array(member_batch)).add(int_array(member_seq)).add(w.id)));
    if (!held_batch.empty()) {
      GH_PG_ASSIGN(h, c.exec("INSERT INTO held_contacts(webhook_id, msisdn, batch_id) SELECT $3::text, t.m, t.b "
                             "FROM unnest($1::text[], $2::bigint[]) AS t(b, m) ON CONFLICT (webhook_id, msisdn) "
                             "DO UPDATE SET batch_id = excluded.batch_id",
                             Params().add(text_array(held_batch)).add(int_array(held_contact)).add(w.id)));
    }
  }
  return out;
}

}  // namespace

Result<std::vector<ClaimedBatch>> cut_by_contact(Conn& c, const ClaimRequest& req, const Webhook& w,
                                                 int64_t& position, int64_t head, int count, bool deferred_ready) {
  const BatchLimits limits = batch_limits(w, req.max_batch_bytes, count);
  const int64_t limit = events_to_read(limits);
  std::vector<ContactEvent> ready, fresh;
  std::vector<int64_t> gone;
  if (deferred_ready) {
    // LATERAL: each deferred row looks its event up by key (a plain join
    // let the planner, without statistics yet, read every event of the
    // account for each cut).
    GH_PG_ASSIGN(r, c.exec("SELECT d.seq, e.occurred_at, e.created_at, e.body, d.msisdn FROM (SELECT seq, msisdn FROM "
                           "deferred_events WHERE webhook_id = $1::text AND ready ORDER BY seq LIMIT $3::bigint) d "
                           "LEFT JOIN LATERAL (SELECT occurred_at, created_at, body FROM events WHERE account_id = "
                           "$2::text AND seq = d.seq) e ON true ORDER BY d.seq",
                           Params().add(w.id).add(w.account_id).add(limit)));
    read_events(*r, true, ready, &gone);
    if (!gone.empty()) GH_PG_RETURN_IF_ERROR(drop_gone(c, w.id, gone));
  }
  const bool ready_complete = static_cast<int64_t>(ready.size() + gone.size()) < limit && gone.empty();
  if (ready_complete && position < head) {
    GH_PG_ASSIGN(r, c.exec("SELECT seq, occurred_at, created_at, body, msisdn FROM events WHERE account_id = "
                           "$1::text AND seq > $2::bigint AND seq <= $3::bigint AND (type & $4::smallint) <> 0 "
                           "ORDER BY seq LIMIT $5::bigint",
                           Params().add(w.account_id).add(position).add(head).add(static_cast<int>(w.event_types))
                               .add(limit)));
    read_events(*r, false, fresh);
  }
  const bool hold = w.ordering == Ordering::kContact;
  std::unordered_set<int64_t> held, queued;
  if (hold) GH_PG_RETURN_IF_ERROR(waiting_among(c, w.id, {&ready, &fresh}, held, queued));
  ContactPacking packed = pack_by_contact(ready, ready_complete, fresh, static_cast<int64_t>(fresh.size()) < limit,
                                          position, head, held, queued, limits, hold);
  position = packed.position;
  GH_PG_ASSIGN(out, write_batches(c, req, w, packed));
  if (!packed.taken.empty()) {
    GH_PG_ASSIGN(d, c.exec("DELETE FROM deferred_events WHERE webhook_id = $1::text AND seq = ANY($2::bigint[])",
                           Params().add(w.id).add(int_array(packed.taken))));
  }
  if (!packed.held_again.empty()) {
    GH_PG_ASSIGN(d, c.exec("UPDATE deferred_events SET ready = false WHERE webhook_id = $1::text AND msisdn = "
                           "ANY($2::bigint[]) AND ready",
                           Params().add(w.id).add(int_array(packed.held_again))));
  }
  if (!packed.defer.empty()) {
    std::vector<int64_t> seqs, contacts;
    for (const auto& e : packed.defer) {
      seqs.push_back(e.event.seq);
      contacts.push_back(*e.msisdn);
    }
    GH_PG_ASSIGN(d, c.exec("INSERT INTO deferred_events(webhook_id, seq, msisdn, ready) SELECT $1::text, t.s, t.m, "
                           "false FROM unnest($2::bigint[], $3::bigint[]) AS t(s, m)",
                           Params().add(w.id).add(int_array(seqs)).add(int_array(contacts))));
  }
  GH_PG_ASSIGN(u, c.exec("UPDATE webhooks SET cursor = $2::bigint, deferred_ready = $3::boolean WHERE id = $1::text",
                         Params().add(w.id).add(position).add(packed.ready_left)));
  return std::move(*out);
}

Status release_contacts(Conn& c, const std::vector<std::string>& batch_ids) {
  if (batch_ids.empty()) return ok_status();
  // Each contact's oldest deferred event only (see sqlite_ordering.cc).
  GH_PG_ASSIGN(r, c.exec("WITH h AS (DELETE FROM held_contacts WHERE batch_id = ANY($1::text[]) RETURNING webhook_id, "
                         "msisdn), r AS (UPDATE deferred_events d SET ready = true FROM (SELECT h.webhook_id, "
                         "(SELECT min(x.seq) FROM deferred_events x WHERE x.webhook_id = h.webhook_id AND x.msisdn = "
                         "h.msisdn) AS seq FROM h) f WHERE d.webhook_id = f.webhook_id AND d.seq = f.seq "
                         "RETURNING d.webhook_id) "
                         "UPDATE webhooks SET deferred_ready = true WHERE id IN (SELECT webhook_id FROM r)",
                         Params().add(text_array(batch_ids))));
  return ok_status();
}

Status release_every_contact(Conn& c, const std::string& webhook_id) {
  GH_PG_ASSIGN(r, c.exec("WITH h AS (DELETE FROM held_contacts WHERE webhook_id = $1::text), r AS (UPDATE "
                         "deferred_events SET ready = true WHERE webhook_id = $1::text AND NOT ready) "
                         "UPDATE webhooks SET deferred_ready = true WHERE id = $1::text AND EXISTS (SELECT 1 FROM "
                         "deferred_events WHERE webhook_id = $1::text)",
                         Params().add(webhook_id)));
  return ok_status();
}

Status forget_ordering(Conn& c, const std::string& webhook_id) {
  GH_PG_ASSIGN(r, c.exec("WITH h AS (DELETE FROM held_contacts WHERE webhook_id = $1::text), d AS (DELETE FROM "
                         "deferred_events WHERE webhook_id = $1::text) DELETE FROM batch_members WHERE webhook_id = "
                         "$1::text",
                         Params().add(webhook_id)));
  return ok_status();
}

}  // namespace growhook::pg
