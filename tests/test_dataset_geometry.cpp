// Splits, the dataset cache and the flip geometry, on a small Dataset built in memory (no OpenCV):
// k-fold is subject-independent and covers every labelled image once; random_200 draws 200 and is
// flagged; the cache round-trips exactly; flipping by the augmentation rule moves a marked
// landmark's pixel to the flipped (and iBUG-swapped) landmark position.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <set>

#include "aulens/augment.h"
#include "aulens/dataset.h"
#include "fresh_seed.h"

namespace fs = std::filesystem;
using namespace aulens;

namespace {

// M images over `subjects` subjects, random labels (some kNoLabel), AUs, landmarks, regions.
Dataset make_dataset(int m, int subjects, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Dataset d;
  d.source = "test";
  d.root = "/nowhere";
  d.crop_size = 9;
  d.class_names = class_names_for(DatasetConfig{});
  d.au_ids = {1, 4, 12};
  const std::int64_t a = 3, s = 9;
  d.crops = Tensor({m, s, s}, DType::u8);
  d.labels = Tensor({m}, DType::i32);
  d.aus = Tensor({m, a}, DType::f32);
  d.subject = Tensor({m}, DType::i32);
  d.sequence = Tensor({m}, DType::i32);
  d.frame = Tensor({m}, DType::i32);
  d.landmarks = Tensor({m, kLandmarkCount, 2}, DType::f32);
  d.au_regions = Tensor({m, a, 4}, DType::f32);
  std::uniform_real_distribution<float> u01(0.0f, 1.0f);
  for (std::int64_t i = 0; i < d.crops.numel(); ++i) d.crops.data<std::uint8_t>()[i] = rng() & 255;
  for (int i = 0; i < m; ++i) {
    d.labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(rng() % 8) - 1;
    d.subject.data<std::int32_t>()[i] = i * subjects / m;
    d.sequence.data<std::int32_t>()[i] = i % 5;
    d.frame.data<std::int32_t>()[i] = i;
    d.source_paths.push_back("img" + std::to_string(i) + ".png");
  }
  for (std::int64_t i = 0; i < d.aus.numel(); ++i)
    d.aus.data<float>()[i] = (rng() % 3 == 0) ? kAuIntensityNotCoded : u01(rng) * 5;
  for (std::int64_t i = 0; i < d.landmarks.numel(); ++i)
    d.landmarks.data<float>()[i] = u01(rng) * 8;
  for (std::int64_t i = 0; i < d.au_regions.numel(); ++i)
    d.au_regions.data<float>()[i] = u01(rng) < 0.3f ? kNoRegion : u01(rng) * 8;
  for (int k = 0; k < subjects; ++k) d.subject_names.push_back("S" + std::to_string(100 + k));
  d.issues.push_back({"a/b.txt", 3, "bad number", "image"});
  d.counts.sequences = 17;
  d.counts.frames_unused = 4;
  return d;
}

std::set<std::int32_t> subjects_of(const Dataset& d, const std::vector<std::int32_t>& idx) {
  std::set<std::int32_t> s;
  for (auto i : idx) s.insert(d.subject.data<std::int32_t>()[i]);
  return s;
}

}  // namespace

TEST(DatasetSplits, SubjectKfoldIsSubjectIndependentAndCoversEachLabelledImageOnce) {
  const std::uint32_t seed = aulens::testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  const Dataset d = make_dataset(600, 23, seed);
  const int folds = 5;
  std::vector<int> times_in_test(d.size(), 0);
  for (int f = 0; f < folds; ++f) {
    const Split split = make_subject_kfold(d, folds, f, 7);
    EXPECT_FALSE(split.subject_overlapping);
    EXPECT_NE(split.protocol.find("subject_kfold"), std::string::npos);
    const auto train_subjects = subjects_of(d, split.train),
               test_subjects = subjects_of(d, split.test);
    for (auto s : test_subjects)
      EXPECT_EQ(train_subjects.count(s), 0u) << "subject " << s << " in both, fold " << f;
    EXPECT_FALSE(split.test.empty());
    EXPECT_EQ(split.train.size() + split.test.size(),
              static_cast<std::size_t>(std::count_if(d.labels.data<std::int32_t>(),
                                                     d.labels.data<std::int32_t>() + d.size(),
                                                     [](std::int32_t l) { return l >= 0; })));
    for (auto i : split.test) ++times_in_test[i];
    for (auto i : split.train) EXPECT_GE(d.labels.data<std::int32_t>()[i], 0);
  }
  for (std::int64_t i = 0; i < d.size(); ++i) {
    const int expected = d.labels.data<std::int32_t>()[i] >= 0 ? 1 : 0;
    ASSERT_EQ(times_in_test[i], expected)
        << "image " << i << " label " << d.labels.data<std::int32_t>()[i];
  }
  // Same seed, same split; another seed, another.
  EXPECT_EQ(make_subject_kfold(d, folds, 2, 7).test, make_subject_kfold(d, folds, 2, 7).test);
  EXPECT_NE(make_subject_kfold(d, folds, 2, 7).test, make_subject_kfold(d, folds, 2, 8).test);
  EXPECT_THROW(make_subject_kfold(d, 30, 0, 1), Error);  // more folds than subjects
  EXPECT_THROW(make_subject_kfold(d, 5, 5, 1), Error);
}

