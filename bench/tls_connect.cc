// What a new TLS connection costs libcurl with its own CA loading, and with
// growhook's TrustStore (built once, handed to each connection in
// CURLOPT_SSL_CTX_FUNCTION, as curl_transport.cc does). Sequential POSTs,
// each on a fresh connection, to the benchmark receiver in --tls mode.
//
//   build/receiver --tls DIR &     (prints its port; writes DIR/ca.pem)
//   build/tls_connect URL DIR/ca.pem [COUNT=300]
//     → per connection: wall and CPU microseconds of this process, for
//       "curl CAINFO=system bundle + CA, CAPATH=/etc/ssl/certs" (what curl
//       does when told the CA that way on Debian, where libcurl's default
//       also has the folder), the same without the folder (then curl 7.87+
//       caches the store it parsed, for CURLOPT_CA_CACHE_TIMEOUT), and
//       "TrustStore".
#include <curl/curl.h>
#include <openssl/ssl.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "delivery/trust_store.h"

namespace {

size_t discard(char*, size_t s, size_t n, void*) { return s * n; }

double cpu_us() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

CURLcode use_store(CURL*, void* ctx, void* store) {
  auto* s = static_cast<X509_STORE*>(store);
  X509_STORE_up_ref(s);
  SSL_CTX_set_cert_store(static_cast<SSL_CTX*>(ctx), s);
  return CURLE_OK;
}

// COUNT POSTs on fresh connections; prints wall and CPU per connection.
void run(const char* label, const char* url, int count, const std::function<void(CURL*)>& setup) {
  CURL* e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, "{}");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);  // a full handshake each time
  setup(e);
  double cpu0 = cpu_us();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    CURLcode rc = curl_easy_perform(e);
    if (rc != CURLE_OK) {
      std::fprintf(stderr, "%s: %s\n", label, curl_easy_strerror(rc));
      std::exit(1);
    }
  }
  double wall = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%-60s %8.0f us wall, %8.0f us CPU a connection\n", label, wall / count, (cpu_us() - cpu0) / count);
  curl_easy_cleanup(e);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: tls_connect URL CA_FILE [COUNT]\n");
    return 2;
  }
  const char* url = argv[1];
  const std::string ca = argv[2];
  const int count = argc > 3 ? std::atoi(argv[3]) : 300;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  growhook::TrustStoreSources sources = growhook::system_defaults();
  sources.extra_file = ca;
  // curl's way: one bundle file with the system's CAs and the extra one.
  const std::string combined = ca + ".with-system.pem";
  {
    std::ifstream sys(sources.system_bundle), extra(ca);
    std::ofstream out(combined);
    out << sys.rdbuf() << extra.rdbuf();
  }
  run("curl: CAINFO=system bundle + CA, CAPATH=system folder", url, count, [&](CURL* e) {
    curl_easy_setopt(e, CURLOPT_CAINFO, combined.c_str());
    curl_easy_setopt(e, CURLOPT_CAPATH, sources.system_folder.c_str());
  });
  run("curl: CAINFO=system bundle + CA, no CAPATH (curl caches it)", url, count, [&](CURL* e) {
    curl_easy_setopt(e, CURLOPT_CAINFO, combined.c_str());
    curl_easy_setopt(e, CURLOPT_CAPATH, static_cast<char*>(nullptr));
  });
  auto store = growhook::TrustStore::load(sources);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    return 1;
  }
  std::printf("(TrustStore: %zu system + %zu extra certificates, loaded once)\n", (*store)->system_certificates(),
              (*store)->extra_certificates());
  run("growhook: TrustStore in CURLOPT_SSL_CTX_FUNCTION", url, count, [&](CURL* e) {
    curl_easy_setopt(e, CURLOPT_CAINFO, static_cast<char*>(nullptr));
    curl_easy_setopt(e, CURLOPT_CAPATH, static_cast<char*>(nullptr));
    curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, use_store);
    curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, static_cast<void*>((*store)->x509_store()));
  });
  return 0;
}
