// End-to-end harness: the real growhook binary on 127.0.0.1 port 0 with a
// fresh data folder, a blocking HTTP client, and loopback receivers whose
// answers a test scripts.
//
// Both stores: by default every Server uses SQLite in its data folder. With
// GROWHOOK_E2E_STORE=postgres (the "pg." tests of ctest) or
// GROWHOOK_E2E_PG_URL set, every Server uses PostgreSQL instead: the
// cluster of GROWHOOK_E2E_PG_URL (else GROWHOOK_TEST_PG_URL, which
// scripts/test.sh exports), a database of its own (growhook_e2e_<random>,
// created at the first start and dropped when the Server that created it
// ends), --database with its URL and a --node-id tied to the data folder.
// So a restart, or another Server given the same data folder, works on the
// same database as the same node and takes its own leases back at once,
// like SQLite does with the folder. A test that passes --node-id itself
// starts another node on the same database (tests/e2e/nodes_test.cc).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace e2e {

inline const char* kPlatformToken = "test-platform-token-0123456789";
// GROWHOOK_SECRETS_KEYS of every PostgreSQL node (SQLite nodes use their
// data folder's key file unless a test sets the variable).
inline const char* kTestSecretsKeys = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string error;                           // transport error
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// extra_headers: whole lines ("Content-Encoding: gzip"). Unless one of them
// is an Expect header, no "Expect: 100-continue" is sent; with one, a
// missing 100 Continue makes the request time out instead of going on.
HttpResult http(const std::string& method, const std::string& url, const std::string& body = "",
                const std::string& bearer = "", const std::string& content_type = "application/json",
                const std::vector<std::string>& extra_headers = {});

// The growhook binary every test starts: GROWHOOK_E2E_BINARY when set
// (scripts/sanitize.sh points it at its sanitized build, so that one build
// of these tests drives every build of the server), else the binary built
// beside these tests.
const char* growhook_binary();
#define GROWHOOK_BINARY (::e2e::growhook_binary())

// Which store the Servers of this process use (see the top of this file).
bool on_postgres();
// The PostgreSQL cluster's URL; empty when not on PostgreSQL or when unset.
std::string pg_cluster_url();

// In a test body or SetUp: skip a test that only makes sense on one store.
#define GROWHOOK_E2E_SQLITE_ONLY(reason) \
  if (::e2e::on_postgres()) GTEST_SKIP() << "SQLite only (this run is on PostgreSQL): " << reason
#define GROWHOOK_E2E_POSTGRES_ONLY(reason)                                                        \
  if (!::e2e::on_postgres() || ::e2e::pg_cluster_url().empty())                                   \
  GTEST_SKIP() << "PostgreSQL only (set GROWHOOK_E2E_STORE=postgres and GROWHOOK_TEST_PG_URL, " \
                  "e.g. from scripts/pg-test-cluster.sh): "                                       \
               << reason

// The test cluster's URL whichever store this run is on (GROWHOOK_E2E_PG_URL,
// else GROWHOOK_TEST_PG_URL); empty when unset. For tests that use both
// stores at once (tests/e2e/migrate_test.cc).
std::string test_pg_cluster_url();

// A database of its own on a cluster (by default the one the Servers use),
// created here and dropped (WITH FORCE) when this goes. Throws on failure.
class PgDatabase {
 public:
  explicit PgDatabase(const std::string& cluster_url = "");
  ~PgDatabase();
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;
  const std::string& url() const { return url_; }
  // Runs sql on it; the rows as text. Throws on error.
  std::vector<std::vector<std::string>> query(const std::string& sql) const;

 private:
  std::string cluster_, name_, url_;
};

// Runs argv (argv[0] a path) with extra environment variables, without a
// shell; returns its exit code (128 + signal when killed) and what it wrote
// on stdout and stderr together. Killed after timeout.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult run_command(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                          std::chrono::seconds timeout = std::chrono::seconds(120));

