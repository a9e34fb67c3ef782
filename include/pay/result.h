#pragma once
// Errors are values. pay::Result<T> holds a T or an Error; its member names follow
// std::expected (has_value, operator*, value, error, value_or) so that the move to C++23 is a
// one-line alias. Error codes have stable numbers (docs/errors.md lists them all) grouped by what
// the caller should do next (see RetryAdvice).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace pay {

// Numbers never change once released; add new codes, never renumber. 1xxx: fix the input.
// 2xxx: refused by the state of the books; the same request will be refused again. 3xxx:
// transient; retrying the same request (same idempotency key) may succeed. 9xxx: internal.
enum class ErrorCode : int32_t {
  kInvalidArgument = 1001,
  kInvalidAmount = 1002,
  kInvalidCurrency = 1003,
  kAmountOverflow = 1004,
  kInvalidAccountId = 1005,
  kInvalidReference = 1006,
  kInvalidTime = 1007,
  kLimitExceeded = 1008,
  kUnbalancedEntry = 1009,
  kCurrencyMismatch = 1010,
  kTooFewPostings = 1011,
  kIdempotencyKeyReused = 1012,
  kInvalidIdempotencyKey = 1013,
  kInvalidConfig = 1014,
  kNotFound = 1015,
  kMethodNotAllowed = 1016,

  kUnknownAccount = 2001,
  kAccountExists = 2002,
  kReferenceReused = 2003,
  kOverdraft = 2004,
  kEntryNotFound = 2005,
  kNotPending = 2006,
  kHoldAlreadyResolved = 2007,
  kHoldExpired = 2008,
  kPostExceedsPending = 2009,
  kNotReversible = 2010,
  kAlreadyReversed = 2011,
  kPaymentNotFound = 2012,
  kIllegalTransition = 2013,
  kCaptureExceedsAuthorized = 2014,
  kRefundExceedsCaptured = 2015,
  kUnknownMerchant = 2016,
  kUnauthenticated = 2017,
  kForbidden = 2018,
  kCardDeclined = 2019,

  kStoreBusy = 3001,
  kStoreIo = 3002,
  kIdempotencyKeyInFlight = 3003,
  kVelocityLimited = 3004,
  kNetworkTimeout = 3005,
  kNetworkUnavailable = 3006,
  kPaymentInDoubt = 3007,
  kRateLimited = 3008,

  kInternal = 9001,
  kCorruptStore = 9002,
};

// What a caller may do after an error.
enum class RetryAdvice {
  kFixInput,      // the request is wrong; change it (a new idempotency key is not needed)
  kDoNotRetry,    // the books refuse it; the same request will be refused again
  kRetrySameKey,  // transient; nothing was written; retry with the same idempotency key
  kContactOperator,
};

// Stable snake_case name, e.g. "unbalanced_entry". Never empty.
std::string_view ErrorName(ErrorCode code);
std::string_view ErrorSummary(ErrorCode code);
RetryAdvice ErrorRetryAdvice(ErrorCode code);
// Every defined code, in numeric order (for docs and tests).
const ErrorCode* AllErrorCodes(size_t* count);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;  // human-readable; names the offending field first: "amount: ..."
  // Set by velocity refusals (and, later, network declines): the rule that refused, the ISO 8583
  // response code a card network would show (65 count, 61 amount), and how long until the same
  // request may pass (0: unknown or never).
  std::string rule;
  std::string response_code;
  int64_t retry_after_ms = 0;

  int32_t number() const { return static_cast<int32_t>(code); }
  std::string_view name() const { return ErrorName(code); }
};

inline Error MakeError(ErrorCode code, std::string message) {
  Error e;
  e.code = code;
  e.message = std::move(message);
  return e;
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(const T& value) : v_(value) {}
  Result(T&& value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}
  template <typename U, typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                                    !std::is_same_v<std::decay_t<U>, Error> &&
                                                    !std::is_same_v<std::decay_t<U>, Result>>>
  Result(U&& value) : v_(T(std::forward<U>(value))) {}

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }
  template <typename U>
  T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}
  bool has_value() const { return !error_.has_value(); }
  explicit operator bool() const { return has_value(); }
  void value() const {}
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace pay

// Returns the error of a Result expression from the enclosing function.
#define PAY_TRY(expr)                                       \
  do {                                                      \
    auto&& pay_try_result_ = (expr);                        \
    if (!pay_try_result_.has_value()) return pay_try_result_.error(); \
  } while (0)

#define PAY_CONCAT_INNER(a, b) a##b
#define PAY_CONCAT(a, b) PAY_CONCAT_INNER(a, b)
// PAY_ASSIGN_OR_RETURN(auto x, Foo()); declares x from the value or returns the error.
#define PAY_ASSIGN_OR_RETURN(decl, expr) \
  PAY_ASSIGN_OR_RETURN_IMPL(PAY_CONCAT(pay_result_, __LINE__), decl, expr)
#define PAY_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                               \
  if (!tmp.has_value()) return tmp.error();        \
  decl = std::move(tmp).value()
