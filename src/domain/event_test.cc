#include "domain/event.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace growhook {
namespace {

// Predicates for EXPECT_PRED2, which prints both arguments on failure
// (gmock's matchers would need libgmock, which the build does not link).
bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}
bool starts_with(std::string_view text, std::string_view prefix) { return text.starts_with(prefix); }

constexpr const char* kSampleCanonical =
    R"({"msisdn":5599999999999,"profileCreatedAt":"2022-11-24T09:59:41.163Z","source":"form",)"
    R"("source_value":"1234","eshop_opt_in":true,"last_eshop_opt_in_date":"2023-11-16T11:33:29.485Z",)"
    R"("ecom_email":"test@gmail.com","ecom_signups_count":2,"ecom_device_type":"mobile",)"
    R"("ecom_browser_name":"Chrome","ecom_locale":"pt-br","ecom_timezone":"UTC-03:00",)"
    R"("ecom_os_name":"Android","ecom_signup_domain":"www.websitedomain.com.br",)"
    R"("ecom_signup_path":"/lancamentos","ecom_signup_referrer_url":"https://www.google.com",)"
    R"("last_order_date":"2024-09-26T00:08:18.161Z","ecom_total_order_count":6,)"
    R"("ecom_total_order_amount":832,"last_click_date":"2023-10-03T07:58:18.893Z"})";

// The data set with only msisdn, as written canonically.
constexpr const char* kOnlyMsisdn =
    R"({"msisdn":5599999999999,"profileCreatedAt":null,"source":null,"source_value":null,)"
    R"("eshop_opt_in":null,"last_eshop_opt_in_date":null,"ecom_email":null,)"
    R"("ecom_signups_count":null,"ecom_device_type":null,"ecom_browser_name":null,)"
    R"("ecom_locale":null,"ecom_timezone":null,"ecom_os_name":null,"ecom_signup_domain":null,)"
    R"("ecom_signup_path":null,"ecom_signup_referrer_url":null,"last_order_date":null,)"
    R"("ecom_total_order_count":null,"ecom_total_order_amount":null,"last_click_date":null})";

// One event whose contact holds `fields` (JSON members, without braces).
std::string event_with(std::string_view fields) {
  return R"({"type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18.161Z","contact":{)" +
         std::string(fields) + "}}";
}

// One event whose contact has a valid msisdn plus `extra` members.
std::string event_plus(std::string_view extra) {
  return event_with(std::string(R"("msisdn":5599999999999,)") + std::string(extra));
}

std::string list_of(const std::vector<std::string>& events) {
  std::string body = R"({"events":[)";
  for (size_t i = 0; i < events.size(); ++i) body += (i ? "," : "") + events[i];
  return body + "]}";
}

// Asserts exactly one issue and returns it.
ValidationIssue single_issue(const ParsedIngest& parsed) {
  EXPECT_EQ(parsed.issues.size(), 1u);
  EXPECT_TRUE(parsed.events.empty());
  if (parsed.issues.size() != 1) {
    for (const auto& issue : parsed.issues) ADD_FAILURE() << issue.path << ": " << issue.message;
    return {};
  }
  return parsed.issues[0];
}

void expect_issue(std::string_view body, const std::string& path, const std::string& message) {
  const ValidationIssue issue = single_issue(parse_ingest_body(body));
  EXPECT_EQ(issue.path, path) << body;
  EXPECT_EQ(issue.message, message) << body;
  EXPECT_EQ(issue.event_index, path.empty() || path == "events" ? -1 : 0) << body;
}

void expect_body_not_json(std::string_view body) {
  const ValidationIssue issue = single_issue(parse_ingest_body(body));
  EXPECT_EQ(issue.path, "");
  EXPECT_EQ(issue.event_index, -1);
  EXPECT_PRED2(starts_with, issue.message, "body is not valid JSON: ") << body;
}

// The data set of a valid single-event body.
std::string data_of(std::string_view body) {
  ParsedIngest parsed = parse_ingest_body(body);
  for (const auto& issue : parsed.issues) ADD_FAILURE() << issue.path << ": " << issue.message;
  return parsed.events.size() == 1 ? parsed.events[0].data_json : "";
}

// ---- Valid bodies ----------------------------------------------------------

