#include "delivery/trust_store.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <unistd.h>

#include <filesystem>

#include "support/test_certs.h"

namespace growhook {
namespace {

class TrustStoreTest : public ::testing::Test {
 protected:
  TrustStoreTest() {
    char tmpl[] = "/tmp/growhook-trust.XXXXXX";
    dir = mkdtemp(tmpl);
  }
  ~TrustStoreTest() override { std::filesystem::remove_all(dir); }
  std::string write(const std::string& name, const std::string& text) {
    test_certs::write_file(dir + "/" + name, text);
    return dir + "/" + name;
  }
  std::string dir;
};

// Whether store accepts a server certificate (chain only, no name check).
bool verifies(const TrustStore& store, const std::string& cert_pem) {
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store.x509_store(), cert, nullptr);
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_free(cert);
  return ok;
}

TEST_F(TrustStoreTest, TheExtraFileIsAddedToTheSystemBundle) {
  auto system_a = test_certs::make_ca("system A"), system_b = test_certs::make_ca("system B");
  auto internal = test_certs::make_ca("internal");
  TrustStoreSources s;
  s.system_bundle = write("bundle.crt", system_a.cert + system_b.cert);
  s.extra_file = write("internal.pem", internal.cert);
  auto store = TrustStore::load(s);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ((*store)->system_certificates(), 2u);
  EXPECT_EQ((*store)->extra_certificates(), 1u);
  EXPECT_EQ((*store)->system_problem(), "");
  EXPECT_TRUE(verifies(**store, test_certs::make_server({}, &system_b).cert));
  EXPECT_TRUE(verifies(**store, test_certs::make_server({}, &internal).cert));
  EXPECT_FALSE(verifies(**store, test_certs::make_server({}, nullptr).cert)) << "a self-signed certificate";
  EXPECT_NE((*store)->summary().find("2 system CA certificates"), std::string::npos) << (*store)->summary();
  EXPECT_NE((*store)->summary().find("1 of --tls-ca-file " + s.extra_file), std::string::npos);
}

TEST_F(TrustStoreTest, AMissingSystemBundleIsAProblemToTellNotAFailure) {
  auto internal = test_certs::make_ca("internal");
  TrustStoreSources s;
  s.system_bundle = dir + "/no-such-bundle.crt";
  s.system_folder = dir + "/no-such-folder";
  s.extra_file = write("internal.pem", internal.cert);
  auto store = TrustStore::load(s);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ((*store)->system_certificates(), 0u);
  EXPECT_NE((*store)->system_problem().find(s.system_bundle + " does not exist"), std::string::npos);
  EXPECT_NE((*store)->system_problem().find("apt-get install ca-certificates"), std::string::npos);
  EXPECT_TRUE(verifies(**store, test_certs::make_server({}, &internal).cert));

  s.system_bundle = write("empty.crt", "");
  auto empty = TrustStore::load(s);
  ASSERT_TRUE(empty.ok());
  EXPECT_NE((*empty)->system_problem().find("holds no certificate"), std::string::npos);
}

TEST_F(TrustStoreTest, ABrokenExtraFileIsAnErrorThatNamesIt) {
  TrustStoreSources s;
  s.extra_file = dir + "/missing.pem";
  auto missing = TrustStore::load(s);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "--tls-ca-file " + s.extra_file + ": cannot read it: No such file or directory");

  s.extra_file = write("key-only.pem", test_certs::make_ca("x").key);
  auto no_cert = TrustStore::load(s);
  ASSERT_FALSE(no_cert.ok());
  EXPECT_NE(no_cert.error().message.find("no certificate in it"), std::string::npos) << no_cert.error().message;

  s.extra_file = write("garbage.pem", "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n");
  auto garbage = TrustStore::load(s);
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("not valid PEM"), std::string::npos) << garbage.error().message;
}

TEST_F(TrustStoreTest, TheSystemDefaultsAreLibcurlsUnlessTheOpenSslVariablesSayOtherwise) {
  unsetenv("SSL_CERT_FILE");
  unsetenv("SSL_CERT_DIR");
  auto curl_defaults = system_defaults();
  EXPECT_FALSE(curl_defaults.system_bundle.empty()) << "this libcurl names no CA bundle";
  setenv("SSL_CERT_FILE", "/elsewhere/bundle.crt", 1);
  setenv("SSL_CERT_DIR", "/elsewhere/certs", 1);
  auto overridden = system_defaults();
  unsetenv("SSL_CERT_FILE");
  unsetenv("SSL_CERT_DIR");
  EXPECT_EQ(overridden.system_bundle, "/elsewhere/bundle.crt");
  EXPECT_EQ(overridden.system_folder, "/elsewhere/certs");
}

}  // namespace
}  // namespace growhook
