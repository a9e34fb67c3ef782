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

struct Scheduled {
  int64_t time_ms;
  uint64_t order;  // ties in creation order: deterministic
  v1::Record record;
  bool operator>(const Scheduled& o) const {
    return time_ms != o.time_ms ? time_ms > o.time_ms : order > o.order;
  }
};

}  // namespace

Result<int64_t> Generate(const std::string& path, Format format, const GenerateOptions& o) {
  if (o.records < 1 || o.merchants < 1 || o.merchants > 10'000 || o.cards < 1 || o.duration_ms <= 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "generate: --records, --merchants (1-10000) and --cards must be positive");
  }
  PAY_ASSIGN_OR_RETURN(int64_t start, ParseRfc3339Ms(o.start_time, "--start"));
  PAY_ASSIGN_OR_RETURN(auto out, RecordWriter::Open(path, format));
  Random rnd(o.seed);
  int64_t written = 0;
  uint64_t order = 0;
  std::priority_queue<Scheduled, std::vector<Scheduled>, std::greater<>> later;
  auto emit = [&](const v1::Record& r) -> Result<void> {
    ++written;
    return out->Write(r);
  };
  auto merchant = [&](int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "m%03d", i);
    return std::string(buf);
  };
  auto stamp = [](v1::Record& r, const std::string& key, int64_t t, const std::string& m) {
    r.set_idempotency_key(key);
    r.set_event_time(FormatRfc3339Ms(t));
    r.set_merchant(m);
  };
  auto card = [&](v1::Card* c, const std::string& number) {
    c->set_number(number);
    c->set_expiry("12/30");
  };
  auto schedule = [&](int64_t t, v1::Record r) { later.push({t, order++, std::move(r)}); };

  // Merchants, prefunded for their payouts.
  for (int i = 0; i < o.merchants && written < o.records - 1; ++i) {
    v1::Record r;
    stamp(r, "merchant-" + merchant(i), start, merchant(i));
    auto* m = r.mutable_create_merchant();
    m->set_id(merchant(i));
    m->set_currency("USD");
    m->set_fee_bps(static_cast<int32_t>(150 + rnd.Uniform(150)));
    m->set_fee_fixed("0.30");
    PAY_TRY(emit(r));
    v1::Record f;
    stamp(f, "prefund-" + merchant(i), start, merchant(i));
    f.mutable_fund()->set_amount("1000000.00");
    f.mutable_fund()->set_currency("USD");
    if (written < o.records - 1) PAY_TRY(emit(f));
  }

  // Arrivals spread over the period; follow-ups scheduled minutes to hours after them.
  const int64_t arrivals = std::max<int64_t>(1, (o.records - written) * 55 / 100);
  const int64_t gap = std::max<int64_t>(1, o.duration_ms / arrivals);
  int64_t next_arrival = start + static_cast<int64_t>(rnd.Uniform(static_cast<uint64_t>(gap)));
  int64_t next_settle = start + kDay;
  const int64_t end = start + o.duration_ms;
  uint64_t n = 0;
  auto amount = [&] {
    int64_t a = 500 + static_cast<int64_t>(rnd.Uniform(200)) * static_cast<int64_t>(rnd.Uniform(250));
    return std::min<int64_t>(a, 50'000);
  };
  while (written < o.records - 1) {
    const bool follow = !later.empty() && later.top().time_ms <= next_arrival;
    const int64_t now = follow ? later.top().time_ms : next_arrival;
    if (now >= next_settle && next_settle < end) {
      v1::Record s;
      stamp(s, "settle-" + std::to_string(next_settle / kDay), next_settle, "");
      s.mutable_settle();
      PAY_TRY(emit(s));
      next_settle += kDay;
      continue;
    }
    if (follow) {
      v1::Record r = later.top().record;
      later.pop();
      PAY_TRY(emit(r));
      continue;
    }
    next_arrival += 1 + static_cast<int64_t>(rnd.Uniform(static_cast<uint64_t>(2 * gap)));
    ++n;
    const std::string m = merchant(static_cast<int>(rnd.Uniform(static_cast<uint64_t>(o.merchants))));
    const uint64_t kind = rnd.Uniform(100);
    if (kind < 78) {
      // An authorization, and what the merchant does with it later.
      std::string number;
      const uint64_t pick = rnd.Uniform(100);
      bool live = true;
      if (pick < 4) {
        number = kDeclineCards[rnd.Uniform(4)];
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
        number = LuhnCard(rnd.Uniform(static_cast<uint64_t>(o.cards)), "424242");
      }
      const std::string key = "auth-" + std::to_string(n);
      const int64_t a = amount();
      v1::Record r;
      stamp(r, key, now, m);
      card(r.mutable_authorize()->mutable_card(), number);
      r.mutable_authorize()->set_amount(Money(a));
      r.mutable_authorize()->set_currency("USD");
      PAY_TRY(emit(r));
      if (!live) continue;
      const uint64_t next = rnd.Uniform(100);
      const bool partial_approval = number == kPartialCard;
      if (next < 70) {  // captured in full
        v1::Record c;
        const int64_t t = now + 5 * kMinute + static_cast<int64_t>(rnd.Uniform(6 * kHour));
        stamp(c, "cap-" + std::to_string(n), t, m);
        c.mutable_capture()->set_payment_key(key);
        schedule(t, c);
        if (rnd.Uniform(100) < 7) {  // some come back
          v1::Record f;
          const int64_t tr = t + kHour + static_cast<int64_t>(rnd.Uniform(8 * kHour));
          stamp(f, "refund-" + std::to_string(n), tr, m);
          f.mutable_refund()->set_payment_key(key);
          if (!partial_approval && rnd.OneIn(2)) f.mutable_refund()->set_amount(Money(std::max<int64_t>(1, a / 3)));
          schedule(tr, f);
        }
      } else if (next < 80 && !partial_approval) {  // shipped in two parts
        const int64_t first = std::max<int64_t>(1, a * 6 / 10);
        v1::Record c1, c2;
        const int64_t t1 = now + 10 * kMinute + static_cast<int64_t>(rnd.Uniform(3 * kHour));
        const int64_t t2 = t1 + 30 * kMinute + static_cast<int64_t>(rnd.Uniform(5 * kHour));
        stamp(c1, "cap-" + std::to_string(n) + "a", t1, m);
        c1.mutable_capture()->set_payment_key(key);
        c1.mutable_capture()->set_amount(Money(first));
        stamp(c2, "cap-" + std::to_string(n) + "b", t2, m);
        c2.mutable_capture()->set_payment_key(key);
        c2.mutable_capture()->set_final(true);
        schedule(t1, c1);
        schedule(t2, c2);
      } else if (next < 88) {  // cancelled
        v1::Record v;
        const int64_t t = now + kMinute + static_cast<int64_t>(rnd.Uniform(2 * kHour));
        stamp(v, "void-" + std::to_string(n), t, m);
        v.mutable_void_payment()->set_payment_key(key);
        schedule(t, v);
      } else if (next < 92) {  // grown, then captured
        v1::Record i, c;
        const int64_t t1 = now + 10 * kMinute + static_cast<int64_t>(rnd.Uniform(kHour));
        stamp(i, "inc-" + std::to_string(n), t1, m);
        i.mutable_increment()->set_payment_key(key);
        i.mutable_increment()->set_amount(Money(500));
        stamp(c, "cap-" + std::to_string(n), t1 + kHour, m);
        c.mutable_capture()->set_payment_key(key);
        schedule(t1, i);
        schedule(t1 + kHour, c);
      }  // else: left to expire
    } else if (kind < 88) {
      // A payout; one recipient in a few is a test card.
      static constexpr const char* kPushCards[] = {"4000000000000127", "4000000000003220", "4000000000000341"};
      v1::Record r;
      stamp(r, "push-" + std::to_string(n), now, m);
      auto* p = r.mutable_push();
      card(p->mutable_card(), rnd.Uniform(100) < 6 ? std::string(kPushCards[rnd.Uniform(3)])
                                                    : LuhnCard(rnd.Uniform(static_cast<uint64_t>(o.cards)), "555555"));
      p->mutable_card()->clear_expiry();
      p->set_amount(Money(amount()));
      p->set_currency("USD");
      static constexpr const char* kPurposes[] = {"FD", "PP", "WT", "AA", "BI"};
      p->set_purpose(kPurposes[rnd.Uniform(5)]);
      p->set_sender_name("Merchant " + m);
      p->set_recipient_name("Recipient " + std::to_string(rnd.Uniform(100000)));
      PAY_TRY(emit(r));
    } else if (kind < 93) {
      v1::Record r;
      stamp(r, "p2p-" + std::to_string(n), now, m);
      auto* p = r.mutable_p2p();
      card(p->mutable_from_card(), rnd.Uniform(100) < 5 ? std::string(kDeclineCards[rnd.Uniform(4)])
                                                        : LuhnCard(rnd.Uniform(static_cast<uint64_t>(o.cards)), "424242"));
      p->mutable_to_card()->set_number(rnd.Uniform(100) < 5 ? std::string("4000000000000127")
                                                           : LuhnCard(rnd.Uniform(static_cast<uint64_t>(o.cards)), "555555"));
      p->set_amount(Money(std::min<int64_t>(amount(), 20'000)));
      p->set_currency("USD");
      p->set_sender_name("Sender");
      p->set_recipient_name("Friend");
      PAY_TRY(emit(r));
    } else if (kind < 99) {
      v1::Record r;
      stamp(r, "fund-" + std::to_string(n), now, m);
      card(r.mutable_fund()->mutable_card(), LuhnCard(rnd.Uniform(static_cast<uint64_t>(o.cards)), "424242"));
      r.mutable_fund()->set_amount(Money(amount()));
      r.mutable_fund()->set_currency("USD");
      PAY_TRY(emit(r));
    } else {
      // A card-testing burst: a dozen small authorizations on one fresh card within minutes
      // (the shipped rule allows 10 an hour per card).
      const std::string number = LuhnCard(1'000'000 + n, "411111");
      for (int k = 0; k < 12; ++k) {
        v1::Record r;
        stamp(r, "burst-" + std::to_string(n) + "-" + std::to_string(k), now + k * 5000, m);
        card(r.mutable_authorize()->mutable_card(), number);
        r.mutable_authorize()->set_amount("1.00");
        r.mutable_authorize()->set_currency("USD");
        schedule(now + k * 5000, r);
      }
    }
  }
  v1::Record s;
  stamp(s, "settle-final", std::max(end, next_arrival), "");
  s.mutable_settle();
  PAY_TRY(emit(s));
  PAY_TRY(out->Close());
  return written;
}

}  // namespace pay::files
