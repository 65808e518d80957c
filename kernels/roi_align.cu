/* CUDA twin of the CPU backend's roi_align (MultiScaleRoIAlign): one thread
 * per output value (box, channel, bin) maps its box to a level with
 * mrcnn_roi_level () and pools the bin with mrcnn_roi_grid_init () and
 * mrcnn_roi_align_one () (kernels/roi_align.h), which sum the sampling
 * points in the order the CPU backend does. */
#include "cuda_common.cuh"
#include "roi_align.h"

__global__ void
mrcnn_roi_align_kernel (mrcnn_cuda_roi_params p, const float *boxes,
    long long total, float *out)
{
  long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total)
    return;
  const int P = p.pooled;
  int pw = (int) (i % P);
  int ph = (int) ((i / P) % P);
  int c = (int) ((i / ((long long) P * P)) % p.channels);
  long long b = i / ((long long) P * P * p.channels);
  const float *box = boxes + 4 * b;
  const int l = mrcnn_roi_pool_level (box, p.k_min, p.k_max, p.nlevels);
  mrcnn_roi_grid g;
  mrcnn_roi_grid_init (box, p.scale[l], P, P, p.sampling_ratio, 0, &g);
  const int H = p.h[l], W = p.w[l];
  out[i] = mrcnn_roi_align_one (p.data[l] + (size_t) c * H * W, H, W, &g, ph,
      pw);
}

extern "C" cudaError_t
mrcnn_cuda_roi_align (const mrcnn_cuda_roi_params *p, const float *boxes,
    int nboxes, float *out, cudaStream_t stream)
{
  if (p->nlevels < 1 || p->nlevels > MRCNN_CUDA_MAX_LEVELS || p->pooled < 1
      || p->channels < 1)
    return cudaErrorInvalidValue;
  long long total = (long long) nboxes * p->channels * p->pooled * p->pooled;
  MRCNN_CUDA_LAUNCH (mrcnn_roi_align_kernel, mrcnn_cuda_blocks (total, 256),
      256, 0, stream, *p, boxes, total, out);
  return cudaGetLastError ();
}
