#pragma once
// The engine: the one entry point to money. Every channel (paymentctl, an embedding merchant
// backend, the network server, transaction-file replay) builds a Command and submits it here.
//
// The pipeline is fixed (docs/engine.md):
//   validate -> idempotency claim -> velocity check -> rail -> ledger -> commit
// and the commit writes the ledger rows, the idempotency record and the velocity counters in one
// store transaction, so a crash never leaves money moved without its key, or the reverse.
//
// Outcomes versus errors:
// - Result<Outcome> holds an Outcome when the command executed: it succeeded, or the books
//   declined it (Outcome::declined). Both are stored under the idempotency key; a retry with the
//   same key and the same request returns the same Outcome::body bytes with replayed = true.
// - Result<Outcome> holds an Error when nothing executed: invalid input, an idempotency conflict
//   (kIdempotencyKeyReused, kIdempotencyKeyInFlight), a velocity refusal (kVelocityLimited) or a
//   transient store failure. None of these is stored; the client may fix the request and retry
//   with the same key.
//
// Threading: Submit and SubmitBatch may be called from any thread; writers are serialised
// inside the engine (SQLite has one writer). Reads may be called from any thread too; the reads
// of accounts, entries, history, verify, payments and merchants use a connection of their own
// (opened by the engine with SQLite, or EngineOptions::read_store), so they see what is
// committed and never wait behind a batch or its network exchange.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include "pay/card_network.h"
#include "pay/clock.h"
#include "pay/events.h"
#include "pay/payments.h"
#include "pay/result.h"
#include "pay/types.h"

