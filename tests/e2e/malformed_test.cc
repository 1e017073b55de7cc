// End-to-end: malformed requests over raw TCP to the API port. Every one is
// answered with a 4xx problem+json, or the connection is closed where HTTP
// cannot answer; after each the server still answers /healthz and a valid
// ingestion still gets 202.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr size_t kMaxBody = 1 << 20;

// One raw request: the request line, Host, the platform token, the content
// type and length, any extra header lines (each ending in CRLF), the body.
std::string raw_post(const std::string& target, const std::string& body,
                     const std::string& content_type = "application/json", const std::string& extra = "",
                     const std::string& bearer = kPlatformToken) {
  std::string r = "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!bearer.empty()) r += "Authorization: Bearer " + bearer + "\r\n";
  if (!content_type.empty()) r += "Content-Type: " + content_type + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
  return r;
}

std::string describe(const std::string& raw) {
  std::string out;
  for (char c : raw.substr(0, 80)) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) out += "\\x..";
    else out += c;
  }
  return raw.size() > 80 ? out + "... (" + std::to_string(raw.size()) + " bytes)" : out;
}

class Malformed : public ::testing::Test {
 protected:
  Malformed()
      : server({"--max-body-bytes", std::to_string(kMaxBody), "--request-read-timeout", "1s"}) {
    std::tie(account, key) = server.create_account();
    events = "/v1/accounts/" + account + "/events";
  }

  // Sends raw bytes on a fresh connection (optionally half-closing it) and
  // reads the one answer.
  HttpResult exchange(const std::string& raw, bool half_close = false) {
    RawClient c(server.port());
    c.send(raw);  // the server may close early; what it answered is what counts
    if (half_close) c.shutdown_write();
    return c.read_response();
  }

  // A 4xx problem+json whose body names the same status and says what to fix.
  void expect_problem(const HttpResult& r, int status, const std::string& what) {
    ASSERT_EQ(r.status, status) << what << "\nerror: " << r.error << "\nbody: " << r.body.substr(0, 300);
    EXPECT_EQ(r.headers.count("content-type") ? r.headers.at("content-type") : "", "application/problem+json")
        << what;
    auto j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << what << ": " << r.body.substr(0, 300);
    EXPECT_EQ(j["status"], status) << what;
    EXPECT_TRUE(j["detail"].is_string() && !j["detail"].get<std::string>().empty()) << what << ": " << j.dump();
  }

  // Either a 4xx problem+json or a closed connection with no answer at all.
  void expect_problem_or_closed(const std::string& raw, const std::string& what) {
    RawClient c(server.port());
    c.send(raw);
    auto r = c.read_response();
    if (r.status == 0) {
      EXPECT_TRUE(r.error == "connection closed" || r.error.rfind("recv:", 0) == 0) << what << ": " << r.error;
      return;
    }
    EXPECT_GE(r.status, 400) << what;
    EXPECT_LT(r.status, 500) << what;
    expect_problem(r, r.status, what);
  }

  void expect_still_serving(const std::string& after) {
    auto h = http("GET", server.base() + "/healthz");
    EXPECT_EQ(h.status, 200) << "after " << after << ": " << h.error;
    auto ok = server.platform("POST", events, event_body(5599999999999));
    EXPECT_EQ(ok.status, 202) << "after " << after << ": " << ok.error << " " << ok.body;
  }

  // The number of file descriptors growhook holds.
  size_t open_fds() {
    size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(server.pid()) + "/fd")) {
      (void)e;
      ++n;
    }
    return n;
  }

  Server server;
  std::string account, key, events;
};

TEST_F(Malformed, BrokenJsonIs400) {
  for (std::string body : {std::string(R"({"type":)"), std::string(R"({"events":[})"), std::string("[1,2"),
                           std::string(""), std::string(R"({"type":"contact.subscribed"}})"), std::string("nul"),
                           std::string("\x00\x01\x02", 3), std::string(R"({"events":[{"type":"contact.sub)"),
                           std::string("{'type':'contact.subscribed'}")}) {
    expect_problem(exchange(raw_post(events, body)), 400, "ingest " + describe(body));
    expect_problem(exchange(raw_post("/v1/webhooks", body, "application/json", "", key)), 400,
                   "create webhook " + describe(body));
    expect_still_serving(describe(body));
  }
}