TEST(ParseIngestBody, SingleEvent) {
  ParsedIngest parsed = parse_ingest_body(
      R"({"id":"evt-1","type":"contact.unsubscribed","occurred_at":"2024-09-26T00:08:18.161Z",)"
      R"("contact":{"msisdn":5599999999999}})");
  ASSERT_TRUE(parsed.issues.empty());
  ASSERT_EQ(parsed.events.size(), 1u);
  const IncomingEvent& e = parsed.events[0];
  EXPECT_EQ(e.id, "evt-1");
  EXPECT_EQ(e.type, EventType::kUnsubscribed);
  EXPECT_EQ(e.occurred_at, "2024-09-26T00:08:18.161Z");
  EXPECT_EQ(e.occurred_at_ms, 1727309298161);
  EXPECT_EQ(e.data_json, kOnlyMsisdn);
  EXPECT_FALSE(parsed.too_many_events);
}

TEST(ParseIngestBody, EventList) {
  ParsedIngest parsed = parse_ingest_body(list_of(
      {event_with(R"("msisdn":1)"), event_with(R"("msisdn":2)"),
       R"({"id":"a:b.c_d-e","type":"contact.unsubscribed","occurred_at":"2024-01-01T00:00:00Z","contact":{"msisdn":3}})"}));
  ASSERT_TRUE(parsed.issues.empty());
  ASSERT_EQ(parsed.events.size(), 3u);
  EXPECT_PRED2(starts_with, parsed.events[0].data_json, R"({"msisdn":1,)");
  EXPECT_PRED2(starts_with, parsed.events[1].data_json, R"({"msisdn":2,)");
  EXPECT_EQ(parsed.events[0].id, "");
  EXPECT_EQ(parsed.events[2].id, "a:b.c_d-e");
  EXPECT_EQ(parsed.events[2].type, EventType::kUnsubscribed);
  EXPECT_EQ(parsed.events[2].occurred_at, "2024-01-01T00:00:00.000Z");
}

TEST(ParseIngestBody, FullDataSetInAnyOrderIsWrittenInTableOrder) {
  const std::string contact = R"(
    { "last_click_date" : "2023-10-03T07:58:18.893Z", "ecom_total_order_amount": 832,
      "ecom_total_order_count": 6, "last_order_date": "2024-09-26T00:08:18.161Z",
      "ecom_signup_referrer_url": "https:\/\/www.google.com", "ecom_signup_path": "/lancamentos",
      "ecom_signup_domain": "www.websitedomain.com.br", "ecom_os_name": "Android",
      "ecom_timezone": "UTC-03:00", "ecom_locale": "pt-br", "ecom_browser_name": "Chrome",
      "ecom_device_type": "mobile", "ecom_signups_count": 2, "ecom_email": "test@gmail.com",
      "last_eshop_opt_in_date": "2023-11-16T11:33:29.485Z", "eshop_opt_in": true,
      "source_value": "1234", "source": "form", "profileCreatedAt": "2022-11-24T09:59:41.163Z",
      "msisdn": 5599999999999 })";
  const std::string body = "\n\t {\"type\":\"contact.subscribed\",\"occurred_at\":\"2024-09-26T00:08:18.161Z\","
                           "\"contact\":" + contact + "} \r\n";
  EXPECT_EQ(data_of(body), kSampleCanonical);
}

TEST(ParseIngestBody, NullAndAbsentKeysAreWrittenAsNull) {
  EXPECT_EQ(data_of(event_plus(R"("source":null,"eshop_opt_in":null,"last_click_date":null)")),
            kOnlyMsisdn);
}

TEST(ParseIngestBody, NullIdCountsAsAbsent) {
  ParsedIngest parsed = parse_ingest_body(
      R"({"id":null,"type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18Z","contact":{"msisdn":1}})");
  ASSERT_TRUE(parsed.issues.empty());
  EXPECT_EQ(parsed.events[0].id, "");
}

