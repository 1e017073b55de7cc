// The account routes: GET and PATCH /v1/account (its notification_email).
#include "api/app.h"
#include "api/problem.h"
#include "api/render.h"
#include "domain/notification.h"

namespace growhook::api {
namespace {

using nlohmann::json;

json account_json(const Account& a) {
  return {{"id", a.id},
          {"name", a.name},
          {"notification_email", a.notification_email ? json(*a.notification_email) : json(nullptr)},
          {"created_at", timestamp_json(a.created_at_ms)}};
}

Response email_problem(const std::string& message) {
  return problem(400, "notification_email: " + message, json::array({{{"field", "notification_email"},
                                                                       {"message", message}}}));
}

}  // namespace

Response App::get_account(const Account& a) {
  // Read again: the account of the key cache may predate a PATCH.
  auto fresh = accounts_.get_account(a.id);
  if (!fresh.ok()) return problem_from(fresh.error());
  return json_response(200, account_json(*fresh));
}

Response App::patch_account(const Account& a, const Request& req) {
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return problem(400, "body must be a JSON object like {\"notification_email\": \"shop@example.com\"}");
  }
  for (const auto& [key, value] : body.items()) {
    if (key != "notification_email") {
      return problem(400, "unknown field '" + key + "': only notification_email can be changed",
                     json::array({{{"field", key}, {"message", "unknown field"}}}));
    }
  }
  if (!body.contains("notification_email")) {
    return problem(400, "give notification_email: an address like shop@example.com, or null for no mail");
  }
  const json& v = body["notification_email"];
  std::optional<std::string> email;
  if (!v.is_null()) {
    if (!v.is_string()) return email_problem("must be a string (an address) or null");
    email = v.get<std::string>();
    if (auto s = validate_notification_email(*email); !s.ok()) return email_problem(s.error().message);
  }
  if (auto s = accounts_.set_notification_email(a.id, email); !s.ok()) return problem_from(s.error());
  return get_account(a);
}

}  // namespace growhook::api
