// kill -9 between claim and commit: a child submits batches of keyed transfers through the
// engine and acknowledges each batch once SubmitBatch returned; the parent kills it at random
// moments. After each restart the ledger verifies, every acknowledged key replays without moving
// money, and resubmitting every key the child ever tried leaves exactly one cent per key: not
// one lost, not one doubled.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "core/random.h"
#include "pay/engine.h"
#include "tests/support/temp_dir.h"

namespace pay {
namespace {

constexpr int kBatch = 25;
constexpr int64_t kT0 = 1'790'000'000'000;

std::string Key(int batch, int i) { return "k" + std::to_string(batch) + "-" + std::to_string(i); }

Command Transfer(const std::string& key) {
  Command c;
  c.merchant = "shop";
  c.idempotency_key = key;
  TransferRequest t;
  t.entry.postings = {{"bank", ledger::Side::kDebit, 1}, {"alice", ledger::Side::kCredit, 1}};
  c.request = t;
  return c;
}

std::unique_ptr<Engine> Open(const std::string& path, const Clock& clock, bool create = false) {
  EngineOptions o;
  o.db_path = path;
  o.create_if_missing = create;
  o.clock = &clock;
  auto e = Engine::Open(o);
  if (!e) {
    std::fprintf(stderr, "open: %s\n", e.error().message.c_str());
    return nullptr;
  }
  return std::move(*e);
}

[[noreturn]] void Child(const std::string& path, int first_batch, int ack_fd) {
  ManualClock clock(kT0);
  auto engine = Open(path, clock);
  if (!engine) _exit(3);
  for (int b = first_batch;; ++b) {
    std::vector<Command> batch;
    for (int i = 0; i < kBatch; ++i) batch.push_back(Transfer(Key(b, i)));
    for (const auto& r : engine->SubmitBatch(batch)) {
      if (!r || r->declined) {
        std::fprintf(stderr, "child: %s\n", r ? r->body.c_str() : r.error().message.c_str());
        _exit(4);
      }
    }
    if (write(ack_fd, &b, sizeof b) != sizeof b) _exit(5);
  }
}

TEST(EngineCrashTest, KillNineNeitherLosesNorDoubles) {
  testing::TempDir dir;
  const std::string path = dir.File("engine.db");
  ManualClock clock(kT0);
  {
    auto e = Open(path, clock, true);
    ASSERT_TRUE(e);
    Command bank, alice;
    bank.idempotency_key = "a-bank";
    bank.request = CreateAccountRequest{{"bank", "USD", ledger::AccountType::kAsset}};
    alice.idempotency_key = "a-alice";
    alice.request = CreateAccountRequest{{"alice", "USD"}};
    ASSERT_TRUE(e->Submit(bank));
    ASSERT_TRUE(e->Submit(alice));
  }
  Random rnd(7);
  int next = 0;
  int tried_through = -1;  // every batch up to this one was (at least partly) submitted
  for (int round = 0; round < 6; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      Child(path, next, fds[1]);
    }
    close(fds[1]);
    int want = static_cast<int>(rnd.Range(1, 8)), last = next - 1;
    for (int i = 0; i < want; ++i) {
      int b;
      ASSERT_EQ(read(fds[0], &b, sizeof b), static_cast<ssize_t>(sizeof b)) << "child died";
      last = b;
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    // The child may have gone on past what we read: its later acknowledgements are still in the
    // pipe, and one more batch may have committed without its acknowledgement.
    int acked = last;
    for (int b; read(fds[0], &b, sizeof b) == static_cast<ssize_t>(sizeof b);) acked = b;
    close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status));
    tried_through = std::max(tried_through, acked + 1);

    auto e = Open(path, clock);
    ASSERT_TRUE(e);
    auto v = e->Verify();
    ASSERT_TRUE(v && v->ok());
    for (int b = next; b <= last; ++b) {
      auto r = e->Submit(Transfer(Key(b, 0)));
      ASSERT_TRUE(r);
      EXPECT_TRUE(r->replayed) << "acknowledged " << Key(b, 0) << " executed again";
    }
    next = last + 1;
  }
  // Resubmit everything ever tried: each key moves exactly one cent, once.
  auto e = Open(path, clock);
  ASSERT_TRUE(e);
  for (int b = 0; b <= tried_through; ++b) {
    std::vector<Command> batch;
    for (int i = 0; i < kBatch; ++i) batch.push_back(Transfer(Key(b, i)));
    for (const auto& r : e->SubmitBatch(batch)) ASSERT_TRUE(r && !r->declined);
  }
  EXPECT_EQ(e->GetAccount("alice")->balance_minor(), (tried_through + 1) * kBatch);
  auto v = e->Verify();
  ASSERT_TRUE(v && v->ok());
}

}  // namespace
}  // namespace pay