TEST(ParseIngestBody, TimestampsAreCanonicalised) {
  ParsedIngest parsed = parse_ingest_body(
      R"({"type":"contact.subscribed","occurred_at":"2024-09-25T21:08:18.161999999-03:00",)"
      R"("contact":{"msisdn":1,"last_order_date":"2024-02-29t10:00:00z","last_click_date":"2024-09-26T00:08:18.1Z"}})");
  ASSERT_TRUE(parsed.issues.empty());
  EXPECT_EQ(parsed.events[0].occurred_at, "2024-09-26T00:08:18.161Z");
  EXPECT_EQ(parsed.events[0].occurred_at_ms, 1727309298161);
  EXPECT_PRED2(contains, parsed.events[0].data_json, R"("last_order_date":"2024-02-29T10:00:00.000Z")");
  EXPECT_PRED2(contains, parsed.events[0].data_json, R"("last_click_date":"2024-09-26T00:08:18.100Z")");
}

TEST(ParseIngestBody, IntegerEdges) {
  EXPECT_PRED2(contains, data_of(event_with(R"("msisdn":999999999999999,"ecom_total_order_amount":9223372036854775807)")),
              R"("msisdn":999999999999999,)");
  EXPECT_PRED2(contains, data_of(event_plus(R"("ecom_total_order_amount":9223372036854775807)")),
              R"("ecom_total_order_amount":9223372036854775807,)");
  EXPECT_PRED2(contains, data_of(event_plus(R"("ecom_signups_count":0)")), R"("ecom_signups_count":0,)");
  // -0 is an integer in JSON's grammar, and it is zero.
  EXPECT_PRED2(contains, data_of(event_plus(R"("ecom_signups_count":-0)")), R"("ecom_signups_count":0,)");
}

TEST(ParseIngestBody, BooleansAndSources) {
  EXPECT_PRED2(contains, data_of(event_plus(R"("eshop_opt_in":false)")), R"("eshop_opt_in":false,)");
  for (const char* source : {"form", "keyword", "mobile_identity", "import"}) {
    EXPECT_PRED2(contains, data_of(event_plus(std::string(R"("source":")") + source + "\"")),
                std::string(R"("source":")") + source + "\",") << source;
  }
}

TEST(ParseIngestBody, ControlCharactersRoundTripEscaped) {
  EXPECT_PRED2(contains, data_of(event_plus(R"("ecom_email":"a\"b\\c\/d\n\t\r\b\f\u0001\u001f\u0000e")")),
              R"("ecom_email":"a\"b\\c/d\n\t\r\b\f\u0001\u001f\u0000e",)");
}

TEST(ParseIngestBody, UnicodePassesThrough) {
  const std::string data =
      data_of(event_plus(R"("ecom_signup_path":"/promoção/😀","ecom_locale":"\u00e7\ud83d\ude00")"));
  EXPECT_PRED2(contains, data, R"("ecom_locale":"ç😀",)");
  EXPECT_PRED2(contains, data, R"("ecom_signup_path":"/promoção/😀",)");
}

TEST(ParseIngestBody, TextLengthLimitCountsBytes) {
  IngestLimits limits;
  limits.max_text_length = 4;
  EXPECT_TRUE(parse_ingest_body(event_plus(R"("ecom_locale":"pt-b")"), limits).issues.empty());
  const ValidationIssue issue = single_issue(parse_ingest_body(event_plus(R"("ecom_locale":"çç€")"), limits));
  EXPECT_EQ(issue.path, "contact.ecom_locale");
  EXPECT_EQ(issue.message, "must be at most 4 bytes long, got 7");
}

TEST(ParseIngestBody, DefaultTextLimitIs2048Bytes) {
  const std::string ok(2048, 'x');
  EXPECT_TRUE(parse_ingest_body(event_plus(R"("ecom_signup_path":")" + ok + "\"")).issues.empty());
  expect_issue(event_plus(R"("ecom_signup_path":")" + ok + "x\""), "contact.ecom_signup_path",
               "must be at most 2048 bytes long, got 2049");
}

TEST(ParseIngestBody, ExactlyMaxEventsIsAccepted) {
  IngestLimits limits;
  limits.max_events = 3;
  const std::string e = event_with(R"("msisdn":1)");
  EXPECT_EQ(parse_ingest_body(list_of({e, e, e}), limits).events.size(), 3u);
}

