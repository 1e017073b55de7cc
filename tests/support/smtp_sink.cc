#include "support/smtp_sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <stdexcept>

namespace test_smtp {
namespace {

// Reads one CRLF-terminated line into *line (without CRLF), polling so that
// stopping ends it. False on close, error or stop.
bool read_line(int fd, std::string& buf, std::string* line, const std::atomic<bool>& stopping) {
  for (;;) {
    if (auto at = buf.find("\r\n"); at != std::string::npos) {
      *line = buf.substr(0, at);
      buf.erase(0, at + 2);
      return true;
    }
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, 100);
    if (stopping) return false;
    if (r <= 0) continue;
    char tmp[4096];
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
  }
}

void say(int fd, const std::string& s) { (void)::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

std::string address_in(const std::string& arg) {
  auto a = arg.find('<'), b = arg.find('>');
  return a == std::string::npos || b == std::string::npos ? arg : arg.substr(a + 1, b - a - 1);
}

bool starts_with_ci(const std::string& s, const char* prefix) {
  for (size_t i = 0; prefix[i]; ++i) {
    if (i >= s.size() || std::toupper(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

SmtpSink::SmtpSink() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 16) != 0) {
    throw std::runtime_error("smtp sink: cannot listen");
  }
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

SmtpSink::~SmtpSink() {
  stopping_ = true;
  acceptor_.join();
  ::close(listen_fd_);
  std::lock_guard lock(mu_);
  for (auto& t : threads_) t.join();
}

std::vector<ReceivedMail> SmtpSink::mails() const {
  std::lock_guard lock(mu_);
  return mails_;
}

bool SmtpSink::wait_for(const std::function<bool(const std::vector<ReceivedMail>&)>& pred,
                        std::chrono::milliseconds timeout) const {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred(mails())) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred(mails());
}

void SmtpSink::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    connections_++;
    std::lock_guard lock(mu_);
    threads_.emplace_back([this, fd] {
      serve(fd);
      ::close(fd);
    });
  }
}

void SmtpSink::serve(int fd) {
  if (mode_ == Mode::kHang) {
    while (!stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return;
  }
  say(fd, "220 sink.test ESMTP\r\n");
  std::string buf, line;
  ReceivedMail mail;
  while (read_line(fd, buf, &line, stopping_)) {
    if (starts_with_ci(line, "EHLO")) {
      say(fd, "250-sink.test\r\n250 8BITMIME\r\n");
    } else if (starts_with_ci(line, "HELO") || starts_with_ci(line, "NOOP")) {
      say(fd, "250 OK\r\n");
    } else if (starts_with_ci(line, "RSET")) {
      mail = {};
      say(fd, "250 OK\r\n");
    } else if (starts_with_ci(line, "MAIL FROM:")) {
      if (mode_ == Mode::kRefuse) {
        refused_++;
        say(fd, "451 4.3.0 try again later\r\n");
        continue;
      }
      mail = {address_in(line.substr(10)), {}, ""};
      say(fd, "250 OK\r\n");
    } else if (starts_with_ci(line, "RCPT TO:")) {
      mail.to.push_back(address_in(line.substr(8)));
      say(fd, "250 OK\r\n");
    } else if (starts_with_ci(line, "DATA")) {
      say(fd, "354 end with <CRLF>.<CRLF>\r\n");
      while (read_line(fd, buf, &line, stopping_) && line != ".") {
        mail.data += (line.rfind("..", 0) == 0 ? line.substr(1) : line) + "\r\n";
      }
      {
        std::lock_guard lock(mu_);
        mails_.push_back(mail);
      }
      say(fd, "250 queued\r\n");
    } else if (starts_with_ci(line, "QUIT")) {
      say(fd, "221 bye\r\n");
      return;
    } else {
      say(fd, "502 not implemented\r\n");
    }
  }
}

}  // namespace test_smtp
