#include <gtest/gtest.h>
#include <sqlite3.h>

#include "tests/unit/ledger/ledger_fixture.h"

namespace pay::ledger {
namespace {

using LedgerTest = LedgerFixture;

// Expects `r` to fail with `code`, with a message that starts with `field`.
template <typename T>
void ExpectError(const Result<T>& r, ErrorCode code, const std::string& field = "") {
  ASSERT_FALSE(r.has_value()) << "expected " << ErrorName(code);
  EXPECT_EQ(r.error().code, code) << r.error().message;
  if (!field.empty()) {
    EXPECT_EQ(r.error().message.rfind(field, 0), 0u) << r.error().message;
  }
}

// ---- Accounts ----

TEST_F(LedgerTest, CreatesAccountWithDefaultsAndZeroCounters) {
  Account a = MakeAccount("alice");
  EXPECT_EQ(a.id, "alice");
  EXPECT_EQ(a.currency->code, "USD");
  EXPECT_EQ(a.normal_side(), Side::kCredit);
  EXPECT_EQ(a.overdraft, OverdraftMode::kUnlimited);
  EXPECT_EQ(a.created_at_ms, kT0);
  EXPECT_EQ(a.balance_minor(), 0);
  EXPECT_FALSE(a.replayed);
  EXPECT_EQ(MakeAccount("cash", "USD", AccountType::kAsset).normal_side(), Side::kDebit);
}

TEST_F(LedgerTest, CreatingTheSameAccountAgainReplays) {
  MakeAccount("alice");
  Account again = MakeAccount("alice");
  EXPECT_TRUE(again.replayed);
}

TEST_F(LedgerTest, AccountExistsWithOtherAttributes) {
  MakeAccount("alice");
  AccountSpec s{"alice", "EUR"};
  ExpectError(L().CreateAccount(s), ErrorCode::kAccountExists, "currency");
  s.currency = "USD";
  s.overdraft = OverdraftMode::kNone;
  ExpectError(L().CreateAccount(s), ErrorCode::kAccountExists, "overdraft");
}

TEST_F(LedgerTest, RejectsBadAccountSpecs) {
  ExpectError(L().CreateAccount({"", "USD"}), ErrorCode::kInvalidAccountId, "id");
  ExpectError(L().CreateAccount({"a b", "USD"}), ErrorCode::kInvalidAccountId, "id");
  ExpectError(L().CreateAccount({"x", "usd"}), ErrorCode::kInvalidCurrency, "currency");
  AccountSpec neg{"x", "USD", AccountType::kLiability, OverdraftMode::kLimit, -1};
  ExpectError(L().CreateAccount(neg), ErrorCode::kInvalidAmount, "overdraft_limit");
  AccountSpec stray{"x", "USD", AccountType::kLiability, OverdraftMode::kNone, 5};
  ExpectError(L().CreateAccount(stray), ErrorCode::kInvalidArgument, "overdraft_limit");
  AccountSpec md{"x", "USD"};
  for (int i = 0; i < 17; ++i) md.metadata.emplace_back("k" + std::to_string(i), "v");
  ExpectError(L().CreateAccount(md), ErrorCode::kLimitExceeded, "metadata");
  AccountSpec dup{"x", "USD"};
  dup.metadata = {{"k", "1"}, {"k", "2"}};
  ExpectError(L().CreateAccount(dup), ErrorCode::kInvalidArgument, "metadata");
  EXPECT_FALSE(L().GetAccount("x").has_value());
}

TEST_F(LedgerTest, KeepsMetadataSorted) {
  AccountSpec s{"m", "USD"};
  s.metadata = {{"b", "2"}, {"a", "1"}};
  ASSERT_TRUE(L().CreateAccount(s));
  Account a = Get("m");
  ASSERT_EQ(a.metadata.size(), 2u);
  EXPECT_EQ(a.metadata[0].first, "a");
}

// ---- Posted entries ----

TEST_F(LedgerTest, TransferMovesPostedCounters) {
  MakeAccount("cash", "USD", AccountType::kAsset);
  MakeAccount("alice");
  Entry e = MustTransfer("t1", "cash", "alice", 1234);
  EXPECT_EQ(e.seq, 1);
  EXPECT_EQ(e.kind, EntryKind::kPosted);
  EXPECT_EQ(e.created_at_ms, kT0);
  EXPECT_EQ(e.hash_hex().size(), 64u);
  Account cash = Get("cash"), alice = Get("alice");
  EXPECT_EQ(cash.debits_posted_minor, 1234);
  EXPECT_EQ(cash.balance_minor(), 1234);
  EXPECT_EQ(alice.credits_posted_minor, 1234);
  EXPECT_EQ(alice.balance_minor(), 1234);
  EXPECT_EQ(alice.available_minor(), 1234);
  EXPECT_EQ(alice.last_seq, 1);
  ExpectVerified();
}

TEST_F(LedgerTest, MultiPostingEntrySplitsAmounts) {
  MakeAccount("cash", "USD", AccountType::kAsset);
  MakeAccount("alice");
  MakeAccount("fees", "USD", AccountType::kRevenue);
  EntrySpec s;
  s.ref = "split";
  s.postings = {{"cash", Side::kDebit, 1000}, {"alice", Side::kCredit, 970}, {"fees", Side::kCredit, 30}};
  ASSERT_TRUE(L().CreateEntry(s));
  EXPECT_EQ(Get("fees").balance_minor(), 30);
  EXPECT_EQ(Get("alice").balance_minor(), 970);
  ExpectVerified();
}

TEST_F(LedgerTest, UnbalancedEntryWritesNothing) {
  MakeAccount("cash", "USD", AccountType::kAsset);
  MakeAccount("alice");
  EntrySpec s;
  s.ref = "bad";
  s.postings = {{"cash", Side::kDebit, 1000}, {"alice", Side::kCredit, 999}};
  auto r = L().CreateEntry(s);
  ExpectError(r, ErrorCode::kUnbalancedEntry, "postings");
  EXPECT_EQ(r.error().message, "postings: USD debits exceed credits by 0.01");
  EXPECT_EQ(Tip(), 0);
  EXPECT_EQ(Get("cash").debits_posted_minor, 0);
}

TEST_F(LedgerTest, CurrenciesMustBalanceOnTheirOwn) {
  MakeAccount("usd", "USD", AccountType::kAsset);
  MakeAccount("eur", "EUR");
  ExpectError(L().CreateEntry(Transfer("fx", "usd", "eur", 100)), ErrorCode::kCurrencyMismatch,
              "postings");
  // With a clearing account per currency, a cross-currency entry balances.
  MakeAccount("clear-usd", "USD");
  MakeAccount("clear-eur", "EUR", AccountType::kAsset);
  EntrySpec fx;
  fx.ref = "fx-ok";
  fx.postings = {{"usd", Side::kDebit, 110}, {"clear-usd", Side::kCredit, 110},
                 {"clear-eur", Side::kDebit, 100}, {"eur", Side::kCredit, 100}};
  ASSERT_TRUE(L().CreateEntry(fx));
  ExpectVerified();
}

TEST_F(LedgerTest, NeedsADebitAndACredit) {
  MakeAccount("a");
  MakeAccount("b");
  EntrySpec one;
  one.ref = "one";
  one.postings = {{"a", Side::kDebit, 5}};
  ExpectError(L().CreateEntry(one), ErrorCode::kTooFewPostings, "postings");
  EntrySpec debits;
  debits.ref = "two-debits";
  debits.postings = {{"a", Side::kDebit, 5}, {"b", Side::kDebit, 5}};
  ExpectError(L().CreateEntry(debits), ErrorCode::kTooFewPostings, "postings");
}

TEST_F(LedgerTest, RejectsZeroAndNegativeAmounts) {
  MakeAccount("a");
  MakeAccount("b");
  ExpectError(L().CreateEntry(Transfer("z", "a", "b", 0)), ErrorCode::kInvalidAmount, "postings[0].amount");
  ExpectError(L().CreateEntry(Transfer("n", "a", "b", -5)), ErrorCode::kInvalidAmount, "postings[0].amount");
}

TEST_F(LedgerTest, UnknownAccountNamesThePosting) {
  MakeAccount("a");
  ExpectError(L().CreateEntry(Transfer("u", "a", "ghost", 5)), ErrorCode::kUnknownAccount,
              "postings[1].account");
  ExpectError(L().CreateEntry(Transfer("u2", "a", "bad id", 5)), ErrorCode::kInvalidAccountId,
              "postings[1].account");
  EXPECT_EQ(Tip(), 0);
}

TEST_F(LedgerTest, OverflowIsAnErrorNotAWrap) {
  MakeAccount("src");
  MakeAccount("dst");
  MustTransfer("big", "src", "dst", INT64_MAX);
  ExpectError(L().CreateEntry(Transfer("more", "src", "dst", 1)), ErrorCode::kAmountOverflow, "postings");
  EXPECT_EQ(Get("dst").credits_posted_minor, INT64_MAX);
  EntrySpec sum;
  sum.ref = "sum";
  MakeAccount("x");
  MakeAccount("y");
  sum.postings = {{"x", Side::kDebit, INT64_MAX}, {"x", Side::kDebit, 1}, {"y", Side::kCredit, 1}};
  ExpectError(L().CreateEntry(sum), ErrorCode::kAmountOverflow, "postings[1].amount");
  ExpectVerified();
}

TEST_F(LedgerTest, OverdraftProtectionCountsPendingDebits) {
  MakeAccount("bank", "USD", AccountType::kAsset);
  MakeAccount("alice", "USD", AccountType::kLiability, OverdraftMode::kNone);
  MustTransfer("in", "bank", "alice", 1000);
  MustTransfer("hold", "alice", "bank", 600, /*pending=*/true);
  EXPECT_EQ(Get("alice").available_minor(), 400);
  ExpectError(L().CreateEntry(Transfer("out", "alice", "bank", 401)), ErrorCode::kOverdraft, "postings");
  ExpectError(L().CreateEntry(Transfer("out2", "alice", "bank", 401, true)), ErrorCode::kOverdraft);
  MustTransfer("out3", "alice", "bank", 400);
  EXPECT_EQ(Get("alice").available_minor(), 0);
  ExpectVerified();
}

TEST_F(LedgerTest, OverdraftLimitAllowsGoingThatFarBelowZero) {
  MakeAccount("bank", "USD", AccountType::kAsset);
  MakeAccount("bob", "USD", AccountType::kLiability, OverdraftMode::kLimit, 500);
  MustTransfer("o1", "bob", "bank", 500);
  EXPECT_EQ(Get("bob").available_minor(), -500);
  ExpectError(L().CreateEntry(Transfer("o2", "bob", "bank", 1)), ErrorCode::kOverdraft);
  // A debit-normal account with protection may not be credited below its floor.
  MakeAccount("wallet-asset", "USD", AccountType::kAsset, OverdraftMode::kNone);
  ExpectError(L().CreateEntry(Transfer("o3", "bank", "wallet-asset", 1)), ErrorCode::kOverdraft);
}

// ---- References (ledger-level idempotency) ----

TEST_F(LedgerTest, SameReferenceSameContentReplaysWithoutMoving) {
  MakeAccount("a");
  MakeAccount("b", "USD", AccountType::kLiability, OverdraftMode::kNone);
  Entry first = MustTransfer("r", "a", "b", 100);
  clock_.AdvanceMs(1000);
  Entry again = MustTransfer("r", "a", "b", 100);
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.seq, first.seq);
  EXPECT_EQ(again.hash, first.hash);
  EXPECT_EQ(again.created_at_ms, first.created_at_ms);
  EXPECT_EQ(Get("b").balance_minor(), 100);
  EXPECT_EQ(Tip(), 1);
  // Even when the same request would now be refused, the replay answers with the stored entry.
  MustTransfer("drain", "b", "a", 100);
  Entry late = MustTransfer("r", "a", "b", 100);
  EXPECT_TRUE(late.replayed);
}

TEST_F(LedgerTest, SameReferenceOtherContentIsRefused) {
  MakeAccount("a");
  MakeAccount("b");
  MustTransfer("r", "a", "b", 100);
  ExpectError(L().CreateEntry(Transfer("r", "a", "b", 101)), ErrorCode::kReferenceReused, "ref");
  EntrySpec s = Transfer("r", "a", "b", 100);
  s.description = "other";
  ExpectError(L().CreateEntry(s), ErrorCode::kReferenceReused, "ref");
  EXPECT_EQ(Tip(), 1);
}

TEST_F(LedgerTest, RejectsBadReferencesAndOversizedInput) {
  MakeAccount("a");
  MakeAccount("b");
  ExpectError(L().CreateEntry(Transfer("", "a", "b", 1)), ErrorCode::kInvalidReference, "ref");
  ExpectError(L().CreateEntry(Transfer(std::string(256, 'r'), "a", "b", 1)), ErrorCode::kInvalidReference);
  EntrySpec s = Transfer("d", "a", "b", 1);
  s.description = std::string(513, 'x');
  ExpectError(L().CreateEntry(s), ErrorCode::kLimitExceeded, "description");
  EntrySpec many;
  many.ref = "many";
  for (int i = 0; i < 65; ++i) many.postings.push_back({"a", i % 2 ? Side::kDebit : Side::kCredit, 1});
  ExpectError(L().CreateEntry(many), ErrorCode::kLimitExceeded, "postings");
}

// ---- Holds ----

TEST_F(LedgerTest, PendingEntryMovesPendingCounters) {
  MakeAccount("alice");
  MakeAccount("shop");
  MustTransfer("fund", "shop", "alice", 1000);
  Entry h = MustTransfer("h", "alice", "shop", 300, true);
  EXPECT_EQ(h.kind, EntryKind::kPending);
  EXPECT_EQ(h.state, EntryState::kPending);
  Account a = Get("alice");
  EXPECT_EQ(a.debits_pending_minor, 300);
  EXPECT_EQ(a.balance_minor(), 1000);
  EXPECT_EQ(a.available_minor(), 700);
  EXPECT_EQ(Get("shop").credits_pending_minor, 300);
  ExpectVerified();
}

TEST_F(LedgerTest, PostInFull) {
  MakeAccount("alice");
  MakeAccount("shop");
  Entry h = MustTransfer("h", "alice", "shop", 300, true);
  auto p = L().PostPending(h.seq);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->kind, EntryKind::kPost);
  EXPECT_EQ(p->resolves_seq, h.seq);
  Account a = Get("alice");
  EXPECT_EQ(a.debits_pending_minor, 0);
  EXPECT_EQ(a.debits_posted_minor, 300);
  auto again = L().GetEntry(h.seq);
  EXPECT_EQ(again->state, EntryState::kPosted);
  EXPECT_EQ(again->resolved_by_seq, p->seq);
  ExpectError(L().PostPending(h.seq), ErrorCode::kHoldAlreadyResolved, "entry");
  ExpectError(L().VoidPending(h.seq), ErrorCode::kHoldAlreadyResolved, "entry");
  ExpectVerified();
}

