// The trainer (aulens/trainer.h): generic over the op backend, instantiated for CpuOps and, when
// built with CUDA, CudaOps and CudnnOps. The dataset's face crops are uploaded to the device once;
// every batch is augmented there by Ops::augment_batch.
#include "aulens/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "aulens/atomic_file.h"
#include "aulens/checkpoint.h"
#include "aulens/cuda_math.h"
#include "aulens/device.h"
#include "aulens/rng.h"
#include "aulens/safetensors.h"

namespace aulens {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kShuffleStream = 0x53485546464c45ull;  // "SHUFFLE"
constexpr std::uint64_t kDropoutStream = 0x44524f504f5554ull;  // "DROPOUT"
constexpr int kEvalBatch = 256;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The settings that decide where training goes, as config_setting_lines: the dataset settings that
// apply to `d` (dataset_setting_lines), the model, and the training settings but the device, the
// convolution backend and math (numerics only) and the stopping rules (max_epochs and patience may
// change on resume, to train longer).
std::vector<std::string> trajectory_settings(const std::string& config_yaml, const DatasetConfig& d,
                                             const std::string& origin) {
  const std::vector<std::string> free_to_change = {"train.device",     "train.conv_backend",
                                                   "train.fp32_conv",  "train.tf32",
                                                   "train.max_epochs", "train.patience"};
  std::vector<std::string> lines = dataset_setting_lines(config_yaml, d, origin);
  for (const char* section : {"model", "train"}) {
    for (std::string& line : config_setting_lines(config_yaml, section, origin)) {
      const std::string key = line.substr(0, line.find(':'));
      if (std::find(free_to_change.begin(), free_to_change.end(), key) == free_to_change.end())
        lines.push_back(std::move(line));
    }
  }
  return lines;
}

// Before a fresh start: the checkpoints of an earlier run in the same folder move to previous/
// (replacing what was there), so that a resume after this run is killed cannot pick up a
// checkpoint it did not write, and a fresh start by mistake loses at most the run before.
// Returns whether there were any.
bool set_aside_earlier_checkpoints(const std::filesystem::path& dir) {
  bool moved = false;
  for (const char* name : {"last.safetensors", "best.safetensors"}) {
    if (!std::filesystem::exists(dir / name)) continue;
    std::filesystem::create_directories(dir / "previous");
    std::filesystem::rename(dir / name, dir / "previous" / name);
    moved = true;
  }
  return moved;
}

// Temporaries of checkpoint writes a killed run left behind (aulens/atomic_file.h).
void remove_unfinished_writes(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return;
  std::vector<std::filesystem::path> left;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().find(".safetensors.tmp-") != std::string::npos)
      left.push_back(entry.path());
  }
  for (const auto& path : left) std::filesystem::remove(path);
}

