// The trainer's toy problem, shared by tests/test_trainer.cpp (CPU) and
// tests/gpu/test_train_gpu.cpp (GPU against CPU): 96 crops of 20×20 whose two classes are
// separable (a bright blob top-left vs bottom-right, with noise), 64 for training and 32 held out,
// and a tiny network (16×16 input, widths 4/8/8, fc 16) that learns it in a few epochs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "aulens/config.h"
#include "aulens/dataset.h"
#include "aulens/rng.h"
#include "aulens/trainer.h"

namespace aulens {

inline constexpr int kCrop = 20;
inline constexpr int kImages = 96;

inline Dataset toy_dataset() {
  Dataset data;
  data.source = "toy";
  data.crop_size = kCrop;
  data.class_names = {"top_left", "bottom_right"};
  data.crops = Tensor({kImages, kCrop, kCrop}, DType::u8);
  data.labels = Tensor({kImages}, DType::i32);
  auto* pixels = data.crops.data<std::uint8_t>();
  auto* labels = data.labels.data<std::int32_t>();
  for (int i = 0; i < kImages; ++i) {
    labels[i] = i % 2;
    for (int y = 0; y < kCrop; ++y) {
      for (int x = 0; x < kCrop; ++x) {
        const bool blob = labels[i] == 0 ? (y < 9 && x < 9) : (y >= 11 && x >= 11);
        const int noise = static_cast<int>(uniform01(7, i * 1000 + y * kCrop + x) * 60);
        pixels[(i * kCrop + y) * kCrop + x] = static_cast<std::uint8_t>((blob ? 170 : 40) + noise);
      }
    }
  }
  return data;
}

inline Split toy_split() {
  Split split;
  for (int i = 0; i < kImages; ++i) (i < 64 ? split.train : split.test).push_back(i);
  split.protocol = "toy";
  return split;
}

inline RunConfig toy_config(const std::filesystem::path& out) {
  RunConfig cfg;
  cfg.output = out;
  cfg.model = NetConfig{16, 4, 8, 8, 16, 2, 0.5f};
  cfg.train.device = "cpu";
  cfg.train.batch = 16;
  cfg.train.max_epochs = 4;
  cfg.train.patience = 100;
  cfg.train.sgd.lr = 0.02f;
  cfg.train.augment.max_rotation_deg = 5.0f;
  cfg.train.augment.input_size = 16;
  return cfg;
}

// The toy problem trained with `cfg` (into cfg.output), without progress lines.
inline TrainReport train_toy(const RunConfig& cfg, bool resume = false) {
  static const Dataset data = toy_dataset();
  static const Split split = toy_split();
  TrainOptions options;
  options.out_dir = cfg.output;
  options.resume = resume;
  options.log = [](const std::string&) {};
  return train_network(cfg, data, split, options);
}

}  // namespace aulens