namespace pay {

namespace store {
class Store;  // core/store.h: the storage interface
}

// Numbers are stored with idempotency records and velocity rules: never renumber.
enum class Operation : uint8_t {
  kCreateAccount = 1,
  kTransfer = 2,
  kPostPending = 3,
  kVoidPending = 4,
  kReverse = 5,
  kCreateMerchant = 6,
  kAuthorize = 7,
  kIncrement = 8,
  kCapture = 9,
  kVoidPayment = 10,
  kRefund = 11,
  kFund = 12,
  kPush = 13,
  kP2p = 14,
};
// "create_account", "transfer", "post", "void", "reverse", "create_merchant", "authorize",
// "increment", "capture", "void_payment", "refund", "fund", "push", "p2p"
std::string_view OperationName(Operation op);
Result<Operation> ParseOperation(std::string_view name, std::string_view field = "operation");

enum class Channel : uint8_t { kLibrary = 1, kCli = 2, kServer = 3, kReplay = 4, kMcp = 5 };
std::string_view ChannelName(Channel channel);  // "library", "cli", "server", "replay", "mcp"
Result<Channel> ParseChannel(std::string_view name, std::string_view field = "channel");

struct CreateAccountRequest {
  ledger::AccountSpec account;
};
// A ledger entry (two or more postings). entry.ref may be empty: the engine then derives the
// ledger reference from the idempotency scope and key.
struct TransferRequest {
  ledger::EntrySpec entry;
};
struct PostRequest {
  int64_t entry_id = 0;
  std::optional<int64_t> amount_minor;  // partial post; empty: in full
};
struct VoidRequest {
  int64_t entry_id = 0;
};
struct ReverseRequest {
  int64_t entry_id = 0;
  std::string description;
  std::string ref;  // ledger reference of the reversal; empty: derived from scope and key
};
// A merchant of the card rails: its ledger accounts (m/<id>/pending, m/<id>/available) in one
// currency, and its settlement fee (basis points of the net settled, plus a fixed amount per
// payment). docs/ledger-accounts.md has the chart.
struct CreateMerchantRequest {
  std::string id;
  std::string currency;
  int32_t fee_bps = 0;
  int64_t fee_fixed_minor = 0;
};
// The card as entered. The engine keeps only its fingerprint, BIN and last four; the CVV goes to
// the network and nowhere else.
struct CardInput {
  std::string pan;
  std::string expiry;  // MM/YY
  std::string cvv;     // optional
};
// Card pull payments (rails/pull). Command::merchant names the merchant.
struct AuthorizeRequest {
  CardInput card;
  int64_t amount_minor = 0;
  std::string currency;
  PaymentNotes notes;
};
struct IncrementRequest {  // incremental authorization: the hold grows by amount_minor
  std::string payment_id;
  int64_t amount_minor = 0;
};
struct CaptureRequest {
  std::string payment_id;
  std::optional<int64_t> amount_minor;  // empty: all that is still authorized
  bool final = false;                   // release what stays authorized after this capture
};
struct VoidPaymentRequest {
  std::string payment_id;
};
struct RefundRequest {
  std::string payment_id;
  std::optional<int64_t> amount_minor;  // empty: all that is captured and not yet refunded
};
// Push payments (rails/push). Command::merchant names the merchant.
// Prefunding of the merchant's disbursement balance (m/<id>/disbursement): a ledger top-up from
// the merchant's bank, or with `card`, an AFT pulled from that card through the network.
struct FundRequest {
  int64_t amount_minor = 0;
  std::string currency;
  std::optional<CardInput> card;
};
// A disbursement (OCT) to a recipient card out of the merchant's prefunded balance. `purpose` is
// the business application identifier (AA, PP, FD, WT, ...). Names: 1-30 printable ASCII
// characters without '|'.
struct PushRequest {
  CardInput recipient_card;  // the expiry and CVV are not needed for a push
  int64_t amount_minor = 0;
  std::string currency;
  std::string purpose;
  std::string sender_name;
  std::string sender_reference;
  std::string recipient_name;
  PaymentNotes notes;
};
// Person to person: an AFT from the sender's card, then an OCT to the recipient's card; if the
// OCT is declined the AFT is reversed.
struct P2pRequest {
  CardInput sender_card;
  CardInput recipient_card;
  int64_t amount_minor = 0;
  std::string currency;
  std::string sender_name;
  std::string recipient_name;
  PaymentNotes notes;
};
using Request = std::variant<CreateAccountRequest, TransferRequest, PostRequest, VoidRequest,
                             ReverseRequest, CreateMerchantRequest, AuthorizeRequest,
                             IncrementRequest, CaptureRequest, VoidPaymentRequest, RefundRequest,
                             FundRequest, PushRequest, P2pRequest>;

// Who is asking, as far as the channel knows. Used by velocity rules, never by fingerprints.
struct ClientInfo {
  std::string ip;
  std::string credential;  // API credential id (never the secret)
};

struct Command {
  // Idempotency scope: the merchant; when empty, the API credential; when both are empty,
  // "default".
  std::string merchant;
  std::string idempotency_key;  // 1-255 printable ASCII characters; required
  Channel channel = Channel::kLibrary;
  ClientInfo client;
  // Event time for replayed traffic (velocity windows and key retention use it); 0: the engine
  // clock.
  int64_t event_time_ms = 0;
  Request request;
};
Operation OperationOf(const Request& request);

struct Outcome {
  Operation operation = Operation::kTransfer;
  bool declined = false;  // executed and refused by the books; `decline` says why
  Error decline;
  std::string body;  // canonical JSON of the result; the same bytes on every replay
  bool replayed = false;
  int64_t entry_id = 0;  // the ledger entry the command wrote; 0 if none
  // Card rails: the payment the command created or acted on, its status ("authorized",
  // "declined", ...) and the network's response code. A network decline is not `declined`
  // (that flag is for the books' refusals): it is a payment whose status is "declined".
  std::string payment_id;
  std::string payment_status;
  std::string response_code;
};

enum class Durability { kFull, kNormal };

struct EngineOptions {
  // The store the engine keeps everything in (core/store.h), shared with nobody else while the
  // engine writes. nullptr: the engine opens the store db_path names (created when
  // create_if_missing, with the given durability): a SQLite file, or a PostgreSQL database by
  // its libpq connection string (`postgresql://...`, `host=... dbname=...`). A store whose statements are round trips
  // goes behind store::BufferedStore (core/buffered_store.h): each transaction's rows applied
  // once at commit, hot rows read from memory. The SQLite store is used directly: it writes
  // no row twice in a transaction, and its point reads cost less than the buffering.
  std::shared_ptr<store::Store> store;
  // With `store`: another connection to the same database for reads (they then never wait
  // behind a batch); nullptr: reads use `store` under the writer's lock. When the engine opens
  // the store itself it opens this connection too.
  std::shared_ptr<store::Store> read_store;
  std::string db_path = "paymentctl.db";
  // A streaming replica of db_path (a PostgreSQL connection string) for the reads of accounts,
  // entries, history, payments and merchants. Read-your-writes for every caller: a read first
  // asks the primary for its WAL position (every commit acknowledged so far is at or before it)
  // and runs on the replica once it has replayed that far, or on the primary after
  // replica_wait_ms. Empty: reads run on the primary.
  std::string replica_db_path;
  int64_t replica_wait_ms = 50;
  bool create_if_missing = false;
  Durability durability = Durability::kFull;
  // The clock the engine reads; must outlive the engine. nullptr: the system clock.
  const Clock* clock = nullptr;
  int64_t idempotency_retention_ms = 24LL * 3600 * 1000;
  // How long events are kept (include/pay/events.h; PurgeEvents removes older ones); 0: forever.
  int64_t event_retention_ms = 30LL * 24 * 3600 * 1000;
  // Velocity rules (TOML, docs/examples/velocity.toml). Empty: no rules.
  std::string velocity_config_path;
  // Off only for measurements (tests/bench): no idempotency records, no velocity checks.
  bool guards_enabled = true;

