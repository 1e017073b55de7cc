// End-to-end: webhooks over real TLS on loopback. Each test makes a
// throwaway CA and server certificates (tests/support/test_certs.*) and
// runs Node's https server as the receiver, which verifies every message
// with the npm standardwebhooks package (tests/e2e/https_receiver.mjs).
// What a user relies on: a receiver whose CA the operator trusts with
// --tls-ca-file gets verified messages over connections that are reused;
// a self-signed, misnamed or expired certificate fails every attempt with a
// TLS error that says which; test connection tells the same; the system's
// store stays trusted beside --tls-ca-file; a broken --tls-ca-file stops the
// start with a clear message.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "e2e/harness.h"
#include "e2e/tls_harness.h"

namespace e2e {
namespace {

using nlohmann::json;
using test_certs::ServerSpec;

void ingest(Server& s, const std::string& account, const std::string& body) {
  auto r = s.platform("POST", "/v1/accounts/" + account + "/events", body);
  ASSERT_EQ(r.status, 202) << r.body;
}

size_t verified_count(const std::vector<json>& requests) {
  size_t n = 0;
  for (const auto& r : requests) n += r["verified"].get<bool>() ? 1 : 0;
  return n;
}

TEST(Https, AReceiverTrustedWithTlsCaFileGetsVerifiedMessagesOnAReusedConnection) {
  CertFolder certs;
  certs.add_server("receiver", ServerSpec{});
  HttpsReceiver rx(certs.cert("receiver"), certs.key("receiver"));
  Server server({"--tls-ca-file", certs.ca_file()});
  auto [account, key] = server.create_account();
  // By host name: SNI and the name check use "localhost", while the
  // address guard pins the connection to 127.0.0.1.
  auto hook = add_webhook(server, key, rx.url("localhost"), {{"batch_max_events", 1}});
  rx.add_secret(hook.secret);
  // One after the other, as a quiet stream arrives: each finds the
  // connection the last one used.
  for (int i = 0; i < 5; ++i) {
    ingest(server, account, event_body(100 + i, "tls-" + std::to_string(i)));
    ASSERT_TRUE(rx.wait_for([i](auto& r) { return r.size() == static_cast<size_t>(i + 1); }))
        << "message " << i << " did not arrive";
  }
  auto requests = rx.requests();
  EXPECT_EQ(verified_count(requests), 5u) << json(requests).dump();
  for (const auto& r : requests) EXPECT_EQ(r["servername"], "localhost") << r.dump();
  std::set<std::string> ids;
  for (const auto& r : requests)
    for (const auto& id : r["events"]) ids.insert(id.get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"tls-0", "tls-1", "tls-2", "tls-3", "tls-4"}));
  ASSERT_TRUE(eventually([&] { return webhook_batches(server, key, hook.id, "delivered").size() == 5; }));
  // Kept alive: not a handshake a message (one connection, or two if one
  // was closed on the way).
  EXPECT_LE(rx.tls_connections(), 2) << "TLS connections for 5 messages sent one after the other";
}

struct BadCertificate {
  const char* name;
  bool self_signed;
  ServerSpec spec;
  bool trust_ca;         // start growhook with --tls-ca-file of the test CA
  const char* expected;  // in every attempt's error
};

// The test's name in gtest's and ctest's output.
void PrintTo(const BadCertificate& c, std::ostream* os) { *os << c.name; }

class HttpsRefused : public ::testing::TestWithParam<BadCertificate> {};

TEST_P(HttpsRefused, EveryAttemptFailsWithTheTlsErrorAndTheBatchIsFailed) {
  const BadCertificate& p = GetParam();
  CertFolder certs;
  certs.add_server(p.name, p.spec, p.self_signed);
  HttpsReceiver rx(certs.cert(p.name), certs.key(p.name));
  std::vector<std::string> args = {"--retry-delays", "100ms,100ms"};
  if (p.trust_ca) args.insert(args.end(), {"--tls-ca-file", certs.ca_file()});
  Server server(args);
  auto [account, key] = server.create_account();
  auto hook = add_webhook(server, key, rx.url());
  ingest(server, account, event_body(1));
  ASSERT_TRUE(eventually([&] { return webhook_batches(server, key, hook.id, "failed").size() == 1; }));
  auto attempts = webhook_batches(server, key, hook.id, "failed")[0]["attempts"];
  ASSERT_EQ(attempts.size(), 3u) << attempts.dump();
  for (const auto& a : attempts) {
    EXPECT_TRUE(a["status_code"].is_null()) << a.dump();
    EXPECT_NE(a["error"].get<std::string>().find(p.expected), std::string::npos) << a.dump();
  }
  EXPECT_EQ(rx.requests().size(), 0u) << "a request got through a refused certificate";
}

ServerSpec named(std::vector<std::string> dns, std::vector<std::string> ips) {
  ServerSpec s;
  s.dns_names = std::move(dns);
  s.ip_addresses = std::move(ips);
  return s;
}