// Regression: a webhook body that was not valid JSON (a bad UTF-8 byte in
// a string, a missing brace) was answered "body must be a JSON object",
// which points the caller at the wrong problem.
TEST_F(Malformed, AWebhookBodyThatIsNotJsonIsCalledInvalidJsonWithItsPosition) {
  for (std::string body : {std::string("{\"name\":\"a\xff\",\"url\":\"http://127.0.0.1:9/h\"}"),
                           std::string(R"({"name":"a","url":"http://127.0.0.1:9/h")")}) {
    auto r = exchange(raw_post("/v1/webhooks", body, "application/json", "", key));
    expect_problem(r, 400, describe(body));
    EXPECT_NE(r.body.find("not valid JSON (error at byte"), std::string::npos) << r.body;
  }
  auto huge = exchange(raw_post("/v1/webhooks", R"({"name":"a","url":"http://127.0.0.1:9/h","batch_max_events":1e400})",
                                "application/json", "", key));
  expect_problem(huge, 400, "1e400");
  EXPECT_NE(huge.body.find("out of range"), std::string::npos) << huge.body;
  auto array = exchange(raw_post("/v1/webhooks", "[1]", "application/json", "", key));
  expect_problem(array, 400, "an array");
  EXPECT_NE(array.body.find("must be a JSON object"), std::string::npos) << array.body;
  expect_still_serving("invalid webhook bodies");
}

TEST_F(Malformed, DeepNestingIs400) {
  const std::string open(100'000, '[');
  const std::string balanced = open + std::string(100'000, ']');
  for (const std::string& body : {open, balanced, R"({"events":)" + open, R"({"events":)" + balanced + "}",
                                  R"({"type":"contact.subscribed","contact":)" + open}) {
    expect_problem(exchange(raw_post(events, body)), 400, "ingest " + describe(body));
    expect_problem(exchange(raw_post("/v1/webhooks", body, "application/json", "", key)), 400,
                   "create webhook " + describe(body));
    expect_still_serving(describe(body));
  }
  // Objects too, and inside a field a parser must walk through.
  std::string objects;
  for (int i = 0; i < 50'000; ++i) objects += R"({"a":)";
  expect_problem(exchange(raw_post(events, objects)), 400, "nested objects");
  expect_problem(exchange(raw_post("/v1/webhooks", R"({"name":"x","url":)" + objects, "application/json", "", key)),
                 400, "nested objects in a webhook");
  expect_still_serving("nested objects");
}

TEST_F(Malformed, HugeNumbersAre400) {
  for (std::string n : {"1e400", "-1e400", "99999999999999999999", "-99999999999999999999", "1e-400",
                        "18446744073709551616", "9223372036854775808", "123456789012345678901234567890.5"}) {
    for (std::string key_name : {"msisdn", "ecom_signups_count", "ecom_total_order_amount"}) {
      std::string body = R"({"type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18.161Z","contact":{)";
      if (key_name != "msisdn") body += R"("msisdn":5599999999999,)";
      body += "\"" + key_name + "\":" + n + "}}";
      auto r = exchange(raw_post(events, body));
      expect_problem(r, 400, key_name + "=" + n);
    }
    auto w = exchange(raw_post("/v1/webhooks",
                               R"({"name":"x","url":"http://127.0.0.1:9/h","batch_max_events":)" + n + "}",
                               "application/json", "", key));
    expect_problem(w, 400, "batch_max_events=" + n);
    expect_still_serving(n);
  }
}

TEST_F(Malformed, InvalidUtf8InStringsIs400) {
  const std::string head = R"({"type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18.161Z",)";
  for (std::string bad : {std::string("\xff\xfe"), std::string("\xc0\xaf"), std::string("a\xe2\x82"),
                          std::string("\xed\xa0\x80"), std::string("\xf8\x88\x80\x80\x80"),
                          std::string("\\ud800"), std::string("\\udc00x")}) {
    std::string in_value = head + R"("contact":{"msisdn":1,"ecom_email":")" + bad + "\"}}";
    std::string in_key = head + R"("contact":{"msisdn":1,")" + bad + "\":\"x\"}}";
    std::string in_id = head + R"("id":")" + bad + R"(","contact":{"msisdn":1}})";
    for (const auto& body : {in_value, in_key, in_id})
      expect_problem(exchange(raw_post(events, body)), 400, "ingest " + describe(body));
    expect_problem(exchange(raw_post("/v1/webhooks", R"({"name":")" + bad + R"(","url":"http://127.0.0.1:9/h"})",
                                     "application/json", "", key)),
                   400, "webhook name " + describe(bad));
    expect_still_serving(describe(bad));
  }
}

TEST_F(Malformed, ABodyLargerThanTheLimitIs413) {
  std::string big = R"({"type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18.161Z","contact":{"msisdn":1,)"
                    R"("ecom_email":")" +
                    std::string(kMaxBody + 1000, 'a') + "\"}}";
  // Announced by Content-Length.
  expect_problem(exchange(raw_post(events, big)), 413, "Content-Length body");
  expect_still_serving("Content-Length body");
  // Announced only by its Content-Length, with the body never sent.
  std::string announced = "POST " + events + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kPlatformToken +
                          "\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n";
  expect_problem(exchange(announced), 413, "announced body");
  // Chunked, with no length up front.
  std::string chunked = "POST " + events + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kPlatformToken +
                        "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t off = 0; off < big.size(); off += 8192) {
    std::string part = big.substr(off, 8192);
    char len[16];
    std::snprintf(len, sizeof len, "%zx\r\n", part.size());
    chunked += len + part + "\r\n";
  }
  chunked += "0\r\n\r\n";
  expect_problem(exchange(chunked), 413, "chunked body");
  expect_still_serving("chunked body");
}

TEST_F(Malformed, AHeaderBlockLargerThan16KiBIs431) {
  expect_problem(exchange(raw_post(events, event_body(1), "application/json",
                                   "X-Big: " + std::string(17 << 10, 'h') + "\r\n")),
                 431, "one big header");
  std::string many;
  for (int i = 0; i < 400; ++i) many += "X-H" + std::to_string(i) + ": " + std::string(40, 'v') + "\r\n";
  expect_problem(exchange(raw_post(events, event_body(1), "application/json", many)), 431, "many headers");
  expect_still_serving("large header blocks");
}

TEST_F(Malformed, CrlfInjectionInAHeaderIs400) {
  const std::string ok_body = event_body(1);
  for (std::string extra : {std::string("X-A: a\rInjected: 1\r\n"), std::string("X-A: a\nInjected: 1\r\n"),
                            std::string("X-A: a\r\rb\r\n"), std::string("X-A: a") + '\0' + "b\r\n",
                            std::string("X-\rA: b\r\n"), std::string("X-\nA: b\r\n"), std::string("X A: b\r\n"),
                            std::string(": no-name\r\n"), std::string("X-A\r\n"), std::string(" folded\r\n")}) {
    auto r = exchange(raw_post(events, ok_body, "application/json", extra));
    expect_problem(r, 400, "header " + describe(extra));
    expect_still_serving(describe(extra));
  }
  // A line break smuggled into the Authorization value must not authorise.
  auto r = exchange(raw_post(events, ok_body, "application/json", "", std::string(kPlatformToken) + "\rX: y"));
  EXPECT_GE(r.status, 400);
  EXPECT_LT(r.status, 500);
  expect_still_serving("Authorization with a CR");
}

TEST_F(Malformed, AContentTypeOfAnotherFormatIs415) {
  for (std::string type : {"text/plain", "multipart/form-data; boundary=x", "application/xml", "text/json"}) {
    expect_problem(exchange(raw_post(events, event_body(1), type)), 415, type);
  }
  // A JSON type with parameters is fine, and so is curl -d's default.
  EXPECT_EQ(exchange(raw_post(events, event_body(2), "application/json; charset=utf-8")).status, 202);
  EXPECT_EQ(exchange(raw_post(events, event_body(3), "application/x-www-form-urlencoded")).status, 202);
  expect_still_serving("wrong content types");
}

TEST_F(Malformed, AGarbageRequestLineIs400OrClosed) {
  for (std::string raw : {std::string("GARBAGE\r\n\r\n"), std::string("GET\r\n\r\n"),
                          std::string("GET / HTTP/1.1 extra\r\n\r\n"), std::string("GET / HTTP/9.9\r\n\r\n"),
                          std::string("GET /healthz HTTX/1.1\r\n\r\n"), std::string("G\x01T / HTTP/1.1\r\n\r\n"),
                          std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15),
                          std::string("GET /he\x7f" "lthz HTTP/1.1\r\n\r\n"), std::string("\r\n\r\n\r\n"),
                          std::string("POST " + events + " HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
                          std::string("POST " + events + " HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
                          std::string("POST " + events +
                                      " HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab"),
                          std::string("POST " + events +
                                      " HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                          std::string("POST " + events + " HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")}) {
    expect_problem_or_closed(raw, describe(raw));
    expect_still_serving(describe(raw));
  }
}

// Sends raw one byte every interval until the server closes the connection
// or it is all sent; returns how long the server took to close it, or
// nullopt if it never did.
std::optional<milliseconds> trickle_until_closed(RawClient& c, const std::string& raw, milliseconds interval,
                                                 std::string* answer) {
  auto start = std::chrono::steady_clock::now();
  for (char ch : raw) {
    pollfd p{c.fd(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(interval.count())) > 0) {
      char buf[4096];
      ssize_t n = recv(c.fd(), buf, sizeof buf, 0);
      if (n > 0) answer->append(buf, static_cast<size_t>(n));
      if (n <= 0 || c.wait_closed(seconds(5)))
        return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
    }
    if (!c.send(std::string(1, ch)))
      return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
  }
  return std::nullopt;
}

TEST_F(Malformed, ASlowRequestIsClosedAtTheReadTimeout) {
  // 400 bytes at one per 200 ms would take 80 s; the read timeout is 1 s.
  std::string raw = raw_post(events, event_body(1) + std::string(300, ' '));
  {
    RawClient c(server.port());
    std::string answer;
    auto closed = trickle_until_closed(c, raw, milliseconds(200), &answer);
    ASSERT_TRUE(closed.has_value()) << "the server waited for the whole slow request";
    EXPECT_LT(closed->count(), 10'000);
    EXPECT_EQ(answer.find("HTTP/1.1 2"), std::string::npos) << answer;
  }
  expect_still_serving("a slow request");
}

// Regression: the request after the first on a kept-alive connection was
// read under the idle timeout (60 s) instead of the read timeout, so a slow
// sender could hold a connection twice as long by sending a fast request
// first.
TEST_F(Malformed, ASlowSecondRequestOnAKeptAliveConnectionGetsTheReadTimeoutNotTheIdleTimeout) {
  std::string raw = raw_post(events, event_body(1) + std::string(300, ' '));
  {
    RawClient c(server.port());
    ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_EQ(c.read_response().status, 200);
    std::string answer;
    auto closed = trickle_until_closed(c, raw, milliseconds(200), &answer);
    ASSERT_TRUE(closed.has_value()) << "the server waited for the whole slow request";
    EXPECT_LT(closed->count(), 10'000);
  }
  // The idle timeout still holds between requests: a pause longer than the
  // read timeout before the next request is fine, and pipelined requests
  // are each answered.
  {
    RawClient c(server.port());
    ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_EQ(c.read_response().status, 200);
    std::this_thread::sleep_for(milliseconds(1500));
    ASSERT_TRUE(c.send(raw_post(events, event_body(2)) + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto first = c.read_response();
    EXPECT_EQ(first.status, 202) << first.error << " " << first.body;
    EXPECT_EQ(c.read_response().status, 200);
  }
  expect_still_serving("a slow second request");
}

TEST_F(Malformed, HalfClosedConnections) {
  // A whole request, then the client's write side closed: answered, then closed.
  {
    RawClient c(server.port());
    ASSERT_TRUE(c.send(raw_post(events, event_body(7))));
    c.shutdown_write();
    auto r = c.read_response();
    EXPECT_EQ(r.status, 202) << r.error << " " << r.body;
    EXPECT_TRUE(c.wait_closed(seconds(20)));
  }
  // Half of the headers, then closed: a 400 or a close, never a hang.
  {
    std::string raw = raw_post(events, event_body(8));
    expect_problem_or_closed(raw.substr(0, 30), "half the request line");
    RawClient c(server.port());
    c.send(raw.substr(0, raw.find("\r\n\r\n") - 5));
    c.shutdown_write();
    auto r = c.read_response();
    if (r.status != 0) expect_problem(r, 400, "half the headers");
    EXPECT_TRUE(c.wait_closed(seconds(20)));
  }
  // Headers whole, the body cut short, then closed.
  {
    std::string raw = raw_post(events, event_body(9));
    RawClient c(server.port());
    c.send(raw.substr(0, raw.size() - 10));
    c.shutdown_write();
    auto r = c.read_response();
    if (r.status != 0) expect_problem(r, 400, "half the body");
    EXPECT_TRUE(c.wait_closed(seconds(20)));
  }
  // Connected and closed at once.
  {
    RawClient c(server.port());
    c.shutdown_write();
    EXPECT_TRUE(c.wait_closed(seconds(20)));
  }
  expect_still_serving("half-closed connections");
}

TEST_F(Malformed, AThousandConnectionsOpenedAndDropped) {
  const size_t fds_before = open_fds();
  {
    std::vector<std::unique_ptr<RawClient>> clients;
    for (int i = 0; i < 1000; ++i) {
      clients.push_back(std::make_unique<RawClient>(server.port()));
      // A third say nothing, a third send part of a request, a third reset.
      if (i % 3 == 1) clients.back()->send(raw_post(events, event_body(1)).substr(0, 40 + i % 50));
      if (i % 3 == 2) {
        linger l{1, 0};
        setsockopt(clients.back()->fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
      }
    }
    expect_still_serving("1000 connections open");
  }  // all dropped here
  expect_still_serving("1000 connections dropped");
  // The server lets go of every one of them (the slack is for store
  // connections opened meanwhile, e.g. a PostgreSQL pool growing).
  EXPECT_TRUE(eventually([&] { return open_fds() <= fds_before + 20; }, seconds(20)))
      << "growhook holds " << open_fds() << " descriptors, " << fds_before << " before";
}

}  // namespace
}  // namespace e2e