TEST_F(LedgerTest, PartialPostReleasesTheRest) {
  MakeAccount("alice");
  MakeAccount("shop");
  Entry h = MustTransfer("h", "alice", "shop", 300, true);
  ExpectError(L().PostPending(h.seq, 301), ErrorCode::kPostExceedsPending, "amount");
  ExpectError(L().PostPending(h.seq, 0), ErrorCode::kInvalidAmount, "amount");
  auto p = L().PostPending(h.seq, 120);
  ASSERT_TRUE(p);
  Account a = Get("alice"), s = Get("shop");
  EXPECT_EQ(a.debits_posted_minor, 120);
  EXPECT_EQ(a.debits_pending_minor, 0);
  EXPECT_EQ(s.credits_posted_minor, 120);
  EXPECT_EQ(s.credits_pending_minor, 0);
  ExpectVerified();
}

TEST_F(LedgerTest, PartialPostNeedsATwoPostingHold) {
  MakeAccount("a");
  MakeAccount("b");
  MakeAccount("c");
  EntrySpec s;
  s.ref = "multi";
  s.pending = true;
  s.postings = {{"a", Side::kDebit, 10}, {"b", Side::kCredit, 6}, {"c", Side::kCredit, 4}};
  Entry h = *L().CreateEntry(s);
  ExpectError(L().PostPending(h.seq, 5), ErrorCode::kPostExceedsPending, "amount");
  ASSERT_TRUE(L().PostPending(h.seq));  // in full it works
  ExpectVerified();
}

