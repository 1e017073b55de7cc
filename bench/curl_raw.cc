// The raw libcurl POST rate: the same client library growhook delivers with
// (libcurl multi, keep-alive), posting one body over and over with N
// requests in flight, and nothing else (no store, no signing). The
// baseline of bench/delivery_bench.py.
//
//   build/curl_raw URL BODY_FILE [IN_FLIGHT=64] [SECONDS=5] [CA_FILE] → "raw_curl_posts_per_s N"
//
// For an https:// URL, CA_FILE is the CA that signed the receiver's
// certificate (curl's own CA loading, from that file alone).
#include <curl/curl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {
size_t discard(char*, size_t s, size_t n, void*) { return s * n; }
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: curl_raw URL BODY_FILE [IN_FLIGHT] [SECONDS]\n");
    return 2;
  }
  std::ifstream f(argv[2]);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string body = ss.str();
  int in_flight = argc > 3 ? std::atoi(argv[3]) : 64;
  double seconds = argc > 4 ? std::atof(argv[4]) : 5;
  const char* ca_file = argc > 5 ? argv[5] : nullptr;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM* m = curl_multi_init();
  curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(in_flight));
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  auto add = [&](CURL* e) {
    curl_easy_setopt(e, CURLOPT_URL, argv[1]);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (ca_file) {
      curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
      curl_easy_setopt(e, CURLOPT_CAPATH, static_cast<char*>(nullptr));
    }
    curl_multi_add_handle(m, e);
  };
  for (int i = 0; i < in_flight; ++i) add(curl_easy_init());
  auto start = std::chrono::steady_clock::now();
  long done = 0;
  int running = 0;
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds) {
    curl_multi_perform(m, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(m, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* e = msg->easy_handle;
      if (msg->data.result != CURLE_OK) {
        std::fprintf(stderr, "curl_raw: %s\n", curl_easy_strerror(msg->data.result));
        return 1;
      }
      curl_multi_remove_handle(m, e);
      ++done;
      add(e);
    }
    curl_multi_poll(m, nullptr, 0, 100, nullptr);
  }
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("raw_curl_posts_per_s %.0f\n", static_cast<double>(done) / elapsed);
}