// Index, augmentation-parameter and label tensors for one batch, on the trainer's device.
// The training history a checkpoint records (metadata "history", written by history_to_json);
// throws aulens::Error naming `file` when it is not there or not readable.
std::vector<EpochMetrics> history_from_json(const std::map<std::string, std::string>& metadata,
                                            const std::filesystem::path& file) {
  const auto text = metadata.find("history");
  if (text == metadata.end())
    throw Error(file.string() + " records no training history (metadata \"history\")");
  std::vector<EpochMetrics> history;
  try {
    for (const auto& j : nlohmann::json::parse(text->second)) {
      EpochMetrics m;
      m.epoch = j.at("epoch");
      m.train_loss = j.at("train_loss");
      m.train_accuracy = j.at("train_accuracy");
      m.test.loss = j.at("test_loss");
      m.test.accuracy = j.at("test_accuracy");
      for (const auto& a : j.at("test_per_class_accuracy")) {
        m.test.per_class_accuracy.push_back(a.is_null() ? std::nan("") : a.get<double>());
      }
      m.test.confusion = j.at("test_confusion").get<std::vector<std::int64_t>>();
      m.test.images = j.at("test_images");
      m.images_per_second = j.at("images_per_second");
      m.seconds = j.at("seconds");
      history.push_back(m);
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(file.string() +
                ": the training history it records (metadata \"history\") is not "
                "readable: " +
                e.what());
  }
  return history;
}

struct BatchInputs {
  Tensor indices;  // (N) i32 rows of the crop tensor
  Tensor params;   // (N · sizeof(AugmentParams)) u8, an array of AugmentParams
  Tensor labels;   // (N) i32
};

// dst = host, on `device`; dst's storage is reused when the shape is unchanged (in the steady state
// a batch allocates and frees nothing on the device, so no implicit synchronisation by cudaFree).
void assign(Tensor& dst, const Tensor& host, Device device) {
  if (dst.defined() && dst.shape() == host.shape() && dst.dtype() == host.dtype()) {
    dst.copy_from(host);
  } else {
    dst = host.to(device);
  }
}

// Fills `b` for the batch `rows` with augmentation `aug`; returns the labels on the host.
std::vector<std::int32_t> upload_batch(const std::vector<std::int32_t>& rows,
                                       const std::vector<AugmentParams>& aug,
                                       const std::int32_t* all_labels, Device device,
                                       BatchInputs& b) {
  const auto n = static_cast<std::int64_t>(rows.size());
  std::vector<std::int32_t> labels(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) labels[i] = all_labels[rows[i]];
  std::vector<std::uint8_t> param_bytes(aug.size() * sizeof(AugmentParams));
  std::memcpy(param_bytes.data(), aug.data(), param_bytes.size());
  assign(b.indices, Tensor::from_vector<std::int32_t>({n}, rows), device);
  assign(b.params,
         Tensor::from_vector<std::uint8_t>({static_cast<std::int64_t>(param_bytes.size())},
                                           param_bytes),
         device);
  assign(b.labels, Tensor::from_vector<std::int32_t>({n}, labels), device);
  return labels;
}

const AugmentParams* params_of(const BatchInputs& b) {
  return reinterpret_cast<const AugmentParams*>(b.params.data<std::uint8_t>());
}

// Adds one batch's predictions to an evaluation (logits on the host).
void score(const std::vector<float>& logits, const std::vector<std::int32_t>& labels, int classes,
           Evaluation& eval, double& loss_sum, std::int64_t& correct) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const float* row = logits.data() + i * classes;
    const int predicted = static_cast<int>(std::max_element(row, row + classes) - row);
    const double top = row[predicted];
    double sum = 0.0;
    for (int c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(row[c]) - top);
    loss_sum += std::log(sum) + top - row[labels[i]];
    correct += predicted == labels[i];
    eval.confusion[static_cast<std::size_t>(labels[i]) * classes + predicted] += 1;
  }
}

template <class Ops>
class Trainer {
 public:
  Trainer(const RunConfig& cfg, const Dataset& data, const Split& split,
          const TrainOptions& options)
      : cfg_(cfg), data_(data), split_(split), options_(options), net_(cfg.model) {
    crops_ = data.crops.to(Ops::device);
    host_labels_ = data.labels.data<std::int32_t>();
  }

  TrainReport run(TrainReport report) {
    const auto checkpoint_dir = options_.out_dir / "checkpoints";
    const auto last_path = checkpoint_dir / "last.safetensors";
    const auto best_path = checkpoint_dir / "best.safetensors";
    remove_unfinished_writes(checkpoint_dir);
    TrainState state;
    if (options_.resume && std::filesystem::exists(last_path)) {
      if (const std::string refusal = resume_refusal(last_path, cfg_); !refusal.empty())
        throw Error(refusal +
                    " (start afresh: `aulens train` without --resume, `aulens run` with "
                    "--force, or another output folder)");
      state = load_checkpoint(last_path, cfg_.model, Ops::device);
      report.history = history_from_json(state.metadata, last_path);
      log("resuming from " + last_path.string() + " after epoch " + std::to_string(state.epoch));
    } else {
      if (options_.resume) log("nothing to resume: no " + last_path.string() + "; starting afresh");
      if (set_aside_earlier_checkpoints(checkpoint_dir))
        log("starting afresh: the earlier checkpoints moved to " +
            (checkpoint_dir / "previous").string());
      state.params =
          init_params(cfg_.model, cfg_.train.seed, Ops::device, cfg_.train.init == "unit_gaussian");
      state.momentum = Params::zeros(cfg_.model, Ops::device);
    }
    report.best_accuracy = state.best_accuracy;
    report.best_epoch = state.best_epoch;
    int stale_epochs = 0;
    for (const auto& m : report.history) {
      stale_epochs = m.epoch > report.best_epoch ? stale_epochs + 1 : 0;
    }
    while (true) {
      if (state.epoch >= cfg_.train.max_epochs) {
        report.stop_reason = "max_epochs";
        break;
      }
      if (!report.history.empty() && stale_epochs >= cfg_.train.patience) {
        report.stop_reason = "patience";
        break;
      }
      EpochMetrics m = run_epoch(state);
      report.history.push_back(m);
      report.epoch_seconds += m.seconds;
      const auto writes_start = Clock::now();
      const std::size_t kernels_logged = report.conv_kernels.size();
      report.conv_kernels = conv_tuning_choices();  // fp32_conv: fastest (aulens/cuda_math.h)
      for (std::size_t i = kernels_logged; i < report.conv_kernels.size(); ++i)
        log("fastest kernel: " + report.conv_kernels[i]);
      const bool improved = report.best_epoch < 0 || m.test.accuracy > report.best_accuracy;
      if (improved) {
        report.best_accuracy = m.test.accuracy;
        report.best_epoch = m.epoch;
        stale_epochs = 0;
        state.best_accuracy = report.best_accuracy;
        state.best_epoch = report.best_epoch;
        save(best_path, state, report);
      } else {
        ++stale_epochs;
      }
      // After an improving epoch `last` is the same bytes as `best`: a second name for that file
      // spares writing and syncing the model and its momentum again (310 MB for the paper's).
      if (!improved || !link_file_atomically(best_path, last_path)) save(last_path, state, report);
      write_file_atomically(options_.out_dir / "metrics.json",
                            metrics_json(report, data_.class_names));
      report.checkpoint_seconds += seconds_since(writes_start);
      log(progress_line(m, report));
    }
    // Once more with the stop reason, which is known only now.
    write_file_atomically(options_.out_dir / "metrics.json",
                          metrics_json(report, data_.class_names));
    return report;
  }

