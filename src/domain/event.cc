#include "domain/event.h"

#include <simdjson.h>

#include <array>
#include <charconv>
#include <limits>

#include "common/ids.h"
#include "domain/timestamp.h"

namespace growhook {
namespace {

namespace dom = simdjson::dom;

constexpr size_t kMaxIssues = 50;
// A valid body nests four levels ({"events":[{"contact":{...}}]}); anything
// much deeper is refused by the parser itself, which also bounds its memory.
constexpr size_t kMaxDepth = 32;
constexpr size_t kInitialCapacity = 64 * 1024;
constexpr int64_t kMaxMsisdn = 999'999'999'999'999;  // E.164: at most 15 digits
constexpr size_t kMaxKeyInPath = 100;                // bytes of an unknown key echoed back
constexpr const char* kTimestampHint = "must be a date-time like 2024-09-26T00:08:18.161Z";

// How a data set value is checked and written.
enum class Kind : uint8_t { kMsisdn, kLong, kCount, kTimestamp, kBoolean, kText, kSource };

struct DataKey {
  std::string_view name;
  Kind kind;
};

// The data set's table (docs/receiving-webhooks.md, "The data set"), in its
// order, which is also the output order.
constexpr std::array<DataKey, 20> kDataSet = {{
    {"msisdn", Kind::kMsisdn},
    {"profileCreatedAt", Kind::kTimestamp},
    {"source", Kind::kSource},
    {"source_value", Kind::kText},
    {"eshop_opt_in", Kind::kBoolean},
    {"last_eshop_opt_in_date", Kind::kTimestamp},
    {"ecom_email", Kind::kText},
    {"ecom_signups_count", Kind::kCount},
    {"ecom_device_type", Kind::kText},
    {"ecom_browser_name", Kind::kText},
    {"ecom_locale", Kind::kText},
    {"ecom_timezone", Kind::kText},
    {"ecom_os_name", Kind::kText},
    {"ecom_signup_domain", Kind::kText},
    {"ecom_signup_path", Kind::kText},
    {"ecom_signup_referrer_url", Kind::kText},
    {"last_order_date", Kind::kTimestamp},
    {"ecom_total_order_count", Kind::kCount},
    {"ecom_total_order_amount", Kind::kCount},
    {"last_click_date", Kind::kTimestamp},
}};

constexpr std::array<std::string_view, 4> kSources = {"form", "keyword", "mobile_identity", "import"};

int data_key_index(std::string_view key) {
  for (size_t i = 0; i < kDataSet.size(); ++i) {
    if (kDataSet[i].name == key) return static_cast<int>(i);
  }
  return -1;
}

// Cuts an echoed key at a UTF-8 character boundary so that a hostile key
// cannot blow up the answer.
std::string_view key_for_path(std::string_view key) {
  if (key.size() <= kMaxKeyInPath) return key;
  size_t n = kMaxKeyInPath;
  while (n > 0 && (static_cast<unsigned char>(key[n]) & 0xC0) == 0x80) --n;
  return key.substr(0, n);
}

// Where a value sits; paths are built only when an issue is reported, so the
// valid path costs no string work.
struct Where {
  int event_index = -1;
  bool in_list = false;       // body is {"events": [...]}: paths start "events[i]"
  std::string_view object;    // "", "contact" or "data"

  std::string path(std::string_view key) const {
    std::string p;
    if (in_list) p = "events[" + std::to_string(event_index) + "]";
    for (std::string_view part : {object, key_for_path(key)}) {
      if (part.empty()) continue;
      if (!p.empty()) p += '.';
      p += part;
    }
    return p;
  }
  Where inside(std::string_view name) const { return {event_index, in_list, name}; }
};

// Collects issues up to kMaxIssues; callers check full() to stop early.
class Issues {
 public:
  explicit Issues(std::vector<ValidationIssue>& out) : out_(out) {}
  bool full() const { return out_.size() >= kMaxIssues; }
  bool empty() const { return out_.empty(); }
  void add(const Where& where, std::string_view key, std::string message) {
    if (!full()) out_.push_back({where.event_index, where.path(key), std::move(message)});
  }

