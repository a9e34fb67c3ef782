#pragma once
// Every bound of the engine, in one place. Names carry their unit last.

#include <cstddef>
#include <cstdint>

namespace pay::limits {

inline constexpr size_t kAccountIdBytesMax = 64;
inline constexpr size_t kReferenceBytesMax = 255;
inline constexpr size_t kDescriptionBytesMax = 512;
inline constexpr size_t kMetadataPairsMax = 16;
inline constexpr size_t kMetadataKeyBytesMax = 64;
inline constexpr size_t kMetadataValueBytesMax = 256;
inline constexpr size_t kPostingsPerEntryMax = 64;
inline constexpr size_t kBatchEntriesMax = 100'000;
inline constexpr size_t kHistoryRowsMax = 10'000;
inline constexpr size_t kListRowsMax = 10'000;
// In-memory account cache of the ledger; cleared (not grown) when it reaches this size.
inline constexpr size_t kAccountCacheEntriesMax = 1'000'000;
// Expired holds released per write transaction by the expiry check.
inline constexpr size_t kExpirySweepPerTransactionMax = 1'000;
// Longest hold expiry accepted: 400 days.
inline constexpr int64_t kHoldExpiryMsMax = 400LL * 24 * 3600 * 1000;

}  // namespace pay::limits