 private:
  EpochMetrics run_epoch(TrainState& state) {
    const auto epoch_start = Clock::now();
    const int epoch = state.epoch + 1;
    const int batch = cfg_.train.batch;
    const int crop = data_.crop_size;
    const int size = cfg_.model.input_size;
    const auto order = epoch_order(split_.train, cfg_.train.seed, epoch);
    EpochMetrics m;
    m.epoch = epoch;
    // The whole epoch's inputs go to the device in one upload, and each step's loss and logits
    // stay there until the epoch ends (or a progress line is due): a copy to or from the device
    // waits for the GPU, and once per batch that would leave it idle while the host prepares the
    // next one.
    std::vector<AugmentParams> aug(order.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      aug[i] = augment_draw(cfg_.train.seed, epoch, order[i], cfg_.train.augment.max_rotation_deg,
                            cfg_.train.augment.flip, crop, size);
    }
    upload_batch(order, aug, host_labels_, Ops::device, batch_);
    const BatchInputs& in = batch_;
    const auto steps = static_cast<std::int64_t>((order.size() + batch - 1) / batch);
    ensure_tensor(step_losses_, {steps}, DType::f32, Ops::device);
    ensure_tensor(step_logits_, {static_cast<std::int64_t>(order.size()), cfg_.model.classes},
                  DType::f32, Ops::device);
    const std::int64_t first_step = state.step;
    auto last_report = Clock::now();
    for (std::int64_t step = 0; step < steps; ++step) {
      const std::size_t begin = static_cast<std::size_t>(step) * batch;
      const std::size_t end = std::min(order.size(), begin + batch);
      const int n = static_cast<int>(end - begin);
      ensure_input(input_, n);
      Ops::augment_batch(n, crop, size, crops_.template data<std::uint8_t>(),
                         in.indices.data<std::int32_t>() + begin, params_of(in) + begin,
                         input_.data<float>());
      net_.forward(state.params, input_, true,
                   step_dropout(cfg_.train.seed, state.step, batch, cfg_.model.fc), acts_);
      net_.backward_queued(state.params, acts_, in.labels.rows(begin, n), grads_);
      net_.sgd_step(state.params, grads_, state.momentum, cfg_.train.sgd);
      ++state.step;
      step_losses_.rows(step, 1).copy_from(net_.loss());
      step_logits_.rows(begin, n).copy_from(acts_.logits);
      if (seconds_since(last_report) > 10.0) {
        last_report = Clock::now();
        const double loss_sum = epoch_loss_sum(order.size(), step + 1, batch, first_step, epoch);
        log("  epoch " + std::to_string(epoch) + ": " + std::to_string(end) + "/" +
            std::to_string(order.size()) + " images, " +
            fmt_double(end / seconds_since(epoch_start), 0) + " img/s, loss " +
            fmt_double(loss_sum / end, 4));
      }
    }
    const double loss_sum = epoch_loss_sum(order.size(), steps, batch, first_step, epoch);
    const std::int64_t correct = count_correct(step_logits_.to_vector<float>(), order);
    const double train_seconds = seconds_since(epoch_start);
    m.train_loss = loss_sum / static_cast<double>(order.size());
    m.train_accuracy = static_cast<double>(correct) / static_cast<double>(order.size());
    m.images_per_second = static_cast<double>(order.size()) / train_seconds;
    m.test = evaluate(state.params, split_.test);
    m.seconds = seconds_since(epoch_start);
    state.epoch = epoch;
    return m;
  }