 private:
  std::vector<ValidationIssue>& out_;
};

std::string got(dom::element v) {
  switch (v.type()) {
    case dom::element_type::STRING: return "got a string";
    case dom::element_type::BOOL: return "got a boolean";
    case dom::element_type::NULL_VALUE: return "got null";
    case dom::element_type::ARRAY: return "got an array";
    case dom::element_type::OBJECT: return "got an object";
    default: return "got a number";
  }
}

// One parser per thread: its buffers grow to the largest body seen and are
// reused, which is most of simdjson's speed. Elements it returns are valid
// until the next parse on the same thread.
dom::parser& thread_parser() {
  thread_local dom::parser parser = [] {
    dom::parser p;
    // A failure here is not fatal: parse() allocates again on demand.
    simdjson::error_code ignored = p.allocate(kInitialCapacity, kMaxDepth);
    (void)ignored;
    return p;
  }();
  return parser;
}

// Parses JSON text; on failure returns false and sets *error to simdjson's
// explanation. parse() copies the text into the parser's own padded buffer,
// so `text` needs no padding.
bool parse_json(std::string_view text, dom::element* root, std::string* error) {
  static constexpr char kEmpty[] = "";
  const char* data = text.empty() ? kEmpty : text.data();
  simdjson::error_code code = thread_parser().parse(data, text.size(), true).get(*root);
  if (code == simdjson::SUCCESS) return true;
  *error = simdjson::error_message(code);
  if (code == simdjson::NUMBER_ERROR) {
    *error += " (numbers must be valid JSON and integers must fit in 64 bits)";
  }
  return false;
}

// ---- Data set values -------------------------------------------------------

bool check_long(dom::element v, Kind kind, const Where& w, std::string_view key, Issues& issues,
                int64_t* out) {
  const dom::element_type t = v.type();
  if (t == dom::element_type::UINT64) {
    issues.add(w, key, "must be an integer that fits in 64 bits (at most 9223372036854775807)");
    return false;
  }
  if (t == dom::element_type::DOUBLE) {
    issues.add(w, key, "must be an integer, got a number with a fraction or exponent");
    return false;
  }
  if (t != dom::element_type::INT64) {
    issues.add(w, key, "must be an integer, " + got(v));
    return false;
  }
  const int64_t n = v.get_int64().value_unsafe();
  if (kind == Kind::kMsisdn && (n < 1 || n > kMaxMsisdn)) {
    issues.add(w, key, "must be a positive integer of at most 15 digits (E.164)");
    return false;
  }
  if (kind == Kind::kCount && n < 0) {
    issues.add(w, key, "must not be negative");
    return false;
  }
  *out = n;
  return true;
}

void append_int(std::string& out, int64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, end);
}

// Appends the canonical form of a timestamp string, or reports an issue.
// *epoch_ms receives the value when given.
bool write_timestamp(dom::element v, const Where& w, std::string_view key, Issues& issues,
                     std::string& out, int64_t* epoch_ms = nullptr) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) {
    issues.add(w, key, std::string(kTimestampHint) + ", " + got(v));
    return false;
  }
  const std::optional<int64_t> ms = parse_timestamp(s);
  if (!ms) {
    issues.add(w, key, kTimestampHint);
    return false;
  }
  if (epoch_ms) *epoch_ms = *ms;
  // Already canonical (the usual case): copy it instead of formatting again.
  const bool canonical = s.size() == 24 && s[10] == 'T' && s[23] == 'Z';
  out += '"';
  out += canonical ? std::string_view(s) : std::string_view(format_timestamp(*ms));
  out += '"';
  return true;
}

bool write_string_value(dom::element v, Kind kind, const Where& w, std::string_view key,
                        const IngestLimits& limits, Issues& issues, std::string& out) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) {
    issues.add(w, key, "must be a string, " + got(v));
    return false;
  }
  if (kind == Kind::kSource) {
    bool known = false;
    for (std::string_view src : kSources) known = known || s == src;
    if (!known) {
      issues.add(w, key, "must be one of form, keyword, mobile_identity, import");
      return false;
    }
  } else if (s.size() > limits.max_text_length) {
    issues.add(w, key, "must be at most " + std::to_string(limits.max_text_length) +
                           " bytes long, got " + std::to_string(s.size()));
    return false;
  }
  append_json_string(out, s);
  return true;
}

