// Boost.Beast HTTP/1.1 server, after Beast's advanced server example: a
// strand per connection, a timeout on every read, a body and header limit,
// one request at a time per connection (the next is read once the answer
// is written), and a bound on connections.
//
// One io_context per thread, connections dealt out in turn (asio's
// io_context-per-CPU pattern), not one io_context run by every thread: with
// one shared scheduler, each completion woke the other threads on its lock
// (about 15 futex calls and 7 context switches an event at 500 single-event
// posts a second over 4 threads; issue 12).
//
// A request is read in two steps, its header then its body, so that a
// client that sends `Expect: 100-continue` (curl for bodies over 1 MiB, PHP
// and other libcurl clients for much less) gets its 100 Continue at once,
// or its final answer without sending the body; without an answer it
// would wait a second before sending the body anyway.
#include <optional>
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "api/content_encoding.h"
#include "api/http.h"
#include "api/problem.h"
#include "common/thread_name.h"

namespace growhook::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// What one read takes from a kept-alive connection while waiting for the
// next request to start.
constexpr size_t kFirstReadBytes = 4096;

// After an answer that ends the connection before its request was read
// whole (too large, malformed), what the client still sends is read and
// dropped for a while, within these bounds, before the socket closes.
// Closing a socket with unread data makes the kernel answer with a reset,
// and a client still sending its body then sees "connection reset" instead
// of the 413 or 400: it would retry a request that can never succeed.
constexpr int64_t kLingerMs = 2'000;
constexpr size_t kLingerBytes = 16 << 20;
constexpr size_t kLingerReadBytes = 64 << 10;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

using RequestHeader = http::request_parser<http::string_body>::value_type;

// The request as handlers see it, without its body.
Request request_head(const RequestHeader& msg) {
  Request req;
  req.method = std::string(msg.method_string());
  std::string_view target = msg.target();
  auto q = target.find('?');
  req.path = url_decode(target.substr(0, q));
  if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
  req.content_type = std::string(msg[http::field::content_type]);
  req.authorization = std::string(msg[http::field::authorization]);
  return req;
}

Response unsupported_coding(const Error& e) {
  auto r = problem(415, e.message);
  r.headers.emplace_back("Accept-Encoding", "gzip, deflate");
  return r;
}

class Server;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Server& server);
  ~Session();
  void run() {
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

 private:
  void do_read();
  void on_next_request_started(beast::error_code ec, size_t bytes);
  void read_request();
  void on_header(beast::error_code ec, size_t);
  void on_continue_written(beast::error_code ec, size_t);
  void read_body();
  void on_read(beast::error_code ec, size_t);
  void refuse_unread(Response r);
  bool decode(std::string& body, std::string_view content_encoding);
  void respond(Response r);
  void on_write(bool close, beast::error_code ec, size_t);
  void send_error(http::status status, std::string_view detail);
  void write(http::response<http::string_body> res);
  void linger();

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> res_;
  Server& server_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
  bool first_ = true;
  bool unread_request_ = false;  // answered before the request was read whole
  size_t lingered_bytes_ = 0;
};

class Server final : public HttpServer {
 public:
  Server(const ServerLimits& limits, Handler handler, HeadCheck check_head, int threads)
      : limits_(limits), handler_(std::move(handler)), check_head_(std::move(check_head)) {
    for (int i = 0; i < std::max(1, threads); ++i) {
      // Concurrency hint 1: each is run by one thread only.
      iocs_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(iocs_.back()->get_executor());
    }
    acceptor_.emplace(asio::make_strand(*iocs_[0]));
  }

