// The partitioned engine (EngineOptions::partition_db_paths; docs/scale-out.md, "Partitions"):
// one engine per partition, each on its own database with its own writer lock, entry sequence
// and audit chain, so that writers of different merchants never wait for each other. A command
// goes to its merchant's partition; a payment id and an entry number name theirs; accounts of
// the acquirer (acq/...) exist in every partition and are read as their sum; the sweeps and
// verify run on every partition and add up. An entry never crosses partitions.

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include "core/limits.h"
#include "rails/engine_impl.h"

namespace pay {

uint32_t MerchantPartition(std::string_view merchant, uint32_t partitions) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a, 64 bits
  for (unsigned char c : merchant) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return partitions <= 1 ? 0 : static_cast<uint32_t>(h % partitions);
}

namespace engine_internal {
namespace {

// One card network for every partition: one exchange at a time (CardNetwork's contract). Safe
// to share because partitions' retrieval reference numbers never meet (core/limits.h).
class SharedCardNetwork final : public CardNetwork {
 public:
  explicit SharedCardNetwork(CardNetwork& inner) : inner_(inner) {}
  std::vector<Result<CardResponse>> Exchange(std::span<const CardRequest> requests) override {
    std::lock_guard lock(mu_);
    return inner_.Exchange(requests);
  }

 private:
  CardNetwork& inner_;
  std::mutex mu_;
};

// The merchant an account id belongs to ("m/<merchant>/..."), or empty.
std::string_view AccountMerchant(std::string_view account) {
  if (account.substr(0, 2) != "m/") return {};
  account.remove_prefix(2);
  return account.substr(0, account.find('/'));
}

// A payment id ("pay_" and twelve digits, the first two naming the partition) or -1.
int PaymentPartition(std::string_view id) {
  if (id.size() != 16 || id.substr(0, 4) != "pay_") return -1;
  if (id[4] < '0' || id[4] > '9' || id[5] < '0' || id[5] > '9') return -1;
  return (id[4] - '0') * 10 + (id[5] - '0');
}

// Adds `b`'s counters to `a` (an acquirer account kept in several partitions).
Result<void> AddCounters(ledger::Account& a, const ledger::Account& b) {
  for (auto [x, y] : {std::pair{&a.debits_posted_minor, b.debits_posted_minor},
                      {&a.credits_posted_minor, b.credits_posted_minor},
                      {&a.debits_pending_minor, b.debits_pending_minor},
                      {&a.credits_pending_minor, b.credits_pending_minor}}) {
    if (__builtin_add_overflow(*x, y, x)) {
      return MakeError(ErrorCode::kAmountOverflow,
                       "account: '" + a.id + "' summed over partitions leaves the int64 range");
    }
  }
  a.created_at_ms = std::min(a.created_at_ms, b.created_at_ms);
  a.last_seq = std::max(a.last_seq, b.last_seq);
  return {};
}

class PartitionedEngine final : public Engine {
 public:
  Result<void> Open(const EngineOptions& o);

  Result<Outcome> Submit(const Command& command) override {
    PAY_ASSIGN_OR_RETURN(uint32_t k, Route(command));
    return parts_[k]->Submit(command);
  }
  std::vector<Result<Outcome>> SubmitBatch(std::span<const Command> commands) override;

