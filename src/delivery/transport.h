// The HTTP client seam of delivery: send one POST, get its outcome through a
// callback. The production implementation is libcurl multi (curl_transport.*);
// tests use fakes that fail on purpose.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "delivery/address_guard.h"
#include "delivery/trust_store.h"

namespace growhook {

struct OutgoingRequest {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type, User-Agent
  std::string body;                                           // sent as application/json
  int64_t connect_timeout_ms = 5'000;
  int64_t total_timeout_ms = 15'000;
};

enum class TransportErrorKind {
  kNone,            // an HTTP answer arrived (any status)
  kTimeout,         // connect or total timeout
  kRefused,         // connection refused
  kReset,           // connection reset or closed early
  kDns,             // the host name could not be resolved
  kBlockedAddress,  // every resolved address was refused by the address guard
  kTls,             // TLS handshake or certificate failure
  kProtocol,        // invalid HTTP from the receiver
  kOther,
};

struct TransportResult {
  int status_code = 0;           // 0 when no HTTP answer
  std::string body;              // the start of the response body, at most the cap
  std::string retry_after;       // the Retry-After header, if any
  TransportErrorKind error_kind = TransportErrorKind::kNone;
  std::string error;             // human readable, e.g. "connection refused (127.0.0.1:9)"
  int64_t duration_ms = 0;       // from start to the end of the answer or the failure
};

class Transport {
 public:
  using Callback = std::function<void(TransportResult)>;
  virtual ~Transport() = default;
  // Starts the request; calls done exactly once, on the transport's own
  // thread, unless the transport is stopped first (then done is called with
  // an error "shutting down"). Thread-safe. Never follows redirects.
  // A request refused at once (transport stopped, or over its in-flight cap)
  // has done called on the caller's thread before send returns, with kOther:
  // do not hold a lock in send that done also takes.
  virtual void send(OutgoingRequest request, Callback done) = 0;
  // Requests started and not yet completed (a request counts until its
  // callback has returned).
  virtual int in_flight() const = 0;
  // Runs hook on the transport's thread after each pass in which callbacks
  // ran: transfers that finish together call back in one pass, so a caller
  // that queues results for its own thread can wake it once per pass, with
  // all of them, instead of once per result. Set before the first send.
  // False when the transport has no passes: wake once per result then.
  virtual bool set_pass_hook(std::function<void()> hook) {
    (void)hook;
    return false;
  }
  // Aborts what is in flight (their callbacks run with an error) and joins.
  // Idempotent; the destructor of an implementation calls it. From inside a
  // callback it only asks the loop to end (the thread cannot join itself).
  virtual void stop() = 0;
};

struct CurlTransportOptions {
  AddressGuard guard;                 // checked on every resolved address at connect time
  // Body kept. When more arrives the transfer stops there (the connection is
  // closed) and the status already received is still the answer.
  size_t max_response_bytes = 64 << 10;
  size_t max_connections_per_host = 16;  // more requests to one host wait for a slot
  size_t max_connections_total = 256;    // open at once, and kept for reuse
  size_t max_in_flight = 10'000;         // beyond it send() refuses at once
  std::string user_agent = "growhook/" GROWHOOK_VERSION;
  // The CAs that https:// receivers' certificates are verified against (for
  // the URL's host name, on the connection the guard pinned). Empty: the
  // system's store, loaded when the transport starts.
  std::shared_ptr<const TrustStore> trust;
};

std::unique_ptr<Transport> make_curl_transport(CurlTransportOptions options);

}  // namespace growhook
