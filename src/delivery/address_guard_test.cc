// The address guard is a pure classifier: every address below is only a
// string handed to parse() and classify(); nothing is resolved or connected.
#include "delivery/address_guard.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/un.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace growhook {
namespace {

using C = AddressClass;

IpAddress ip(std::string_view text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

AddressGuard guard_allowing(std::string_view list) {
  auto ranges = parse_cidr_list(list);
  EXPECT_TRUE(ranges.ok()) << list << ": " << (ranges.ok() ? "" : ranges.error().message);
  return AddressGuard(ranges.ok() ? *ranges : std::vector<Cidr>{});
}

std::string error_of(std::string_view list) {
  auto r = parse_cidr_list(list);
  if (r.ok()) return "(accepted)";
  EXPECT_EQ(r.error().code, ErrorCode::kInvalid) << list;
  return r.error().message;
}

struct Case {
  const char* text;
  AddressClass cls;
};

// Every range of the header comment, with its edges where they matter.
const Case kCases[] = {
    // IPv4: this network, loopback, private.
    {"0.0.0.0", C::kUnspecified},
    {"0.1.2.3", C::kReserved},
    {"0.255.255.255", C::kReserved},
    {"127.0.0.1", C::kLoopback},
    {"127.255.255.254", C::kLoopback},
    {"10.0.0.1", C::kPrivate},
    {"10.255.255.255", C::kPrivate},
    {"172.16.0.1", C::kPrivate},
    {"172.31.255.255", C::kPrivate},
    {"172.15.255.255", C::kPublic},
    {"172.32.0.0", C::kPublic},
    {"192.168.0.1", C::kPrivate},
    {"192.169.0.1", C::kPublic},
    // Link-local, cloud metadata, carrier-grade NAT.
    {"169.254.0.1", C::kLinkLocal},
    {"169.254.169.253", C::kLinkLocal},
    {"169.254.169.254", C::kCloudMetadata},
    {"100.100.100.200", C::kCloudMetadata},
    {"100.64.0.1", C::kCarrierGradeNat},
    {"100.127.255.255", C::kCarrierGradeNat},
    {"100.63.255.255", C::kPublic},
    {"100.128.0.0", C::kPublic},
    // Multicast, future use, broadcast.
    {"224.0.0.1", C::kMulticast},
    {"239.255.255.255", C::kMulticast},
    {"240.0.0.1", C::kReserved},
    {"255.255.255.254", C::kReserved},
    {"255.255.255.255", C::kBroadcast},
    // Protocol assignments, documentation, benchmarking, 6to4 relay.
    {"192.0.0.1", C::kReserved},
    {"192.0.2.1", C::kReserved},
    {"198.51.100.1", C::kReserved},
    {"203.0.113.1", C::kReserved},
    {"198.18.0.1", C::kReserved},
    {"198.19.255.255", C::kReserved},
    {"198.20.0.0", C::kPublic},
    {"192.88.99.1", C::kReserved},
    // Public IPv4.
    {"8.8.8.8", C::kPublic},
    {"1.1.1.1", C::kPublic},
    {"223.255.255.255", C::kPublic},
    // IPv6 basics.
    {"::", C::kUnspecified},
    {"::1", C::kLoopback},
    {"fe80::1", C::kLinkLocal},
    {"febf:ffff::1", C::kLinkLocal},
    {"fec0::1", C::kPrivate},
    {"fc00::1", C::kPrivate},
    {"fd00::1", C::kPrivate},
    {"fd00:ec2::254", C::kCloudMetadata},
    {"fd00:ec2::253", C::kPrivate},
    {"ff02::1", C::kMulticast},
    {"ff05::1:3", C::kMulticast},
    {"2001:db8::1", C::kReserved},
    {"2001::1", C::kReserved},  // Teredo
    {"100::1", C::kReserved},
    {"3fff::1", C::kReserved},
    {"5f00::1", C::kReserved},
    // Outside 2000::/3, the global unicast space.
    {"1::1", C::kReserved},
    {"1fff:ffff::1", C::kReserved},
    {"4000::1", C::kReserved},
    {"e000::1", C::kReserved},
    {"::ffff:0:7f00:1", C::kReserved},    // SIIT ::ffff:0:0:0/96
    {"64:ff9b:1::a00:1", C::kReserved},  // local-use NAT64
    {"64:ff9b:1::808:808", C::kReserved},
    // IPv4-mapped: judged as IPv4.
    {"::ffff:127.0.0.1", C::kLoopback},
    {"::ffff:10.0.0.1", C::kPrivate},
    {"::ffff:169.254.169.254", C::kCloudMetadata},
    {"::ffff:0.0.0.0", C::kUnspecified},
    {"::ffff:8.8.8.8", C::kPublic},
    // IPv4-compatible (deprecated): judged by the embedded address.
    {"::127.0.0.1", C::kLoopback},
    {"::10.0.0.1", C::kPrivate},
    {"::0.0.0.2", C::kReserved},
    {"::8.8.8.8", C::kPublic},
    // NAT64 well-known prefix: judged by the embedded address.
    {"64:ff9b::a00:1", C::kPrivate},
    {"64:ff9b::7f00:1", C::kLoopback},
    {"64:ff9b::a9fe:a9fe", C::kCloudMetadata},
    {"64:ff9b::808:808", C::kPublic},
    // 6to4: judged by the embedded address.
    {"2002:7f00:1::", C::kLoopback},
    {"2002:a00:1::1", C::kPrivate},
    {"2002:a9fe:a9fe::", C::kCloudMetadata},
    {"2002:808:808::1", C::kPublic},
    // Public IPv6.
    {"2606:4700:4700::1111", C::kPublic},
    {"2001:4860:4860::8888", C::kPublic},
    {"2000::1", C::kPublic},
    {"3fff:1000::1", C::kPublic},
};

// ---------- classify and the default guard ----------

TEST(AddressGuard, ClassifiesEveryRange) {
  for (const auto& c : kCases) {
    EXPECT_EQ(to_string(classify(ip(c.text))), to_string(c.cls)) << c.text;
  }
}

TEST(AddressGuard, DefaultGuardPermitsExactlyThePublicAddresses) {
  const AddressGuard guard;
  for (const auto& c : kCases) {
    EXPECT_EQ(guard.permits(ip(c.text)), c.cls == C::kPublic) << c.text;
  }
}

// Bytes of an IPv6 form that embeds v4 (mapped, compatible, NAT64, 6to4).
std::vector<IpAddress> embeddings(const IpAddress& v4) {
  const uint8_t* q = v4.bytes.data() + 12;
  IpAddress mapped = v4, compatible, nat64, six_to_four;
  std::memcpy(compatible.bytes.data() + 12, q, 4);
  nat64.bytes = {0, 0x64, 0xff, 0x9b};
  std::memcpy(nat64.bytes.data() + 12, q, 4);
  six_to_four.bytes = {0x20, 0x02};
  std::memcpy(six_to_four.bytes.data() + 2, q, 4);
  return {mapped, compatible, nat64, six_to_four};
}

TEST(AddressGuard, EveryIpv6SpellingOfAnIpv4AddressIsJudgedAlike) {
  for (const char* text : {"127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
                           "224.0.0.1", "255.255.255.255", "0.1.2.3", "192.0.2.1", "8.8.8.8"}) {
    const IpAddress v4 = ip(text);
    for (const IpAddress& form : embeddings(v4)) {
      EXPECT_EQ(classify(form), classify(v4)) << text << " as " << form.to_string();
      EXPECT_EQ(AddressGuard().permits(form), AddressGuard().permits(v4)) << form.to_string();
    }
  }
}

// ---------- the allowlist ----------

TEST(AddressGuard, LoopbackAllowlistPermitsLoopbackOnly) {
  const AddressGuard guard = guard_allowing("127.0.0.0/8");
  EXPECT_TRUE(guard.permits(ip("127.0.0.1")));
  EXPECT_TRUE(guard.permits(ip("127.255.255.254")));
  EXPECT_TRUE(guard.permits(ip("::ffff:127.0.0.1")));
  EXPECT_FALSE(guard.permits(ip("10.0.0.1")));
  EXPECT_FALSE(guard.permits(ip("::ffff:10.0.0.1")));
  EXPECT_FALSE(guard.permits(ip("169.254.169.254")));
  EXPECT_FALSE(guard.permits(ip("::1")));  // IPv6 loopback is another range
  EXPECT_FALSE(guard.permits(ip("0.0.0.0")));
  EXPECT_TRUE(guard.permits(ip("8.8.8.8")));  // public stays permitted
}

TEST(AddressGuard, AnAllowedIpv4RangeOpensItsIpv6SpellingsToo) {
  const AddressGuard guard = guard_allowing("127.0.0.0/8");
  for (const char* text : {"::127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::"}) {
    EXPECT_TRUE(guard.permits(ip(text))) << text;
  }
  EXPECT_FALSE(guard.permits(ip("64:ff9b::a00:1")));
  EXPECT_FALSE(guard.permits(ip("2002:a00:1::")));
}

TEST(AddressGuard, Ipv6AllowlistEntries) {
  const AddressGuard guard = guard_allowing("::1/128, fd00::/8");
  EXPECT_TRUE(guard.permits(ip("::1")));
  EXPECT_TRUE(guard.permits(ip("fd12:3456::1")));
  EXPECT_TRUE(guard.permits(ip("fd00:ec2::254")));  // the operator opened it explicitly
  EXPECT_FALSE(guard.permits(ip("127.0.0.1")));
  EXPECT_FALSE(guard.permits(ip("fc00::1")));
  EXPECT_FALSE(guard.permits(ip("fe80::1")));
}

TEST(AddressGuard, WholeFamilyAllowlists) {
  const AddressGuard all_v4 = guard_allowing("0.0.0.0/0");
  EXPECT_TRUE(all_v4.permits(ip("10.0.0.1")));
  EXPECT_TRUE(all_v4.permits(ip("169.254.169.254")));
  EXPECT_FALSE(all_v4.permits(ip("::1")));
  EXPECT_FALSE(all_v4.permits(ip("fe80::1")));
  const AddressGuard everything = guard_allowing("::/0");
  for (const auto& c : kCases) EXPECT_TRUE(everything.permits(ip(c.text))) << c.text;
}

TEST(AddressGuard, KeepsItsAllowlist) {
  EXPECT_TRUE(AddressGuard().allowed().empty());
  EXPECT_EQ(guard_allowing("127.0.0.0/8,::1").allowed().size(), 2u);
}

// ---------- Cidr::parse ----------

TEST(Cidr, ParsesIpv4RangesOverTheMappedForm) {
  auto c = Cidr::parse("127.0.0.0/8");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->prefix_len, 104);
  EXPECT_EQ(c->network.to_string(), "127.0.0.0");
  EXPECT_EQ(Cidr::parse("10.1.2.3")->prefix_len, 128);
  EXPECT_EQ(Cidr::parse("10.0.0.0/32")->prefix_len, 128);
  EXPECT_EQ(Cidr::parse("0.0.0.0/0")->prefix_len, 96);
}

TEST(Cidr, ParsesIpv6Ranges) {
  EXPECT_EQ(Cidr::parse("::1/128")->prefix_len, 128);
  EXPECT_EQ(Cidr::parse("::1")->prefix_len, 128);
  EXPECT_EQ(Cidr::parse("[::1]/128")->prefix_len, 128);
  EXPECT_EQ(Cidr::parse("::/0")->prefix_len, 0);
  auto c = Cidr::parse("fe80::/10");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->prefix_len, 10);
  EXPECT_TRUE(c->contains(ip("fe80::1")));
  EXPECT_TRUE(c->contains(ip("febf:ffff::1")));
  EXPECT_FALSE(c->contains(ip("fec0::1")));
}

