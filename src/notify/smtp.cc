// libcurl's SMTP client, one easy handle per mail: MAIL FROM, RCPT TO and
// DATA from CURLOPT_READFUNCTION (curl dot-stuffs the lines and ends DATA).
// Every call has a connect and a total timeout, and the progress callback
// ends a mail in progress when the node stops, so a server that hangs holds
// the sender's thread for at most the timeout and shutdown not at all.
#include "notify/smtp.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace growhook {
namespace {

struct Reading {
  const std::string* data;
  size_t offset = 0;
};

size_t read_message(char* buf, size_t size, size_t nitems, void* user) {
  auto* r = static_cast<Reading*>(user);
  const size_t n = std::min(size * nitems, r->data->size() - r->offset);
  std::memcpy(buf, r->data->data() + r->offset, n);
  r->offset += n;
  return n;
}

class CurlMailer final : public Mailer {
 public:
  explicit CurlMailer(SmtpOptions o) : o_(std::move(o)) {}

  MailResult send(const Mail& mail) override {
    if (aborted_) return {false, "shutting down"};
    CURL* h = curl_easy_init();
    if (!h) return {false, "curl_easy_init failed"};
    curl_slist* rcpt = curl_slist_append(nullptr, ("<" + mail.to + ">").c_str());
    Reading reading{&mail.message};
    char err[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h, CURLOPT_URL, o_.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o_.connect_timeout_ms));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(o_.total_timeout_ms));
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, ("<" + mail.from + ">").c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &read_message);
    curl_easy_setopt(h, CURLOPT_READDATA, &reading);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, this);
    if (!o_.password.empty()) curl_easy_setopt(h, CURLOPT_PASSWORD, o_.password.c_str());
    // smtp:// upgrades with STARTTLS when the server offers it; smtps:// is TLS from the start.
    curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(h);
    if (rc == CURLE_OK) return {true, ""};
    std::string why = *err ? err : curl_easy_strerror(rc);
    if (code > 0) why += " (SMTP " + std::to_string(code) + ")";
    return {false, aborted_ ? "shutting down" : why};
  }

  void abort() override { aborted_ = true; }

 private:
  static int on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<CurlMailer*>(self)->aborted_ ? 1 : 0;
  }

  SmtpOptions o_;
  std::atomic<bool> aborted_{false};
};

}  // namespace

Result<std::unique_ptr<Mailer>> make_smtp_mailer(SmtpOptions options) {
  const std::string& u = options.url;
  const bool smtp = u.rfind("smtp://", 0) == 0, smtps = u.rfind("smtps://", 0) == 0;
  if ((!smtp && !smtps) || u.size() <= (smtp ? 7u : 8u)) {
    return Error::invalid("--smtp-url must be smtp://HOST:PORT or smtps://HOST:PORT (user:password@ allowed), not '" +
                          u + "'");
  }
  return std::unique_ptr<Mailer>(new CurlMailer(std::move(options)));
}

}  // namespace growhook