  Evaluation evaluate(const Params& params, const std::vector<std::int32_t>& rows_all) {
    const int classes = cfg_.model.classes;
    Evaluation eval;
    eval.confusion.assign(static_cast<std::size_t>(classes) * classes, 0);
    double loss_sum = 0.0;
    std::int64_t correct = 0;
    const int crop = data_.crop_size;
    const int size = cfg_.model.input_size;
    // As in training: one upload, the logits read back once at the end.
    const std::vector<AugmentParams> aug(rows_all.size(), augment_centre(crop, size));
    const std::vector<std::int32_t> labels =
        upload_batch(rows_all, aug, host_labels_, Ops::device, eval_batch_);
    const BatchInputs& in = eval_batch_;
    ensure_tensor(eval_logits_, {static_cast<std::int64_t>(rows_all.size()), classes}, DType::f32,
                  Ops::device);
    for (std::size_t begin = 0; begin < rows_all.size(); begin += kEvalBatch) {
      const std::size_t end = std::min(rows_all.size(), begin + kEvalBatch);
      const int n = static_cast<int>(end - begin);
      ensure_input(eval_input_, n);
      Ops::augment_batch(n, crop, size, crops_.template data<std::uint8_t>(),
                         in.indices.data<std::int32_t>() + begin, params_of(in) + begin,
                         eval_input_.data<float>());
      net_.forward(params, eval_input_, false, DropoutDraw{}, eval_acts_);
      eval_logits_.rows(begin, n).copy_from(eval_acts_.logits);
    }
    if (!rows_all.empty())
      score(eval_logits_.to_vector<float>(), labels, classes, eval, loss_sum, correct);
    eval.images = static_cast<std::int64_t>(rows_all.size());
    eval.loss = eval.images ? loss_sum / eval.images : 0.0;
    eval.accuracy = eval.images ? static_cast<double>(correct) / eval.images : 0.0;
    for (int c = 0; c < classes; ++c) {
      std::int64_t total = 0;
      for (int p = 0; p < classes; ++p) total += eval.confusion[c * classes + p];
      eval.per_class_accuracy.push_back(
          total ? static_cast<double>(eval.confusion[c * classes + c]) / total : std::nan(""));
    }
    return eval;
  }

  // Σ loss·n over the epoch's first `steps` steps, in step order, from the device copy; a
  // non-finite loss stops the run, naming the step where it first appeared.
  double epoch_loss_sum(std::size_t images, std::int64_t steps, int batch, std::int64_t first_step,
                        int epoch) const {
    const std::vector<float> losses = step_losses_.rows(0, steps).to_vector<float>();
    double sum = 0.0;
    for (std::int64_t i = 0; i < steps; ++i) {
      const float loss = losses[i];
      if (!std::isfinite(loss)) {
        throw Error("training stopped: the loss became " +
                    std::string(std::isnan(loss) ? "NaN" : "Inf") + " at epoch " +
                    std::to_string(epoch) + ", step " + std::to_string(first_step + i + 1) +
                    " (try a lower train.sgd.lr, or train.init: he_normal)");
      }
      const std::size_t begin = static_cast<std::size_t>(i) * batch;
      sum +=
          static_cast<double>(loss) * static_cast<double>(std::min(images, begin + batch) - begin);
    }
    return sum;
  }

