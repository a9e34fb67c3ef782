// Cost of one in-memory velocity check (Check + Consume) per algorithm, with keys held in a hash
// map of 1k and of 1M keys, visited in random order (a seeded generator). Reports the median over
// reps of the mean cost per check in each rep. Not a test; see docs/performance.md.
//
// Usage: velocity_bench [--reps N] [--checks N]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/random.h"
#include "rails/guards/velocity_window.h"

using pay::guards::Algorithm;

int main(int argc, char** argv) {
  int reps = 5, checks = 2'000'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--reps") reps = std::max(1, std::atoi(argv[i + 1]));
    else if (a == "--checks") checks = std::max(1000, std::atoi(argv[i + 1]));
  }
  std::printf("velocity_bench: %d checks per rep, %d reps, median ns per Check+Consume\n\n", checks,
              reps);
  std::printf("| algorithm | 1k keys | 1M keys | 1M keys, flat array |\n|---|---:|---:|---:|\n");
  for (Algorithm algo : {Algorithm::kFixedWindow, Algorithm::kSlidingLog,
                         Algorithm::kSlidingWindowCounter, Algorithm::kTokenBucket,
                         Algorithm::kLeakyBucket, Algorithm::kGcra}) {
    pay::guards::WindowSpec spec{algo, 60'000, 1'000'000};
    double ns[3];
    int col = 0;
    for (uint64_t keys : {1'000ULL, 1'000'000ULL}) {
      std::unordered_map<uint64_t, pay::guards::WindowState> states;
      states.reserve(keys);
      for (uint64_t k = 0; k < keys; ++k) states[k * 0x9e3779b97f4a7c15ULL];
      pay::Random rnd(42);
      std::vector<uint64_t> order(checks);
      for (auto& k : order) k = rnd.Uniform(keys) * 0x9e3779b97f4a7c15ULL;
      std::vector<double> per_rep;
      int64_t now = 1'790'000'000'000;
      size_t allowed = 0;
      for (int rep = 0; rep < reps; ++rep) {
        auto start = std::chrono::steady_clock::now();
        for (uint64_t k : order) {
          auto& st = states.find(k)->second;
          auto d = pay::guards::Check(spec, st, now, 1);
          if (d.allowed) {
            pay::guards::Consume(spec, st, now, 1);
            ++allowed;
          }
          ++now;  // a millisecond per check: logs stay short, windows roll
        }
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        per_rep.push_back(s * 1e9 / checks);
      }
      std::sort(per_rep.begin(), per_rep.end());
      ns[col++] = per_rep[per_rep.size() / 2];
      if (allowed == 0) std::printf("(nothing allowed?)\n");
    }
    {
      // The same 1M keys in a flat array indexed by key number: one cache miss per check, which
      // separates the algorithm's cost from the hash map's.
      std::vector<pay::guards::WindowState> flat(1'000'000);
      pay::Random rnd(42);
      std::vector<uint32_t> order(checks);
      for (auto& k : order) k = static_cast<uint32_t>(rnd.Uniform(flat.size()));
      std::vector<double> per_rep;
      int64_t now = 1'790'000'000'000;
      for (int rep = 0; rep < reps; ++rep) {
        auto start = std::chrono::steady_clock::now();
        for (uint32_t k : order) {
          auto& st = flat[k];
          if (pay::guards::Check(spec, st, now, 1).allowed) pay::guards::Consume(spec, st, now, 1);
          ++now;
        }
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        per_rep.push_back(s * 1e9 / checks);
      }
      std::sort(per_rep.begin(), per_rep.end());
      ns[2] = per_rep[per_rep.size() / 2];
    }
    std::printf("| %s | %.0f | %.0f | %.0f |\n",
                std::string(pay::guards::AlgorithmName(algo)).c_str(), ns[0], ns[1], ns[2]);
    std::fflush(stdout);
  }
  return 0;
}
