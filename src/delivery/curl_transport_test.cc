// Tests of the libcurl transport against receivers this file starts itself,
// on 127.0.0.1 port 0 only: answers, failures on purpose, limits, the guard.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "delivery/curl_transport.h"

namespace growhook {
namespace {

using namespace std::chrono_literals;

struct ReceivedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string answer(int status, const std::string& body, const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         extra_headers + "\r\n" + body;
}

// A tiny HTTP/1.1 receiver: one thread per connection, keep-alive, requests
// with Content-Length bodies. The handler answers on the raw socket and
// returns whether the connection may serve another request.
class TestReceiver {
 public:
  using Handler = std::function<bool(int fd, const ReceivedRequest&)>;

  explicit TestReceiver(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(listen_fd_, 512) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("test receiver could not listen");
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~TestReceiver() {
    stopping_ = true;
    acceptor_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);  // unblocks reads
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    for (int fd : conn_fds_) ::close(fd);
    ::close(listen_fd_);
  }

  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int accepts() const { return accepts_.load(); }
  std::vector<ReceivedRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      accepts_++;
      std::lock_guard lock(mu_);
      conn_fds_.push_back(fd);
      threads_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    std::string buffer;
    ReceivedRequest r;
    while (read_request(fd, buffer, r)) {
      {
        std::lock_guard lock(mu_);
        requests_.push_back(r);
      }
      if (!handler_(fd, r)) break;
    }
    ::shutdown(fd, SHUT_RDWR);  // the descriptor is closed by the destructor
  }

  static bool read_request(int fd, std::string& buffer, ReceivedRequest& r) {
    size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos)
      if (!read_more(fd, buffer)) return false;
    r = ReceivedRequest{};
    std::string head = buffer.substr(0, end + 2);
    buffer.erase(0, end + 4);
    size_t eol = head.find("\r\n");
    std::string line = head.substr(0, eol);
    r.method = line.substr(0, line.find(' '));
    r.path = line.substr(r.method.size() + 1, line.rfind(' ') - r.method.size() - 1);
    for (size_t pos = eol + 2; pos < head.size();) {
      size_t next = head.find("\r\n", pos);
      std::string h = head.substr(pos, next - pos);
      size_t colon = h.find(':');
      std::string name = h.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = colon + 1 < h.size() ? h.substr(h.find_first_not_of(' ', colon + 1)) : "";
      pos = next + 2;
    }
    size_t length = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    while (buffer.size() < length)
      if (!read_more(fd, buffer)) return false;
    r.body = buffer.substr(0, length);
    buffer.erase(0, length);
    return true;
  }

