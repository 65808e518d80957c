/* CUDA twin of mrcnn_result_paste_mask (): one thread per window pixel
 * calls mrcnn_paste_value () (kernels/mask_paste.h) with the geometry that
 * mrcnn_paste_geometry () computes once on the host. For the element's
 * CUDA-memory path (masks drawn or attached without leaving the device). */
#include "cuda_common.cuh"
#include "mask_paste.h"

__global__ void
mrcnn_paste_mask_kernel (const float *mask, mrcnn_paste_geom g,
    float threshold, int x0, int y0, int w, int h, uint8_t *dst, int stride)
{
  int x = blockIdx.x * blockDim.x + threadIdx.x;
  int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= w || y >= h)
    return;
  float v = mrcnn_paste_value (mask, g.M, &g, x0 + x, y0 + y);
  dst[(size_t) y * stride + x] = v > threshold ? 255 : 0;
}

extern "C" cudaError_t
mrcnn_cuda_paste_mask (const float *mask, int M, const float box[4],
    int im_w, int im_h, float threshold, int x0, int y0, int w, int h,
    uint8_t *dst, int stride, cudaStream_t stream)
{
  if (M < 1 || w < 0 || h < 0 || stride < w)
    return cudaErrorInvalidValue;
  if (w == 0 || h == 0)
    return cudaSuccess;
  mrcnn_paste_geom g;
  mrcnn_paste_geometry (box, M, im_w, im_h, &g);
  dim3 threads (32, 8);
  dim3 blocks ((w + 31) / 32, (h + 7) / 8);
  mrcnn_paste_mask_kernel<<<blocks, threads, 0, stream>>> (mask, g, threshold,
      x0, y0, w, h, dst, stride);
  return cudaGetLastError ();
}
