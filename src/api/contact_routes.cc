// The contact routes: a contact's events by msisdn or email, one event,
// each with where it went (store/contacts.h).
#include <cctype>
#include <charconv>

#include "api/app.h"
#include "api/problem.h"
#include "api/render.h"

namespace growhook::api {
namespace {

// The digits of an E.164 number without its '+', as the data set's msisdn.
std::optional<int64_t> parse_msisdn(const std::string& s) {
  if (s.empty() || s.size() > 15) return std::nullopt;
  int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n < 1) return std::nullopt;
  return n;
}

// Enough of an address to search by: text@text, no space or control
// character, at most 254 bytes. (The stored ecom_email is free text; a
// search for anything else would find nothing, so it is refused instead.)
bool plausible_email(const std::string& s) {
  if (s.size() < 3 || s.size() > 254) return false;
  const auto at = s.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == s.size() || s.find('@', at + 1) != std::string::npos) {
    return false;
  }
  for (unsigned char c : s) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

Result<int> page_limit(const Request& req) {
  auto l = req.query_param("limit");
  if (l.empty()) return 50;
  int limit = 0;
  auto [end, ec] = std::from_chars(l.data(), l.data() + l.size(), limit);
  if (ec != std::errc() || end != l.data() + l.size() || limit < 1 || limit > 200) {
    return Error::invalid("limit: must be from 1 to 200");
  }
  return limit;
}

nlohmann::json delivery_json(const EventDelivery& d) {
  nlohmann::json last = nullptr;
  if (d.last_attempt) {
    const Attempt& a = *d.last_attempt;
    last = {{"at", timestamp_json(a.at_ms)},
            {"status_code", a.status_code ? nlohmann::json(a.status_code) : nlohmann::json(nullptr)},
            {"duration_ms", a.duration_ms},
            {"error", a.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.error)}};
  }
  return {{"webhook_id", d.webhook_id},
          {"batch_id", d.batch_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.batch_id)},
          {"state", std::string(to_string(d.state))},
          {"last_attempt", last}};
}

// The event as its messages carry it, plus when growhook received it and
// its deliveries.
nlohmann::json stored_event_json(const StoredEvent& e) {
  nlohmann::json j = nlohmann::json::parse(e.message_json, nullptr, false);
  if (!j.is_object()) j = nlohmann::json::object({{"id", e.id}});
  j["received_at"] = timestamp_json(e.created_at_ms);
  auto deliveries = nlohmann::json::array();
  for (const auto& d : e.deliveries) deliveries.push_back(delivery_json(d));
  j["deliveries"] = std::move(deliveries);
  return j;
}

}  // namespace

Response App::find_contact(const Account& a, const Request& req) {
  const std::string msisdn = req.query_param("msisdn");
  const std::string email = req.query_param("email");
  if (msisdn.empty() == email.empty()) {
    return problem(400, msisdn.empty() ? "msisdn or email: give one, the contact's phone number or email address"
                                       : "msisdn or email: give one of them, not both");
  }
  ContactQuery q;
  if (!msisdn.empty()) {
    q.msisdn = parse_msisdn(msisdn);
    if (!q.msisdn) return problem(400, "msisdn: must be the contact's number in E.164 digits without '+', 1 to 15 digits");
  } else {
    if (!plausible_email(email)) return problem(400, "email: must be an email address, e.g. jane@example.com");
    q.email = email;
  }
  auto limit = page_limit(req);
  if (!limit.ok()) return problem(400, limit.error().message);
  q.limit = *limit;
  if (auto c = req.query_param("cursor"); !c.empty()) {
    auto [end, ec] = std::from_chars(c.data(), c.data() + c.size(), q.before_seq);
    if (ec != std::errc() || end != c.data() + c.size() || q.before_seq < 1) {
      return problem(400, "cursor: must be the next_cursor of the previous page");
    }
  }
  auto events = contacts_.find_contact_events(a.id, q);
  if (!events.ok()) return problem_from(events.error());
  nlohmann::json data = nlohmann::json::array();
  for (const auto& e : *events) data.push_back(stored_event_json(e));
  nlohmann::json next = static_cast<int>(events->size()) == q.limit
                            ? nlohmann::json(std::to_string(events->back().seq))
                            : nlohmann::json(nullptr);
  return json_response(200, {{"data", data}, {"next_cursor", next}});
}

Response App::get_event(const Account& a, const std::string& id) {
  auto e = contacts_.get_event(a.id, id);
  if (!e.ok()) return problem_from(e.error());
  return json_response(200, stored_event_json(*e));
}

}  // namespace growhook::api
