// OpenBLAS held on one thread while OpenMP threads call it (the CPU ops parallelise over the batch
// or over output blocks themselves); the previous setting comes back when the guard ends.
#pragma once

#include <cblas.h>

namespace aulens {

class SingleThreadedBlas {
 public:
  SingleThreadedBlas() : previous_(openblas_get_num_threads()) {
    if (previous_ != 1) openblas_set_num_threads(1);
  }
  ~SingleThreadedBlas() {
    if (previous_ != 1) openblas_set_num_threads(previous_);
  }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int previous_;
};

}  // namespace aulens
