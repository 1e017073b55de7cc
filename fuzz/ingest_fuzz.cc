// Fuzzes parse_ingest_body, the parser every ingestion request goes through.
// Besides "no crash, no UB, no leak", it checks what the store relies on:
// a valid body yields 1..max_events events, each with a canonical
// occurred_at and a data set of exactly the SPEC's 20 keys; an invalid one
// yields issues and no events; and the canonical output, posted again, is
// accepted unchanged (the service never writes what it would refuse).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/ids.h"
#include "data_set_check.h"
#include "domain/event.h"
#include "domain/timestamp.h"
#include "fuzz_check.h"

namespace {

using growhook::IncomingEvent;
using growhook::IngestLimits;
using growhook::ParsedIngest;

void check_event(const IncomingEvent& e, const IngestLimits& limits) {
  FUZZ_CHECK(e.id.empty() || growhook::is_valid_id(e.id));
  FUZZ_CHECK(e.occurred_at.size() == 24);
  FUZZ_CHECK(growhook::format_timestamp(e.occurred_at_ms) == e.occurred_at);
  FUZZ_CHECK(growhook::parse_timestamp(e.occurred_at) == e.occurred_at_ms);
  fuzz::check_data_set(e.data_json, limits.max_text_length);
  // The message form is JSON too, and carries the data set unchanged.
  const std::string id = e.id.empty() ? "evt_x" : e.id;
  auto m = nlohmann::json::parse(growhook::event_json(id, e.type, e.occurred_at, e.data_json), nullptr, false);
  FUZZ_CHECK(!m.is_discarded());
  FUZZ_CHECK(m["id"] == id);
  FUZZ_CHECK(m["type"] == growhook::to_string(e.type));
  FUZZ_CHECK(m["data"] == nlohmann::json::parse(e.data_json));
}

// Posts the canonical events again: they must come back identical.
void check_reparse(const ParsedIngest& first, const IngestLimits& limits) {
  std::string body = "{\"events\":[";
  for (size_t i = 0; i < first.events.size(); ++i) {
    const IncomingEvent& e = first.events[i];
    if (i) body += ',';
    body += "{";
    if (!e.id.empty()) {
      body += "\"id\":";
      growhook::append_json_string(body, e.id);
      body += ',';
    }
    body += "\"type\":\"" + std::string(growhook::to_string(e.type)) + "\",\"occurred_at\":\"" + e.occurred_at +
            "\",\"contact\":" + e.data_json + "}";
  }
  body += "]}";
  ParsedIngest again = growhook::parse_ingest_body(body, limits);
  FUZZ_CHECK(again.issues.empty());
  FUZZ_CHECK(again.events.size() == first.events.size());
  for (size_t i = 0; i < again.events.size(); ++i) {
    FUZZ_CHECK(again.events[i].id == first.events[i].id);
    FUZZ_CHECK(again.events[i].type == first.events[i].type);
    FUZZ_CHECK(again.events[i].occurred_at == first.events[i].occurred_at);
    FUZZ_CHECK(again.events[i].data_json == first.events[i].data_json);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  // Small limits, so that "too many events" and "text too long" are reachable.
  IngestLimits limits;
  limits.max_events = 16;
  limits.max_text_length = 64;
  const ParsedIngest p = growhook::parse_ingest_body(body, limits);
  FUZZ_CHECK(p.issues.size() <= 50);
  if (p.too_many_events) FUZZ_CHECK(!p.issues.empty());
  if (!p.issues.empty()) {
    FUZZ_CHECK(p.events.empty());
    for (const auto& issue : p.issues) {
      FUZZ_CHECK(!issue.message.empty());
      FUZZ_CHECK(issue.path.size() < 200);  // hostile keys are cut, not echoed whole
    }
    return 0;
  }
  FUZZ_CHECK(!p.events.empty());
  FUZZ_CHECK(p.events.size() <= limits.max_events);
  for (const IncomingEvent& e : p.events) check_event(e, limits);
  check_reparse(p, limits);
  return 0;
}
