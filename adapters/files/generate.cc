// `paymentctl generate`: a realistic day (or more) of traffic as a transaction file.

#include <queue>
#include <string>
#include <vector>

#include "adapters/files/transaction_files.h"
#include "core/random.h"
#include "core/time_format.h"

namespace pay::files {

namespace {

constexpr int64_t kMinute = 60 * 1000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

// Test cards with their documented behaviour (docs/network-sim.md), drawn for a share of the
// authorizations.
constexpr const char* kDeclineCards[] = {"4000000000000002", "4000000000009995", "4000000000000069",
                                         "4000000000000119"};
constexpr const char* kPartialCard = "4000000000000077";
constexpr const char* kSilentCard = "4000000000000341";
constexpr const char* kLostCard = "4000000000000259";

std::string LuhnCard(uint64_t index, std::string_view prefix) {
  std::string digits(prefix);
  std::string tail = std::to_string(index);
  while (digits.size() + tail.size() < 15) digits.push_back('0');
  digits += tail;
  digits.resize(15, '0');
  int sum = 0;
  for (int k = 14; k >= 0; --k) {
    int d = digits[static_cast<size_t>(k)] - '0';
    if ((14 - k) % 2 == 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  digits.push_back(static_cast<char>('0' + (10 - sum % 10) % 10));
  return digits;
}

std::string Money(int64_t minor) {
  std::string s = std::to_string(minor / 100) + ".";
  int64_t cents = minor % 100;
  if (cents < 10) s += "0";
  return s + std::to_string(cents);
}

// The deterministic ids and fields every record shares.
std::string MerchantId(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "m%03d", i);
  return std::string(buf);
}
void Stamp(v1::Record& r, const std::string& key, int64_t t, const std::string& m) {
  r.set_idempotency_key(key);
  r.set_event_time(FormatRfc3339Ms(t));
  r.set_merchant(m);
}
void SetCard(v1::Card* c, const std::string& number) {
  c->set_number(number);
  c->set_expiry("12/30");
}

struct Scheduled {
  int64_t time_ms;
  uint64_t order;  // ties in creation order: deterministic
  v1::Record record;
  bool operator>(const Scheduled& o) const {
    return time_ms != o.time_ms ? time_ms > o.time_ms : order > o.order;
  }
};

// One run of Generate: the file being written, the random stream, and the follow-ups (captures,
// refunds, voids, ...) waiting for their time. The same seed must give the same file byte for
// byte: every step draws from rnd_ in a fixed order, so moving, adding or dropping a draw (or an
// emitted record) changes everything after it.
class Generator {
 public:
  Generator(const GenerateOptions& o, int64_t start, RecordWriter& out)
      : o_(o), start_(start), out_(out), rnd_(o.seed) {}

  // Writes the whole file; returns the number of records written.
  Result<int64_t> Run();

 private:
  Result<void> Emit(const v1::Record& r) {
    ++written_;
    return out_.Write(r);
  }
  void Schedule(int64_t t, v1::Record r) { later_.push({t, order_++, std::move(r)}); }
  // One of the --cards cardholders' numbers under `prefix`.
  std::string RandomCard(std::string_view prefix) {
    return LuhnCard(rnd_.Uniform(static_cast<uint64_t>(o_.cards)), prefix);
  }
  // 5.00 to 500.00, skewed towards small amounts: a product of two draws. The draws are two
  // statements because the operands of `*` are unsequenced (g++ and clang may draw them in
  // either order, which would give different files for one seed); this is the order g++ 12 used.
  int64_t Amount() {
    const int64_t multiplier = static_cast<int64_t>(rnd_.Uniform(200));
    const int64_t multiplicand = static_cast<int64_t>(rnd_.Uniform(250));
    return std::min<int64_t>(500 + multiplier * multiplicand, 50'000);
  }

  Result<void> Merchants();
  Result<void> Settle(const std::string& key, int64_t t);
  Result<void> Arrival(uint64_t n, int64_t now);
  Result<void> Authorization(uint64_t n, int64_t now, const std::string& m);
  void ScheduleFollowUps(uint64_t n, int64_t now, const std::string& m, const std::string& key,
                         int64_t a, bool partial_approval);
  Result<void> Payout(uint64_t n, int64_t now, const std::string& m);
  Result<void> P2p(uint64_t n, int64_t now, const std::string& m);
  Result<void> CardFunding(uint64_t n, int64_t now, const std::string& m);
  void CardTestingBurst(uint64_t n, int64_t now, const std::string& m);

  const GenerateOptions& o_;
  const int64_t start_;
  RecordWriter& out_;
  Random rnd_;
  int64_t written_ = 0;
  uint64_t order_ = 0;
  std::priority_queue<Scheduled, std::vector<Scheduled>, std::greater<>> later_;
};

Result<int64_t> Generator::Run() {
  PAY_TRY(Merchants());
  // Arrivals spread over the period; follow-ups scheduled minutes to hours after them.
  const int64_t arrivals = std::max<int64_t>(1, (o_.records - written_) * 55 / 100);
  const int64_t gap = std::max<int64_t>(1, o_.duration_ms / arrivals);
  int64_t next_arrival = start_ + static_cast<int64_t>(rnd_.Uniform(static_cast<uint64_t>(gap)));
  int64_t next_settle = start_ + kDay;
  const int64_t end = start_ + o_.duration_ms;
  uint64_t n = 0;
  while (written_ < o_.records - 1) {
    const bool follow = !later_.empty() && later_.top().time_ms <= next_arrival;
    const int64_t now = follow ? later_.top().time_ms : next_arrival;
    if (now >= next_settle && next_settle < end) {
      PAY_TRY(Settle("settle-" + std::to_string(next_settle / kDay), next_settle));
      next_settle += kDay;
      continue;
    }
    if (follow) {
      v1::Record r = later_.top().record;
      later_.pop();
      PAY_TRY(Emit(r));
      continue;
    }
    next_arrival += 1 + static_cast<int64_t>(rnd_.Uniform(static_cast<uint64_t>(2 * gap)));
    ++n;
    PAY_TRY(Arrival(n, now));
  }
  PAY_TRY(Settle("settle-final", std::max(end, next_arrival)));
  PAY_TRY(out_.Close());
  return written_;
}

// Merchants, prefunded for their payouts.
Result<void> Generator::Merchants() {
  for (int i = 0; i < o_.merchants && written_ < o_.records - 1; ++i) {
    v1::Record r;
    Stamp(r, "merchant-" + MerchantId(i), start_, MerchantId(i));
    auto* m = r.mutable_create_merchant();
    m->set_id(MerchantId(i));
    m->set_currency("USD");
    m->set_fee_bps(static_cast<int32_t>(150 + rnd_.Uniform(150)));
    m->set_fee_fixed("0.30");
    PAY_TRY(Emit(r));
    v1::Record f;
    Stamp(f, "prefund-" + MerchantId(i), start_, MerchantId(i));
    f.mutable_fund()->set_amount("1000000.00");
    f.mutable_fund()->set_currency("USD");
    if (written_ < o_.records - 1) PAY_TRY(Emit(f));
  }
  return {};
}

// The end of a day (and of the file): settlement.
Result<void> Generator::Settle(const std::string& key, int64_t t) {
  v1::Record s;
  Stamp(s, key, t, "");
  s.mutable_settle();
  return Emit(s);
}

// The n-th arrival, at `now`: a merchant, then the kind of traffic, by share.
Result<void> Generator::Arrival(uint64_t n, int64_t now) {
  const std::string m =
      MerchantId(static_cast<int>(rnd_.Uniform(static_cast<uint64_t>(o_.merchants))));
  const uint64_t kind = rnd_.Uniform(100);
  if (kind < 78) return Authorization(n, now, m);  // 78 %
  if (kind < 88) return Payout(n, now, m);         // 10 %
  if (kind < 93) return P2p(n, now, m);            //  5 %
  if (kind < 99) return CardFunding(n, now, m);    //  6 %
  CardTestingBurst(n, now, m);                     //  1 %
  return {};
}

// An authorization, and what the merchant does with it later.
Result<void> Generator::Authorization(uint64_t n, int64_t now, const std::string& m) {
  std::string number;
  const uint64_t pick = rnd_.Uniform(100);
  bool live = true;
  if (pick < 4) {
    number = kDeclineCards[rnd_.Uniform(4)];
    live = false;
  } else if (pick < 5) {
    number = kSilentCard;
    live = false;
  } else if (pick < 6) {
    number = kLostCard;
    live = false;
  } else if (pick < 8) {
    number = kPartialCard;
  } else {
    number = RandomCard("424242");
  }
  const std::string key = "auth-" + std::to_string(n);
  const int64_t a = Amount();
  v1::Record r;
  Stamp(r, key, now, m);
  SetCard(r.mutable_authorize()->mutable_card(), number);
  r.mutable_authorize()->set_amount(Money(a));
  r.mutable_authorize()->set_currency("USD");
  PAY_TRY(Emit(r));
  if (!live) return {};
  ScheduleFollowUps(n, now, m, key, a, number == kPartialCard);
  return {};
}

// Authorization `key` of `a` minor units at `now`, approved: captured in full (a few refunded
// later), captured in two parts, voided, incremented then captured, or left to expire.
void Generator::ScheduleFollowUps(uint64_t n, int64_t now, const std::string& m,
                                  const std::string& key, int64_t a, bool partial_approval) {
  const uint64_t next = rnd_.Uniform(100);
  if (next < 70) {  // captured in full
    v1::Record c;
    const int64_t t = now + 5 * kMinute + static_cast<int64_t>(rnd_.Uniform(6 * kHour));
    Stamp(c, "cap-" + std::to_string(n), t, m);
    c.mutable_capture()->set_payment_key(key);
    Schedule(t, c);
    if (rnd_.Uniform(100) < 7) {  // some come back
      v1::Record f;
      const int64_t tr = t + kHour + static_cast<int64_t>(rnd_.Uniform(8 * kHour));
      Stamp(f, "refund-" + std::to_string(n), tr, m);
      f.mutable_refund()->set_payment_key(key);
      if (!partial_approval && rnd_.OneIn(2))
        f.mutable_refund()->set_amount(Money(std::max<int64_t>(1, a / 3)));
      Schedule(tr, f);
    }
  } else if (next < 80 && !partial_approval) {  // shipped in two parts
    const int64_t first = std::max<int64_t>(1, a * 6 / 10);
    v1::Record c1, c2;
    const int64_t t1 = now + 10 * kMinute + static_cast<int64_t>(rnd_.Uniform(3 * kHour));
    const int64_t t2 = t1 + 30 * kMinute + static_cast<int64_t>(rnd_.Uniform(5 * kHour));
    Stamp(c1, "cap-" + std::to_string(n) + "a", t1, m);
    c1.mutable_capture()->set_payment_key(key);
    c1.mutable_capture()->set_amount(Money(first));
    Stamp(c2, "cap-" + std::to_string(n) + "b", t2, m);
    c2.mutable_capture()->set_payment_key(key);
    c2.mutable_capture()->set_final(true);
    Schedule(t1, c1);
    Schedule(t2, c2);
  } else if (next < 88) {  // cancelled
    v1::Record v;
    const int64_t t = now + kMinute + static_cast<int64_t>(rnd_.Uniform(2 * kHour));
    Stamp(v, "void-" + std::to_string(n), t, m);
    v.mutable_void_payment()->set_payment_key(key);
    Schedule(t, v);
  } else if (next < 92) {  // grown, then captured
    v1::Record i, c;
    const int64_t t1 = now + 10 * kMinute + static_cast<int64_t>(rnd_.Uniform(kHour));
    Stamp(i, "inc-" + std::to_string(n), t1, m);
    i.mutable_increment()->set_payment_key(key);
    i.mutable_increment()->set_amount(Money(500));
    Stamp(c, "cap-" + std::to_string(n), t1 + kHour, m);
    c.mutable_capture()->set_payment_key(key);
    Schedule(t1, i);
    Schedule(t1 + kHour, c);
  }  // else: left to expire
}

// A payout; one recipient in a few is a test card.
Result<void> Generator::Payout(uint64_t n, int64_t now, const std::string& m) {
  static constexpr const char* kPushCards[] = {"4000000000000127", "4000000000003220",
                                               "4000000000000341"};
  v1::Record r;
  Stamp(r, "push-" + std::to_string(n), now, m);
  auto* p = r.mutable_push();
  SetCard(p->mutable_card(),
          rnd_.Uniform(100) < 6 ? std::string(kPushCards[rnd_.Uniform(3)]) : RandomCard("555555"));
  p->mutable_card()->clear_expiry();
  p->set_amount(Money(Amount()));
  p->set_currency("USD");
  static constexpr const char* kPurposes[] = {"FD", "PP", "WT", "AA", "BI"};
  p->set_purpose(kPurposes[rnd_.Uniform(5)]);
  p->set_sender_name("Merchant " + m);
  p->set_recipient_name("Recipient " + std::to_string(rnd_.Uniform(100000)));
  return Emit(r);
}

// A person-to-person transfer from one card to another; one in twenty hits a test card.
Result<void> Generator::P2p(uint64_t n, int64_t now, const std::string& m) {
  v1::Record r;
  Stamp(r, "p2p-" + std::to_string(n), now, m);
  auto* p = r.mutable_p2p();
  SetCard(p->mutable_from_card(), rnd_.Uniform(100) < 5
                                      ? std::string(kDeclineCards[rnd_.Uniform(4)])
                                      : RandomCard("424242"));
  p->mutable_to_card()->set_number(rnd_.Uniform(100) < 5 ? std::string("4000000000000127")
                                                         : RandomCard("555555"));
  p->set_amount(Money(std::min<int64_t>(Amount(), 20'000)));
  p->set_currency("USD");
  p->set_sender_name("Sender");
  p->set_recipient_name("Friend");
  return Emit(r);
}

// A top-up of the merchant's account from a card (an AFT).
Result<void> Generator::CardFunding(uint64_t n, int64_t now, const std::string& m) {
  v1::Record r;
  Stamp(r, "fund-" + std::to_string(n), now, m);
  SetCard(r.mutable_fund()->mutable_card(), RandomCard("424242"));
  r.mutable_fund()->set_amount(Money(Amount()));
  r.mutable_fund()->set_currency("USD");
  return Emit(r);
}

// A card-testing burst: a dozen small authorizations on one fresh card within minutes (the
// shipped rule allows 10 an hour per card).
void Generator::CardTestingBurst(uint64_t n, int64_t now, const std::string& m) {
  const std::string number = LuhnCard(1'000'000 + n, "411111");
  for (int k = 0; k < 12; ++k) {
    v1::Record r;
    Stamp(r, "burst-" + std::to_string(n) + "-" + std::to_string(k), now + k * 5000, m);
    SetCard(r.mutable_authorize()->mutable_card(), number);
    r.mutable_authorize()->set_amount("1.00");
    r.mutable_authorize()->set_currency("USD");
    Schedule(now + k * 5000, r);
  }
}

}  // namespace

Result<int64_t> Generate(const std::string& path, Format format, const GenerateOptions& o) {
  if (o.records < 1 || o.merchants < 1 || o.merchants > 10'000 || o.cards < 1 ||
      o.duration_ms <= 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "generate: --records, --merchants (1-10000) and --cards must be positive");
  }
  PAY_ASSIGN_OR_RETURN(int64_t start, ParseRfc3339Ms(o.start_time, "--start"));
  PAY_ASSIGN_OR_RETURN(auto out, RecordWriter::Open(path, format));
  return Generator(o, start, *out).Run();
}

}  // namespace pay::files
