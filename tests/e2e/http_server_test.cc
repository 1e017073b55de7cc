// End-to-end: the API's HTTP server where a client and the server disagree
// about when a request ends.
#include <gtest/gtest.h>
#include <poll.h>

#include "e2e/harness.h"

namespace e2e {
namespace {

// Regression: a request whose Content-Length is over the limit is answered
// 413 at once, and the server closed the socket with the rest of the body
// unread. The kernel then resets the connection, and a client still
// sending its body (curl, most HTTP clients) saw "connection reset" instead
// of the 413: a platform client would retry, forever, a request that can
// never succeed. The server now reads and drops the rest for a while.
TEST(HttpServer, ATooLargeBodyStillBeingSentGetsThe413NotAReset) {
  Server server;
  auto [account, key] = server.create_account();
  const size_t size = 5 << 20;  // over the 4 MiB default
  RawClient c(server.port());
  const std::string head = "POST /v1/accounts/" + account + "/events HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                           "Authorization: Bearer " + kPlatformToken + "\r\nContent-Type: application/json\r\n" +
                           "Content-Length: " + std::to_string(size) + "\r\n\r\n";
  const std::string chunk(64 << 10, 'x');
  ASSERT_TRUE(c.send(head + chunk));
  // The 413 is written while the body is still on its way.
  pollfd p{c.fd(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10'000), 1) << "no answer to the headers";
  // The client goes on sending its body, as curl does until it reads.
  for (size_t sent = chunk.size(); sent < size; sent += chunk.size()) {
    ASSERT_TRUE(c.send(chunk)) << "the connection was reset after " << sent << " bytes of the body";
  }
  auto r = c.read_response();
  EXPECT_EQ(r.status, 413) << r.error;
  EXPECT_NE(r.body.find("larger than"), std::string::npos) << r.body;
  // And the platform's own client, curl, gets the 413 every time.
  const std::string huge(size, 'x');
  for (int i = 0; i < 5; ++i) {
    auto h = server.platform("POST", "/v1/accounts/" + account + "/events", huge);
    EXPECT_EQ(h.status, 413) << "try " << i << ": " << h.error;
  }
}

}  // namespace
}  // namespace e2e
