// The address guard: which destination addresses a webhook may connect to.
//
// By default only public unicast addresses are allowed. Refused: loopback,
// private (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10), CGNAT
// (100.64/10), multicast, unspecified, broadcast, "this network" 0/8,
// reserved and documentation ranges (192.0.0/24, 192.0.2/24, 198.18/15,
// 198.51.100/24, 203.0.113/24, 240/4, 2001:db8::/32, 100::/64, ...), IPv6
// outside 2000::/3 (the only global unicast space; this takes in local-use
// NAT64 64:ff9b:1::/48), cloud metadata addresses (169.254.169.254,
// 100.100.100.200, fd00:ec2::254), and IPv6 forms that embed an IPv4 address
// (::ffff:0:0/96 mapped, ::/96 compatible, 64:ff9b::/96 NAT64, 2002::/16
// 6to4), judged by the embedded IPv4 address.
// An operator's allowlist (--allow-targets) opens chosen ranges.
//
// Everything here is a pure function of its inputs: no DNS, no sockets.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace growhook {

enum class AddressClass {
  kPublic,
  kLoopback,
  kPrivate,
  kLinkLocal,
  kCarrierGradeNat,
  kMulticast,
  kUnspecified,
  kBroadcast,
  kReserved,       // this-network, documentation, benchmarking, future use, ...
  kCloudMetadata,
};
std::string_view to_string(AddressClass c);  // "public", "loopback", ...

// An address as 16 bytes; IPv4 is stored IPv4-mapped (::ffff:a.b.c.d).
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool is_v4() const;  // true for the ::ffff:0:0/96 form
  static std::optional<IpAddress> parse(std::string_view text);  // "1.2.3.4", "::1", "[::1]"
  static std::optional<IpAddress> from_sockaddr(const sockaddr* sa);
  std::string to_string() const;
};

struct Cidr {
  IpAddress network;
  int prefix_len = 0;  // over the 128-bit form; an IPv4 /8 is stored as /104
  bool contains(const IpAddress& a) const;
  // "127.0.0.0/8", "::1/128", "10.1.2.3" (a single address). The prefix
  // counts bits of the family the text is written in ("::ffff:10.0.0.0/104"
  // is "10.0.0.0/8"); host bits after the prefix are cleared in network.
  static std::optional<Cidr> parse(std::string_view text);
};

// Parses "127.0.0.0/8,::1/128" (commas, optional spaces). Empty text: empty
// list; one trailing comma is forgiven. Any other empty entry or bad range is
// an Error::invalid whose message names the entry and what to write instead.
Result<std::vector<Cidr>> parse_cidr_list(std::string_view text);

AddressClass classify(const IpAddress& a);

class AddressGuard {
 public:
  explicit AddressGuard(std::vector<Cidr> allowed = {}) : allowed_(std::move(allowed)) {}
  // True if a webhook may connect to a: a public address, or one inside an
  // allowed range. An IPv4-mapped IPv6 address is judged as its IPv4 form,
  // for both the classification and the allowlist.
  bool permits(const IpAddress& a) const;
  const std::vector<Cidr>& allowed() const { return allowed_; }

 private:
  std::vector<Cidr> allowed_;
};

}  // namespace growhook