TEST_F(LedgerTest, VoidReleasesTheHold) {
  MakeAccount("alice");
  MakeAccount("shop");
  Entry h = MustTransfer("h", "alice", "shop", 300, true);
  auto v = L().VoidPending(h.seq);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->kind, EntryKind::kVoid);
  EXPECT_EQ(Get("alice").debits_pending_minor, 0);
  EXPECT_EQ(Get("alice").debits_posted_minor, 0);
  EXPECT_EQ(L().GetEntry(h.seq)->state, EntryState::kVoided);
  ExpectError(L().PostPending(h.seq), ErrorCode::kHoldAlreadyResolved);
  ExpectVerified();
}

TEST_F(LedgerTest, ResolvingSomethingThatIsNotAHold) {
  MakeAccount("a");
  MakeAccount("b");
  Entry e = MustTransfer("p", "a", "b", 5);
  ExpectError(L().PostPending(e.seq), ErrorCode::kNotPending, "entry");
  ExpectError(L().VoidPending(e.seq), ErrorCode::kNotPending, "entry");
  ExpectError(L().PostPending(99), ErrorCode::kEntryNotFound, "entry");
}

TEST_F(LedgerTest, ExpirySweepReleasesDueHolds) {
  MakeAccount("alice");
  MakeAccount("shop");
  EntrySpec s = Transfer("h", "alice", "shop", 300, true);
  s.expires_in_ms = 60'000;
  Entry h = *L().CreateEntry(s);
  EXPECT_EQ(h.expires_at_ms, kT0 + 60'000);
  Entry keep = MustTransfer("h2", "alice", "shop", 5, true);  // no expiry
  clock_.AdvanceMs(59'999);
  EXPECT_EQ(*L().ExpireDue(100), 0u);
  clock_.AdvanceMs(1);
  EXPECT_EQ(*L().ExpireDue(100), 1u);
  Entry after = *L().GetEntry(h.seq);
  EXPECT_EQ(after.state, EntryState::kExpired);
  auto expiry = L().GetEntry(after.resolved_by_seq);
  EXPECT_EQ(expiry->kind, EntryKind::kExpire);
  EXPECT_EQ(Get("alice").debits_pending_minor, 5);
  ExpectError(L().PostPending(h.seq), ErrorCode::kHoldExpired, "entry");
  EXPECT_EQ(L().GetEntry(keep.seq)->state, EntryState::kPending);
  ExpectVerified();
}

TEST_F(LedgerTest, EveryWriteTransactionSweepsDueHolds) {
  MakeAccount("alice", "USD", AccountType::kLiability);
  MakeAccount("shop");
  EntrySpec s = Transfer("h", "alice", "shop", 300, true);
  s.expires_in_ms = 1000;
  Entry h = *L().CreateEntry(s);
  clock_.AdvanceMs(5000);
  MakeAccount("other");  // any write transaction
  EXPECT_EQ(L().GetEntry(h.seq)->state, EntryState::kExpired);
  EXPECT_EQ(Get("alice").debits_pending_minor, 0);
}

TEST_F(LedgerTest, PostingAnExpiredHoldRecordsTheExpiryAndRefuses) {
  MakeAccount("alice");
  MakeAccount("shop");
  EntrySpec s = Transfer("h", "alice", "shop", 300, true);
  s.expires_at_ms = kT0 + 1000;
  Entry h = *L().CreateEntry(s);
  ASSERT_TRUE(L().Begin());
  clock_.AdvanceMs(1000);  // due, but the transaction began before: no sweep saw it
  ExpectError(L().PostPending(h.seq), ErrorCode::kHoldExpired, "entry");
  ASSERT_TRUE(L().Commit());
  EXPECT_EQ(L().GetEntry(h.seq)->state, EntryState::kExpired);
  EXPECT_EQ(Get("alice").debits_pending_minor, 0);
  EXPECT_EQ(Get("alice").debits_posted_minor, 0);
  ExpectVerified();
}

TEST_F(LedgerTest, ExpiryMustBeInTheFutureAndOnlyOnHolds) {
  MakeAccount("a");
  MakeAccount("b");
  EntrySpec past = Transfer("p", "a", "b", 1, true);
  past.expires_at_ms = kT0;
  ExpectError(L().CreateEntry(past), ErrorCode::kInvalidTime, "expires_at");
  EntrySpec far = Transfer("f", "a", "b", 1, true);
  far.expires_in_ms = 401LL * 86'400'000;
  ExpectError(L().CreateEntry(far), ErrorCode::kInvalidTime, "expires_in");
  EntrySpec posted = Transfer("q", "a", "b", 1);
  posted.expires_in_ms = 1000;
  ExpectError(L().CreateEntry(posted), ErrorCode::kInvalidArgument, "expires");
}

TEST_F(LedgerTest, ResolutionWithReferenceIsIdempotent) {
  MakeAccount("a");
  MakeAccount("b");
  Entry h = MustTransfer("h", "a", "b", 50, true);
  auto p1 = L().PostPending(h.seq, 20, "capture-1");
  ASSERT_TRUE(p1);
  auto p2 = L().PostPending(h.seq, 20, "capture-1");
  ASSERT_TRUE(p2) << p2.error().message;
  EXPECT_TRUE(p2->replayed);
  EXPECT_EQ(p2->seq, p1->seq);
  ExpectError(L().PostPending(h.seq, 30, "capture-1"), ErrorCode::kReferenceReused);
  EXPECT_EQ(Get("a").debits_posted_minor, 20);
}

// ---- Reversals ----

TEST_F(LedgerTest, ReversalCompensatesOnceAndLinks) {
  MakeAccount("a");
  MakeAccount("b");
  Entry e = MustTransfer("t", "a", "b", 70);
  auto r = L().Reverse(e.seq, "undo-t");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->kind, EntryKind::kReversal);
  EXPECT_EQ(r->reverses_seq, e.seq);
  EXPECT_EQ(Get("b").balance_minor(), 0);
  EXPECT_EQ(Get("b").credits_posted_minor, 70);
  EXPECT_EQ(Get("b").debits_posted_minor, 70);
  EXPECT_EQ(L().GetEntry(e.seq)->state, EntryState::kReversed);
  auto replay = L().Reverse(e.seq, "undo-t");
  ASSERT_TRUE(replay);
  EXPECT_TRUE(replay->replayed);
  ExpectError(L().Reverse(e.seq, "undo-t-again"), ErrorCode::kAlreadyReversed, "entry");
  ExpectError(L().Reverse(r->seq, "undo-undo"), ErrorCode::kNotReversible, "entry");
  ExpectError(L().Reverse(42, "nothing"), ErrorCode::kEntryNotFound, "entry");
  ExpectVerified();
}

TEST_F(LedgerTest, PendingEntriesAreVoidedNotReversed) {
  MakeAccount("a");
  MakeAccount("b");
  Entry h = MustTransfer("h", "a", "b", 70, true);
  ExpectError(L().Reverse(h.seq, "r"), ErrorCode::kNotReversible, "entry");
  auto p = L().PostPending(h.seq, 30);
  auto r = L().Reverse(p->seq, "undo-capture");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(Get("b").balance_minor(), 0);
  ExpectVerified();
}

TEST_F(LedgerTest, ReversalRespectsOverdraftProtection) {
  MakeAccount("bank", "USD", AccountType::kAsset);
  MakeAccount("alice", "USD", AccountType::kLiability, OverdraftMode::kNone);
  MakeAccount("bob");
  Entry in = MustTransfer("in", "bank", "alice", 100);
  MustTransfer("spend", "alice", "bob", 80);
  ExpectError(L().Reverse(in.seq, "undo-in"), ErrorCode::kOverdraft);
  EXPECT_EQ(L().GetEntry(in.seq)->state, EntryState::kNone);
}

// ---- History and as-of ----

TEST_F(LedgerTest, HistoryHasRunningBalances) {
  MakeAccount("bank", "USD", AccountType::kAsset);
  MakeAccount("alice");
  MustTransfer("1", "bank", "alice", 100);
  clock_.AdvanceMs(10);
  Entry h = MustTransfer("2", "alice", "bank", 30, true);
  clock_.AdvanceMs(10);
  ASSERT_TRUE(L().PostPending(h.seq, 20));
  MakeAccount("other");
  MustTransfer("3", "bank", "other", 5);  // does not touch alice
  auto lines = L().History("alice", 100);
  ASSERT_TRUE(lines) << lines.error().message;
  ASSERT_EQ(lines->size(), 3u);
  EXPECT_EQ((*lines)[0].credit_minor, 100);
  EXPECT_EQ((*lines)[0].balance_minor, 100);
  EXPECT_EQ((*lines)[1].pending_change_minor, 30);
  EXPECT_EQ((*lines)[1].balance_minor, 100);
  EXPECT_EQ((*lines)[1].available_minor, 70);
  EXPECT_EQ((*lines)[2].debit_minor, 20);
  EXPECT_EQ((*lines)[2].pending_change_minor, -30);
  EXPECT_EQ((*lines)[2].balance_minor, 80);
  auto last = L().History("alice", 1);
  ASSERT_EQ(last->size(), 1u);
  EXPECT_EQ((*last)[0].seq, 3);
  ExpectError(L().History("ghost", 10), ErrorCode::kUnknownAccount, "account");
}

TEST_F(LedgerTest, BalanceAsOfEntryAndTime) {
  MakeAccount("bank", "USD", AccountType::kAsset);
  MakeAccount("alice");
  MustTransfer("1", "bank", "alice", 100);  // seq 1 at kT0
  clock_.AdvanceMs(1000);
  MustTransfer("2", "bank", "alice", 50);   // seq 2 at kT0+1000
  clock_.AdvanceMs(1000);
  MustTransfer("3", "alice", "bank", 30);   // seq 3 at kT0+2000
  auto at = [&](AsOf::By by, int64_t v) { return L().GetAccountAsOf("alice", {by, v})->balance_minor(); };
  EXPECT_EQ(at(AsOf::By::kSeq, 0), 0);
  EXPECT_EQ(at(AsOf::By::kSeq, 1), 100);
  EXPECT_EQ(at(AsOf::By::kSeq, 2), 150);
  EXPECT_EQ(at(AsOf::By::kSeq, 3), 120);
  EXPECT_EQ(at(AsOf::By::kSeq, 99), 120);
  EXPECT_EQ(at(AsOf::By::kTime, kT0 - 1), 0);
  EXPECT_EQ(at(AsOf::By::kTime, kT0), 100);
  EXPECT_EQ(at(AsOf::By::kTime, kT0 + 1999), 150);
  EXPECT_EQ(at(AsOf::By::kTime, kT0 + 2000), 120);
}

TEST_F(LedgerTest, CreatedAtNeverGoesBackwards) {
  MakeAccount("a");
  MakeAccount("b");
  MustTransfer("1", "a", "b", 1);
  clock_.AdvanceMs(-5000);
  Entry e = MustTransfer("2", "a", "b", 1);
  EXPECT_EQ(e.created_at_ms, kT0);
}

// ---- Batches and transactions ----

TEST_F(LedgerTest, BatchRejectsABadEntryAloneAndCommitsTheRest) {
  MakeAccount("a");
  MakeAccount("b");
  std::vector<EntrySpec> batch = {Transfer("1", "a", "b", 1), Transfer("2", "a", "ghost", 1),
                                  Transfer("3", "a", "b", 3), Transfer("1", "a", "b", 1),
                                  Transfer("1", "a", "b", 2)};
  auto results = L().CreateEntries(batch);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_TRUE(results[0]);
  ExpectError(results[1], ErrorCode::kUnknownAccount);
  EXPECT_TRUE(results[2]);
  ASSERT_TRUE(results[3]);
  EXPECT_TRUE(results[3]->replayed);  // same ref earlier in the same batch
  ExpectError(results[4], ErrorCode::kReferenceReused);
  EXPECT_EQ(Get("b").balance_minor(), 4);
  Reopen();  // durable
  EXPECT_EQ(Get("b").balance_minor(), 4);
  ExpectVerified();
}

TEST_F(LedgerTest, RollbackLeavesTheBooksAsTheyWere) {
  MakeAccount("a");
  MakeAccount("b");
  MustTransfer("0", "a", "b", 1);
  ASSERT_TRUE(L().Begin());
  ASSERT_TRUE(L().CreateEntry(Transfer("1", "a", "b", 10)));
  ExpectError(L().CreateEntry(Transfer("2", "a", "b", -1)), ErrorCode::kInvalidAmount);
  ASSERT_TRUE(L().CreateEntry(Transfer("3", "a", "b", 10)));  // still usable after an error
  EXPECT_EQ(Get("b").balance_minor(), 21);                    // sees its own writes
  L().Rollback();
  EXPECT_EQ(Get("b").balance_minor(), 1);
  EXPECT_EQ(Tip(), 1);
  MustTransfer("4", "a", "b", 2);  // the chain continues from the committed tip
  ExpectVerified();
}

TEST_F(LedgerTest, TwoLedgersOnOneFileSeeEachOther) {
  MakeAccount("bank", "USD", AccountType::kAsset);
  MakeAccount("alice", "USD", AccountType::kLiability, OverdraftMode::kNone);
  MustTransfer("in", "bank", "alice", 100);
  auto other_store = store::OpenSqliteStore(path(), {});
  ASSERT_TRUE(other_store);
  Ledger other(**other_store, clock_);
  ASSERT_TRUE(other.CreateEntry(Transfer("spend", "alice", "bank", 100)));
  // This ledger's cache is stale; its next transaction must notice and refuse the overdraft.
  ExpectError(L().CreateEntry(Transfer("spend-again", "alice", "bank", 1)), ErrorCode::kOverdraft);
  MustTransfer("in-2", "bank", "alice", 5);
  ExpectVerified();
}

TEST_F(LedgerTest, BusyStoreIsATransientError) {
  store::StoreOptions opts;
  opts.busy_timeout_ms = 0;
  Reopen(opts);
  MakeAccount("a");
  MakeAccount("b");
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto r = L().CreateEntry(Transfer("t", "a", "b", 5));
  ExpectError(r, ErrorCode::kStoreBusy);
  EXPECT_EQ(ErrorRetryAdvice(r.error().code), RetryAdvice::kRetrySameKey);
  sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  MustTransfer("t", "a", "b", 5);  // the same request now succeeds
  EXPECT_EQ(Get("b").balance_minor(), 5);
}

TEST_F(LedgerTest, FullDiskFailsTheWholeBatchAndWritesNothing) {
  MakeAccount("a");
  MakeAccount("b");
  MustTransfer("0", "a", "b", 1);
  auto pages = [&] {
    sqlite3* raw = nullptr;
    sqlite3_open(path().c_str(), &raw);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(raw, "PRAGMA page_count", -1, &st, nullptr);
    sqlite3_step(st);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(raw);
    return n;
  };
  store::StoreOptions opts;
  opts.max_pages = pages();
  Reopen(opts);
  std::vector<EntrySpec> batch;
  for (int i = 0; i < 2000; ++i) {
    EntrySpec s = Transfer("big-" + std::to_string(i), "a", "b", 1);
    s.description = std::string(400, 'd');
    batch.push_back(s);
  }
  auto results = L().CreateEntries(batch);
  for (const auto& r : results) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kStoreIo) << r.error().message;
  }
  Reopen();
  EXPECT_EQ(Get("b").balance_minor(), 1);
  EXPECT_EQ(Tip(), 1);
  MustTransfer("after", "a", "b", 1);
  ExpectVerified();
}

}  // namespace
}  // namespace pay::ledger
