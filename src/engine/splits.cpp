// Train/test splits over a prepared Dataset (DESIGN §1.3): subject-independent k-fold (default)
// and the paper's random 200-image test set (subject-overlapping, flagged). Only images with an
// expression label (≥ 0) enter either side; kNoLabel images serve the AU analysis only.
#include <algorithm>
#include <numeric>

#include "aulens/check.h"
#include "aulens/dataset.h"
#include "aulens/rng.h"

namespace aulens {
namespace {

// Fisher–Yates shuffle driven by the counter-based generator, so it is the same everywhere.
template <class T>
void seeded_shuffle(std::vector<T>& values, std::uint64_t seed) {
  for (std::size_t i = values.size(); i > 1; --i) {
    const std::size_t j = static_cast<std::size_t>(random_bits(seed, i) % i);
    std::swap(values[i - 1], values[j]);
  }
}

}  // namespace

Split make_subject_kfold(const Dataset& data, int folds, int fold, std::uint64_t seed) {
  AULENS_CHECK(folds >= 2, "dataset.folds must be at least 2, got " + std::to_string(folds));
  AULENS_CHECK(
      fold >= 0 && fold < folds,
      "dataset.fold must be in 0.." + std::to_string(folds - 1) + ", got " + std::to_string(fold));
  const std::int64_t m = data.size();
  const std::int32_t* labels = data.labels.data<std::int32_t>();
  const std::int32_t* subjects = data.subject.data<std::int32_t>();
  std::vector<std::int32_t> subject_ids;
  for (std::int64_t i = 0; i < m; ++i)
    if (labels[i] >= 0) subject_ids.push_back(subjects[i]);
  std::sort(subject_ids.begin(), subject_ids.end());
  subject_ids.erase(std::unique(subject_ids.begin(), subject_ids.end()), subject_ids.end());
  if (static_cast<int>(subject_ids.size()) < folds)
    throw Error("subject k-fold: " + std::to_string(folds) +
                " folds need at least as many subjects with labelled "
                "images, the dataset has " +
                std::to_string(subject_ids.size()));
  seeded_shuffle(subject_ids, seed);
  std::vector<char> in_test;
  for (std::size_t k = 0; k < subject_ids.size(); ++k) {
    const auto id = static_cast<std::size_t>(subject_ids[k]);
    if (in_test.size() <= id) in_test.resize(id + 1, 0);
    in_test[id] = static_cast<int>(k % folds) == fold;
  }
  Split split;
  for (std::int64_t i = 0; i < m; ++i) {
    if (labels[i] < 0) continue;
    (in_test[subjects[i]] ? split.test : split.train).push_back(static_cast<std::int32_t>(i));
  }
  split.protocol = "subject_kfold fold " + std::to_string(fold) + " of " + std::to_string(folds) +
                   ", seed " + std::to_string(seed);
  split.subject_overlapping = false;
  return split;
}

Split make_random_split(const Dataset& data, int test_images, std::uint64_t seed) {
  const std::int64_t m = data.size();
  const std::int32_t* labels = data.labels.data<std::int32_t>();
  std::vector<std::int32_t> pool;
  for (std::int64_t i = 0; i < m; ++i)
    if (labels[i] >= 0) pool.push_back(static_cast<std::int32_t>(i));
  if (test_images <= 0 || test_images >= static_cast<int>(pool.size()))
    throw Error(
        "random split: " + std::to_string(test_images) + " test images must be between 1 and " +
        std::to_string(static_cast<long>(pool.size()) - 1) + " (the labelled images less one)");
  seeded_shuffle(pool, seed);
  Split split;
  split.test.assign(pool.begin(), pool.begin() + test_images);
  split.train.assign(pool.begin() + test_images, pool.end());
  std::sort(split.test.begin(), split.test.end());
  std::sort(split.train.begin(), split.train.end());
  split.protocol = "random_" + std::to_string(test_images) + " (subject-overlapping), seed " +
                   std::to_string(seed);
  split.subject_overlapping = true;
  return split;
}

Split make_split(const Dataset& data, const DatasetConfig& cfg) {
  if (cfg.split == "subject_kfold")
    return make_subject_kfold(data, cfg.folds, cfg.fold, cfg.split_seed);
  if (cfg.split == "random_200") return make_random_split(data, cfg.test_images, cfg.split_seed);
  throw Error("dataset.split must be subject_kfold or random_200, got '" + cfg.split + "'");
}

}  // namespace aulens
