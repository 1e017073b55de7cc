#include "e2e/harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
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
                const std::string& content_type) {
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
  h = curl_slist_append(h, "Expect:");
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

// ---------- Server ----------

Server::Server(std::vector<std::string> extra_args, std::string data_dir)
    : args_(std::move(extra_args)), data_dir_(std::move(data_dir)) {
  if (data_dir_.empty()) {
    char tmpl[] = "/tmp/growhook-e2e.XXXXXX";
    data_dir_ = mkdtemp(tmpl);
    own_dir_ = true;
  }
  start();
}

Server::~Server() {
  if (pid_ > 0) kill9();
  if (own_dir_) std::filesystem::remove_all(data_dir_);
}

void Server::start() {
  int pipefd[2];
  if (pipe(pipefd) != 0) throw std::runtime_error("pipe");
  std::vector<std::string> argv_s = {GROWHOOK_BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir_,
                                     "--log-level", "warn"};
  // Defaults for tests, unless the test sets them itself.
  auto has = [&](const char* flag) { return std::find(args_.begin(), args_.end(), flag) != args_.end(); };
  if (!has("--retry-delays")) argv_s.insert(argv_s.end(), {"--retry-delays", "200ms,200ms,200ms"});
  if (!has("--allow-targets")) argv_s.insert(argv_s.end(), {"--allow-targets", "127.0.0.0/8"});
  argv_s.insert(argv_s.end(), args_.begin(), args_.end());
  pid_ = fork();
  if (pid_ == 0) {
    dup2(pipefd[1], 1);
    close(pipefd[0]);
    close(pipefd[1]);
    setenv("GROWHOOK_PLATFORM_TOKEN", kPlatformToken, 1);
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

void Server::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  pid_ = -1;
  close(out_fd_);
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
  return true;
}

}  // namespace

Receiver::Receiver() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_fd_, 512) != 0)
    throw std::runtime_error("receiver bind");
  socklen_t len = sizeof a;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
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
  cv_.notify_all();
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

std::vector<ReceivedRequest> Receiver::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

size_t Receiver::count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

bool Receiver::wait_for(const std::function<bool(const std::vector<ReceivedRequest>&)>& pred,
                        std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return pred(requests_); });
}

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
    {
      std::lock_guard lock(mu_);
      requests_.push_back(req);
    }
    cv_.notify_all();
    if (reply.hang) {
      while (!stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
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

}  // namespace e2e
