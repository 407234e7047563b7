// The trainer on the CPU with a tiny network and a toy dataset whose classes are separable
// (a bright blob top-left vs bottom-right): it must learn, follow its documented draw rule (order,
// augmentation and dropout per epoch and step), be bit-reproducible for a seed, resume to the same
// weights as an uninterrupted run, and stop on a NaN loss.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "aulens/augment.h"
#include "aulens/checkpoint.h"
#include "aulens/ops.h"
#include "aulens/rng.h"
#include "aulens/safetensors.h"
#include "aulens/trainer.h"
#include "toy_training.h"

namespace aulens {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("aulens_trainer_" + name);
  fs::remove_all(dir);
  return dir;
}

// Every parameter of two checkpoints, compared bit for bit.
void expect_same_weights(const fs::path& a, const fs::path& b, const NetConfig& net) {
  const TrainState sa = load_checkpoint(a, net, Device::cpu);
  const TrainState sb = load_checkpoint(b, net, Device::cpu);
  const auto na = sa.params.named();
  const auto nb = sb.params.named();
  for (std::size_t t = 0; t < na.size(); ++t) {
    const auto va = na[t].second->to_vector<float>();
    const auto vb = nb[t].second->to_vector<float>();
    ASSERT_EQ(va.size(), vb.size());
    for (std::size_t i = 0; i < va.size(); ++i) {
      ASSERT_EQ(va[i], vb[i]) << na[t].first << "[" << i << "] differs";
    }
  }
}

TEST(Trainer, LearnsASeparableToyProblemAndWritesItsOutputs) {
  RunConfig cfg = toy_config(fresh_dir("learn"));
  cfg.train.max_epochs = 8;
  const TrainReport report = train_toy(cfg);
  ASSERT_EQ(report.history.size(), 8u);
  EXPECT_GE(report.best_accuracy, 0.9) << "held-out accuracy on a separable toy set";
  EXPECT_LT(report.history.back().train_loss, report.history.front().train_loss);
  EXPECT_EQ(report.stop_reason, "max_epochs");
  double epochs = 0.0;
  for (const auto& m : report.history) epochs += m.seconds;
  EXPECT_DOUBLE_EQ(report.epoch_seconds, epochs) << "a fresh run counts each of its epochs once";
  EXPECT_GT(report.checkpoint_seconds, 0.0) << "eight checkpoints were written";
  const fs::path checkpoints = cfg.output / "checkpoints";
  EXPECT_EQ(load_checkpoint(checkpoints / "last.safetensors", cfg.model, Device::cpu).epoch, 8);
  EXPECT_EQ(load_checkpoint(checkpoints / "best.safetensors", cfg.model, Device::cpu).epoch,
            report.best_epoch);
  // After an improving epoch `last` is a second name of `best` (no second write); otherwise its
  // own file.
  EXPECT_EQ(fs::equivalent(checkpoints / "best.safetensors", checkpoints / "last.safetensors"),
            report.best_epoch == 8);
  EXPECT_TRUE(fs::exists(cfg.output / "train_config.yaml"));
  std::ifstream metrics(cfg.output / "metrics.json");
  const auto j = nlohmann::json::parse(metrics);
  EXPECT_EQ(j.at("epochs").size(), 8u);
  EXPECT_EQ(j.at("stop_reason"), "max_epochs");
  EXPECT_EQ(j.at("epochs")[0].at("test_confusion").size(), 4u);
  std::int64_t confusion_total = 0;
  for (auto v : j.at("epochs")[0].at("test_confusion")) confusion_total += v.get<std::int64_t>();
  EXPECT_EQ(confusion_total, 32);
}

