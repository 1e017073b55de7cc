// How a libcurl transfer's failure is named in an attempt: its kind
// (transport.h) and the words an operator searches for. Pure.
#pragma once

#include <curl/curl.h>

#include <string>
#include <string_view>

#include "delivery/transport.h"

namespace growhook {

TransportErrorKind kind_of(CURLcode code);
// "timed out", "connection refused", …: the start of an attempt's error.
std::string_view phrase_of(TransportErrorKind kind);
// "TLS: certificate verify failed: self-signed certificate", "TLS: name
// mismatch: ...", "TLS: handshake failed: ...", from curl's code, the
// connection's OpenSSL verify result and curl's error text; says what to do
// when the CA is unknown.
std::string tls_error(CURLcode code, long verify_result, const char* detail);

}  // namespace growhook
