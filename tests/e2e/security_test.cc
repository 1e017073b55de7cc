// End-to-end security checks against the real binary, loopback only:
//  - the address guard with no allowlist (--allow-targets ""): every
//    spelling of a loopback or unspecified address is refused, at creation
//    or at connect time, and a redirect is never followed;
//  - tenant isolation: account B gets 404 on every account route that names
//    one of account A's webhooks or batches, and changes nothing;
//  - secrets stay out of the logs, and API keys and the platform token stay
//    out of the data folder's files.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "common/crypto.h"
#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string create_hook(Server& s, const std::string& key, const std::string& url, json extra = json::object()) {
  json body = {{"name", "hook"}, {"url", url}};
  body.update(extra);
  auto r = s.account(key, "POST", "/v1/webhooks", body.dump());
  if (r.status != 201) throw std::runtime_error("create webhook: " + std::to_string(r.status) + " " + r.body);
  return r.json()["id"];
}

// Counts TCP connections accepted on one loopback address (e.g. 127.0.0.2):
// a target that must never be reached.
class ConnectionCounter {
 public:
  explicit ConnectionCounter(const char* address) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, address, &a.sin_addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 16) != 0)
      throw std::runtime_error(std::string("cannot listen on ") + address);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (!stopping_) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          accepted_++;
          close(c);
        }
      }
    });
  }
  ~ConnectionCounter() {
    stopping_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// ---------- The address guard, with no allowlist ----------

TEST(Security, EverySpellingOfLoopbackIsRefusedWithTheGuardOn) {
  Server server({"--allow-targets", ""});
  Receiver rx;
  auto [account, key] = server.create_account();
  const std::string port = std::to_string(rx.port());
  const std::vector<std::string> hosts = {
      "localhost",           // a name that resolves to loopback: refused at connect time
      "127.0.0.1",           // the plain number: refused at creation
      "127.1",               // short form
      "[::1]",               // IPv6 loopback
      "[::ffff:127.0.0.1]",  // IPv4-mapped IPv6
      "[::ffff:7f00:1]",     // the same, in hex
      "[::127.0.0.1]",       // IPv4-compatible IPv6
      "0.0.0.0",             // unspecified (Linux connects it to loopback)
      "[::]",                // unspecified IPv6
      "2130706433",          // 127.0.0.1 as one decimal number
      "0x7f000001",          // ... as one hex number
      "0177.0.0.1",          // ... with an octal first part
      "127.000.000.001",     // ... with leading zeros
  };
  for (const auto& host : hosts) {
    const std::string url = "http://" + host + ":" + port + "/hook";
    auto created = server.account(key, "POST", "/v1/webhooks", json({{"name", host}, {"url", url}}).dump());
    if (created.status == 400) {
      EXPECT_NE(created.body.find("not allowed"), std::string::npos) << url << ": " << created.body;
      continue;
    }
    ASSERT_EQ(created.status, 201) << url << ": " << created.body;
    const std::string id = created.json()["id"];
    auto t = server.account(key, "POST", "/v1/webhooks/" + id + "/test", "{}");
    ASSERT_EQ(t.status, 200) << url << ": " << t.body;
    EXPECT_EQ(t.json()["ok"], false) << url;
    const std::string error = t.json()["error"].is_string() ? t.json()["error"].get<std::string>() : "";
    // Refused by the guard: not a connection refused, not a timeout.
    EXPECT_NE(error.find("not allowed"), std::string::npos) << url << ": " << t.body;
  }
  // The literal number is refused when the webhook is created.
  EXPECT_EQ(server.account(key, "POST", "/v1/webhooks", json({{"name", "x"}, {"url", rx.url()}}).dump()).status, 400);
  EXPECT_EQ(rx.count(), 0u);
}

TEST(Security, RealDeliveriesToALoopbackNameAreRefusedAndFail) {
  Server server({"--allow-targets", "", "--retry-delays", "100ms"});
  Receiver rx;
  auto [account, key] = server.create_account();
  auto id = create_hook(server, key, "http://localhost:" + std::to_string(rx.port()) + "/hook");
  ASSERT_EQ(server.platform("POST", "/v1/accounts/" + account + "/events", event_body(1)).status, 202);
  json failed;
  ASSERT_TRUE(eventually([&] {
    failed = server.account(key, "GET", "/v1/webhooks/" + id + "/batches?state=failed").json();
    return failed["data"].size() == 1;
  }));
  for (const auto& a : failed["data"][0]["attempts"]) {
    EXPECT_NE(a["error"].get<std::string>().find("not allowed"), std::string::npos) << a.dump();
  }
  EXPECT_EQ(rx.count(), 0u);
}

TEST(Security, ARedirectTowardsLoopbackIsNeverFollowed) {
  // The first hop is allowed (127.0.0.1 only); the redirect points at
  // 127.0.0.2, which must get nothing, neither from a test nor a delivery.
  Server server({"--allow-targets", "127.0.0.1/32", "--retry-delays", "0"});
  ConnectionCounter target("127.0.0.2");
  Receiver a;
  const std::string location = "http://127.0.0.2:" + std::to_string(target.port()) + "/";
  a.set_handler([&](const ReceivedRequest&) {
    Reply r;
    r.status = 302;
    r.headers.push_back({"Location", location});
    return r;
  });
  auto [account, key] = server.create_account();
  auto id = create_hook(server, key, a.url());
  auto t = server.account(key, "POST", "/v1/webhooks/" + id + "/test", "{}").json();
  EXPECT_EQ(t["ok"], false);
  EXPECT_EQ(t["status_code"], 302);
  ASSERT_EQ(server.platform("POST", "/v1/accounts/" + account + "/events", event_body(1)).status, 202);
  ASSERT_TRUE(eventually([&] {
    return server.account(key, "GET", "/v1/webhooks/" + id + "/batches?state=failed").json()["data"].size() == 1;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(a.count(), 3u);  // the test, then two attempts ("--retry-delays 0")
  EXPECT_EQ(target.accepted(), 0);
}

// ---------- Tenant isolation ----------

struct Route {
  std::string method;
  std::string path;  // with {webhook}, {batch} or {event}
  std::string body;
};

// Every account route of src/api/app.cc that names a webhook, a batch or an
// event.
// The test below checks app.cc against this list, so a new route cannot be
// added without joining the matrix.
const std::vector<Route>& owned_routes() {
  static const std::vector<Route> routes = {
      {"GET", "/v1/webhooks/{webhook}", ""},
      {"PATCH", "/v1/webhooks/{webhook}", R"({"name":"taken over","url":"https://example.com/b"})"},
      {"DELETE", "/v1/webhooks/{webhook}", ""},
      {"GET", "/v1/webhooks/{webhook}/batches", ""},
      {"GET", "/v1/webhooks/{webhook}/batches?state=failed", ""},
      {"GET", "/v1/webhooks/{webhook}/secret", ""},
      {"GET", "/v1/webhooks/{webhook}/stats", ""},
      {"POST", "/v1/webhooks/{webhook}/test", "{}"},
      {"POST", "/v1/webhooks/{webhook}/rotate-secret", "{}"},
      {"POST", "/v1/webhooks/{webhook}/retry-failed", ""},
      {"POST", "/v1/webhooks/{webhook}/enable", ""},
      {"POST", "/v1/webhooks/{webhook}/disable", ""},
      {"POST", "/v1/webhooks/{webhook}/recover", R"({"since":"2020-01-01T00:00:00Z"})"},
      {"GET", "/v1/batches/{batch}", ""},
      {"POST", "/v1/batches/{batch}/retry", ""},
      {"GET", "/v1/events/{event}", ""},
  };
  return routes;
}

TEST(Security, TheIsolationMatrixCoversEveryRouteOfTheRouter) {
  const std::string app = read_file(std::string(GROWHOOK_SOURCE_DIR) + "/src/api/app.cc");
  ASSERT_FALSE(app.empty());
  std::set<std::string> covered;
  for (const auto& r : owned_routes()) {
    auto q = r.path.find('?');
    std::string p = r.path.substr(0, q);
    covered.insert(p.substr(p.rfind('/') + 1));
  }
  // POST /v1/accounts/{id}/events is the platform's (B's API key gets 401,
  // checked below), not an account route.
  covered.insert("events");
  // POST and DELETE /v1/accounts/{id}/portal-sessions are the platform's
  // too (an API key gets 401: checked below and in portal_test.cc).
  covered.insert("portal-sessions");
  // Sub-resources are dispatched as `action == "name"` and `p[3] == "name"`.
  std::regex action(R"re((?:action|p\[3\]) == "([a-z-]+)")re");
  for (auto it = std::sregex_iterator(app.begin(), app.end(), action); it != std::sregex_iterator(); ++it) {
    EXPECT_TRUE(covered.count((*it)[1])) << "route /" << (*it)[1] << " is not in the isolation matrix";
  }
  // Top-level collections: p[1] == "name".
  std::regex top(R"re(p\[1\] == "([a-z-]+)")re");
  // /v1/portal-session is the page's sign-in with a portal link and its
  // sign-out: it names no webhook or batch (tests/e2e/portal_test.cc).
  const std::set<std::string> known = {"accounts", "account", "sample-event", "webhooks", "batches",
                                       "events", "portal-session"};
  for (auto it = std::sregex_iterator(app.begin(), app.end(), top); it != std::sregex_iterator(); ++it) {
    EXPECT_TRUE(known.count((*it)[1])) << "collection /v1/" << (*it)[1] << " is new: add it to the isolation test";
  }
}

TEST(Security, AnAccountGets404OnEveryRouteOfAnotherAccountsThings) {
  Server server({"--retry-delays", "0"});
  Receiver rx;
  rx.set_status(500);
  auto [a_id, a_key] = server.create_account("A");
  auto [b_id, b_key] = server.create_account("B");
  auto hook = server.account(a_key, "POST", "/v1/webhooks", json({{"name", "A's"}, {"url", rx.url()}}).dump()).json();
  const std::string wid = hook["id"], secret = hook["secret"];
  auto ingested = server.platform("POST", "/v1/accounts/" + a_id + "/events", event_body(1));
  ASSERT_EQ(ingested.status, 202);
  const std::string eid = ingested.json()["ids"][0];
  json failed;
  ASSERT_TRUE(eventually([&] {
    failed = server.account(a_key, "GET", "/v1/webhooks/" + wid + "/batches?state=failed").json();
    return failed["data"].size() == 1;
  }));
  const std::string bid = failed["data"][0]["id"];
  const size_t received = rx.count();
  // B has a webhook of its own, so "not found" is not "has nothing".
  create_hook(server, b_key, "https://example.com/b");

  for (const auto& route : owned_routes()) {
    std::string path = std::regex_replace(route.path, std::regex("\\{webhook\\}"), wid);
    path = std::regex_replace(path, std::regex("\\{batch\\}"), bid);
    path = std::regex_replace(path, std::regex("\\{event\\}"), eid);
    auto r = server.account(b_key, route.method, path, route.body);
    EXPECT_EQ(r.status, 404) << route.method << " " << route.path << " → " << r.body;
    EXPECT_EQ(r.body.find(secret), std::string::npos) << route.method << " " << route.path;
  }
  // B's own lists show nothing of A's; B's key is not the platform token.
  auto list = server.account(b_key, "GET", "/v1/webhooks").json();
  ASSERT_EQ(list["data"].size(), 1u);
  EXPECT_NE(list["data"][0]["id"], wid);
  EXPECT_EQ(server.account(b_key, "GET", "/v1/account").json()["id"], b_id);
  EXPECT_TRUE(server.account(b_key, "GET", "/v1/events?msisdn=1").json()["data"].empty()) << "A's contact";
  EXPECT_EQ(server.account(a_key, "GET", "/v1/events?msisdn=1").json()["data"].size(), 1u);
  EXPECT_EQ(server.account(b_key, "POST", "/v1/accounts/" + a_id + "/events", event_body(2)).status, 401);
  EXPECT_EQ(server.account(a_key, "POST", "/v1/accounts", R"({"name":"C"})").status, 401);
  EXPECT_EQ(server.account(b_key, "POST", "/v1/accounts/" + a_id + "/portal-sessions", "{}").status, 401);

  // Nothing of A's changed: same name, enabled, same secret, batch still failed.
  auto after = server.account(a_key, "GET", "/v1/webhooks/" + wid).json();
  EXPECT_EQ(after["name"], "A's");
  EXPECT_EQ(after["enabled"], true);
  EXPECT_EQ(server.account(a_key, "GET", "/v1/webhooks/" + wid + "/secret").json()["secret"], secret);
  auto batch = server.account(a_key, "GET", "/v1/batches/" + bid).json();
  EXPECT_EQ(batch["state"], "failed");
  EXPECT_EQ(batch["attempts"].size(), failed["data"][0]["attempts"].size());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(rx.count(), received);  // B's "test" and "retry" sent nothing
}

// ---------- Secrets in logs and on disk ----------

// growhook with its log (stderr) captured in a file, at a chatty level.
class LoggedServer {
 public:
  explicit LoggedServer(std::string level) : level_(std::move(level)) {
    char tmpl[] = "/tmp/growhook-sec.XXXXXX";
    dir_ = mkdtemp(tmpl);
    log_path_ = dir_ + ".log";
    start();
  }
  ~LoggedServer() {
    stop();
    std::filesystem::remove_all(dir_);
    std::filesystem::remove(log_path_);
  }
  void start() {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives a test process that died
      int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      dup2(out[1], 1);
      dup2(log, 2);
      close(out[0]);
      close(out[1]);
      close(log);
      setenv("GROWHOOK_PLATFORM_TOKEN", kPlatformToken, 1);
      std::vector<std::string> args = {GROWHOOK_BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir_,
                                       "--log-level", level_, "--allow-targets", "127.0.0.0/8",
                                       "--retry-delays", "100ms"};
      std::vector<char*> argv;
      for (auto& s : args) argv.push_back(s.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    out_fd_ = out[0];
    std::string text;
    std::regex re("listening on (http://[^\\s]+)");
    std::smatch m;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n <= 0) break;
      text.append(buf, static_cast<size_t>(n));
      if (std::regex_search(text, m, re)) {
        base_ = m[1];
        return;
      }
    }
    throw std::runtime_error("growhook did not start: " + text);
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    close(out_fd_);
  }
  const std::string& base() const { return base_; }
  const std::string& data_dir() const { return dir_; }
  std::string log() const { return read_file(log_path_); }
  HttpResult platform(const std::string& m, const std::string& path, const std::string& body = "") {
    return http(m, base_ + path, body, kPlatformToken);
  }
  HttpResult account(const std::string& key, const std::string& m, const std::string& path,
                     const std::string& body = "") {
    return http(m, base_ + path, body, key);
  }

 private:
  std::string level_, dir_, log_path_, base_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
};

// The bytes of the data folder's SQLite files (database, WAL, shared memory).
std::string store_bytes(const std::string& dir) {
  std::string all;
  for (const char* f : {"/growhook.db", "/growhook.db-wal", "/growhook.db-shm"}) all += read_file(dir + f);
  return all;
}

TEST(Security, SecretsAreNeverLoggedAndKeysAreNotStoredInClear) {
  GROWHOOK_E2E_SQLITE_ONLY("it reads the bytes of the SQLite files in the data folder");
  LoggedServer server("debug");
  Receiver rx;
  std::vector<std::string> secrets = {kPlatformToken};
  // Accounts and their keys.
  auto acc = server.platform("POST", "/v1/accounts", R"({"name":"Shop"})").json();
  const std::string account = acc["id"], key = acc["api_key"];
  secrets.push_back(key);
  auto other = server.platform("POST", "/v1/accounts", R"({"name":"Other"})").json();
  secrets.push_back(other["api_key"]);
  // Webhooks with every kind of extra authentication.
  const json auths = json::array({
      {{"type", "bearer"}, {"token", "bearer-value-5a1d9c"}},
      {{"type", "basic"}, {"username", "basic-user-77"}, {"password", "basic-pass-e3f1"}},
      {{"type", "header"}, {"name", "X-Api-Key"}, {"value", "header-value-b8c2"}},
  });
  secrets.insert(secrets.end(), {"bearer-value-5a1d9c", "basic-pass-e3f1", "header-value-b8c2",
                                 growhook::crypto::base64_encode("basic-user-77:basic-pass-e3f1")});
  std::vector<std::string> hooks;
  for (const auto& auth : auths) {
    auto w = server.account(key, "POST", "/v1/webhooks", json({{"name", "h"}, {"url", rx.url()}, {"auth", auth}}).dump());
    ASSERT_EQ(w.status, 201) << w.body;
    hooks.push_back(w.json()["id"]);
    secrets.push_back(w.json()["secret"]);
  }
  // One that fails, so failures get logged too.
  Receiver failing;
  failing.set_status(500);
  auto bad = server.account(key, "POST", "/v1/webhooks",
                            json({{"name", "f"}, {"url", failing.url()}, {"auth", auths[0]}}).dump());
  ASSERT_EQ(bad.status, 201);
  secrets.push_back(bad.json()["secret"]);
  // Test connections, a rotation, the secret read back, deliveries, a bad key.
  for (const auto& id : hooks) {
    EXPECT_EQ(server.account(key, "POST", "/v1/webhooks/" + id + "/test", "{}").json()["ok"], true);
  }
  auto rotated = server.account(key, "POST", "/v1/webhooks/" + hooks[0] + "/rotate-secret", "{}").json();
  secrets.push_back(rotated["secret"]);
  EXPECT_EQ(server.account(key, "GET", "/v1/webhooks/" + hooks[0] + "/secret").json()["secret"], rotated["secret"]);
  EXPECT_EQ(server.account("ghk_wrong_key_wrong_key", "GET", "/v1/webhooks").status, 401);
  EXPECT_EQ(http("POST", server.base() + "/v1/accounts", R"({"name":"x"})", "wrong-platform-token-123").status, 401);
  ASSERT_EQ(server.platform("POST", "/v1/accounts/" + account + "/events", event_body(1)).status, 202);
  ASSERT_TRUE(rx.wait_for([](auto& r) { return r.size() >= 6; }));  // 3 tests + 3 deliveries
  ASSERT_TRUE(eventually([&] {
    return server.account(key, "GET", "/v1/webhooks/" + bad.json()["id"].get<std::string>() + "/batches?state=failed")
               .json()["data"]
               .size() == 1;
  }));
  // The receivers got the authentication: so it really was in play.
  std::set<std::string> auth_headers;
  for (const auto& r : rx.requests()) {
    if (r.headers.count("authorization")) auth_headers.insert(r.headers.at("authorization"));
    if (r.headers.count("x-api-key")) auth_headers.insert(r.headers.at("x-api-key"));
  }
  EXPECT_TRUE(auth_headers.count("Bearer bearer-value-5a1d9c"));
  EXPECT_TRUE(auth_headers.count("header-value-b8c2"));

  // While running, the database and its WAL hold no key or token in clear.
  std::string stored = store_bytes(server.data_dir());
  ASSERT_GT(stored.size(), 0u);
  for (const std::string& s : {std::string(kPlatformToken), key, other["api_key"].get<std::string>()}) {
    EXPECT_EQ(stored.find(s), std::string::npos) << "the data folder holds a key in clear";
  }
  server.stop();
  stored = store_bytes(server.data_dir());
  for (const std::string& s : {std::string(kPlatformToken), key, other["api_key"].get<std::string>()}) {
    EXPECT_EQ(stored.find(s), std::string::npos) << "the data folder holds a key in clear";
  }

  const std::string log = server.log();
  ASSERT_NE(log.find("webhook created"), std::string::npos) << "the log was not captured:\n" << log;
  ASSERT_NE(log.find("batch failed"), std::string::npos) << log;
  for (const auto& s : secrets) {
    EXPECT_EQ(log.find(s), std::string::npos) << "a secret is in the log: " << s.substr(0, 10) << "…";
  }
  EXPECT_EQ(log.find("whsec_"), std::string::npos);
  EXPECT_EQ(log.find("ghk_"), std::string::npos);
}

// Regression: the data folder was created 0755 and growhook.db 0644 (the
// umask's defaults), so any local user could read every webhook's signing
// secret and its receiver's Basic, Bearer or header credentials, which the
// database holds in clear.
TEST(Security, TheDataFolderAndItsDatabaseAreReadableByTheServiceUserOnly) {
  GROWHOOK_E2E_SQLITE_ONLY("the SQLite files of the data folder");
  char tmpl[] = "/tmp/growhook-perms.XXXXXX";
  const std::string parent = mkdtemp(tmpl);
  const std::string dir = parent + "/data";  // growhook creates it
  auto mode = [](const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
  };
  {
    Server server({}, dir);
    auto [account, key] = server.create_account();
    ASSERT_EQ(server.account(key, "POST", "/v1/webhooks",
                             R"({"name":"h","url":"https://example.com/h","auth":{"type":"bearer","token":"t0k3n"}})")
                  .status,
              201);
    EXPECT_EQ(mode(dir), 0700);
    for (const char* f : {"/growhook.db", "/growhook.db-wal", "/growhook.db-shm", "/secrets.key"}) {
      EXPECT_EQ(mode(dir + f), 0600) << f;
    }
    server.stop();
  }
  // A database left readable by an older version is tightened at start.
  chmod((dir + "/growhook.db").c_str(), 0644);
  {
    Server server({}, dir);
    EXPECT_EQ(mode(dir + "/growhook.db"), 0600);
  }
  std::filesystem::remove_all(parent);
}

}  // namespace
}  // namespace e2e
