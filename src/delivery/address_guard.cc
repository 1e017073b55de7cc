#include "delivery/address_guard.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace growhook {
namespace {

using Bytes = std::array<uint8_t, 16>;

// A range over the 128-bit form.
struct Range {
  Bytes net;
  int prefix;
  AddressClass cls;
};

Bytes v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
}

// Leading 16-bit groups; the rest is zero.
Bytes v6(std::initializer_list<uint16_t> groups) {
  Bytes out{};
  size_t i = 0;
  for (uint16_t g : groups) {
    out[i++] = static_cast<uint8_t>(g >> 8);
    out[i++] = static_cast<uint8_t>(g & 0xff);
  }
  return out;
}

bool prefix_match(const Bytes& a, const Bytes& net, int prefix) {
  int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(a.data(), net.data(), static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[static_cast<size_t>(full)] & mask) == (net[static_cast<size_t>(full)] & mask);
}

// a with every bit after the first `prefix` cleared.
Bytes masked(const Bytes& a, int prefix) {
  Bytes out{};
  for (int i = 0; i < 16; ++i) {
    int bits = std::clamp(prefix - 8 * i, 0, 8);
    out[static_cast<size_t>(i)] = a[static_cast<size_t>(i)] & static_cast<uint8_t>(0xff00 >> bits);
  }
  return out;
}

// Most specific first: the first match decides.
const std::vector<Range>& ranges() {
  static const std::vector<Range> r = {
      // IPv4 (stored IPv4-mapped, so prefixes are +96).
      {v4(169, 254, 169, 254), 128, AddressClass::kCloudMetadata},
      {v4(100, 100, 100, 200), 128, AddressClass::kCloudMetadata},  // Alibaba Cloud
      {v4(255, 255, 255, 255), 128, AddressClass::kBroadcast},
      {v4(0, 0, 0, 0), 128, AddressClass::kUnspecified},
      {v4(0, 0, 0, 0), 96 + 8, AddressClass::kReserved},         // "this network"
      {v4(127, 0, 0, 0), 96 + 8, AddressClass::kLoopback},
      {v4(10, 0, 0, 0), 96 + 8, AddressClass::kPrivate},
      {v4(172, 16, 0, 0), 96 + 12, AddressClass::kPrivate},
      {v4(192, 168, 0, 0), 96 + 16, AddressClass::kPrivate},
      {v4(169, 254, 0, 0), 96 + 16, AddressClass::kLinkLocal},
      {v4(100, 64, 0, 0), 96 + 10, AddressClass::kCarrierGradeNat},
      {v4(224, 0, 0, 0), 96 + 4, AddressClass::kMulticast},
      {v4(192, 0, 0, 0), 96 + 24, AddressClass::kReserved},      // IETF protocol assignments
      {v4(192, 0, 2, 0), 96 + 24, AddressClass::kReserved},      // TEST-NET-1
      {v4(198, 51, 100, 0), 96 + 24, AddressClass::kReserved},   // TEST-NET-2
      {v4(203, 0, 113, 0), 96 + 24, AddressClass::kReserved},    // TEST-NET-3
      {v4(198, 18, 0, 0), 96 + 15, AddressClass::kReserved},     // benchmarking
      {v4(192, 88, 99, 0), 96 + 24, AddressClass::kReserved},    // 6to4 relay anycast
      {v4(240, 0, 0, 0), 96 + 4, AddressClass::kReserved},       // future use
      // IPv6.
      {v6({0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254}), 128, AddressClass::kCloudMetadata},
      {v6({0, 0, 0, 0, 0, 0, 0, 0}), 128, AddressClass::kUnspecified},
      {v6({0, 0, 0, 0, 0, 0, 0, 1}), 128, AddressClass::kLoopback},
      {v6({0xfe80}), 10, AddressClass::kLinkLocal},
      {v6({0xfec0}), 10, AddressClass::kPrivate},  // deprecated site-local
      {v6({0xfc00}), 7, AddressClass::kPrivate},
      {v6({0xff00}), 8, AddressClass::kMulticast},
      {v6({0x2001, 0xdb8}), 32, AddressClass::kReserved},      // documentation
      {v6({0x100}), 64, AddressClass::kReserved},              // discard-only
      {v6({0x2001, 0x0}), 23, AddressClass::kReserved},        // IETF protocol assignments (incl. Teredo)
      {v6({0x3fff}), 20, AddressClass::kReserved},             // documentation (RFC 9637)
      {v6({0x5f00}), 16, AddressClass::kReserved},             // SRv6 SIDs
  };
  return r;
}

