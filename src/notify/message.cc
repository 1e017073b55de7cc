#include "notify/message.h"

#include <ctime>

#include "common/crypto.h"
#include "domain/event.h"
#include "domain/signature.h"
#include "domain/timestamp.h"

namespace growhook {
namespace {

std::string one_line(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != '\r' && c != '\n') out += c;
  }
  return out;
}

bool ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

// RFC 5322's date: "Tue, 01 Dec 2026 18:23:12 +0000".
std::string mail_date(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);  // C locale names
  return buf;
}

std::string subject(const Notification& n, const std::string& name) {
  std::string s = "Webhook \"" + one_line(name) + "\" ";
  if (n.kind == "failing") s += "is failing";
  else if (n.kind == "disabled") s += "was disabled";
  else s += "recovered";
  if (ascii(s)) return s;
  return "=?UTF-8?B?" + crypto::base64_encode(s) + "?=";
}

std::string body(const Notification& n, const NotificationFacts& f) {
  std::string b;
  auto line = [&b](const std::string& s) { b += s + "\r\n"; };
  const std::string name = one_line(f.webhook_name);
  const std::string at = format_timestamp(n.at_ms);
  if (n.kind == "failing") {
    line("Your webhook \"" + name + "\" started failing at " + at + ".");
    line("New events wait for it (nothing is lost); growhook tries it again at growing intervals");
    line("and sends the backlog by itself once the receiver answers 2xx.");
  } else if (n.kind == "disabled") {
    line("Your webhook \"" + name + "\" was disabled at " + at + ".");
    line("Events that arrive meanwhile are kept; enable the webhook to have them sent.");
  } else {
    line("Your webhook \"" + name + "\" recovered at " + at + ": its receiver answers again.");
  }
  line("");
  line("URL:            " + one_line(f.webhook_url));
  if (n.kind != "recovered" || n.failing_since_ms > 0) line("Failing since:  " + format_timestamp(n.failing_since_ms));
  line((n.kind == "disabled" ? "Reason:         " : n.kind == "failing" ? "Last error:     " : "Now:            ") +
       one_line(n.reason));
  line("Events waiting: " + std::to_string(f.events_waiting));
  line("Failed batches: " + std::to_string(f.failed_batches));
  line("");
  line("Open the webhooks page: " + f.page_url);
  line("");
  line("-- ");
  line("growhook, the webhook connector of Grow. You get this mail because your account's");
  line("notification_email is set; change it on the page's Settings.");
  return b;
}

std::string domain_of(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string("growhook") : one_line(address.substr(at + 1));
}

}  // namespace

Mail build_mail(const Notification& n, const NotificationFacts& f, std::string_view from, std::string_view to,
                int64_t now_ms) {
  Mail m{one_line(from), one_line(to), ""};
  std::string& s = m.message;
  s += "From: growhook <" + m.from + ">\r\n";
  s += "To: <" + m.to + ">\r\n";
  s += "Subject: " + subject(n, f.webhook_name) + "\r\n";
  s += "Date: " + mail_date(now_ms) + "\r\n";
  s += "Message-ID: <" + one_line(n.id) + "@" + domain_of(m.from) + ">\r\n";
  s += "MIME-Version: 1.0\r\n";
  s += "Content-Type: text/plain; charset=UTF-8\r\n";
  s += "Content-Transfer-Encoding: 8bit\r\n";
  s += "\r\n";
  s += body(n, f);
  return m;
}

std::string platform_event_type(std::string_view kind) { return "webhook." + std::string(kind); }

OutgoingRequest build_platform_request(const Notification& n, int64_t events_waiting, const std::string& url,
                                       const std::string& secret, int64_t now_ms, const Timeouts& timeouts) {
  OutgoingRequest req;
  req.url = url;
  req.connect_timeout_ms = timeouts.connect_ms;
  req.total_timeout_ms = timeouts.total_ms;
  std::string& b = req.body;
  b += "{\"type\":";
  append_json_string(b, platform_event_type(n.kind));
  b += ",\"account_id\":";
  append_json_string(b, n.account_id);
  b += ",\"webhook_id\":";
  append_json_string(b, n.webhook_id);
  b += ",\"at\":";
  append_json_string(b, format_timestamp(n.at_ms));
  b += ",\"failing_since\":";
  append_json_string(b, format_timestamp(n.failing_since_ms));
  b += ",\"reason\":";
  append_json_string(b, n.reason);
  b += ",\"events_waiting\":" + std::to_string(events_waiting) + "}";
  const int64_t ts = now_ms / 1000;
  req.headers.emplace_back("webhook-id", n.id);
  req.headers.emplace_back("webhook-timestamp", std::to_string(ts));
  req.headers.emplace_back("webhook-signature", signature_header({secret}, n.id, ts, b));
  return req;
}

}  // namespace growhook
