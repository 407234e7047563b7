// Conventions shared by the kernel headers (cuda/*_kernel.cuh), which hold device code only and
// include no CUDA header, so that tests/emu/block_emu.h can also run them on the host:
//  * shared memory is declared with AULENS_STATIC_SHARED(type, name, dims) (or _ALIGNED(bytes, …))
//    and AULENS_DYNAMIC_SHARED(type, name), never with a bare __shared__: the emulator defines its
//    own versions before including a kernel header, which give every declaration a cell it
//    poisons before each block (on a GPU dynamic shared memory is 128-byte aligned);
//  * the kernels sit in an unnamed namespace: the launcher's TU (device code) and an emulation
//    test's TU (host code) each get their own copy, and the two never meet at link time.
#pragma once

#ifndef AULENS_STATIC_SHARED
#define AULENS_STATIC_SHARED(type, name, dims) __shared__ type name dims
#define AULENS_STATIC_SHARED_ALIGNED(bytes, type, name, dims) \
  __shared__ __align__(bytes)                                 \
  type name dims
#endif
#ifndef AULENS_DYNAMIC_SHARED
#define AULENS_DYNAMIC_SHARED(type, name) extern __shared__ __align__(128) type name[]
#endif
