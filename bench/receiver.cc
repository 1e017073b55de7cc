// A fast loopback receiver for the delivery benchmarks: answers every POST
// with 200 at once and counts the events it got. When the msisdn of an event
// holds the microseconds since BASE_US at which the event was posted, the
// receiver records its ingest-to-receipt latency.
//
//   build/receiver [BASE_US] [--tls DIR]   → prints "port N", then serves 127.0.0.1:N
//   GET /stats → {"requests":R,"events":E,"p50_ms":…,"p99_ms":…,"max_ms":…,
//                 "first_us":…,"last_us":…,"first_events":…,"handshakes":H}
//   POST /reset → clears the counters
//
// With --tls DIR it speaks HTTPS (OpenSSL's defaults, non-blocking): it
// makes a throwaway CA and a certificate for 127.0.0.1 and localhost
// (tests/support/test_certs), writes the CA to DIR/ca.pem for the clients
// to trust, and counts the TLS handshakes it completes ("handshakes"): with
// connections kept alive, far fewer than requests.
//
// It shares the machine's cores with what it measures (growhook's threads,
// or curl_raw for the baseline), so it should cost as little as it can: one
// thread, epoll, one read and one write a request, no allocation a request
// once a connection's buffer has grown. HTTP/1.1 with Content-Length bodies
// (what libcurl, wrk and Python send), keep-alive, pipelining; anything else
// (chunked bodies, a head over 64 KiB) closes the connection.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "support/test_certs.h"

namespace {

int64_t base_us = 0;
uint64_t requests = 0;
uint64_t events = 0;
std::vector<double> latencies_ms;
// When the first and the last events arrived, and how many came first: a
// drain's rate over the time events were arriving, without start-up.
int64_t first_us = 0, last_us = 0;
uint64_t first_events = 0;
uint64_t handshakes = 0;
SSL_CTX* tls = nullptr;  // null: plain HTTP

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void count(std::string_view body) {
  ++requests;
  const uint64_t before = events;
  constexpr std::string_view key = "\"msisdn\":";
  for (size_t pos = body.find(key); pos != std::string_view::npos; pos = body.find(key, pos + key.size())) {
    ++events;
    if (base_us) {
      int64_t sent = std::strtoll(body.data() + pos + key.size(), nullptr, 10);
      latencies_ms.push_back(static_cast<double>(now_us() - base_us - sent) / 1000.0);
    }
  }
  if (events == before) return;
  last_us = now_us();
  if (before == 0) {
    first_us = last_us;
    first_events = events;
  }
}

std::string stats() {
  std::vector<double> l = latencies_ms;
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) { return l.empty() ? 0.0 : l[std::min(l.size() - 1, static_cast<size_t>(p * l.size()))]; };
  char buf[384];
  std::snprintf(buf, sizeof buf,
                "{\"requests\":%llu,\"events\":%llu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
                "\"first_us\":%lld,\"last_us\":%lld,\"first_events\":%llu,\"handshakes\":%llu}",
                static_cast<unsigned long long>(requests), static_cast<unsigned long long>(events), pct(0.5),
                pct(0.99), l.empty() ? 0.0 : l.back(), static_cast<long long>(first_us),
                static_cast<long long>(last_us), static_cast<unsigned long long>(first_events),
                static_cast<unsigned long long>(handshakes));
  return buf;
}

