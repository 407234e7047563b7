// The choosing logic of the "fastest" conv mode (cuda/launch_tuner.h), with made-up timings.
#include <gtest/gtest.h>

#include <vector>

#include "../cuda/launch_tuner.h"

namespace aulens::cuda_detail {
namespace {

const std::vector<std::string> kThree{"ffma 128", "3xtf32 128", "3xtf32 64"};

TEST(LaunchTuner, TimesEveryCandidateOnceAndTakesTheFastest) {
  LaunchTuner tuner;
  std::vector<int> timed;
  const auto time = [&](int i) {
    timed.push_back(i);
    return std::vector<double>{2.0, 0.5, 0.7}[i];
  };
  EXPECT_EQ(tuner.choose({0, 64, 64, 48, 48, 128, 5}, kThree, time), 1);
  EXPECT_EQ(timed, (std::vector<int>{0, 1, 2}));
  // The same problem again: remembered, nothing timed.
  EXPECT_EQ(tuner.choose({0, 64, 64, 48, 48, 128, 5}, kThree, time), 1);
  EXPECT_EQ(timed.size(), 3u);
  const auto decisions = tuner.decisions();
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].chosen, 1);
  EXPECT_EQ(decisions[0].candidates, kThree);
  EXPECT_EQ(decisions[0].milliseconds, (std::vector<double>{2.0, 0.5, 0.7}));
}

TEST(LaunchTuner, EachProblemIsChosenOnItsOwn) {
  LaunchTuner tuner;
  EXPECT_EQ(tuner.choose({0, 64, 64, 48, 48, 128, 5}, kThree,
                         [](int i) {
                           return std::vector<double>{1.0, 3.0, 2.0}[i];
                         }),
            0);
  // Another batch size, then another operation on the same shape.
  EXPECT_EQ(tuner.choose({0, 13, 64, 48, 48, 128, 5}, kThree,
                         [](int i) {
                           return std::vector<double>{3.0, 2.0, 1.0}[i];
                         }),
            2);
  EXPECT_EQ(tuner.choose({1, 64, 64, 48, 48, 128, 5}, kThree,
                         [](int i) {
                           return std::vector<double>{3.0, 1.0, 2.0}[i];
                         }),
            1);
  EXPECT_EQ(tuner.decisions().size(), 3u);
}

TEST(LaunchTuner, TiesGoToTheEarlierCandidate) {
  LaunchTuner tuner;
  EXPECT_EQ(tuner.choose({0, 1, 1, 1, 1, 1, 1}, kThree, [](int i) { return i == 0 ? 2.0 : 1.0; }),
            1);
}

TEST(LaunchTuner, ASingleCandidateIsNeitherTimedNorRecorded) {
  LaunchTuner tuner;
  bool timed = false;
  EXPECT_EQ(tuner.choose({0, 1, 1, 1, 1, 1, 1}, {"ffma 64"},
                         [&](int) {
                           timed = true;
                           return 1.0;
                         }),
            0);
  EXPECT_FALSE(timed);
  EXPECT_TRUE(tuner.decisions().empty());
  EXPECT_THROW(tuner.choose({0, 1, 1, 1, 1, 1, 1}, {}, [](int) { return 1.0; }), Error);
}

}  // namespace
}  // namespace aulens::cuda_detail
