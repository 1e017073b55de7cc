#include "store/sqlite_ordering.h"

#include <unordered_set>

#include "domain/batching.h"
#include "store/sqlite_claim.h"
#include "store/sqlite_rows.h"

namespace growhook::sqlite {
namespace {

// (INDEXED BY below: without statistics SQLite takes the primary key's
// range of the webhook, every deferred row of it, over these indexes; the
// drain of 20,000 events over 300 contacts spent its time there.)

// Rows (seq, occurred_at, created_at, body, msisdn); a deferred row whose
// event is gone (body null: retention pruned it while the webhook was
// disabled) goes to *gone instead.
Status read_events(Db& db, Stmt& s, bool deferred, std::vector<ContactEvent>& out,
                   std::vector<int64_t>* gone = nullptr) {
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    if (gone && s.is_null(3)) {
      gone->push_back(s.i64(0));
      continue;
    }
    ContactEvent e;
    e.event = {s.i64(0), s.i64(1), s.i64(2), s.str(3)};
    if (!s.is_null(4)) e.msisdn = s.i64(4);
    e.deferred = deferred;
    out.push_back(std::move(e));
  }
  return done(db, rc, "events to cut by contact");
}

// A JSON array of the numbers, for json_each: one statement for many rows.
std::string json_ints(const std::vector<int64_t>& values) {
  std::string out = "[";
  for (int64_t v : values) {
    if (out.size() > 1) out += ',';
    out += std::to_string(v);
  }
  return out + "]";
}

// Of the contacts among events: those an unfinished batch holds, and those
// with deferred events that are not ready (queued).
struct Waiting {
  std::unordered_set<int64_t> held, queued;
};
Result<Waiting> waiting_among(Db& db, const std::string& webhook_id, const std::vector<ContactEvent>& events) {
  std::unordered_set<int64_t> seen;
  std::vector<int64_t> contacts;
  for (const auto& e : events) {
    if (e.msisdn && seen.insert(*e.msisdn).second) contacts.push_back(*e.msisdn);
  }
  Waiting out;
  if (contacts.empty()) return out;
  GH_STMT(s, db,
          "SELECT c.value, EXISTS (SELECT 1 FROM held_contacts WHERE webhook_id = $1 AND msisdn = c.value), "
          "EXISTS (SELECT 1 FROM deferred_events INDEXED BY deferred_events_by_contact WHERE webhook_id = $1 AND "
          "msisdn = c.value AND ready = 0) FROM json_each($2) c");
  s->bind(1, webhook_id).bind(2, json_ints(contacts));
  int rc;
  while ((rc = s->step()) == SQLITE_ROW) {
    if (s->i64(1) != 0) out.held.insert(s->i64(0));
    if (s->i64(2) != 0) out.queued.insert(s->i64(0));
  }
  GH_RETURN_IF_ERROR(done(db, rc, "held contacts"));
  return out;
}

Status write_batch(Db& db, const std::string& webhook_id, const std::string& batch_id, const ContactBatch& b) {
  {
    GH_STMT(m, db, "INSERT INTO batch_members(batch_id, seq, webhook_id) SELECT $1, value, $3 FROM json_each($2)");
    m->bind(1, batch_id).bind(2, json_ints(b.seqs)).bind(3, webhook_id);
    GH_RETURN_IF_ERROR(done(db, m->step(), "batch members"));
  }
  if (b.contacts.empty()) return ok_status();
  GH_STMT(h, db,
          "INSERT INTO held_contacts(webhook_id, msisdn, batch_id) SELECT $1, value, $3 FROM json_each($2) WHERE "
          "true ON CONFLICT(webhook_id, msisdn) DO UPDATE SET batch_id = excluded.batch_id");
  h->bind(1, webhook_id).bind(2, json_ints(b.contacts)).bind(3, batch_id);
  return done(db, h->step(), "held contacts");
}

// Drops the deferred rows whose event is gone, and readies the next deferred
// event of each of their contacts (otherwise those would wait forever).
Status drop_gone(Db& db, const std::string& webhook_id, const std::vector<int64_t>& gone) {
  const std::string seqs = json_ints(gone);
  std::vector<int64_t> contacts;
  {
    GH_STMT(q, db, "SELECT DISTINCT msisdn FROM deferred_events WHERE webhook_id = $1 AND seq IN (SELECT value "
                   "FROM json_each($2))");
    q->bind(1, webhook_id).bind(2, seqs);
    int rc;
    while ((rc = q->step()) == SQLITE_ROW) contacts.push_back(q->i64(0));
    GH_RETURN_IF_ERROR(done(db, rc, "gone deferred events"));
  }
  {
    GH_STMT(d, db, "DELETE FROM deferred_events WHERE webhook_id = $1 AND seq IN (SELECT value FROM json_each($2))");
    d->bind(1, webhook_id).bind(2, seqs);
    GH_RETURN_IF_ERROR(done(db, d->step(), "drop gone deferred events"));
  }
  GH_STMT(r, db,
          "UPDATE deferred_events SET ready = 1 WHERE webhook_id = $1 AND seq IN (SELECT (SELECT min(d.seq) FROM "
          "deferred_events d WHERE d.webhook_id = $1 AND d.msisdn = c.value) FROM json_each($2) c)");
  r->bind(1, webhook_id).bind(2, json_ints(contacts));
  return done(db, r->step(), "ready after gone");
}

}  // namespace

