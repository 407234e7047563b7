// Training checkpoints: one safetensors file holding the parameters under PyTorch's names
// ("conv1.weight" … "fc2.bias", so the file loads into the equivalent PyTorch module), optionally
// the SGD momentum buffers ("momentum.conv1.weight" …) and the progress of training, with the
// NetConfig in "__metadata__" so a load can check it. Written atomically (temporary + rename).
//
// Metadata keys written: "format" = "aulens-checkpoint-1", "net.input_size", "net.conv1",
// "net.conv2", "net.conv3", "net.fc", "net.classes", "net.dropout", "epoch", "step",
// "best_accuracy", "best_epoch", plus the caller's extra keys (which must not collide).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "aulens/net.h"

namespace aulens {

struct TrainState {
  Params params;
  Params momentum;             // undefined tensors when the file holds weights only
  int epoch = 0;               // epochs completed
  std::int64_t step = 0;       // SGD steps taken
  double best_accuracy = 0.0;  // best validation accuracy so far
  int best_epoch = -1;         // the epoch that reached it (−1: none yet)
  std::map<std::string, std::string> metadata;  // extra free-form keys (e.g. the run config)

  bool has_momentum() const { return momentum.conv1_weight.defined(); }
};

// Writes `state` (tensors on any device) for network `cfg` to `path`, atomically.
void save_checkpoint(const std::filesystem::path& path, const NetConfig& cfg,
                     const TrainState& state);

// Reads `path` for network `cfg` onto `device`. When the file records a NetConfig it must equal
// `cfg` in every shape field (dropout may differ; it changes no shape) — else aulens::Error naming
// the file and the differing field; every parameter must be present as F32 with the shape `cfg`
// requires (else an error naming the file and the tensor; a missing one also lists the names the
// file holds). A tensor that is neither a parameter nor its "momentum." buffer is an error: the
// file describes a model with layers this network lacks. Momentum is loaded when the file has it
// (all ten tensors, or an error). Files without aulens metadata (e.g. a PyTorch state_dict saved
// with safetensors) load with epoch 0 and step 0.
TrainState load_checkpoint(const std::filesystem::path& path, const NetConfig& cfg, Device device);

// The NetConfig recorded in a checkpoint's metadata (throws naming the file when there is none).
NetConfig read_checkpoint_config(const std::filesystem::path& path);

}  // namespace aulens