// Appends one non-null data set value in canonical form, or reports an issue.
void write_data_value(const DataKey& spec, dom::element v, const Where& w,
                      const IngestLimits& limits, Issues& issues, std::string& out) {
  switch (spec.kind) {
    case Kind::kMsisdn:
    case Kind::kLong:
    case Kind::kCount: {
      int64_t n = 0;
      if (check_long(v, spec.kind, w, spec.name, issues, &n)) append_int(out, n);
      return;
    }
    case Kind::kTimestamp:
      write_timestamp(v, w, spec.name, issues, out);
      return;
    case Kind::kBoolean: {
      bool b = false;
      if (v.get_bool().get(b) == simdjson::SUCCESS) {
        out += b ? "true" : "false";
      } else {
        issues.add(w, spec.name, "must be true or false, " + got(v));
      }
      return;
    }
    case Kind::kText:
    case Kind::kSource:
      write_string_value(v, spec.kind, w, spec.name, limits, issues, out);
      return;
  }
}

// Validates a contact object and writes it to *out as the canonical data set:
// all 20 keys in table order, missing or null ones as null. *out is
// meaningful only when no issue was added.
void write_contact(dom::object contact, const Where& w, const IngestLimits& limits,
                   Issues& issues, std::string& out, IncomingEvent* keys = nullptr) {
  std::array<dom::element, kDataSet.size()> values;
  uint32_t seen = 0;
  for (dom::key_value_pair field : contact) {
    const int i = data_key_index(field.key);
    if (i < 0) {
      issues.add(w, field.key, "unknown key; the allowed keys are listed in the data set table");
    } else if (seen & (1u << i)) {
      issues.add(w, field.key, "duplicate key; each key may appear only once");
    } else {
      seen |= 1u << i;
      values[i] = field.value;
    }
  }
  out.clear();
  out += '{';
  for (size_t i = 0; i < kDataSet.size() && !issues.full(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    out += kDataSet[i].name;
    out += "\":";
    if (!(seen & (1u << i)) || values[i].is_null()) {
      if (kDataSet[i].kind == Kind::kMsisdn) issues.add(w, kDataSet[i].name, "is required");
      out += "null";
    } else {
      write_data_value(kDataSet[i], values[i], w, limits, issues, out);
      if (keys && kDataSet[i].name == "msisdn") {
        int64_t n = 0;
        if (values[i].get_int64().get(n) == simdjson::SUCCESS) keys->msisdn = n;
      } else if (keys && kDataSet[i].name == "ecom_email") {
        std::string_view e;
        if (values[i].get_string().get(e) == simdjson::SUCCESS) keys->email = ascii_lower(e);
      }
    }
  }
  out += '}';
}

// ---- Events ----------------------------------------------------------------

// The envelope's values by key, with unknown and duplicate keys reported.
struct Envelope {
  dom::element id, type, occurred_at, contact;
  bool has_id = false, has_type = false, has_occurred_at = false, has_contact = false;
};

void collect_envelope(dom::object event, const Where& w, Issues& issues, Envelope& env) {
  for (dom::key_value_pair field : event) {
    std::pair<dom::element*, bool*> slot{nullptr, nullptr};
    if (field.key == "id") slot = {&env.id, &env.has_id};
    else if (field.key == "type") slot = {&env.type, &env.has_type};
    else if (field.key == "occurred_at") slot = {&env.occurred_at, &env.has_occurred_at};
    else if (field.key == "contact") slot = {&env.contact, &env.has_contact};
    if (!slot.first) {
      issues.add(w, field.key, "unknown key; an event has only id, type, occurred_at and contact");
    } else if (*slot.second) {
      issues.add(w, field.key, "duplicate key; each key may appear only once");
    } else {
      *slot.first = field.value;
      *slot.second = true;
    }
  }
  // A null value counts as absent, as in the data set.
  env.has_id = env.has_id && !env.id.is_null();
  env.has_type = env.has_type && !env.type.is_null();
  env.has_occurred_at = env.has_occurred_at && !env.occurred_at.is_null();
  env.has_contact = env.has_contact && !env.contact.is_null();
}

void read_id(const Envelope& env, const Where& w, Issues& issues, IncomingEvent& out) {
  if (!env.has_id) return;
  std::string_view id;
  if (env.id.get_string().get(id) != simdjson::SUCCESS) {
    issues.add(w, "id", "must be a string, " + got(env.id));
  } else if (!is_valid_id(id)) {
    issues.add(w, "id", "must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'");
  } else {
    out.id.assign(id);
  }
}

void read_type(const Envelope& env, const Where& w, Issues& issues, IncomingEvent& out) {
  if (!env.has_type) return issues.add(w, "type", "is required");
  std::string_view s;
  std::optional<EventType> type;
  if (env.type.get_string().get(s) == simdjson::SUCCESS) type = parse_event_type(s);
  if (type) {
    out.type = *type;
  } else {
    issues.add(w, "type", "must be contact.subscribed or contact.unsubscribed");
  }
}

void read_occurred_at(const Envelope& env, const Where& w, Issues& issues, IncomingEvent& out) {
  if (!env.has_occurred_at) return issues.add(w, "occurred_at", "is required");
  std::string canonical;
  if (write_timestamp(env.occurred_at, w, "occurred_at", issues, canonical, &out.occurred_at_ms)) {
    out.occurred_at = canonical.substr(1, canonical.size() - 2);  // without the quotes
  }
}

// Thread-local scratch for the data set: reused, so each event pays one
// exact-size allocation for its data_json.
std::string& scratch_buffer() {
  thread_local std::string buffer;
  return buffer;
}

void read_event(dom::element value, const Where& w, const IngestLimits& limits, Issues& issues,
                IncomingEvent& out) {
  dom::object event;
  if (value.get_object().get(event) != simdjson::SUCCESS) {
    return issues.add(w, "", "must be an event object, " + got(value));
  }
  Envelope env;
  collect_envelope(event, w, issues, env);
  read_id(env, w, issues, out);
  read_type(env, w, issues, out);
  read_occurred_at(env, w, issues, out);
  if (!env.has_contact) return issues.add(w, "contact", "is required");
  dom::object contact;
  if (env.contact.get_object().get(contact) != simdjson::SUCCESS) {
    return issues.add(w, "contact", "must be an object, " + got(env.contact));
  }
  std::string& data = scratch_buffer();
  write_contact(contact, w.inside("contact"), limits, issues, data, &out);
  out.data_json.assign(data);
}

// Reads the {"events": [...]} form; `events` is the array's value.
void read_event_list(dom::element events, const IngestLimits& limits, ParsedIngest& result,
                     Issues& issues) {
  const Where body;
  dom::array list;
  if (events.get_array().get(list) != simdjson::SUCCESS) {
    return issues.add(body, "events", "must be an array of events, " + got(events));
  }
  const size_t count = list.size();
  if (count == 0) return issues.add(body, "events", "must hold at least one event");
  if (count > limits.max_events) {
    result.too_many_events = true;
    return issues.add(body, "events", "must hold at most " + std::to_string(limits.max_events) +
                                          " events, got " + std::to_string(count));
  }
  result.events.reserve(count);
  int index = 0;
  for (dom::element value : list) {
    if (issues.full()) return;
    read_event(value, Where{index++, true, ""}, limits, issues, result.events.emplace_back());
  }
}

// Reads the root: either {"events": [...]} and nothing else, or one event.
void read_body(dom::element root, const IngestLimits& limits, ParsedIngest& result,
               Issues& issues) {
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return issues.add(Where{}, "",
                      "body must be a JSON object (one event or {\"events\": [...]}), " + got(root));
  }
  dom::element events;
  if (object.at_key("events").get(events) != simdjson::SUCCESS) {
    return read_event(root, Where{0, false, ""}, limits, issues, result.events.emplace_back());
  }
  int events_keys = 0;
  for (dom::key_value_pair field : object) {
    if (field.key != "events") {
      issues.add(Where{}, field.key, "unknown key; a body with \"events\" must hold nothing else");
    } else if (++events_keys > 1) {
      issues.add(Where{}, field.key, "duplicate key; each key may appear only once");
    }
  }
  if (!issues.empty()) return;
  read_event_list(events, limits, result, issues);
}