// A growhook process. Data folder kept across restart(); removed at the end.
class Server {
 public:
  // env: extra environment; a key with an empty value is unset (for
  // GROWHOOK_PLATFORM_TOKEN, which is otherwise kPlatformToken).
  explicit Server(std::vector<std::string> extra_args = {}, std::string data_dir = "",
                  std::map<std::string, std::string> env = {});
  ~Server();
  void start();
  void stop();          // SIGTERM, wait for exit; returns when it exited
  void kill9();         // SIGKILL, wait
  void signal(int sig);  // sends it and returns; stop() waits for the exit
  int exit_code() const { return exit_code_; }
  pid_t pid() const { return pid_; }  // -1 when not running
  const std::string& base() const { return base_; }
  uint16_t port() const;              // the API port of the running process
  const std::string& data_dir() const { return data_dir_; }
  std::string stdout_text() const;
  // On PostgreSQL: the database's URL and this node's --node-id (the
  // test's own when it passed one); empty on SQLite.
  const std::string& database_url() const { return database_url_; }
  const std::string& node_id() const { return node_id_; }

  // Helpers over the API.
  HttpResult platform(const std::string& method, const std::string& path, const std::string& body = "");
  HttpResult account(const std::string& key, const std::string& method, const std::string& path,
                     const std::string& body = "");
  // Creates an account; returns {id, api_key}.
  std::pair<std::string, std::string> create_account(const std::string& name = "shop");

 private:
  std::vector<std::string> args_;
  std::map<std::string, std::string> env_;
  std::string data_dir_;
  bool own_dir_ = false;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string base_;
  std::string out_;
  int exit_code_ = -1;
  std::shared_ptr<PgDatabase> db_;  // on PostgreSQL
  std::string database_url_;
  std::string node_id_;
};

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::chrono::steady_clock::time_point at{};  // when it was read whole
};

struct Reply {
  int status = 200;
  std::string body = "ok";
  std::vector<std::pair<std::string, std::string>> headers;
  int delay_ms = 0;     // before answering
  bool hang = false;    // never answer (until the receiver stops)
};

// The requests a receiver got, in order of arrival; waiters wake on each.
// Thread-safe.
class RequestLog {
 public:
  void add(const ReceivedRequest& r);
  std::vector<ReceivedRequest> all() const;
  size_t size() const;
  // Waits until pred(requests) holds or timeout; returns whether it held.
  bool wait_for(const std::function<bool(const std::vector<ReceivedRequest>&)>& pred,
                std::chrono::milliseconds timeout) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<ReceivedRequest> requests_;
};

// A loopback port that refuses connections: bound, never listening, and
// kept bound while this lives, so that no test running beside it (ctest runs
// two at once) gets the port for a receiver of its own and the events sent
// here. (A port bound and freed instead did that once: a healthy receiver of
// the two-node tenants test got a refusing shop's 4 events.)
class RefusingPort {
 public:
  RefusingPort();
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }

 private:
  int fd_;
  uint16_t port_ = 0;
};

// A loopback HTTP/1.1 receiver on 127.0.0.1 port 0. The handler decides each
// reply; the default answers 200. Thread-safe.
class Receiver {
 public:
  Receiver();
  ~Receiver();
  std::string url(const std::string& path = "/hook") const;
  uint16_t port() const { return port_; }
  void set_handler(std::function<Reply(const ReceivedRequest&)> h);
  void set_status(int status);
  std::vector<ReceivedRequest> requests() const { return log_.all(); }
  size_t count() const { return log_.size(); }
  // Requests held by a reply that hangs, over every Receiver of the
  // process: the most held at one time since the last reset (a held
  // request ends when its client closes the connection).
  static int most_hanging_at_once();
  static void reset_most_hanging_at_once();
  // Waits until pred(requests) holds or timeout; returns whether it held.
  bool wait_for(const std::function<bool(const std::vector<ReceivedRequest>&)>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
    return log_.wait_for(pred, timeout);
  }

 private:
  void serve(int fd);
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  RequestLog log_;
  mutable std::mutex mu_;  // guards handler_, conns_, conn_fds_
  std::function<Reply(const ReceivedRequest&)> handler_;
  std::thread accept_thread_;
  std::vector<std::thread> conns_;
  std::vector<int> conn_fds_;
};

