// What sealing costs: SecretBox::seal and ::open of a signing secret
// (whsec_ + 32 bytes in base64) and of an auth JSON, timed on one thread.
// A store read of a webhook opens three values (auth, secret,
// previous_secret); a delivery turn of SQLite reads each webhook with work.
//
//   build/secret_box_bench [N=200000]  → "seal_ns X open_ns Y" per value
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/secret_box.h"

using namespace growhook;

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 200'000;
  auto box = SecretBox::from_keys(SecretBox::generate_key() + "," + SecretBox::generate_key());
  if (!box.ok()) return 1;
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", aad = "webhooks/wh_01a2323372f55b700dd87fd4502c/secret";
  using Clock = std::chrono::steady_clock;
  std::string sealed;
  size_t sink = 0;
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    sealed = box->seal(secret, aad);
    sink += sealed.size();
  }
  auto t1 = Clock::now();
  for (int i = 0; i < n; ++i) {
    auto plain = box->open(sealed, aad);
    if (!plain.ok()) return 1;
    sink += plain->size();
  }
  auto t2 = Clock::now();
  auto ns = [&](auto a, auto b) { return std::chrono::duration<double, std::nano>(b - a).count() / n; };
  std::printf("seal_ns %.0f open_ns %.0f (n=%d, %zu)\n", ns(t0, t1), ns(t1, t2), n, sink % 7);
  return 0;
}