std::string join_issues(const std::vector<ValidationIssue>& issues) {
  std::string text;
  for (const ValidationIssue& issue : issues) {
    if (!text.empty()) text += "; ";
    text += issue.path.empty() ? issue.message : issue.path + ": " + issue.message;
  }
  return text;
}

}  // namespace

std::string_view to_string(EventType t) {
  return t == EventType::kUnsubscribed ? "contact.unsubscribed" : "contact.subscribed";
}

std::optional<EventType> parse_event_type(std::string_view s) {
  if (s == "contact.subscribed") return EventType::kSubscribed;
  if (s == "contact.unsubscribed") return EventType::kUnsubscribed;
  return std::nullopt;
}

ParsedIngest parse_ingest_body(std::string_view body, const IngestLimits& limits) {
  ParsedIngest result;
  Issues issues(result.issues);
  dom::element root;
  std::string error;
  if (parse_json(body, &root, &error)) {
    read_body(root, limits, result, issues);
  } else {
    issues.add(Where{}, "", "body is not valid JSON: " + error);
  }
  if (!issues.empty()) result.events.clear();
  return result;
}

Result<std::string> canonical_contact_json(std::string_view contact_object_json,
                                           std::vector<ValidationIssue>* issues) {
  std::vector<ValidationIssue> local;
  std::vector<ValidationIssue>& list = issues ? *issues : local;
  list.clear();
  Issues collector(list);
  const Where where{-1, false, "data"};
  dom::element root;
  std::string error;
  dom::object contact;
  std::string out;
  if (!parse_json(contact_object_json, &root, &error)) {
    collector.add(where, "", "is not valid JSON: " + error);
  } else if (root.get_object().get(contact) != simdjson::SUCCESS) {
    collector.add(where, "", "must be an object, " + got(root));
  } else {
    write_contact(contact, where, IngestLimits{}, collector, out);
  }
  if (!collector.empty()) return Error::invalid(join_issues(list));
  return out;
}