  Result<ledger::Account> GetAccount(std::string_view id) override {
    return SumAccount(id, [&](Engine& e) { return e.GetAccount(id); });
  }
  Result<ledger::Account> GetAccountAsOf(std::string_view id, ledger::AsOf as_of) override {
    if (as_of.by == ledger::AsOf::By::kSeq) {  // an entry number names its partition
      PAY_ASSIGN_OR_RETURN(uint32_t k, EntryPartition(as_of.value));
      return parts_[k]->GetAccountAsOf(id, as_of);
    }
    return SumAccount(id, [&](Engine& e) { return e.GetAccountAsOf(id, as_of); });
  }
  Result<std::vector<ledger::Account>> ListAccounts(std::string_view after, size_t limit) override;
  Result<ledger::Entry> GetEntry(int64_t id) override {
    PAY_ASSIGN_OR_RETURN(uint32_t k, EntryPartition(id));
    return parts_[k]->GetEntry(id);
  }
  Result<std::vector<ledger::StatementLine>> History(std::string_view id, size_t limit) override;
  Result<ledger::VerifyReport> Verify() override;
  Result<size_t> ExpireHolds(size_t max_holds) override {
    return SumOver([&](Engine& e) { return e.ExpireHolds(max_holds); });
  }
  Result<size_t> PurgeIdempotencyKeys() override {
    return SumOver([](Engine& e) { return e.PurgeIdempotencyKeys(); });
  }
  Result<std::vector<VelocityWindowStatus>> VelocityStatus(std::string_view rule,
                                                           std::string_view key) override;
  Result<PaymentView> GetPayment(std::string_view payment_id) override {
    const int k = PaymentPartition(payment_id);
    if (k < 0 || static_cast<size_t>(k) >= parts_.size()) {
      return MakeError(ErrorCode::kPaymentNotFound, "payment: no payment '" + std::string(payment_id) + "'");
    }
    return parts_[k]->GetPayment(payment_id);
  }
  Result<Page<PaymentView>> ListPayments(std::string_view merchant, std::string_view after_id,
                                         size_t limit) override {
    if (!merchant.empty()) return Of(merchant).ListPayments(merchant, after_id, limit);
    return Merge<PaymentView>(limit, [&](Engine& e) { return e.ListPayments(merchant, after_id, limit); });
  }
  Result<Page<Merchant>> ListMerchants(std::string_view after_id, size_t limit) override {
    return Merge<Merchant>(limit, [&](Engine& e) { return e.ListMerchants(after_id, limit); });
  }
  Result<Merchant> GetMerchant(std::string_view id) override { return Of(id).GetMerchant(id); }
  Result<std::optional<std::string>> PaymentIdForKey(std::string_view merchant,
                                                     std::string_view key) override {
    return Of(merchant).PaymentIdForKey(merchant, key);
  }
  Result<Page<EventView>> ListEvents(std::string_view merchant, std::string_view after_id,
                                     const EventFilter& filter, size_t limit) override {
    if (!merchant.empty()) return Of(merchant).ListEvents(merchant, after_id, filter, limit);
    return Merge<EventView>(limit, [&](Engine& e) { return e.ListEvents(merchant, after_id, filter, limit); });
  }
  Result<size_t> PurgeEvents() override {
    return SumOver([](Engine& e) { return e.PurgeEvents(); });
  }
  Result<size_t> ExpirePayments(size_t max) override {
    return SumOver([&](Engine& e) { return e.ExpirePayments(max); });
  }
  Result<SettleReport> Settle() override;
  Result<size_t> ResolvePending() override {
    return SumOver([](Engine& e) { return e.ResolvePending(); });
  }
  Recovery recovery() const override {
    Recovery sum;
    for (const auto& e : parts_) {
      const Recovery r = e->recovery();
      sum.completed += r.completed;
      sum.released += r.released;
      sum.payments_in_doubt += r.payments_in_doubt;
    }
    return sum;
  }
  ReadRouting read_routing() const override {
    ReadRouting sum;
    for (const auto& e : parts_) {
      const ReadRouting r = e->read_routing();
      sum.on_replica += r.on_replica;
      sum.on_primary += r.on_primary;
    }
    return sum;
  }

 private:
  uint32_t size() const { return static_cast<uint32_t>(parts_.size()); }
  Engine& Of(std::string_view merchant) { return *parts_[MerchantPartition(merchant, size())]; }
  Result<uint32_t> EntryPartition(int64_t seq) const {
    const int64_t k = seq > 0 ? (seq - 1) / limits::kPartitionEntrySeqSpan : -1;
    if (k < 0 || k >= static_cast<int64_t>(parts_.size())) {
      return MakeError(ErrorCode::kEntryNotFound, "entry: no entry " + std::to_string(seq));
    }
    return static_cast<uint32_t>(k);
  }
  Result<uint32_t> Route(const Command& c) const;
  template <class F>
  Result<size_t> SumOver(F&& each);
  template <class F>
  Result<ledger::Account> SumAccount(std::string_view id, F&& read);
  template <class T, class F>
  Result<Page<T>> Merge(size_t limit, F&& each);