TEST(ParseIngestBody, ParserIsReusedSafelyAcrossBodiesOfDifferentSizes) {
  // A big body leaves bytes in the reused padded buffer; a small one after it
  // must not see them.
  const std::string big = list_of(std::vector<std::string>(1000, event_plus(R"("ecom_email":"x@y.z")")));
  ASSERT_GT(big.size(), 100'000u);  // more than the parser's first allocation
  EXPECT_EQ(parse_ingest_body(big).events.size(), 1000u);
  expect_body_not_json("{");
  // The depth limit survives the parser's growth.
  expect_body_not_json(event_plus(R"("ecom_email":)" + std::string(40, '[') + std::string(40, ']')));
  expect_body_not_json(R"({"events":[)");
  EXPECT_EQ(data_of(event_with(R"("msisdn":1)")).substr(0, 12), R"({"msisdn":1,)");
}

TEST(ParseIngestBody, ParsesOnSeveralThreadsAtOnce) {
  const std::string body = list_of(std::vector<std::string>(50, event_with(R"("msisdn":7)")));
  std::vector<std::thread> threads;
  std::atomic<int> parsed_events{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) parsed_events += static_cast<int>(parse_ingest_body(body).events.size());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(parsed_events.load(), 4 * 50 * 50);
}

// ---- Body-level problems ---------------------------------------------------

TEST(ParseIngestBody, BrokenJson) {
  for (const char* body : {"{", R"({"type":)", R"({"type" "x"})", "{} {}", R"({"a":1,})", "[1,]", "nul",
                           R"({"msisdn":01})", "{'type':1}"}) {
    expect_body_not_json(body);
  }
}

TEST(ParseIngestBody, EmptyAndWhitespaceBodies) {
  expect_body_not_json("");
  expect_body_not_json(std::string_view());
  expect_body_not_json(" \n\t\r ");
}

TEST(ParseIngestBody, InvalidUtf8InsideAString) {
  expect_body_not_json(event_plus("\"ecom_email\":\"a\xff\xfe" "b\""));
  expect_body_not_json(event_plus("\"ecom_email\":\"\xc3\""));        // truncated sequence
  expect_body_not_json(event_plus("\"ecom_email\":\"\xed\xa0\x80\""));  // encoded surrogate
  expect_body_not_json(event_plus(R"("ecom_email":"\ud800")"));         // lone surrogate escape
}

TEST(ParseIngestBody, RawControlCharacterInsideAString) {
  expect_body_not_json(event_plus("\"ecom_email\":\"a\nb\""));
}

TEST(ParseIngestBody, TooDeepNesting) {
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  expect_body_not_json(event_plus(R"("ecom_email":)" + deep));
  expect_body_not_json(deep);
}

TEST(ParseIngestBody, NumbersOutsideEveryIntegerType) {
  for (const char* n : {"18446744073709551616", "-9223372036854775809", "123456789012345678901234567890", "1e400"}) {
    const ValidationIssue issue = single_issue(parse_ingest_body(event_plus(std::string(R"("ecom_signups_count":)") + n)));
    EXPECT_EQ(issue.path, "");
    EXPECT_PRED2(starts_with, issue.message, "body is not valid JSON: ") << n;
    EXPECT_PRED2(contains, issue.message, "integers must fit in 64 bits") << n;
  }
}

TEST(ParseIngestBody, TopLevelMustBeAnObject) {
  expect_issue("[]", "", R"(body must be a JSON object (one event or {"events": [...]}), got an array)");
  expect_issue(R"("x")", "", R"(body must be a JSON object (one event or {"events": [...]}), got a string)");
  expect_issue("42", "", R"(body must be a JSON object (one event or {"events": [...]}), got a number)");
  expect_issue("null", "", R"(body must be a JSON object (one event or {"events": [...]}), got null)");
}

TEST(ParseIngestBody, EmptyEventList) {
  expect_issue(R"({"events":[]})", "events", "must hold at least one event");
}

TEST(ParseIngestBody, EventsMustBeAnArray) {
  expect_issue(R"({"events":{}})", "events", "must be an array of events, got an object");
  expect_issue(R"({"events":null})", "events", "must be an array of events, got null");
}

TEST(ParseIngestBody, EventListHoldsNothingElse) {
  const ValidationIssue issue =
      single_issue(parse_ingest_body(R"({"events":[)" + event_with(R"("msisdn":1)") + R"(],"type":"x"})"));
  EXPECT_EQ(issue.path, "type");
  EXPECT_EQ(issue.message, R"(unknown key; a body with "events" must hold nothing else)");
  expect_issue(R"({"events":[],"events":[]})", "events", "duplicate key; each key may appear only once");
}

TEST(ParseIngestBody, TooManyEvents) {
  const std::string e = event_with(R"("msisdn":1)");
  ParsedIngest parsed = parse_ingest_body(list_of(std::vector<std::string>(1001, e)));
  EXPECT_TRUE(parsed.too_many_events);
  EXPECT_TRUE(parsed.events.empty());
  ASSERT_EQ(parsed.issues.size(), 1u);
  EXPECT_EQ(parsed.issues[0].path, "events");
  EXPECT_EQ(parsed.issues[0].message, "must hold at most 1000 events, got 1001");

  ParsedIngest thousand = parse_ingest_body(list_of(std::vector<std::string>(1000, e)));
  EXPECT_FALSE(thousand.too_many_events);
  EXPECT_EQ(thousand.events.size(), 1000u);
}

TEST(ParseIngestBody, TooManyEventsIsReportedWithoutLookingInside) {
  IngestLimits limits;
  limits.max_events = 2;
  ParsedIngest parsed = parse_ingest_body(R"({"events":[1,2,3]})", limits);
  EXPECT_TRUE(parsed.too_many_events);
  ASSERT_EQ(parsed.issues.size(), 1u);
  EXPECT_EQ(parsed.issues[0].message, "must hold at most 2 events, got 3");
}

// ---- Envelope problems -----------------------------------------------------

TEST(ParseIngestBody, EnvelopeRequiredKeys) {
  ParsedIngest parsed = parse_ingest_body("{}");
  ASSERT_EQ(parsed.issues.size(), 3u);
  EXPECT_EQ(parsed.issues[0].path, "type");
  EXPECT_EQ(parsed.issues[1].path, "occurred_at");
  EXPECT_EQ(parsed.issues[2].path, "contact");
  for (const auto& issue : parsed.issues) {
    EXPECT_EQ(issue.message, "is required");
    EXPECT_EQ(issue.event_index, 0);
  }
  expect_issue(R"({"type":null,"occurred_at":"2024-09-26T00:08:18Z","contact":{"msisdn":1}})", "type",
               "is required");
}

TEST(ParseIngestBody, EnvelopeValues) {
  const std::string rest = R"("occurred_at":"2024-09-26T00:08:18Z","contact":{"msisdn":1})";
  expect_issue(R"({"type":"contact.created",)" + rest + "}", "type",
               "must be contact.subscribed or contact.unsubscribed");
  expect_issue(R"({"type":1,)" + rest + "}", "type", "must be contact.subscribed or contact.unsubscribed");
  expect_issue(R"({"type":"contact.subscribed","occurred_at":"yesterday","contact":{"msisdn":1}})",
               "occurred_at", "must be a date-time like 2024-09-26T00:08:18.161Z");
  expect_issue(R"({"type":"contact.subscribed","occurred_at":1727309298161,"contact":{"msisdn":1}})",
               "occurred_at", "must be a date-time like 2024-09-26T00:08:18.161Z, got a number");
  expect_issue(R"({"type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18Z","contact":[]})",
               "contact", "must be an object, got an array");
  expect_issue(R"({"type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18Z","contact":"x"})",
               "contact", "must be an object, got a string");
}

TEST(ParseIngestBody, EnvelopeIds) {
  const std::string rest = R"("type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18Z","contact":{"msisdn":1}})";
  const std::string bad_id = "must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'";
  expect_issue(R"({"id":"has space",)" + rest, "id", bad_id);
  expect_issue(R"({"id":"",)" + rest, "id", bad_id);
  expect_issue(R"({"id":")" + std::string(65, 'a') + "\"," + rest, "id", bad_id);
  expect_issue(R"({"id":"évt",)" + rest, "id", bad_id);
  expect_issue(R"({"id":12,)" + rest, "id", "must be a string, got a number");
  EXPECT_EQ(parse_ingest_body(R"({"id":")" + std::string(64, 'a') + "\"," + rest).events.at(0).id,
            std::string(64, 'a'));
}