  bool listen(const std::string& host, uint16_t port, std::string* error) {
    beast::error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (ec) {
      *error = "cannot listen on " + host + ": not an IP address (use e.g. 127.0.0.1 or 0.0.0.0)";
      return false;
    }
    tcp::endpoint ep(addr, port);
    acceptor_->open(ep.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(ep, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      *error = "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message();
      return false;
    }
    port_ = acceptor_->local_endpoint().port();
    host_ = host;
    return true;
  }

  void start() {
    do_accept();
    for (auto& ioc : iocs_) threads_.emplace_back([io = ioc.get()] {
      name_this_thread("gh-http-server");
      io->run();
    });
  }

  uint16_t port() const override { return port_; }
  std::string host() const override { return host_; }

  void stop() override {
    if (stopped_.exchange(true)) return;
    asio::post(acceptor_->get_executor(), [this] {
      beast::error_code ec;
      acceptor_->close(ec);
    });
    guards_.clear();
    for (auto& ioc : iocs_) ioc->stop();
    for (auto& t : threads_) t.join();
  }

  ~Server() override { stop(); }

  const ServerLimits& limits() const { return limits_; }
  Handler& handler() { return handler_; }
  const HeadCheck& check_head() const { return check_head_; }
  std::atomic<int> connections{0};

 private:
  void do_accept() {
    asio::io_context& next = *iocs_[next_ioc_++ % iocs_.size()];
    acceptor_->async_accept(asio::make_strand(next), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (!acceptor_->is_open()) return;
      } else if (connections.load() >= limits_.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Session>(std::move(socket), *this)->run();
      }
      if (acceptor_->is_open()) do_accept();
    });
  }

  ServerLimits limits_;
  Handler handler_;
  HeadCheck check_head_;
  std::vector<std::unique_ptr<asio::io_context>> iocs_;  // one per thread
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  size_t next_ioc_ = 0;  // the acceptor's strand only
  std::optional<tcp::acceptor> acceptor_;  // on iocs_[0]
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  std::string host_;
  std::atomic<bool> stopped_{false};
};

Session::Session(tcp::socket&& socket, Server& server) : stream_(std::move(socket)), server_(server) {
  server_.connections++;
}

Session::~Session() { server_.connections--; }

void Session::do_read() {
  parser_.emplace();
  parser_->body_limit(server_.limits().max_body_bytes);
  parser_->header_limit(static_cast<uint32_t>(server_.limits().max_header_bytes));
  if (first_ || buffer_.size() > 0) return read_request();
  // Between requests on a kept-alive connection the idle timeout runs only
  // until the next request starts; from its first byte it has the read
  // timeout like any other, so a slow sender cannot stretch one request to
  // the idle timeout.
  stream_.expires_after(std::chrono::milliseconds(server_.limits().idle_timeout_ms));
  stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                          beast::bind_front_handler(&Session::on_next_request_started, shared_from_this()));
}

void Session::on_next_request_started(beast::error_code ec, size_t bytes) {
  buffer_.commit(bytes);
  if (ec == asio::error::eof) ec = http::error::end_of_stream;
  if (ec) return on_read(ec, 0);
  read_request();
}

// Reads one whole request, header then body, within one read timeout.
void Session::read_request() {
  stream_.expires_after(std::chrono::milliseconds(server_.limits().read_timeout_ms));
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&Session::on_header, shared_from_this()));
}

void Session::on_header(beast::error_code ec, size_t) {
  // A Content-Length over the limit has failed here already (body_limit).
  if (ec || parser_->is_done()) return on_read(ec, 0);
  const RequestHeader& h = parser_->get();
  // RFC 9110 10.1.1: ignored from HTTP/1.0 clients.
  if (h.version() < 11 || !beast::iequals(h[http::field::expect], "100-continue")) return read_body();
  version_ = h.version();
  if (auto coding = parse_content_encoding(h[http::field::content_encoding]); !coding.ok())
    return refuse_unread(unsupported_coding(coding.error()));
  if (const HeadCheck& check = server_.check_head()) {
    if (auto refusal = check(request_head(h))) return refuse_unread(std::move(*refusal));
  }
  asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                    beast::bind_front_handler(&Session::on_continue_written, shared_from_this()));
}

void Session::on_continue_written(beast::error_code ec, size_t) {
  if (ec) return;  // the client is gone
  read_body();
}

void Session::read_body() {
  http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
}

// The final answer before the body was read: the connection ends after it
// (lingering, in case the client sends the body anyway).
void Session::refuse_unread(Response r) {
  first_ = false;
  unread_request_ = true;
  keep_alive_ = false;
  respond(std::move(r));
}

// Inflates a compressed body in place; false when it answered instead
// (413 too large once inflated, 415 unknown coding, 400 corrupt data).
bool Session::decode(std::string& body, std::string_view content_encoding) {
  auto coding = parse_content_encoding(content_encoding);
  if (!coding.ok()) {
    respond(unsupported_coding(coding.error()));
    return false;
  }
  if (*coding == ContentCoding::kIdentity) return true;
  const size_t limit = server_.limits().max_body_bytes;
  Decoded d = decode_body(*coding, body, limit);
  if (d.kind == Decoded::Kind::kTooLarge) {
    respond(problem(413, "request body is larger than " + std::to_string(limit) +
                             " bytes once decompressed; send fewer events per request"));
    return false;
  }
  if (d.kind == Decoded::Kind::kCorrupt) {
    respond(problem(400, "request body could not be decompressed: " + d.error));
    return false;
  }
  body = std::move(d.body);
  return true;
}

