// The libcurl implementation of Transport: one multi handle driven by one
// thread. send() hands a request over through a mutex-guarded queue and wakes
// the thread; everything curl touches lives on that thread only.
// The thread waits in epoll and hands curl the ready sockets (CurlEpoll,
// curl_epoll.h).
//
// Safety: the address guard runs in CURLOPT_OPENSOCKETFUNCTION, on the very
// address curl is about to connect to, so the checked address is the one
// used (no DNS rebinding window between check and connect). Connections are
// kept in the multi handle's cache and reused per host; a reused connection
// was checked when it was opened.
//
// TLS: curl verifies the certificate chain and the URL's host name (and
// sends it as SNI) on the pinned connection; the CAs are one TrustStore
// built at start (system store plus --tls-ca-file), handed to each new TLS
// connection in CURLOPT_SSL_CTX_FUNCTION instead of curl's own CA loading,
// which parsed the whole system bundle again for every new connection.

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/thread_name.h"
#include "delivery/curl_epoll.h"
#include "delivery/curl_errors.h"
#include "delivery/curl_transport.h"

namespace growhook {
namespace {

constexpr size_t kMaxRetryAfterBytes = 128;   // a longer header is not a delay
constexpr int kBusyPollMs = 50;               // deadline checks while work runs
constexpr int kIdlePollMs = 10'000;           // send() and stop() wake us anyway
// Our own deadline trails curl's timeout a little, so that curl's more
// precise message wins whenever curl is timing the transfer itself.
constexpr int64_t kDeadlineGraceMs = 100;
const char kShuttingDown[] = "shutting down";

int64_t steady_ms() {
  // Real time on purpose: curl's own timeouts run on the same clock.
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("curl_global_init failed");
  });
}

TransportResult failure(TransportErrorKind kind, std::string error, int64_t started_ms) {
  TransportResult r;
  r.error_kind = kind;
  r.error = std::move(error);
  r.duration_ms = steady_ms() - started_ms;
  return r;
}

// A header we send must stay one header: no line breaks or NUL anywhere, and
// a name that is a token (no colon, not empty).
bool header_is_safe(const std::string& name, const std::string& value) {
  auto clean = [](const std::string& s) { return s.find_first_of(std::string("\r\n\0", 3)) == std::string::npos; };
  return !name.empty() && name.find(':') == std::string::npos && clean(name) && clean(value);
}

// Gives a new TLS connection the transport's CAs (curl loaded none: its
// CAINFO and CAPATH are unset). Called on the loop thread.
CURLcode use_trust_store(CURL*, void* ssl_ctx, void* trust) {
  X509_STORE* store = static_cast<const TrustStore*>(trust)->x509_store();
  if (X509_STORE_up_ref(store) != 1) return CURLE_OUT_OF_MEMORY;
  SSL_CTX_set_cert_store(static_cast<SSL_CTX*>(ssl_ctx), store);  // frees the one it had
  return CURLE_OK;
}

// One request while curl owns its easy handle. Lives on the loop thread; its
// address is stable (heap) because curl keeps pointers to it.
struct Transfer {
  OutgoingRequest request;
  Transport::Callback done;
  const CurlTransportOptions* options = nullptr;
  int64_t started_ms = 0;
  int64_t deadline_ms = 0;  // also bounds time spent waiting for a connection slot
  CURL* easy = nullptr;
  // The request's own header lines, NUL-separated, and the list curl reads:
  // a node for each, ending in the headers every request has (no
  // allocation a header, and none by curl for the User-Agent).
  std::string header_text;
  std::vector<curl_slist> header_nodes;
  char error_buffer[CURL_ERROR_SIZE] = {};
  TransportResult result;
  bool body_capped = false;    // we stopped reading at max_response_bytes
  int header_block_status = 0;  // status of the header block being read
  bool answer_headers_ended = false;  // the blank line after a final (non-1xx) status
  int permitted_sockets = 0;   // sockets the guard let us open
  std::string blocked;         // why the guard refused the first refused address
};

