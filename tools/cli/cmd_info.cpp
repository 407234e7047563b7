// `aulens info`: what this build is, the BLAS kernels the CPU path uses, and which GPU it sees.
#include <iostream>

#include "aulens/cuda_math.h"
#include "aulens/device.h"
#include "aulens/ops.h"
#include "command.h"

namespace {
const aulens::cli::CommandRegistrar kInfo(aulens::cli::CommandPlace::info, [](CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "info",
      "Print the build configuration, the BLAS kernels of the CPU path and the GPU aulens sees");
  cmd->callback([] {
#ifdef AULENS_HAVE_CUDA
    std::cout << "CUDA: built in\n";
#else
    std::cout << "CUDA: not built\n";
#endif
#ifdef AULENS_HAVE_OPENCV
    std::cout << "OpenCV: built in\n";
#else
    std::cout << "OpenCV: not built (image stages unavailable)\n";
#endif
    std::cout << "CPU BLAS: " << aulens::cpu_blas_description() << "\n";
    std::cout << "GPU: " << aulens::device::describe() << "\n";
    std::cout << "hand-written conv math: train.fp32_conv ffma, "
              << (aulens::conv_tensor_cores_available()
                      ? "3xtf32 or fastest; train.tf32 true (tensor cores available)"
                      : "or fastest (FFMA tile shapes only: 3xtf32 and train.tf32 need a GPU "
                        "with compute capability 8.0+)")
              << "\n";
  });
});
}  // namespace
