/* CUDA twin of the CPU backend's preprocess: one thread per network-input
 * pixel calls mrcnn_pp_pixel () (kernels/preprocess.h) on the frame's device
 * planes; the padding to a multiple of 32 is written as zeros. */
#include "cuda_common.cuh"
#include "preprocess.h"

__global__ void
mrcnn_preprocess_kernel (mrcnn_pp_src src, mrcnn_pp_params pp, int pad_w,
    int pad_h, float *out)
{
  int x = blockIdx.x * blockDim.x + threadIdx.x;
  int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= pad_w || y >= pad_h)
    return;
  float v[3] = { 0.0f, 0.0f, 0.0f };
  if (x < pp.out_w && y < pp.out_h)
    mrcnn_pp_pixel (&src, &pp, x, y, v);
  const size_t plane = (size_t) pad_h * pad_w, at = (size_t) y * pad_w + x;
  out[at] = v[0];
  out[plane + at] = v[1];
  out[2 * plane + at] = v[2];
}

extern "C" cudaError_t
mrcnn_cuda_preprocess (const mrcnn_pp_src *src, const mrcnn_pp_params *pp,
    int pad_w, int pad_h, float *out, cudaStream_t stream)
{
  if (pad_w <= 0 || pad_h <= 0 || pp->out_w > pad_w || pp->out_h > pad_h)
    return cudaErrorInvalidValue;
  dim3 threads (32, 8);
  dim3 blocks ((pad_w + 31) / 32, (pad_h + 7) / 8);
  mrcnn_preprocess_kernel<<<blocks, threads, 0, stream>>> (*src, *pp, pad_w,
      pad_h, out);
  return cudaGetLastError ();
}