TEST(DatasetSplits, Random200HasTwoHundredTestImagesAndIsFlagged) {
  const std::uint32_t seed = aulens::testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  const Dataset d = make_dataset(500, 10, seed);
  DatasetConfig cfg;
  cfg.split = "random_200";
  const Split split = make_split(d, cfg);
  EXPECT_EQ(split.test.size(), 200u);
  EXPECT_TRUE(split.subject_overlapping);
  EXPECT_NE(split.protocol.find("subject-overlapping"), std::string::npos);
  std::set<std::int32_t> all(split.train.begin(), split.train.end());
  for (auto i : split.test)
    EXPECT_TRUE(all.insert(i).second) << "image " << i << " in train and test";
  for (auto i : all) EXPECT_GE(d.labels.data<std::int32_t>()[i], 0);
  EXPECT_NE(dataset_summary(d, split).find("SUBJECT-OVERLAPPING"), std::string::npos);
  cfg.split = "bogus";
  EXPECT_THROW(make_split(d, cfg), Error);
}

TEST(DatasetCache, SaveLoadRoundTripIsExact) {
  const std::uint32_t seed = aulens::testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  const Dataset d = make_dataset(37, 4, seed);
  const Split split = make_random_split(d, 5, 3);
  const fs::path path =
      fs::temp_directory_path() / ("aulens_cache_" + std::to_string(::getpid()) + ".safetensors");
  save_dataset_cache(path, d, split, "dataset:\n  source: test\n");
  const DatasetCache back = load_dataset_cache(path);
  fs::remove(path);
  const Dataset& e = back.data;
  EXPECT_EQ(e.source, d.source);
  EXPECT_EQ(e.root, d.root);
  EXPECT_EQ(e.crop_size, d.crop_size);
  EXPECT_EQ(e.class_names, d.class_names);
  EXPECT_EQ(e.au_ids, d.au_ids);
  EXPECT_EQ(e.source_paths, d.source_paths);
  EXPECT_EQ(e.subject_names, d.subject_names);
  ASSERT_EQ(e.issues.size(), 1u);
  EXPECT_EQ(e.issues[0].describe(), d.issues[0].describe());
  EXPECT_EQ(e.counts.sequences, 17);
  EXPECT_EQ(e.counts.frames_unused, 4);
  EXPECT_EQ(back.split.train, split.train);
  EXPECT_EQ(back.split.test, split.test);
  EXPECT_EQ(back.split.protocol, split.protocol);
  EXPECT_TRUE(back.split.subject_overlapping);
  EXPECT_EQ(back.config_yaml, "dataset:\n  source: test\n");
  auto same_bytes = [](const Tensor& a, const Tensor& b, const char* name) {
    ASSERT_EQ(a.shape(), b.shape()) << name;
    ASSERT_EQ(a.dtype(), b.dtype()) << name;
    const auto* pa = static_cast<const unsigned char*>(a.raw());
    const auto* pb = static_cast<const unsigned char*>(b.raw());
    for (std::size_t i = 0; i < a.nbytes(); ++i) ASSERT_EQ(pa[i], pb[i]) << name << " byte " << i;
  };
  same_bytes(e.crops, d.crops, "crops");
  same_bytes(e.labels, d.labels, "labels");
  same_bytes(e.aus, d.aus, "aus");
  same_bytes(e.subject, d.subject, "subject");
  same_bytes(e.sequence, d.sequence, "sequence");
  same_bytes(e.frame, d.frame, "frame");
  same_bytes(e.landmarks, d.landmarks, "landmarks");
  same_bytes(e.au_regions, d.au_regions, "au_regions");
  EXPECT_THROW(load_dataset_cache(path), Error);  // gone
}

// A stage loads the cache with its config: one prepared with other dataset settings is stale.
TEST(DatasetCache, AStageRefusesACachePreparedWithOtherDatasetSettings) {
  const Dataset d = make_dataset(12, 2, 7);
  RunConfig cfg;
  cfg.source_file = "run.yaml";
  const Split split = make_random_split(d, 3, 1);
  const fs::path path =
      fs::temp_directory_path() / ("aulens_stale_" + std::to_string(::getpid()) + ".safetensors");
  save_dataset_cache(path, d, split, config_to_yaml(cfg));
  EXPECT_EQ(load_dataset_cache(path, cfg).split.test, split.test);
  cfg.train.max_epochs += 1;  // not a dataset setting
  EXPECT_NO_THROW(load_dataset_cache(path, cfg));
  cfg.dataset.fold = 1;
  try {
    load_dataset_cache(path, cfg);
    ADD_FAILURE() << "a cache of fold 0 was used for fold 1";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path.string()), std::string::npos) << what;
    EXPECT_NE(what.find("dataset.fold: 0, but the config has dataset.fold: 1"), std::string::npos)
        << what;
    EXPECT_NE(what.find("aulens prepare run.yaml"), std::string::npos) << what;
  }
  fs::remove(path);
}

