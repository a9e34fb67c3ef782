// Kill -9 at random moments: a child process commits batches (transfers, holds and posts) and
// acknowledges each batch after its commit returns; the parent kills it with SIGKILL after a
// random number of acknowledgements. After every kill the database must verify, hold every
// acknowledged batch, and hold each unacknowledged batch either whole or not at all.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "core/random.h"
#include "core/store.h"
#include "ledger/ledger.h"
#include "tests/support/temp_dir.h"

namespace pay::ledger {
namespace {

constexpr int kBatchSize = 50;
constexpr int64_t kT0 = 1'790'000'000'000;

std::string Ref(int batch, int i) { return "b" + std::to_string(batch) + "-" + std::to_string(i); }

[[noreturn]] void Die(int code, const std::string& why) {
  std::fprintf(stderr, "crash_test writer: %s\n", why.c_str());
  _exit(code);
}

// The child: runs until killed. Never returns.
[[noreturn]] void Writer(const std::string& path, int first_batch, int ack_fd) {
  auto s = store::OpenSqliteStore(path, {});
  if (!s) Die(3, s.error().message);
  ManualClock clock(kT0);
  Ledger ledger(**s, clock);
  for (int batch = first_batch;; ++batch) {
    if (auto b = ledger.Begin(); !b) Die(4, b.error().message);
    for (int i = 0; i < kBatchSize; ++i) {
      EntrySpec e;
      e.ref = Ref(batch, i);
      e.pending = i % 5 == 0;
      e.postings = {{"bank", Side::kDebit, 100 + i}, {"alice", Side::kCredit, 100 + i}};
      auto r = ledger.CreateEntry(e);
      if (!r) Die(5, r.error().message);
      if (e.pending && i % 10 == 0) {
        if (auto p = ledger.PostPending(r->seq, 50); !p) Die(6, p.error().message);
      }
    }
    if (auto c = ledger.Commit(); !c) Die(7, c.error().message);
    if (write(ack_fd, &batch, sizeof batch) != sizeof batch) Die(8, "ack pipe closed");
  }
}

TEST(CrashTest, KillNineLosesNothingAcknowledged) {
  testing::TempDir dir;
  const std::string path = dir.File("crash.db");
  {
    store::StoreOptions o;
    o.create_if_missing = true;
    auto s = store::OpenSqliteStore(path, o);
    ASSERT_TRUE(s);
    ManualClock clock(kT0);
    Ledger l(**s, clock);
    ASSERT_TRUE(l.CreateAccount({"bank", "USD", AccountType::kAsset}));
    ASSERT_TRUE(l.CreateAccount({"alice", "USD"}));
  }
  const char* seed_env = std::getenv("PAY_SEED");
  uint64_t seed = seed_env ? std::strtoull(seed_env, nullptr, 10) : 20261128;
  std::cout << "[ crash ] PAY_SEED=" << seed << "\n";
  Random rnd(seed);
  int next_batch = 0;
  int acked_total = 0;
  for (int round = 0; round < 8; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      Writer(path, next_batch, fds[1]);
    }
    close(fds[1]);
    int want = static_cast<int>(rnd.Range(1, 12));
    int last_acked = next_batch - 1;
    for (int i = 0; i < want; ++i) {
      int b;
      if (read(fds[0], &b, sizeof b) != static_cast<ssize_t>(sizeof b)) {
        int status = 0;
        waitpid(pid, &status, 0);
        FAIL() << "writer died early with status " << status << " (see its stderr above)";
      }
      ASSERT_EQ(b, last_acked + 1);
      last_acked = b;
    }
    kill(pid, SIGKILL);  // the writer is somewhere inside its next batch, or committing it
    int status = 0;
    waitpid(pid, &status, 0);
    close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited with " << WEXITSTATUS(status);
    acked_total += last_acked - next_batch + 1;

    auto s = store::OpenSqliteStore(path, {});
    ASSERT_TRUE(s) << s.error().message;
    ManualClock clock(kT0);
    Ledger l(**s, clock);
    auto v = l.Verify();
    ASSERT_TRUE(v);
    for (const auto& p : v->problems) ADD_FAILURE() << "round " << round << ": " << p;
    for (int b = next_batch; b <= last_acked; ++b) {
      for (int i = 0; i < kBatchSize; ++i) {
        auto e = l.FindEntryByRef(Ref(b, i));
        ASSERT_TRUE(e && e->has_value()) << "acknowledged " << Ref(b, i) << " is missing";
      }
    }
    // Batches committed after the last acknowledgement we read are whole; the first one that
    // is not whole is not there at all (it was in flight at the kill).
    for (int b = last_acked + 1;; ++b) {
      int present = 0;
      for (int i = 0; i < kBatchSize; ++i) present += (*l.FindEntryByRef(Ref(b, i))).has_value();
      ASSERT_TRUE(present == 0 || present == kBatchSize) << present << " of batch " << b;
      if (present == 0) {
        next_batch = b;
        break;
      }
    }
  }
  EXPECT_GE(acked_total, 8);
}

}  // namespace
}  // namespace pay::ledger
