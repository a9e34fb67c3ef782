#pragma once
// Internal to the velocity windows (velocity_window.h); included only by its two source files:
//   velocity_window.cc        the six window algorithms and the distinct count (Check, Consume,
//                             CheckDistinct, ConsumeDistinct), spec validation, algorithm names
//   velocity_window_codec.cc  the state's binary encoding (EncodeState, DecodeState and the
//                             distinct count's), and equality of states
// WindowState and DistinctState befriend WindowStateAccess; its nested classes share that access
// ([class.friend]), one per file, so each file reaches the private fields without the other.

#include <algorithm>
#include <cstdint>

#include "rails/guards/velocity_window.h"

namespace pay::guards {

struct WindowStateAccess {
  struct Algorithms;  // velocity_window.cc
  struct Codec;       // velocity_window_codec.cc
};

namespace velocity_internal {

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

// WindowState::last_ms() (and a distinct count's times) before anything was recorded.
inline constexpr int64_t kNoTimeMs = INT64_MIN;

inline int64_t ClampTime(int64_t t_ms) {
  return std::clamp(t_ms, kVelocityTimeMsMin, kVelocityTimeMsMax);
}

// A sliding log's 128-bit sum is kept in two int64_t fields (a_ = high half, b_ = low half).
inline void Set128(i128 v, int64_t* hi, int64_t* lo) {
  auto u = static_cast<u128>(v);
  *hi = static_cast<int64_t>(static_cast<uint64_t>(u >> 64));
  *lo = static_cast<int64_t>(static_cast<uint64_t>(u));
}

}  // namespace velocity_internal
}  // namespace pay::guards