TEST(DatasetFlip, MirrorIndicesArePairedInvolutions) {
  for (int k = 0; k < kLandmarkCount; ++k)
    EXPECT_EQ(ibug_mirror_index(ibug_mirror_index(k)), k) << k;
  EXPECT_EQ(ibug_mirror_index(0), 16);
  EXPECT_EQ(ibug_mirror_index(17), 26);
  EXPECT_EQ(ibug_mirror_index(36), 45);
  EXPECT_EQ(ibug_mirror_index(39), 42);
  EXPECT_EQ(ibug_mirror_index(40), 47);
  EXPECT_EQ(ibug_mirror_index(31), 35);
  EXPECT_EQ(ibug_mirror_index(48), 54);
  EXPECT_EQ(ibug_mirror_index(55), 59);
  EXPECT_EQ(ibug_mirror_index(60), 64);
  EXPECT_EQ(ibug_mirror_index(65), 67);
  EXPECT_EQ(ibug_mirror_index(30), 30);
  EXPECT_EQ(ibug_mirror_index(57), 57);
}

// An S×S crop with one bright dot at landmark `k`, flipped by the augmentation rule (angle 0,
// flip on, offsets 0, out = S): the dot must sit at the flipped landmark of k's mirror partner,
// and inside the flipped box that held it.
TEST(DatasetFlip, ImageFlippedByTheRuleMatchesFlippedLandmarksAndBoxes) {
  const int s = 99;
  const std::uint32_t seed = aulens::testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> coord(5, s - 6);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<float> landmarks(2 * kLandmarkCount);
    for (auto& v : landmarks) v = static_cast<float>(coord(rng));
    const int k = static_cast<int>(rng() % kLandmarkCount);
    std::vector<std::uint8_t> crop(s * s, 10);
    const int dot_x = static_cast<int>(landmarks[2 * k]),
              dot_y = static_cast<int>(landmarks[2 * k + 1]);
    crop[dot_y * s + dot_x] = 250;
    // Exclusive-end box whose pixels are x in [dot_x − 3, dot_x], y in [dot_y − 2, dot_y + 3].
    float box[4] = {static_cast<float>(dot_x - 3), static_cast<float>(dot_y - 2),
                    static_cast<float>(dot_x + 1), static_cast<float>(dot_y + 4)};

    // The rule of aulens/augment.h with θ = 0 (then xs = u, ys = v exactly).
    const AugmentParams p{0.0f, 1, 0, 0};
    std::vector<std::uint8_t> flipped(s * s, 0);
    for (int i = 0; i < s; ++i)
      for (int j = 0; j < s; ++j) {
        int u = p.offset_x + j;
        const int v = p.offset_y + i;
        if (p.flip) u = s - 1 - u;
        flipped[i * s + j] = crop[v * s + u];
      }

    std::vector<float> moved = landmarks;
    flip_landmarks(moved.data(), s);
    const int m = ibug_mirror_index(k);
    const int fx = static_cast<int>(std::lround(moved[2 * m])),
              fy = static_cast<int>(std::lround(moved[2 * m + 1]));
    EXPECT_EQ(flipped[fy * s + fx], 250)
        << "landmark " << k << " → " << m << " at (" << fx << ", " << fy << ")";
    int bright = 0;
    for (auto v : flipped) bright += v == 250;
    EXPECT_EQ(bright, 1);
    flip_box(box, s);
    EXPECT_LE(box[0], box[2]);
    // The flipped box covers exactly the flipped pixels: x in [fx, fx + 3].
    EXPECT_EQ(box[0], static_cast<float>(fx));
    EXPECT_EQ(box[2], static_cast<float>(fx + 4));
    EXPECT_TRUE(box[0] <= fx && fx < box[2] && box[1] <= fy && fy < box[3])
        << "box (" << box[0] << "," << box[1] << "," << box[2] << "," << box[3] << ") misses ("
        << fx << "," << fy << ")";
    flip_landmarks(moved.data(), s);
    EXPECT_EQ(moved, landmarks) << "flipping twice must give the original";
  }
  float absent[4] = {kNoRegion, kNoRegion, kNoRegion, kNoRegion};
  flip_box(absent, s);
  EXPECT_EQ(absent[0], kNoRegion);
  EXPECT_EQ(absent[2], kNoRegion);
}
