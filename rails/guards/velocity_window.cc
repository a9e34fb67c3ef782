// The velocity window algorithms (velocity_window.h). The state's encoding and equality are in
// velocity_window_codec.cc; what both files share is in velocity_window_internal.h.

#include "rails/guards/velocity_window.h"

#include <algorithm>

#include "rails/guards/velocity_window_internal.h"

namespace pay::guards {

namespace {

using velocity_internal::ClampTime;
using velocity_internal::i128;
using velocity_internal::kNoTimeMs;
using velocity_internal::Set128;
using velocity_internal::u128;

// The time a state is evaluated at: the caller's, unless an earlier Consume saw a later one.
int64_t EffectiveMs(int64_t last_ms, int64_t now_ms) {
  return std::max(last_ms, ClampTime(now_ms));
}
int64_t Sat64(i128 v) {
  if (v > INT64_MAX) return INT64_MAX;
  if (v < INT64_MIN) return INT64_MIN;
  return static_cast<int64_t>(v);
}
// b > 0. Operands that fit 64 bits (the common case) take the 64-bit divide, several times faster
// than the 128-bit library call.
bool Fits64(i128 v) { return v == static_cast<int64_t>(v); }
i128 FloorDiv(i128 a, i128 b) {
  if (Fits64(a) && Fits64(b)) {
    int64_t x = static_cast<int64_t>(a), y = static_cast<int64_t>(b), q = x / y;
    return (x % y != 0 && x < 0) ? q - 1 : q;
  }
  i128 q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
i128 CeilDiv(i128 a, i128 b) {
  if (Fits64(a) && Fits64(b)) {
    int64_t x = static_cast<int64_t>(a), y = static_cast<int64_t>(b), q = x / y;
    return (x % y != 0 && x > 0) ? q + 1 : q;
  }
  i128 q = a / b;
  return (a % b != 0 && a > 0) ? q + 1 : q;
}
i128 Get128(int64_t hi, int64_t lo) {
  return static_cast<i128>((static_cast<u128>(static_cast<uint64_t>(hi)) << 64) |
                           static_cast<uint64_t>(lo));
}
int64_t SatAdd(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

bool SpecValid(const WindowSpec& s) {
  auto a = static_cast<uint8_t>(s.algorithm);
  return a >= 1 && a <= 6 && s.window_ms >= 1 && s.window_ms <= kVelocityWindowMsMax &&
         s.limit >= 0;
}

// A rational number whole + num / den (0 <= num < den) as an integer scaled by `scale`, rounded
// toward `round_up` when den != scale.
i128 ToScaled(int64_t whole, int64_t num, int64_t den, int64_t scale, bool round_up) {
  i128 frac = num;
  if (den != scale) {
    i128 n = static_cast<i128>(num) * scale;
    frac = round_up ? CeilDiv(n, den) : FloorDiv(n, den);
  }
  return static_cast<i128>(whole) * scale + frac;
}
// The inverse: whole saturates to [lo, hi] (with num = 0).
void FromScaled(i128 scaled, int64_t scale, int64_t lo, int64_t hi, int64_t* whole, int64_t* num,
                int64_t* den) {
  i128 q = FloorDiv(scaled, scale);
  *den = scale;
  if (q > hi || q < lo) {
    *whole = q > hi ? hi : lo;
    *num = 0;
  } else {
    *whole = static_cast<int64_t>(q);
    *num = static_cast<int64_t>(scaled - q * scale);
  }
}

// What one algorithm says at the effective time: `fits`, and when it does not (with
// 0 < units <= limit), the earliest time at which the same request would.
struct Measured {
  i128 used = 0;
  i128 remaining = 0;
  bool fits = true;
  i128 pass_at_ms = 0;
};

}  // namespace

struct WindowStateAccess::Algorithms {
  using Entry = WindowState::LogEntry;

  static bool Holds(const WindowState& st, const WindowSpec& s) {
    return st.algorithm_ == static_cast<uint8_t>(s.algorithm);
  }

  // ---- fixed_window: a_ = window start, b_ = units.
  static i128 FixedUsed(const WindowSpec& s, const WindowState& st, bool held, i128 start) {
    return held && st.a_ >= start && st.a_ < start + s.window_ms ? st.b_ : 0;
  }
  static Measured FixedMeasure(const WindowSpec& s, const WindowState& st, bool held, int64_t eff,
                               int64_t units) {
    Measured m;
    i128 start = FloorDiv(eff, s.window_ms) * s.window_ms;
    i128 used = FixedUsed(s, st, held, start);
    m.used = used;
    m.remaining = s.limit - used;
    m.fits = used + units <= s.limit;
    m.pass_at_ms = start + s.window_ms;
    return m;
  }
  static void FixedConsume(const WindowSpec& s, WindowState& st, bool held, int64_t eff,
                           int64_t units) {
    i128 start = FloorDiv(eff, s.window_ms) * s.window_ms;
    i128 used = FixedUsed(s, st, held, start);
    st.a_ = static_cast<int64_t>(start);
    st.b_ = Sat64(used + units);
  }

  // ---- sliding_window_counter: a_ = current window start, b_ = its units, c_ = previous.
  static void Counters(const WindowSpec& s, const WindowState& st, bool held, i128 start, i128* cur,
                       i128* prev) {
    *cur = 0;
    *prev = 0;
    if (!held) return;
    if (st.a_ >= start && st.a_ < start + s.window_ms) {
      *cur = st.b_;
      *prev = st.c_;
    } else if (st.a_ >= start - s.window_ms && st.a_ < start) {
      *prev = st.b_;
    }
  }
  static Measured CounterMeasure(const WindowSpec& s, const WindowState& st, bool held, int64_t eff,
                                 int64_t units) {
    Measured m;
    const i128 w = s.window_ms, limit = s.limit;
    i128 start = FloorDiv(eff, w) * w, cur, prev;
    Counters(s, st, held, start, &cur, &prev);
    const i128 elapsed = eff - start;  // [0, w)
    const i128 weighted = prev * (w - elapsed) + cur * w;
    m.remaining = FloorDiv(limit * w - weighted, w);
    m.used = limit - m.remaining;  // = ceil(weighted / w), without a second division
    m.fits = weighted + units * w <= limit * w;
    if (m.fits) return m;
    // Without traffic the estimate only falls: within this window as `prev` loses weight, at the
    // next window (this window's units become `prev`), and two windows on it is 0.
    const i128 room_now = limit - cur - units;
    if (room_now >= 0 && prev > 0) {
      i128 e = std::max(elapsed, w - FloorDiv(room_now * w, prev));
      if (e < w) {
        m.pass_at_ms = start + e;
        return m;
      }
    }
    const i128 room_next = limit - units;  // >= 0: units <= limit here
    i128 e = cur == 0 ? 0 : std::max<i128>(0, w - FloorDiv(room_next * w, cur));
    m.pass_at_ms = e < w ? start + w + e : start + 2 * w;
    return m;
  }
  static void CounterConsume(const WindowSpec& s, WindowState& st, bool held, int64_t eff,
                             int64_t units) {
    i128 start = FloorDiv(eff, s.window_ms) * s.window_ms, cur, prev;
    Counters(s, st, held, start, &cur, &prev);
    st.a_ = static_cast<int64_t>(start);
    st.b_ = Sat64(cur + units);
    st.c_ = static_cast<int64_t>(prev);
  }

  // ---- sliding_log: log_[head_..] = (time, units), (a_, b_) = their 128-bit sum.
  static Measured LogMeasure(const WindowSpec& s, const WindowState& st, bool held, int64_t eff,
                             int64_t units) {
    Measured m;
    if (!held) {
      m.remaining = s.limit;
      m.fits = units <= s.limit;
      return m;
    }
    const int64_t cutoff = eff - s.window_ms;  // entries at or before it have left the window
    i128 used = Get128(st.a_, st.b_);
    size_t i = st.head_;
    for (; i < st.log_.size() && st.log_[i].time_ms <= cutoff; ++i) used -= st.log_[i].units;
    m.used = used;
    m.remaining = s.limit - used;
    m.fits = used + units <= s.limit;
    if (!m.fits) {
      i128 need = used + units - s.limit, freed = 0;  // 0 < need <= used when units <= limit
      for (; i < st.log_.size(); ++i) {
        freed += st.log_[i].units;
        if (freed >= need) {
          m.pass_at_ms = static_cast<i128>(st.log_[i].time_ms) + s.window_ms;
          break;
        }
      }
    }
    return m;
  }
  static void LogConsume(const WindowSpec& s, WindowState& st, bool held, int64_t eff,
                         int64_t units) {
    i128 sum = Get128(st.a_, st.b_);
    const int64_t cutoff = eff - s.window_ms;
    while (st.head_ < st.log_.size() && st.log_[st.head_].time_ms <= cutoff) {
      sum -= st.log_[st.head_].units;
      ++st.head_;
    }
    if (units > 0) {
      if (st.log_.size() > st.head_ && st.log_.back().time_ms == eff) {
        int64_t merged = SatAdd(st.log_.back().units, units);
        sum += merged - st.log_.back().units;
        st.log_.back().units = merged;
      } else {
        st.log_.push_back({eff, units});
        sum += units;
      }
      if (st.log_.size() - st.head_ > kVelocityLogEntriesMax) {
        // Merge the two oldest into one at the later time: counted as long as the later one.
        Entry& oldest = st.log_[st.head_];
        Entry& next = st.log_[st.head_ + 1];
        int64_t merged = SatAdd(oldest.units, next.units);
        sum += static_cast<i128>(merged) - oldest.units - next.units;
        next.units = merged;
        ++st.head_;
      }
    }
    Compact(st.log_, st.head_);
    Set128(sum, &st.a_, &st.b_);
  }
  template <typename T>
  static void Compact(std::vector<T>& v, uint32_t& head) {
    if (head == v.size()) {
      v.clear();
      head = 0;
    } else if (head >= 64 && head * 2 >= v.size()) {
      v.erase(v.begin(), v.begin() + head);
      head = 0;
    }
  }

  // ---- token_bucket: tokens = a_ + b_ / c_, c_ = window_ms recorded with; time = last_ms_.
  static i128 Tokens(const WindowSpec& s, const WindowState& st, bool held, int64_t eff) {
    const i128 capacity = static_cast<i128>(s.limit) * s.window_ms;
    if (!held) return capacity;
    // Fewer tokens when rescaling to another window_ms (rounded down: never admits more).
    i128 tokens = ToScaled(st.a_, st.b_, st.c_, s.window_ms, false);
    tokens += static_cast<i128>(eff - st.last_ms_) * s.limit;
    return std::min(tokens, capacity);
  }
  static Measured TokenMeasure(const WindowSpec& s, const WindowState& st, bool held, int64_t eff,
                               int64_t units) {
    Measured m;
    const i128 w = s.window_ms, tokens = Tokens(s, st, held, eff), need = units * w;
    m.remaining = FloorDiv(tokens, w);
    m.used = s.limit - m.remaining;  // = ceil((capacity - tokens) / w)
    m.fits = tokens >= need;
    if (!m.fits && s.limit > 0) m.pass_at_ms = eff + CeilDiv(need - tokens, s.limit);
    return m;
  }
  static void TokenConsume(const WindowSpec& s, WindowState& st, bool held, int64_t eff,
                           int64_t units) {
    i128 tokens = Tokens(s, st, held, eff) - static_cast<i128>(units) * s.window_ms;
    FromScaled(tokens, s.window_ms, INT64_MIN, INT64_MAX, &st.a_, &st.b_, &st.c_);
  }

  // ---- leaky_bucket: level = a_ + b_ / c_, c_ = window_ms recorded with; time = last_ms_.
  static i128 Level(const WindowSpec& s, const WindowState& st, bool held, int64_t eff) {
    if (!held) return 0;
    // A higher level when rescaling (rounded up: never admits more).
    i128 level = ToScaled(st.a_, st.b_, st.c_, s.window_ms, true);
    level -= static_cast<i128>(eff - st.last_ms_) * s.limit;
    return std::max<i128>(level, 0);
  }
  static Measured LeakyMeasure(const WindowSpec& s, const WindowState& st, bool held, int64_t eff,
                               int64_t units) {
    Measured m;
    const i128 w = s.window_ms, capacity = s.limit * w, level = Level(s, st, held, eff);
    const i128 over = level + units * w - capacity;
    m.remaining = FloorDiv(capacity - level, w);
    m.used = s.limit - m.remaining;  // = ceil(level / w)
    m.fits = over <= 0;
    if (!m.fits && s.limit > 0) m.pass_at_ms = eff + CeilDiv(over, s.limit);
    return m;
  }
  static void LeakyConsume(const WindowSpec& s, WindowState& st, bool held, int64_t eff,
                           int64_t units) {
    i128 level = Level(s, st, held, eff) + static_cast<i128>(units) * s.window_ms;
    FromScaled(level, s.window_ms, 0, INT64_MAX, &st.a_, &st.b_, &st.c_);
  }

  // ---- gcra: TAT = a_ + b_ / c_ ms, c_ = limit recorded with. Scaled by the limit, TAT and now
  // are exact integers; one unit is window_ms in that scale.
  static i128 Tat(const WindowSpec& s, const WindowState& st, bool held, int64_t eff) {
    const i128 now = static_cast<i128>(eff) * s.limit;
    if (!held) return now;
    // A later TAT when rescaling to another limit (rounded up: never admits more).
    return std::max(now, ToScaled(st.a_, st.b_, st.c_, s.limit, true));
  }
  static Measured GcraMeasure(const WindowSpec& s, const WindowState& st, bool held, int64_t eff,
                              int64_t units) {
    Measured m;
    if (s.limit == 0) {
      m.fits = units == 0;
      return m;
    }
    const i128 w = s.window_ms, tolerance = s.limit * w;
    const i128 backlog = Tat(s, st, held, eff) - static_cast<i128>(eff) * s.limit;
    m.remaining = FloorDiv(tolerance - backlog, w);
    m.used = s.limit - m.remaining;  // = ceil(backlog / w)
    m.fits = backlog + units * w <= tolerance;
    // Passes at the first t with TAT + units * T - t <= tolerance.
    if (!m.fits) m.pass_at_ms = eff + CeilDiv(backlog + units * w - tolerance, s.limit);
    return m;
  }
  static void GcraConsume(const WindowSpec& s, WindowState& st, bool held, int64_t eff,
                          int64_t units) {
    if (s.limit == 0) {
      // No emission interval: nothing to record. Keep a TAT recorded under another limit.
      if (!held) {
        st.a_ = eff;  // TAT = now: empty
        st.b_ = 0;
        st.c_ = 1;
      }
      return;
    }
    i128 tat = Tat(s, st, held, eff) + static_cast<i128>(units) * s.window_ms;
    // TAT may lie beyond the time domain (a backlog of huge amounts); it saturates at INT64_MAX.
    FromScaled(tat, s.limit, kVelocityTimeMsMin, INT64_MAX, &st.a_, &st.b_, &st.c_);
  }

  static Decision Check(const WindowSpec& s, const WindowState& st, int64_t now_ms, int64_t units) {
    Decision d;
    if (!SpecValid(s)) {
      d.allowed = false;
      d.retry_after_ms = -1;
      return d;
    }
    units = std::max<int64_t>(units, 0);
    const int64_t eff = EffectiveMs(st.last_ms_, now_ms);
    const bool held = Holds(st, s);
    Measured m;
    switch (s.algorithm) {
      case Algorithm::kFixedWindow:
        m = FixedMeasure(s, st, held, eff, units);
        break;
      case Algorithm::kSlidingLog:
        m = LogMeasure(s, st, held, eff, units);
        break;
      case Algorithm::kSlidingWindowCounter:
        m = CounterMeasure(s, st, held, eff, units);
        break;
      case Algorithm::kTokenBucket:
        m = TokenMeasure(s, st, held, eff, units);
        break;
      case Algorithm::kLeakyBucket:
        m = LeakyMeasure(s, st, held, eff, units);
        break;
      case Algorithm::kGcra:
        m = GcraMeasure(s, st, held, eff, units);
        break;
    }
    d.used = Sat64(std::max<i128>(m.used, 0));
    d.remaining = Sat64(std::max<i128>(m.remaining, 0));
    if (units == 0 || m.fits) return d;
    d.allowed = false;
    d.retry_after_ms = units > s.limit ? -1 : Sat64(m.pass_at_ms - ClampTime(now_ms));
    return d;
  }

  static void Consume(const WindowSpec& s, WindowState& st, int64_t now_ms, int64_t units) {
    if (!SpecValid(s)) return;
    units = std::max<int64_t>(units, 0);
    const int64_t eff = EffectiveMs(st.last_ms_, now_ms);
    const bool held = Holds(st, s);
    if (!held) {
      // Empty, or recorded under another algorithm: start afresh (keeping the latest time).
      st.a_ = st.b_ = st.c_ = 0;
      st.log_ = {};
      st.head_ = 0;
    }
    switch (s.algorithm) {
      case Algorithm::kFixedWindow:
        FixedConsume(s, st, held, eff, units);
        break;
      case Algorithm::kSlidingLog:
        LogConsume(s, st, held, eff, units);
        break;
      case Algorithm::kSlidingWindowCounter:
        CounterConsume(s, st, held, eff, units);
        break;
      case Algorithm::kTokenBucket:
        TokenConsume(s, st, held, eff, units);
        break;
      case Algorithm::kLeakyBucket:
        LeakyConsume(s, st, held, eff, units);
        break;
      case Algorithm::kGcra:
        GcraConsume(s, st, held, eff, units);
        break;
    }
    st.algorithm_ = static_cast<uint8_t>(s.algorithm);
    st.last_ms_ = eff;
  }

  // ---- distinct counts.
  using Seen = DistinctState::Seen;

  struct Live {
    bool fixed;
    int64_t bound;  // fixed: live at or after it; sliding: live after it
    bool operator()(int64_t t) const { return fixed ? t >= bound : t > bound; }
  };
  static Live LiveAt(const WindowSpec& s, int64_t eff) {
    if (s.algorithm == Algorithm::kFixedWindow) {
      return {true, static_cast<int64_t>(FloorDiv(eff, s.window_ms) * s.window_ms)};
    }
    return {false, eff - s.window_ms};
  }

  static Decision CheckDistinct(const WindowSpec& s, const DistinctState& st, int64_t now_ms,
                                uint64_t value_hash) {
    Decision d;
    if (!SpecValid(s) ||
        (s.algorithm != Algorithm::kFixedWindow && s.algorithm != Algorithm::kSlidingLog)) {
      d.allowed = false;
      d.retry_after_ms = -1;
      return d;
    }
    const int64_t eff = EffectiveMs(st.last_ms_, now_ms);
    const Live live = LiveAt(s, eff);
    // Entries are in time order: the live ones are a suffix.
    size_t first = st.seen_.size();
    bool present = false;
    while (first > st.head_ && live(st.seen_[first - 1].time_ms)) {
      --first;
      present = present || st.seen_[first].value_hash == value_hash;
    }
    const int64_t forgotten = st.forgotten_ > 0 && live(st.forgotten_ms_) ? st.forgotten_ : 0;
    const i128 count = static_cast<i128>(st.seen_.size() - first) + forgotten;
    d.used = Sat64(count);
    d.remaining = Sat64(std::max<i128>(0, s.limit - count));
    if (s.limit == 0) {
      d.allowed = false;
      d.retry_after_ms = -1;
      return d;
    }
    if (present || count + 1 <= s.limit) return d;
    d.allowed = false;
    i128 pass_at;
    if (live.fixed) {
      pass_at = static_cast<i128>(live.bound) + s.window_ms;
    } else {
      // The forgotten values are older than every entry: they leave first.
      i128 need = count + 1 - s.limit;
      if (forgotten >= need) {
        pass_at = static_cast<i128>(st.forgotten_ms_) + s.window_ms;
      } else {
        need -= forgotten;
        pass_at = static_cast<i128>(st.seen_[first + static_cast<size_t>(need) - 1].time_ms) +
                  s.window_ms;
      }
    }
    d.retry_after_ms = Sat64(pass_at - ClampTime(now_ms));
    return d;
  }

  static void ConsumeDistinct(const WindowSpec& s, DistinctState& st, int64_t now_ms,
                              uint64_t value_hash) {
    if (!SpecValid(s) ||
        (s.algorithm != Algorithm::kFixedWindow && s.algorithm != Algorithm::kSlidingLog)) {
      return;
    }
    const int64_t eff = EffectiveMs(st.last_ms_, now_ms);
    const Live live = LiveAt(s, eff);
    while (st.head_ < st.seen_.size() && !live(st.seen_[st.head_].time_ms)) ++st.head_;
    if (st.forgotten_ > 0 && !live(st.forgotten_ms_)) {
      st.forgotten_ = 0;
      st.forgotten_ms_ = kNoTimeMs;
    }
    auto begin = st.seen_.begin() + st.head_;
    auto it = std::find_if(begin, st.seen_.end(),
                           [&](const Seen& e) { return e.value_hash == value_hash; });
    if (it != st.seen_.end()) st.seen_.erase(it);
    st.seen_.push_back({eff, value_hash});
    if (st.seen_.size() - st.head_ > kVelocityDistinctEntriesMax) {
      st.forgotten_ = SatAdd(st.forgotten_, 1);
      st.forgotten_ms_ = std::max(st.forgotten_ms_, st.seen_[st.head_].time_ms);
      ++st.head_;
    }
    Compact(st.seen_, st.head_);
    st.last_ms_ = eff;
  }
};

std::string_view AlgorithmName(Algorithm a) {
  switch (a) {
    case Algorithm::kFixedWindow:
      return "fixed_window";
    case Algorithm::kSlidingLog:
      return "sliding_log";
    case Algorithm::kSlidingWindowCounter:
      return "sliding_window_counter";
    case Algorithm::kTokenBucket:
      return "token_bucket";
    case Algorithm::kLeakyBucket:
      return "leaky_bucket";
    case Algorithm::kGcra:
      return "gcra";
  }
  return "unknown";
}

Result<Algorithm> ParseAlgorithm(std::string_view name, std::string_view field) {
  for (Algorithm a :
       {Algorithm::kFixedWindow, Algorithm::kSlidingLog, Algorithm::kSlidingWindowCounter,
        Algorithm::kTokenBucket, Algorithm::kLeakyBucket, Algorithm::kGcra}) {
    if (name == AlgorithmName(a)) return a;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   std::string(field) + ": '" + std::string(name.substr(0, 64)) +
                       "' is not fixed_window, sliding_log, sliding_window_counter, "
                       "token_bucket, leaky_bucket or gcra");
}

Result<void> ValidateWindow(const WindowSpec& s, std::string_view field) {
  const std::string f(field);
  if (AlgorithmName(s.algorithm) == "unknown") {
    return MakeError(ErrorCode::kInvalidArgument,
                     f + "algorithm: " + std::to_string(static_cast<int>(s.algorithm)) +
                         " is not a known algorithm");
  }
  if (s.window_ms <= 0 || s.window_ms > kVelocityWindowMsMax) {
    return MakeError(ErrorCode::kInvalidArgument, f + "window: " + std::to_string(s.window_ms) +
                                                      " ms is not between 1 ms and 400 days");
  }
  if (s.limit < 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     f + "limit: " + std::to_string(s.limit) + " is negative (0 blocks all)");
  }
  return {};
}

Result<void> ValidateDistinctWindow(const WindowSpec& s, std::string_view field) {
  PAY_TRY(ValidateWindow(s, field));
  if (s.algorithm != Algorithm::kFixedWindow && s.algorithm != Algorithm::kSlidingLog) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(field) + "algorithm: a distinct count takes fixed_window or " +
                         "sliding_log, not " + std::string(AlgorithmName(s.algorithm)));
  }
  return {};
}

Decision Check(const WindowSpec& spec, const WindowState& state, int64_t now_ms, int64_t units) {
  return WindowStateAccess::Algorithms::Check(spec, state, now_ms, units);
}
void Consume(const WindowSpec& spec, WindowState& state, int64_t now_ms, int64_t units) {
  WindowStateAccess::Algorithms::Consume(spec, state, now_ms, units);
}

Decision CheckDistinct(const WindowSpec& spec, const DistinctState& state, int64_t now_ms,
                       uint64_t value_hash) {
  return WindowStateAccess::Algorithms::CheckDistinct(spec, state, now_ms, value_hash);
}
void ConsumeDistinct(const WindowSpec& spec, DistinctState& state, int64_t now_ms,
                     uint64_t value_hash) {
  WindowStateAccess::Algorithms::ConsumeDistinct(spec, state, now_ms, value_hash);
}

}  // namespace pay::guards