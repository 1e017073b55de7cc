// Fuzzes the decoding of compressed request bodies (api/content_encoding):
// the input, taken as a gzip body and as a deflate body, must decode within
// the limit or be refused as too large or corrupt, never more; taken as the
// original, it must survive compression by zlib and decoding unchanged, and
// one byte less of limit must make it too large. The first bytes also go
// through the Content-Encoding header parser.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/content_encoding.h"
#include "fuzz_check.h"

namespace {

using growhook::api::ContentCoding;
using growhook::api::Decoded;

constexpr size_t kLimit = 64 << 10;

std::string compress(std::string_view in, int window_bits) {
  z_stream z{};
  FUZZ_CHECK(deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, in.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  FUZZ_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void check_bounded(const Decoded& d, size_t limit) {
  switch (d.kind) {
    case Decoded::Kind::kOk: FUZZ_CHECK(d.body.size() <= limit); break;
    case Decoded::Kind::kTooLarge: FUZZ_CHECK(d.body.empty()); break;
    case Decoded::Kind::kCorrupt: FUZZ_CHECK(d.body.empty() && !d.error.empty()); break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // As compressed bodies, with a small limit (bombs stop there).
  for (auto coding : {ContentCoding::kGzip, ContentCoding::kDeflate}) check_bounded(decode_body(coding, in, kLimit), kLimit);
  // As the original: compressed and decoded back, gzip, zlib and raw deflate.
  for (auto [coding, bits] : {std::pair{ContentCoding::kGzip, 16 + 15}, std::pair{ContentCoding::kDeflate, 15},
                              std::pair{ContentCoding::kDeflate, -15}}) {
    std::string packed = compress(in, bits);
    Decoded back = decode_body(coding, packed, size);
    FUZZ_CHECK(back.kind == Decoded::Kind::kOk);
    FUZZ_CHECK(back.body == in);
    if (size > 0) FUZZ_CHECK(decode_body(coding, packed, size - 1).kind == Decoded::Kind::kTooLarge);
  }
  // The header parser: what it accepts is one of the codings it names.
  auto coding = growhook::api::parse_content_encoding(in.substr(0, 64));
  if (!coding.ok()) FUZZ_CHECK(!coding.error().message.empty());
  return 0;
}
