#include <array>
#include <iterator>

#include "pay/result.h"

namespace pay {
namespace {

struct ErrorInfo {
  ErrorCode code;
  std::string_view name;
  std::string_view summary;
};

// One row per code, in numeric order. docs/errors.md mirrors this table (a test checks it).
constexpr ErrorInfo kErrors[] = {
    {ErrorCode::kInvalidArgument, "invalid_argument", "A field is missing, malformed or out of range."},
    {ErrorCode::kInvalidAmount, "invalid_amount", "An amount is not an exact decimal in the currency's minor units, or is zero or negative where a positive amount is required."},
    {ErrorCode::kInvalidCurrency, "invalid_currency", "Not an ISO 4217 alphabetic currency code."},
    {ErrorCode::kAmountOverflow, "amount_overflow", "An amount or a balance would leave the int64 range of minor units."},
    {ErrorCode::kInvalidAccountId, "invalid_account_id", "An account id is empty, too long or has characters outside printable ASCII."},
    {ErrorCode::kInvalidReference, "invalid_reference", "A reference is empty, too long or has characters outside printable ASCII."},
    {ErrorCode::kInvalidTime, "invalid_time", "A time or duration is malformed (RFC 3339 times; durations like 90s, 15m, 24h, 7d)."},
    {ErrorCode::kLimitExceeded, "limit_exceeded", "A bounded quantity (postings per entry, metadata size, batch size, ...) is over its limit."},
    {ErrorCode::kUnbalancedEntry, "unbalanced_entry", "Debits and credits of an entry differ in at least one currency."},
    {ErrorCode::kCurrencyMismatch, "currency_mismatch", "Amounts or accounts of different currencies were combined."},
    {ErrorCode::kTooFewPostings, "too_few_postings", "An entry needs at least one debit and one credit posting."},
    {ErrorCode::kIdempotencyKeyReused, "idempotency_key_reused", "The idempotency key was used before with a different request (HTTP 422); nothing moved. Send the original request, or use a new key."},
    {ErrorCode::kInvalidIdempotencyKey, "invalid_idempotency_key", "An idempotency key is missing, longer than 255 characters or not printable ASCII."},
    {ErrorCode::kInvalidConfig, "invalid_config", "A configuration file is malformed; the message names the file, the rule and the field."},
    {ErrorCode::kNotFound, "not_found", "No route serves this path, or no API key has this id (HTTP 404); nothing was read or written."},
    {ErrorCode::kMethodNotAllowed, "method_not_allowed", "The path exists but not for this method (HTTP 405, with `Allow` naming the methods it takes)."},
    {ErrorCode::kUnknownAccount, "unknown_account", "No account has this id."},
    {ErrorCode::kAccountExists, "account_exists", "An account with this id exists with other attributes."},
    {ErrorCode::kReferenceReused, "reference_reused", "The entry reference was used before for an entry with other content."},
    {ErrorCode::kOverdraft, "overdraft", "The entry would take an account with overdraft protection below its limit (pending debits count)."},
    {ErrorCode::kEntryNotFound, "entry_not_found", "No entry has this id."},
    {ErrorCode::kNotPending, "not_pending", "Only a pending (two-phase) entry can be posted, voided or expired."},
    {ErrorCode::kHoldAlreadyResolved, "hold_already_resolved", "The pending entry was already posted, voided or expired; a hold resolves at most once."},
    {ErrorCode::kHoldExpired, "hold_expired", "The pending entry reached its expiry; it was released and can never be posted."},
    {ErrorCode::kPostExceedsPending, "post_exceeds_pending", "A partial post asks for more than the pending amount, or partial posting is not possible for this entry."},
    {ErrorCode::kNotReversible, "not_reversible", "Only posted entries can be reversed (void a pending entry instead)."},
    {ErrorCode::kAlreadyReversed, "already_reversed", "The entry was already reversed."},
    {ErrorCode::kPaymentNotFound, "payment_not_found", "No payment has this id (for this merchant)."},
    {ErrorCode::kIllegalTransition, "illegal_transition", "The payment's status does not allow this operation (capture a declined payment, void a captured one, capture after expiry, ...); nothing moved."},
    {ErrorCode::kCaptureExceedsAuthorized, "capture_exceeds_authorized", "The capture asks for more than the payment still has authorized."},
    {ErrorCode::kRefundExceedsCaptured, "refund_exceeds_captured", "Refunds would total more than the captured amount."},
    {ErrorCode::kUnknownMerchant, "unknown_merchant", "No merchant has this id; create it with `paymentctl merchant create`."},
    {ErrorCode::kUnauthenticated, "unauthenticated", "The request carries no credential, or one the channel does not know (HTTP 401); nothing was read or written."},
    {ErrorCode::kForbidden, "forbidden", "The credential is valid but may not do this: another merchant's payments or accounts, or an admin-only operation (HTTP 403); nothing was read or written."},
    {ErrorCode::kCardDeclined, "card_declined", "The card network or the issuer declined the payment (HTTP 402 on the server, with the ISO 8583 response code, the decline code in words and the payment, which is recorded as declined). The same request will be declined again."},
    {ErrorCode::kStoreBusy, "store_busy", "The database is locked by another writer; nothing was written."},
    {ErrorCode::kStoreIo, "store_io", "The database failed to read or write; the transaction was rolled back."},
    {ErrorCode::kIdempotencyKeyInFlight, "idempotency_key_in_flight", "A request with this idempotency key is still being processed (HTTP 409); retry later with the same key."},
    {ErrorCode::kVelocityLimited, "velocity_limited", "A velocity rule refused the request before any money moved; nothing was consumed. The error names the rule, the ISO 8583 code (65 count, 61 amount) and when it may pass."},
    {ErrorCode::kNetworkTimeout, "network_timeout", "The card network did not answer in time; the engine reverses what may have been applied. Retry later with the same key."},
    {ErrorCode::kNetworkUnavailable, "network_unavailable", "The card network could not be reached (not connected or not configured); nothing was sent."},
    {ErrorCode::kPaymentInDoubt, "payment_in_doubt", "The payment's last network exchange has no answer yet (status unknown); its reversal or status inquiry must finish before another operation. Retry later."},
    {ErrorCode::kRateLimited, "rate_limited", "The credential sent more requests than its request rate allows (HTTP 429); nothing was read or written. Retry after the time the answer gives, with the same key."},
    {ErrorCode::kInternal, "internal", "A bug: an internal invariant did not hold."},
    {ErrorCode::kCorruptStore, "corrupt_store", "The database content is not what this version wrote (schema or encoding)."},
};

constexpr bool SortedByNumber() {
  for (size_t i = 1; i < std::size(kErrors); ++i) {
    if (!(kErrors[i - 1].code < kErrors[i].code)) return false;
  }
  return true;
}
static_assert(SortedByNumber(), "kErrors must be in numeric order");

const ErrorInfo* Find(ErrorCode code) {
  for (const ErrorInfo& e : kErrors) {
    if (e.code == code) return &e;
  }
  return nullptr;
}

}  // namespace

std::string_view ErrorName(ErrorCode code) {
  const ErrorInfo* e = Find(code);
  return e ? e->name : "unknown_error";
}

std::string_view ErrorSummary(ErrorCode code) {
  const ErrorInfo* e = Find(code);
  return e ? e->summary : "";
}

RetryAdvice ErrorRetryAdvice(ErrorCode code) {
  int32_t n = static_cast<int32_t>(code);
  if (n < 2000) return RetryAdvice::kFixInput;
  if (n < 3000) return RetryAdvice::kDoNotRetry;
  if (n < 9000) return RetryAdvice::kRetrySameKey;
  return RetryAdvice::kContactOperator;
}

const ErrorCode* AllErrorCodes(size_t* count) {
  static const auto codes = [] {
    std::array<ErrorCode, std::size(kErrors)> a{};
    for (size_t i = 0; i < a.size(); ++i) a[i] = kErrors[i].code;
    return a;
  }();
  *count = codes.size();
  return codes.data();
}

}  // namespace pay
