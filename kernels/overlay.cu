/* CUDA twin of maskrcnnoverlay's CPU drawing: one thread per pixel of a
 * layer's rectangle (one per chroma sample for the chroma of 4:2:0 YUV)
 * calls the math of kernels/overlay.h. Layers are drawn one launch each, in
 * the order the element gives (the CPU canvas's order), on one stream. */
#include <cuda_runtime.h>

#include "overlay.h"

/* Straight colour and coverage of the layer at frame pixel (fx, fy). */
__device__ static uint8_t
layer_pixel (const mrcnn_overlay_layer & l, int fx, int fy, uint8_t rgb[3])
{
  int i = fx - l.x, j = fy - l.y;

  rgb[0] = l.rgb[0];
  rgb[1] = l.rgb[1];
  rgb[2] = l.rgb[2];
  switch (l.kind) {
    case MRCNN_OVERLAY_LAYER_MASK:{
      uint8_t m = l.data[(size_t) j * l.stride + i];
      unsigned d = 0;
      if (m >= 128 && l.draw_contours)
        d = mrcnn_overlay_outside_distance (l.data, l.w, l.h, l.stride, i, j,
            (unsigned) l.line_width + 1u);
      return mrcnn_overlay_mask_alpha (m, d, (unsigned) l.line_width,
          l.draw_masks, l.draw_contours, l.fill);
    }
    case MRCNN_OVERLAY_LAYER_BOX:
      return mrcnn_overlay_on_box_outline (i, j, l.w, l.h,
          mrcnn_overlay_box_thickness (l.w, l.h, l.line_width)) ? 255 : 0;
    case MRCNN_OVERLAY_LAYER_SPRITE:{
      const uint32_t *row = (const uint32_t *) (l.data + (size_t) j * l.stride);
      return mrcnn_overlay_unpremultiply (row[i], rgb);
    }
  }
  return 0;
}

/* Coverage and Y'CbCr of the layer at (fx, fy). */
__device__ static uint8_t
layer_yuv (const mrcnn_overlay_target & t, const mrcnn_overlay_layer & l,
    int fx, int fy, uint8_t yuv[3])
{
  uint8_t rgb[3];
  uint8_t a = layer_pixel (l, fx, fy, rgb);

  if (a)
    mrcnn_overlay_rgb_to_yuv (t.kr, t.kb, t.full_range, rgb, yuv);
  return a;
}

__global__ void
mrcnn_overlay_rgb_kernel (mrcnn_overlay_target t, mrcnn_overlay_layer l,
    int x0, int y0, int x1, int y1)
{
  int fx = x0 + (int) (blockIdx.x * blockDim.x + threadIdx.x);
  int fy = y0 + (int) (blockIdx.y * blockDim.y + threadIdx.y);
  uint8_t rgb[3], *p;
  unsigned a;

  if (fx >= x1 || fy >= y1)
    return;
  a = layer_pixel (l, fx, fy, rgb);
  if (a == 0)
    return;
  p = t.data + (size_t) fy * t.stride + (size_t) fx * t.pstride;
  p[t.off_r] = mrcnn_overlay_mix (rgb[0], p[t.off_r], a);
  p[t.off_g] = mrcnn_overlay_mix (rgb[1], p[t.off_g], a);
  p[t.off_b] = mrcnn_overlay_mix (rgb[2], p[t.off_b], a);
  if (t.off_a >= 0)
    p[t.off_a] = mrcnn_overlay_mix_alpha (p[t.off_a], a);
}

__global__ void
mrcnn_overlay_luma_kernel (mrcnn_overlay_target t, mrcnn_overlay_layer l,
    int x0, int y0, int x1, int y1)
{
  int fx = x0 + (int) (blockIdx.x * blockDim.x + threadIdx.x);
  int fy = y0 + (int) (blockIdx.y * blockDim.y + threadIdx.y);
  uint8_t yuv[3], *p;
  unsigned a;

  if (fx >= x1 || fy >= y1)
    return;
  a = layer_yuv (t, l, fx, fy, yuv);
  if (a == 0)
    return;
  p = t.comp[0] + (size_t) fy * t.comp_stride[0] + (size_t) fx * t.comp_pstride[0];
  *p = mrcnn_overlay_mix (yuv[0], *p, a);
}

