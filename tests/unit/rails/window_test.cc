// Velocity windows against independent reference models on random event streams (printed
// seed; PAY_SEED=N reruns one), plus retry-after, bounds, purity and encoding.

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <numeric>
#include <set>
#include <vector>

#include "core/random.h"
#include "rails/guards/velocity_window.h"

namespace pay::guards {
namespace {

__extension__ typedef __int128 i128;

uint64_t Seed() {
  const char* s = std::getenv("PAY_SEED");
  return s ? std::strtoull(s, nullptr, 10) : 424242;
}

// Exact fractions for the bucket reference (textbook token bucket with rational tokens).
struct Frac {
  i128 num = 0, den = 1;
  static i128 Gcd(i128 a, i128 b) {
    if (a < 0) a = -a;
    while (b != 0) {
      i128 t = a % b;
      a = b;
      b = t;
    }
    return a == 0 ? 1 : a;
  }
  Frac Norm() const {
    i128 g = Gcd(num, den);
    return {num / g, den / g};
  }
  Frac operator+(Frac o) const { return Frac{num * o.den + o.num * den, den * o.den}.Norm(); }
  Frac operator-(Frac o) const { return Frac{num * o.den - o.num * den, den * o.den}.Norm(); }
  bool operator<=(Frac o) const { return num * o.den <= o.num * den; }
  bool operator<(Frac o) const { return num * o.den < o.num * den; }
};

struct Event {
  int64_t t;
  int64_t units;
};

std::vector<Event> Stream(Random& rnd, int n, int64_t window_ms, int64_t max_units) {
  std::vector<Event> out;
  int64_t t = 1'790'000'000'000 + rnd.Range(0, window_ms);
  for (int i = 0; i < n; ++i) {
    t += rnd.OneIn(10) ? rnd.Range(0, 3 * window_ms) : rnd.Range(0, window_ms / 4 + 1);
    out.push_back({t, rnd.Range(1, max_units)});
  }
  return out;
}

// Reference: at most `limit` units per fixed window.
struct FixedRef {
  int64_t w, limit;
  std::map<int64_t, int64_t> used;
  bool Offer(Event e) {
    int64_t idx = e.t / w;  // times are positive
    if (used[idx] + e.units > limit) return false;
    used[idx] += e.units;
    return true;
  }
};

// Reference: exact sliding log over all accepted events.
struct LogRef {
  int64_t w, limit;
  std::vector<Event> accepted;
  bool Offer(Event e) {
    int64_t sum = 0;
    for (const Event& a : accepted) sum += a.t > e.t - w ? a.units : 0;
    if (sum + e.units > limit) return false;
    accepted.push_back(e);
    return true;
  }
};

// Reference: token bucket with rational tokens; capacity limit, refill limit per w.
struct BucketRef {
  int64_t w, limit;
  Frac tokens{0, 1};
  int64_t last = -1;
  bool Offer(Event e) {
    if (last < 0) tokens = {limit, 1};
    else tokens = tokens + Frac{static_cast<i128>(e.t - last) * limit, w};
    if (Frac{limit, 1} < tokens) tokens = {limit, 1};
    last = e.t;
    if (!(Frac{e.units, 1} <= tokens)) return false;
    tokens = tokens - Frac{e.units, 1};
    return true;
  }
};

class WindowTest : public ::testing::TestWithParam<Algorithm> {};

TEST_P(WindowTest, AgreesWithItsReferenceModel) {
  const uint64_t seed = Seed();
  std::cout << "[ window ] PAY_SEED=" << seed << "\n";
  Random rnd(seed + static_cast<uint64_t>(GetParam()));
  for (int round = 0; round < 40; ++round) {
    WindowSpec spec{GetParam(), rnd.Range(1, 5) * 1000 + rnd.Range(0, 999), rnd.Range(1, 20)};
    FixedRef fixed{spec.window_ms, spec.limit, {}};
    LogRef log{spec.window_ms, spec.limit, {}};
    BucketRef bucket{spec.window_ms, spec.limit};
    WindowState st;
    for (const Event& e : Stream(rnd, 300, spec.window_ms, std::max<int64_t>(1, spec.limit / 3))) {
      WindowState before = st;
      Decision d = Check(spec, st, e.t, e.units);
      ASSERT_EQ(st, before) << "Check changed the state";
      bool want;
      switch (spec.algorithm) {
        case Algorithm::kFixedWindow: want = fixed.Offer(e); break;
        case Algorithm::kSlidingLog: want = log.Offer(e); break;
        default: want = bucket.Offer(e); break;
      }
      ASSERT_EQ(d.allowed, want) << AlgorithmName(spec.algorithm) << " t=" << e.t << " u=" << e.units
                                 << " limit=" << spec.limit << " w=" << spec.window_ms;
      if (d.allowed) Consume(spec, st, e.t, e.units);
    }
  }
}

TEST_P(WindowTest, RetryAfterIsExact) {
  Random rnd(Seed() * 7 + static_cast<uint64_t>(GetParam()));
  int checked = 0;
  for (int round = 0; round < 200; ++round) {
    WindowSpec spec{GetParam(), rnd.Range(1, 10) * 1000 + rnd.Range(0, 999), rnd.Range(1, 10)};
    WindowState st;
    int64_t t = 1'790'000'000'000;
    for (int i = 0; i < 30; ++i) {
      t += rnd.Range(0, spec.window_ms / 3);
      int64_t u = rnd.Range(1, spec.limit);
      Decision d = Check(spec, st, t, u);
      if (d.allowed) {
        Consume(spec, st, t, u);
        continue;
      }
      ASSERT_GT(d.retry_after_ms, 0);
      EXPECT_TRUE(Check(spec, st, t + d.retry_after_ms, u).allowed)
          << AlgorithmName(spec.algorithm) << " retry " << d.retry_after_ms;
      EXPECT_FALSE(Check(spec, st, t + d.retry_after_ms - 1, u).allowed)
          << AlgorithmName(spec.algorithm) << " retry " << d.retry_after_ms;
      ++checked;
    }
  }
  EXPECT_GT(checked, 50);
}

INSTANTIATE_TEST_SUITE_P(Exact, WindowTest,
                         ::testing::Values(Algorithm::kFixedWindow, Algorithm::kSlidingLog,
                                           Algorithm::kTokenBucket, Algorithm::kLeakyBucket,
                                           Algorithm::kGcra),
                         [](const auto& info) { return std::string(AlgorithmName(info.param)); });

TEST(SlidingWindowCounterTest, StaysWithinItsDocumentedBound) {
  // Never more than 2 x limit in any sliding window (limit more than the exact log at worst),
  // and never refuses what the exact log would admit with the previous window empty.
  Random rnd(Seed() + 99);
  for (int round = 0; round < 40; ++round) {
    WindowSpec spec{Algorithm::kSlidingWindowCounter, rnd.Range(1, 5) * 1000, rnd.Range(1, 20)};
    WindowState st;
    std::vector<Event> accepted;
    for (const Event& e : Stream(rnd, 400, spec.window_ms, 3)) {
      if (!Check(spec, st, e.t, e.units).allowed) continue;
      Consume(spec, st, e.t, e.units);
      accepted.push_back(e);
      int64_t sum = 0;
      for (const Event& a : accepted) sum += a.t > e.t - spec.window_ms ? a.units : 0;
      ASSERT_LE(sum, 2 * spec.limit);
    }
  }
}

TEST(WindowEdgeTest, MoreThanTheLimitNeverPasses) {
  for (Algorithm a : {Algorithm::kFixedWindow, Algorithm::kSlidingLog, Algorithm::kSlidingWindowCounter,
                      Algorithm::kTokenBucket, Algorithm::kLeakyBucket, Algorithm::kGcra}) {
    WindowState st;
    Decision d = Check({a, 1000, 5}, st, 1000, 6);
    EXPECT_FALSE(d.allowed) << AlgorithmName(a);
    EXPECT_EQ(d.retry_after_ms, -1) << AlgorithmName(a);
    Decision zero = Check({a, 1000, 0}, st, 1000, 1);
    EXPECT_FALSE(zero.allowed) << AlgorithmName(a);
    EXPECT_EQ(zero.retry_after_ms, -1);
  }
}

TEST(WindowEdgeTest, HugeAmountsDoNotOverflow) {
  for (Algorithm a : {Algorithm::kFixedWindow, Algorithm::kSlidingLog, Algorithm::kSlidingWindowCounter,
                      Algorithm::kTokenBucket, Algorithm::kLeakyBucket, Algorithm::kGcra}) {
    WindowSpec spec{a, 400LL * 86'400'000, INT64_MAX};
    WindowState st;
    int64_t t = 1'790'000'000'000;
    ASSERT_TRUE(Check(spec, st, t, INT64_MAX).allowed) << AlgorithmName(a);
    Consume(spec, st, t, INT64_MAX);
    Decision d = Check(spec, st, t, 1);
    EXPECT_FALSE(d.allowed) << AlgorithmName(a);
    EXPECT_GT(d.retry_after_ms, 0) << AlgorithmName(a);
  }
}

TEST(WindowEdgeTest, TimeGoingBackwardsUsesTheLatestTime) {
  WindowSpec spec{Algorithm::kFixedWindow, 1000, 1};
  WindowState st;
  Consume(spec, st, 5500, 1);
  // An earlier time would fall into another window; the window of the latest time counts.
  EXPECT_FALSE(Check(spec, st, 4200, 1).allowed);
  EXPECT_TRUE(Check(spec, st, 6000, 1).allowed);
}

TEST(WindowEncodingTest, RoundTripsAndRejectsDamage) {
  Random rnd(Seed() + 5);
  for (Algorithm a : {Algorithm::kFixedWindow, Algorithm::kSlidingLog, Algorithm::kSlidingWindowCounter,
                      Algorithm::kTokenBucket, Algorithm::kLeakyBucket, Algorithm::kGcra}) {
    WindowSpec spec{a, 1000, 50};
    WindowState st;
    for (const Event& e : Stream(rnd, 50, 1000, 3)) Consume(spec, st, e.t, e.units);
    std::string bytes = EncodeState(st);
    auto back = DecodeState(bytes);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, st);
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
      auto bad = DecodeState(std::string_view(bytes).substr(0, cut));
      ASSERT_FALSE(bad) << cut;
      EXPECT_EQ(bad.error().code, ErrorCode::kCorruptStore);
    }
    EXPECT_FALSE(DecodeState(bytes + "x"));
  }
  for (int i = 0; i < 2000; ++i) {
    std::string junk(static_cast<size_t>(rnd.Range(0, 80)), '\0');
    for (char& c : junk) c = static_cast<char>(rnd.Next());
    (void)DecodeState(junk);
    (void)DecodeDistinctState(junk);
  }
}

