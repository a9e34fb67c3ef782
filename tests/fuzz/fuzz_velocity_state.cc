// Velocity state blobs come back from the database: a damaged or hostile file must give an
// error, never a crash, and what decodes must re-encode to a state that decodes equal.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "rails/guards/velocity_window.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  using namespace pay::guards;
  if (auto s = DecodeState(in)) {
    auto again = DecodeState(EncodeState(*s));
    if (!again || !(*again == *s)) __builtin_trap();
    // Any decoded state must be usable without undefined behaviour.
    for (Algorithm a : {Algorithm::kFixedWindow, Algorithm::kSlidingLog,
                        Algorithm::kSlidingWindowCounter, Algorithm::kTokenBucket,
                        Algorithm::kLeakyBucket, Algorithm::kGcra}) {
      WindowSpec spec{a, 60'000, 100};
      WindowState st = *s;
      (void)Check(spec, st, 1'790'000'000'000, 1);
      Consume(spec, st, 1'790'000'000'000, 1);
    }
  }
  if (auto d = DecodeDistinctState(in)) {
    auto again = DecodeDistinctState(EncodeDistinctState(*d));
    if (!again || !(*again == *d)) __builtin_trap();
    DistinctState st = *d;
    WindowSpec spec{Algorithm::kSlidingLog, 60'000, 5};
    (void)CheckDistinct(spec, st, 1'790'000'000'000, 7);
    ConsumeDistinct(spec, st, 1'790'000'000'000, 7);
  }
  return 0;
}