TEST(ParseIngestBody, EnvelopeUnknownAndDuplicateKeys) {
  const std::string rest =
      R"("type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18Z","contact":{"msisdn":1}})";
  const std::string unknown = "unknown key; an event has only id, type, occurred_at and contact";
  expect_issue(R"({"typo":1,)" + rest, "typo", unknown);
  expect_issue(R"({"type":"contact.subscribed",)" + rest, "type", "duplicate key; each key may appear only once");
  // The data key belongs in the contact, not in the envelope.
  expect_issue(R"({"msisdn":1,)" + rest, "msisdn", unknown);
}

TEST(ParseIngestBody, EventInListMustBeAnObject) {
  const ValidationIssue issue =
      single_issue(parse_ingest_body(list_of({event_with(R"("msisdn":1)"), "\"x\""})));
  EXPECT_EQ(issue.path, "events[1]");
  EXPECT_EQ(issue.event_index, 1);
  EXPECT_EQ(issue.message, "must be an event object, got a string");
}

// ---- Data set problems -----------------------------------------------------

TEST(ParseIngestBody, MsisdnIsRequiredAndE164) {
  const std::string e164 = "must be a positive integer of at most 15 digits (E.164)";
  expect_issue(event_with(""), "contact.msisdn", "is required");
  expect_issue(event_with(R"("msisdn":null)"), "contact.msisdn", "is required");
  expect_issue(event_with(R"("msisdn":0)"), "contact.msisdn", e164);
  expect_issue(event_with(R"("msisdn":-0)"), "contact.msisdn", e164);
  expect_issue(event_with(R"("msisdn":-5599999999999)"), "contact.msisdn", e164);
  expect_issue(event_with(R"("msisdn":1000000000000000)"), "contact.msisdn", e164);  // 16 digits
  expect_issue(event_with(R"("msisdn":"5599999999999")"), "contact.msisdn", "must be an integer, got a string");
  expect_issue(event_with(R"("msisdn":5599999999999.0)"), "contact.msisdn",
               "must be an integer, got a number with a fraction or exponent");
}