  std::vector<std::unique_ptr<SharedCardNetwork>> shared_networks_;
  std::vector<std::unique_ptr<Engine>> parts_;
};

Result<void> PartitionedEngine::Open(const EngineOptions& o) {
  const size_t n = o.partition_db_paths.size();
  if (n > limits::kPartitionsMax) {
    return MakeError(ErrorCode::kInvalidArgument, "partitions: " + std::to_string(n) + " (at most " +
                                                      std::to_string(limits::kPartitionsMax) + ")");
  }
  if (!o.partition_card_networks.empty() && o.partition_card_networks.size() != n) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "partition_card_networks: one per partition (" + std::to_string(n) + ")");
  }
  if (!o.replica_db_path.empty() || o.store != nullptr) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "partition_db_paths: a partitioned engine opens its databases itself and "
                     "has no replica reads yet (replica_db_path, store)");
  }
  if (o.partition_card_networks.empty() && o.card_network != nullptr) {
    shared_networks_.push_back(std::make_unique<SharedCardNetwork>(*o.card_network));
  }
  for (size_t k = 0; k < n; ++k) {
    EngineOptions p = o;
    p.partition_db_paths.clear();
    p.partition_card_networks.clear();
    p.db_path = o.partition_db_paths[k];
    p.partition = static_cast<uint32_t>(k);
    p.partitions = static_cast<uint32_t>(n);
    if (!o.partition_card_networks.empty()) p.card_network = o.partition_card_networks[k];
    else if (!shared_networks_.empty()) p.card_network = shared_networks_.front().get();
    auto e = std::make_unique<EngineImpl>();
    if (auto r = e->Open(p); !r) {
      return MakeError(r.error().code, "partition " + std::to_string(k) + ": " + r.error().message);
    }
    parts_.push_back(std::move(e));
  }
  return {};
}

// The merchant's partition; for a command without one, the partition its payment, entry or
// accounts name, else partition 0 (the ledger's own accounts live there).
Result<uint32_t> PartitionedEngine::Route(const Command& c) const {
  const uint32_t n = size();
  auto merchant = [n](std::string_view m) { return m.empty() ? 0u : MerchantPartition(m, n); };
  if (const auto* m = std::get_if<CreateMerchantRequest>(&c.request)) return merchant(m->id);
  if (!c.merchant.empty()) return merchant(c.merchant);
  return std::visit(
      [&](const auto& r) -> Result<uint32_t> {
        using R = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<R, CreateAccountRequest>) {
          return merchant(AccountMerchant(r.account.id));
        } else if constexpr (std::is_same_v<R, TransferRequest>) {
          std::optional<uint32_t> at;
          for (const ledger::Posting& p : r.entry.postings) {
            const uint32_t k = merchant(AccountMerchant(p.account));
            if (at && *at != k) {
              return MakeError(ErrorCode::kInvalidArgument,
                               "postings: accounts of partitions " + std::to_string(*at) + " and " +
                                   std::to_string(k) + " ('" + p.account +
                                   "'); an entry never crosses partitions");
            }
            at = k;
          }
          return at.value_or(0);
        } else if constexpr (std::is_same_v<R, PostRequest> || std::is_same_v<R, VoidRequest> ||
                             std::is_same_v<R, ReverseRequest>) {
          return EntryPartition(r.entry_id);
        } else if constexpr (std::is_same_v<R, IncrementRequest> || std::is_same_v<R, CaptureRequest> ||
                             std::is_same_v<R, VoidPaymentRequest> || std::is_same_v<R, RefundRequest>) {
          const int k = PaymentPartition(r.payment_id);
          return k >= 0 && static_cast<uint32_t>(k) < n ? static_cast<uint32_t>(k) : 0u;
        } else {
          return 0u;
        }
      },
      c.request);
}