// The draw rule of trainer.h, replayed by hand for two epochs with the network's own ops: the
// epoch's order, augment_draw(seed, epoch, image) per image and step_dropout(seed, step) per step,
// the step counted across epochs. The trainer must reach the same weights bit for bit, so a
// trainer that reused one epoch's augmentation or one step's dropout mask would fail here.
TEST(Trainer, FollowsItsDrawRuleEpochByEpoch) {
  RunConfig cfg = toy_config(fresh_dir("rule"));
  cfg.train.max_epochs = 2;
  train_toy(cfg);

  const Dataset data = toy_dataset();
  const Split split = toy_split();
  const std::uint64_t seed = cfg.train.seed;
  const int batch = cfg.train.batch, size = cfg.model.input_size, crop = data.crop_size;
  Network<CpuOps> net(cfg.model);
  Params params = init_params(cfg.model, seed, Device::cpu, cfg.train.init == "unit_gaussian");
  Params momentum = Params::zeros(cfg.model, Device::cpu);
  Params grads;
  Activations acts;
  std::int64_t step = 0;
  for (int epoch = 1; epoch <= 2; ++epoch) {
    const std::vector<std::int32_t> order = epoch_order(split.train, seed, epoch);
    for (std::size_t begin = 0; begin < order.size(); begin += batch) {
      const int n = static_cast<int>(std::min<std::size_t>(batch, order.size() - begin));
      std::vector<AugmentParams> aug(n);
      std::vector<std::int32_t> labels(n);
      for (int i = 0; i < n; ++i) {
        aug[i] = augment_draw(seed, epoch, order[begin + i], cfg.train.augment.max_rotation_deg,
                              cfg.train.augment.flip, crop, size);
        labels[i] = data.labels.data<std::int32_t>()[order[begin + i]];
      }
      Tensor input({n, 1, size, size}, DType::f32);
      CpuOps::augment_batch(n, crop, size, data.crops.data<std::uint8_t>(), order.data() + begin,
                            aug.data(), input.data<float>());
      net.forward(params, input, true, step_dropout(seed, step, batch, cfg.model.fc), acts);
      net.backward(params, acts, Tensor::from_vector<std::int32_t>({n}, labels), grads);
      net.sgd_step(params, grads, momentum, cfg.train.sgd);
      ++step;
    }
  }
  const TrainState trained =
      load_checkpoint(cfg.output / "checkpoints/last.safetensors", cfg.model, Device::cpu);
  const auto want = params.named();
  const auto got = trained.params.named();
  for (std::size_t t = 0; t < want.size(); ++t) {
    EXPECT_EQ(got[t].second->to_vector<float>(), want[t].second->to_vector<float>())
        << want[t].first << " differs from the replay";
  }

  // Each epoch visits every training image once, in its own order.
  const auto first = epoch_order(split.train, seed, 1), second = epoch_order(split.train, seed, 2);
  EXPECT_NE(first, second);
  auto sorted = first;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, split.train);
}

TEST(Trainer, IsBitReproducibleForASeed) {
  const RunConfig a = toy_config(fresh_dir("repro_a"));
  const RunConfig b = toy_config(fresh_dir("repro_b"));
  train_toy(a);
  train_toy(b);
  expect_same_weights(a.output / "checkpoints/last.safetensors",
                      b.output / "checkpoints/last.safetensors", a.model);
}

TEST(Trainer, ResumedRunReachesTheSameWeightsAsAnUninterruptedOne) {
  const RunConfig whole = toy_config(fresh_dir("whole"));
  train_toy(whole);
  RunConfig part = toy_config(fresh_dir("part"));
  part.train.max_epochs = 2;  // "killed" after two epochs
  train_toy(part);
  part.train.max_epochs = 4;
  const TrainReport resumed = train_toy(part, /*resume=*/true);
  EXPECT_EQ(resumed.history.size(), 4u) << "history restored from the checkpoint";
  expect_same_weights(whole.output / "checkpoints/last.safetensors",
                      part.output / "checkpoints/last.safetensors", whole.model);
}

TEST(Trainer, ResumeRefusesACheckpointTrainedWithOtherSettings) {
  RunConfig cfg = toy_config(fresh_dir("other_settings"));
  cfg.train.max_epochs = 1;
  train_toy(cfg);
  RunConfig changed = cfg;
  changed.train.max_epochs = 2;  // training longer is what resume is for: allowed
  changed.train.sgd.lr = 0.05f;  // another learning rate is another run: refused
  try {
    train_toy(changed, /*resume=*/true);
    FAIL() << "a checkpoint trained with lr 0.02 was resumed with lr 0.05";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train.sgd.lr"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("last.safetensors"), std::string::npos) << e.what();
  }
  // Other widths are named as a setting, before the tensors' shapes could disagree.
  const fs::path last = cfg.output / "checkpoints" / "last.safetensors";
  RunConfig wider = cfg;
  wider.model.conv1 = 6;
  EXPECT_NE(resume_refusal(last, wider).find("model.conv1: 4, but the config has model.conv1: 6"),
            std::string::npos)
      << resume_refusal(last, wider);
  changed.train.sgd.lr = cfg.train.sgd.lr;
  EXPECT_EQ(resume_refusal(last, changed), "");
  EXPECT_EQ(train_toy(changed, /*resume=*/true).history.size(), 2u);
}

