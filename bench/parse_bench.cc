// Measures parse_ingest_body on 100-event bodies of realistic ~1.5 KB events
// with all 20 data set keys filled. Single thread; prints µs/event and
// events/s. Build and run from the repository root (optional argument: seconds):
//   g++ -std=c++20 -O2 -Isrc bench/parse_bench.cc src/domain/event.cc
//       src/domain/timestamp.cc src/common/ids.cc src/common/crypto.cc
//       -lsimdjson -lcrypto -o /tmp/parse_bench && /tmp/parse_bench 2
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "domain/event.h"

namespace {

// One event of about 1.5 KB: long referrer URL and path, as real sign-ups have.
std::string make_event(int i) {
  std::string n = std::to_string(i);
  std::string referrer = "https://www.google.com/search?q=promo%C3%A7%C3%A3o+t%C3%AAnis+corrida+" + n;
  while (referrer.size() < 480) referrer += "&utm_source=google&utm_medium=cpc&utm_campaign=black_friday_" + n;
  std::string path = "/lancamentos/colecao-verao-2024/tenis-corrida-masculino?cor=azul&tamanho=42";
  while (path.size() < 300) path += "&ref=home_banner_" + n;
  return R"({"id":"evt_018c2f6a9b10_)" + std::to_string(100000 + i) +
         R"(","type":"contact.subscribed","occurred_at":"2024-09-26T00:08:18.161Z","contact":{)"
         R"("msisdn":55119)" + std::to_string(10000000 + i) +
         R"(,"profileCreatedAt":"2022-11-24T09:59:41.163Z","source":"form","source_value":"1234",)"
         R"("eshop_opt_in":true,"last_eshop_opt_in_date":"2023-11-16T11:33:29.485Z",)"
         R"("ecom_email":"maria.souza.)" + n + R"(@gmail.com","ecom_signups_count":2,)"
         R"("ecom_device_type":"mobile","ecom_browser_name":"Chrome Mobile WebView",)"
         R"("ecom_locale":"pt-br","ecom_timezone":"UTC-03:00","ecom_os_name":"Android 14",)"
         R"("ecom_signup_domain":"www.websitedomain.com.br","ecom_signup_path":")" + path +
         R"(","ecom_signup_referrer_url":")" + referrer +
         R"(","last_order_date":"2024-09-26T00:08:18.161Z","ecom_total_order_count":6,)"
         R"("ecom_total_order_amount":83250,"last_click_date":"2023-10-03T07:58:18.893Z"}})";
}

}  // namespace

int main(int argc, char** argv) {
  const int kEventsPerBody = 100;
  const int kBodies = 16;  // rotate bodies so the branch predictor cannot memorise one
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  std::vector<std::string> bodies;
  size_t event_bytes = 0;
  for (int b = 0; b < kBodies; ++b) {
    std::string body = R"({"events":[)";
    for (int i = 0; i < kEventsPerBody; ++i) {
      std::string event = make_event(b * kEventsPerBody + i);
      event_bytes += event.size();
      body += (i ? "," : "") + event;
    }
    bodies.push_back(body + "]}");
  }
  if (!growhook::parse_ingest_body(bodies[0]).issues.empty()) {
    std::fprintf(stderr, "benchmark body is invalid: %s\n",
                 growhook::parse_ingest_body(bodies[0]).issues[0].message.c_str());
    return 1;
  }
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  long events = 0;
  size_t checksum = 0;
  double elapsed = 0;
  for (int round = 0; elapsed < seconds; ++round) {
    growhook::ParsedIngest parsed = growhook::parse_ingest_body(bodies[round % kBodies]);
    checksum += parsed.events.back().data_json.size();
    events += static_cast<long>(parsed.events.size());
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  std::printf("event size %.0f bytes, body %zu bytes, %ld events in %.2f s (checksum %zu)\n",
              static_cast<double>(event_bytes) / (kBodies * kEventsPerBody), bodies[0].size(), events,
              elapsed, checksum);
  std::printf("%.2f us/event, %.0f events/s (one thread)\n", elapsed * 1e6 / events, events / elapsed);
  return 0;
}
