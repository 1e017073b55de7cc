// An event as a message carries it (event_json, set_event_id), its type's
// names, and the JSON string escaping they share.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "domain/event.h"

namespace growhook {
namespace {

TEST(EventType, NamesRoundTrip) {
  EXPECT_EQ(to_string(EventType::kSubscribed), "contact.subscribed");
  EXPECT_EQ(to_string(EventType::kUnsubscribed), "contact.unsubscribed");
  EXPECT_EQ(parse_event_type("contact.subscribed"), EventType::kSubscribed);
  EXPECT_EQ(parse_event_type("contact.unsubscribed"), EventType::kUnsubscribed);
  EXPECT_EQ(parse_event_type("Contact.Subscribed"), std::nullopt);
  EXPECT_EQ(parse_event_type(""), std::nullopt);
  EXPECT_EQ(type_bit(EventType::kSubscribed) | type_bit(EventType::kUnsubscribed), kAllEventTypes);
}

TEST(EventJson, Layout) {
  EXPECT_EQ(event_json("evt_1", EventType::kSubscribed, "2024-09-26T00:08:18.161Z", R"({"msisdn":1})"),
            R"({"id":"evt_1","type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18.161Z","data":{"msisdn":1}})");
  EXPECT_EQ(event_json("e\"2", EventType::kUnsubscribed, "t", "{}"),
            R"({"id":"e\"2","type":"contact.unsubscribed","occurred_at":"t","data":{}})");
}

TEST(EventJson, SetEventIdBuildsTheMessageTheStoreKeeps) {
  ParsedIngest p = parse_ingest_body(
      R"({"type":"contact.unsubscribed","occurred_at":"2024-09-26T00:08:18.161Z","contact":{"msisdn":1}})");
  ASSERT_EQ(p.events.size(), 1u);
  IncomingEvent e = p.events[0];
  set_event_id(e, "evt_9");
  EXPECT_EQ(e.id, "evt_9");
  EXPECT_EQ(e.message_json, event_json("evt_9", EventType::kUnsubscribed, "2024-09-26T00:08:18.161Z", e.data_json));
}

TEST(AppendJsonString, EscapesOnlyWhatJsonRequires) {
  static constexpr char kRaw[] = "a\"b\\c\b\f\n\r\t\x01\x1f\x00/\x7f\xc3\xa7";
  std::string out = "x";
  append_json_string(out, std::string_view(kRaw, sizeof kRaw - 1));
  EXPECT_EQ(out, "x\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\\u0000/\x7f\xc3\xa7\"");
  out.clear();
  append_json_string(out, "");
  EXPECT_EQ(out, "\"\"");
}

}  // namespace
}  // namespace growhook