  // Card rails. The network the engine talks to (must outlive the engine); nullptr: card
  // operations fail with kNetworkUnavailable.
  CardNetwork* card_network = nullptr;
  // Key of the card fingerprints (HMAC-SHA256), at least 16 bytes; required for authorizations.
  std::string card_fingerprint_key;
  // How long an authorization may be captured before it expires (by the engine clock).
  int64_t authorization_validity_ms = 7LL * 24 * 3600 * 1000;
  // Delivery rounds for queued network advices (reversals, captures, refunds) per batch; what is
  // still unacknowledged stays queued for the next batch or ResolvePending().
  int network_rounds_max = 3;
  // At start-up (and in ResolvePending), an authorization or increment whose exchange has been
  // open at least this long (by the engine clock) is given up: unknown, reversal queued. A
  // younger one may belong to another process still waiting for its answer.
  int64_t exchange_grace_ms = 60'000;
  // A size quota: the database may not grow past this many pages (0: none). A write that needs
  // more fails (kStoreIo, retry with the same key) and leaves the books as they were, as on a
  // full disk.
  int64_t max_db_pages = 0;
  // Queued advices (captures, refunds, reversals) delivered by a thread of the engine instead of
  // at the end of SubmitBatch, so that no answer waits for them (paymentd). The thread also
  // retries every `advice_retry_ms` (real time) and gives up exchanges left open past
  // exchange_grace_ms, as ResolvePending does. Off: SubmitBatch delivers before it returns
  // (the CLI, replay, tests: deterministic).
  bool background_advices = false;
  int64_t advice_retry_ms = 1'000;

  // Partitions (docs/scale-out.md): the books split by merchant over several databases, one
  // writer lock, entry sequence and audit chain each. partition_db_paths[k] is partition k's
  // database (created when create_if_missing); two or more open a partitioned engine that
  // routes each command by its merchant (MerchantPartition), a payment by its id and an entry
  // by its number; db_path, store, read_store and replica_db_path are then not used. Every
  // database records its place ("partition k of N") when created and is refused under another.
  std::vector<std::string> partition_db_paths;
  // One card network per partition (a network matches answers by STAN, and every partition
  // numbers its own). Empty: card_network serves them all, one exchange at a time.
  std::vector<CardNetwork*> partition_card_networks;
  // This engine's place in a partitioned set (the partitioned engine sets them for each
  // partition it opens; 0 of 1: not partitioned).
  uint32_t partition = 0;
  uint32_t partitions = 1;
};

// The partition of a merchant among `partitions`: FNV-1a (64 bits) of its id, modulo. Fixed
// forever: a merchant's books stay where it was created.
uint32_t MerchantPartition(std::string_view merchant, uint32_t partitions);

// One window of one velocity rule for one key, as `velocity status` shows it.
struct VelocityWindowStatus {
  std::string rule;
  std::string key;
  std::string algorithm;
  int64_t window_ms = 0;
  int64_t limit = 0;
  int64_t used = 0;
  int64_t remaining = 0;
  int64_t retry_after_ms = 0;  // for one more unit
  bool shadow = false;
};

class Engine {
 public:
  // Opens the store (creating it when asked), loads the velocity rules, and resolves any
  // idempotency record a crash left in flight before returning.
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& options);
  virtual ~Engine() = default;

  virtual Result<Outcome> Submit(const Command& command) = 0;
  // Many commands, one durable commit (group commit); each gets its own result. If the commit
  // fails, every command gets that error and nothing was written.
  virtual std::vector<Result<Outcome>> SubmitBatch(std::span<const Command> commands) = 0;

