#include "support/test_certs.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>

namespace test_certs {
namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test certificate: ") + what + " failed");
}

Key new_key() {
  Key k(EVP_EC_gen("P-256"));
  check(k != nullptr, "EC key generation");
  return k;
}

std::string pem_of(const std::function<int(BIO*)>& write) {
  Bio bio(BIO_new(BIO_s_mem()));
  check(bio && write(bio.get()) == 1, "PEM encoding");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Pem to_pem(X509* cert, EVP_PKEY* key) {
  return {pem_of([&](BIO* b) { return PEM_write_bio_X509(b, cert); }),
          pem_of([&](BIO* b) { return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); })};
}

Cert read_cert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert c(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  check(c != nullptr, "reading the issuer's certificate");
  return c;
}

Key read_key(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Key k(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  check(k != nullptr, "reading the issuer's key");
  return k;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  check(ext != nullptr, "making an extension");
  check(X509_add_ext(cert, ext, -1) == 1, "adding an extension");
  X509_EXTENSION_free(ext);
}

// A certificate for key, named cn, valid [now + from, now + to], issued by
// issuer (null: by itself, self-signed); sign() signs it.
Cert new_cert(EVP_PKEY* key, const std::string& cn, long from, long to, X509* issuer) {
  Cert c(X509_new());
  check(c != nullptr, "X509_new");
  X509_set_version(c.get(), 2);
  unsigned char serial[8];
  check(RAND_bytes(serial, sizeof serial) == 1, "random serial");
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), from);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), to);
  X509_set_pubkey(c.get(), key);
  X509_NAME* name = X509_get_subject_name(c.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(c.get(), issuer ? X509_get_subject_name(issuer) : name);
  return c;
}

void sign(X509* cert, EVP_PKEY* key) { check(X509_sign(cert, key, EVP_sha256()) > 0, "signing"); }

}  // namespace

Pem make_ca(const std::string& common_name) {
  Key key = new_key();
  Cert c = new_cert(key.get(), common_name, -3600, 365L * 86400, nullptr);
  add_extension(c.get(), c.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(c.get(), c.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(c.get(), c.get(), NID_subject_key_identifier, "hash");
  sign(c.get(), key.get());
  return to_pem(c.get(), key.get());
}

Pem make_server(const ServerSpec& spec, const Pem* issuer) {
  Key key = new_key();
  Cert issuer_cert = issuer ? read_cert(issuer->cert) : nullptr;
  Key issuer_key = issuer ? read_key(issuer->key) : nullptr;
  Cert c = new_cert(key.get(), spec.common_name, spec.not_before_s, spec.not_after_s, issuer_cert.get());
  X509* signer = issuer ? issuer_cert.get() : c.get();
  std::string names;
  for (const auto& d : spec.dns_names) names += (names.empty() ? "DNS:" : ",DNS:") + d;
  for (const auto& ip : spec.ip_addresses) names += (names.empty() ? "IP:" : ",IP:") + ip;
  add_extension(c.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
  add_extension(c.get(), signer, NID_key_usage, "critical,digitalSignature");
  add_extension(c.get(), signer, NID_ext_key_usage, "serverAuth");
  if (!names.empty()) add_extension(c.get(), signer, NID_subject_alt_name, names);
  add_extension(c.get(), signer, NID_subject_key_identifier, "hash");
  if (issuer) add_extension(c.get(), signer, NID_authority_key_identifier, "keyid:always");
  sign(c.get(), issuer ? issuer_key.get() : key.get());
  return to_pem(c.get(), key.get());
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace test_certs
