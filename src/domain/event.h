// Contact events as the platform posts them, and their validation.
//
// An ingestion body is one event {"id"?, "type", "occurred_at", "contact"}
// or {"events": [event, ...]}. Validation is strict and whole: every problem
// of every event is collected (up to a cap) so the caller can fix them all
// at once, and nothing of a request with a problem is stored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace growhook {

enum class EventType : uint8_t { kSubscribed = 1, kUnsubscribed = 2 };
inline constexpr uint8_t kAllEventTypes = 3;  // bit mask of both types

std::string_view to_string(EventType t);  // "contact.subscribed" / "contact.unsubscribed"
std::optional<EventType> parse_event_type(std::string_view s);
inline uint8_t type_bit(EventType t) { return static_cast<uint8_t>(t); }

// One validated event, ready to store.
struct IncomingEvent {
  std::string id;           // the caller's id, or empty: the service assigns one
  EventType type = EventType::kSubscribed;
  int64_t occurred_at_ms = 0;
  std::string occurred_at;  // canonical "YYYY-MM-DDTHH:MM:SS.mmmZ"
  // The contact data set as a compact JSON object with all 20 keys, in the
  // order of the data set's table (docs/receiving-webhooks.md, "The data
  // set"), absent keys written as null. Strings are re-escaped
  // canonically; TIMESTAMP values are canonical.
  std::string data_json;
  // The contact's keys for finding its events (store/contacts.h): its
  // msisdn, and its ecom_email in lower case (ascii_lower), empty when null.
  int64_t msisdn = 0;
  std::string email;
  // The event as a message carries it (event_json below), built once by
  // set_event_id; the store keeps these bytes as they are.
  std::string message_json;
};

// Sets e's id and builds its message_json from it: the one place an
// event's JSON is written. Ingestion calls it on the HTTP thread, so that
// the store's writer only copies the bytes.
void set_event_id(IncomingEvent& e, std::string id);

// One problem found in a request. `path` names the place, e.g.
// "events[3].contact.ecom_signups_count" (or "contact.source" for a single
// event); `message` says what to fix, e.g. "must be an integer, got a string".
struct ValidationIssue {
  int event_index = -1;  // -1 when the problem is not inside one event
  std::string path;
  std::string message;
};

struct IngestLimits {
  size_t max_events = 1000;      // events in one request
  size_t max_text_length = 2048; // characters (bytes) of one TEXT value
};

struct ParsedIngest {
  std::vector<IncomingEvent> events;      // filled only when issues is empty
  std::vector<ValidationIssue> issues;    // at most 50; empty means valid
  bool too_many_events = false;           // more than max_events: answer 413
};

// Parses and validates an ingestion body. Never throws. Invalid UTF-8,
// broken JSON, deep nesting, numbers outside int64 and unknown keys are all
// issues. Duplicate keys inside one object are an issue.
ParsedIngest parse_ingest_body(std::string_view body, const IngestLimits& limits = {});

// Validates a contact data set object on its own (for the test connection,
// whose "data" the user edits). Same rules as "contact" in an event; paths
// are "data.<key>".
Result<std::string> canonical_contact_json(std::string_view contact_object_json,
                                           std::vector<ValidationIssue>* issues = nullptr);

// The sample data set (the table's sample column), canonical JSON
// (msisdn 5599999999999, ...).
const std::string& sample_contact_json();

// The event as it travels in a message:
// {"id":"…","type":"contact.subscribed","occurred_at":"…","data":{…}}
std::string event_json(std::string_view id, EventType type, std::string_view occurred_at,
                       std::string_view data_json);

// s with A-Z turned into a-z and every other byte kept: how a contact's
// email is compared (stored and searched alike, on both stores).
std::string ascii_lower(std::string_view s);

// Appends s to out as a JSON string literal (with quotes), escaping '"', '\\',
// control characters (\n, \t, ... and \u00XX) and nothing else (UTF-8 passes).
void append_json_string(std::string& out, std::string_view s);

}  // namespace growhook