// One accepted connection of a RawReceiver, as its script sees it. Used only
// on the script's own thread.
class RawConn {
 public:
  RawConn(int fd, const std::atomic<bool>& stopping, std::function<void(const ReceivedRequest&)> on_request)
      : fd_(fd), stopping_(stopping), on_request_(std::move(on_request)) {}
  // Reads one request (headers and a Content-Length body) and records it
  // with the receiver. False on EOF, error or when the receiver stops.
  bool read_request(ReceivedRequest* req = nullptr);
  // Writes all of bytes; false once the peer is gone or the receiver stops.
  bool send(const std::string& bytes);
  // Writes bytes one at a time, every interval, until done, failure or stop.
  bool trickle(const std::string& bytes, std::chrono::milliseconds interval);
  // Sleeps up to ms; false if the receiver stops meanwhile.
  bool sleep(int ms);
  // Waits (up to the receiver's life) until the peer closes the connection.
  void wait_peer_close();
  bool stopping() const { return stopping_.load(); }
  size_t bytes_sent() const { return sent_; }

 private:
  int fd_;
  const std::atomic<bool>& stopping_;
  std::function<void(const ReceivedRequest&)> on_request_;
  std::string buf_;
  size_t sent_ = 0;
};

// A loopback TCP listener on 127.0.0.1 port 0 that runs a script on its own
// thread for each accepted connection, for receivers that break HTTP on
// purpose (partial headers, endless bodies, trickles, garbage). The
// connection is closed when the script returns. Thread-safe.
class RawReceiver {
 public:
  using Script = std::function<void(RawConn&)>;
  explicit RawReceiver(Script script);
  ~RawReceiver();
  std::string url(const std::string& path = "/hook") const;
  uint16_t port() const { return port_; }
  size_t connections() const;       // accepted so far
  size_t scripts_finished() const;  // connections whose script returned
  std::vector<ReceivedRequest> requests() const { return log_.all(); }
  size_t count() const { return log_.size(); }
  bool wait_for(const std::function<bool(const std::vector<ReceivedRequest>&)>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
    return log_.wait_for(pred, timeout);
  }

 private:
  Script script_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  RequestLog log_;
  mutable std::mutex mu_;  // guards the counts, conns_, conn_fds_
  size_t connections_ = 0;
  size_t finished_ = 0;
  std::thread accept_thread_;
  std::vector<std::thread> conns_;
  std::vector<int> conn_fds_;
};

// A raw TCP client of the API port: writes bytes exactly as given, so tests
// can send what no HTTP library would.
class RawClient {
 public:
  explicit RawClient(uint16_t port);  // connects to 127.0.0.1:port; throws on failure
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  // Writes all of bytes; false if the server has closed or reset.
  bool send(const std::string& bytes);
  void shutdown_write();
  // Reads one response (status line, headers, Content-Length body). status
  // is 0 when the connection ended first; then error says how.
  HttpResult read_response(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Waits until the server closes the connection (EOF or reset); returns
  // whether it did within the timeout. Discards whatever it reads.
  bool wait_closed(std::chrono::milliseconds timeout);
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

// VmRSS of a process in KiB, from /proc/<pid>/status; -1 if unreadable.
long rss_kib(pid_t pid);

// Polls f until it returns true or the timeout passes.
bool eventually(const std::function<bool()>& f, std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Helpers over the management API that throw on an unexpected answer.
struct WebhookInfo {
  std::string id;
  std::string secret;
};
WebhookInfo add_webhook(Server& s, const std::string& key, const std::string& url,
                        const nlohmann::json& extra = nlohmann::json::object());
// The "data" array of GET /v1/webhooks/{id}/batches[?state=...].
nlohmann::json webhook_batches(Server& s, const std::string& key, const std::string& hook_id,
                               const std::string& state = "");
// Every event id in the bodies of the given delivery requests.
std::set<std::string> event_ids_in(const std::vector<ReceivedRequest>& requests);

// A valid event body with the given msisdn (and optional id).
std::string event_body(int64_t msisdn, const std::string& id = "", const std::string& type = "contact.subscribed");

// A delivery and the secret it must verify with.
struct Signed {
  std::string secret;
  ReceivedRequest request;
};
// Every message verified with the npm `standardwebhooks` package (node,
// tests/e2e/verify_signatures.mjs), each with its secret over its raw body.
void expect_standardwebhooks_verifies(const std::vector<Signed>& messages);

}  // namespace e2e