// The header lines every request ends with, made once: Content-Type,
// "Expect:" (without it curl sends "Expect: 100-continue" for larger bodies
// and waits up to a second for receivers that ignore it) and the
// User-Agent, unless the request has its own.
class CommonHeaders {
 public:
  explicit CommonHeaders(const std::string& user_agent)
      : content_type_("Content-Type: application/json"), expect_("Expect:"), user_agent_("User-Agent: " + user_agent) {
    with_agent_[0] = {content_type_.data(), &with_agent_[1]};
    with_agent_[1] = {expect_.data(), &with_agent_[2]};
    with_agent_[2] = {user_agent_.data(), nullptr};
    without_agent_[0] = {content_type_.data(), &without_agent_[1]};
    without_agent_[1] = {expect_.data(), nullptr};
  }
  CommonHeaders(const CommonHeaders&) = delete;
  CommonHeaders& operator=(const CommonHeaders&) = delete;
  curl_slist* list(bool with_agent) { return with_agent ? with_agent_ : without_agent_; }

 private:
  std::string content_type_, expect_, user_agent_;
  curl_slist with_agent_[3];
  curl_slist without_agent_[2];
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * count;
  size_t room = t->options->max_response_bytes - t->result.body.size();
  t->result.body.append(data, std::min(bytes, room));
  if (bytes <= room) return bytes;
  // Returning less than given aborts the transfer: memory stays at the cap
  // however long the receiver keeps talking.
  t->body_capped = true;
  return 0;
}

// "HTTP/1.1 204 No Content" -> 204; 0 if malformed.
int status_of(std::string_view status_line) {
  auto space = status_line.find(' ');
  if (space == std::string_view::npos || status_line.size() < space + 4) return 0;
  int status = 0;
  for (char c : status_line.substr(space + 1, 3)) {
    if (c < '0' || c > '9') return 0;
    status = status * 10 + (c - '0');
  }
  return status;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new status line starts a new response (after a 1xx): forget the old one.
    t->result.retry_after.clear();
    t->header_block_status = status_of(line);
  } else if (line == "\r\n" || line == "\n") {
    if (t->header_block_status >= 200) t->answer_headers_ended = true;
  }
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size() && strncasecmp(line.data(), kName.data(), kName.size()) == 0) {
    std::string_view value = line.substr(kName.size());
    auto first = value.find_first_not_of(" \t");
    auto last = value.find_last_not_of(" \t\r\n");
    value = first == std::string_view::npos ? std::string_view() : value.substr(first, last - first + 1);
    t->result.retry_after = std::string(value.substr(0, kMaxRetryAfterBytes));
  }
  return size * count;
}

// Curl connects to exactly this address, so checking it here leaves no
// window between the check and the connection.
curl_socket_t open_socket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(user);
  auto ip = IpAddress::from_sockaddr(&address->addr);
  bool permitted = purpose == CURLSOCKTYPE_IPCXN && ip && t->options->guard.permits(*ip);
  if (!permitted) {
    if (t->blocked.empty()) {
      t->blocked = ip ? "address " + ip->to_string() + " is not allowed (" + std::string(to_string(classify(*ip))) +
                            "); the operator can open ranges with --allow-targets"
                      : "address family " + std::to_string(address->family) + " is not allowed";
    }
    return CURL_SOCKET_BAD;
  }
  t->permitted_sockets++;
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

// The options every request has, set once when an easy handle is made (a
// handle is reused for the next request without curl_easy_reset, which
// freed and made again what these allocate: measured ~3,400 instructions a
// request, plus the setopt calls). False if curl refused one.
bool configure_handle(CURL* e, const TrustStore& trust) {
  int bad = 0;
  auto set = [&](CURLoption opt, auto value) { bad += curl_easy_setopt(e, opt, value) != CURLE_OK; };
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_POST, 1L);
  set(CURLOPT_FOLLOWLOCATION, 0L);
  set(CURLOPT_PROXY, "");  // never a proxy from the environment: it would bypass the guard
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_TCP_KEEPALIVE, 1L);
  set(CURLOPT_WRITEFUNCTION, &on_body);
  set(CURLOPT_HEADERFUNCTION, &on_header);
  set(CURLOPT_OPENSOCKETFUNCTION, &open_socket);
  set(CURLOPT_CAINFO, static_cast<const char*>(nullptr));
  set(CURLOPT_CAPATH, static_cast<const char*>(nullptr));
  set(CURLOPT_SSL_CTX_FUNCTION, &use_trust_store);
  set(CURLOPT_SSL_CTX_DATA, const_cast<void*>(static_cast<const void*>(&trust)));
  return bad == 0;
}

