#include "api/content_encoding.h"

#include <gtest/gtest.h>
#include <zlib.h>

namespace growhook::api {
namespace {

// Compresses with zlib: window_bits 16+15 gzip, 15 zlib, -15 raw deflate.
std::string compress(std::string_view in, int window_bits, int level = 6) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, in.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}
std::string gzip(std::string_view in) { return compress(in, 16 + 15); }

TEST(ContentEncoding, ParsesTheCodingsItDecodesAndNamesTheOthers) {
  EXPECT_EQ(*parse_content_encoding(""), ContentCoding::kIdentity);
  EXPECT_EQ(*parse_content_encoding("identity"), ContentCoding::kIdentity);
  EXPECT_EQ(*parse_content_encoding("gzip"), ContentCoding::kGzip);
  EXPECT_EQ(*parse_content_encoding(" GZip "), ContentCoding::kGzip);
  EXPECT_EQ(*parse_content_encoding("x-gzip"), ContentCoding::kGzip);
  EXPECT_EQ(*parse_content_encoding("deflate"), ContentCoding::kDeflate);
  EXPECT_EQ(*parse_content_encoding("identity, gzip"), ContentCoding::kGzip);
  for (const char* bad : {"br", "zstd", "compress", "gzip, gzip", "gzip, deflate", "gzip;q=1"}) {
    auto r = parse_content_encoding(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find(std::string("Content-Encoding '") + bad + "' is not supported"),
              std::string::npos)
        << r.error().message;
  }
}

TEST(ContentEncoding, InflatesGzipAndBothKindsOfDeflate) {
  const std::string body = R"({"events":[)" + std::string(50'000, ' ') + "]}";
  for (auto [coding, data] : {std::pair{ContentCoding::kGzip, gzip(body)},
                              std::pair{ContentCoding::kDeflate, compress(body, 15)},
                              std::pair{ContentCoding::kDeflate, compress(body, -15)}}) {
    Decoded d = decode_body(coding, data, 1 << 20);
    ASSERT_EQ(d.kind, Decoded::Kind::kOk) << d.error;
    EXPECT_EQ(d.body, body);
  }
  // Two gzip members in a row are one body (RFC 1952).
  Decoded two = decode_body(ContentCoding::kGzip, gzip("{\"a\":") + gzip("1}"), 1024);
  ASSERT_EQ(two.kind, Decoded::Kind::kOk) << two.error;
  EXPECT_EQ(two.body, "{\"a\":1}");
  EXPECT_EQ(decode_body(ContentCoding::kGzip, "", 10).kind, Decoded::Kind::kOk);
}

TEST(ContentEncoding, TheLimitHoldsForTheDecompressedSize) {
  const std::string exact(4096, 'x');
  Decoded at_limit = decode_body(ContentCoding::kGzip, gzip(exact), 4096);
  ASSERT_EQ(at_limit.kind, Decoded::Kind::kOk);
  EXPECT_EQ(at_limit.body.size(), 4096u);
  EXPECT_EQ(decode_body(ContentCoding::kGzip, gzip(exact + "x"), 4096).kind, Decoded::Kind::kTooLarge);
}

// The issue's bomb: 64 MiB of zeros in about 64 KiB (64 gzip members of
// 1 MiB each, cheaper to make than one stream); decoding stops at the limit
// instead of inflating all of it.
TEST(ContentEncoding, AGzipBombStopsAtTheLimit) {
  const std::string member = compress(std::string(1 << 20, '\0'), 16 + 15, 9);
  std::string bomb;
  for (int i = 0; i < 64; ++i) bomb += member;
  ASSERT_LT(bomb.size(), 100u << 10);
  Decoded d = decode_body(ContentCoding::kGzip, bomb, 4 << 20);
  EXPECT_EQ(d.kind, Decoded::Kind::kTooLarge);
  EXPECT_TRUE(d.body.empty());
}

TEST(ContentEncoding, CorruptTruncatedOrTrailingDataIsSaid) {
  const std::string good = gzip("{\"events\":[]}");
  Decoded garbage = decode_body(ContentCoding::kGzip, "not gzip at all", 1024);
  EXPECT_EQ(garbage.kind, Decoded::Kind::kCorrupt);
  EXPECT_NE(garbage.error.find("not valid gzip data"), std::string::npos) << garbage.error;
  Decoded truncated = decode_body(ContentCoding::kGzip, good.substr(0, good.size() - 6), 1024);
  EXPECT_EQ(truncated.kind, Decoded::Kind::kCorrupt);
  EXPECT_NE(truncated.error.find("ends early"), std::string::npos) << truncated.error;
  Decoded trailing = decode_body(ContentCoding::kGzip, good + "xyz", 1024);
  EXPECT_EQ(trailing.kind, Decoded::Kind::kCorrupt);
  EXPECT_NE(trailing.error.find("after the end"), std::string::npos) << trailing.error;
  EXPECT_EQ(decode_body(ContentCoding::kDeflate, "\x78\x9c garbage", 1024).kind, Decoded::Kind::kCorrupt);
}

}  // namespace
}  // namespace growhook::api