  static bool read_more(int fd, std::string& buffer) {
    char chunk[16 << 10];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
    return true;
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepts_{0};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<int> conn_fds_;
  std::vector<std::thread> threads_;
  std::vector<ReceivedRequest> requests_;
};

// Handlers: receivers that answer, hang, reset or never stop talking.
TestReceiver::Handler answering(int status, std::string body, std::string extra = "") {
  return [=](int fd, const ReceivedRequest&) { return write_all(fd, answer(status, body, extra)); };
}

bool hang(int fd, const ReceivedRequest&) {
  char c;
  while (::recv(fd, &c, 1, 0) > 0) {
  }
  return false;
}

bool stream_forever(int fd, const std::string& head, const std::string& piece) {
  if (!write_all(fd, head)) return false;
  for (int i = 0; i < 100'000 && write_all(fd, piece); ++i) {
  }
  return false;
}

CurlTransportOptions loopback_options() {
  CurlTransportOptions o;
  o.guard = AddressGuard({*Cidr::parse("127.0.0.0/8")});
  return o;
}

OutgoingRequest post(const std::string& url, std::string body = R"({"events":[]})") {
  OutgoingRequest r;
  r.url = url;
  r.body = std::move(body);
  r.connect_timeout_ms = 2'000;
  r.total_timeout_ms = 5'000;
  return r;
}

// A request counts as in flight until its callback has returned, so a test
// woken from inside the last callback waits a moment for the count.
bool in_flight_drains(const Transport& t) {
  for (int i = 0; i < 1000 && t.in_flight() != 0; ++i) std::this_thread::sleep_for(1ms);
  return t.in_flight() == 0;
}

// Sends and waits for the callback (at most 10 s, so a bug fails instead of hanging).
TransportResult send_and_wait(Transport& t, OutgoingRequest r) {
  auto promise = std::make_shared<std::promise<TransportResult>>();
  auto future = promise->get_future();
  t.send(std::move(r), [promise](TransportResult res) { promise->set_value(std::move(res)); });
  if (future.wait_for(10s) != std::future_status::ready) {
    ADD_FAILURE() << "no callback within 10 s";
    TransportResult gave_up;
    gave_up.error_kind = TransportErrorKind::kOther;
    gave_up.error = "test gave up";
    return gave_up;
  }
  return future.get();
}

TEST(CurlTransport, AnswerWithBody) {
  TestReceiver rx(answering(200, "thanks"));
  auto t = make_curl_transport(loopback_options());
  auto r = send_and_wait(*t, post(rx.url()));
  EXPECT_EQ(r.error_kind, TransportErrorKind::kNone) << r.error;
  EXPECT_EQ(r.status_code, 200);
  EXPECT_EQ(r.body, "thanks");
  EXPECT_TRUE(r.error.empty());
  EXPECT_GE(r.duration_ms, 0);
  EXPECT_TRUE(in_flight_drains(*t));
}

TEST(CurlTransport, ServerErrorIsAnAnswer) {
  TestReceiver rx(answering(500, "oops"));
  auto t = make_curl_transport(loopback_options());
  auto r = send_and_wait(*t, post(rx.url()));
  EXPECT_EQ(r.error_kind, TransportErrorKind::kNone);
  EXPECT_EQ(r.status_code, 500);
  EXPECT_EQ(r.body, "oops");
}

TEST(CurlTransport, RedirectIsReturnedNotFollowed) {
  TestReceiver rx(answering(200, ""));
  TestReceiver redirecting(answering(302, "", "Location: " + rx.url("/elsewhere") + "\r\n"));
  auto t = make_curl_transport(loopback_options());
  auto r = send_and_wait(*t, post(redirecting.url()));
  EXPECT_EQ(r.error_kind, TransportErrorKind::kNone);
  EXPECT_EQ(r.status_code, 302);
  EXPECT_EQ(redirecting.requests().size(), 1u);
  EXPECT_EQ(rx.accepts(), 0);
}

TEST(CurlTransport, CapturesRetryAfter) {
  TestReceiver rx(answering(429, "slow down", "Retry-After: 7\r\n"));
  auto t = make_curl_transport(loopback_options());
  auto r = send_and_wait(*t, post(rx.url()));
  EXPECT_EQ(r.status_code, 429);
  EXPECT_EQ(r.retry_after, "7");
}

TEST(CurlTransport, ConnectionRefused) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ::close(fd);  // nothing listens there now
  auto t = make_curl_transport(loopback_options());
  auto r = send_and_wait(*t, post("http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/hook"));
  EXPECT_EQ(r.error_kind, TransportErrorKind::kRefused) << r.error;
  EXPECT_EQ(r.status_code, 0);
  EXPECT_NE(r.error.find("connection refused"), std::string::npos) << r.error;
}

TEST(CurlTransport, ReceiverThatNeverAnswersTimesOut) {
  TestReceiver rx(hang);
  auto t = make_curl_transport(loopback_options());
  auto request = post(rx.url());
  request.total_timeout_ms = 300;
  auto begin = std::chrono::steady_clock::now();
  auto r = send_and_wait(*t, request);
  EXPECT_EQ(r.error_kind, TransportErrorKind::kTimeout) << r.error;
  EXPECT_GE(r.duration_ms, 250);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1500ms);
}

TEST(CurlTransport, ResetMidResponse) {
  TestReceiver rx([](int fd, const ReceivedRequest&) {
    write_all(fd, "HTTP/1.1 200 OK\r\nContent-Ty");
    return false;
  });
  auto t = make_curl_transport(loopback_options());
  auto r = send_and_wait(*t, post(rx.url()));
  EXPECT_TRUE(r.error_kind == TransportErrorKind::kReset || r.error_kind == TransportErrorKind::kProtocol)
      << static_cast<int>(r.error_kind) << " " << r.error;
  EXPECT_EQ(r.status_code, 0);
}

