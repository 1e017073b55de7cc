#include "e2e/harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <stdexcept>

namespace e2e {

// ---------- HTTP client ----------

namespace {

size_t write_cb(char* p, size_t s, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, s * n);
  return s * n;
}

size_t header_cb(char* p, size_t s, size_t n, void* ud) {
  std::string line(p, s * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(ud))[name] = value;
  }
  return s * n;
}

}  // namespace

HttpResult http(const std::string& method, const std::string& url, const std::string& body, const std::string& bearer,
                const std::string& content_type, const std::vector<std::string>& extra_headers) {
  HttpResult r;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60'000L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  curl_slist* h = nullptr;
  if (!bearer.empty()) h = curl_slist_append(h, ("Authorization: Bearer " + bearer).c_str());
  if (method != "GET" && method != "DELETE") {
    h = curl_slist_append(h, ("Content-Type: " + content_type).c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  bool own_expect = false;
  for (const auto& line : extra_headers) {
    h = curl_slist_append(h, line.c_str());
    own_expect |= strncasecmp(line.c_str(), "Expect:", 7) == 0;
  }
  if (!own_expect) h = curl_slist_append(h, "Expect:");
  // Longer than the whole request may take: the 100 must come from the server.
  curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 120'000L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) r.error = curl_easy_strerror(rc);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  r.status = static_cast<int>(status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return r;
}

bool eventually(const std::function<bool()>& f, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return f();
}

std::string event_body(int64_t msisdn, const std::string& id, const std::string& type) {
  nlohmann::json e = {{"type", type},
                      {"occurred_at", "2024-09-26T00:08:18.161Z"},
                      {"contact", {{"msisdn", msisdn}, {"source", "form"}, {"source_value", "1234"}}}};
  if (!id.empty()) e["id"] = id;
  return e.dump();
}

WebhookInfo add_webhook(Server& s, const std::string& key, const std::string& url, const nlohmann::json& extra) {
  nlohmann::json body = {{"name", "receiver"}, {"url", url}};
  body.update(extra);
  auto r = s.account(key, "POST", "/v1/webhooks", body.dump());
  if (r.status != 201) throw std::runtime_error("create webhook: " + std::to_string(r.status) + " " + r.body);
  return {r.json()["id"], r.json()["secret"]};
}

nlohmann::json webhook_batches(Server& s, const std::string& key, const std::string& hook_id,
                               const std::string& state) {
  auto r = s.account(key, "GET", "/v1/webhooks/" + hook_id + "/batches" + (state.empty() ? "" : "?state=" + state));
  auto j = r.json();
  if (r.status != 200 || !j.is_object() || !j.contains("data"))
    throw std::runtime_error("list batches: " + std::to_string(r.status) + " " + r.body);
  return j["data"];
}

std::set<std::string> event_ids_in(const std::vector<ReceivedRequest>& requests) {
  std::set<std::string> ids;
  for (const auto& r : requests) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("events") || !j["events"].is_array()) continue;
    for (const auto& e : j["events"])
      if (e.contains("id") && e["id"].is_string()) ids.insert(e["id"].get<std::string>());
  }
  return ids;
}

// ---------- The store: SQLite or PostgreSQL ----------

namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool postgres_requested() {
  return env_or_empty("GROWHOOK_E2E_STORE") == "postgres" || !env_or_empty("GROWHOOK_E2E_PG_URL").empty();
}

// url with its database (the path) replaced by db; the query is kept.
std::string with_database(const std::string& url, const std::string& db) {
  auto scheme = url.find("://");
  size_t host = scheme == std::string::npos ? 0 : scheme + 3;
  size_t query = url.find('?', host);
  size_t path = url.find('/', host);
  if (path == std::string::npos || (query != std::string::npos && path > query)) path = query;
  std::string head = url.substr(0, path == std::string::npos ? url.size() : path);
  std::string tail = query == std::string::npos ? "" : url.substr(query);
  return head + "/" + db + tail;
}

// Runs one statement on the cluster (the URL's own database); throws on error.
void pg_cluster_exec(const std::string& cluster, const std::string& sql) {
  PGconn* c = PQconnectdb(cluster.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string e = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("PostgreSQL for the e2e tests (" + cluster + "): " + e);
  }
  PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
  PGresult* r = PQexec(c, sql.c_str());
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  std::string e = ok ? "" : PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  if (!ok) throw std::runtime_error(sql + ": " + e);
}