Status cut_by_contact(Db& db, const ClaimRequest& req, const Webhook& w, int64_t position, int64_t head, int room,
                      bool deferred_ready, std::vector<ClaimedBatch>& out) {
  const BatchLimits limits = batch_limits(w, req.max_batch_bytes, room);
  const int64_t limit = events_to_read(limits);
  std::vector<ContactEvent> ready, fresh;
  std::vector<int64_t> gone;
  if (deferred_ready) {
    GH_STMT(s, db,
            "SELECT d.seq, e.occurred_at, e.created_at, e.body, d.msisdn FROM deferred_events d INDEXED BY "
            "deferred_events_ready LEFT JOIN events e ON e.seq = d.seq WHERE d.webhook_id = $1 AND d.ready = 1 "
            "ORDER BY d.seq LIMIT $2");
    s->bind(1, w.id).bind(2, limit);
    GH_RETURN_IF_ERROR(read_events(db, *s, true, ready, &gone));
    if (!gone.empty()) GH_RETURN_IF_ERROR(drop_gone(db, w.id, gone));
  }
  const bool ready_complete = static_cast<int64_t>(ready.size() + gone.size()) < limit && gone.empty();
  if (ready_complete && position < head) {
    GH_STMT(s, db,
            "SELECT seq, occurred_at, created_at, body, msisdn FROM events WHERE account_id = $1 AND seq > $2 AND "
            "seq <= $3 AND (type & $4) != 0 ORDER BY seq LIMIT $5");
    s->bind(1, w.account_id).bind(2, position).bind(3, head).bind(4, static_cast<int>(w.event_types));
    s->bind(5, limit);
    GH_RETURN_IF_ERROR(read_events(db, *s, false, fresh));
  }
  const bool hold = w.ordering == Ordering::kContact;
  Waiting waiting;
  if (hold) {
    std::vector<ContactEvent> all = ready;
    all.insert(all.end(), fresh.begin(), fresh.end());
    auto found = waiting_among(db, w.id, all);
    if (!found.ok()) return found.error();
    waiting = std::move(*found);
  }
  ContactPacking packed = pack_by_contact(ready, ready_complete, fresh, static_cast<int64_t>(fresh.size()) < limit,
                                          position, head, waiting.held, waiting.queued, limits, hold);
  for (auto& b : packed.batches) {
    auto c = insert_batch(db, req, w, b.cut, /*members=*/true);
    if (!c.ok()) return c.error();
    GH_RETURN_IF_ERROR(write_batch(db, w.id, c->batch.id, b));
    out.push_back(std::move(*c));
  }
  if (!packed.taken.empty()) {
    GH_STMT(d, db, "DELETE FROM deferred_events WHERE webhook_id = $1 AND seq IN (SELECT value FROM json_each($2))");
    d->bind(1, w.id).bind(2, json_ints(packed.taken));
    GH_RETURN_IF_ERROR(done(db, d->step(), "deferred events taken"));
  }
  if (!packed.defer.empty()) {
    std::string pairs = "[";
    for (const auto& e : packed.defer) {
      if (pairs.size() > 1) pairs += ',';
      pairs += "[" + std::to_string(e.event.seq) + "," + std::to_string(*e.msisdn) + "]";
    }
    pairs += "]";
    GH_STMT(d, db,
            "INSERT INTO deferred_events(webhook_id, seq, msisdn, ready) SELECT $1, value ->> 0, value ->> 1, 0 "
            "FROM json_each($2)");
    d->bind(1, w.id).bind(2, pairs);
    GH_RETURN_IF_ERROR(done(db, d->step(), "defer events"));
  }
  for (int64_t c : packed.held_again) {
    GH_STMT(d, db, "UPDATE deferred_events INDEXED BY deferred_events_by_contact SET ready = 0 WHERE webhook_id = "
                   "$1 AND msisdn = $2 AND ready = 1");
    d->bind(1, w.id).bind(2, c);
    GH_RETURN_IF_ERROR(done(db, d->step(), "deferred events wait again"));
  }
  GH_STMT(u, db, "UPDATE webhooks SET cursor = $2, deferred_ready = $3 WHERE id = $1");
  u->bind(1, w.id).bind(2, packed.position).bind(3, packed.ready_left ? 1 : 0);
  return done(db, u->step(), "advance position");
}