TEST(CurlTransport, ClosedMidBodyIsNoAnswer) {
  TestReceiver rx([](int fd, const ReceivedRequest&) {
    write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..");
    return false;
  });
  auto t = make_curl_transport(loopback_options());
  auto r = send_and_wait(*t, post(rx.url()));
  EXPECT_EQ(r.error_kind, TransportErrorKind::kReset) << r.error;
  EXPECT_EQ(r.status_code, 0);
}

TEST(CurlTransport, HugeBodyIsReadOnlyUpToTheCap) {
  TestReceiver rx([](int fd, const ReceivedRequest&) {
    return stream_forever(fd, "HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n", std::string(64 << 10, 'x'));
  });
  auto options = loopback_options();
  options.max_response_bytes = 1000;
  auto t = make_curl_transport(options);
  auto begin = std::chrono::steady_clock::now();
  auto r = send_and_wait(*t, post(rx.url()));
  EXPECT_EQ(r.error_kind, TransportErrorKind::kNone) << r.error;
  EXPECT_EQ(r.status_code, 200);
  EXPECT_EQ(r.body.size(), 1000u);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);
}

TEST(CurlTransport, EndlessChunkedBodyIsReadOnlyUpToTheCap) {
  TestReceiver rx([](int fd, const ReceivedRequest&) {
    return stream_forever(fd, "HTTP/1.1 503 X\r\nRetry-After: 30\r\nTransfer-Encoding: chunked\r\n\r\n",
                          "10000\r\n" + std::string(0x10000, 'y') + "\r\n");
  });
  auto t = make_curl_transport(loopback_options());
  auto r = send_and_wait(*t, post(rx.url()));
  EXPECT_EQ(r.error_kind, TransportErrorKind::kNone) << r.error;
  EXPECT_EQ(r.status_code, 503);
  EXPECT_EQ(r.retry_after, "30");
  EXPECT_EQ(r.body.size(), loopback_options().max_response_bytes);
}

TEST(CurlTransport, GuardRefusesLoopbackWithoutAllowlist) {
  TestReceiver rx(answering(200, "should not get here"));
  CurlTransportOptions options;  // default guard: public addresses only
  auto t = make_curl_transport(options);
  auto r = send_and_wait(*t, post(rx.url()));
  EXPECT_EQ(r.error_kind, TransportErrorKind::kBlockedAddress) << r.error;
  EXPECT_NE(r.error.find("address 127.0.0.1 is not allowed (loopback)"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("--allow-targets"), std::string::npos) << r.error;
  EXPECT_EQ(rx.accepts(), 0);
}

TEST(CurlTransport, AllowlistOpensLoopback) {
  TestReceiver rx(answering(204, ""));
  auto t = make_curl_transport(loopback_options());
  auto r = send_and_wait(*t, post(rx.url()));
  EXPECT_EQ(r.error_kind, TransportErrorKind::kNone) << r.error;
  EXPECT_EQ(r.status_code, 204);
  EXPECT_EQ(rx.accepts(), 1);
}

TEST(CurlTransport, SendsBodyAndHeaders) {
  TestReceiver rx(answering(200, ""));
  auto options = loopback_options();
  options.user_agent = "growhook-test/1";
  auto t = make_curl_transport(options);
  auto request = post(rx.url(), std::string(5000, 'b'));  // large enough for curl's Expect: 100-continue
  request.headers = {{"X-Growhook-Signature", "v1=abc"}, {"X-Empty", ""}};
  auto r = send_and_wait(*t, request);
  ASSERT_EQ(r.status_code, 200) << r.error;
  auto got = rx.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].path, "/hook");
  EXPECT_EQ(got[0].body, std::string(5000, 'b'));
  EXPECT_EQ(got[0].headers["content-type"], "application/json");
  EXPECT_EQ(got[0].headers["user-agent"], "growhook-test/1");
  EXPECT_EQ(got[0].headers["x-growhook-signature"], "v1=abc");
  EXPECT_EQ(got[0].headers.count("x-empty"), 1u);
  EXPECT_EQ(got[0].headers.count("expect"), 0u);
}

TEST(CurlTransport, DefaultUserAgentNamesTheVersion) {
  TestReceiver rx(answering(200, ""));
  auto t = make_curl_transport(loopback_options());
  send_and_wait(*t, post(rx.url()));
  EXPECT_EQ(rx.requests().at(0).headers["user-agent"], "growhook/" GROWHOOK_VERSION);
}

