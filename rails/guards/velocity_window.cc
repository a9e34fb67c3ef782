#include "rails/guards/velocity_window.h"

#include <algorithm>

#include "core/encoding.h"

namespace pay::guards {

namespace {

__extension__ typedef __int128 i128;

constexpr int64_t kWindowMsMax = 400LL * 24 * 3600 * 1000;

int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
i128 CeilDiv(i128 a, i128 b) { return a <= 0 ? 0 : (a + b - 1) / b; }
int64_t Clamp64(i128 v) {
  if (v > INT64_MAX) return INT64_MAX;
  if (v < INT64_MIN) return INT64_MIN;
  return static_cast<int64_t>(v);
}
i128 Get128(int64_t hi, int64_t lo) {
  return (static_cast<i128>(hi) << 64) | static_cast<i128>(static_cast<uint64_t>(lo));
}
void Set128(i128 v, int64_t* hi, int64_t* lo) {
  *hi = static_cast<int64_t>(v >> 64);
  *lo = static_cast<int64_t>(static_cast<uint64_t>(v));
}

int64_t Effective(const int64_t last_ms, int64_t now_ms) { return std::max(last_ms, now_ms); }

// The bucket family. Token bucket and leaky bucket keep a level (units x window_ms) that drains
// at `limit` units per window_ms, with a = time of the last update and (b, c) the level; GCRA
// keeps its theoretical arrival time scaled by `limit` in (b, c). Level = TAT - now in the same
// scale, so the three admit the same traffic, each by its own bookkeeping.
i128 BucketLevel(const WindowSpec& s, const WindowState& st, int64_t eff) {
  if (s.algorithm == Algorithm::kGcra) {
    i128 tat = Get128(st.b, st.c);
    i128 t = static_cast<i128>(eff) * s.limit;
    return tat > t ? tat - t : 0;
  }
  i128 level = Get128(st.b, st.c);
  i128 drained = static_cast<i128>(eff - st.a) * s.limit;
  return level > drained ? level - drained : 0;
}

Decision BucketCheck(const WindowSpec& s, const WindowState& st, int64_t eff, int64_t units) {
  Decision d;
  i128 level = BucketLevel(s, st, eff);
  i128 capacity = static_cast<i128>(s.limit) * s.window_ms;
  i128 need = static_cast<i128>(units) * s.window_ms;
  d.used = Clamp64(CeilDiv(level, s.window_ms));
  d.remaining = Clamp64((capacity - level) / s.window_ms);
  d.allowed = level + need <= capacity;
  if (!d.allowed) {
    d.retry_after_ms = units > s.limit ? -1 : Clamp64(CeilDiv(level + need - capacity, s.limit));
  }
  return d;
}

void BucketConsume(const WindowSpec& s, WindowState& st, int64_t eff, int64_t units) {
  i128 level = BucketLevel(s, st, eff) + static_cast<i128>(units) * s.window_ms;
  if (s.algorithm == Algorithm::kGcra) {
    Set128(static_cast<i128>(eff) * s.limit + level, &st.b, &st.c);
  } else {
    st.a = eff;
    Set128(level, &st.b, &st.c);
  }
}

// Sliding window counter: a = current window start, b = its units, c = the previous window's.
void CounterWindows(const WindowSpec& s, const WindowState& st, int64_t eff, int64_t* start,
                    int64_t* cur, int64_t* prev) {
  *start = FloorDiv(eff, s.window_ms) * s.window_ms;
  if (st.a == *start) {
    *cur = st.b;
    *prev = st.c;
  } else if (st.a == *start - s.window_ms) {
    *cur = 0;
    *prev = st.b;
  } else {
    *cur = 0;
    *prev = 0;
  }
}

}  // namespace

std::string_view AlgorithmName(Algorithm a) {
  switch (a) {
    case Algorithm::kFixedWindow: return "fixed_window";
    case Algorithm::kSlidingLog: return "sliding_log";
    case Algorithm::kSlidingWindowCounter: return "sliding_window_counter";
    case Algorithm::kTokenBucket: return "token_bucket";
    case Algorithm::kLeakyBucket: return "leaky_bucket";
    case Algorithm::kGcra: return "gcra";
  }
  return "unknown";
}

Result<Algorithm> ParseAlgorithm(std::string_view name, std::string_view field) {
  for (Algorithm a : {Algorithm::kFixedWindow, Algorithm::kSlidingLog,
                      Algorithm::kSlidingWindowCounter, Algorithm::kTokenBucket,
                      Algorithm::kLeakyBucket, Algorithm::kGcra}) {
    if (name == AlgorithmName(a)) return a;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   std::string(field) + ": '" + std::string(name.substr(0, 32)) +
                       "' is not fixed_window, sliding_log, sliding_window_counter, token_bucket, "
                       "leaky_bucket or gcra");
}

Result<void> ValidateWindow(const WindowSpec& s, std::string_view field) {
  if (AlgorithmName(s.algorithm) == "unknown") {
    return MakeError(ErrorCode::kInvalidArgument, std::string(field) + "algorithm: unknown");
  }
  if (s.window_ms <= 0 || s.window_ms > kWindowMsMax) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(field) + "window: must be between 1 ms and 400 days");
  }
  if (s.limit < 0) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(field) + "limit: must be >= 0");
  }
  return {};
}

