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
// Rows read per page by `verify`.
inline constexpr size_t kVerifyPageRows = 4096;
// A JSON entry given to `paymentctl entry create`.
inline constexpr size_t kEntryJsonBytesMax = 1 << 20;
// How long a writer waits for another connection's write lock before kStoreBusy.
inline constexpr int64_t kStoreBusyTimeoutMsDefault = 5'000;
// WAL size that triggers a checkpoint. Larger than SQLite's default (1000 pages): random
// balance updates rewrite the same pages, and fewer checkpoints copy each of them fewer times.
inline constexpr int64_t kWalAutocheckpointPagesDefault = 10'000;
// Page cache of a store connection: the writer's, and the smaller one of a read connection
// (payment and balance reads touch few pages; a replay process holds both plus the issuer's).
inline constexpr int64_t kPageCacheKibDefault = 64 * 1024;
inline constexpr int64_t kReadPageCacheKib = 16 * 1024;
inline constexpr int64_t kIssuerPageCacheKib = 16 * 1024;  // the simulator beside the engine
// The issuer simulator's ledger holds an account per card: its cache is kept smaller.
inline constexpr size_t kIssuerCachedAccountsMax = 65'536;
// In-memory account cache of the ledger; cleared (not grown) when it reaches this size.
inline constexpr size_t kAccountCacheEntriesMax = 1'000'000;
// A PostgreSQL store's writer is behind store::BufferedStore: rows kept per hot table (records,
// idempotency records, entries, entry states) between transactions.
inline constexpr size_t kBufferedHotRows = 65'536;
// Rows of committed transactions kept per hot table of the engine's store (rail records,
// idempotency records; core/buffered_store.h), least recently used evicted first.
inline constexpr size_t kHotRowsDefault = 32'768;
// Expired holds released per write transaction by the expiry check.
inline constexpr size_t kExpirySweepPerTransactionMax = 1'000;
// Longest hold expiry accepted: 400 days.
// Velocity: rules per configuration file, its size, and (rule, key) states kept in memory.
inline constexpr size_t kVelocityRulesMax = 256;
inline constexpr size_t kConfigBytesMax = 1 << 20;
inline constexpr size_t kVelocityCacheEntriesMax = 4'000'000;
// The velocity log is folded into the per-key rows every this many transactions, or sooner once
// this many states wait in it (they are held in memory until then).
inline constexpr size_t kVelocityLogRowsMax = 64;
inline constexpr size_t kVelocityUnfoldedStatesMax = 65'536;
// Partitions (the books split by merchant over several databases; docs/scale-out.md). Every id
// names its partition: partition k's entries are numbered from k * kPartitionEntrySeqSpan + 1,
// and its payments' retrieval reference numbers (DE 37, twelve digits; payment ids are "pay_"
// and the RRN) start with k as two digits, the other ten counting its payments.
inline constexpr uint32_t kPartitionsMax = 100;
inline constexpr int64_t kPartitionEntrySeqSpan = 1'000'000'000'000;
inline constexpr int64_t kPartitionRrnSpan = 10'000'000'000;
// Card rails.
inline constexpr size_t kPaymentOperationsMax = 1'000;  // history entries of one payment
inline constexpr size_t kMerchantIdBytesMax = 48;        // m/<id>/available fits an account id
inline constexpr size_t kAdvicesPerRoundMax = 1'000;     // advices sent in one delivery round
inline constexpr size_t kPaymentSweepPerTransactionMax = 1'000;
inline constexpr size_t kPushNameBytesMax = 30;  // sender/recipient names and references
// Transaction files.
inline constexpr size_t kRecordBytesMax = 64 * 1024;          // one JSON line or binary record
inline constexpr size_t kReplayCacheEntriesMax = 50'000;      // payment keys remembered (LRU)
inline constexpr int64_t kHoldExpiryMsMax = 400LL * 24 * 3600 * 1000;

}  // namespace pay::limits
