#include "e2e/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace e2e {
namespace {

// Closes fd with a reset, as a dropped path or a refusing host does.
void reset_close(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

TcpProxy::TcpProxy(uint16_t target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 128) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("TcpProxy: cannot listen on 127.0.0.1");
  port_ = ntohs(a.sin_port);
  accept_thread_ = std::thread([this] { accept_loop(); });
}

TcpProxy::~TcpProxy() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  accept_thread_.join();
  ::close(listen_fd_);
  std::lock_guard lock(mu_);
  for (auto& p : pairs_) p->pump.join();  // each ends within its poll interval
}

void TcpProxy::accept_loop() {
  while (!stopping_) {
    pollfd pf{listen_fd_, POLLIN, 0};
    if (::poll(&pf, 1, 50) <= 0) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    accepted_++;
    if (mode_ == Mode::kRefuse) {
      reset_close(client);
      continue;
    }
    auto p = std::make_unique<Pair>();
    p->client = client;
    Pair* raw = p.get();
    p->pump = std::thread([this, raw] { pump(raw); });
    std::lock_guard lock(mu_);
    reap();
    pairs_.push_back(std::move(p));
  }
}

void TcpProxy::reap() {
  for (auto it = pairs_.begin(); it != pairs_.end();) {
    if ((*it)->done) {
      (*it)->pump.join();
      it = pairs_.erase(it);
    } else {
      ++it;
    }
  }
}

void TcpProxy::pump(Pair* p) {
  const uint64_t generation = cut_generation_;
  // A connection accepted while silent connects on only once the path is back.
  while (!stopping_ && mode_ == Mode::kSilent && cut_generation_ == generation) ::usleep(20'000);
  p->server = stopping_ ? -1 : connect_loopback(target_port_);
  char buf[16384];
  while (p->server >= 0 && !stopping_ && cut_generation_ == generation) {
    if (mode_ == Mode::kSilent) {  // hold everything: read nothing, send nothing
      ::usleep(20'000);
      continue;
    }
    pollfd f[2] = {{p->client, POLLIN, 0}, {p->server, POLLIN, 0}};
    if (::poll(f, 2, 50) <= 0) continue;
    bool closed = false;
    for (int i = 0; i < 2 && !closed; ++i) {
      if (!(f[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::recv(f[i].fd, buf, sizeof buf, 0);
      if (n <= 0) {
        closed = true;
        break;
      }
      int to = i == 0 ? p->server : p->client;
      for (ssize_t sent = 0; sent < n && !closed;) {
        ssize_t m = ::send(to, buf + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL);
        if (m <= 0) closed = true;
        else sent += m;
      }
    }
    if (closed) break;
  }
  // Cut, stopped, or one side closed: reset both sides.
  reset_close(p->client);
  if (p->server >= 0) reset_close(p->server);
  p->done = true;
}

void TcpProxy::cut() { cut_generation_++; }

}  // namespace e2e