  std::int64_t count_correct(const std::vector<float>& logits,
                             const std::vector<std::int32_t>& rows) const {
    const int classes = cfg_.model.classes;
    std::int64_t correct = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const float* row = logits.data() + i * classes;
      correct += (std::max_element(row, row + classes) - row) == host_labels_[rows[i]];
    }
    return correct;
  }

  // `input` for a batch of n (training and evaluation keep their own; see ensure_tensor).
  void ensure_input(Tensor& input, int n) {
    const int size = cfg_.model.input_size;
    ensure_tensor(input, {n, 1, size, size}, DType::f32, Ops::device);
  }

  void save(const std::filesystem::path& path, TrainState& state, const TrainReport& report) {
    state.metadata["history"] = history_to_json(report.history).dump();
    state.metadata["config_yaml"] = config_to_yaml(cfg_);
    state.metadata["split_protocol"] = split_.protocol;
    save_checkpoint(path, cfg_.model, state);
  }

  void log(const std::string& line) const {
    if (options_.log) {
      options_.log(line);
    } else {
      std::cout << line << std::endl;
    }
  }

  static std::string fmt_double(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
  }

  std::string progress_line(const EpochMetrics& m, const TrainReport& report) const {
    return "epoch " + std::to_string(m.epoch) + "/" + std::to_string(cfg_.train.max_epochs) +
           "  loss " + fmt_double(m.train_loss, 4) + "  train acc " +
           fmt_double(m.train_accuracy, 3) + "  test loss " + fmt_double(m.test.loss, 4) +
           "  test acc " + fmt_double(m.test.accuracy, 3) + " (best " +
           fmt_double(report.best_accuracy, 3) + " @" + std::to_string(report.best_epoch) + ")  " +
           fmt_double(m.images_per_second, 0) + " img/s  " + fmt_double(m.seconds, 1) + " s";
  }

 public:
  static nlohmann::json history_to_json(const std::vector<EpochMetrics>& history) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& m : history) {
      nlohmann::json per_class = nlohmann::json::array();
      for (double a : m.test.per_class_accuracy) {
        per_class.push_back(std::isnan(a) ? nlohmann::json(nullptr) : nlohmann::json(a));
      }
      out.push_back({{"epoch", m.epoch},
                     {"train_loss", m.train_loss},
                     {"train_accuracy", m.train_accuracy},
                     {"test_loss", m.test.loss},
                     {"test_accuracy", m.test.accuracy},
                     {"test_per_class_accuracy", per_class},
                     {"test_confusion", m.test.confusion},
                     {"test_images", m.test.images},
                     {"images_per_second", m.images_per_second},
                     {"seconds", m.seconds}});
    }
    return out;
  }

 private:
  const RunConfig& cfg_;
  const Dataset& data_;
  const Split& split_;
  const TrainOptions& options_;
  Network<Ops> net_;
  Tensor crops_;
  const std::int32_t* host_labels_ = nullptr;
  Tensor input_, eval_input_;
  BatchInputs batch_, eval_batch_;    // an epoch's (an evaluation's) inputs, uploaded at once
  Tensor step_losses_;                // (steps) f32: each step's loss, read back per epoch
  Tensor step_logits_, eval_logits_;  // (images, classes) f32: read back per epoch / evaluation
  Activations acts_, eval_acts_;
  Params grads_;
};

}  // namespace

// The epoch's order of the training split: Fisher–Yates driven by random_bits(seed, epoch, i).
std::vector<std::int32_t> epoch_order(std::vector<std::int32_t> train, std::uint64_t seed,
                                      int epoch) {
  const std::uint64_t stream = mix64(seed ^ kShuffleStream) + static_cast<std::uint64_t>(epoch);
  for (std::size_t i = train.size(); i > 1; --i) {
    const std::uint64_t j = random_bits(stream, i) % i;
    std::swap(train[i - 1], train[j]);
  }
  return train;
}

// Mask element i of step t's batch uses counter t·batch·fc + i: no two steps share a counter.
DropoutDraw step_dropout(std::uint64_t seed, std::int64_t step, int batch, int fc) {
  return DropoutDraw{mix64(seed ^ kDropoutStream), static_cast<std::uint64_t>(step) *
                                                       static_cast<std::uint64_t>(batch) *
                                                       static_cast<std::uint64_t>(fc)};
}

Device resolve_device(const std::string& name) {
  if (name == "cpu") return Device::cpu;
  if (name == "cuda") {
    AULENS_REQUIRE(device::available(),
                   std::string("train.device is cuda but no GPU is usable: ") + device::describe());
    return Device::cuda;
  }
  AULENS_REQUIRE(name == "auto", "device must be cuda, cpu or auto, got '" + name + "'");
  return device::available() ? Device::cuda : Device::cpu;
}