TEST(Cidr, AMappedRangeWrittenInIpv6CountsIpv6Bits) {
  auto c = Cidr::parse("::ffff:10.0.0.0/104");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->prefix_len, 104);
  EXPECT_EQ(c->network.bytes, Cidr::parse("10.0.0.0/8")->network.bytes);
  EXPECT_EQ(Cidr::parse("::ffff:127.0.0.1/128")->prefix_len, 128);
}

TEST(Cidr, ClearsHostBitsAndContainsItsNetwork) {
  auto c = Cidr::parse("10.1.2.3/8");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->network.to_string(), "10.0.0.0");
  EXPECT_TRUE(c->contains(c->network));
  EXPECT_TRUE(c->contains(ip("10.255.0.1")));
  EXPECT_FALSE(c->contains(ip("11.0.0.0")));
  EXPECT_EQ(Cidr::parse("2001:db8::ff/120")->network.to_string(), "2001:db8::");
  EXPECT_EQ(Cidr::parse("172.31.9.9/12")->network.to_string(), "172.16.0.0");
}

TEST(Cidr, RefusesMalformedRanges) {
  for (const char* text : {"", "/8", "garbage", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8",
                           "10.0.0.0/x", "10.0.0.0/ 8", "10.0.0.0/0008", "10.0.0/8", "127.1/8", "10.0.0.256/8",
                           "fe80::1%eth0/64", " 10.0.0.0/8", "10.0.0.0/8 ", "localhost/8"}) {
    EXPECT_FALSE(Cidr::parse(text)) << "'" << text << "'";
  }
}

