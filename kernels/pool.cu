/* CUDA twin of the CPU backend's max_pool: one thread per output value
 * calls mrcnn_max_pool_at () (kernels/pool.h). */
#include "cuda_common.cuh"
#include "pool.h"

__global__ void
mrcnn_max_pool_kernel (const float *in, long long total, int H, int W, int k,
    int s, int p, float *out, int OH, int OW)
{
  long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total)
    return;
  int ox = (int) (i % OW);
  int oy = (int) ((i / OW) % OH);
  long long plane = i / ((long long) OW * OH);
  out[i] = mrcnn_max_pool_at (in + plane * H * W, H, W, k, s, p, oy, ox);
}

extern "C" cudaError_t
mrcnn_cuda_max_pool (const float *in, int planes, int H, int W, int k, int s,
    int p, float *out, int OH, int OW, cudaStream_t stream)
{
  if (k < 1 || s < 1 || p < 0 || OH != mrcnn_pool_out_size (H, k, s, p)
      || OW != mrcnn_pool_out_size (W, k, s, p))
    return cudaErrorInvalidValue;
  long long total = (long long) planes * OH * OW;
  MRCNN_CUDA_LAUNCH (mrcnn_max_pool_kernel, mrcnn_cuda_blocks (total, 256),
      256, 0, stream, in, total, H, W, k, s, p, out, OH, OW);
  return cudaGetLastError ();
}
