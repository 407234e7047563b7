// `aulens visualize CONFIG`: conv3 activation records, the top-n images of every conv3 map and
// their deconvnet projections, from <output>/dataset.safetensors and
// <output>/checkpoints/best.safetensors or --checkpoint (aulens/visualize.h lists what it writes).
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "aulens/config.h"
#include "aulens/device.h"
#include "aulens/trainer.h"
#include "aulens/visualize.h"
#include "command.h"
#include "stages.h"
#include "stamps.h"

namespace {

struct VisualizeArgs : aulens::cli::RunFolderArgs {
  std::string images;
  int top_n = 0;
  bool no_images = false;
  std::string checkpoint;
};

void run_visualize_command(const VisualizeArgs& args) {
  aulens::RunConfig cfg = aulens::cli::load_run_folder_config(args);
  if (!args.images.empty()) cfg.visualize.images = args.images;
  if (args.top_n > 0) cfg.visualize.top_n = args.top_n;
  aulens::VisualizeOptions options;
  options.device = aulens::resolve_device(cfg.train.device);
  options.write_images = !args.no_images;
  options.checkpoint = args.checkpoint;
  std::cout << "visualize on " << aulens::device_name(options.device)
            << (options.device == aulens::Device::cuda
                    ? std::string(" (") + aulens::device::describe() + ")"
                    : std::string())
            << "\n";
  if (options.device == aulens::Device::cpu) std::cout << aulens::cli::gpu_settings_note(cfg);
  // `aulens run` redoes this stage and what follows, unless the inputs are refused.
  options.inputs_accepted = [&cfg] { aulens::cli::remove_stamps_from(cfg.output, "visualize"); };
  const aulens::VisualizeSummary s = aulens::run_visualize(cfg, options);
  const double total = s.seconds_load + s.seconds_records + s.seconds_top_n +
                       s.seconds_projections + s.seconds_write + s.seconds_render;
  std::cout << fmt::format(
      "analysed {} images ({}, split {}{}), {} conv3 maps, top {}\n"
      "seconds: load {:.2f}, records {:.2f}, top-n {:.3f}, projections {:.3f}, write {:.2f}, "
      "pictures {:.2f}, total {:.2f}\n"
      "projected activations match their records to {:.2g} (|difference| / max(1, |value|))\n",
      s.image_count, s.images, s.split_protocol,
      s.subject_overlapping ? ", SUBJECT-OVERLAPPING" : "", s.maps, s.top_n, s.seconds_load,
      s.seconds_records, s.seconds_top_n, s.seconds_projections, s.seconds_write, s.seconds_render,
      total, s.worst_seed_mismatch);
  std::cout << "wrote";
  for (const auto& file : s.files) std::cout << " " << file.string();
  if (s.images_written) std::cout << " (" << s.png_files << " PNG files)";
  std::cout << "\n";
}

const aulens::cli::CommandRegistrar kVisualize(
    aulens::cli::CommandPlace::visualize, [](CLI::App& app) {
      auto args = std::make_shared<VisualizeArgs>();
      auto* cmd = app.add_subcommand(
          "visualize",
          "Activation records of conv3, the top-n images of every conv3 map and their deconvnet "
          "projections");
      cmd->footer(
          "Reads <output>/dataset.safetensors and <output>/checkpoints/best.safetensors (or the "
          "visualize.checkpoint or --checkpoint file). Writes "
          "into <output>/: records.safetensors (conv3_value, conv3_position, image_index), "
          "topk.csv, projections.safetensors (raw 32x32 projections and window origins) and, with "
          "OpenCV, deconv/map_NNN.png strips (projections above receptive-field crops) and "
          "deconv/contact_sheet.png");
      aulens::cli::add_run_folder_options(cmd, *args);
      cmd->add_option("--images", args->images,
                      "overrides visualize.images: train or test (the split's labelled images) or "
                      "all (every dataset image)")
          ->check(CLI::IsMember({"train", "test", "all"}));
      cmd->add_option("--top-n", args->top_n, "overrides visualize.top_n (1 to 32)")
          ->check(CLI::Range(1, 32));
      cmd->add_flag("--no-images", args->no_images,
                    "write records, topk.csv and projections only, no PNG files");
      cmd->add_option("--checkpoint", args->checkpoint,
                      "overrides visualize.checkpoint: analyse this model instead of the run "
                      "folder's checkpoints/best.safetensors, e.g. an aulens checkpoint or a "
                      "PyTorch state_dict "
                      "saved with safetensors (names conv1.weight … fc2.bias, float32, shapes "
                      "of the config's model section; README: a model trained elsewhere)");
      cmd->callback([args] { run_visualize_command(*args); });
    });

}  // namespace
