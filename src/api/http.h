// The HTTP server seam: a request as the handlers see it, a response, and a
// responder that may be called from any thread, exactly once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace growhook::api {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query
  std::string query;   // after '?', undecoded
  std::string body;
  std::string content_type;
  std::string authorization;
  std::string remote;  // peer address, for logs

  // The decoded value of a query parameter, or empty.
  std::string query_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Called once with the response; safe from any thread.
using Responder = std::function<void(Response)>;
using Handler = std::function<void(Request&&, Responder)>;
// For a request that asks `Expect: 100-continue`, before its body is read:
// the final answer to give at once instead (401 for a bad token, ...), or
// nullopt to let the body come (the server then answers 100 Continue). The
// request has no body yet. Runs on an HTTP thread, synchronously.
using HeadCheck = std::function<std::optional<Response>(const Request& head)>;

struct ServerLimits {
  size_t max_body_bytes = 4 << 20;
  size_t max_header_bytes = 16 << 10;
  int64_t read_timeout_ms = 30'000;  // whole request, headers and body
  int64_t idle_timeout_ms = 60'000;  // keep-alive between requests
  int64_t write_timeout_ms = 30'000;  // a whole response
  int max_connections = 4096;
};

// Runs an HTTP/1.1 server on its own threads. Thread-safe start/stop.
class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // The port actually bound (useful with port 0).
  virtual uint16_t port() const = 0;
  virtual std::string host() const = 0;
  // Stops accepting, closes idle connections, waits for the threads.
  virtual void stop() = 0;
};

// Binds host:port and starts `threads` threads. Fails with a message when
// the address cannot be bound.
//
// Besides the handler, the server itself answers what HTTP decides:
// malformed requests (400), bodies over max_body_bytes (413) and header
// blocks over max_header_bytes (431); `Expect: 100-continue` (100 Continue,
// or at once the final answer of the limits, of Content-Encoding or of
// check_head, without reading the body); and Content-Encoding: gzip or
// deflate bodies are inflated before the handler sees them, their
// decompressed size held to max_body_bytes (413), any other coding a 415.
std::unique_ptr<HttpServer> start_http_server(const std::string& host, uint16_t port, int threads,
                                              const ServerLimits& limits, Handler handler, HeadCheck check_head,
                                              std::string* error);
std::unique_ptr<HttpServer> start_http_server(const std::string& host, uint16_t port, int threads,
                                              const ServerLimits& limits, Handler handler, std::string* error);

}  // namespace growhook::api
