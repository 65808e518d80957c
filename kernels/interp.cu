/* CUDA twin of the CPU backend's upsample_add (FPN top-down pathway): one
 * thread per lateral value adds the top map's value at the source index of
 * mrcnn_interp_nearest () (kernels/interp.h). */
#include "cuda_common.cuh"
#include "interp.h"

__global__ void
mrcnn_upsample_add_kernel (const float *top, long long total, int TH, int TW,
    float sy, float sx, float *lat, int H, int W)
{
  long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total)
    return;
  int x = (int) (i % W);
  int y = (int) ((i / W) % H);
  long long plane = i / ((long long) W * H);
  int ty = mrcnn_interp_nearest (sy, y, TH, H);
  int tx = mrcnn_interp_nearest (sx, x, TW, W);
  lat[i] += top[plane * TH * TW + (long long) ty * TW + tx];
}

extern "C" cudaError_t
mrcnn_cuda_upsample_add (const float *top, int planes, int TH, int TW,
    float *lateral, int H, int W, cudaStream_t stream)
{
  if (TH < 1 || TW < 1 || H < 1 || W < 1)
    return cudaErrorInvalidValue;
  long long total = (long long) planes * H * W;
  MRCNN_CUDA_LAUNCH (mrcnn_upsample_add_kernel, mrcnn_cuda_blocks (total, 256),
      256, 0, stream, top, total, TH, TW, mrcnn_interp_scale (TH, H),
      mrcnn_interp_scale (TW, W), lateral, H, W);
  return cudaGetLastError ();
}
