// Error values for expected failures: bad input, full queues, stopped services.
//
// `Error` is a code plus a message that names the thing and the place, e.g.
// `orders.yaml:12:7: spec "pricing": unknown kind "snipet"`. `Result<T>` is either a T or
// an Error (tl::expected, Debian's libexpected-dev); `Status` is `Result<void>`.
// Programmer errors are assertions, not Errors.
//
// Thread-safety: plain values; safe to move between threads.
#ifndef EPOS_CORE_STATUS_H_
#define EPOS_CORE_STATUS_H_

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace epos {

enum class ErrorCode : unsigned char {
  kInvalidArgument,   // bad input: spec, payload, wiring
  kNotFound,          // a named thing does not exist
  kBackpressure,      // a bounded queue is full; retry later
  kUnavailable,       // the service is stopping or stopped
  kDeadlineExceeded,  // a deadline passed
  kInternal,          // a broken invariant reported instead of crashing
};

std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

template <class T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> MakeError(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace epos

#endif  // EPOS_CORE_STATUS_H_