// Each partition's share of the batch goes to it as one batch (one commit each), the shares
// at the same time; answers come back in the commands' order.
std::vector<Result<Outcome>> PartitionedEngine::SubmitBatch(std::span<const Command> commands) {
  std::vector<Result<Outcome>> out(commands.size(), MakeError(ErrorCode::kInternal, "not run"));
  std::map<uint32_t, std::vector<size_t>> shares;
  for (size_t i = 0; i < commands.size(); ++i) {
    auto k = Route(commands[i]);
    if (!k) out[i] = k.error();
    else shares[*k].push_back(i);
  }
  auto run = [&](uint32_t k, const std::vector<size_t>& idx) {
    std::vector<Command> share;
    share.reserve(idx.size());
    for (size_t i : idx) share.push_back(commands[i]);
    auto results = parts_[k]->SubmitBatch(share);
    for (size_t j = 0; j < idx.size(); ++j) out[idx[j]] = std::move(results[j]);
  };
  std::vector<std::thread> others;
  for (auto it = shares.begin(); it != shares.end(); ++it) {
    if (std::next(it) == shares.end()) run(it->first, it->second);  // the last on this thread
    else others.emplace_back([&run, it] { run(it->first, it->second); });
  }
  for (auto& t : others) t.join();
  return out;
}

template <class F>
Result<size_t> PartitionedEngine::SumOver(F&& each) {
  size_t sum = 0;
  for (uint32_t k = 0; k < size(); ++k) {
    auto r = each(*parts_[k]);
    if (!r) return MakeError(r.error().code, "partition " + std::to_string(k) + ": " + r.error().message);
    sum += *r;
  }
  return sum;
}

// A merchant's account from its partition; any other from every partition that has it, summed.
template <class F>
Result<ledger::Account> PartitionedEngine::SumAccount(std::string_view id, F&& read) {
  if (std::string_view m = AccountMerchant(id); !m.empty()) return read(Of(m));
  std::optional<ledger::Account> sum;
  for (const auto& e : parts_) {
    auto a = read(*e);
    if (!a) {
      if (a.error().code == ErrorCode::kUnknownAccount) continue;
      return a.error();
    }
    if (!sum) sum = std::move(*a);
    else PAY_TRY(AddCounters(*sum, *a));
  }
  if (!sum) return MakeError(ErrorCode::kUnknownAccount, "account: no account '" + std::string(id) + "'");
  return std::move(*sum);
}

// The first `limit` items by id over every partition (each gives its first `limit`).
template <class T, class F>
Result<Page<T>> PartitionedEngine::Merge(size_t limit, F&& each) {
  limit = std::min(limit, limits::kListRowsMax);
  std::vector<T> all;
  for (const auto& e : parts_) {
    PAY_ASSIGN_OR_RETURN(Page<T> page, each(*e));
    for (auto& item : page.items) all.push_back(std::move(item));
  }
  std::sort(all.begin(), all.end(), [](const T& a, const T& b) { return a.id < b.id; });
  Page<T> page;
  if (all.size() > limit) all.resize(limit);
  page.items = std::move(all);
  if (limit > 0 && page.items.size() == limit) page.next_after = page.items.back().id;
  return page;
}

Result<std::vector<ledger::Account>> PartitionedEngine::ListAccounts(std::string_view after,
                                                                     size_t limit) {
  std::map<std::string, ledger::Account> by_id;
  for (const auto& e : parts_) {
    PAY_ASSIGN_OR_RETURN(auto list, e->ListAccounts(after, limit));
    for (auto& a : list) {
      auto [it, fresh] = by_id.try_emplace(a.id, a);
      if (!fresh) PAY_TRY(AddCounters(it->second, a));
    }
  }
  std::vector<ledger::Account> out;
  for (auto& [id, a] : by_id) {
    if (out.size() == limit) break;
    out.push_back(std::move(a));
  }
  return out;
}

