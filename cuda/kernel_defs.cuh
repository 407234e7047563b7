// Conventions shared by the kernel headers (cuda/*_kernel.cuh), which hold device code only and
// include no CUDA header, so that tests/emu/block_emu.h can also run them on the host:
//  * dynamic shared memory is declared with AULENS_DYNAMIC_SHARED (the emulator defines its own
//    before including a kernel header; on a GPU it is 128-byte aligned);
//  * the kernels sit in an unnamed namespace: the launcher's TU (device code) and an emulation
//    test's TU (host code) each get their own copy, and the two never meet at link time.
#pragma once

#ifndef AULENS_DYNAMIC_SHARED
#define AULENS_DYNAMIC_SHARED(type, name) extern __shared__ __align__(128) type name[]
#endif
