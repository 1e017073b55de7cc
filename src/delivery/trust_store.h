// The certificate authorities that webhook HTTPS certificates are verified
// against: the system's store (libcurl's default CA bundle and folder, on
// Debian /etc/ssl/certs/ca-certificates.crt and /etc/ssl/certs from the
// ca-certificates package) plus the operator's --tls-ca-file, added to it.
//
// Built once at start and shared, read-only, by every TLS connection the
// transport opens (libcurl on its own parses the whole bundle again for
// each new connection when a CA folder is configured, as on Debian). A
// change to the system bundle is seen at the next start.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>

#include "common/result.h"

namespace growhook {

// Where the system's CAs are. system_defaults() asks libcurl for its
// compiled-in CA bundle and folder.
struct TrustStoreSources {
  std::string system_bundle;  // a PEM file of CAs; empty: none
  std::string system_folder;  // an OpenSSL hashed folder (c_rehash); empty: none
  std::string extra_file;     // --tls-ca-file: PEM certificates trusted in addition; empty: none
};
TrustStoreSources system_defaults();

class TrustStore {
 public:
  // Loads the sources. An extra_file that cannot be read, is not PEM, or
  // holds no certificate is an Error (a broken start-up configuration); a
  // system store that is missing or empty is not (plain http:// webhooks
  // still work): system_problem() then says what is missing and how to fix
  // it, and only the extra file's CAs are trusted.
  static Result<std::shared_ptr<const TrustStore>> load(const TrustStoreSources& sources);
  ~TrustStore();
  TrustStore(const TrustStore&) = delete;
  TrustStore& operator=(const TrustStore&) = delete;

  // The OpenSSL store; callers that keep it take their own reference
  // (X509_STORE_up_ref). Never modified after load, so any thread may use it.
  X509_STORE* x509_store() const { return store_; }
  size_t system_certificates() const { return system_certificates_; }
  size_t extra_certificates() const { return extra_certificates_; }
  const TrustStoreSources& sources() const { return sources_; }
  // Empty when the system bundle gave at least one certificate.
  const std::string& system_problem() const { return system_problem_; }
  // One line for the start-up log: what is trusted, from where.
  std::string summary() const;

 private:
  TrustStore() = default;
  X509_STORE* store_ = nullptr;
  TrustStoreSources sources_;
  size_t system_certificates_ = 0;
  size_t extra_certificates_ = 0;
  std::string system_problem_;
};

}  // namespace growhook