TEST(WindowLogTest, BoundedMemoryNeverAdmitsMore) {
  WindowSpec spec{Algorithm::kSlidingLog, 3'600'000, 100'000};
  WindowState st;
  for (int i = 0; i < 10'000; ++i) Consume(spec, st, 1'000'000 + i, 1);
  EXPECT_LE(st.log.size(), kWindowLogEntriesMax);
  Decision d = Check(spec, st, 1'000'000 + 10'000, 1);
  EXPECT_EQ(d.used, 10'000);  // nothing lost by merging
}

TEST(DistinctTest, CountsDistinctValuesLikeASet) {
  Random rnd(Seed() + 11);
  for (Algorithm a : {Algorithm::kFixedWindow, Algorithm::kSlidingLog}) {
    WindowSpec spec{a, 10'000, 5};
    DistinctState st;
    std::map<uint64_t, int64_t> last_seen;  // reference for the sliding log
    int64_t t = 1'790'000'000'000;
    for (int i = 0; i < 2000; ++i) {
      t += rnd.Range(0, 2000);
      uint64_t v = rnd.Uniform(9);
      std::set<uint64_t> live;
      for (const auto& [val, when] : last_seen) {
        bool in = a == Algorithm::kFixedWindow ? when / 10'000 == t / 10'000 : when > t - 10'000;
        if (in) live.insert(val);
      }
      bool want = live.count(v) || static_cast<int64_t>(live.size()) + 1 <= spec.limit;
      Decision d = CheckDistinct(spec, st, t, v);
      ASSERT_EQ(d.allowed, want) << AlgorithmName(a) << " step " << i;
      if (d.allowed) {
        ConsumeDistinct(spec, st, t, v);
        last_seen[v] = t;
      }
    }
    auto back = DecodeDistinctState(EncodeDistinctState(st));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, st);
  }
  EXPECT_FALSE(ValidateDistinctWindow({Algorithm::kGcra, 1000, 1}, "w."));
}

TEST(WindowValidationTest, NamesTheField) {
  auto r = ValidateWindow({Algorithm::kGcra, 0, 1}, "window[0].");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind("window[0].window", 0), 0u);
  EXPECT_FALSE(ValidateWindow({Algorithm::kGcra, 1000, -1}, "w."));
  EXPECT_FALSE(ValidateWindow({Algorithm::kGcra, 401LL * 86'400'000, 1}, "w."));
  EXPECT_TRUE(ValidateWindow({Algorithm::kGcra, 1000, 0}, "w."));
  EXPECT_FALSE(ParseAlgorithm("leaky"));
  EXPECT_EQ(*ParseAlgorithm("sliding_window_counter"), Algorithm::kSlidingWindowCounter);
}

}  // namespace
}  // namespace pay::guards
