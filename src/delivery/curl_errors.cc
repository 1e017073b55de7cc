#include "delivery/curl_errors.h"

#include <openssl/x509_vfy.h>

namespace growhook {

TransportErrorKind kind_of(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT: return TransportErrorKind::kTimeout;
    case CURLE_COULDNT_CONNECT: return TransportErrorKind::kRefused;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE: return TransportErrorKind::kReset;
    case CURLE_COULDNT_RESOLVE_HOST: return TransportErrorKind::kDns;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED: return TransportErrorKind::kTls;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:  // also HTTP/0.9 answers, refused by curl
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_BAD_CONTENT_ENCODING: return TransportErrorKind::kProtocol;
    default: return TransportErrorKind::kOther;
  }
}

std::string_view phrase_of(TransportErrorKind kind) {
  switch (kind) {
    case TransportErrorKind::kTimeout: return "timed out";
    case TransportErrorKind::kRefused: return "connection refused";
    case TransportErrorKind::kReset: return "connection reset or closed early";
    case TransportErrorKind::kDns: return "host name not resolved";
    case TransportErrorKind::kProtocol: return "protocol error";
    default: return "request failed";
  }
}

std::string tls_error(CURLcode code, long verify_result, const char* detail) {
  // curl starts a connection's result at X509_V_ERR_UNSPECIFIED and keeps
  // OpenSSL's when the chain was checked: any other value is OpenSSL's
  // verdict on the chain.
  const bool chain_failed = verify_result != X509_V_OK && verify_result != X509_V_ERR_UNSPECIFIED;
  if (code == CURLE_PEER_FAILED_VERIFICATION && chain_failed) {
    std::string e = "TLS: certificate verify failed: ";
    e += X509_verify_cert_error_string(verify_result);
    switch (verify_result) {
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        e += " (no CA that growhook trusts signed the receiver's certificate; the operator can trust its CA "
             "with --tls-ca-file)";
        break;
      default: break;
    }
    return e;
  }
  // Otherwise the chain was accepted and curl's own check of the host name
  // failed.
  std::string_view d = detail;
  if (d.starts_with("SSL: ")) d.remove_prefix(5);
  if (code == CURLE_PEER_FAILED_VERIFICATION) return "TLS: name mismatch: " + std::string(d);
  return "TLS: handshake failed: " + std::string(d);
}

}  // namespace growhook