ServerSpec expired() {
  ServerSpec s;
  s.not_before_s = -2 * 86400;
  s.not_after_s = -86400;
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Certificates, HttpsRefused,
    ::testing::Values(
        BadCertificate{"self_signed", true, ServerSpec{}, true,
                       "TLS: certificate verify failed: self-signed certificate"},
        BadCertificate{"wrong_name", false, named({"wrong.example"}, {"127.0.0.2"}), true, "TLS: name mismatch"},
        BadCertificate{"expired", false, expired(), true, "TLS: certificate verify failed: certificate has expired"},
        // The test CA is in no system store: without --tls-ca-file the
        // receiver is not trusted, and the error says what to do.
        BadCertificate{"untrusted_ca", false, ServerSpec{}, false, "--tls-ca-file"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Https, TestConnectionReportsSuccessAndTheTlsError) {
  CertFolder certs;
  certs.add_server("good", ServerSpec{});
  certs.add_server("self_signed", ServerSpec{}, /*self_signed=*/true);
  HttpsReceiver good(certs.cert("good"), certs.key("good"));
  HttpsReceiver bad(certs.cert("self_signed"), certs.key("self_signed"));
  Server server({"--tls-ca-file", certs.ca_file()});
  auto [account, key] = server.create_account();
  auto ok_hook = add_webhook(server, key, good.url());
  auto bad_hook = add_webhook(server, key, bad.url());
  good.add_secret(ok_hook.secret);

  auto r = server.account(key, "POST", "/v1/webhooks/" + ok_hook.id + "/test", "{}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["ok"], true) << r.body;
  EXPECT_EQ(r.json()["status_code"], 200) << r.body;
  EXPECT_EQ(r.json()["response_body"], "verified") << r.body;
  ASSERT_EQ(good.requests().size(), 1u);
  EXPECT_EQ(good.requests()[0]["test"], true);

  auto e = server.account(key, "POST", "/v1/webhooks/" + bad_hook.id + "/test", "{}");
  ASSERT_EQ(e.status, 200) << e.body;
  EXPECT_EQ(e.json()["ok"], false) << e.body;
  EXPECT_TRUE(e.json()["status_code"].is_null()) << e.body;
  EXPECT_NE(e.json()["error"].get<std::string>().find("TLS: certificate verify failed: self-signed certificate"),
            std::string::npos)
      << e.body;
}

// --tls-ca-file adds to the system's store, it does not replace it. The
// "system" store here is a bundle of another test CA, named by
// SSL_CERT_FILE (which growhook honours like the curl tool does).
TEST(Https, TheSystemStoreStaysTrustedBesideTlsCaFile) {
  CertFolder system_ca, extra_ca;
  system_ca.add_server("by_system", ServerSpec{});
  extra_ca.add_server("by_extra", ServerSpec{});
  HttpsReceiver by_system(system_ca.cert("by_system"), system_ca.key("by_system"));
  HttpsReceiver by_extra(extra_ca.cert("by_extra"), extra_ca.key("by_extra"));
  Server server({"--tls-ca-file", extra_ca.ca_file()}, "",
                {{"SSL_CERT_FILE", system_ca.ca_file()}, {"SSL_CERT_DIR", system_ca.dir() + "/none"}});
  auto [account, key] = server.create_account();
  for (auto* rx : {&by_system, &by_extra}) {
    auto hook = add_webhook(server, key, rx->url());
    rx->add_secret(hook.secret);
  }
  ingest(server, account, event_body(7));
  EXPECT_TRUE(by_system.wait_for([](auto& r) { return verified_count(r) == 1; }));
  EXPECT_TRUE(by_extra.wait_for([](auto& r) { return verified_count(r) == 1; }));
}

// A fresh machine without the ca-certificates package: growhook starts
// (plain http:// webhooks work) and says what is missing.
TEST(Https, AMissingSystemStoreIsSaidAtStart) {
  Server server({}, "", {{"SSL_CERT_FILE", "/nonexistent/ca-certificates.crt"}, {"SSL_CERT_DIR", "/nonexistent"}});
  // The banner is written in one piece, with the "listening on" line.
  EXPECT_NE(server.stdout_text().find("no system CA certificates"), std::string::npos) << server.stdout_text();
  EXPECT_NE(server.stdout_text().find("apt-get install ca-certificates"), std::string::npos)
      << server.stdout_text();
}

// Runs `growhook serve` with args and returns its exit code and output.
std::pair<int, std::string> run_serve(const std::string& args) {
  std::string cmd = std::string(GROWHOOK_BINARY) + " serve --listen 127.0.0.1:0 " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(Https, ABrokenTlsCaFileStopsTheStartWithAClearMessage) {
  CertFolder certs;
  char dir_tmpl[] = "/tmp/growhook-e2e.XXXXXX";
  std::string data = mkdtemp(dir_tmpl);
  test_certs::write_file(certs.dir() + "/empty.pem", "");
  test_certs::write_file(certs.dir() + "/garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64\n"
                                                       "-----END CERTIFICATE-----\n");
  struct Case {
    std::string file, expected;
  };
  for (const Case& c : {Case{certs.dir() + "/missing.pem", "cannot read it: No such file or directory"},
                        Case{certs.dir() + "/empty.pem", "no certificate in it"},
                        Case{certs.dir() + "/garbage.pem", "not valid PEM"}}) {
    auto [code, out] = run_serve("--data-dir " + data + " --tls-ca-file " + c.file);
    EXPECT_EQ(code, 2) << out;
    EXPECT_NE(out.find("--tls-ca-file " + c.file + ": " + c.expected), std::string::npos) << out;
  }
  std::filesystem::remove_all(data);
}

}  // namespace
}  // namespace e2e
