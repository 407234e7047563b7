// The device API when aulens is built without CUDA: reports absence, and every memory call throws
// a clear error instead of failing later in an obscure way.
#include "aulens/check.h"
#include "aulens/cuda_math.h"
#include "aulens/device.h"

namespace aulens::device {

namespace {
[[noreturn]] void no_cuda() {
  throw Error(
      "this aulens was built without CUDA (AULENS_CUDA=OFF or no nvcc found); use --device cpu");
}
}  // namespace

bool available() {
  return false;
}
const char* describe() {
  return "no GPU: aulens was built without CUDA";
}
void* malloc(std::size_t) {
  no_cuda();
}
void free(void*) noexcept {}
void copy_to_device(void*, const void*, std::size_t) {
  no_cuda();
}
void copy_to_host(void*, const void*, std::size_t) {
  no_cuda();
}
void copy_on_device(void*, const void*, std::size_t) {
  no_cuda();
}
void memset_zero(void*, std::size_t) {
  no_cuda();
}
void synchronize() {}
std::size_t peak_allocated_bytes() {
  return 0;
}
void reset_peak_allocated_bytes() {}
std::size_t allocated_bytes() {
  return 0;
}

}  // namespace aulens::device

namespace aulens {
bool conv_tensor_cores_available() {
  return false;
}
std::vector<std::string> conv_tuning_choices() {
  return {};
}
void force_conv_candidate(int) {}
}  // namespace aulens
