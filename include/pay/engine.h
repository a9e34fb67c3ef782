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
// inside the engine (SQLite has one writer). Reads may be called from any thread too.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pay/clock.h"
#include "pay/result.h"
#include "pay/types.h"

namespace pay {

// Numbers are stored with idempotency records and velocity rules: never renumber.
enum class Operation : uint8_t {
  kCreateAccount = 1,
  kTransfer = 2,
  kPostPending = 3,
  kVoidPending = 4,
  kReverse = 5,
};
std::string_view OperationName(Operation op);  // "create_account", "transfer", "post", "void", "reverse"
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
using Request = std::variant<CreateAccountRequest, TransferRequest, PostRequest, VoidRequest,
                             ReverseRequest>;

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
};

enum class Durability { kFull, kNormal };

struct EngineOptions {
  std::string db_path = "paymentctl.db";
  bool create_if_missing = false;
  Durability durability = Durability::kFull;
  // The clock the engine reads; must outlive the engine. nullptr: the system clock.
  const Clock* clock = nullptr;
  int64_t idempotency_retention_ms = 24LL * 3600 * 1000;
  // Velocity rules (TOML, docs/examples/velocity.toml). Empty: no rules.
  std::string velocity_config_path;
  // Off only for measurements (tests/bench): no idempotency records, no velocity checks.
  bool guards_enabled = true;
};

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
  // How many in-flight records start-up found and how they were resolved.
  struct Recovery {
    size_t completed = 0;
    size_t released = 0;
  };
  virtual Recovery recovery() const = 0;
};

// The canonical JSON the engine answers with (also used by channels for reads).
std::string AccountJson(const ledger::Account& account);
std::string EntryJson(const ledger::Entry& entry);

}  // namespace pay
