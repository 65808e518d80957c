/* The CUDA backend's tensor-core path: its NHWC maps' element-wise kernels
 * (cuda_tc.h). One thread per output value, each calling the shared math of
 * the header its NCHW twin calls, and reading and writing fp16 with the
 * conversions of kernels/precision.h. */
#include "cuda_common.cuh"
#include "cuda_tc.h"
#include "activation.h"
#include "interp.h"
#include "pool.h"
#include "precision.h"
#include "roi_align.h"

__device__ __forceinline__ float
load (const void *p, int f16, size_t i)
{
  return f16 ? mrcnn_fp16_to_f32 (((const uint16_t *) p)[i])
      : ((const float *) p)[i];
}

__device__ __forceinline__ void
store (void *p, int f16, size_t i, float v)
{
  if (f16)
    ((uint16_t *) p)[i] = mrcnn_fp16_from_f32 (v);
  else
    ((float *) p)[i] = v;
}

/* ---------------------------------------------------------------- layouts */

__global__ void
mrcnn_nchw_to_nhwc_kernel (const float *in, long long total, int c, int h,
    int w, int cp, void *out, int f16)
{
  long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total)
    return;
  const int ch = (int) (i % cp);
  const long long pix = i / cp;               /* (n * h + y) * w + x */
  const int x = (int) (pix % w);
  const int y = (int) ((pix / w) % h);
  const long long n = pix / ((long long) w * h);
  float v = ch < c ? in[((n * c + ch) * h + y) * w + x] : 0.0f;
  store (out, f16, (size_t) i, v);
}

extern "C" cudaError_t
mrcnn_cuda_nchw_to_nhwc (const float *in, int n, int c, int h, int w, int cp,
    void *out, int f16, cudaStream_t stream)
{
  if (c < 1 || cp < c || h < 1 || w < 1)
    return cudaErrorInvalidValue;
  long long total = (long long) n * h * w * cp;
  MRCNN_CUDA_LAUNCH (mrcnn_nchw_to_nhwc_kernel, mrcnn_cuda_blocks (total, 256),
      256, 0, stream, in, total, c, h, w, cp, out, f16);
  return cudaGetLastError ();
}

__global__ void
mrcnn_nhwc_to_nchw_kernel (const void *in, int f16, long long total, int c,
    int h, int w, int cp, float *out)
{
  long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total)
    return;
  const int x = (int) (i % w);
  const int y = (int) ((i / w) % h);
  const int ch = (int) ((i / ((long long) w * h)) % c);
  const long long n = i / ((long long) w * h * c);
  out[i] = load (in, f16, (size_t) (((n * h + y) * w + x) * cp + ch));
}

extern "C" cudaError_t
mrcnn_cuda_nhwc_to_nchw (const void *in, int in_f16, int n, int c, int h,
    int w, int cp, float *out, cudaStream_t stream)
{
  if (c < 1 || cp < c || h < 1 || w < 1)
    return cudaErrorInvalidValue;
  long long total = (long long) n * c * h * w;
  MRCNN_CUDA_LAUNCH (mrcnn_nhwc_to_nchw_kernel, mrcnn_cuda_blocks (total, 256),
      256, 0, stream, in, in_f16, total, c, h, w, cp, out);
  return cudaGetLastError ();
}

__global__ void
mrcnn_to_f16_kernel (const float *in, long long total, uint16_t *out)
{
  long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
  if (i < total)
    out[i] = mrcnn_fp16_from_f32 (in[i]);
}

extern "C" cudaError_t
mrcnn_cuda_to_f16 (const float *in, size_t count, uint16_t *out,
    cudaStream_t stream)
{
  MRCNN_CUDA_LAUNCH (mrcnn_to_f16_kernel,
      mrcnn_cuda_blocks ((long long) count, 256), 256, 0, stream, in,
      (long long) count, out);
  return cudaGetLastError ();
}

/* ---------------------------------------------------------------- pool */

__global__ void
mrcnn_max_pool_nhwc_kernel (const void *in, int f16, long long total, int cp,
    int H, int W, int k, int s, int p, void *out, int OH, int OW)
{
  long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total)
    return;
  const int ch = (int) (i % cp);
  const int ox = (int) ((i / cp) % OW);
  const int oy = (int) ((i / ((long long) cp * OW)) % OH);
  const long long n = i / ((long long) cp * OW * OH);
  int y0 = oy * s - p, x0 = ox * s - p;
  const int y1 = y0 + k < H ? y0 + k : H, x1 = x0 + k < W ? x0 + k : W;
  y0 = y0 > 0 ? y0 : 0;
  x0 = x0 > 0 ? x0 : 0;
  float m = -INFINITY;
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      m = mrcnn_pool_max_step (m, load (in, f16,
              (size_t) (((n * H + y) * W + x) * cp + ch)));
  store (out, f16, (size_t) i, m);
}

