// Velocity windows (rails/guards/velocity_window.h): every algorithm against a straightforward
// reference model with exact rationals on random event streams (printed seed; PAY_SEED=N reruns
// one), exact retry-after, the sliding-window counter's documented bound, edge cases (too many
// units, limit 0, amounts near INT64_MAX, time going backwards, spec changes), purity of Check,
// and the encoding (round trips, every truncation and random bytes rejected without a crash).

#include "rails/guards/velocity_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "core/encoding.h"
#include "core/random.h"

namespace pay::guards {

// Test names and failure messages show the algorithm's name.
void PrintTo(Algorithm a, std::ostream* os) { *os << AlgorithmName(a); }

namespace {

__extension__ typedef __int128 i128;

constexpr Algorithm kAll[] = {Algorithm::kFixedWindow,          Algorithm::kSlidingLog,
                              Algorithm::kSlidingWindowCounter, Algorithm::kTokenBucket,
                              Algorithm::kLeakyBucket,          Algorithm::kGcra};
constexpr int64_t kT0 = 1'790'000'000'000;  // 2026

uint64_t Seed() {
  static const uint64_t seed = [] {
    const char* s = std::getenv("PAY_SEED");
    uint64_t v = s ? std::strtoull(s, nullptr, 10) : 20261128;
    std::cout << "[ velocity ] PAY_SEED=" << v << "\n";
    return v;
  }();
  return seed;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - (a % b != 0 && a < 0 ? 1 : 0); }

// An exact fraction, always normalised (den > 0).
struct Q {
  i128 num = 0, den = 1;
  static i128 Gcd(i128 a, i128 b) {
    if (a < 0) a = -a;
    while (b != 0) {
      i128 t = a % b;
      a = b;
      b = t;
    }
    return a;
  }
  static Q Of(i128 n, i128 d = 1) {
    if (d < 0) n = -n, d = -d;
    i128 g = Gcd(n, d);
    return g > 1 ? Q{n / g, d / g} : Q{n, d};
  }
  friend Q operator+(Q a, Q b) { return Of(a.num * b.den + b.num * a.den, a.den * b.den); }
  friend Q operator-(Q a, Q b) { return Of(a.num * b.den - b.num * a.den, a.den * b.den); }
  friend bool operator<=(Q a, Q b) { return a.num * b.den <= b.num * a.den; }
};
Q Min(Q a, Q b) { return a <= b ? a : b; }
Q Max(Q a, Q b) { return a <= b ? b : a; }

// Each algorithm by its textbook definition, on exact rationals and the full event history.
// GCRA is checked against the token bucket: the admission it promises.
class Reference {
 public:
  explicit Reference(WindowSpec s) : s_(s) {}

  bool Allows(int64_t t, int64_t units) const {
    if (units <= 0) return true;
    t = std::max(t, last_);
    const int64_t w = s_.window_ms, limit = s_.limit;
    switch (s_.algorithm) {
      case Algorithm::kFixedWindow:
        return Sum(FloorDiv(t, w) * w, t + 1) + units <= limit;
      case Algorithm::kSlidingLog:
        return Sum(t - w + 1, t + 1) + units <= limit;
      case Algorithm::kSlidingWindowCounter: {
        int64_t start = FloorDiv(t, w) * w;
        Q estimate = Q::Of(static_cast<i128>(Sum(start - w, start)) * (w - (t - start)), w) +
                     Q::Of(Sum(start, t + 1));
        return estimate + Q::Of(units) <= Q::Of(limit);
      }
      case Algorithm::kTokenBucket:
      case Algorithm::kGcra:
        return Q::Of(units) <= Tokens(t);
      case Algorithm::kLeakyBucket:
        return Level(t) + Q::Of(units) <= Q::Of(limit);
    }
    return false;
  }
  void Record(int64_t t, int64_t units) {
    units = std::max<int64_t>(units, 0);
    t = std::max(t, last_);
    tokens_ = Tokens(t) - Q::Of(units);
    level_ = Level(t) + Q::Of(units);
    events_.push_back({t, units});
    last_ = t;
  }
  // Units recorded in [from, to).
  int64_t Sum(int64_t from, int64_t to) const {
    int64_t sum = 0;
    for (const auto& [t, u] : events_) sum += t >= from && t < to ? u : 0;
    return sum;
  }

