// Fuzzes the address guard's parsers, and the webhook URL the way the API
// reads it (libcurl's URL parser for the host, then IpAddress::parse).
// Checks: a parsed address prints and parses back to the same bytes; a range
// contains its own network address; a list of ranges has one entry per
// comma; and the guard judges an IPv4 address and every IPv6 form that
// embeds it (mapped, compatible, NAT64, 6to4) alike, so no spelling of a
// refused IPv4 address slips through.
#include <curl/curl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "delivery/address_guard.h"
#include "fuzz_check.h"

namespace {

using growhook::AddressClass;
using growhook::AddressGuard;
using growhook::Cidr;
using growhook::IpAddress;

IpAddress v6_embedding(const IpAddress& v4, int form) {
  IpAddress a;
  const uint8_t* q = v4.bytes.data() + 12;
  switch (form) {
    case 0:  // ::a.b.c.d (compatible)
      for (int i = 0; i < 4; ++i) a.bytes[12 + i] = q[i];
      break;
    case 1:  // 64:ff9b::a.b.c.d (NAT64)
      a.bytes[1] = 0x64;
      a.bytes[2] = 0xff;
      a.bytes[3] = 0x9b;
      for (int i = 0; i < 4; ++i) a.bytes[12 + i] = q[i];
      break;
    default:  // 2002:aabb:ccdd:: (6to4)
      a.bytes[0] = 0x20;
      a.bytes[1] = 0x02;
      for (int i = 0; i < 4; ++i) a.bytes[2 + i] = q[i];
      break;
  }
  return a;
}

void check_address(const IpAddress& a) {
  const std::string printed = a.to_string();
  auto back = IpAddress::parse(printed);
  FUZZ_CHECK(back.has_value());
  FUZZ_CHECK(back->bytes == a.bytes);
  auto bracketed = IpAddress::parse("[" + printed + "]");
  FUZZ_CHECK(bracketed && bracketed->bytes == a.bytes);
  const AddressGuard guard;
  FUZZ_CHECK(guard.permits(a) == (growhook::classify(a) == AddressClass::kPublic));
  if (a.is_v4()) {
    const AddressClass cls = growhook::classify(a);
    for (int form = 0; form < 3; ++form) {
      const IpAddress embedded = v6_embedding(a, form);
      // ::0.0.0.0 and ::0.0.0.1 are :: and ::1, judged as themselves.
      const bool special = form == 0 && a.bytes[12] == 0 && a.bytes[13] == 0 && a.bytes[14] == 0 && a.bytes[15] <= 1;
      if (special) continue;
      if (cls != AddressClass::kPublic) FUZZ_CHECK(!guard.permits(embedded));
      // An allowlist entry for the IPv4 address opens its embedded forms too.
      Cidr only;
      only.network = a;
      only.prefix_len = 128;
      FUZZ_CHECK(AddressGuard({only}).permits(embedded));
    }
  }
}

void check_cidr(std::string_view text) {
  auto c = Cidr::parse(text);
  if (!c) return;
  FUZZ_CHECK(c->prefix_len >= 0 && c->prefix_len <= 128);
  if (c->network.is_v4()) FUZZ_CHECK(c->prefix_len >= 96);
  FUZZ_CHECK(c->contains(c->network));
}

void check_list(std::string_view text) {
  auto list = growhook::parse_cidr_list(text);
  if (!list.ok()) {
    FUZZ_CHECK(!list.error().message.empty());
    return;
  }
  size_t commas = 0;
  for (char ch : text) commas += ch == ',';
  // One range per comma-separated entry; a single trailing comma is forgiven
  // (as in --retry-delays), any other empty entry is refused.
  const size_t entries = text.empty() ? 0 : commas + 1 - (text.back() == ',' ? 1 : 0);
  FUZZ_CHECK(list->size() == entries);
  for (const Cidr& c : *list) FUZZ_CHECK(c.contains(c.network));
}

// As the API reads a webhook URL: the host out of libcurl's parser.
void check_url_host(std::string_view text) {
  if (text.size() > 2048) return;
  const std::string url = "http://" + std::string(text);
  if (url.find('\0') != std::string::npos) return;
  CURLU* h = curl_url();
  char* host = nullptr;
  if (curl_url_set(h, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK && host) {
    if (auto ip = IpAddress::parse(host)) check_address(*ip);
  }
  curl_free(host);
  curl_url_cleanup(h);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto a = IpAddress::parse(text)) check_address(*a);
  check_cidr(text);
  check_list(text);
  check_url_host(text);
  if (size == 16) {  // any 16 bytes are an address
    IpAddress a;
    for (size_t i = 0; i < 16; ++i) a.bytes[i] = data[i];
    check_address(a);
  }
  return 0;
}