TEST(ParseIngestBody, LongValues) {
  const std::string key = "contact.ecom_total_order_amount";
  const std::string fraction = "must be an integer, got a number with a fraction or exponent";
  expect_issue(event_plus(R"("ecom_total_order_amount":9223372036854775808)"), key,
               "must be an integer that fits in 64 bits (at most 9223372036854775807)");
  expect_issue(event_plus(R"("ecom_total_order_amount":18446744073709551615)"), key,
               "must be an integer that fits in 64 bits (at most 9223372036854775807)");
  expect_issue(event_plus(R"("ecom_total_order_amount":1e3)"), key, fraction);
  expect_issue(event_plus(R"("ecom_total_order_amount":1.0)"), key, fraction);
  expect_issue(event_plus(R"("ecom_total_order_amount":-0.0)"), key, fraction);
  expect_issue(event_plus(R"("ecom_total_order_amount":"832")"), key, "must be an integer, got a string");
  expect_issue(event_plus(R"("ecom_total_order_amount":true)"), key, "must be an integer, got a boolean");
  expect_issue(event_plus(R"("ecom_total_order_amount":[1])"), key, "must be an integer, got an array");
  expect_issue(event_plus(R"("ecom_total_order_amount":{"v":1})"), key, "must be an integer, got an object");
}

TEST(ParseIngestBody, CountsAndAmountsAreNotNegative) {
  for (const char* key : {"ecom_signups_count", "ecom_total_order_count", "ecom_total_order_amount"}) {
    expect_issue(event_plus("\"" + std::string(key) + "\":-1"), "contact." + std::string(key),
                 "must not be negative");
  }
}

TEST(ParseIngestBody, TimestampValues) {
  const std::string key = "contact.last_order_date";
  const std::string hint = "must be a date-time like 2024-09-26T00:08:18.161Z";
  expect_issue(event_plus(R"("last_order_date":"2023-02-29T00:00:00Z")"), key, hint);
  expect_issue(event_plus(R"("last_order_date":"2024-09-26")"), key, hint);
  expect_issue(event_plus(R"("last_order_date":"")"), key, hint);
  expect_issue(event_plus(R"("last_order_date":1727309298161)"), key, hint + ", got a number");
  expect_issue(event_plus(R"("last_order_date":false)"), key, hint + ", got a boolean");
  EXPECT_PRED2(contains, data_of(event_plus(R"("last_order_date":"2024-02-29T00:00:00Z")")),
              R"("last_order_date":"2024-02-29T00:00:00.000Z")");
}

