// End-to-end: what the HTTP clients of the platform's services send, as
// they send it. `Expect: 100-continue` (curl for bodies over 1 MiB, PHP and
// many libcurl-based clients for much smaller ones) is answered 100
// Continue at once, or with the final answer without reading the body;
// `Content-Encoding: gzip` and `deflate` bodies are inflated, their
// decompressed size held to --max-body-bytes (a bomb gets 413 and the
// server stays up), and another coding is a 415 that names it.
#include <gtest/gtest.h>
#include <zlib.h>

#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;

constexpr size_t kMaxBody = 1 << 20;

std::string bulk_body(int count, int64_t first_msisdn) {
  json events = json::array();
  for (int i = 0; i < count; ++i) events.push_back(json::parse(event_body(first_msisdn + i)));
  return json({{"events", events}}).dump();
}

// zlib: window_bits 16+15 gzip, 15 zlib (HTTP's "deflate").
std::string compress(std::string_view in, int window_bits) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

class HttpClients : public ::testing::Test {
 protected:
  HttpClients() : server({"--max-body-bytes", std::to_string(kMaxBody)}) {
    std::tie(account, key) = server.create_account();
    events = "/v1/accounts/" + account + "/events";
  }

  // A request head that asks for 100 Continue before its body.
  std::string expect_head(size_t length, const std::string& extra = "",
                          const std::string& token = kPlatformToken) const {
    return "POST " + events + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(length) +
           "\r\nExpect: 100-continue\r\n" + extra + "\r\n";
  }

  // POSTs body to the events route with extra header lines, by libcurl.
  HttpResult post_events(const std::string& body, const std::vector<std::string>& headers) {
    return http("POST", server.base() + events, body, kPlatformToken, "application/json", headers);
  }

  void expect_still_serving() {
    EXPECT_EQ(http("GET", server.base() + "/healthz").status, 200);
    auto r = server.platform("POST", events, event_body(99));
    EXPECT_EQ(r.status, 202) << r.body;
  }

  Server server;
  std::string account, key, events;
};

TEST_F(HttpClients, ABulkWithExpectContinueGetsItsContinueThenItsAnswer) {
  const std::string body = bulk_body(100, 1000);  // ~8 KB
  RawClient c(server.port());
  ASSERT_TRUE(c.send(expect_head(body.size())));
  // Nothing of the body is sent until the server says so.
  auto go = c.read_response();
  ASSERT_EQ(go.status, 100) << go.error;
  ASSERT_TRUE(c.send(body));
  auto r = c.read_response();
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json()["ids"].size(), 100u) << r.body;
}

TEST_F(HttpClients, LibcurlWithExpectContinueIsAnsweredInsteadOfWaitingForItsTimeout) {
  const std::string body = bulk_body(500, 2000);
  auto r = post_events(body, {"Expect: 100-continue"});
  EXPECT_EQ(r.status, 202) << r.error << " " << r.body;
  EXPECT_EQ(r.json()["ids"].size(), 500u);
}

TEST_F(HttpClients, ExpectContinueWithABadTokenATooLargeBodyOrAnUnknownCodingIsAnsweredBeforeTheBody) {
  struct Case {
    std::string head;
    int status;
    std::string detail;
  };
  for (const Case& k : {Case{expect_head(1000, "", "wrong-token"), 401, "platform token"},
                        Case{expect_head(kMaxBody + 1), 413, "larger than"},
                        Case{expect_head(1000, "Content-Encoding: br\r\n"), 415, "'br' is not supported"},
                        Case{"POST " + events + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kPlatformToken +
                                 "\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n",
                             415, "application/json"}}) {
    RawClient c(server.port());
    ASSERT_TRUE(c.send(k.head));
    auto r = c.read_response();  // without a byte of the body sent
    EXPECT_EQ(r.status, k.status) << k.head << r.error;
    EXPECT_NE(r.body.find(k.detail), std::string::npos) << r.body;
    EXPECT_EQ(r.headers["connection"], "close") << k.head;
  }
  expect_still_serving();
}

TEST_F(HttpClients, GzipAndDeflateBulksAreInflatedStoredAndDelivered) {
  Receiver rx;
  add_webhook(server, key, rx.url());
  for (auto [coding, bits] : {std::pair{"gzip", 16 + 15}, std::pair{"deflate", 15}}) {
    const std::string body = bulk_body(200, coding[0] == 'g' ? 3000 : 4000);
    auto r = post_events(compress(body, bits), {std::string("Content-Encoding: ") + coding});
    ASSERT_EQ(r.status, 202) << coding << ": " << r.body;
    EXPECT_EQ(r.json()["ids"].size(), 200u);
  }
  EXPECT_TRUE(rx.wait_for([](auto& r) { return event_ids_in(r).size() == 400; }))
      << event_ids_in(rx.requests()).size() << " of 400 events delivered";
}

TEST_F(HttpClients, AGzipBombGets413AndTheServerStaysUp) {
  // 64 MiB of zeros in about 64 KiB (64 gzip members of 1 MiB).
  const std::string member = compress(std::string(1 << 20, '\0'), 16 + 15);
  std::string bomb;
  for (int i = 0; i < 64; ++i) bomb += member;
  ASSERT_LT(bomb.size(), kMaxBody);
  for (int i = 0; i < 3; ++i) {
    auto r = post_events(bomb, {"Content-Encoding: gzip"});
    EXPECT_EQ(r.status, 413) << r.error << " " << r.body;
    EXPECT_NE(r.body.find("once decompressed"), std::string::npos) << r.body;
  }
  expect_still_serving();
}

TEST_F(HttpClients, CorruptCompressedBodiesAndOtherCodingsAreRefusedClearly) {
  auto corrupt = post_events("this is not gzip", {"Content-Encoding: gzip"});
  EXPECT_EQ(corrupt.status, 400);
  EXPECT_NE(corrupt.body.find("could not be decompressed: not valid gzip data"), std::string::npos) << corrupt.body;
  auto br = post_events(event_body(1), {"Content-Encoding: br"});
  EXPECT_EQ(br.status, 415);
  EXPECT_NE(br.body.find("Content-Encoding 'br' is not supported"), std::string::npos) << br.body;
  expect_still_serving();
}

}  // namespace
}  // namespace e2e