std::string response(std::string_view body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

// Content-Length of a request head ("" if none); -1 if the head asks for
// something this receiver does not do (a chunked body).
long content_length(std::string_view head) {
  long length = 0;
  size_t line = head.find("\r\n");
  while (line != std::string_view::npos && line + 2 < head.size()) {
    size_t start = line + 2;
    size_t end = head.find("\r\n", start);
    std::string_view h = head.substr(start, end == std::string_view::npos ? head.size() - start : end - start);
    if (h.size() > 15 && strncasecmp(h.data(), "content-length:", 15) == 0) length = std::atol(h.data() + 15);
    if (h.size() > 18 && strncasecmp(h.data(), "transfer-encoding:", 18) == 0) return -1;
    line = end;
  }
  return length;
}

struct Conn {
  std::string in;          // bytes read, not yet answered
  std::string out;         // answers not yet written
  bool want_out = false;   // registered for EPOLLOUT
  SSL* ssl = nullptr;      // with --tls
  bool handshaken = false;
  bool tls_wants_write = false;  // the handshake or a read must write first
  ~Conn() { SSL_free(ssl); }
};

enum class Io { kMore, kWait, kClosed };

// Reads what is there into c.in: plain, one recv; TLS, until OpenSSL has
// nothing more (it may hold decrypted bytes that epoll cannot see).
Io read_some(int fd, Conn& c, std::vector<char>& buf) {
  if (!c.ssl) {
    ssize_t got = ::recv(fd, buf.data(), buf.size(), 0);
    if (got > 0) {
      c.in.append(buf.data(), static_cast<size_t>(got));
      return Io::kMore;
    }
    return got < 0 && errno == EAGAIN ? Io::kWait : Io::kClosed;
  }
  c.tls_wants_write = false;
  if (!c.handshaken) {
    int rc = SSL_do_handshake(c.ssl);
    if (rc != 1) {
      int e = SSL_get_error(c.ssl, rc);
      c.tls_wants_write = e == SSL_ERROR_WANT_WRITE;
      return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? Io::kWait : Io::kClosed;
    }
    c.handshaken = true;
    ++handshakes;
  }
  bool any = false;
  for (;;) {
    int got = SSL_read(c.ssl, buf.data(), static_cast<int>(buf.size()));
    if (got > 0) {
      c.in.append(buf.data(), static_cast<size_t>(got));
      any = true;
      continue;
    }
    int e = SSL_get_error(c.ssl, got);
    c.tls_wants_write = e == SSL_ERROR_WANT_WRITE;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return any ? Io::kMore : Io::kWait;
    ERR_clear_error();
    return Io::kClosed;
  }
}

// Answers every complete request in c.in. False: close the connection.
bool serve(Conn& c) {
  static const std::string ok = response("ok");
  size_t at = 0;
  for (;;) {
    std::string_view rest(c.in.data() + at, c.in.size() - at);
    size_t head_end = rest.find("\r\n\r\n");
    if (head_end == std::string_view::npos) {
      if (rest.size() > (64 << 10)) return false;
      break;
    }
    std::string_view head = rest.substr(0, head_end);
    long length = content_length(head);
    if (length < 0) return false;
    if (rest.size() < head_end + 4 + static_cast<size_t>(length)) break;
    std::string_view body = rest.substr(head_end + 4, static_cast<size_t>(length));
    if (head.starts_with("GET /stats ")) {
      c.out += response(stats());
    } else if (head.find(" /reset ") != std::string_view::npos) {
      requests = events = first_events = handshakes = 0;
      first_us = last_us = 0;
      latencies_ms.clear();
      c.out += response("{}");
    } else {
      count(body);
      c.out += ok;
    }
    at += head_end + 4 + static_cast<size_t>(length);
  }
  c.in.erase(0, at);
  return true;
}

// Writes what it can of c.out; false on an error.
bool flush(int fd, Conn& c) {
  while (!c.out.empty()) {
    if (c.ssl) {
      int n = SSL_write(c.ssl, c.out.data(), static_cast<int>(c.out.size()));
      if (n <= 0) {
        int e = SSL_get_error(c.ssl, n);
        return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ;
      }
      c.out.erase(0, static_cast<size_t>(n));
      continue;
    }
    ssize_t n = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN;
    c.out.erase(0, static_cast<size_t>(n));
  }
  return true;
}

// A server context for 127.0.0.1 and localhost, its CA written to dir/ca.pem.
SSL_CTX* make_tls(const std::string& dir) {
  test_certs::Pem ca = test_certs::make_ca("growhook bench CA");
  test_certs::Pem server = test_certs::make_server({}, &ca);
  test_certs::write_file(dir + "/ca.pem", ca.cert);
  test_certs::write_file(dir + "/receiver.crt", server.cert);
  test_certs::write_file(dir + "/receiver.key", server.key);
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx || SSL_CTX_use_certificate_file(ctx, (dir + "/receiver.crt").c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, (dir + "/receiver.key").c_str(), SSL_FILETYPE_PEM) != 1) {
    std::fprintf(stderr, "receiver: TLS set-up failed\n");
    std::exit(1);
  }
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--tls") == 0 && i + 1 < argc) tls = make_tls(argv[++i]);
    else base_us = std::atoll(argv[i]);
  }
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 1024) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("receiver: listen");
    return 1;
  }
  std::printf("port %d\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  std::unordered_map<int, std::unique_ptr<Conn>> conns;
  std::vector<char> buf(256 << 10);
  epoll_event ready[256];
  auto close_conn = [&](int fd) {
    ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns.erase(fd);
  };
  for (;;) {
    int n = ::epoll_wait(ep, ready, 256, -1);
    for (int i = 0; i < n; ++i) {
      int fd = ready[i].data.fd;
      if (fd == listener) {
        for (int c; (c = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLRDHUP;
          cev.data.fd = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          auto conn = std::make_unique<Conn>();
          if (tls) {
            conn->ssl = SSL_new(tls);
            SSL_set_fd(conn->ssl, c);
            SSL_set_accept_state(conn->ssl);
          }
          conns[c] = std::move(conn);
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      Conn& c = *it->second;
      bool open = true;
      if ((ready[i].events & EPOLLIN) || (c.tls_wants_write && (ready[i].events & EPOLLOUT))) {
        Io io = read_some(fd, c, buf);
        if (io == Io::kMore) open = serve(c);
        if (io == Io::kClosed) open = false;
      }
      if (open && !c.out.empty()) open = flush(fd, c);
      const bool wants_out = !c.out.empty() || c.tls_wants_write;
      if (open && c.want_out != wants_out) {
        // Wait for room only while an answer is still waiting to go out.
        c.want_out = wants_out;
        epoll_event cev{};
        cev.events = EPOLLIN | EPOLLRDHUP | (c.want_out ? EPOLLOUT : 0);
        cev.data.fd = fd;
        ::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
      }
      if (!open || (ready[i].events & (EPOLLHUP | EPOLLERR))) close_conn(fd);
    }
  }
}
