/* gst-maskrcnn kernels: what every kernels/ (.cu) shares (device only). */
#ifndef MRCNN_KERNELS_CUDA_COMMON_CUH
#define MRCNN_KERNELS_CUDA_COMMON_CUH

#include <cuda_runtime.h>

#include "cuda_launch.h"

/* Blocks of `threads` covering n items, or 0 (no launch) when n <= 0. */
static inline unsigned int
mrcnn_cuda_blocks (long long n, int threads)
{
  return n > 0 ? (unsigned int) ((n + threads - 1) / threads) : 0u;
}

/* Launches nothing for an empty grid, and returns the launch status. */
#define MRCNN_CUDA_LAUNCH(kernel, blocks, threads, shmem, stream, ...) \
  do { \
    if ((blocks) > 0) \
      kernel<<<(blocks), (threads), (shmem), (stream)>>> (__VA_ARGS__); \
  } while (0)

#endif /* MRCNN_KERNELS_CUDA_COMMON_CUH */