extern "C" cudaError_t
mrcnn_cuda_max_pool_nhwc (const void *in, int f16, int n, int cp, int H,
    int W, int k, int s, int p, void *out, int OH, int OW,
    cudaStream_t stream)
{
  if (k < 1 || s < 1 || p < 0 || cp < 1
      || OH != mrcnn_pool_out_size (H, k, s, p)
      || OW != mrcnn_pool_out_size (W, k, s, p))
    return cudaErrorInvalidValue;
  long long total = (long long) n * OH * OW * cp;
  MRCNN_CUDA_LAUNCH (mrcnn_max_pool_nhwc_kernel,
      mrcnn_cuda_blocks (total, 256), 256, 0, stream, in, f16, total, cp, H,
      W, k, s, p, out, OH, OW);
  return cudaGetLastError ();
}

/* ---------------------------------------------------------------- FPN */

__global__ void
mrcnn_upsample_add_nhwc_kernel (const float *top, long long total, int cp,
    int TH, int TW, float sy, float sx, float *lat, int H, int W)
{
  long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total)
    return;
  const int ch = (int) (i % cp);
  const int x = (int) ((i / cp) % W);
  const int y = (int) ((i / ((long long) cp * W)) % H);
  const long long n = i / ((long long) cp * W * H);
  const int ty = mrcnn_interp_nearest (sy, y, TH, H);
  const int tx = mrcnn_interp_nearest (sx, x, TW, W);
  lat[i] += top[((n * TH + ty) * TW + tx) * cp + ch];
}

extern "C" cudaError_t
mrcnn_cuda_upsample_add_nhwc (const float *top, int n, int cp, int TH,
    int TW, float *lateral, int H, int W, cudaStream_t stream)
{
  if (TH < 1 || TW < 1 || H < 1 || W < 1 || cp < 1)
    return cudaErrorInvalidValue;
  long long total = (long long) n * H * W * cp;
  MRCNN_CUDA_LAUNCH (mrcnn_upsample_add_nhwc_kernel,
      mrcnn_cuda_blocks (total, 256), 256, 0, stream, top, total, cp, TH, TW,
      mrcnn_interp_scale (TH, H), mrcnn_interp_scale (TW, W), lateral, H, W);
  return cudaGetLastError ();
}

/* ---------------------------------------------------------------- RoIAlign */

/* One output value: mrcnn_roi_align_one () on a channel of an NHWC plane,
 * i.e. with the taps' pixel offsets scaled by cp, summed in the same
 * order. */
__global__ void
mrcnn_roi_align_nhwc_kernel (mrcnn_cuda_roi_params p, int cp,
    const float *boxes, long long total, float *out, int out_cp)
{
  long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total)
    return;
  const int P = p.pooled;
  int pw, ph, c;
  long long b;
  if (out_cp) {          /* box, ph, pw, channel */
    c = (int) (i % out_cp);
    pw = (int) ((i / out_cp) % P);
    ph = (int) ((i / ((long long) out_cp * P)) % P);
    b = i / ((long long) out_cp * P * P);
    if (c >= p.channels) {
      out[i] = 0.0f;
      return;
    }
  } else {               /* box, channel, ph, pw */
    pw = (int) (i % P);
    ph = (int) ((i / P) % P);
    c = (int) ((i / ((long long) P * P)) % p.channels);
    b = i / ((long long) P * P * p.channels);
  }
  const float *box = boxes + 4 * b;
  const int l = mrcnn_roi_pool_level (box, p.k_min, p.k_max, p.nlevels);
  mrcnn_roi_grid g;
  mrcnn_roi_grid_init (box, p.scale[l], P, P, p.sampling_ratio, 0, &g);
  const int H = p.h[l], W = p.w[l];
  const float *plane = p.data[l] + c;
  float acc = 0.0f;
  for (int iy = 0; iy < g.grid_h; iy++) {
    const float y = mrcnn_roi_sample_y (&g, ph, iy);
    for (int ix = 0; ix < g.grid_w; ix++) {
      mrcnn_roi_sample s;
      mrcnn_roi_sample_at (H, W, y, mrcnn_roi_sample_x (&g, pw, ix), &s);
      s.o1 *= cp;
      s.o2 *= cp;
      s.o3 *= cp;
      s.o4 *= cp;
      acc = MRCNN_FADD (acc, mrcnn_roi_sample_value (plane, &s));
    }
  }
  out[i] = acc / g.count;
}