TEST(ParseIngestBody, BooleanValues) {
  expect_issue(event_plus(R"("eshop_opt_in":"true")"), "contact.eshop_opt_in", "must be true or false, got a string");
  expect_issue(event_plus(R"("eshop_opt_in":1)"), "contact.eshop_opt_in", "must be true or false, got a number");
}

TEST(ParseIngestBody, TextValues) {
  expect_issue(event_plus(R"("ecom_email":{"nested":{"deeper":"x"}})"), "contact.ecom_email",
               "must be a string, got an object");
  expect_issue(event_plus(R"("ecom_email":["a"])"), "contact.ecom_email", "must be a string, got an array");
  expect_issue(event_plus(R"("source_value":1234)"), "contact.source_value", "must be a string, got a number");
  expect_issue(event_plus(R"("ecom_os_name":false)"), "contact.ecom_os_name", "must be a string, got a boolean");
}

TEST(ParseIngestBody, SourceIsOneOfFour) {
  const std::string message = "must be one of form, keyword, mobile_identity, import";
  expect_issue(event_plus(R"("source":"Form")"), "contact.source", message);
  expect_issue(event_plus(R"("source":"")"), "contact.source", message);
  expect_issue(event_plus(R"("source":"csv")"), "contact.source", message);
  expect_issue(event_plus(R"("source":3)"), "contact.source", "must be a string, got a number");
}

TEST(ParseIngestBody, UnknownAndDuplicateDataKeys) {
  expect_issue(event_plus(R"("email":"a@b.c")"), "contact.email",
               "unknown key; the allowed keys are listed in the data set table");
  expect_issue(event_plus(R"("MSISDN":1)"), "contact.MSISDN",
               "unknown key; the allowed keys are listed in the data set table");
  expect_issue(event_plus(R"("ecom_locale":"pt-br","ecom_locale":"pt-br")"), "contact.ecom_locale",
               "duplicate key; each key may appear only once");
  expect_issue(event_with(R"("msisdn":1,"msisdn":2)"), "contact.msisdn", "duplicate key; each key may appear only once");
}

TEST(ParseIngestBody, LongUnknownKeyIsCutInThePath) {
  const std::string key = "k" + std::string(300, 'x');
  const ValidationIssue issue = single_issue(parse_ingest_body(event_plus("\"" + key + "\":1")));
  EXPECT_EQ(issue.path, "contact." + key.substr(0, 100));
}

// ---- Paths, collection and the cap -----------------------------------------

TEST(ParseIngestBody, PathsInTheListForm) {
  std::vector<std::string> events(4, event_with(R"("msisdn":1)"));
  events[3] = event_plus(R"("ecom_signups_count":"2")");
  const ValidationIssue issue = single_issue(parse_ingest_body(list_of(events)));
  EXPECT_EQ(issue.path, "events[3].contact.ecom_signups_count");
  EXPECT_EQ(issue.event_index, 3);
  EXPECT_EQ(issue.message, "must be an integer, got a string");
}

TEST(ParseIngestBody, EnvelopePathsInTheListForm) {
  const ValidationIssue issue = single_issue(parse_ingest_body(
      list_of({event_with(R"("msisdn":1)"), R"({"type":"x","occurred_at":"2024-09-26T00:08:18Z","contact":{"msisdn":1}})"})));
  EXPECT_EQ(issue.path, "events[1].type");
  EXPECT_EQ(issue.event_index, 1);
}

TEST(ParseIngestBody, PathsInTheSingleForm) {
  const ValidationIssue issue = single_issue(parse_ingest_body(event_plus(R"("ecom_signups_count":"2")")));
  EXPECT_EQ(issue.path, "contact.ecom_signups_count");
  EXPECT_EQ(issue.event_index, 0);
}