  // Reads: no idempotency key, no velocity.
  virtual Result<ledger::Account> GetAccount(std::string_view id) = 0;
  virtual Result<ledger::Account> GetAccountAsOf(std::string_view id, ledger::AsOf as_of) = 0;
  virtual Result<std::vector<ledger::Account>> ListAccounts(std::string_view after_id,
                                                            size_t limit) = 0;
  virtual Result<ledger::Entry> GetEntry(int64_t id) = 0;
  virtual Result<std::vector<ledger::StatementLine>> History(std::string_view id,
                                                             size_t limit) = 0;
  virtual Result<ledger::VerifyReport> Verify() = 0;
  virtual Result<size_t> ExpireHolds(size_t max_holds) = 0;

  // Removes idempotency records past their retention (by the engine clock), in bounded
  // transactions. Returns how many.
  virtual Result<size_t> PurgeIdempotencyKeys() = 0;
  // Windows of every rule whose key is `key` (e.g. "merchant=acme"), or of `rule` only.
  virtual Result<std::vector<VelocityWindowStatus>> VelocityStatus(std::string_view rule,
                                                                   std::string_view key) = 0;
  // Card payments and merchants (reads), as typed views (include/pay/payments.h); PaymentJson
  // and MerchantJson render them.
  virtual Result<PaymentView> GetPayment(std::string_view payment_id) = 0;
  // Payments in id order after `after_id` (of one merchant when `merchant` is not empty), at
  // most `limit` (capped at limits::kListRowsMax).
  virtual Result<Page<PaymentView>> ListPayments(std::string_view merchant,
                                                 std::string_view after_id, size_t limit) = 0;
  virtual Result<Page<Merchant>> ListMerchants(std::string_view after_id, size_t limit) = 0;
  // One merchant; kUnknownMerchant when there is none.
  virtual Result<Merchant> GetMerchant(std::string_view id) = 0;
  // The payment created under an idempotency key (an authorize, push, p2p or card funding of
  // `merchant`, the scope), also while it is still in flight; empty when none.
  virtual Result<std::optional<std::string>> PaymentIdForKey(std::string_view merchant,
                                                             std::string_view idempotency_key) = 0;
  // Events (include/pay/events.h) after the event id `after_id` in commit order, of one merchant
  // when `merchant` is not empty, that `filter` matches: at most `limit` (capped at
  // limits::kListRowsMax), reading at most limits::kListRowsMax events. next_after is set when
  // more may follow (also when the page is short because the read bound was reached).
  virtual Result<Page<EventView>> ListEvents(std::string_view merchant, std::string_view after_id,
                                            const EventFilter& filter, size_t limit) = 0;
  // Removes events past their retention (EngineOptions::event_retention_ms, by the engine
  // clock), in bounded transactions. Returns how many.
  virtual Result<size_t> PurgeEvents() = 0;
  // Expires authorizations past their validity (releasing their holds), up to `max`.
  virtual Result<size_t> ExpirePayments(size_t max) = 0;
  // Settlement: every captured, unsettled payment moves from the network receivable to its
  // merchant's available balance, less the merchant's fee.
  struct SettleReport {
    size_t payments = 0;
    // Per currency: the net settled and the fees, in minor units.
    std::vector<std::tuple<std::string, int64_t, int64_t>> totals;
  };
  virtual Result<SettleReport> Settle() = 0;
  // Delivers queued network advices (reversals of unknown authorizations first) until none is
  // left or `network_rounds_max` rounds passed. Returns how many are still queued.
  virtual Result<size_t> ResolvePending() = 0;

  // How many in-flight records start-up found and how they were resolved.
  struct Recovery {
    size_t completed = 0;
    size_t released = 0;
    size_t payments_in_doubt = 0;  // card payments found waiting on the network (reversed)
  };
  virtual Recovery recovery() const = 0;
  // Where reads ran (EngineOptions::replica_db_path): on the replica, or on the primary because
  // the replica had not replayed far enough within replica_wait_ms (or is unreachable).
  struct ReadRouting {
    uint64_t on_replica = 0;
    uint64_t on_primary = 0;
  };
  virtual ReadRouting read_routing() const { return {}; }
};

// The canonical JSON the engine answers with (also used by channels for reads).
std::string AccountJson(const ledger::Account& account);
std::string EntryJson(const ledger::Entry& entry);

}  // namespace pay