 private:
  Q Tokens(int64_t t) const {
    if (last_ == INT64_MIN) return Q::Of(s_.limit);
    return Min(Q::Of(s_.limit),
               tokens_ + Q::Of(static_cast<i128>(t - last_) * s_.limit, s_.window_ms));
  }
  Q Level(int64_t t) const {
    if (last_ == INT64_MIN) return Q{};
    return Max(Q{}, level_ - Q::Of(static_cast<i128>(t - last_) * s_.limit, s_.window_ms));
  }

  WindowSpec s_;
  int64_t last_ = INT64_MIN;
  Q tokens_, level_;
  std::vector<std::pair<int64_t, int64_t>> events_;
};

WindowSpec RandomSpec(Random& rnd, Algorithm a) {
  int64_t w;
  switch (rnd.Uniform(6)) {
    case 0:
      w = rnd.Range(1, 4);
      break;
    case 1:
      w = rnd.Range(5, 60);
      break;
    case 2:
      w = 86'400'000;
      break;
    default:
      w = rnd.Range(100, 5000);
      break;
  }
  // Counts (small limits) or amounts (large ones).
  int64_t limit = rnd.OneIn(3) ? rnd.Range(1'000, 5'000'000) : rnd.Range(0, 12);
  return {a, w, limit};
}

// Random stream of checks; consume what passes, and now and then what does not (shadow rules).
void RunStream(Random& rnd, const WindowSpec& spec, int steps, bool force_some) {
  SCOPED_TRACE(std::string(AlgorithmName(spec.algorithm)) + " w=" + std::to_string(spec.window_ms) +
               " limit=" + std::to_string(spec.limit));
  Reference ref(spec);
  WindowState st;
  int64_t t = rnd.OneIn(4) ? -rnd.Range(0, 10'000'000) : kT0 + rnd.Range(0, spec.window_ms);
  const int64_t big = std::max<int64_t>(1, spec.limit + spec.limit / 5);
  for (int i = 0; i < steps; ++i) {
    switch (rnd.Uniform(12)) {
      case 0:
        t += rnd.Range(0, 3 * spec.window_ms);
        break;
      case 1:
        t -= rnd.Range(1, spec.window_ms);
        break;  // the clock goes back
      default:
        t += rnd.Range(0, spec.window_ms / 4 + 1);
        break;
    }
    int64_t units = spec.limit > 100 ? rnd.Range(0, big / 3 + 1) : rnd.Range(1, 3);
    if (rnd.OneIn(20)) units = rnd.Range(0, big);
    SCOPED_TRACE("step " + std::to_string(i) + " t=" + std::to_string(t) +
                 " units=" + std::to_string(units));
    const WindowState before = st;
    Decision d = Check(spec, st, t, units);
    ASSERT_TRUE(st == before) << "Check changed the state";
    ASSERT_EQ(d.allowed, ref.Allows(t, units));
    if (d.allowed) {
      ASSERT_EQ(d.retry_after_ms, 0);
    } else if (units > spec.limit) {
      ASSERT_EQ(d.retry_after_ms, -1);
    } else {
      ASSERT_GE(d.retry_after_ms, 1);
      const int64_t at = t + d.retry_after_ms;
      ASSERT_TRUE(Check(spec, st, at, units).allowed) << "retry " << d.retry_after_ms;
      ASSERT_FALSE(Check(spec, st, at - 1, units).allowed) << "retry " << d.retry_after_ms;
      ASSERT_TRUE(ref.Allows(at, units));
      ASSERT_FALSE(ref.Allows(at - 1, units));
    }
    if (d.allowed || (force_some && rnd.OneIn(6))) {
      Consume(spec, st, t, units);
      ref.Record(t, units);
    }
    if (rnd.OneIn(16)) {
      auto back = DecodeState(EncodeState(st));
      ASSERT_TRUE(back.has_value()) << back.error().message;
      ASSERT_TRUE(*back == st);
      st = *back;
    }
  }
}

class WindowAlgorithmTest : public ::testing::TestWithParam<Algorithm> {};

TEST_P(WindowAlgorithmTest, AgreesWithItsReferenceDecisionForDecision) {
  Random rnd(Seed() * 31 + static_cast<uint64_t>(GetParam()));
  for (int round = 0; round < 150; ++round) {
    ASSERT_NO_FATAL_FAILURE(RunStream(rnd, RandomSpec(rnd, GetParam()), 250, round % 2 == 1))
        << "round " << round;
  }
}

TEST_P(WindowAlgorithmTest, LimitZeroRefusesEveryUnitForever) {
  WindowSpec spec{GetParam(), 1000, 0};
  WindowState st;
  for (int64_t t : {kT0, kT0 + 5'000, kT0 + kVelocityWindowMsMax}) {
    Decision d = Check(spec, st, t, 1);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_ms, -1);
    EXPECT_EQ(d.remaining, 0);
    EXPECT_TRUE(Check(spec, st, t, 0).allowed) << "0 units add nothing";
    Consume(spec, st, t, 3);  // shadow
  }
}

TEST_P(WindowAlgorithmTest, MoreUnitsThanTheLimitNeverPass) {
  WindowSpec spec{GetParam(), 1000, 5};
  WindowState st;
  Decision d = Check(spec, st, kT0, 6);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_ms, -1);
  EXPECT_EQ(d.remaining, 5);
  EXPECT_TRUE(Check(spec, st, kT0, 5).allowed);
}

TEST_P(WindowAlgorithmTest, HugeAmountsNearInt64MaxDoNotOverflow) {
  WindowSpec spec{GetParam(), 400LL * 86'400'000, INT64_MAX};
  WindowState st;
  Decision d = Check(spec, st, kT0, INT64_MAX);
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, INT64_MAX);
  Consume(spec, st, kT0, INT64_MAX);
  d = Check(spec, st, kT0, 1);
  EXPECT_FALSE(d.allowed);
  EXPECT_GT(d.retry_after_ms, 0);
  EXPECT_EQ(d.used, INT64_MAX);
  EXPECT_EQ(d.remaining, 0);
  // Recorded anyway (shadow), far beyond INT64_MAX in total: saturates (a bucket then drains
  // from INT64_MAX units), still refuses a big request.
  for (int i = 0; i < 5; ++i) Consume(spec, st, kT0 + i, INT64_MAX - i);
  d = Check(spec, st, kT0 + 10, INT64_MAX / 2);
  EXPECT_FALSE(d.allowed);
  EXPECT_GT(d.retry_after_ms, 0);
  auto back = DecodeState(EncodeState(st));
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(*back == st);
  // Tiny window, huge limit and units: every product stays in range.
  WindowSpec tiny{GetParam(), 1, INT64_MAX - 1};
  WindowState s2;
  Consume(tiny, s2, kVelocityTimeMsMax, INT64_MAX);
  d = Check(tiny, s2, INT64_MAX, INT64_MAX - 1);
  EXPECT_FALSE(d.allowed);
  EXPECT_GE(d.retry_after_ms, 1);
  d = Check(tiny, s2, INT64_MIN, INT64_MAX);
  EXPECT_EQ(d.retry_after_ms, -1);
}

TEST_P(WindowAlgorithmTest, EarlierTimeCountsAsTheLatestSeen) {
  WindowSpec spec{GetParam(), 1000, 3};
  WindowState st;
  Consume(spec, st, kT0 + 5'500, 3);
  Decision at_latest = Check(spec, st, kT0 + 5'500, 1);
  Decision earlier = Check(spec, st, kT0 + 2'000, 1);
  ASSERT_FALSE(at_latest.allowed);
  EXPECT_FALSE(earlier.allowed);
  // Retry-after counts from the caller's (earlier) now.
  EXPECT_EQ(earlier.retry_after_ms, at_latest.retry_after_ms + 3'500);
  Consume(spec, st, kT0 + 1'000, 0);
  EXPECT_EQ(st.last_ms(), kT0 + 5'500);
}

TEST_P(WindowAlgorithmTest, NegativeUnitsCountAsZero) {
  WindowSpec spec{GetParam(), 1000, 2};
  WindowState st;
  Consume(spec, st, kT0, 2);
  EXPECT_TRUE(Check(spec, st, kT0, -5).allowed);
  Consume(spec, st, kT0, -5);
  EXPECT_FALSE(Check(spec, st, kT0, 1).allowed);
}

TEST_P(WindowAlgorithmTest, StateOfAnotherAlgorithmCountsAsEmpty) {
  Algorithm other = GetParam() == Algorithm::kGcra ? Algorithm::kFixedWindow : Algorithm::kGcra;
  WindowState st;
  Consume({other, 1000, 2}, st, kT0, 2);
  EXPECT_TRUE(Check({GetParam(), 1000, 2}, st, kT0, 2).allowed);
}

TEST_P(WindowAlgorithmTest, EncodingRoundTripsAndRejectsEveryTruncation) {
  Random rnd(Seed() + 5 + static_cast<uint64_t>(GetParam()));
  WindowSpec spec{GetParam(), 1000, 50};
  WindowState st;
  ASSERT_TRUE(DecodeState(EncodeState(st)).has_value());
  int64_t t = kT0;
  for (int i = 0; i < 60; ++i) Consume(spec, st, t += rnd.Range(0, 40), rnd.Range(1, 3));
  const std::string bytes = EncodeState(st);
  auto back = DecodeState(bytes);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_TRUE(*back == st);
  EXPECT_EQ(EncodeState(*back), bytes);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    auto bad = DecodeState(std::string_view(bytes).substr(0, cut));
    ASSERT_FALSE(bad.has_value()) << "cut at " << cut;
    EXPECT_EQ(bad.error().code, ErrorCode::kCorruptStore);
  }
  EXPECT_FALSE(DecodeState(bytes + "x").has_value());
  // Damaged bytes either fail to decode or give a state that Check and Consume handle.
  for (int i = 0; i < 3000; ++i) {
    std::string junk = bytes;
    for (int k = rnd.Range(1, 3); k > 0; --k) {
      junk[rnd.Uniform(junk.size())] = static_cast<char>(rnd.Next());
    }
    auto s = DecodeState(junk);
    if (!s.has_value()) {
      EXPECT_EQ(s.error().code, ErrorCode::kCorruptStore);
      continue;
    }
    for (Algorithm a : kAll) {
      WindowSpec any{a, rnd.Range(1, 5000), rnd.OneIn(2) ? INT64_MAX : rnd.Range(0, 100)};
      (void)Check(any, *s, rnd.OneIn(2) ? INT64_MIN : kT0, rnd.Range(0, INT64_MAX));
      WindowState copy = *s;
      Consume(any, copy, kT0, rnd.Range(0, INT64_MAX));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, WindowAlgorithmTest, ::testing::ValuesIn(kAll),
                         [](const auto& info) { return std::string(AlgorithmName(info.param)); });

TEST(SlidingWindowCounterTest, StaysWithinItsDocumentedBoundOfTheExactLog) {
  // Admitted-only traffic: in every (t - w, t], at most limit + floor(limit * (w - 2) / w).
  Random rnd(Seed() + 99);
  int64_t worst_excess = 0;
  for (int round = 0; round < 300; ++round) {
    WindowSpec spec = RandomSpec(rnd, Algorithm::kSlidingWindowCounter);
    if (spec.limit > 100) spec.limit = rnd.Range(1, 30);
    const int64_t w = spec.window_ms;
    const int64_t bound =
        spec.limit +
        (w >= 2 ? static_cast<int64_t>(static_cast<i128>(spec.limit) * (w - 2) / w) : 0);
    WindowState st;
    std::vector<std::pair<int64_t, int64_t>> admitted;
    int64_t t = kT0 + rnd.Range(0, w);
    for (int i = 0; i < 300; ++i) {
      t += rnd.OneIn(3) ? 0 : rnd.Range(0, std::max<int64_t>(1, w / 3));
      int64_t units = rnd.Range(1, std::max<int64_t>(1, spec.limit / 2));
      if (!Check(spec, st, t, units).allowed) continue;
      Consume(spec, st, t, units);
      admitted.emplace_back(t, units);
      int64_t sum = 0;
      for (const auto& [at, u] : admitted) sum += at > t - w ? u : 0;
      ASSERT_LE(sum, bound) << "w=" << w << " limit=" << spec.limit << " round " << round;
      worst_excess = std::max(worst_excess, sum - spec.limit);
    }
  }
  EXPECT_GT(worst_excess, 0) << "streams never exercised the estimate";
}

TEST(SlidingWindowCounterTest, BoundIsReachedWhenThePreviousWindowEndsInABurst) {
  WindowSpec spec{Algorithm::kSlidingWindowCounter, 1000, 10};
  WindowState st;
  const int64_t start = 1'790'000'000'000;  // a multiple of 1000
  ASSERT_TRUE(Check(spec, st, start - 1, 10).allowed);
  Consume(spec, st, start - 1, 10);
  const int64_t t = start + 998;  // (t - 1000, t] still holds start - 1
  EXPECT_FALSE(Check(spec, st, t, 10).allowed);
  ASSERT_TRUE(Check(spec, st, t, 9).allowed);  // 10 * 2/1000 + 9 <= 10
  Consume(spec, st, t, 9);
  // 19 units in one sliding window: limit + floor(10 * 998 / 1000).
  EXPECT_FALSE(Check(spec, st, t, 1).allowed);
}

TEST(SlidingLogTest, BoundedMemoryNeverAdmitsMoreThanTheExactLog) {
  WindowSpec spec{Algorithm::kSlidingLog, 3'600'000, 1'000'000};
  WindowState st;
  Reference exact(spec);
  for (int i = 0; i < 10'000; ++i) {
    Consume(spec, st, kT0 + i * 100, 1 + i % 3);
    exact.Record(kT0 + i * 100, 1 + i % 3);
  }
  EXPECT_EQ(st.log_entries(), kVelocityLogEntriesMax);
  for (int64_t t = kT0 + 999'900; t <= kT0 + 999'900 + 3'600'000; t += 7'919) {
    int64_t used = Check(spec, st, t, 1).used;
    int64_t truth = exact.Sum(t - spec.window_ms + 1, t + 1);
    ASSERT_GE(used, truth) << t;  // merged entries only count longer
    // All merged units sit at entry 5904's time (590'400 ms in): gone with it.
    if (t >= kT0 + 590'400 + 3'600'000) {
      ASSERT_EQ(used, truth) << t;
    }
  }
}

TEST(BucketTest, LoweringTheLimitKeepsEachAlgorithmsMeaning) {
  // 500 of 1000 units used, then the limit drops to 10 per second (per-key override or edit).
  const WindowSpec high{Algorithm::kGcra, 1000, 1000};
  for (Algorithm a : {Algorithm::kTokenBucket, Algorithm::kLeakyBucket, Algorithm::kGcra}) {
    WindowState st;
    Consume({a, high.window_ms, high.limit}, st, kT0, 500);
    Decision d = Check({a, 1000, 10}, st, kT0, 1);
    switch (a) {
      case Algorithm::kTokenBucket:  // 500 tokens left, clipped to the new capacity of 10
        EXPECT_TRUE(d.allowed);
        EXPECT_EQ(d.remaining, 10);
        break;
      case Algorithm::kLeakyBucket:  // 500 units in the meter leak at 10 per second
        EXPECT_FALSE(d.allowed);
        EXPECT_EQ(d.retry_after_ms, 49'100);
        break;
      default:  // TAT is now + 500 ms; tolerance 1000 ms; one unit is 100 ms
        EXPECT_TRUE(d.allowed);
        EXPECT_EQ(d.remaining, 5);
        break;
    }
    // And back up: nothing is lost or invented.
    Decision up = Check({a, 1000, 1000}, st, kT0, 500);
    EXPECT_TRUE(up.allowed) << AlgorithmName(a);
    EXPECT_FALSE(Check({a, 1000, 1000}, st, kT0, 501).allowed) << AlgorithmName(a);
  }
}

TEST(BucketTest, RescaledStateRoundsTowardRefusing) {
  // A fraction recorded under one window_ms (buckets) or limit (GCRA) and read under another is
  // rounded so that nothing more passes than the exact value allows.
  WindowState token, leaky, gcra;
  Consume({Algorithm::kTokenBucket, 3, 1}, token, kT0, 1);
  Consume({Algorithm::kTokenBucket, 3, 1}, token, kT0 + 1, 0);  // 1/3 token
  EXPECT_FALSE(Check({Algorithm::kTokenBucket, 1, 1}, token, kT0 + 1, 1).allowed);
  Consume({Algorithm::kLeakyBucket, 3, 1}, leaky, kT0, 1);
  Consume({Algorithm::kLeakyBucket, 3, 1}, leaky, kT0 + 1, 0);  // 2/3 unit in the meter
  EXPECT_FALSE(Check({Algorithm::kLeakyBucket, 1, 1}, leaky, kT0 + 1, 1).allowed);
  Consume({Algorithm::kGcra, 1, 3}, gcra, kT0, 1);  // TAT = now + 1/3 ms
  EXPECT_FALSE(Check({Algorithm::kGcra, 1, 1}, gcra, kT0, 1).allowed);
  EXPECT_TRUE(Check({Algorithm::kGcra, 1, 1}, gcra, kT0 + 1, 1).allowed);
}

TEST(FixedWindowTest, LongerWindowKeepsTheCount) {
  WindowState st;
  Consume({Algorithm::kFixedWindow, 3'600'000, 10}, st, kT0, 7);
  EXPECT_EQ(Check({Algorithm::kFixedWindow, 86'400'000, 10}, st, kT0 + 1, 1).used, 7);
}

TEST(WindowEncodingTest, RandomBytesNeverDecodeIntoTrouble) {
  Random rnd(Seed() + 7);
  for (int i = 0; i < 20'000; ++i) {
    std::string junk(static_cast<size_t>(rnd.Range(0, 96)), '\0');
    for (char& c : junk) c = static_cast<char>(rnd.Next());
    if (!junk.empty() && rnd.OneIn(2)) junk[0] = static_cast<char>(rnd.Range(1, 2));
    if (junk.size() > 1 && rnd.OneIn(2)) junk[1] = static_cast<char>(rnd.Range(0, 7));
    auto s = DecodeState(junk);
    if (s.has_value()) {
      for (Algorithm a : kAll) (void)Check({a, 1000, 10}, *s, kT0, 1);
    } else {
      EXPECT_EQ(s.error().code, ErrorCode::kCorruptStore);
    }
    auto d = DecodeDistinctState(junk);
    if (d.has_value()) (void)CheckDistinct({Algorithm::kSlidingLog, 1000, 3}, *d, kT0, 1);
  }
}

TEST(WindowEncodingTest, FirstDraftBlobDecodesAsEmptyKeepingItsTime) {
  Writer w;
  w.U8(1);
  w.I64(kT0);
  for (int i = 0; i < 3; ++i) w.I64(42);
  w.U32(1);
  w.I64(kT0);
  w.I64(3);
  auto s = DecodeState(w.bytes());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->last_ms(), kT0);
  EXPECT_TRUE(Check({Algorithm::kFixedWindow, 1000, 1}, *s, kT0, 1).allowed);
  EXPECT_FALSE(DecodeState(w.bytes().substr(0, w.bytes().size() - 1)).has_value());
}

// Distinct counts against a map of value -> last time recorded.
TEST(DistinctTest, AgreesWithASetOfRecentValues) {
  Random rnd(Seed() + 11);
  for (int round = 0; round < 120; ++round) {
    Algorithm a = round % 2 == 0 ? Algorithm::kFixedWindow : Algorithm::kSlidingLog;
    WindowSpec spec{a, rnd.Range(1, 20'000), rnd.Range(0, 8)};
    SCOPED_TRACE(std::string(AlgorithmName(a)) + " w=" + std::to_string(spec.window_ms) +
                 " limit=" + std::to_string(spec.limit) + " round " + std::to_string(round));
    DistinctState st;
    std::map<uint64_t, int64_t> last_seen;
    int64_t t = kT0, latest = INT64_MIN;
    auto live_values = [&](int64_t at) {
      at = std::max(at, latest);
      int64_t start = FloorDiv(at, spec.window_ms) * spec.window_ms;
      std::map<uint64_t, bool> live;
      for (const auto& [v, when] : last_seen) {
        if (a == Algorithm::kFixedWindow ? when >= start : when > at - spec.window_ms) {
          live[v] = true;
        }
      }
      return live;
    };
    auto allows = [&](int64_t at, uint64_t v) {
      auto live = live_values(at);
      return spec.limit > 0 &&
             (live.count(v) > 0 || static_cast<int64_t>(live.size()) + 1 <= spec.limit);
    };
    for (int i = 0; i < 300; ++i) {
      t += rnd.OneIn(10) ? -rnd.Range(1, spec.window_ms) : rnd.Range(0, spec.window_ms / 3 + 1);
      uint64_t v = rnd.Uniform(12) * 0x9e3779b97f4a7c15ULL;
      const DistinctState before = st;
      Decision d = CheckDistinct(spec, st, t, v);
      ASSERT_TRUE(st == before);
      ASSERT_EQ(d.allowed, allows(t, v)) << "step " << i;
      ASSERT_EQ(d.used, static_cast<int64_t>(live_values(t).size()));
      if (!d.allowed && spec.limit == 0) {
        ASSERT_EQ(d.retry_after_ms, -1);
      } else if (!d.allowed) {
        ASSERT_TRUE(CheckDistinct(spec, st, t + d.retry_after_ms, v).allowed);
        ASSERT_FALSE(CheckDistinct(spec, st, t + d.retry_after_ms - 1, v).allowed);
        ASSERT_TRUE(allows(t + d.retry_after_ms, v));
      }
      if (d.allowed || rnd.OneIn(8)) {
        ConsumeDistinct(spec, st, t, v);
        latest = std::max(latest, t);
        last_seen[v] = latest;
      }
      if (rnd.OneIn(10)) {
        std::string bytes = EncodeDistinctState(st);
        auto back = DecodeDistinctState(bytes);
        ASSERT_TRUE(back.has_value()) << back.error().message;
        ASSERT_TRUE(*back == st);
        for (size_t cut = 0; cut < bytes.size(); cut += 3) {
          ASSERT_FALSE(DecodeDistinctState(std::string_view(bytes).substr(0, cut)).has_value());
        }
      }
    }
  }
}

TEST(DistinctTest, ForgottenValuesStillCount) {
  WindowSpec spec{Algorithm::kSlidingLog, 86'400'000, 5'000};
  DistinctState st;
  for (uint64_t v = 0; v < 5'000; ++v) ConsumeDistinct(spec, st, kT0 + static_cast<int64_t>(v), v);
  EXPECT_EQ(st.entries(), kVelocityDistinctEntriesMax);
  Decision d = CheckDistinct(spec, st, kT0 + 10'000, 999'999);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.used, 5'000);
  EXPECT_EQ(d.retry_after_ms, 86'400'000 - 10'000 + 903);  // when the newest forgotten one leaves
  EXPECT_TRUE(CheckDistinct(spec, st, kT0 + 10'000, 4'999).allowed);  // remembered
  EXPECT_FALSE(CheckDistinct(spec, st, kT0 + 10'000, 0).allowed);     // forgotten: refused early
  auto back = DecodeDistinctState(EncodeDistinctState(st));
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(*back == st);
}

TEST(WindowValidationTest, ErrorsNameTheField) {
  struct Case {
    WindowSpec spec;
    const char* prefix;
  };
  for (const Case& c :
       {Case{{Algorithm::kGcra, 0, 1}, "rule[2].window[0].window: "},
        Case{{Algorithm::kGcra, -5, 1}, "rule[2].window[0].window: "},
        Case{{Algorithm::kGcra, 401LL * 86'400'000, 1}, "rule[2].window[0].window: "},
        Case{{Algorithm::kGcra, 1000, -1}, "rule[2].window[0].limit: "},
        Case{{static_cast<Algorithm>(9), 1000, 1}, "rule[2].window[0].algorithm: "}}) {
    auto r = ValidateWindow(c.spec, "rule[2].window[0].");
    ASSERT_FALSE(r.has_value()) << c.prefix;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message.rfind(c.prefix, 0), 0u) << r.error().message;
  }
  EXPECT_TRUE(ValidateWindow({Algorithm::kGcra, 1000, 0}, "w.").has_value());
  EXPECT_TRUE(
      ValidateWindow({Algorithm::kSlidingLog, kVelocityWindowMsMax, INT64_MAX}, "w.").has_value());
  for (Algorithm a : kAll) {
    auto r = ValidateDistinctWindow({a, 1000, 3}, "d.");
    bool ok = a == Algorithm::kFixedWindow || a == Algorithm::kSlidingLog;
    EXPECT_EQ(r.has_value(), ok) << AlgorithmName(a);
    if (!ok) {
      EXPECT_EQ(r.error().message.rfind("d.algorithm: ", 0), 0u) << r.error().message;
    }
  }
}

TEST(WindowValidationTest, ParseAlgorithmTakesExactNamesOnly) {
  for (Algorithm a : kAll) {
    auto r = ParseAlgorithm(AlgorithmName(a), "x");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r, a);
  }
  for (const char* bad : {"", "leaky", "GCRA", "token bucket", "fixed_window ", "unknown"}) {
    auto r = ParseAlgorithm(bad, "rule[0].window[1].algorithm");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message.rfind("rule[0].window[1].algorithm: ", 0), 0u);
  }
  EXPECT_EQ(AlgorithmName(static_cast<Algorithm>(0)), "unknown");
}

}  // namespace
}  // namespace pay::guards