Status release_contacts(Db& db, const std::string& webhook_id, const std::string& batch_id) {
  {
    // Each contact's oldest deferred event only: the next ones become
    // ready when the batch that takes it ends (readying them all and
    // holding them again at the next cut touched every deferred row of
    // those contacts for each batch).
    GH_STMT(r, db,
            "UPDATE deferred_events SET ready = 1 WHERE webhook_id = $1 AND seq IN (SELECT (SELECT min(d.seq) FROM "
            "deferred_events d WHERE d.webhook_id = $1 AND d.msisdn = h.msisdn) FROM held_contacts h WHERE "
            "h.batch_id = $2)");
    r->bind(1, webhook_id).bind(2, batch_id);
    GH_RETURN_IF_ERROR(done(db, r->step(), "release contacts"));
  }
  if (db.changes() > 0) {
    GH_STMT(w, db, "UPDATE webhooks SET deferred_ready = 1 WHERE id = $1");
    w->bind(1, webhook_id);
    GH_RETURN_IF_ERROR(done(db, w->step(), "deferred events ready"));
  }
  GH_STMT(d, db, "DELETE FROM held_contacts WHERE batch_id = $1");
  d->bind(1, batch_id);
  return done(db, d->step(), "contacts released");
}

Status release_every_contact(Db& db, const std::string& webhook_id) {
  {
    GH_STMT(r, db, "UPDATE deferred_events SET ready = 1 WHERE webhook_id = $1 AND ready = 0");
    r->bind(1, webhook_id);
    GH_RETURN_IF_ERROR(done(db, r->step(), "release every contact"));
  }
  {
    GH_STMT(w, db,
            "UPDATE webhooks SET deferred_ready = 1 WHERE id = $1 AND EXISTS (SELECT 1 FROM deferred_events WHERE "
            "webhook_id = $1)");
    w->bind(1, webhook_id);
    GH_RETURN_IF_ERROR(done(db, w->step(), "deferred events ready"));
  }
  GH_STMT(d, db, "DELETE FROM held_contacts WHERE webhook_id = $1");
  d->bind(1, webhook_id);
  return done(db, d->step(), "every contact released");
}

Status forget_ordering(Db& db, const std::string& webhook_id) {
  GH_RETURN_IF_ERROR(release_every_contact(db, webhook_id));
  {
    GH_STMT(d, db, "DELETE FROM deferred_events WHERE webhook_id = $1");
    d->bind(1, webhook_id);
    GH_RETURN_IF_ERROR(done(db, d->step(), "forget deferred events"));
  }
  GH_STMT(m, db, "DELETE FROM batch_members WHERE webhook_id = $1");
  m->bind(1, webhook_id);
  return done(db, m->step(), "forget batch members");
}

}  // namespace growhook::sqlite
