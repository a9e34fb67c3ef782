// Engine throughput with guards on versus off, side by side in one run: batched ledger transfers
// through Engine::SubmitBatch, each with its own idempotency key, on 100k accounts. "On" checks
// and consumes two velocity rules (a GCRA count per merchant, an exact sliding-log amount per
// debit account) and stores an idempotency record per command; "off" skips both.
//
// Usage: engine_bench [--accounts N] [--reps N] [--transfers N] [--batch N] [--dir PATH]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/random.h"
#include "pay/engine.h"

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr const char* kMerchantRule = R"toml(
[[rule]]
name = "transfers-per-merchant"
operations = ["transfer"]
key = ["merchant"]
  [[rule.window]]
  algorithm = "gcra"
  window = "1s"
  limit = 100000000
)toml";

constexpr const char* kRules = R"toml(
[[rule]]
name = "transfers-per-merchant"
operations = ["transfer"]
key = ["merchant"]
  [[rule.window]]
  algorithm = "gcra"
  window = "1s"
  limit = 100000000

[[rule]]
name = "amount-per-account"
operations = ["transfer"]
key = ["account"]
measure = "amount"
currency = "USD"
  [[rule.window]]
  algorithm = "sliding_log"
  window = "24h"
  limit = "100000000.00"
)toml";

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "engine_bench: %s\n", what.c_str());
  std::exit(1);
}

class Contender {
 public:
  // rules: 0 none, 1 the per-merchant rule, 2 both rules.
  Contender(const std::string& dir, bool guards, int rules, int accounts, const pay::Clock& clock)
      : rnd_(1), accounts_(accounts), guards_(guards) {
    std::string db = dir + "/engine-" + std::to_string(guards) + "-" + std::to_string(rules) + ".db";
    std::filesystem::remove(db);
    pay::EngineOptions o;
    o.db_path = db;
    o.create_if_missing = true;
    o.clock = &clock;
    o.guards_enabled = guards;
    if (guards && rules > 0) {
      o.velocity_config_path = dir + "/bench-velocity-" + std::to_string(rules) + ".toml";
      std::ofstream(o.velocity_config_path) << (rules == 1 ? kMerchantRule : kRules);
    }
    auto e = pay::Engine::Open(o);
    if (!e) Die(e.error().message);
    engine_ = std::move(*e);
    std::vector<pay::Command> batch;
    for (int i = 0; i < accounts; ++i) {
      pay::Command c;
      c.merchant = "bench";
      c.idempotency_key = "acct-" + std::to_string(i);
      c.request = pay::CreateAccountRequest{{"acct-" + std::to_string(i), "USD"}};
      batch.push_back(std::move(c));
      if (batch.size() == 10'000 || i + 1 == accounts) {
        for (const auto& r : engine_->SubmitBatch(batch)) {
          if (!r || r->declined) Die("account setup failed");
        }
        batch.clear();
      }
    }
  }

  double Run(int n, int batch_size) {
    std::vector<pay::Command> batch(batch_size);
    auto start = SteadyClock::now();
    for (int done = 0; done < n; done += batch_size) {
      for (auto& c : batch) {
        int a = static_cast<int>(rnd_.Uniform(accounts_));
        int b = static_cast<int>(rnd_.Uniform(accounts_ - 1));
        if (b >= a) ++b;
        int64_t amount = 1 + static_cast<int64_t>(rnd_.Uniform(10'000));
        c.merchant = "bench";
        c.idempotency_key = "t-" + std::to_string(next_++);
        pay::TransferRequest t;
        t.entry.postings = {{"acct-" + std::to_string(a), pay::ledger::Side::kDebit, amount},
                            {"acct-" + std::to_string(b), pay::ledger::Side::kCredit, amount}};
        c.request = std::move(t);
      }
      for (const auto& r : engine_->SubmitBatch(batch)) {
        if (!r || r->declined) Die(std::string("transfer failed: ") + (r ? r->body : r.error().message));
      }
    }
    return std::chrono::duration<double>(SteadyClock::now() - start).count();
  }

 private:
  std::unique_ptr<pay::Engine> engine_;
  pay::Random rnd_;
  int accounts_;
  bool guards_;
  int64_t next_ = 0;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  int accounts = 100'000, reps = 5, transfers = 100'000, batch = 1000;
  std::string dir = "build/bench-data";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) Die("usage: engine_bench [--accounts N] [--reps N] [--transfers N] [--batch N] [--dir PATH]");
    std::string v = argv[++i];
    if (a == "--accounts") accounts = std::max(2, std::atoi(v.c_str()));
    else if (a == "--reps") reps = std::max(1, std::atoi(v.c_str()));
    else if (a == "--transfers") transfers = std::max(1000, std::atoi(v.c_str()));
    else if (a == "--batch") batch = std::max(1, std::atoi(v.c_str()));
    else if (a == "--dir") dir = v;
    else Die("unknown option " + a);
  }
  std::filesystem::create_directories(dir);
  pay::ManualClock clock(1'790'000'000'000);
  std::printf("engine_bench: %d accounts, batch %d, %d reps, synchronous=FULL, medians\n", accounts,
              batch, reps);
  Contender on(dir, true, 2, accounts, clock), merchant(dir, true, 1, accounts, clock),
      keys(dir, true, 0, accounts, clock), off(dir, false, 0, accounts, clock);
  int n = std::max(batch, transfers / batch * batch);
  std::vector<double> ron, rmerchant, rkeys, roff;
  for (int rep = 0; rep < reps; ++rep) {
    roff.push_back(n / off.Run(n, batch));
    rkeys.push_back(n / keys.Run(n, batch));
    rmerchant.push_back(n / merchant.Run(n, batch));
    ron.push_back(n / on.Run(n, batch));
    clock.AdvanceMs(1000);
  }
  double a = Median(ron), m = Median(rmerchant), k = Median(rkeys), b = Median(roff);
  std::printf("\n| guards | transfers/s | cost |\n|---|---:|---:|\n");
  std::printf("| off | %.0f | |\n", b);
  std::printf("| idempotency keys only | %.0f | %.1f %% |\n", k, 100.0 * (1 - k / b));
  std::printf("| idempotency + 1 velocity rule (GCRA per merchant) | %.0f | %.1f %% |\n", m,
              100.0 * (1 - m / b));
  std::printf("| idempotency + 2 velocity rules (per merchant, per account) | %.0f | %.1f %% |\n", a,
              100.0 * (1 - a / b));
  return 0;
}
