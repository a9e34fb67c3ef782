// The velocity window state's stable binary encoding, and equality of states
// (velocity_window.h): version 2 is written, versions 1 (the first draft) and 2 are read. The
// algorithms are in velocity_window.cc; what both files share is in velocity_window_internal.h.

#include "rails/guards/velocity_window.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/encoding.h"
#include "rails/guards/velocity_window_internal.h"

namespace pay::guards {

namespace {

using velocity_internal::ClampTime;
using velocity_internal::i128;
using velocity_internal::kNoTimeMs;
using velocity_internal::Set128;

constexpr uint8_t kStateVersion = 2;
constexpr uint8_t kDraftVersion = 1;  // the first draft's layout; decoded, never written

Error Corrupt(const char* what) {
  return MakeError(ErrorCode::kCorruptStore, std::string("store: velocity ") + what);
}

}  // namespace

struct WindowStateAccess::Codec {
  using Entry = WindowState::LogEntry;
  using Seen = DistinctState::Seen;

  static bool Equal(const WindowState& a, const WindowState& b) {
    if (a.algorithm_ != b.algorithm_ || a.last_ms_ != b.last_ms_ || a.a_ != b.a_ || a.b_ != b.b_ ||
        a.c_ != b.c_ || a.log_entries() != b.log_entries()) {
      return false;
    }
    for (size_t i = 0; i < a.log_entries(); ++i) {
      const Entry& x = a.log_[a.head_ + i];
      const Entry& y = b.log_[b.head_ + i];
      if (x.time_ms != y.time_ms || x.units != y.units) return false;
    }
    return true;
  }

  static std::string Encode(const WindowState& st) {
    Writer w;
    w.Reserve(34 + 16 * st.log_entries());
    w.U8(kStateVersion);
    w.U8(st.algorithm_);
    w.I64(st.last_ms_);
    switch (static_cast<Algorithm>(st.algorithm_)) {
      case Algorithm::kFixedWindow:
        w.I64(st.a_);
        w.I64(st.b_);
        break;
      case Algorithm::kSlidingLog:
        w.U32(static_cast<uint32_t>(st.log_entries()));
        for (size_t i = st.head_; i < st.log_.size(); ++i) {
          w.I64(st.log_[i].time_ms);
          w.I64(st.log_[i].units);
        }
        break;
      case Algorithm::kSlidingWindowCounter:
      case Algorithm::kTokenBucket:
      case Algorithm::kLeakyBucket:
      case Algorithm::kGcra:
        w.I64(st.a_);
        w.I64(st.b_);
        w.I64(st.c_);
        break;
    }
    return w.Take();
  }

  static bool InTime(int64_t t) { return t >= kVelocityTimeMsMin && t <= kVelocityTimeMsMax; }
  // A window start: a time floored to a multiple of some window_ms.
  static bool InStart(int64_t t) {
    return t >= kVelocityTimeMsMin - kVelocityWindowMsMax && t <= kVelocityTimeMsMax;
  }

  static Result<WindowState> Decode(std::string_view bytes) {
    Reader r(bytes);
    WindowState st;
    uint8_t version;
    if (!r.U8(&version)) return Corrupt("window state is empty");
    if (version == kDraftVersion) return DecodeDraft(r);
    if (version != kStateVersion) return Corrupt("window state has an unknown version");
    if (!r.U8(&st.algorithm_) || !r.I64(&st.last_ms_)) {
      return Corrupt("window state is truncated");
    }
    if (st.algorithm_ == 0) {
      if (st.last_ms_ != kNoTimeMs && !InTime(st.last_ms_)) return Corrupt("window time is bad");
      if (!r.done()) return Corrupt("window state has trailing bytes");
      return st;
    }
    if (st.algorithm_ > 6) return Corrupt("window state has an unknown algorithm");
    if (!InTime(st.last_ms_)) return Corrupt("window time is out of range");
    bool ok = true;
    switch (static_cast<Algorithm>(st.algorithm_)) {
      case Algorithm::kFixedWindow:
        ok = r.I64(&st.a_) && r.I64(&st.b_) && InStart(st.a_) && st.b_ >= 0;
        break;
      case Algorithm::kSlidingLog: {
        uint32_t n;
        ok = r.U32(&n) && n <= kVelocityLogEntriesMax;
        i128 sum = 0;
        int64_t prev = kNoTimeMs;
        for (uint32_t i = 0; ok && i < n; ++i) {
          Entry e;
          ok = r.I64(&e.time_ms) && r.I64(&e.units) && InTime(e.time_ms) && e.time_ms > prev &&
               e.time_ms <= st.last_ms_ && e.units > 0;
          if (ok) {
            if (i == 0) st.log_.reserve(n);
            st.log_.push_back(e);
            sum += e.units;
            prev = e.time_ms;
          }
        }
        Set128(sum, &st.a_, &st.b_);
        break;
      }
      case Algorithm::kSlidingWindowCounter:
        ok = r.I64(&st.a_) && r.I64(&st.b_) && r.I64(&st.c_) && InStart(st.a_) && st.b_ >= 0 &&
             st.c_ >= 0;
        break;
      case Algorithm::kTokenBucket:
      case Algorithm::kLeakyBucket:
        ok = r.I64(&st.a_) && r.I64(&st.b_) && r.I64(&st.c_) && st.c_ >= 1 &&
             st.c_ <= kVelocityWindowMsMax && st.b_ >= 0 && st.b_ < st.c_ &&
             (st.algorithm_ == static_cast<uint8_t>(Algorithm::kTokenBucket) || st.a_ >= 0);
        break;
      case Algorithm::kGcra:
        ok = r.I64(&st.a_) && r.I64(&st.b_) && r.I64(&st.c_) && st.a_ >= kVelocityTimeMsMin &&
             st.c_ >= 1 && st.b_ >= 0 && st.b_ < st.c_;
        break;
    }
    if (!ok) return Corrupt("window state is truncated or inconsistent");
    if (!r.done()) return Corrupt("window state has trailing bytes");
    return st;
  }

