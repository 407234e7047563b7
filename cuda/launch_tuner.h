// Picks, once per problem, the fastest of a few interchangeable kernel launches (the "fastest"
// fp32 conv mode: FFMA or 3×TF32 tiles, and their tile shapes; aulens/cuda_math.h). The first call
// for a key times every candidate with the given function and remembers the winner; later calls
// return it. Plain C++ (the timing function is the caller's), so the choosing logic is tested on
// the CPU (tests/test_launch_tuner.cpp); the CUDA timing (time_launch_ms) lives in conv2d.cu.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "aulens/check.h"

namespace aulens::cuda_detail {

class LaunchTuner {
 public:
  // What identifies a problem: the operation and its shape, as the caller spells them.
  using Key = std::array<int, 7>;
  struct Decision {
    Key key{};
    std::vector<std::string> candidates;
    std::vector<double> milliseconds;  // as measured, one per candidate
    int chosen = 0;
  };

  // The candidate to run for `key`: the remembered one, or the fastest under time(i) (milliseconds;
  // the lower index on a tie). `names` labels the candidates in decisions(); it is read only the
  // first time.
  template <class Time>
  int choose(const Key& key, const std::vector<std::string>& names, Time&& time) {
    AULENS_CHECK(!names.empty(), "LaunchTuner: no candidate to choose from");
    if (names.size() == 1) return 0;
    std::lock_guard lock(mutex_);
    if (const auto found = chosen_.find(key); found != chosen_.end()) return found->second;
    Decision decision{key, names, {}, 0};
    for (int i = 0; i < static_cast<int>(names.size()); ++i) {
      decision.milliseconds.push_back(time(i));
      if (decision.milliseconds[i] < decision.milliseconds[decision.chosen]) decision.chosen = i;
    }
    chosen_.emplace(key, decision.chosen);
    decisions_.push_back(std::move(decision));
    return decisions_.back().chosen;
  }

  // Every choice made so far between two or more candidates, in the order they were made.
  std::vector<Decision> decisions() const {
    std::lock_guard lock(mutex_);
    return decisions_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<Key, int> chosen_;
  std::vector<Decision> decisions_;
};

}  // namespace aulens::cuda_detail
