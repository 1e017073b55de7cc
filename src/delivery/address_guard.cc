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

// Most specific first: the first match decides.
const std::vector<Range>& ranges() {
  static const std::vector<Range> r = {
      // IPv4 (stored IPv4-mapped, so prefixes are +96).
      {v4(169, 254, 169, 254), 128, AddressClass::kCloudMetadata},
      {v4(100, 100, 100, 200), 128, AddressClass::kCloudMetadata},  // Alibaba Cloud
      {v4(255, 255, 255, 255), 128, AddressClass::kBroadcast},
      {v4(0, 0, 0, 0), 96 + 8, AddressClass::kUnspecified},
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

// For IPv6 forms that embed an IPv4 address, the embedded address.
std::optional<IpAddress> embedded_v4(const IpAddress& a) {
  const Bytes& b = a.bytes;
  IpAddress out;
  auto take = [&](size_t at) {
    out.bytes = v4(b[at], b[at + 1], b[at + 2], b[at + 3]);
    return out;
  };
  bool zero80 = std::all_of(b.begin(), b.begin() + 10, [](uint8_t x) { return x == 0; });
  // ::a.b.c.d (IPv4-compatible, deprecated), but not :: and ::1.
  if (zero80 && b[10] == 0 && b[11] == 0 && !(b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] <= 1)) return take(12);
  if (prefix_match(b, v6({0x64, 0xff9b}), 96)) return take(12);      // NAT64 well-known
  if (prefix_match(b, v6({0x64, 0xff9b, 1}), 48)) return take(12);   // NAT64 local-use
  if (b[0] == 0x20 && b[1] == 0x02) return take(2);                  // 6to4
  return std::nullopt;
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
  if (text.empty() || text.size() > 45) return std::nullopt;
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
  auto slash = text.find('/');
  auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return std::nullopt;
  int max = ip->is_v4() ? 32 : 128;
  int len = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3) return std::nullopt;
    len = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return std::nullopt;
      len = len * 10 + (c - '0');
    }
    if (len > max) return std::nullopt;
  }
  Cidr c;
  c.network = *ip;
  c.prefix_len = ip->is_v4() ? 96 + len : len;
  return c;
}

Result<std::vector<Cidr>> parse_cidr_list(std::string_view text) {
  std::vector<Cidr> out;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) return Error::invalid("an empty entry in the list of ranges; write e.g. 127.0.0.0/8,::1/128");
    auto c = Cidr::parse(item);
    if (!c) {
      return Error::invalid("'" + std::string(item) +
                            "' is not an address range; write e.g. 127.0.0.0/8 or ::1/128 (prefix up to 32 for IPv4, "
                            "128 for IPv6)");
    }
    out.push_back(*c);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

AddressClass classify(const IpAddress& a) {
  if (!a.is_v4()) {
    if (auto inner = embedded_v4(a)) {
      AddressClass c = classify(*inner);
      // 6to4/NAT64 of a public IPv4 address is as public as the address.
      return c;
    }
  }
  for (const auto& r : ranges()) {
    if (prefix_match(a.bytes, r.net, r.prefix)) return r.cls;
  }
  return AddressClass::kPublic;
}

bool AddressGuard::permits(const IpAddress& a) const {
  for (const auto& c : allowed_) {
    if (c.contains(a)) return true;
  }
  if (!a.is_v4()) {
    if (auto inner = embedded_v4(a)) {
      for (const auto& c : allowed_) {
        if (c.contains(*inner)) return true;
      }
    }
  }
  return classify(a) == AddressClass::kPublic;
}

}  // namespace growhook
