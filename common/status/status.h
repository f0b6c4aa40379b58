// Status and Result<T>: errors as values across module boundaries.
//
// We do not use std::expected: clang 14 with Debian 12's libstdc++ cannot compile it, and clang is
// the compiler we fuzz with and check -Wthread-safety with. Exceptions never cross a module
// boundary; code that calls a throwing library (yaml-cpp, protobuf JSON) catches at the edge and
// returns a Status.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace hw {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad input: a config value, a malformed message
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kUnavailable,  // a peer is down or busy; retrying later may succeed
  kDeadlineExceeded,
  kDataLoss,  // corruption detected (CRC mismatch, torn record)
  kInternal,
  kIoError,  // an operating-system call failed; the message carries the path and errno text
  kCancelled,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) {
    return {StatusCode::kAlreadyExists, std::move(msg)};
  }
  static Status FailedPrecondition(std::string msg) {
    return {StatusCode::kFailedPrecondition, std::move(msg)};
  }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status DeadlineExceeded(std::string msg) {
    return {StatusCode::kDeadlineExceeded, std::move(msg)};
  }
  static Status DataLoss(std::string msg) { return {StatusCode::kDataLoss, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  static Status Cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }
  // "<context>: <strerror(err)>", e.g. IoError("open /var/lib/x/00001.seg", errno).
  static Status IoError(std::string_view context, int err);

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "InvalidArgument: broker.yaml:3: broker.partitions: ..." ; "OK" when ok.
  std::string ToString() const;

  // Prefixes the message with more context, keeping the code: "loading spool: " + message.
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value)
      : data_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : data_(std::in_place_index<1>, std::move(status)) {  // NOLINT
    assert(!std::get<1>(data_).ok() && "a Result's error must not be OK");
    if (std::get<1>(data_).ok()) {
      data_.template emplace<1>(StatusCode::kInternal, "Result constructed from an OK status");
    }
  }

  bool ok() const { return data_.index() == 0; }
  // The error; OK when the Result holds a value. A reference, so `const auto& m =
  // r.status().message()` stays valid while r lives.
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(data_);
  }

  T& value() & {
    assert(ok());
    return std::get<0>(data_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(data_));
  }
  T value_or(T fallback) const { return ok() ? std::get<0>(data_) : std::move(fallback); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace hw

#define HW_STATUS_CONCAT_INNER(a, b) a##b
#define HW_STATUS_CONCAT(a, b) HW_STATUS_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when expr is not OK.
#define HW_RETURN_IF_ERROR(expr)                     \
  do {                                               \
    ::hw::Status hw_status_tmp_ = (expr);            \
    if (!hw_status_tmp_.ok()) return hw_status_tmp_; \
  } while (0)

// HW_ASSIGN_OR_RETURN(auto x, MakeX()); declares x from a Result or returns its Status.
#define HW_ASSIGN_OR_RETURN(decl, expr) \
  HW_ASSIGN_OR_RETURN_IMPL(HW_STATUS_CONCAT(hw_result_, __LINE__), decl, expr)
#define HW_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  decl = std::move(tmp).value()