Result<void> ValidateDistinctWindow(const WindowSpec& s, std::string_view field) {
  PAY_TRY(ValidateWindow(s, field));
  if (s.algorithm != Algorithm::kFixedWindow && s.algorithm != Algorithm::kSlidingLog) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(field) + "algorithm: distinct counts take fixed_window or sliding_log");
  }
  return {};
}

Decision Check(const WindowSpec& s, const WindowState& st, int64_t now_ms, int64_t units) {
  const int64_t eff = Effective(st.last_ms, now_ms);
  Decision d;
  switch (s.algorithm) {
    case Algorithm::kFixedWindow: {
      int64_t start = FloorDiv(eff, s.window_ms) * s.window_ms;
      int64_t used = st.a == start ? st.b : 0;
      d.used = used;
      d.remaining = std::max<int64_t>(0, s.limit - used);
      d.allowed = static_cast<i128>(used) + units <= s.limit;
      if (!d.allowed) d.retry_after_ms = units > s.limit ? -1 : start + s.window_ms - eff;
      return d;
    }
    case Algorithm::kSlidingLog: {
      i128 expired = 0;
      for (const auto& [t, u] : st.log) {
        if (t > eff - s.window_ms) break;
        expired += u;
      }
      i128 used = static_cast<i128>(st.a) - expired;
      d.used = Clamp64(used);
      d.remaining = Clamp64(std::max<i128>(0, s.limit - used));
      d.allowed = used + units <= s.limit;
      if (!d.allowed) {
        if (units > s.limit) {
          d.retry_after_ms = -1;
        } else {
          i128 need = used + units - s.limit, freed = 0;
          for (const auto& [t, u] : st.log) {
            if (t <= eff - s.window_ms) continue;
            freed += u;
            if (freed >= need) {
              d.retry_after_ms = t + s.window_ms - eff;
              break;
            }
          }
        }
      }
      return d;
    }
    case Algorithm::kSlidingWindowCounter: {
      int64_t start, cur, prev;
      CounterWindows(s, st, eff, &start, &cur, &prev);
      const int64_t w = s.window_ms, el = eff - start;
      i128 weighted = static_cast<i128>(prev) * (w - el) + static_cast<i128>(cur) * w;
      i128 cap = static_cast<i128>(s.limit) * w;
      i128 need = static_cast<i128>(units) * w;
      d.used = Clamp64(weighted / w);
      d.remaining = Clamp64(std::max<i128>(0, (cap - weighted) / w));
      d.allowed = weighted + need <= cap;
      if (!d.allowed) {
        if (units > s.limit) {
          d.retry_after_ms = -1;
        } else if (static_cast<i128>(cur) + units <= s.limit && prev > 0 &&
                   CeilDiv(weighted + need - cap, prev) < w - el) {
          d.retry_after_ms = Clamp64(CeilDiv(weighted + need - cap, prev));
        } else {
          // From the next window on, this window's units become the weighted previous ones.
          i128 over = static_cast<i128>(cur) * w + need - cap;
          d.retry_after_ms = Clamp64((w - el) + (cur > 0 ? CeilDiv(over, cur) : 0));
        }
      }
      return d;
    }
    case Algorithm::kTokenBucket:
    case Algorithm::kLeakyBucket:
    case Algorithm::kGcra:
      return BucketCheck(s, st, eff, units);
  }
  d.allowed = false;
  d.retry_after_ms = -1;
  return d;
}

