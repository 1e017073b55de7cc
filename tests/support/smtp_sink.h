// A loopback SMTP server for tests: enough of RFC 5321 for a client to hand
// it mail (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeping what it
// received. It can refuse (a 4xx to MAIL, as a server that is down for a
// while) or hang (accept connections and never answer), and change its mind
// while it runs. Listens on 127.0.0.1, port 0.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace test_smtp {

struct ReceivedMail {
  std::string from;               // MAIL FROM's address, without <>
  std::vector<std::string> to;    // RCPT TO's addresses
  std::string data;               // the message as sent (CRLF lines), dot-stuffing undone
};

enum class Mode { kAccept, kRefuse, kHang };

class SmtpSink {
 public:
  SmtpSink();
  ~SmtpSink();
  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
  void set_mode(Mode m) { mode_ = m; }
  std::vector<ReceivedMail> mails() const;
  size_t refused() const { return refused_; }     // MAIL commands answered 451
  size_t connections() const { return connections_; }
  // Polls until pred(mails()) holds or the timeout passes.
  bool wait_for(const std::function<bool(const std::vector<ReceivedMail>&)>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

 private:
  void accept_loop();
  void serve(int fd);

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<Mode> mode_{Mode::kAccept};
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> refused_{0};
  std::atomic<size_t> connections_{0};
  mutable std::mutex mu_;
  std::vector<ReceivedMail> mails_;
  std::vector<std::thread> threads_;  // guarded by mu_
  std::thread acceptor_;
};

}  // namespace test_smtp