/* One thread per chroma sample of the clipped region: the mean coverage of
 * the (up to) four luma pixels it stands for, as the CPU canvas does. */
__global__ void
mrcnn_overlay_chroma_kernel (mrcnn_overlay_target t, mrcnn_overlay_layer l,
    int x0, int y0, int x1, int y1)
{
  int cx = x0 / 2 + (int) (blockIdx.x * blockDim.x + threadIdx.x);
  int cy = y0 / 2 + (int) (blockIdx.y * blockDim.y + threadIdx.y);
  unsigned n = 0, sum_a = 0, sum_u = 0, sum_v = 0, total;
  uint8_t *pu, *pv;

  if (cx > (x1 - 1) / 2 || cy > (y1 - 1) / 2)
    return;
  for (int dy = 0; dy < 2; dy++) {
    for (int dx = 0; dx < 2; dx++) {
      int li = 2 * cx + dx, lj = 2 * cy + dy;
      uint8_t yuv[3];
      unsigned a;

      if (li >= t.width || lj >= t.height)
        continue;
      n++;
      if (li < x0 || li >= x1 || lj < y0 || lj >= y1)
        continue;
      a = layer_yuv (t, l, li, lj, yuv);
      if (a == 0)
        continue;
      sum_a += a;
      sum_u += a * yuv[1];
      sum_v += a * yuv[2];
    }
  }
  if (sum_a == 0)
    return;
  total = 255u * n;
  pu = t.comp[1] + (size_t) cy * t.comp_stride[1] + (size_t) cx * t.comp_pstride[1];
  pv = t.comp[2] + (size_t) cy * t.comp_stride[2] + (size_t) cx * t.comp_pstride[2];
  *pu = mrcnn_overlay_chroma (sum_u, *pu, sum_a, total);
  *pv = mrcnn_overlay_chroma (sum_v, *pv, sum_a, total);
}

extern "C" int
mrcnn_cuda_overlay_draw (const mrcnn_overlay_target * t,
    const mrcnn_overlay_layer * l, void *stream_ptr)
{
  cudaStream_t stream = (cudaStream_t) stream_ptr;
  long long ex = (long long) l->x + l->w, ey = (long long) l->y + l->h;
  int x0 = l->x > 0 ? l->x : 0, y0 = l->y > 0 ? l->y : 0;
  int x1 = (int) (ex < t->width ? ex : t->width);
  int y1 = (int) (ey < t->height ? ey : t->height);
  dim3 threads (32, 8);

  if (l->w <= 0 || l->h <= 0 || x0 >= x1 || y0 >= y1)
    return (int) cudaSuccess;
  if (!t->yuv) {
    dim3 blocks ((x1 - x0 + 31) / 32, (y1 - y0 + 7) / 8);
    mrcnn_overlay_rgb_kernel<<<blocks, threads, 0, stream>>> (*t, *l, x0, y0,
        x1, y1);
  } else {
    int cw = (x1 - 1) / 2 - x0 / 2 + 1, ch = (y1 - 1) / 2 - y0 / 2 + 1;
    dim3 blocks ((x1 - x0 + 31) / 32, (y1 - y0 + 7) / 8);
    dim3 cblocks ((cw + 31) / 32, (ch + 7) / 8);
    mrcnn_overlay_luma_kernel<<<blocks, threads, 0, stream>>> (*t, *l, x0, y0,
        x1, y1);
    mrcnn_overlay_chroma_kernel<<<cblocks, threads, 0, stream>>> (*t, *l, x0,
        y0, x1, y1);
  }
  return (int) cudaGetLastError ();
}
