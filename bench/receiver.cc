// A fast loopback receiver for the delivery benchmarks: answers every POST
// with 200 at once and counts the events it got. When the msisdn of an event
// holds the microseconds since BASE_US at which the event was posted, the
// receiver records its ingest-to-receipt latency.
//
//   build/receiver [BASE_US]   → prints "port N", then serves 127.0.0.1:N
//   GET /stats → {"requests":R,"events":E,"p50_ms":…,"p99_ms":…,"max_ms":…}
//   POST /reset → clears the counters
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

int64_t base_us = 0;
uint64_t requests = 0;
uint64_t events = 0;
std::vector<double> latencies_ms;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void count(const std::string& body) {
  ++requests;
  const std::string key = "\"msisdn\":";
  for (size_t pos = body.find(key); pos != std::string::npos; pos = body.find(key, pos + key.size())) {
    ++events;
    if (base_us) {
      int64_t sent = std::strtoll(body.c_str() + pos + key.size(), nullptr, 10);
      latencies_ms.push_back(static_cast<double>(now_us() - base_us - sent) / 1000.0);
    }
  }
}

std::string stats() {
  std::vector<double> l = latencies_ms;
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) { return l.empty() ? 0.0 : l[std::min(l.size() - 1, static_cast<size_t>(p * l.size()))]; };
  char buf[256];
  std::snprintf(buf, sizeof buf, "{\"requests\":%llu,\"events\":%llu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}",
                static_cast<unsigned long long>(requests), static_cast<unsigned long long>(events), pct(0.5),
                pct(0.99), l.empty() ? 0.0 : l.back());
  return buf;
}

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  // A plain socket (no beast::tcp_stream timers) and a buffer large enough
  // for a batch in few reads: the receiver should cost as little as it can,
  // since it shares the two cores with what it measures.
  explicit Conn(tcp::socket s) : stream_(std::move(s)) {
    stream_.set_option(tcp::no_delay(true));
    buf_.reserve(256 << 10);
  }
  void read() {
    req_ = {};
    http::async_read(stream_, buf_, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;
      self->answer();
    });
  }

 private:
  void answer() {
    res_ = {http::status::ok, req_.version()};
    if (req_.method() == http::verb::get && req_.target() == "/stats") {
      res_.body() = stats();
    } else if (req_.target() == "/reset") {
      requests = events = 0;
      latencies_ms.clear();
      res_.body() = "{}";
    } else {
      count(req_.body());
      res_.body() = "ok";
    }
    res_.keep_alive(req_.keep_alive());
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec) self->read();
    });
  }
  tcp::socket stream_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
};

void accept(tcp::acceptor& a) {
  a.async_accept([&a](beast::error_code ec, tcp::socket s) {
    if (!ec) std::make_shared<Conn>(std::move(s))->read();
    accept(a);
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) base_us = std::atoll(argv[1]);
  asio::io_context ioc(1);
  tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  std::printf("port %d\n", a.local_endpoint().port());
  std::fflush(stdout);
  accept(a);
  ioc.run();
}
