// The production Transport: libcurl multi on a thread of its own, with the
// address guard in curl's open-socket callback (see curl_transport.cc).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "delivery/address_guard.h"
#include "delivery/transport.h"
#include "delivery/trust_store.h"

namespace growhook {

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