// Without PostgreSQL to run on, the "pg." tests skip (every one of them).
class StoreEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (postgres_requested() && pg_cluster_url().empty()) {
      GTEST_SKIP() << "GROWHOOK_E2E_STORE=postgres but GROWHOOK_TEST_PG_URL is not set; start a database with "
                      "scripts/pg-test-cluster.sh start DIR and export the URL it prints (scripts/test.sh does)";
    }
  }
};
[[maybe_unused]] ::testing::Environment* const kStoreEnvironment =
    ::testing::AddGlobalTestEnvironment(new StoreEnvironment);

}  // namespace

RefusingPort::RefusingPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("refusing port: " + std::string(strerror(errno)));
  port_ = ntohs(a.sin_port);
}

RefusingPort::~RefusingPort() { close(fd_); }

const char* growhook_binary() {
  const char* chosen = std::getenv("GROWHOOK_E2E_BINARY");
  return chosen && *chosen ? chosen : GROWHOOK_BUILT_BINARY;
}

bool on_postgres() { return postgres_requested(); }

std::string pg_cluster_url() { return postgres_requested() ? test_pg_cluster_url() : ""; }

std::string test_pg_cluster_url() {
  std::string url = env_or_empty("GROWHOOK_E2E_PG_URL");
  return url.empty() ? env_or_empty("GROWHOOK_TEST_PG_URL") : url;
}

PgDatabase::PgDatabase(const std::string& cluster) : cluster_(cluster.empty() ? pg_cluster_url() : cluster) {
  std::random_device rd;
  std::uniform_int_distribution<int> hex(0, 15);
  name_ = "growhook_e2e_";
  for (int i = 0; i < 16; ++i) name_ += "0123456789abcdef"[hex(rd)];
  // template0: nobody is ever connected to it, so parallel tests can copy it.
  pg_cluster_exec(cluster_, "CREATE DATABASE " + name_ + " TEMPLATE template0 ENCODING 'UTF8'");
  url_ = with_database(cluster_, name_);
}

PgDatabase::~PgDatabase() {
  try {
    // FORCE: a node killed a moment ago may still have backends going away.
    pg_cluster_exec(cluster_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "e2e: could not drop %s: %s\n", name_.c_str(), e.what());
  }
}

std::vector<std::vector<std::string>> PgDatabase::query(const std::string& sql) const {
  PGconn* c = PQconnectdb(url_.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string e = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("PostgreSQL " + url_ + ": " + e);
  }
  PGresult* r = PQexec(c, sql.c_str());
  bool ok = PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string e = ok ? "" : PQresultErrorMessage(r);
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; ok && i < PQntuples(r); ++i) {
    rows.emplace_back();
    for (int j = 0; j < PQnfields(r); ++j) rows.back().push_back(PQgetvalue(r, i, j));
  }
  PQclear(r);
  PQfinish(c);
  if (!ok) throw std::runtime_error(sql + ": " + e);
  return rows;
}

namespace {

// The database of each data folder, so that every Server given the same
// folder works on the same database, as it would on SQLite. A folder that a
// Server made itself is forgotten with that Server; one that the test made
// keeps its database until the process ends.
std::mutex g_databases_mu;
std::map<std::string, std::shared_ptr<PgDatabase>>& databases() {
  static auto* m = new std::map<std::string, std::shared_ptr<PgDatabase>>();
  return *m;
}
struct DropDatabasesAtExit {
  ~DropDatabasesAtExit() {
    std::lock_guard lock(g_databases_mu);
    databases().clear();
  }
} g_drop_databases_at_exit;

std::shared_ptr<PgDatabase> database_for(const std::string& dir) {
  std::lock_guard lock(g_databases_mu);
  auto& db = databases()[dir];
  if (!db) db = std::make_shared<PgDatabase>();
  return db;
}

void forget_database(const std::string& dir) {
  std::lock_guard lock(g_databases_mu);
  databases().erase(dir);
}

// A stable node id for a data folder: a restart is the same node.
std::string node_id_for(const std::string& dir) {
  std::string base = std::filesystem::path(dir).filename().string();
  std::string id = "e2e-";
  for (char c : base) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return id;
}

}  // namespace

// ---------- Server ----------

Server::Server(std::vector<std::string> extra_args, std::string data_dir, std::map<std::string, std::string> env)
    : args_(std::move(extra_args)), env_(std::move(env)), data_dir_(std::move(data_dir)) {
  if (data_dir_.empty()) {
    char tmpl[] = "/tmp/growhook-e2e.XXXXXX";
    data_dir_ = mkdtemp(tmpl);
    own_dir_ = true;
  }
  if (on_postgres()) {
    if (pg_cluster_url().empty()) throw std::runtime_error("on PostgreSQL without a cluster URL");
    db_ = database_for(data_dir_);
    database_url_ = db_->url();
    auto it = std::find(args_.begin(), args_.end(), "--node-id");
    node_id_ = (it != args_.end() && it + 1 != args_.end()) ? *(it + 1) : node_id_for(data_dir_);
  }
  start();
}