// ---------- parse_cidr_list ----------

TEST(CidrList, ParsesCommaSeparatedRangesWithOptionalSpaces) {
  EXPECT_TRUE(parse_cidr_list("")->empty());
  EXPECT_EQ(parse_cidr_list("127.0.0.0/8")->size(), 1u);
  EXPECT_EQ(parse_cidr_list("127.0.0.0/8,::1/128")->size(), 2u);
  auto spaced = parse_cidr_list(" 127.0.0.0/8 ,\t::1/128 , 10.0.0.1 ");
  ASSERT_TRUE(spaced.ok()) << spaced.error().message;
  ASSERT_EQ(spaced->size(), 3u);
  EXPECT_EQ((*spaced)[0].prefix_len, 104);
  EXPECT_EQ((*spaced)[1].prefix_len, 128);
  EXPECT_EQ((*spaced)[2].network.to_string(), "10.0.0.1");
}

TEST(CidrList, ForgivesOneTrailingComma) {
  auto r = parse_cidr_list("127.0.0.0/8,");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->size(), 1u);
}

TEST(CidrList, RefusesEmptyEntriesNamingWhichOne) {
  EXPECT_NE(error_of(",127.0.0.0/8").find("entry 1 of the list of ranges is empty"), std::string::npos);
  EXPECT_NE(error_of("127.0.0.0/8,,::1").find("entry 2 of the list of ranges is empty"), std::string::npos);
  EXPECT_NE(error_of("127.0.0.0/8, ,::1").find("entry 2"), std::string::npos);
  EXPECT_NE(error_of("127.0.0.0/8,,").find("entry 2"), std::string::npos);
  EXPECT_NE(error_of(",").find("entry 1"), std::string::npos);
  EXPECT_NE(error_of("   ").find("entry 1"), std::string::npos);
  EXPECT_NE(error_of(",").find("separate ranges with single commas"), std::string::npos);
}