// 2000::/3 is the only IPv6 space allocated for global unicast; everything
// outside it that no range above names is reserved by the IETF (for example
// 64:ff9b:1::/48, local-use NAT64, or ::ffff:0:0:0/96, SIIT).
bool global_unicast_v6(const Bytes& b) { return prefix_match(b, v6({0x2000}), 3); }

// For IPv6 forms that embed an IPv4 address, the embedded address. Only the
// forms whose embedding position is fixed; local-use NAT64 (64:ff9b:1::/48)
// places the IPv4 address according to a prefix length we cannot know, so it
// is judged as a range of its own (reserved).
std::optional<IpAddress> embedded_v4(const IpAddress& a) {
  const Bytes& b = a.bytes;
  IpAddress out;
  auto take = [&](size_t at) {
    out.bytes = v4(b[at], b[at + 1], b[at + 2], b[at + 3]);
    return out;
  };
  bool zero96 = std::all_of(b.begin(), b.begin() + 12, [](uint8_t x) { return x == 0; });
  // ::a.b.c.d (IPv4-compatible, deprecated), but not :: and ::1.
  if (zero96 && !(b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] <= 1)) return take(12);
  if (prefix_match(b, v6({0x64, 0xff9b}), 96)) return take(12);  // NAT64 well-known
  if (prefix_match(b, v6({0x2002}), 16)) return take(2);         // 6to4
  return std::nullopt;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Quoted for an error message, cut short so a pasted blob stays readable.
std::string quoted(std::string_view s) {
  constexpr size_t kMax = 60;
  return "'" + std::string(s.substr(0, kMax)) + (s.size() > kMax ? "...'" : "'");
}

// The decimal text after '/', if it is a number from 0 to max.
std::optional<int> parse_prefix_len(std::string_view p, int max) {
  if (p.empty() || p.size() > 3) return std::nullopt;
  int len = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return std::nullopt;
    len = len * 10 + (c - '0');
  }
  if (len > max) return std::nullopt;
  return len;
}

// Cidr::parse with a reason on failure, which names what to fix.
Result<Cidr> parse_range(std::string_view text) {
  auto slash = text.find('/');
  std::string_view addr = text.substr(0, slash);
  auto ip = IpAddress::parse(addr);
  if (!ip) {
    return Error::invalid(quoted(text) + " is not an address range: " + quoted(addr) +
                          " is not an IP address; write a range like 127.0.0.0/8 or ::1/128");
  }
  // The prefix counts bits of the family the text is written in, so
  // "::ffff:10.0.0.0/104" is as valid as "10.0.0.0/8".
  bool v6_text = addr.find(':') != std::string_view::npos;
  int max = v6_text ? 128 : 32;
  int len = max;
  if (slash != std::string_view::npos) {
    auto p = parse_prefix_len(text.substr(slash + 1), max);
    if (!p) {
      return Error::invalid(quoted(text) + " has a bad prefix length: after '/' write a number from 0 to " +
                            std::to_string(max) + (v6_text ? " (an IPv6 range)" : " (an IPv4 range)"));
    }
    len = *p;
  }
  Cidr c;
  c.prefix_len = v6_text ? len : 96 + len;
  c.network.bytes = masked(ip->bytes, c.prefix_len);
  return c;
}

}  // namespace