Server::~Server() {
  if (pid_ > 0) kill9();
  if (own_dir_) std::filesystem::remove_all(data_dir_);
  if (own_dir_ && db_) forget_database(data_dir_);
}

void Server::start() {
  int pipefd[2];
  if (pipe(pipefd) != 0) throw std::runtime_error("pipe");
  std::vector<std::string> argv_s = {GROWHOOK_BINARY, "serve", "--listen", "127.0.0.1:0", "--log-level", "warn"};
  // Defaults for tests, unless the test sets them itself.
  auto has = [&](const char* flag) { return std::find(args_.begin(), args_.end(), flag) != args_.end(); };
  if (database_url_.empty()) {
    argv_s.insert(argv_s.end(), {"--data-dir", data_dir_});
  } else {
    if (!has("--database")) argv_s.insert(argv_s.end(), {"--database", database_url_});
    if (!has("--node-id")) argv_s.insert(argv_s.end(), {"--node-id", node_id_});
  }
  if (!has("--retry-delays")) argv_s.insert(argv_s.end(), {"--retry-delays", "200ms,200ms,200ms"});
  if (!has("--probe-max-interval")) argv_s.insert(argv_s.end(), {"--probe-max-interval", "500ms"});
  if (!has("--allow-targets")) argv_s.insert(argv_s.end(), {"--allow-targets", "127.0.0.0/8"});
  argv_s.insert(argv_s.end(), args_.begin(), args_.end());
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    // A test binary that crashes or is killed leaves no server behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);  // the parent died before prctl
    dup2(pipefd[1], 1);
    close(pipefd[0]);
    close(pipefd[1]);
    setenv("GROWHOOK_PLATFORM_TOKEN", kPlatformToken, 1);
    if (!database_url_.empty() || has("--database")) setenv("GROWHOOK_SECRETS_KEYS", kTestSecretsKeys, 1);
    for (const auto& [k, v] : env_) {
      if (v.empty()) unsetenv(k.c_str());
      else setenv(k.c_str(), v.c_str(), 1);
    }
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(pipefd[1]);
  out_fd_ = pipefd[0];
  // Read stdout until the "listening on" line.
  std::regex re("listening on (http://[^\\s]+)");
  std::smatch m;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  out_.clear();
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[4096];
      ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n <= 0) break;
      out_.append(buf, static_cast<size_t>(n));
      if (std::regex_search(out_, m, re)) {
        base_ = m[1];
        // Drain the rest of the banner without blocking.
        fcntl(out_fd_, F_SETFL, O_NONBLOCK);
        return;
      }
    }
  }
  throw std::runtime_error("growhook did not start; stdout: " + out_);
}

std::string Server::stdout_text() const { return out_; }

uint16_t Server::port() const {
  auto colon = base_.rfind(':');
  return colon == std::string::npos ? 0 : static_cast<uint16_t>(std::stoi(base_.substr(colon + 1)));
}

void Server::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  pid_ = -1;
  close(out_fd_);
}

void Server::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

void Server::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_code_ = 137;
  pid_ = -1;
  close(out_fd_);
}

HttpResult Server::platform(const std::string& method, const std::string& path, const std::string& body) {
  return http(method, base_ + path, body, kPlatformToken);
}

HttpResult Server::account(const std::string& key, const std::string& method, const std::string& path,
                           const std::string& body) {
  return http(method, base_ + path, body, key);
}

std::pair<std::string, std::string> Server::create_account(const std::string& name) {
  auto r = platform("POST", "/v1/accounts", nlohmann::json({{"name", name}}).dump());
  if (r.status != 201) throw std::runtime_error("create account: " + std::to_string(r.status) + " " + r.body);
  auto j = r.json();
  return {j["id"], j["api_key"]};
}

// ---------- Commands ----------

CommandResult run_command(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                          std::chrono::seconds timeout) {
  int pipefd[2];
  if (pipe(pipefd) != 0) throw std::runtime_error("pipe");
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    close(pipefd[0]);
    close(pipefd[1]);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(pipefd[1]);
  CommandResult out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    pollfd p{pipefd[0], POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[4096];
      ssize_t n = read(pipefd[0], buf, sizeof buf);
      if (n <= 0) break;
      out.output.append(buf, static_cast<size_t>(n));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      out.output += "\n[killed after " + std::to_string(timeout.count()) + " s]";
      break;
    }
  }
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