TEST(CidrList, PrefixTooLongSaysTheLimit) {
  const std::string v4 = error_of("127.0.0.0/8,10.0.0.0/33");
  EXPECT_NE(v4.find("'10.0.0.0/33'"), std::string::npos) << v4;
  EXPECT_NE(v4.find("from 0 to 32"), std::string::npos) << v4;
  const std::string v6 = error_of("::/129");
  EXPECT_NE(v6.find("'::/129'"), std::string::npos) << v6;
  EXPECT_NE(v6.find("from 0 to 128"), std::string::npos) << v6;
  EXPECT_NE(error_of("10.0.0.0/eight").find("prefix length"), std::string::npos);
}

TEST(CidrList, GarbageSaysWhatToWrite) {
  const std::string m = error_of("127.0.0.0/8,garbage");
  EXPECT_NE(m.find("'garbage' is not an address range"), std::string::npos) << m;
  EXPECT_NE(m.find("127.0.0.0/8 or ::1/128"), std::string::npos) << m;
  EXPECT_NE(error_of("localhost").find("'localhost' is not an IP address"), std::string::npos);
}

TEST(CidrList, LongGarbageIsCutShortInTheMessage) {
  const std::string m = error_of(std::string(500, 'x'));
  EXPECT_LT(m.size(), 300u) << m;
  EXPECT_NE(m.find("...'"), std::string::npos) << m;
}

// ---------- IpAddress ----------

TEST(IpAddress, ParsesBothFamiliesAndBrackets) {
  const IpAddress a = ip("1.2.3.4");
  EXPECT_TRUE(a.is_v4());
  const std::array<uint8_t, 16> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
  EXPECT_EQ(a.bytes, mapped);
  EXPECT_EQ(ip("::ffff:1.2.3.4").bytes, mapped);
  EXPECT_EQ(ip("[::1]").bytes, ip("::1").bytes);
  EXPECT_EQ(ip("[1.2.3.4]").bytes, mapped);
  EXPECT_FALSE(ip("::1").is_v4());
  EXPECT_FALSE(ip("::1.2.3.4").is_v4());  // compatible, not mapped
  EXPECT_FALSE(ip("64:ff9b::102:304").is_v4());
}

