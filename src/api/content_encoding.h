// Request bodies that come compressed (Content-Encoding: gzip or deflate):
// which codings are understood, and inflating one within a size limit.
// Pure functions: the HTTP server calls them, the fuzzer too
// (fuzz/decode_fuzz.cc).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace growhook::api {

enum class ContentCoding { kIdentity, kGzip, kDeflate };

// Reads a Content-Encoding header: empty or "identity" is the body as
// sent; "gzip" (or "x-gzip") and "deflate", any case, with "identity"
// entries of a list ignored. Anything else, or two codings stacked, is an
// Error (kInvalid) whose message names what was sent and what is accepted.
Result<ContentCoding> parse_content_encoding(std::string_view header);

struct Decoded {
  enum class Kind { kOk, kTooLarge, kCorrupt };
  Kind kind = Kind::kOk;
  std::string body;   // the decompressed body (kOk)
  std::string error;  // what is wrong with the data (kCorrupt)
};

// Inflates a gzip or deflate body (deflate: the zlib format of RFC 9110, or
// raw deflate as some clients send it; gzip: one member or several in a
// row), by streaming: memory and work stop at max_bytes + 1 bytes of
// output, so a small body that would inflate to gigabytes costs no more
// than max_bytes (kTooLarge). Truncated or malformed data, or bytes after
// the end of the stream, is kCorrupt. An empty body decodes to empty.
Decoded decode_body(ContentCoding coding, std::string_view body, size_t max_bytes);

}  // namespace growhook::api