// ---------- Receiver ----------

namespace {

bool read_request(int fd, std::string& buf, ReceivedRequest& req) {
  // Headers.
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    char tmp[65536];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
  }
  std::string head = buf.substr(0, end);
  buf.erase(0, end + 4);
  size_t line_end = head.find("\r\n");
  std::string first = head.substr(0, line_end);
  auto sp1 = first.find(' '), sp2 = first.rfind(' ');
  req.method = first.substr(0, sp1);
  req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string line = head.substr(pos, e - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      req.headers[name] = value;
    }
    pos = e + 2;
  }
  size_t len = req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
  while (buf.size() < len) {
    char tmp[65536];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
  }
  req.body = buf.substr(0, len);
  buf.erase(0, len);
  req.at = std::chrono::steady_clock::now();
  return true;
}

// A listening socket on 127.0.0.1, port 0; returns the fd and sets *port.
int listen_loopback(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 512) != 0)
    throw std::runtime_error("receiver bind");
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

}  // namespace

Receiver::Receiver() {
  listen_fd_ = listen_loopback(&port_);
  accept_thread_ = std::thread([this] {
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mu_);
      conn_fds_.push_back(fd);
      conns_.emplace_back([this, fd] { serve(fd); });
    }
  });
}

Receiver::~Receiver() {
  stopping_ = true;
  accept_thread_.join();
  {
    std::lock_guard lock(mu_);
    for (int fd : conn_fds_) shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : conns_) t.join();
  for (int fd : conn_fds_) close(fd);
  close(listen_fd_);
}

std::string Receiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void Receiver::set_handler(std::function<Reply(const ReceivedRequest&)> h) {
  std::lock_guard lock(mu_);
  handler_ = std::move(h);
}

void Receiver::set_status(int status) {
  set_handler([status](const ReceivedRequest&) {
    Reply r;
    r.status = status;
    return r;
  });
}

// ---------- RequestLog ----------

void RequestLog::add(const ReceivedRequest& r) {
  {
    std::lock_guard lock(mu_);
    requests_.push_back(r);
  }
  cv_.notify_all();
}

std::vector<ReceivedRequest> RequestLog::all() const {
  std::lock_guard lock(mu_);
  return requests_;
}

size_t RequestLog::size() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

bool RequestLog::wait_for(const std::function<bool(const std::vector<ReceivedRequest>&)>& pred,
                          std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return pred(requests_); });
}

namespace {
std::atomic<int> hanging_now{0};
std::atomic<int> hanging_most{0};

// Holds the request until the receiver stops or the client closes the
// connection (gave up on it), counted in hanging_now meanwhile.
void hang_until_closed(int fd, const std::atomic<bool>& stopping) {
  int now = ++hanging_now;
  int most = hanging_most.load();
  while (now > most && !hanging_most.compare_exchange_weak(most, now)) {
  }
  while (!stopping) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) break;
  }
  --hanging_now;
}
}  // namespace

int Receiver::most_hanging_at_once() { return hanging_most.load(); }
void Receiver::reset_most_hanging_at_once() { hanging_most = hanging_now.load(); }

void Receiver::serve(int fd) {
  std::string buf;
  while (!stopping_) {
    ReceivedRequest req;
    if (!read_request(fd, buf, req)) return;
    std::function<Reply(const ReceivedRequest&)> h;
    {
      std::lock_guard lock(mu_);
      h = handler_;
    }
    Reply reply = h ? h(req) : Reply{};
    log_.add(req);
    if (reply.hang) {
      hang_until_closed(fd, stopping_);
      return;
    }
    if (reply.delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(reply.delay_ms));
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\nContent-Length: " +
                      std::to_string(reply.body.size()) + "\r\n";
    for (auto& [k, v] : reply.headers) out += k + ": " + v + "\r\n";
    out += "\r\n" + reply.body;
    if (send(fd, out.data(), out.size(), MSG_NOSIGNAL) < 0) return;
  }
}

// ---------- RawReceiver ----------

bool RawConn::read_request(ReceivedRequest* out) {
  ReceivedRequest req;
  if (stopping_ || !e2e::read_request(fd_, buf_, req)) return false;
  if (on_request_) on_request_(req);
  if (out) *out = std::move(req);
  return true;
}

bool RawConn::send(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    if (stopping_) return false;
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
    sent_ += static_cast<size_t>(n);
  }
  return true;
}

