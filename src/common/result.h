// Results as values: expected failures cross module boundaries as an Error,
// never as an exception. "Not found" is its own code, distinct from failure.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace growhook {

enum class ErrorCode {
  kInvalid,      // the caller's input is wrong; the message says what to fix
  kNotFound,     // the thing does not exist (or belongs to someone else)
  kConflict,     // the request collides with existing state
  kTooLarge,     // a documented limit was exceeded
  kUnavailable,  // a temporary condition (disk full, database down); retry
  kInternal,     // a bug or an unexpected failure of a dependency
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  static Error invalid(std::string m) { return {ErrorCode::kInvalid, std::move(m)}; }
  static Error not_found(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
  static Error conflict(std::string m) { return {ErrorCode::kConflict, std::move(m)}; }
  static Error too_large(std::string m) { return {ErrorCode::kTooLarge, std::move(m)}; }
  static Error unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }
  static Error internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }
};

// A value or an Error. Cheap to move; check ok() before value().
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

}  // namespace growhook
