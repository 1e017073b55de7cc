// Sending mail: the Mailer seam, and its production implementation over
// libcurl's SMTP client (--smtp-url smtp://HOST:PORT or smtps://…, with
// the user and password in the URL or GROWHOOK_SMTP_PASSWORD).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "notify/message.h"

namespace growhook {

struct MailResult {
  bool sent = false;
  std::string error;  // when not sent: what the server or the network said
};

class Mailer {
 public:
  virtual ~Mailer() = default;
  // Sends one mail; blocks its caller (the sender's thread) for at most
  // the mailer's timeouts. Thread-safe with abort().
  virtual MailResult send(const Mail& mail) = 0;
  // A send in progress ends at once (with an error), and so does every one
  // after: the node is stopping.
  virtual void abort() = 0;
};

struct SmtpOptions {
  std::string url;       // smtp://host:port or smtps://host:port, maybe with user:password@
  std::string password;  // GROWHOOK_SMTP_PASSWORD: used when the URL has a user and no password
  int64_t connect_timeout_ms = 5'000;
  int64_t total_timeout_ms = 30'000;  // the whole conversation, DATA included
};

// kInvalid when the URL is not smtp:// or smtps:// with a host.
Result<std::unique_ptr<Mailer>> make_smtp_mailer(SmtpOptions options);

}  // namespace growhook