const std::string& sample_contact_json() {
  static const std::string kSample =
      R"({"msisdn":5599999999999,"profileCreatedAt":"2022-11-24T09:59:41.163Z","source":"form",)"
      R"("source_value":"1234","eshop_opt_in":true,"last_eshop_opt_in_date":"2023-11-16T11:33:29.485Z",)"
      R"("ecom_email":"test@gmail.com","ecom_signups_count":2,"ecom_device_type":"mobile",)"
      R"("ecom_browser_name":"Chrome","ecom_locale":"pt-br","ecom_timezone":"UTC-03:00",)"
      R"("ecom_os_name":"Android","ecom_signup_domain":"www.websitedomain.com.br",)"
      R"("ecom_signup_path":"/lancamentos","ecom_signup_referrer_url":"https://www.google.com",)"
      R"("last_order_date":"2024-09-26T00:08:18.161Z","ecom_total_order_count":6,)"
      R"("ecom_total_order_amount":832,"last_click_date":"2023-10-03T07:58:18.893Z"})";
  return kSample;
}

std::string event_json(std::string_view id, EventType type, std::string_view occurred_at,
                       std::string_view data_json) {
  std::string out;
  out.reserve(64 + id.size() + occurred_at.size() + data_json.size());
  out += "{\"id\":";
  append_json_string(out, id);
  out += ",\"type\":\"";
  out += to_string(type);
  out += "\",\"occurred_at\":";
  append_json_string(out, occurred_at);
  out += ",\"data\":";
  out += data_json;
  out += '}';
  return out;
}

void set_event_id(IncomingEvent& e, std::string id) {
  e.id = std::move(id);
  e.message_json = event_json(e.id, e.type, e.occurred_at, e.data_json);
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t run_start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run_start, i - run_start);
    run_start = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: out += "\\u00"; out += kHex[c >> 4]; out += kHex[c & 0xF];
    }
  }
  out.append(s.data() + run_start, s.size() - run_start);
  out += '"';
}

}  // namespace growhook