void Consume(const WindowSpec& s, WindowState& st, int64_t now_ms, int64_t units) {
  const int64_t eff = Effective(st.last_ms, now_ms);
  st.last_ms = eff;
  switch (s.algorithm) {
    case Algorithm::kFixedWindow: {
      int64_t start = FloorDiv(eff, s.window_ms) * s.window_ms;
      if (st.a != start) {
        st.a = start;
        st.b = 0;
      }
      st.b = Clamp64(static_cast<i128>(st.b) + units);
      return;
    }
    case Algorithm::kSlidingLog: {
      size_t expired = 0;
      while (expired < st.log.size() && st.log[expired].first <= eff - s.window_ms) {
        st.a -= st.log[expired].second;
        ++expired;
      }
      st.log.erase(st.log.begin(), st.log.begin() + static_cast<std::ptrdiff_t>(expired));
      if (!st.log.empty() && st.log.back().first == eff) {
        st.log.back().second = Clamp64(static_cast<i128>(st.log.back().second) + units);
      } else {
        st.log.emplace_back(eff, units);
      }
      st.a = Clamp64(static_cast<i128>(st.a) + units);
      if (st.log.size() > kWindowLogEntriesMax) {
        // Merge the two oldest entries into one at the later time.
        st.log[1].second = Clamp64(static_cast<i128>(st.log[1].second) + st.log[0].second);
        st.log.erase(st.log.begin());
      }
      return;
    }
    case Algorithm::kSlidingWindowCounter: {
      int64_t start, cur, prev;
      CounterWindows(s, st, eff, &start, &cur, &prev);
      st.a = start;
      st.b = Clamp64(static_cast<i128>(cur) + units);
      st.c = prev;
      return;
    }
    case Algorithm::kTokenBucket:
    case Algorithm::kLeakyBucket:
    case Algorithm::kGcra:
      BucketConsume(s, st, eff, units);
      return;
  }
}

std::string EncodeState(const WindowState& st) {
  Writer w;
  w.U8(1);
  w.I64(st.last_ms);
  w.I64(st.a);
  w.I64(st.b);
  w.I64(st.c);
  w.U32(static_cast<uint32_t>(st.log.size()));
  for (const auto& [t, u] : st.log) {
    w.I64(t);
    w.I64(u);
  }
  return w.Take();
}

Result<WindowState> DecodeState(std::string_view bytes) {
  Reader r(bytes);
  WindowState st;
  uint8_t version;
  uint32_t n;
  if (!r.U8(&version) || version != 1 || !r.I64(&st.last_ms) || !r.I64(&st.a) || !r.I64(&st.b) ||
      !r.I64(&st.c) || !r.U32(&n) || n > kWindowLogEntriesMax) {
    return MakeError(ErrorCode::kCorruptStore, "store: velocity window state is damaged");
  }
  for (uint32_t i = 0; i < n; ++i) {
    int64_t t, u;
    if (!r.I64(&t) || !r.I64(&u)) {
      return MakeError(ErrorCode::kCorruptStore, "store: velocity window log is truncated");
    }
    st.log.emplace_back(t, u);
  }
  if (!r.done()) return MakeError(ErrorCode::kCorruptStore, "store: velocity window state has trailing bytes");
  return st;
}

