// Training (DESIGN §1.2, §6): epochs of augmented mini-batches over the training split, evaluation
// on the held-out split after every epoch, early stopping on its accuracy, an atomic checkpoint
// after every epoch, and resume from the last one.
//
// Everything random is a pure function of the seed and the position in training: the epoch's
// shuffle of the training split (seed, epoch), each sample's augmentation (seed, epoch, image
// index; aulens/augment.h) and each step's dropout mask (seed, step). With the deterministic CPU
// ops a run is therefore bit-reproducible, and a killed run resumed from its last checkpoint
// reaches the same weights as an uninterrupted one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "aulens/config.h"
#include "aulens/dataset.h"
#include "aulens/net.h"

namespace aulens {

// Accuracy figures of one evaluation pass.
struct Evaluation {
  double loss = 0.0;                       // mean cross-entropy
  double accuracy = 0.0;                   // share of correct predictions
  std::vector<double> per_class_accuracy;  // recall per class (NaN for a class with no image)
  std::vector<std::int64_t> confusion;  // classes × classes, row = true class, column = predicted
  std::int64_t images = 0;
};

struct EpochMetrics {
  int epoch = 0;                   // 1-based
  double train_loss = 0.0;         // mean over the epoch's samples (with dropout, augmented)
  double train_accuracy = 0.0;     // on the augmented samples as trained
  Evaluation test;                 // the held-out split, centre crops, no dropout
  double images_per_second = 0.0;  // training samples per second of the epoch's training loop
  double seconds = 0.0;            // the whole epoch, evaluation included
};

struct TrainReport {
  std::vector<EpochMetrics> history;
  int best_epoch = 0;  // 1-based epoch of the best test accuracy
  double best_accuracy = 0.0;
  std::string stop_reason;  // "patience", "max_epochs", or "resumed run already finished"
  std::string device;       // "cpu", "cuda (handwritten)", "cuda (cudnn)"
  std::string cpu_blas;     // on the CPU: cpu_blas_description() (aulens/ops.h)
  bool subject_overlapping = false;
  // With train.fp32_conv: fastest on the GPU, the kernel each conv shape ran with and the times
  // that chose it (aulens/cuda_math.h: conv_tuning_choices); empty otherwise.
  std::vector<std::string> conv_kernels;
  // This invocation only (a resumed run's earlier epochs are not counted): seconds spent in the
  // epochs (EpochMetrics::seconds, evaluation included) and in writing the checkpoints and
  // metrics.json after each, so the rest of a run's time (start-up, loading) can be told apart.
  double epoch_seconds = 0.0;
  double checkpoint_seconds = 0.0;
};

struct TrainOptions {
  std::filesystem::path out_dir;  // checkpoints/, metrics.json, train_config.yaml go here
  bool resume = false;            // continue from out_dir/checkpoints/last.safetensors if present
  // Called with one human-readable progress line at a time (defaults to stdout when empty).
  std::function<void(const std::string&)> log;
};

// "cuda", "cpu" or "auto" (cuda when a GPU is usable) → the device to train on; throws when cuda
// is asked for and none is usable.
Device resolve_device(const std::string& name);

// The random draws of training, pure functions of train.seed. Epoch e (1-based) visits the
// training split in epoch_order(split.train, seed, e), in batches of train.batch; each image i of
// it is augmented with augment_draw(seed, e, i, …) (aulens/augment.h); step t (0-based, counted
// across epochs, so a resumed run continues the sequence) draws its dropout mask with
// step_dropout(seed, t, batch, fc).
std::vector<std::int32_t> epoch_order(std::vector<std::int32_t> train, std::uint64_t seed,
                                      int epoch);
DropoutDraw step_dropout(std::uint64_t seed, std::int64_t step, int batch, int fc);

// "" when the checkpoint at `path` (checkpoints/last.safetensors) can be resumed with `cfg`,
// else why not: it is missing or unreadable (cut short, say), holds no momentum buffers, no
// training config or no readable training history, or was trained with other settings than `cfg`
// (the first that differs, named; max_epochs, patience, the device and the conv backend and math
// may change). train_network with resume throws with this reason; `aulens run` starts afresh
// instead.
std::string resume_refusal(const std::filesystem::path& path, const RunConfig& cfg);

// Trains cfg.model on `data` with `split` as described above. Throws aulens::Error when the loss
// becomes NaN or Inf (naming the epoch and step), when a split is empty, or on IO problems.
TrainReport train_network(const RunConfig& cfg, const Dataset& data, const Split& split,
                          const TrainOptions& options);

// The metrics of a whole run as JSON text (what metrics.json holds).
std::string metrics_json(const TrainReport& report, const std::vector<std::string>& class_names);

}  // namespace aulens