std::string resume_refusal(const std::filesystem::path& path, const RunConfig& cfg) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return "there is no " + path.string();
  SafeTensorsHeader file;  // the header alone: it also checks that every tensor's bytes are there
  try {
    file = read_safetensors_header(path);
  } catch (const Error& e) {
    return std::string(e.what()) + ": it cannot be resumed from";
  }
  if (std::find(file.tensor_names.begin(), file.tensor_names.end(), "momentum.conv1.weight") ==
      file.tensor_names.end())
    return path.string() + " holds no momentum buffers: it cannot be resumed from";
  const auto stored = file.metadata.find("config_yaml");
  if (stored == file.metadata.end())
    return path.string() + " records no training config: it cannot be resumed from";
  try {
    history_from_json(file.metadata, path);
  } catch (const Error& e) {
    return std::string(e.what()) + ": it cannot be resumed from";
  }
  std::string difference;
  try {
    difference = first_setting_difference(
        trajectory_settings(stored->second, cfg.dataset, path.string()),
        trajectory_settings(config_to_yaml(cfg), cfg.dataset, "the config"));
  } catch (const Error& e) {
    return std::string(e.what()) + ": it cannot be resumed from";
  }
  if (!difference.empty())
    return path.string() + " was trained with " + difference +
           ": it cannot be resumed with this config";
  return "";
}

TrainReport train_network(const RunConfig& cfg, const Dataset& data, const Split& split,
                          const TrainOptions& options) {
  AULENS_REQUIRE(!split.train.empty(), "the training split is empty");
  AULENS_REQUIRE(!split.test.empty(), "the held-out split is empty");
  AULENS_REQUIRE(data.crop_size >= cfg.model.input_size,
                 "face crops are " + std::to_string(data.crop_size) +
                     " px, smaller than the input " + std::to_string(cfg.model.input_size));
  AULENS_REQUIRE(static_cast<int>(data.class_names.size()) == cfg.model.classes,
                 "the dataset has " + std::to_string(data.class_names.size()) +
                     " classes but model.classes is " + std::to_string(cfg.model.classes));
  AULENS_REQUIRE(cfg.train.augment.input_size == cfg.model.input_size,
                 "train.augment.input_size (" + std::to_string(cfg.train.augment.input_size) +
                     ") must equal model.input_size (" + std::to_string(cfg.model.input_size) +
                     ")");
  std::filesystem::create_directories(options.out_dir / "checkpoints");
  write_file_atomically(options.out_dir / "train_config.yaml", config_to_yaml(cfg));
  TrainReport report;
  report.subject_overlapping = split.subject_overlapping;
  const Device device = resolve_device(cfg.train.device);
  if (device == Device::cpu) {
    report.device = "cpu";
    report.cpu_blas = cpu_blas_description();
    return Trainer<CpuOps>(cfg, data, split, options).run(std::move(report));
  }
#ifdef AULENS_HAVE_CUDA
  set_cublas_tf32(cfg.train.tf32);
  set_cudnn_math(cfg.train.tf32);
  set_conv_math(conv_math_for(cfg.train.tf32, cfg.train.fp32_conv));
  report.device = "cuda (" + cfg.train.conv_backend +
                  (cfg.train.conv_backend == "handwritten"
                       ? std::string(", ") + conv_math_name(conv_math())
                       : std::string(cfg.train.tf32 ? ", tf32" : ", fp32")) +
                  ")";
  if (cfg.train.conv_backend == "cudnn") {
    return Trainer<CudnnOps>(cfg, data, split, options).run(std::move(report));
  }
  return Trainer<CudaOps>(cfg, data, split, options).run(std::move(report));
#else
  throw Error("this aulens was built without CUDA; use train.device: cpu");
#endif
}

std::string metrics_json(const TrainReport& report, const std::vector<std::string>& class_names) {
  nlohmann::json j;
  j["device"] = report.device;
  if (!report.cpu_blas.empty()) j["cpu_blas"] = report.cpu_blas;
  j["class_names"] = class_names;
  j["best_epoch"] = report.best_epoch;
  j["best_test_accuracy"] = report.best_accuracy;
  j["stop_reason"] = report.stop_reason;
  j["subject_overlapping_split"] = report.subject_overlapping;
  if (!report.conv_kernels.empty()) j["conv_kernels"] = report.conv_kernels;
  j["epochs"] = Trainer<CpuOps>::history_to_json(report.history);
  return j.dump(1);
}

}  // namespace aulens