namespace {

// Entries of a distinct state that count at `eff`.
bool Live(const WindowSpec& s, const DistinctState& st, int64_t eff, int64_t t) {
  if (s.algorithm == Algorithm::kFixedWindow) {
    return st.window_start_ms == FloorDiv(eff, s.window_ms) * s.window_ms;
  }
  return t > eff - s.window_ms;
}

}  // namespace

Decision CheckDistinct(const WindowSpec& s, const DistinctState& st, int64_t now_ms,
                       uint64_t value_hash) {
  const int64_t eff = Effective(st.last_ms, now_ms);
  Decision d;
  int64_t count = 0;
  bool present = false;
  for (const auto& [t, h] : st.seen) {
    if (!Live(s, st, eff, t)) continue;
    ++count;
    present = present || h == value_hash;
  }
  d.used = count;
  d.remaining = std::max<int64_t>(0, s.limit - count);
  d.allowed = present || count + 1 <= s.limit;
  if (!d.allowed) {
    if (s.limit == 0) {
      d.retry_after_ms = -1;
    } else if (s.algorithm == Algorithm::kFixedWindow) {
      d.retry_after_ms = FloorDiv(eff, s.window_ms) * s.window_ms + s.window_ms - eff;
    } else {
      int64_t must_expire = count + 1 - s.limit, n = 0;
      for (const auto& [t, h] : st.seen) {
        if (!Live(s, st, eff, t)) continue;
        if (++n == must_expire) {
          d.retry_after_ms = t + s.window_ms - eff;
          break;
        }
      }
    }
  }
  return d;
}

void ConsumeDistinct(const WindowSpec& s, DistinctState& st, int64_t now_ms, uint64_t value_hash) {
  const int64_t eff = Effective(st.last_ms, now_ms);
  st.last_ms = eff;
  if (s.algorithm == Algorithm::kFixedWindow) {
    int64_t start = FloorDiv(eff, s.window_ms) * s.window_ms;
    if (st.window_start_ms != start) {
      st.seen.clear();
      st.window_start_ms = start;
    }
  } else {
    size_t expired = 0;
    while (expired < st.seen.size() && st.seen[expired].first <= eff - s.window_ms) ++expired;
    st.seen.erase(st.seen.begin(), st.seen.begin() + static_cast<std::ptrdiff_t>(expired));
  }
  auto it = std::find_if(st.seen.begin(), st.seen.end(),
                         [&](const auto& e) { return e.second == value_hash; });
  if (it != st.seen.end()) st.seen.erase(it);
  st.seen.emplace_back(eff, value_hash);
  if (st.seen.size() > kWindowLogEntriesMax) st.seen.erase(st.seen.begin());
}

std::string EncodeDistinctState(const DistinctState& st) {
  Writer w;
  w.U8(1);
  w.I64(st.last_ms);
  w.I64(st.window_start_ms);
  w.U32(static_cast<uint32_t>(st.seen.size()));
  for (const auto& [t, h] : st.seen) {
    w.I64(t);
    w.U64(h);
  }
  return w.Take();
}

Result<DistinctState> DecodeDistinctState(std::string_view bytes) {
  Reader r(bytes);
  DistinctState st;
  uint8_t version;
  uint32_t n;
  if (!r.U8(&version) || version != 1 || !r.I64(&st.last_ms) || !r.I64(&st.window_start_ms) ||
      !r.U32(&n) || n > kWindowLogEntriesMax) {
    return MakeError(ErrorCode::kCorruptStore, "store: distinct-count state is damaged");
  }
  for (uint32_t i = 0; i < n; ++i) {
    int64_t t;
    uint64_t h;
    if (!r.I64(&t) || !r.U64(&h)) {
      return MakeError(ErrorCode::kCorruptStore, "store: distinct-count state is truncated");
    }
    st.seen.emplace_back(t, h);
  }
  if (!r.done()) return MakeError(ErrorCode::kCorruptStore, "store: distinct-count state has trailing bytes");
  return st;
}

}  // namespace pay::guards