// Sets every option that belongs to one request, each of them every time, so
// nothing of the previous request on this handle stays. False if curl
// refused one, which the caller reports as kOther.
bool configure(Transfer& t, CommonHeaders& common) {
  const OutgoingRequest& q = t.request;
  size_t bytes = 0;
  bool own_agent = false;
  for (const auto& [name, value] : q.headers) {
    bytes += name.size() + value.size() + 3;
    own_agent |= strcasecmp(name.c_str(), "User-Agent") == 0;
  }
  t.header_text.clear();
  t.header_text.reserve(bytes);
  for (const auto& [name, value] : q.headers) {
    t.header_text += name;
    // "Name;" is curl's spelling of a header with an empty value.
    if (value.empty()) {
      t.header_text += ';';
    } else {
      t.header_text += ": ";
      t.header_text += value;
    }
    t.header_text += '\0';
  }
  // Linked back to front: each line (NUL-free, see header_is_safe) before
  // the list that follows it.
  curl_slist* headers = common.list(!own_agent);
  t.header_nodes.resize(q.headers.size());
  char* line = t.header_text.data();
  for (auto& node : t.header_nodes) {
    node.data = line;
    line += std::strlen(line) + 1;
  }
  for (auto it = t.header_nodes.rbegin(); it != t.header_nodes.rend(); ++it) {
    it->next = headers;
    headers = &*it;
  }
  CURL* e = t.easy;
  int bad = 0;
  auto set = [&](CURLoption opt, auto value) { bad += curl_easy_setopt(e, opt, value) != CURLE_OK; };
  set(CURLOPT_PRIVATE, static_cast<void*>(&t));
  set(CURLOPT_URL, q.url.c_str());
  set(CURLOPT_POSTFIELDS, q.body.data());
  set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(q.body.size()));
  set(CURLOPT_HTTPHEADER, headers);
  // At least 1 ms: curl reads 0 as "no timeout".
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::max<int64_t>(q.connect_timeout_ms, 1)));
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(q.total_timeout_ms, 1)));
  set(CURLOPT_ERRORBUFFER, t.error_buffer);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&t));
  set(CURLOPT_HEADERDATA, static_cast<void*>(&t));
  set(CURLOPT_OPENSOCKETDATA, static_cast<void*>(&t));
  return bad == 0;
}

// Fills t.result from how curl ended the transfer.
void settle(Transfer& t, CURLcode code) {
  TransportResult& r = t.result;
  r.duration_ms = steady_ms() - t.started_ms;
  long status = 0;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
  // curl (7.88 at least) reports CURLE_OK when the connection closes in the
  // middle of the headers; that is no answer.
  if (code == CURLE_OK && !t.answer_headers_ended) {
    code = CURLE_GOT_NOTHING;
    std::snprintf(t.error_buffer, sizeof t.error_buffer, "connection closed before the response headers ended");
  }
  // A capped body ends in CURLE_WRITE_ERROR, but the receiver has answered.
  if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && t.body_capped)) {
    r.status_code = static_cast<int>(status);
    r.error_kind = TransportErrorKind::kNone;
    return;
  }
  r.status_code = 0;
  r.body.clear();
  r.retry_after.clear();
  if (!t.blocked.empty() && t.permitted_sockets == 0) {
    r.error_kind = TransportErrorKind::kBlockedAddress;
    r.error = t.blocked;
    return;
  }
  r.error_kind = kind_of(code);
  const char* detail = t.error_buffer[0] != '\0' ? t.error_buffer : curl_easy_strerror(code);
  if (r.error_kind == TransportErrorKind::kTls) {
    long verify_result = X509_V_OK;
    curl_easy_getinfo(t.easy, CURLINFO_SSL_VERIFYRESULT, &verify_result);
    r.error = tls_error(code, verify_result, detail);
  } else {
    r.error = std::string(phrase_of(r.error_kind)) + ": " + detail;
  }
  if (!t.blocked.empty()) r.error += " (" + t.blocked + ")";
}