// A merchant's account: its partition's history. An acquirer account: the newest `limit`
// lines over every partition, oldest first; each line's running balances are its partition's
// (the account's balance is their sum: GetAccount).
Result<std::vector<ledger::StatementLine>> PartitionedEngine::History(std::string_view id,
                                                                      size_t limit) {
  if (std::string_view m = AccountMerchant(id); !m.empty()) return Of(m).History(id, limit);
  std::vector<ledger::StatementLine> all;
  bool found = false;
  for (const auto& e : parts_) {
    auto lines = e->History(id, limit);
    if (!lines) {
      if (lines.error().code == ErrorCode::kUnknownAccount) continue;
      return lines.error();
    }
    found = true;
    for (auto& l : *lines) all.push_back(std::move(l));
  }
  if (!found) return MakeError(ErrorCode::kUnknownAccount, "account: no account '" + std::string(id) + "'");
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return std::tie(a.created_at_ms, a.seq) < std::tie(b.created_at_ms, b.seq);
  });
  if (all.size() > limit) all.erase(all.begin(), all.end() - static_cast<ptrdiff_t>(limit));
  return all;
}

// Every partition verified on its own (its sequence, chain and balances); the report adds them
// up, names the partition of each problem, and lists each partition's head hash.
Result<ledger::VerifyReport> PartitionedEngine::Verify() {
  ledger::VerifyReport sum;
  for (uint32_t k = 0; k < size(); ++k) {
    PAY_ASSIGN_OR_RETURN(ledger::VerifyReport r, parts_[k]->Verify());
    sum.entries_checked += r.entries_checked;
    sum.accounts_checked += r.accounts_checked;
    sum.problems_total += r.problems_total;
    for (auto& p : r.problems) {
      if (sum.problems.size() < limits::kListRowsMax) sum.problems.push_back("partition " + std::to_string(k) + ": " + p);
    }
    sum.head_hash_hex += (k == 0 ? "" : ",") + r.head_hash_hex;
  }
  return sum;
}

Result<std::vector<VelocityWindowStatus>> PartitionedEngine::VelocityStatus(std::string_view rule,
                                                                            std::string_view key) {
  constexpr std::string_view kMerchantKey = "merchant=";
  if (key.substr(0, kMerchantKey.size()) == kMerchantKey) {
    const std::string_view m = key.substr(kMerchantKey.size());
    return Of(m.substr(0, m.find(';'))).VelocityStatus(rule, key);
  }
  std::vector<VelocityWindowStatus> all;  // counted per partition (docs/scale-out.md)
  for (const auto& e : parts_) {
    PAY_ASSIGN_OR_RETURN(auto list, e->VelocityStatus(rule, key));
    for (auto& w : list) all.push_back(std::move(w));
  }
  return all;
}

Result<Engine::SettleReport> PartitionedEngine::Settle() {
  SettleReport sum;
  std::map<std::string, std::pair<int64_t, int64_t>> totals;
  for (uint32_t k = 0; k < size(); ++k) {
    PAY_ASSIGN_OR_RETURN(SettleReport r, parts_[k]->Settle());
    sum.payments += r.payments;
    for (const auto& [currency, net, fees] : r.totals) {
      auto& [n, f] = totals[currency];
      if (__builtin_add_overflow(n, net, &n) || __builtin_add_overflow(f, fees, &f)) {
        return MakeError(ErrorCode::kAmountOverflow, "settle: " + currency + " totals leave the int64 range");
      }
    }
  }
  for (const auto& [currency, nf] : totals) sum.totals.emplace_back(currency, nf.first, nf.second);
  return sum;
}

}  // namespace

Result<std::unique_ptr<Engine>> OpenPartitioned(const EngineOptions& options) {
  auto e = std::make_unique<PartitionedEngine>();
  PAY_TRY(e->Open(options));
  return std::unique_ptr<Engine>(std::move(e));
}

}  // namespace engine_internal
}  // namespace pay