bool RawConn::trickle(const std::string& bytes, std::chrono::milliseconds interval) {
  for (char c : bytes) {
    if (!send(std::string(1, c))) return false;
    if (!sleep(static_cast<int>(interval.count()))) return false;
  }
  return true;
}

bool RawConn::sleep(int ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (stopping_) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, 10)));
  }
  return !stopping_;
}

void RawConn::wait_peer_close() {
  char tmp[65536];
  while (!stopping_) {
    ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
  }
}

RawReceiver::RawReceiver(Script script) : script_(std::move(script)) {
  listen_fd_ = listen_loopback(&port_);
  accept_thread_ = std::thread([this] {
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mu_);
      conn_fds_.push_back(fd);
      connections_++;
      conns_.emplace_back([this, fd] {
        RawConn conn(fd, stopping_, [this](const ReceivedRequest& r) { log_.add(r); });
        script_(conn);
        // Closing here (not in the destructor) is what the peer sees as
        // the end of the answer; the fd stays listed, so shut it down only.
        ::shutdown(fd, SHUT_RDWR);
        std::lock_guard lock(mu_);
        finished_++;
      });
    }
  });
}

RawReceiver::~RawReceiver() {
  stopping_ = true;
  accept_thread_.join();
  {
    std::lock_guard lock(mu_);
    for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : conns_) t.join();
  for (int fd : conn_fds_) close(fd);
  close(listen_fd_);
}

std::string RawReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

size_t RawReceiver::connections() const {
  std::lock_guard lock(mu_);
  return connections_;
}

size_t RawReceiver::scripts_finished() const {
  std::lock_guard lock(mu_);
  return finished_;
}

// ---------- RawClient ----------

RawClient::RawClient(uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (fd_ >= 0) close(fd_);
    throw std::runtime_error(std::string("raw connect: ") + std::strerror(errno));
  }
}

RawClient::~RawClient() {
  if (fd_ >= 0) close(fd_);
}

bool RawClient::send(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

void RawClient::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

HttpResult RawClient::read_response(std::chrono::milliseconds timeout) {
  HttpResult r;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Reads more into buf_; false (with r.error set) on EOF, reset or timeout.
  auto fill = [&]() -> bool {
    if (eof_) {
      r.error = "connection closed";
      return false;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      r.error = "timed out";
      return false;
    }
    char tmp[65536];
    ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) {
      eof_ = true;
      r.error = n == 0 ? "connection closed" : std::string("recv: ") + std::strerror(errno);
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  };
  size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return r;
  }
  std::string head = buf_.substr(0, end);
  buf_.erase(0, end + 4);
  size_t line_end = head.find("\r\n");
  std::string first = head.substr(0, line_end);
  if (first.rfind("HTTP/1.", 0) != 0 || first.size() < 12) {
    r.error = "not an HTTP response: " + first;
    return r;
  }
  int status = std::atoi(first.substr(9, 3).c_str());
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string line = head.substr(pos, e - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
    }
    pos = e + 2;
  }
  size_t len = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
  while (buf_.size() < len) {
    if (!fill()) return r;
  }
  r.body = buf_.substr(0, len);
  buf_.erase(0, len);
  r.status = status;
  return r;
}

bool RawClient::wait_closed(std::chrono::milliseconds timeout) {
  if (eof_) return true;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char tmp[65536];
    ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;
      return true;
    }
  }
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

void expect_standardwebhooks_verifies(const std::vector<Signed>& messages) {
  const std::string root = GROWHOOK_SOURCE_DIR;
  ASSERT_TRUE(std::filesystem::exists(root + "/node_modules/standardwebhooks"))
      << "the npm package standardwebhooks is missing: run scripts/setup.sh --test (npm ci)";
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : messages) {
    list.push_back({{"secret", m.secret},
                    {"body", m.request.body},
                    {"headers",
                     {{"webhook-id", m.request.headers.at("webhook-id")},
                      {"webhook-timestamp", m.request.headers.at("webhook-timestamp")},
                      {"webhook-signature", m.request.headers.at("webhook-signature")}}}});
  }
  std::string file = std::filesystem::temp_directory_path() / ("growhook-verify-" + std::to_string(getpid()) + ".json");
  std::ofstream(file) << list.dump();
  auto r = run_command({"/usr/bin/env", "node", root + "/tests/e2e/verify_signatures.mjs", file});
  std::filesystem::remove(file);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(std::to_string(messages.size()) + " verified, 0 refused"), std::string::npos) << r.output;
}

}  // namespace e2e