class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(CurlTransportOptions options) : options_(with_trust(std::move(options))) {
    init_curl_once();
    multi_ = curl_multi_init();
    if (multi_ == nullptr) throw std::runtime_error("curl_multi_init failed");
    events_ = std::make_unique<CurlEpoll>(multi_);
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(options_.max_connections_per_host));
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(options_.max_connections_total));
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(options_.max_connections_total));
    thread_ = std::thread([this] {
      name_this_thread("gh-http-client");
      run();
    });
    loop_thread_id_ = thread_.get_id();
  }

  // Must not run on the loop thread (from inside a callback): it joins it.
  ~CurlTransport() override {
    stop();
    for (CURL* e : idle_) curl_easy_cleanup(e);
    curl_multi_cleanup(multi_);  // its socket callbacks still use events_
    events_.reset();
  }

  void send(OutgoingRequest request, Callback done) override {
    int64_t now = steady_ms();
    const char* refusal = nullptr;
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        refusal = kShuttingDown;
      } else if (in_flight_.load() >= static_cast<int>(options_.max_in_flight)) {
        refusal = "too many requests in flight";
      } else {
        in_flight_++;
        queue_.push_back(Queued{std::move(request), std::move(done), now});
        // A queue that was not empty has its wake-up sent already (the loop
        // empties the queue under this lock before it runs it).
        if (queue_.size() == 1) events_->wake();
        return;
      }
    }
    // Refused at once, on the caller's thread (see Transport::send).
    done(failure(TransportErrorKind::kOther, refusal, now));
  }

  int in_flight() const override { return in_flight_.load(); }

  bool set_pass_hook(std::function<void()> hook) override {
    pass_hook_ = std::move(hook);
    return true;
  }

  void stop() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    events_->wake();
    // Called from a callback: the loop ends once that callback returns.
    if (std::this_thread::get_id() == loop_thread_id_) return;
    std::lock_guard lock(join_mu_);
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Queued {
    OutgoingRequest request;
    Callback done;
    int64_t started_ms;
  };

  void run() {
    for (;;) {
      std::deque<Queued> incoming;
      bool stopping;
      {
        std::lock_guard lock(mu_);
        incoming.swap(queue_);
        stopping = stopping_;
      }
      if (stopping) {
        for (auto& q : incoming) complete(q.done, failure(TransportErrorKind::kOther, kShuttingDown, q.started_ms));
        break;
      }
      for (auto& q : incoming) start(std::move(q));
      int64_t now = steady_ms();
      events_->run_timer_if_due(now);
      reap_finished();
      if (now >= next_expiry_check_ms_) {
        expire_overdue();
        next_expiry_check_ms_ = now + kBusyPollMs;
      }
      end_pass();
      wait_for_sockets();
    }
    abort_all();
    end_pass();
  }

  // Waits until a socket is ready, a deadline check is due, or send() or
  // stop() wake us, and hands curl the ready sockets.
  void wait_for_sockets() {
    int64_t now = steady_ms();
    events_->wait(active_.empty() ? kIdlePollMs : std::max<int64_t>(0, next_expiry_check_ms_ - now));
  }

  void end_pass() {
    if (callbacks_in_pass_ == 0) return;
    callbacks_in_pass_ = 0;
    if (pass_hook_) pass_hook_();
  }

  void start(Queued q) {
    auto t = std::make_unique<Transfer>();
    t->request = std::move(q.request);
    t->done = std::move(q.done);
    t->options = &options_;
    t->started_ms = q.started_ms;
    t->deadline_ms = q.started_ms + std::max<int64_t>(t->request.total_timeout_ms, 1) + kDeadlineGraceMs;
    for (const auto& [name, value] : t->request.headers) {
      if (!header_is_safe(name, value)) {
        complete(t->done, failure(TransportErrorKind::kOther,
                                  "header name or value has a line break, NUL or bad name; request not sent",
                                  t->started_ms));
        return;
      }
    }
    t->easy = acquire_easy();
    if (t->easy == nullptr || !configure(*t, common_headers_) || curl_multi_add_handle(multi_, t->easy) != CURLM_OK) {
      release_easy(t->easy);
      complete(t->done, failure(TransportErrorKind::kOther, "could not set up the request", t->started_ms));
      return;
    }
    CURL* easy = t->easy;
    active_.emplace(easy, std::move(t));
  }

  void reap_finished() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      CURLcode code = msg->data.result;  // msg dies with remove_handle
      finish(easy, [&](Transfer& t) { settle(t, code); });
    }
  }

  // Transfers still waiting for a connection slot (max per host) are not
  // timed by curl; this holds every request to its total timeout.
  void expire_overdue() {
    int64_t now = steady_ms();
    std::vector<CURL*> overdue;
    for (const auto& [easy, t] : active_)
      if (now >= t->deadline_ms) overdue.push_back(easy);
    for (CURL* easy : overdue) {
      finish(easy, [&](Transfer& t) {
        t.result = failure(TransportErrorKind::kTimeout,
                           "timed out: no answer within " + std::to_string(t.request.total_timeout_ms) + " ms",
                           t.started_ms);
      });
    }
  }

  void abort_all() {
    std::vector<CURL*> all;
    for (const auto& [easy, t] : active_) all.push_back(easy);
    for (CURL* easy : all) {
      finish(easy, [](Transfer& t) { t.result = failure(TransportErrorKind::kOther, kShuttingDown, t.started_ms); });
    }
  }

  // Detaches a transfer from curl, lets fill set its result, recycles the
  // handle, then runs the callback.
  template <class Fill>
  void finish(CURL* easy, Fill fill) {
    auto it = active_.find(easy);
    if (it == active_.end()) return;
    std::unique_ptr<Transfer> t = std::move(it->second);
    active_.erase(it);
    curl_multi_remove_handle(multi_, easy);
    fill(*t);
    release_easy(easy);
    Callback done = std::move(t->done);
    TransportResult result = std::move(t->result);
    t.reset();
    complete(done, std::move(result));
  }

  // Runs a callback and only then counts the request as done, so a caller
  // that sees in_flight() == 0 also sees every callback finished.
  void complete(Callback& done, TransportResult result) {
    done(std::move(result));
    in_flight_--;
    if (std::this_thread::get_id() == loop_thread_id_) callbacks_in_pass_++;
  }

  CURL* acquire_easy() {
    if (idle_.empty()) {
      CURL* e = curl_easy_init();
      if (e != nullptr && !configure_handle(e, *options_.trust)) {
        curl_easy_cleanup(e);
        return nullptr;
      }
      return e;
    }
    CURL* e = idle_.back();
    idle_.pop_back();
    return e;
  }

  void release_easy(CURL* e) {
    if (e == nullptr) return;
    // As many as connections may be open: a handle freed and made again for
    // every request costs more than the request (curl's buffers are
    // allocated anew each time).
    if (idle_.size() >= options_.max_connections_total) {
      curl_easy_cleanup(e);
      return;
    }
    // Not reset: configure() sets every per-request option again, and the
    // pointers left in the handle (body, headers, error buffer) are not read
    // while it is idle.
    idle_.push_back(e);
  }

  static CurlTransportOptions with_trust(CurlTransportOptions o) {
    if (!o.trust) {
      init_curl_once();
      // The system's store alone cannot fail to load (a missing one is
      // an empty store: certificates then fail verification).
      if (auto t = TrustStore::load(system_defaults()); t.ok()) o.trust = *t;
      else throw std::runtime_error("CA store: " + t.error().message);
    }
    return o;
  }

  const CurlTransportOptions options_;
  CommonHeaders common_headers_{options_.user_agent};
  CURLM* multi_ = nullptr;
  std::thread thread_;
  std::thread::id loop_thread_id_;
  std::mutex join_mu_;
  std::atomic<int> in_flight_{0};

  std::mutex mu_;  // guards queue_ and stopping_
  std::deque<Queued> queue_;
  bool stopping_ = false;

  std::unique_ptr<CurlEpoll> events_;  // wake() from any thread, the rest on the loop thread

  // Loop thread only.
  int64_t next_expiry_check_ms_ = 0;   // expire_overdue's next run
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> active_;
  std::function<void()> pass_hook_;
  int callbacks_in_pass_ = 0;
  std::vector<CURL*> idle_;
};

}  // namespace

std::unique_ptr<Transport> make_curl_transport(CurlTransportOptions options) {
  return std::make_unique<CurlTransport>(std::move(options));
}

}  // namespace growhook
