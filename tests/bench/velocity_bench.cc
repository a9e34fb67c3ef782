// Cost of one in-memory velocity check (Check, then Consume when allowed) per algorithm, with the
// states held in a std::unordered_map<uint64_t, WindowState> of 1k and of 1M keys visited in a
// random order from a seeded pay::Random. The clock advances 1 ms per check; the spec is 50 units
// per 60 s, so the small map refuses some checks. Reports the median over reps of the mean cost
// per check (hash lookup included). A last column holds the same 1M states in a plain vector
// indexed by key number: one cache miss per check and no hash map, the floor for any table.
// A timed program, not a test.
//
// Usage: velocity_bench [--reps N] [--checks N] [--seed N]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/random.h"
#include "rails/guards/velocity_window.h"

namespace {

using pay::guards::Algorithm;
using pay::guards::WindowSpec;
using pay::guards::WindowState;

struct Result {
  double median_ns = 0;
  double allowed_share = 0;
};

// `find(key)` gives the state of a key number in [0, keys).
template <typename Find>
Result Time(const WindowSpec& spec, uint64_t keys, int reps, int checks, uint64_t seed, Find find) {
  pay::Random rnd(seed);
  std::vector<uint64_t> order(static_cast<size_t>(checks));
  for (uint64_t& k : order) k = rnd.Uniform(keys);

  std::vector<double> ns_per_check;
  int64_t now_ms = 1'790'000'000'000;
  uint64_t allowed = 0;
  for (int rep = 0; rep < reps; ++rep) {
    auto start = std::chrono::steady_clock::now();
    for (uint64_t k : order) {
      WindowState& st = find(k);
      if (pay::guards::Check(spec, st, now_ms, 1).allowed) {
        pay::guards::Consume(spec, st, now_ms, 1);
        ++allowed;
      }
      ++now_ms;
    }
    std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
    ns_per_check.push_back(took.count() / checks);
  }
  std::sort(ns_per_check.begin(), ns_per_check.end());
  return {ns_per_check[ns_per_check.size() / 2],
          static_cast<double>(allowed) / (static_cast<double>(checks) * reps)};
}

constexpr uint64_t kSpread = 0x9e3779b97f4a7c15ULL;  // key number -> a hash-like 64-bit key

Result HashMap(const WindowSpec& spec, uint64_t keys, int reps, int checks, uint64_t seed) {
  std::unordered_map<uint64_t, WindowState> states;
  states.reserve(keys);
  for (uint64_t k = 0; k < keys; ++k) states[k * kSpread];
  return Time(spec, keys, reps, checks, seed,
              [&](uint64_t k) -> WindowState& { return states.find(k * kSpread)->second; });
}

Result FlatVector(const WindowSpec& spec, uint64_t keys, int reps, int checks, uint64_t seed) {
  std::vector<WindowState> states(keys);
  return Time(spec, keys, reps, checks, seed,
              [&](uint64_t k) -> WindowState& { return states[k]; });
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5, checks = 2'000'000;
  uint64_t seed = 42;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 < argc && a == "--reps") {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (i + 1 < argc && a == "--checks") {
      checks = std::max(1000, std::atoi(argv[++i]));
    } else if (i + 1 < argc && a == "--seed") {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: velocity_bench [--reps N] [--checks N] [--seed N]\n");
      return 2;
    }
  }
  std::printf("velocity_bench --reps %d --checks %d --seed %llu\n", reps, checks,
              static_cast<unsigned long long>(seed));
  std::printf(
      "Median ns per Check + Consume (std::unordered_map<uint64_t, WindowState>, random key "
      "order); sizeof(WindowState) = %zu bytes; spec: 50 units per 60 s, 1 unit per "
      "check, the clock advancing 1 ms per check\n\n",
      sizeof(WindowState));
  std::printf("| algorithm | 1k keys | 1M keys | 1M keys, flat vector | allowed (1k / 1M) |\n");
  std::printf("|---|---:|---:|---:|---:|\n");
  for (Algorithm algo :
       {Algorithm::kFixedWindow, Algorithm::kSlidingLog, Algorithm::kSlidingWindowCounter,
        Algorithm::kTokenBucket, Algorithm::kLeakyBucket, Algorithm::kGcra}) {
    WindowSpec spec{algo, 60'000, 50};
    Result small = HashMap(spec, 1'000, reps, checks, seed);
    Result large = HashMap(spec, 1'000'000, reps, checks, seed);
    Result flat = FlatVector(spec, 1'000'000, reps, checks, seed);
    std::printf("| %s | %.1f | %.1f | %.1f | %.0f%% / %.0f%% |\n",
                std::string(pay::guards::AlgorithmName(algo)).c_str(), small.median_ns,
                large.median_ns, flat.median_ns, 100 * small.allowed_share,
                100 * large.allowed_share);
    std::fflush(stdout);
  }
  return 0;
}