TEST(CurlTransport, ARequestsOwnUserAgentReplacesTheDefault) {
  TestReceiver rx(answering(200, ""));
  auto t = make_curl_transport(loopback_options());
  auto request = post(rx.url());
  request.headers = {{"user-agent", "custom/1"}};
  ASSERT_EQ(send_and_wait(*t, request).status_code, 200);
  // The receiver keeps the last of repeated headers: ours would come last.
  EXPECT_EQ(rx.requests().at(0).headers["user-agent"], "custom/1");
  EXPECT_EQ(rx.requests().at(0).headers["content-type"], "application/json");
}

TEST(CurlTransport, SequentialRequestsReuseTheConnection) {
  TestReceiver rx(answering(200, "ok"));
  auto t = make_curl_transport(loopback_options());
  for (int i = 0; i < 20; ++i) ASSERT_EQ(send_and_wait(*t, post(rx.url())).status_code, 200);
  EXPECT_EQ(rx.requests().size(), 20u);
  EXPECT_LE(rx.accepts(), 2);
}

TEST(CurlTransport, AReusedHandleKeepsNothingOfTheRequestBefore) {
  // One request at a time: each takes the handle the one before used.
  TestReceiver rx(answering(200, "ok"));
  auto t = make_curl_transport(loopback_options());
  auto first = post(rx.url("/first"), "first body");
  first.headers = {{"X-Only-First", "1"}, {"Authorization", "Bearer first"}};
  ASSERT_EQ(send_and_wait(*t, first).status_code, 200);
  // A failure in between leaves its error on the handle it used.
  auto refused = send_and_wait(*t, post("http://127.0.0.1:1/refused"));
  EXPECT_EQ(refused.error_kind, TransportErrorKind::kRefused);
  auto second = post(rx.url("/second"), "second");
  second.headers = {{"X-Only-Second", "2"}};
  auto r = send_and_wait(*t, second);
  EXPECT_EQ(r.status_code, 200);
  EXPECT_TRUE(r.error.empty()) << r.error;
  auto got = rx.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].path, "/second");
  EXPECT_EQ(got[1].body, "second");
  EXPECT_EQ(got[1].headers.count("x-only-first"), 0u);
  EXPECT_EQ(got[1].headers.count("authorization"), 0u);
  EXPECT_EQ(got[1].headers["x-only-second"], "2");
  EXPECT_EQ(got[1].headers["user-agent"], "growhook/" GROWHOOK_VERSION);
}

TEST(CurlTransport, ManyConcurrentRequestsAllComplete) {
  TestReceiver rx(answering(200, "ok"));
  auto t = make_curl_transport(loopback_options());
  constexpr int kRequests = 200;
  std::atomic<int> ok{0}, done{0};
  std::promise<void> all_done;
  for (int i = 0; i < kRequests; ++i) {
    t->send(post(rx.url()), [&](TransportResult r) {
      if (r.status_code == 200) ok++;
      if (++done == kRequests) all_done.set_value();
    });
  }
  ASSERT_EQ(all_done.get_future().wait_for(20s), std::future_status::ready);
  EXPECT_EQ(ok.load(), kRequests);
  EXPECT_LE(rx.accepts(), static_cast<int>(loopback_options().max_connections_per_host));
  EXPECT_TRUE(in_flight_drains(*t));
}

TEST(CurlTransport, ThePassHookRunsAfterTheCallbacksOfEachPass) {
  TestReceiver rx(answering(200, "ok"));
  auto t = make_curl_transport(loopback_options());
  std::mutex mu;
  int callbacks = 0, seen_by_hook = 0, hooks = 0;
  ASSERT_TRUE(t->set_pass_hook([&] {
    std::lock_guard lock(mu);
    hooks++;
    seen_by_hook = callbacks;
  }));
  constexpr int kRequests = 20;
  std::promise<void> all_done;
  for (int i = 0; i < kRequests; ++i) {
    t->send(post(rx.url()), [&](TransportResult) {
      std::lock_guard lock(mu);
      if (++callbacks == kRequests) all_done.set_value();
    });
  }
  ASSERT_EQ(all_done.get_future().wait_for(20s), std::future_status::ready);
  // The last callback ran in some pass, and that pass ended with the hook.
  for (int i = 0; i < 1000; ++i) {
    {
      std::lock_guard lock(mu);
      if (seen_by_hook == kRequests) break;
    }
    std::this_thread::sleep_for(1ms);
  }
  std::lock_guard lock(mu);
  EXPECT_EQ(seen_by_hook, kRequests);
  EXPECT_GE(hooks, 1);
  EXPECT_LE(hooks, kRequests);
}

