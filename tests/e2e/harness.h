// End-to-end harness: the real growhook binary on 127.0.0.1 port 0 with a
// fresh data folder, a blocking HTTP client, and loopback receivers whose
// answers a test scripts.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace e2e {

inline const char* kPlatformToken = "test-platform-token-0123456789";

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string error;                           // transport error
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

HttpResult http(const std::string& method, const std::string& url, const std::string& body = "",
                const std::string& bearer = "", const std::string& content_type = "application/json");

// A growhook process. Data folder kept across restart(); removed at the end.
class Server {
 public:
  explicit Server(std::vector<std::string> extra_args = {}, std::string data_dir = "");
  ~Server();
  void start();
  void stop();          // SIGTERM, wait for exit; returns when it exited
  void kill9();         // SIGKILL, wait
  int exit_code() const { return exit_code_; }
  const std::string& base() const { return base_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string stdout_text() const;

  // Helpers over the API.
  HttpResult platform(const std::string& method, const std::string& path, const std::string& body = "");
  HttpResult account(const std::string& key, const std::string& method, const std::string& path,
                     const std::string& body = "");
  // Creates an account; returns {id, api_key}.
  std::pair<std::string, std::string> create_account(const std::string& name = "shop");

 private:
  std::vector<std::string> args_;
  std::string data_dir_;
  bool own_dir_ = false;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string base_;
  std::string out_;
  int exit_code_ = -1;
};

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct Reply {
  int status = 200;
  std::string body = "ok";
  std::vector<std::pair<std::string, std::string>> headers;
  int delay_ms = 0;     // before answering
  bool hang = false;    // never answer (until the receiver stops)
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
  std::vector<ReceivedRequest> requests() const;
  size_t count() const;
  // Waits until pred(requests) holds or timeout; returns whether it held.
  bool wait_for(const std::function<bool(const std::vector<ReceivedRequest>&)>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;

 private:
  void serve(int fd);
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<ReceivedRequest> requests_;
  std::function<Reply(const ReceivedRequest&)> handler_;
  std::thread accept_thread_;
  std::vector<std::thread> conns_;
  std::vector<int> conn_fds_;
};

// Polls f until it returns true or the timeout passes.
bool eventually(const std::function<bool()>& f, std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A valid event body with the given msisdn (and optional id).
std::string event_body(int64_t msisdn, const std::string& id = "", const std::string& type = "contact.subscribed");

}  // namespace e2e
