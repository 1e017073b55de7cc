#include "delivery/trust_store.h"

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace growhook {
namespace {

std::string openssl_error() {
  unsigned long e = ERR_peek_last_error();
  char buf[256] = "unknown OpenSSL error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

// Adds every certificate of a PEM file to store; returns how many it held.
Result<size_t> add_pem_file(X509_STORE* store, const std::string& path) {
  errno = 0;
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (bio == nullptr) {
    int err = errno;
    ERR_clear_error();
    return Error::invalid("cannot read it: " + std::string(err ? std::strerror(err) : "cannot open"));
  }
  STACK_OF(X509_INFO)* infos = PEM_X509_INFO_read_bio(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (infos == nullptr) return Error::invalid("not valid PEM: " + openssl_error());
  size_t count = 0;
  bool failed = false;
  for (int i = 0; i < sk_X509_INFO_num(infos); ++i) {
    X509* cert = sk_X509_INFO_value(infos, i)->x509;
    if (cert == nullptr) continue;  // a CRL or a key: not a trust anchor
    // A certificate already in the store is no error (OpenSSL 1.1.1+).
    if (X509_STORE_add_cert(store, cert) != 1) failed = true;
    ++count;
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  if (failed) return Error::invalid("a certificate could not be added: " + openssl_error());
  return count;
}

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

}  // namespace

TrustStoreSources system_defaults() {
  TrustStoreSources s;
  // libcurl's compiled-in defaults (Debian: the ca-certificates bundle and
  // folder), unless the OpenSSL variables that the curl tool also honours
  // name others.
  if (CURL* e = curl_easy_init()) {
    char* bundle = nullptr;
    char* folder = nullptr;
    if (curl_easy_getinfo(e, CURLINFO_CAINFO, &bundle) == CURLE_OK && bundle) s.system_bundle = bundle;
    if (curl_easy_getinfo(e, CURLINFO_CAPATH, &folder) == CURLE_OK && folder) s.system_folder = folder;
    curl_easy_cleanup(e);
  }
  s.system_bundle = env_or("SSL_CERT_FILE", s.system_bundle);
  s.system_folder = env_or("SSL_CERT_DIR", s.system_folder);
  return s;
}

Result<std::shared_ptr<const TrustStore>> TrustStore::load(const TrustStoreSources& sources) {
  std::shared_ptr<TrustStore> t(new TrustStore());
  t->sources_ = sources;
  t->store_ = X509_STORE_new();
  if (t->store_ == nullptr) return Error::internal("X509_STORE_new failed");

  const std::string& bundle = sources.system_bundle;
  std::error_code ec;
  if (bundle.empty()) {
    t->system_problem_ = "libcurl names no CA bundle";
  } else if (!std::filesystem::exists(bundle, ec)) {
    t->system_problem_ = "the CA bundle " + bundle + " does not exist";
  } else if (auto n = add_pem_file(t->store_, bundle); !n.ok()) {
    t->system_problem_ = "the CA bundle " + bundle + ": " + n.error().message;
  } else if (*n == 0) {
    t->system_problem_ = "the CA bundle " + bundle + " holds no certificate";
  } else {
    t->system_certificates_ = *n;
  }
  if (!t->system_problem_.empty()) t->system_problem_ += " (on Debian: apt-get install ca-certificates)";
  // The folder is searched by subject hash when a chain is verified (it
  // holds what the bundle holds on Debian, and certificates added by hand
  // with c_rehash).
  if (!sources.system_folder.empty() && std::filesystem::is_directory(sources.system_folder, ec)) {
    if (X509_STORE_load_path(t->store_, sources.system_folder.c_str()) != 1) ERR_clear_error();
  }

  if (!sources.extra_file.empty()) {
    auto n = add_pem_file(t->store_, sources.extra_file);
    if (!n.ok()) return Error::invalid("--tls-ca-file " + sources.extra_file + ": " + n.error().message);
    if (*n == 0)
      return Error::invalid("--tls-ca-file " + sources.extra_file +
                            ": no certificate in it; it must hold PEM blocks '-----BEGIN CERTIFICATE-----'");
    t->extra_certificates_ = *n;
  }
  // As libcurl sets its own store: issuers from the store first, and an
  // intermediate CA (or a receiver's own certificate) given as trusted is a
  // trust anchor by itself.
  X509_STORE_set_flags(t->store_, X509_V_FLAG_TRUSTED_FIRST | X509_V_FLAG_PARTIAL_CHAIN);
  return std::shared_ptr<const TrustStore>(std::move(t));
}

TrustStore::~TrustStore() { X509_STORE_free(store_); }

std::string TrustStore::summary() const {
  std::string s = "trusting " + std::to_string(system_certificates_) + " system CA certificates";
  if (system_problem_.empty()) s += " (" + sources_.system_bundle + ")";
  if (!sources_.extra_file.empty())
    s += " and " + std::to_string(extra_certificates_) + " of --tls-ca-file " + sources_.extra_file;
  return s;
}

}  // namespace growhook