TEST(IpAddress, RefusesWhatIsNotOneLiteralAddress) {
  for (std::string text : {"", "[]", "[::1", "::1]", "127.1", "2130706433", "0x7f000001", "0177.0.0.1",
                           "127.000.000.001", "1.2.3.4.5", "256.0.0.1", " 1.2.3.4", "1.2.3.4 ", ":::", "1::2::3",
                           "gggg::1", "fe80::1%eth0", "localhost", "1.2.3.4/32"}) {
    EXPECT_FALSE(IpAddress::parse(text)) << "'" << text << "'";
  }
  EXPECT_FALSE(IpAddress::parse(std::string("127.0.0.1\0.evil.example", 23)));  // an embedded NUL
  EXPECT_FALSE(IpAddress::parse(std::string(46, '1')));
}

TEST(IpAddress, ToStringRoundTrips) {
  const std::pair<const char*, const char*> cases[] = {
      {"127.0.0.1", "127.0.0.1"},
      {"::ffff:127.0.0.1", "127.0.0.1"},
      {"::FFFF:7f00:1", "127.0.0.1"},
      {"::", "::"},
      {"::1", "::1"},
      {"FE80::1", "fe80::1"},
      {"2606:4700:4700:0:0:0:0:1111", "2606:4700:4700::1111"},
      {"[fd00:ec2::254]", "fd00:ec2::254"},
      {"64:ff9b::a00:1", "64:ff9b::a00:1"},
      {"255.255.255.255", "255.255.255.255"},
  };
  for (const auto& [in, out] : cases) {
    const IpAddress a = ip(in);
    EXPECT_EQ(a.to_string(), out) << in;
    EXPECT_EQ(ip(a.to_string()).bytes, a.bytes) << in;
  }
  for (const auto& c : kCases) EXPECT_EQ(ip(ip(c.text).to_string()).bytes, ip(c.text).bytes) << c.text;
}

// ---------- IpAddress::from_sockaddr (structs built by hand, no sockets) ----------

TEST(IpAddress, FromSockaddrIpv4) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(443);
  sin.sin_addr.s_addr = htonl(0x7f000001);
  auto a = IpAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&sin));
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(a->to_string(), "127.0.0.1");
  EXPECT_EQ(classify(*a), C::kLoopback);
}

TEST(IpAddress, FromSockaddrIpv6) {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(80);
  ASSERT_EQ(inet_pton(AF_INET6, "2606:4700:4700::1111", &sin6.sin6_addr), 1);
  auto a = IpAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&sin6));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->bytes, ip("2606:4700:4700::1111").bytes);
  EXPECT_EQ(classify(*a), C::kPublic);
}

TEST(IpAddress, FromSockaddrIpv4MappedIpv6IsIpv4) {
  sockaddr_storage ss{};
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  ASSERT_EQ(inet_pton(AF_INET6, "::ffff:10.0.0.1", &sin6->sin6_addr), 1);
  auto a = IpAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(a->to_string(), "10.0.0.1");
  EXPECT_FALSE(AddressGuard().permits(*a));
}

TEST(IpAddress, FromSockaddrRefusesOtherFamiliesAndNull) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  EXPECT_FALSE(IpAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&sun)));
  sockaddr_storage unspec{};
  unspec.ss_family = AF_UNSPEC;
  EXPECT_FALSE(IpAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&unspec)));
  EXPECT_FALSE(IpAddress::from_sockaddr(nullptr));
}

// ---------- names ----------

TEST(AddressClass, EveryClassHasItsOwnName) {
  std::set<std::string_view> names;
  for (C c : {C::kPublic, C::kLoopback, C::kPrivate, C::kLinkLocal, C::kCarrierGradeNat, C::kMulticast,
              C::kUnspecified, C::kBroadcast, C::kReserved, C::kCloudMetadata}) {
    EXPECT_FALSE(to_string(c).empty());
    names.insert(to_string(c));
  }
  EXPECT_EQ(names.size(), 10u);
  EXPECT_EQ(to_string(C::kLoopback), "loopback");
  EXPECT_EQ(to_string(C::kPublic), "public");
}

}  // namespace
}  // namespace growhook
