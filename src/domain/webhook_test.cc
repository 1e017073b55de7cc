// The webhook's field rules on their own, without HTTP: the routes' tests
// (tests/e2e) check the same through the API.
#include "domain/webhook.h"

#include <gtest/gtest.h>

namespace growhook {
namespace {

FieldErrors apply(const char* body, Webhook& w, bool create = true) {
  FieldErrors errors;
  apply_webhook_fields(nlohmann::json::parse(body), w, create, AddressGuard(), errors);
  return errors;
}

std::vector<std::string> fields(const FieldErrors& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.field);
  return out;
}

TEST(WebhookFields, ACreationSetsEveryFieldGiven) {
  Webhook w;
  auto errors = apply(R"({"name":"crm","url":"https://example.com/hooks","event_types":["contact.unsubscribed"],
                          "batch_max_events":10,"batch_max_bytes":4096,"enabled":false,
                          "auth":{"type":"header","name":"X-Key","value":"k"}})",
                      w);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(w.name, "crm");
  EXPECT_EQ(w.event_types, type_bit(EventType::kUnsubscribed));
  EXPECT_EQ(w.batch_max_events, 10);
  EXPECT_EQ(w.batch_max_bytes, 4096);
  EXPECT_FALSE(w.enabled);
  EXPECT_EQ(w.auth.kind, WebhookAuth::Kind::kHeader);
  EXPECT_EQ(w.auth.header_name, "X-Key");
}

TEST(WebhookFields, EveryProblemIsNamedByItsField) {
  Webhook w;
  auto errors = apply(R"({"url":"ftp://x","batch_max_events":1001,"batch_max_bytes":10,"colour":"red",
                          "auth":{"type":"header","name":"Webhook-Id","value":"v"}})",
                      w);
  EXPECT_EQ(fields(errors),
            (std::vector<std::string>{"colour", "name", "url", "batch_max_events", "batch_max_bytes", "auth.name"}));
}

TEST(WebhookFields, ALiteralAddressMustPassTheGuard) {
  Webhook w;
  auto errors = apply(R"({"name":"crm","url":"http://127.0.0.1:9/hook"})", w);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "url");
  EXPECT_NE(errors[0].message.find("--allow-targets"), std::string::npos);
  FieldErrors allowed;
  apply_webhook_fields(nlohmann::json::parse(R"({"name":"crm","url":"http://127.0.0.1:9/hook"})"), w, true,
                       AddressGuard(*parse_cidr_list("127.0.0.0/8")), allowed);
  EXPECT_TRUE(allowed.empty());
}

TEST(WebhookFields, AnUpdateChangesOnlyWhatItNames) {
  Webhook w;
  w.name = "crm";
  w.url = "https://example.com/hooks";
  auto errors = apply(R"({"batch_max_events":5})", w, /*create=*/false);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(w.name, "crm");
  EXPECT_EQ(w.batch_max_events, 5);
}

}  // namespace
}  // namespace growhook
