// What a notification says (store/outbox.h has the rows): the mail to the
// account's notification_email and the signed message to the platform's
// webhook. Pure builders: the facts and the time come in, bytes come out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "delivery/message.h"
#include "delivery/transport.h"
#include "store/outbox.h"

namespace growhook {

// What the mail tells besides the row: read when it is sent.
struct NotificationFacts {
  std::string webhook_name;
  std::string webhook_url;
  int64_t events_waiting = 0;
  int64_t failed_batches = 0;
  std::string page_url;  // --public-url + "/"
};

struct Mail {
  std::string from;     // the envelope's and the From header's address (--smtp-from)
  std::string to;       // the account's notification_email
  std::string message;  // the whole RFC 5322 message: headers, blank line, body; every line ends in CRLF
};

// One mail for one change: From, To, Subject, Date (now_ms), Message-ID
// (the dedupe key, so a copy sent again after a crash is the same message),
// MIME-Version, text/plain UTF-8 in 8bit. Header values are kept on one line
// (CR and LF dropped); a Subject that is not ASCII is RFC 2047-encoded.
Mail build_mail(const Notification& n, const NotificationFacts& facts, std::string_view from, std::string_view to,
                int64_t now_ms);

// "webhook.failing", "webhook.disabled", "webhook.recovered".
std::string platform_event_type(std::string_view kind);

// The platform's message: {"type","account_id","webhook_id","at",
// "failing_since","reason","events_waiting"}, signed per Standard Webhooks
// with secret (webhook-id is the dedupe key, webhook-timestamp now_ms).
OutgoingRequest build_platform_request(const Notification& n, int64_t events_waiting, const std::string& url,
                                       const std::string& secret, int64_t now_ms, const Timeouts& timeouts);

}  // namespace growhook
