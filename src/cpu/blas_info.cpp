#include <cblas.h>

#include "aulens/ops.h"

namespace aulens {

std::string cpu_blas_description() {
  return std::string(openblas_get_config()) + " (kernels: " + openblas_get_corename() + ")";
}

}  // namespace aulens
