#include "store/pg_contacts.h"

#include <limits>

#include "store/pg_rows.h"

namespace growhook::pg {
namespace {

// The events chosen by `where` (the CTE ev), each beside every webhook of
// the account, where that webhook has it (the newest of its batches listing
// it, under ordering "contact"; else kind 1 when it is deferred, waiting for
// its contact; else its newest range batch starting at or before the event,
// batches_by_webhook_range) and that batch's last attempt: one row per
// (event, webhook), one row with null webhook columns for an event of an
// account without webhooks. delivery_of decides from these columns.
#define GH_PG_EVENTS_WITH_DELIVERIES(where)                                                                \
  "WITH ev AS (SELECT seq, id, type, created_at, body FROM events WHERE account_id = $1::text AND " where \
  ") SELECT ev.seq, ev.id, ev.type, ev.created_at, ev.body, w.id, w.enabled, w.event_types, w.cursor, "   \
  "b.id, b.state, b.last_seq, b.type_mask, a.at, a.status_code, a.duration_ms, a.error, b.kind FROM ev "  \
  "LEFT JOIN webhooks w ON w.account_id = $1::text "                                                      \
  "LEFT JOIN LATERAL (SELECT * FROM ((SELECT bb.id, bb.state, bb.last_seq, bb.type_mask, 0 AS kind "       \
  "FROM batch_members m JOIN batches bb ON bb.id = m.batch_id WHERE m.webhook_id = w.id AND "             \
  "m.seq = ev.seq ORDER BY bb.created_at DESC LIMIT 1) UNION ALL (SELECT NULL, NULL, NULL, NULL, 1 "     \
  "FROM deferred_events d WHERE d.webhook_id = w.id AND d.seq = ev.seq) UNION ALL (SELECT bb.id, "       \
  "bb.state, bb.last_seq, bb.type_mask, 2 FROM batches bb WHERE bb.webhook_id = w.id AND "               \
  "bb.first_seq <= ev.seq AND NOT bb.members ORDER BY bb.first_seq DESC LIMIT 1)) k "                    \
  "ORDER BY kind LIMIT 1) b ON true "                                                                    \
  "LEFT JOIN LATERAL (SELECT at, status_code, duration_ms, error FROM attempts "                          \
  "WHERE batch_id = b.id ORDER BY n DESC LIMIT 1) a ON true ORDER BY ev.seq DESC, w.id"

std::vector<StoredEvent> events_from(const PgResult& r) {
  std::vector<StoredEvent> out;
  for (int i = 0; i < r.rows(); ++i) {
    const int64_t seq = r.i64(i, 0);
    if (out.empty() || out.back().seq != seq) {
      out.push_back({seq, r.str(i, 1), r.str(i, 4), r.i64(i, 3), {}});
    }
    if (r.is_null(i, 5)) continue;  // no webhook
    WebhookPosition w{r.str(i, 5), r.boolean(i, 6), static_cast<uint8_t>(r.i64(i, 7)), r.i64(i, 8)};
    if (!r.is_null(i, 17) && r.i64(i, 17) == 1) {  // deferred: waits for its contact
      out.back().deliveries.push_back(EventDelivery{w.id, "", BatchState::kPending, std::nullopt});
      continue;
    }
    std::optional<BatchSpan> batch;
    if (!r.is_null(i, 9)) {
      batch = BatchSpan{r.str(i, 9), parse_batch_state(r.text(i, 10)).value_or(BatchState::kPending),
                        r.i64(i, 11), static_cast<uint8_t>(r.i64(i, 12))};
    }
    auto d = delivery_of(seq, static_cast<EventType>(r.i64(i, 2)), w, batch);
    if (!d) continue;
    if (!d->batch_id.empty() && !r.is_null(i, 13)) {
      d->last_attempt = Attempt{r.i64(i, 13), static_cast<int>(r.i64(i, 14)), r.i64(i, 15), r.str(i, 16), ""};
    }
    out.back().deliveries.push_back(std::move(*d));
  }
  return out;
}

}  // namespace

Result<std::vector<StoredEvent>> find_contact_events(Conn& c, const std::string& account_id, const ContactQuery& q) {
  const int64_t before = q.before_seq > 0 ? q.before_seq : std::numeric_limits<int64_t>::max();
  Params p = Params().add(account_id);
  Result<PgResult> r = Error::internal("unreachable");
  if (q.msisdn) {
    p.add(*q.msisdn).add(before).add(q.limit);
    r = c.exec(GH_PG_EVENTS_WITH_DELIVERIES(
                   "msisdn = $2::bigint AND seq < $3::bigint ORDER BY seq DESC LIMIT $4::integer"),
               p);
  } else {
    p.add(ascii_lower(q.email)).add(before).add(q.limit);
    r = c.exec(GH_PG_EVENTS_WITH_DELIVERIES(
                   "email = $2::text AND seq < $3::bigint ORDER BY seq DESC LIMIT $4::integer"),
               p);
  }
  if (!r.ok()) return r.error();
  return events_from(*r);
}

Result<StoredEvent> get_event(Conn& c, const std::string& account_id, const std::string& event_id) {
  GH_PG_ASSIGN(r, c.exec(GH_PG_EVENTS_WITH_DELIVERIES("id = $2::text"), Params().add(account_id).add(event_id)));
  auto events = events_from(*r);
  if (events.empty()) return Error::not_found("event " + event_id + " not found");
  return std::move(events.front());
}

}  // namespace growhook::pg
