#include "store/sqlite_contacts.h"

#include <limits>

#include "store/sqlite_rows.h"

namespace growhook::sqlite {
namespace {

// The columns of an event row, in the order event_from_row reads them.
#define GH_EVENT_COLUMNS "seq, id, type, created_at, body"

struct EventRow {
  StoredEvent event;
  EventType type = EventType::kSubscribed;
};

EventRow event_from_row(const Stmt& s) {
  EventRow r;
  r.event.seq = s.i64(0);
  r.event.id = s.str(1);
  r.type = static_cast<EventType>(s.i64(2));
  r.event.created_at_ms = s.i64(3);
  r.event.message_json = s.str(4);
  return r;
}

Result<std::vector<WebhookPosition>> positions(Db& db, const std::string& account_id) {
  GH_STMT(s, db, "SELECT id, enabled, event_types, cursor FROM webhooks WHERE account_id = $1 ORDER BY id");
  s->bind(1, account_id);
  std::vector<WebhookPosition> out;
  int rc;
  while ((rc = s->step()) == SQLITE_ROW) {
    out.push_back({s->str(0), s->i64(1) != 0, static_cast<uint8_t>(s->i64(2)), s->i64(3)});
  }
  if (rc != SQLITE_DONE) return db.error(rc, "webhook positions");
  return out;
}

// Where the webhook has the event: the newest of its batches that lists it
// (ordering "contact"), or, when none does, its newest range batch starting
// at or before seq (batches_by_webhook_range); *deferred when the event
// waits for its contact instead.
Result<std::optional<BatchSpan>> batch_of(Db& db, const std::string& webhook_id, int64_t seq, bool* deferred) {
  *deferred = false;
  {
    GH_STMT(s, db,
            "SELECT b.id, b.state, b.last_seq, b.type_mask FROM batch_members m JOIN batches b ON b.id = m.batch_id "
            "WHERE m.webhook_id = $1 AND m.seq = $2 ORDER BY b.created_at DESC LIMIT 1");
    s->bind(1, webhook_id).bind(2, seq);
    int rc = s->step();
    if (rc == SQLITE_ROW) {
      return std::optional<BatchSpan>(BatchSpan{s->str(0), parse_batch_state(s->text(1)).value_or(BatchState::kPending),
                                                s->i64(2), static_cast<uint8_t>(s->i64(3))});
    }
    if (rc != SQLITE_DONE) return db.error(rc, "the batch listing an event");
  }
  {
    GH_STMT(s, db, "SELECT 1 FROM deferred_events WHERE webhook_id = $1 AND seq = $2");
    s->bind(1, webhook_id).bind(2, seq);
    int rc = s->step();
    if (rc == SQLITE_ROW) {
      *deferred = true;
      return std::optional<BatchSpan>();
    }
    if (rc != SQLITE_DONE) return db.error(rc, "a deferred event");
  }
  GH_STMT(s, db,
          "SELECT id, state, last_seq, type_mask FROM batches WHERE webhook_id = $1 AND first_seq <= $2 "
          "AND members = 0 ORDER BY first_seq DESC LIMIT 1");
  s->bind(1, webhook_id).bind(2, seq);
  int rc = s->step();
  if (rc == SQLITE_DONE) return std::optional<BatchSpan>();
  if (rc != SQLITE_ROW) return db.error(rc, "the batch of an event");
  return std::optional<BatchSpan>(BatchSpan{s->str(0), parse_batch_state(s->text(1)).value_or(BatchState::kPending),
                                            s->i64(2), static_cast<uint8_t>(s->i64(3))});
}

Result<std::optional<Attempt>> last_attempt(Db& db, const std::string& batch_id) {
  GH_STMT(s, db,
          "SELECT at, status_code, duration_ms, error FROM attempts WHERE batch_id = $1 ORDER BY n DESC LIMIT 1");
  s->bind(1, batch_id);
  int rc = s->step();
  if (rc == SQLITE_DONE) return std::optional<Attempt>();
  if (rc != SQLITE_ROW) return db.error(rc, "the last attempt of a batch");
  return std::optional<Attempt>(Attempt{s->i64(0), static_cast<int>(s->i64(1)), s->i64(2), s->str(3), ""});
}

Status add_deliveries(Db& db, const std::vector<WebhookPosition>& webhooks, EventRow& row) {
  for (const auto& w : webhooks) {
    bool deferred = false;
    auto batch = batch_of(db, w.id, row.event.seq, &deferred);
    if (!batch.ok()) return batch.error();
    auto d = deferred ? std::optional<EventDelivery>(EventDelivery{w.id, "", BatchState::kPending, std::nullopt})
                      : delivery_of(row.event.seq, row.type, w, *batch);
    if (!d) continue;
    if (!d->batch_id.empty()) {
      auto a = last_attempt(db, d->batch_id);
      if (!a.ok()) return a.error();
      d->last_attempt = std::move(*a);
    }
    row.event.deliveries.push_back(std::move(*d));
  }
  return ok_status();
}

Result<std::vector<StoredEvent>> with_deliveries(Db& db, const std::string& account_id, std::vector<EventRow> rows) {
  std::vector<StoredEvent> out;
  if (rows.empty()) return out;
  auto webhooks = positions(db, account_id);
  if (!webhooks.ok()) return webhooks.error();
  out.reserve(rows.size());
  for (auto& r : rows) {
    GH_RETURN_IF_ERROR(add_deliveries(db, *webhooks, r));
    out.push_back(std::move(r.event));
  }
  return out;
}

Status collect(Db& db, Stmt& s, std::vector<EventRow>& rows) {
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) rows.push_back(event_from_row(s));
  if (rc != SQLITE_DONE) return db.error(rc, "find_contact_events");
  return ok_status();
}

}  // namespace

Result<std::vector<StoredEvent>> find_contact_events(Db& db, const std::string& account_id, const ContactQuery& q) {
  const int64_t before = q.before_seq > 0 ? q.before_seq : std::numeric_limits<int64_t>::max();
  std::vector<EventRow> rows;
  if (q.msisdn) {
    GH_STMT(s, db,
            "SELECT " GH_EVENT_COLUMNS " FROM events WHERE account_id = $1 AND msisdn = $2 AND seq < $3 "
            "ORDER BY seq DESC LIMIT $4");
    s->bind(1, account_id).bind(2, *q.msisdn).bind(3, before).bind(4, q.limit);
    GH_RETURN_IF_ERROR(collect(db, *s, rows));
  } else {
    GH_STMT(s, db,
            "SELECT " GH_EVENT_COLUMNS " FROM events WHERE account_id = $1 AND email = $2 AND seq < $3 "
            "ORDER BY seq DESC LIMIT $4");
    s->bind(1, account_id).bind(2, ascii_lower(q.email)).bind(3, before).bind(4, q.limit);
    GH_RETURN_IF_ERROR(collect(db, *s, rows));
  }
  return with_deliveries(db, account_id, std::move(rows));
}

Result<StoredEvent> get_event(Db& db, const std::string& account_id, const std::string& event_id) {
  std::vector<EventRow> rows;
  {
    GH_STMT(s, db, "SELECT " GH_EVENT_COLUMNS " FROM events WHERE account_id = $1 AND id = $2");
    s->bind(1, account_id).bind(2, event_id);
    GH_RETURN_IF_ERROR(collect(db, *s, rows));
  }
  if (rows.empty()) return Error::not_found("event " + event_id + " not found");
  auto out = with_deliveries(db, account_id, std::move(rows));
  if (!out.ok()) return out.error();
  return std::move(out->front());
}

}  // namespace growhook::sqlite