std::string_view to_string(AddressClass c) {
  switch (c) {
    case AddressClass::kPublic: return "public";
    case AddressClass::kLoopback: return "loopback";
    case AddressClass::kPrivate: return "private";
    case AddressClass::kLinkLocal: return "link-local";
    case AddressClass::kCarrierGradeNat: return "carrier-grade NAT";
    case AddressClass::kMulticast: return "multicast";
    case AddressClass::kUnspecified: return "unspecified";
    case AddressClass::kBroadcast: return "broadcast";
    case AddressClass::kReserved: return "reserved";
    case AddressClass::kCloudMetadata: return "cloud metadata";
  }
  return "reserved";
}

bool IpAddress::is_v4() const {
  static const Bytes mapped = v4(0, 0, 0, 0);
  return std::memcmp(bytes.data(), mapped.data(), 12) == 0;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  // inet_pton reads a C string: an embedded NUL would hide what follows it.
  if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos) return std::nullopt;
  std::string s(text);
  IpAddress a;
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    auto* p = reinterpret_cast<const uint8_t*>(&a4.s_addr);
    a.bytes = v4(p[0], p[1], p[2], p[3]);
    return a;
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    std::memcpy(a.bytes.data(), a6.s6_addr, 16);
    return a;
  }
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::from_sockaddr(const sockaddr* sa) {
  if (!sa) return std::nullopt;
  IpAddress a;
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    auto* p = reinterpret_cast<const uint8_t*>(&in->sin_addr.s_addr);
    a.bytes = v4(p[0], p[1], p[2], p[3]);
    return a;
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    std::memcpy(a.bytes.data(), in6->sin6_addr.s6_addr, 16);
    return a;
  }
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  if (is_v4()) {
    inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  }
  return buf;
}

bool Cidr::contains(const IpAddress& a) const { return prefix_match(a.bytes, network.bytes, prefix_len); }

std::optional<Cidr> Cidr::parse(std::string_view text) {
  auto c = parse_range(text);
  if (!c.ok()) return std::nullopt;
  return *c;
}

Result<std::vector<Cidr>> parse_cidr_list(std::string_view text) {
  std::vector<Cidr> out;
  // One trailing comma is forgiven (as in --retry-delays); any other empty
  // entry is refused, since it usually means a range went missing.
  for (size_t entry = 1; !text.empty(); ++entry) {
    auto comma = text.find(',');
    std::string_view item = trim(text.substr(0, comma));
    if (item.empty()) {
      return Error::invalid("entry " + std::to_string(entry) +
                            " of the list of ranges is empty; separate ranges with single commas, "
                            "like 127.0.0.0/8,::1/128");
    }
    auto c = parse_range(item);
    if (!c.ok()) return c.error();
    out.push_back(*c);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

AddressClass classify(const IpAddress& a) {
  // 6to4 or NAT64 of a public IPv4 address is as public as the address, and
  // of a refused one as refused.
  if (!a.is_v4()) {
    if (auto inner = embedded_v4(a)) return classify(*inner);
  }
  for (const auto& r : ranges()) {
    if (prefix_match(a.bytes, r.net, r.prefix)) return r.cls;
  }
  return a.is_v4() || global_unicast_v6(a.bytes) ? AddressClass::kPublic : AddressClass::kReserved;
}

bool AddressGuard::permits(const IpAddress& a) const {
  auto allowed = [&](const IpAddress& x) {
    return std::any_of(allowed_.begin(), allowed_.end(), [&](const Cidr& c) { return c.contains(x); });
  };
  if (allowed(a)) return true;
  // An allowed IPv4 range opens the IPv6 spellings of its addresses too, so
  // that the allowlist and the refusals judge the same address.
  if (!a.is_v4()) {
    if (auto inner = embedded_v4(a); inner && allowed(*inner)) return true;
  }
  return classify(a) == AddressClass::kPublic;
}

}  // namespace growhook
