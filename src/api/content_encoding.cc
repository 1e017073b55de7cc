#include "api/content_encoding.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <optional>

namespace growhook::api {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// A zlib stream starts with CMF/FLG: deflate method, and a multiple of 31.
bool looks_like_zlib(std::string_view b) {
  if (b.size() < 2) return false;
  auto cmf = static_cast<unsigned char>(b[0]), flg = static_cast<unsigned char>(b[1]);
  return (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && (cmf * 256 + flg) % 31 == 0;
}

bool is_gzip_member(const unsigned char* p, size_t n) { return n >= 2 && p[0] == 0x1f && p[1] == 0x8b; }

Decoded corrupt(std::string error) { return {Decoded::Kind::kCorrupt, {}, std::move(error)}; }

}  // namespace

Result<ContentCoding> parse_content_encoding(std::string_view header) {
  ContentCoding coding = ContentCoding::kIdentity;
  std::string_view rest = header;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view name = trim(rest.substr(0, comma));
    if (!name.empty() && !iequals(name, "identity")) {
      std::optional<ContentCoding> c;
      if (iequals(name, "gzip") || iequals(name, "x-gzip")) c = ContentCoding::kGzip;
      if (iequals(name, "deflate")) c = ContentCoding::kDeflate;
      if (!c || coding != ContentCoding::kIdentity) {
        return Error::invalid("Content-Encoding '" + std::string(trim(header)) +
                              "' is not supported; send the body as it is, or compressed once with gzip or deflate");
      }
      coding = *c;
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return coding;
}

Decoded decode_body(ContentCoding coding, std::string_view body, size_t max_bytes) {
  if (coding == ContentCoding::kIdentity) return {Decoded::Kind::kOk, std::string(body), {}};
  if (body.empty()) return {};
  const char* name = coding == ContentCoding::kGzip ? "gzip" : "deflate";
  if (body.size() > UINT_MAX) return corrupt(std::string("the ") + name + " body is too large to decode");
  const int window_bits = coding == ContentCoding::kGzip ? 16 + MAX_WBITS : looks_like_zlib(body) ? MAX_WBITS : -MAX_WBITS;
  z_stream z{};
  if (inflateInit2(&z, window_bits) != Z_OK) return corrupt("zlib could not start");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  z.avail_in = static_cast<uInt>(body.size());
  const size_t cap = max_bytes + 1;  // one byte over the limit tells "too large"
  Decoded out;
  for (;;) {
    size_t had = out.body.size();
    // Room to grow by as much as there is (at least 64 KiB), never past cap.
    size_t room = std::min(cap - had, std::max<size_t>(had, 64 << 10));
    out.body.resize(had + room);
    z.next_out = reinterpret_cast<Bytef*>(out.body.data() + had);
    z.avail_out = static_cast<uInt>(room);
    int rc = inflate(&z, Z_NO_FLUSH);
    out.body.resize(had + room - z.avail_out);
    if (out.body.size() > max_bytes) {
      out = {Decoded::Kind::kTooLarge, {}, {}};
      break;
    }
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      // Another gzip member follows (RFC 1952 allows several in a row).
      if (coding == ContentCoding::kGzip && is_gzip_member(z.next_in, z.avail_in) && inflateReset(&z) == Z_OK) continue;
      out = corrupt(std::string("data after the end of the ") + name + " stream");
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      out = corrupt(std::string("not valid ") + name + " data" + (z.msg ? std::string(": ") + z.msg : ""));
      break;
    }
    if (z.avail_in == 0 && z.avail_out != 0) {
      out = corrupt(std::string("the ") + name + " data ends early (truncated)");
      break;
    }
  }
  inflateEnd(&z);
  return out;
}

}  // namespace growhook::api