// A checkpoint whose recorded training history or config does not parse (damaged, or edited by
// hand) is not resumed from: the reason names the file and what is unreadable.
TEST(Trainer, ResumeRefusesACheckpointWithAnUnreadableHistoryOrConfig) {
  RunConfig cfg = toy_config(fresh_dir("unreadable_history"));
  cfg.train.max_epochs = 1;
  train_toy(cfg);
  const fs::path last = cfg.output / "checkpoints" / "last.safetensors";
  const SafeTensors intact = load_safetensors(last);
  ASSERT_EQ(resume_refusal(last, cfg), "");
  for (const auto& [key, damaged, words] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"history", "[{\"epoch\": 1}]", "training history it records"},
           {"history", "[{\"epoch\": ", "training history it records"},
           {"config_yaml", "dataset: [unclosed",
            "configuration it records is not readable YAML"}}) {
    SafeTensors file = intact;
    file.metadata[key] = damaged;
    save_safetensors(last, file.tensors, file.metadata);
    const std::string refusal = resume_refusal(last, cfg);
    EXPECT_NE(refusal.find(last.string()), std::string::npos) << key << ": " << refusal;
    EXPECT_NE(refusal.find(words), std::string::npos) << key << ": " << refusal;
    EXPECT_NE(refusal.find("it cannot be resumed from"), std::string::npos) << refusal;
  }
  SafeTensors file = intact;
  file.metadata.erase("history");
  save_safetensors(last, file.tensors, file.metadata);
  EXPECT_NE(resume_refusal(last, cfg).find("records no training history"), std::string::npos)
      << resume_refusal(last, cfg);
}

// A fresh start sets an earlier run's checkpoints aside and removes a killed write's temporary:
// had this run been killed before its first checkpoint, a resume could not have found the other
// run's.
TEST(Trainer, AFreshStartSetsAnEarlierRunsCheckpointsAside) {
  RunConfig cfg = toy_config(fresh_dir("fresh_start"));
  cfg.train.max_epochs = 1;
  train_toy(cfg);
  const fs::path dir = cfg.output / "checkpoints";
  std::ofstream(dir / "last.safetensors.tmp-99999") << "half a file";
  RunConfig diverging = cfg;
  diverging.train.init = "unit_gaussian";
  diverging.train.sgd.lr = 1e6f;  // stops in epoch 1, before any checkpoint
  EXPECT_THROW(train_toy(diverging), Error);
  EXPECT_FALSE(fs::exists(dir / "last.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "best.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "last.safetensors.tmp-99999"));
  EXPECT_TRUE(fs::exists(dir / "previous" / "last.safetensors"));
  EXPECT_TRUE(fs::exists(dir / "previous" / "best.safetensors"));
}

TEST(Trainer, StopsWhenTheLossIsNotFinite) {
  RunConfig cfg = toy_config(fresh_dir("nan"));
  cfg.train.init = "unit_gaussian";
  cfg.train.sgd.lr = 1e6f;
  try {
    train_toy(cfg);
    FAIL() << "training with lr 1e6 should have stopped";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the loss became"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("at epoch 1, step "), std::string::npos) << e.what();
  }
  // The losses are read back per epoch, before anything of that epoch is saved: no checkpoint
  // holds the diverged weights.
  EXPECT_FALSE(fs::exists(cfg.output / "checkpoints" / "last.safetensors"));
}

TEST(Trainer, StopsAfterPatienceEpochsWithoutImprovement) {
  RunConfig cfg = toy_config(fresh_dir("patience"));
  cfg.train.sgd.lr = 0.0f;  // nothing changes, so the accuracy never improves after epoch 1
  cfg.train.patience = 2;
  cfg.train.max_epochs = 10;
  const TrainReport report = train_toy(cfg);
  EXPECT_EQ(report.stop_reason, "patience");
  EXPECT_EQ(report.history.size(), 3u);
  EXPECT_EQ(report.best_epoch, 1);
}

}  // namespace
}  // namespace aulens
