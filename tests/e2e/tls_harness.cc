#include "e2e/tls_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace e2e {

CertFolder::CertFolder() {
  char tmpl[] = "/tmp/growhook-certs.XXXXXX";
  dir_ = mkdtemp(tmpl);
  ca_ = test_certs::make_ca("growhook test CA");
  test_certs::write_file(ca_file(), ca_.cert);
}

CertFolder::~CertFolder() { std::filesystem::remove_all(dir_); }

std::string CertFolder::add_server(const std::string& name, const test_certs::ServerSpec& spec, bool self_signed) {
  test_certs::Pem pem = test_certs::make_server(spec, self_signed ? nullptr : &ca_);
  test_certs::write_file(cert(name), pem.cert);
  test_certs::write_file(key(name), pem.key);
  return cert(name);
}

HttpsReceiver::HttpsReceiver(const std::string& cert_file, const std::string& key_file) {
  const std::string script = std::string(GROWHOOK_SOURCE_DIR) + "/tests/e2e/https_receiver.mjs";
  int to_child[2], from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    // The sanitizers' runtime of the test binary is nothing node needs.
    unsetenv("LD_PRELOAD");
    execlp("node", "node", script.c_str(), cert_file.c_str(), key_file.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  in_fd_ = to_child[1];
  out_fd_ = from_child[0];
  reader_ = std::thread([this] { read_lines(); });
  if (!wait_event([this] { return port_ != 0 || ended_; }, std::chrono::seconds(30)) || port_ == 0) {
    std::string out;
    {
      std::lock_guard lock(mu_);
      out = output_;
    }
    throw std::runtime_error("the HTTPS receiver (node " + script +
                             ") did not start; is node installed and `npm ci` run (scripts/setup.sh --test)? "
                             "output: " + out);
  }
}

HttpsReceiver::~HttpsReceiver() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  close(in_fd_);
  reader_.join();
  close(out_fd_);
}

void HttpsReceiver::read_lines() {
  std::string buf;
  char tmp[65536];
  for (;;) {
    ssize_t n = read(out_fd_, tmp, sizeof tmp);
    if (n <= 0) break;
    buf.append(tmp, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      auto j = nlohmann::json::parse(line, nullptr, false);
      {
        std::lock_guard lock(mu_);
        if (output_.size() < 16384) output_ += line + "\n";
        std::string event = j.is_object() && j.contains("event") ? j["event"].get<std::string>() : "";
        if (event == "listening") port_ = j["port"].get<uint16_t>();
        if (event == "tls_connection") tls_connections_ = j["count"].get<int>();
        if (event == "secret_set") secrets_acknowledged_++;
        if (event == "request") requests_.push_back(j);
      }
      cv_.notify_all();
    }
  }
  {
    std::lock_guard lock(mu_);
    ended_ = true;
  }
  cv_.notify_all();
}

bool HttpsReceiver::wait_event(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, pred);
}

std::string HttpsReceiver::url(const std::string& host, const std::string& path) const {
  return "https://" + host + ":" + std::to_string(port_) + path;
}

void HttpsReceiver::add_secret(const std::string& secret) {
  int before;
  {
    std::lock_guard lock(mu_);
    before = secrets_acknowledged_;
  }
  std::string line = secret + "\n";
  if (write(in_fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    throw std::runtime_error("could not give the HTTPS receiver its secret");
  if (!wait_event([&] { return secrets_acknowledged_ > before || ended_; }, std::chrono::seconds(30)) || ended_)
    throw std::runtime_error("the HTTPS receiver did not take its secret");
}

std::vector<nlohmann::json> HttpsReceiver::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

int HttpsReceiver::tls_connections() const {
  std::lock_guard lock(mu_);
  return tls_connections_;
}

bool HttpsReceiver::wait_for(const std::function<bool(const std::vector<nlohmann::json>&)>& pred,
                             std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return pred(requests_); });
}

}  // namespace e2e