TEST(ParseIngestBody, CollectsEveryIssueOfEveryEvent) {
  ParsedIngest parsed = parse_ingest_body(list_of({
      R"({"type":"nope","occurred_at":"2024-09-26T00:08:18Z","contact":{"msisdn":"1","source":"web"}})",
      event_with(R"("msisdn":1)"),
      R"({"type":"contact.subscribed","occurred_at":"never","contact":{"eshop_opt_in":"yes"}})",
  }));
  EXPECT_TRUE(parsed.events.empty());
  std::vector<std::string> paths;
  for (const auto& issue : parsed.issues) paths.push_back(issue.path);
  EXPECT_EQ(paths, (std::vector<std::string>{
                       "events[0].type", "events[0].contact.msisdn", "events[0].contact.source",
                       "events[2].occurred_at", "events[2].contact.msisdn", "events[2].contact.eshop_opt_in"}));
  EXPECT_EQ(parsed.issues[4].event_index, 2);
}

TEST(ParseIngestBody, AtMostFiftyIssues) {
  const std::string bad = event_plus(R"("ecom_signups_count":-1,"eshop_opt_in":"x")");
  ParsedIngest parsed = parse_ingest_body(list_of(std::vector<std::string>(40, bad)));
  EXPECT_EQ(parsed.issues.size(), 50u);
  EXPECT_EQ(parsed.issues.back().path, "events[24].contact.ecom_signups_count");
  EXPECT_TRUE(parsed.events.empty());
  EXPECT_FALSE(parsed.too_many_events);
}

TEST(ParseIngestBody, OneBadEventRejectsTheWholeRequest) {
  ParsedIngest parsed = parse_ingest_body(list_of({event_with(R"("msisdn":1)"), event_with(R"("msisdn":0)")}));
  EXPECT_EQ(parsed.issues.size(), 1u);
  EXPECT_TRUE(parsed.events.empty());
}

// ---- canonical_contact_json and the sample ---------------------------------

TEST(CanonicalContactJson, SampleIsCanonical) {
  EXPECT_EQ(sample_contact_json(), kSampleCanonical);
  Result<std::string> canonical = canonical_contact_json(sample_contact_json());
  ASSERT_TRUE(canonical.ok()) << canonical.error().message;
  EXPECT_EQ(*canonical, kSampleCanonical);
}

TEST(CanonicalContactJson, ReordersAndFillsNulls) {
  Result<std::string> canonical = canonical_contact_json(R"( { "msisdn" : 5599999999999 } )");
  ASSERT_TRUE(canonical.ok());
  EXPECT_EQ(*canonical, kOnlyMsisdn);
}

TEST(CanonicalContactJson, IssuesUseDataPaths) {
  std::vector<ValidationIssue> issues{{7, "stale", "replaced"}};
  Result<std::string> canonical =
      canonical_contact_json(R"({"msisdn":"x","source":"web","extra":1})", &issues);
  ASSERT_FALSE(canonical.ok());
  EXPECT_EQ(canonical.error().code, ErrorCode::kInvalid);
  ASSERT_EQ(issues.size(), 3u);
  EXPECT_EQ(issues[0].path, "data.extra");
  EXPECT_EQ(issues[1].path, "data.msisdn");
  EXPECT_EQ(issues[2].path, "data.source");
  EXPECT_EQ(issues[0].event_index, -1);
  EXPECT_EQ(canonical.error().message,
            "data.extra: unknown key; the allowed keys are listed in the data set table; "
            "data.msisdn: must be an integer, got a string; "
            "data.source: must be one of form, keyword, mobile_identity, import");
}

TEST(CanonicalContactJson, MissingMsisdn) {
  Result<std::string> canonical = canonical_contact_json("{}");
  ASSERT_FALSE(canonical.ok());
  EXPECT_EQ(canonical.error().message, "data.msisdn: is required");
}

TEST(CanonicalContactJson, NotAnObjectOrNotJson) {
  std::vector<ValidationIssue> issues;
  EXPECT_FALSE(canonical_contact_json("[]", &issues).ok());
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "data");
  EXPECT_EQ(issues[0].message, "must be an object, got an array");
  EXPECT_FALSE(canonical_contact_json("{\"msisdn\":", &issues).ok());
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "data");
  EXPECT_PRED2(starts_with, issues[0].message, "is not valid JSON: ");
  EXPECT_FALSE(canonical_contact_json("", nullptr).ok());
}

// ---- Small pieces ----------------------------------------------------------

}  // namespace
}  // namespace growhook