  // The first draft wrote (last_ms, a, b, c, n, n x (time, units)) without the algorithm, so its
  // fields cannot be read back safely: an empty state that keeps the latest time.
  static Result<WindowState> DecodeDraft(Reader& r) {
    int64_t last_ms, x;
    uint32_t n;
    if (!r.I64(&last_ms) || !r.I64(&x) || !r.I64(&x) || !r.I64(&x) || !r.U32(&n) ||
        n > kVelocityLogEntriesMax) {
      return Corrupt("window state (version 1) is truncated");
    }
    for (uint32_t i = 0; i < 2 * n; ++i) {
      if (!r.I64(&x)) return Corrupt("window state (version 1) is truncated");
    }
    if (!r.done()) return Corrupt("window state has trailing bytes");
    WindowState st;
    st.last_ms_ = ClampTime(last_ms);
    return st;
  }

  static bool EqualDistinct(const DistinctState& a, const DistinctState& b) {
    if (a.last_ms_ != b.last_ms_ || a.forgotten_ != b.forgotten_ ||
        a.forgotten_ms_ != b.forgotten_ms_ || a.entries() != b.entries()) {
      return false;
    }
    for (size_t i = 0; i < a.entries(); ++i) {
      const Seen& x = a.seen_[a.head_ + i];
      const Seen& y = b.seen_[b.head_ + i];
      if (x.time_ms != y.time_ms || x.value_hash != y.value_hash) return false;
    }
    return true;
  }

  static std::string EncodeDistinct(const DistinctState& st) {
    Writer w;
    w.Reserve(29 + 16 * st.entries());
    w.U8(kStateVersion);
    w.I64(st.last_ms_);
    w.I64(st.forgotten_ms_);
    w.I64(st.forgotten_);
    w.U32(static_cast<uint32_t>(st.entries()));
    for (size_t i = st.head_; i < st.seen_.size(); ++i) {
      w.I64(st.seen_[i].time_ms);
      w.U64(st.seen_[i].value_hash);
    }
    return w.Take();
  }

  static Result<DistinctState> DecodeDistinct(std::string_view bytes) {
    Reader r(bytes);
    DistinctState st;
    uint8_t version;
    int64_t unused;
    bool ok = r.U8(&version) && (version == kStateVersion || version == kDraftVersion) &&
              r.I64(&st.last_ms_);
    if (ok && version == kStateVersion) {
      ok = r.I64(&st.forgotten_ms_) && r.I64(&st.forgotten_) && st.forgotten_ >= 0 &&
           (st.forgotten_ == 0 ? st.forgotten_ms_ == kNoTimeMs
                               : InTime(st.forgotten_ms_) && st.forgotten_ms_ <= st.last_ms_);
    } else if (ok) {
      ok = r.I64(&unused);  // the draft's fixed-window start: entry times say the same
    }
    uint32_t n;
    ok = ok && (st.last_ms_ == kNoTimeMs || InTime(st.last_ms_)) && r.U32(&n) &&
         n <= kVelocityDistinctEntriesMax;
    if (!ok) return Corrupt("distinct-count state is damaged");
    int64_t prev = st.forgotten_ == 0 ? kNoTimeMs : st.forgotten_ms_;
    if (n > 0) st.seen_.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      Seen e;
      if (!r.I64(&e.time_ms) || !r.U64(&e.value_hash)) {
        return Corrupt("distinct-count state is truncated");
      }
      if (!InTime(e.time_ms) || e.time_ms < prev || e.time_ms > st.last_ms_) {
        return Corrupt("distinct-count state is out of time order");
      }
      st.seen_.push_back(e);
      prev = e.time_ms;
    }
    if (!r.done()) return Corrupt("distinct-count state has trailing bytes");
    std::vector<uint64_t> hashes(n);
    for (uint32_t i = 0; i < n; ++i) hashes[i] = st.seen_[i].value_hash;
    std::sort(hashes.begin(), hashes.end());
    if (std::adjacent_find(hashes.begin(), hashes.end()) != hashes.end()) {
      return Corrupt("distinct-count state repeats a value");
    }
    return st;
  }
};

bool operator==(const WindowState& a, const WindowState& b) {
  return WindowStateAccess::Codec::Equal(a, b);
}
bool operator==(const DistinctState& a, const DistinctState& b) {
  return WindowStateAccess::Codec::EqualDistinct(a, b);
}

std::string EncodeState(const WindowState& state) {
  return WindowStateAccess::Codec::Encode(state);
}
Result<WindowState> DecodeState(std::string_view bytes) {
  return WindowStateAccess::Codec::Decode(bytes);
}
std::string EncodeDistinctState(const DistinctState& state) {
  return WindowStateAccess::Codec::EncodeDistinct(state);
}
Result<DistinctState> DecodeDistinctState(std::string_view bytes) {
  return WindowStateAccess::Codec::DecodeDistinct(bytes);
}

}  // namespace pay::guards