TEST(CurlTransport, HeaderWithLineBreakIsNotSent) {
  TestReceiver rx(answering(200, ""));
  auto t = make_curl_transport(loopback_options());
  for (auto header : std::vector<std::pair<std::string, std::string>>{
           {"X-Value", "a\r\nInjected: 1"}, {"X-Value", "a\nb"}, {"X-Bad\r\nName", "v"}, {"", "v"}}) {
    auto request = post(rx.url());
    request.headers = {header};
    auto r = send_and_wait(*t, request);
    EXPECT_EQ(r.error_kind, TransportErrorKind::kOther);
    EXPECT_NE(r.error.find("not sent"), std::string::npos) << r.error;
  }
  EXPECT_EQ(rx.accepts(), 0);
}

TEST(CurlTransport, NonHttpSchemeIsRefused) {
  auto t = make_curl_transport(loopback_options());
  auto r = send_and_wait(*t, post("file:///etc/passwd"));
  EXPECT_EQ(r.error_kind, TransportErrorKind::kProtocol) << r.error;
  EXPECT_TRUE(r.body.empty());
}

TEST(CurlTransport, RequestsWaitingForAConnectionSlotStillTimeOut) {
  TestReceiver rx(hang);
  auto options = loopback_options();
  options.max_connections_per_host = 1;
  auto t = make_curl_transport(options);
  std::vector<std::future<TransportResult>> results;
  auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {
    auto promise = std::make_shared<std::promise<TransportResult>>();
    results.push_back(promise->get_future());
    auto request = post(rx.url());
    request.total_timeout_ms = 300;
    t->send(request, [promise](TransportResult r) { promise->set_value(std::move(r)); });
  }
  for (auto& f : results) {
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(f.get().error_kind, TransportErrorKind::kTimeout);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 800ms);  // not 3 x 300 ms in a row
}

TEST(CurlTransport, StopAbortsInFlightAndIsIdempotent) {
  TestReceiver rx(hang);
  auto t = make_curl_transport(loopback_options());
  std::mutex mu;
  std::vector<TransportResult> results;
  for (int i = 0; i < 3; ++i) {
    t->send(post(rx.url()), [&](TransportResult r) {
      std::lock_guard lock(mu);
      results.push_back(std::move(r));
    });
  }
  while (rx.accepts() < 1) std::this_thread::sleep_for(5ms);
  t->stop();
  t->stop();
  EXPECT_EQ(t->in_flight(), 0);
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) EXPECT_EQ(r.error, "shutting down");
  // After stop, send answers at once on the caller's thread.
  auto r = send_and_wait(*t, post(rx.url()));
  EXPECT_EQ(r.error, "shutting down");
}

TEST(CurlTransport, StopFromInsideACallbackDoesNotDeadlock) {
  TestReceiver rx(answering(200, ""));
  auto t = make_curl_transport(loopback_options());
  ASSERT_EQ(send_and_wait(*t, post(rx.url())).status_code, 200);  // the loop is running
  std::promise<void> called;
  t->send(post(rx.url()), [&](TransportResult) {
    t->stop();
    called.set_value();
  });
  ASSERT_EQ(called.get_future().wait_for(5s), std::future_status::ready);
  t.reset();  // joins
}

TEST(CurlTransport, RefusesBeyondTheInFlightCap) {
  TestReceiver rx(hang);
  auto options = loopback_options();
  options.max_in_flight = 2;
  auto t = make_curl_transport(options);
  std::atomic<int> shutdown_errors{0};
  for (int i = 0; i < 2; ++i) t->send(post(rx.url()), [&](TransportResult r) { shutdown_errors += r.error == "shutting down"; });
  auto r = send_and_wait(*t, post(rx.url()));
  EXPECT_EQ(r.error_kind, TransportErrorKind::kOther);
  EXPECT_EQ(r.error, "too many requests in flight");
  EXPECT_EQ(t->in_flight(), 2);
  t->stop();
  EXPECT_EQ(shutdown_errors.load(), 2);
}

}  // namespace
}  // namespace growhook