extern "C" cudaError_t
mrcnn_cuda_roi_align_nhwc (const mrcnn_cuda_roi_params *p, int cp,
    const float *boxes, int nboxes, float *out, int out_cp,
    cudaStream_t stream)
{
  if (p->nlevels < 1 || p->nlevels > MRCNN_CUDA_MAX_LEVELS || p->pooled < 1
      || p->channels < 1 || cp < p->channels
      || (out_cp && out_cp < p->channels))
    return cudaErrorInvalidValue;
  for (int l = 0; l < p->nlevels; l++)
    if ((long long) p->h[l] * p->w[l] * cp >= (1ll << 31))
      return cudaErrorInvalidValue;  /* the taps' offsets are ints */
  long long total = (long long) nboxes * p->pooled * p->pooled
      * (out_cp ? out_cp : p->channels);
  MRCNN_CUDA_LAUNCH (mrcnn_roi_align_nhwc_kernel,
      mrcnn_cuda_blocks (total, 256), 256, 0, stream, *p, cp, boxes, total,
      out, out_cp);
  return cudaGetLastError ();
}

/* ---------------------------------------------------------------- masks */

__global__ void
mrcnn_mask_probs_nhwc_kernel (const float *taps, long long total, int D,
    int h, int w, int cp, const float *deconv_bias, const float *weight,
    const float *bias, const int *classes, float *probs)
{
  long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total)
    return;
  const int OW = 2 * w, OH = 2 * h;
  const int ox = (int) (i % OW);
  const int oy = (int) ((i / OW) % OH);
  const long long n = i / ((long long) OW * OH);
  const int cls = classes[n];
  const int k = (oy & 1) * 2 + (ox & 1);
  const float *t = taps + (((size_t) n * h + (oy >> 1)) * w + (ox >> 1)) * cp
      + k;
  const float *wc = weight + (size_t) cls * D;
  float p = bias[cls];
  for (int co = 0; co < D; co++) {
    float v = MRCNN_FADD (t[(size_t) co * 4], deconv_bias[co]);
    p = MRCNN_FADD (p, MRCNN_FMUL (wc[co], v > 0.0f ? v : 0.0f));
  }
  probs[i] = mrcnn_sigmoid (p);
}

extern "C" cudaError_t
mrcnn_cuda_mask_probs_nhwc (const float *taps, int n, int D, int h, int w,
    int cp, const float *deconv_bias, const float *weight, const float *bias,
    const int *classes, float *probs, cudaStream_t stream)
{
  if (D < 1 || h < 1 || w < 1 || cp < 4 * D)
    return cudaErrorInvalidValue;
  long long total = (long long) n * 4 * h * w;
  MRCNN_CUDA_LAUNCH (mrcnn_mask_probs_nhwc_kernel,
      mrcnn_cuda_blocks (total, 128), 128, 0, stream, taps, total, D, h, w, cp,
      deconv_bias, weight, bias, classes, probs);
  return cudaGetLastError ();
}

/* ---------------------------------------------------------------- epilogue */

/* The order of cuDNN's fused graph: (acc + bias) + residual, then ReLU. */
__global__ void
mrcnn_nhwc_epilogue_kernel (const float *acc, const float *bias,
    long long total, int cp, void *out, int f16, int residual, int relu)
{
  long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total)
    return;
  float v = MRCNN_FADD (acc[i], bias[i % cp]);
  if (residual)
    v = MRCNN_FADD (v, load (out, f16, (size_t) i));
  if (relu)
    v = v > 0.0f ? v : 0.0f;
  store (out, f16, (size_t) i, v);
}

extern "C" cudaError_t
mrcnn_cuda_nhwc_epilogue (const float *acc, const float *bias, size_t total,
    int cp, void *out, int out_f16, int residual, int relu,
    cudaStream_t stream)
{
  if (cp < 1)
    return cudaErrorInvalidValue;
  MRCNN_CUDA_LAUNCH (mrcnn_nhwc_epilogue_kernel,
      mrcnn_cuda_blocks ((long long) total, 256), 256, 0, stream, acc, bias,
      (long long) total, cp, out, out_f16, residual, relu);
  return cudaGetLastError ();
}

/* ---------------------------------------------------------------- spans */

/* blockIdx.y: the span; the blocks along x stride over its values. */
__global__ void
mrcnn_gather_spans_kernel (mrcnn_cuda_spans s, float *dst)
{
  const int k = blockIdx.y;
  const size_t n = s.n[k];
  for (size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x; i < n;
      i += (size_t) gridDim.x * blockDim.x)
    dst[s.off[k] + i] = s.src[k][i];
}

extern "C" cudaError_t
mrcnn_cuda_gather_spans (const mrcnn_cuda_spans *s, float *dst,
    cudaStream_t stream)
{
  if (s->count < 0 || s->count > MRCNN_CUDA_MAX_SPANS)
    return cudaErrorInvalidValue;
  size_t most = 0;
  for (int k = 0; k < s->count; k++)
    most = s->n[k] > most ? s->n[k] : most;
  if (s->count == 0 || most == 0)
    return cudaSuccess;
  unsigned int bx = mrcnn_cuda_blocks ((long long) most, 256);
  bx = bx > 1024 ? 1024 : bx;
  dim3 grid (bx, (unsigned int) s->count);
  mrcnn_gather_spans_kernel<<<grid, 256, 0, stream>>> (*s, dst);
  return cudaGetLastError ();
}