void Session::on_read(beast::error_code ec, size_t) {
  first_ = false;
  if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::connection_reset ||
      ec == asio::error::operation_aborted) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    return;
  }
  // Every error below is answered before the request was read whole.
  unread_request_ = static_cast<bool>(ec);
  if (ec == http::error::body_limit) {
    keep_alive_ = false;
    return send_error(http::status::payload_too_large,
                      "request body is larger than " + std::to_string(server_.limits().max_body_bytes) +
                          " bytes; send fewer events per request");
  }
  if (ec == http::error::header_limit) {
    keep_alive_ = false;
    return send_error(http::status::request_header_fields_too_large, "request headers are too large");
  }
  if (ec) {
    keep_alive_ = false;
    return send_error(http::status::bad_request, "malformed HTTP request: " + ec.message());
  }
  auto msg = parser_->release();
  keep_alive_ = msg.keep_alive();
  version_ = msg.version();
  Request req = request_head(msg);
  req.body = std::move(msg.body());
  if (!decode(req.body, msg[http::field::content_encoding])) return;
  beast::error_code rec;
  auto ep = stream_.socket().remote_endpoint(rec);
  if (!rec) req.remote = ep.address().to_string();
  // Nothing is read while a request is being answered.
  stream_.expires_never();
  auto self = shared_from_this();
  server_.handler()(std::move(req), [self](Response r) {
    asio::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable { self->respond(std::move(r)); });
  });
}

void Session::respond(Response r) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version_};
  res.set(http::field::server, "growhook/" GROWHOOK_VERSION);
  res.set(http::field::content_type, r.content_type);
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  for (auto& [k, v] : r.headers) res.set(k, v);
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive_);
  res.prepare_payload();
  write(std::move(res));
}

void Session::send_error(http::status status, std::string_view detail) {
  http::response<http::string_body> res{status, version_};
  res.set(http::field::server, "growhook/" GROWHOOK_VERSION);
  res.set(http::field::content_type, "application/problem+json");
  std::string body = "{\"type\":\"about:blank\",\"title\":\"";
  body += std::string(http::obsolete_reason(status));
  body += "\",\"status\":" + std::to_string(static_cast<int>(status)) + ",\"detail\":\"";
  for (char c : detail) {
    if (c == '"' || c == '\\') body += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) body += c;
  }
  body += "\"}";
  res.body() = std::move(body);
  res.keep_alive(false);
  res.prepare_payload();
  write(std::move(res));
}

void Session::write(http::response<http::string_body> res) {
  res_ = std::make_shared<http::response<http::string_body>>(std::move(res));
  bool close = res_->need_eof();
  stream_.expires_after(std::chrono::milliseconds(server_.limits().write_timeout_ms));
  http::async_write(stream_, *res_, beast::bind_front_handler(&Session::on_write, shared_from_this(), close));
}

void Session::on_write(bool close, beast::error_code ec, size_t) {
  res_.reset();
  if (ec) return;
  if (close) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (unread_request_) {
      // One deadline for all of the lingering.
      stream_.expires_after(std::chrono::milliseconds(kLingerMs));
      linger();
    }
    return;
  }
  do_read();
}

void Session::linger() {
  auto on_dropped = [self = shared_from_this()](beast::error_code ec, size_t n) {
    self->lingered_bytes_ += n;
    // End of stream, a reset, the deadline or enough bytes: the session
    // ends here and the socket closes with nothing left unread, or late.
    if (ec || self->lingered_bytes_ >= kLingerBytes) return;
    self->linger();
  };
  stream_.async_read_some(buffer_.prepare(kLingerReadBytes), std::move(on_dropped));
}

}  // namespace

std::string Request::query_param(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    auto eq = pair.find('=');
    if (url_decode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return {};
}

std::unique_ptr<HttpServer> start_http_server(const std::string& host, uint16_t port, int threads,
                                              const ServerLimits& limits, Handler handler, std::string* error) {
  return start_http_server(host, port, threads, limits, std::move(handler), nullptr, error);
}

std::unique_ptr<HttpServer> start_http_server(const std::string& host, uint16_t port, int threads,
                                              const ServerLimits& limits, Handler handler, HeadCheck check_head,
                                              std::string* error) {
  auto server = std::make_unique<Server>(limits, std::move(handler), std::move(check_head), threads);
  if (!server->listen(host, port, error)) return nullptr;
  server->start();
  return server;
}

}  // namespace growhook::api
