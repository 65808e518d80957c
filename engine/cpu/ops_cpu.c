/* CPU implementations of the per-element ops. Each calls the shared math in
 * kernels/ (the same functions the CUDA kernels call per thread) in loops
 * parallelised with OpenMP. */
#include <math.h>
#include <string.h>

#include <omp.h>

#include "backend_cpu.h"
#include "activation.h"
#include "interp.h"
#include "pool.h"
#include "precision.h"
#include "preprocess.h"
#include "roi_align.h"

mrcnn_status
mrcnn_cpu_preprocess (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_image *img,
    const mrcnn_preprocess_desc *d, mrcnn_fmap *out, mrcnn_error *err)
{
  mrcnn_pp_src src = { .format = img->format, .width = img->width,
    .height = img->height };
  for (int p = 0; p < 3; p++) {
    src.planes[p] = img->planes[p];
    src.strides[p] = img->strides[p];
  }
  const mrcnn_pp_params *pp = &d->pp;
  out->n = 1;
  out->c = 3;
  out->h = d->pad_h;
  out->w = d->pad_w;
  const size_t plane = (size_t) d->pad_h * d->pad_w;
  float *dst = out->data;
#pragma omp parallel for schedule(static)
  for (int y = 0; y < d->pad_h; y++) {
    for (int x = 0; x < d->pad_w; x++) {
      float v[3] = { 0.0f, 0.0f, 0.0f };
      if (x < pp->out_w && y < pp->out_h)
        mrcnn_pp_pixel (&src, pp, x, y, v);
      for (int c = 0; c < 3; c++)
        dst[c * plane + (size_t) y * d->pad_w + x] = v[c];
    }
  }
  return MRCNN_OK;
}

/* Every layout is planes of V-float vectors: NCHW has V = 1 and one plane
 * per (n, c); nChw8c / nChw16c have V = 8 / 16 and one plane per (n, block
 * of V channels); nhwc has V = C and one plane per image. Element
 * (n, c, y, x) sits at plane (n, c / V), offset (y * W + x) * V + c % V. */
static inline int
lanes (const mrcnn_backend *be, const mrcnn_fmap *f)
{
  if (f->layout != MRCNN_LAYOUT_NATIVE)
    return 1;
  int v = mrcnn_cpu_layout_lanes ((const mrcnn_backend_cpu *) be);
  return v ? v : f->c;
}

static inline int
planes_of (const mrcnn_backend *be, const mrcnn_fmap *f)
{
  const int V = lanes (be, f);
  return f->n * ((f->c + V - 1) / V);
}

static inline size_t
elem (const mrcnn_backend *be, const mrcnn_fmap *f, int n, int c, int y, int x)
{
  const int V = lanes (be, f), CB = (f->c + V - 1) / V;
  return (((size_t) (n * CB + c / V) * f->h + y) * f->w + x) * V + c % V;
}

void
mrcnn_cpu_image_view (mrcnn_backend *be, const mrcnn_fmap *batch, int i,
    mrcnn_fmap *out)
{
  /* every layout keeps an image's planes together (see elem()) */
  const size_t per_image = elem (be, batch, 1, 0, 0, 0);
  *out = *batch;
  out->n = 1;
  out->data = batch->data + (size_t) i * per_image;
}

/* The element-wise ops read and write float32: a map stored in bf16 is for
 * convolutions (and max_pool) only. */
static mrcnn_status
check_f32 (const mrcnn_backend *be, const mrcnn_fmap *f, const char *op,
    mrcnn_error *err)
{
  const mrcnn_backend_cpu *cpu = (const mrcnn_backend_cpu *) be;
  if (mrcnn_cpu_store_dt (cpu, f) != dnnl_f32)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "%s: the CPU op reads float32 maps, not bf16", op);
  return MRCNN_OK;
}

/* The element types max pooling reads and writes. */
enum { POOL_F32, POOL_BF16, POOL_U8 };

/* One plane of max pooling, V lanes per pixel, in float32, bf16 or u8
 * levels; the lanes go in groups of 16 so that nhwc's V = C needs no large
 * array. The maximum of bf16 values is a bf16 value, of levels a level:
 * storing it back is exact. (The level of the maximum is the maximum of
 * the levels: quantizing before pooling changes nothing.) */
static inline void
max_pool_plane (const void *src_v, void *dst_v, int type, int H, int W,
    int OH, int OW, int V, int k, int s, int p)
{
  const float *srcf = src_v;
  const uint16_t *srch = src_v;
  const uint8_t *srcb = src_v;
  float *dstf = dst_v;
  uint16_t *dsth = dst_v;
  uint8_t *dstb = dst_v;
  for (int oy = 0; oy < OH; oy++) {
    int y0 = oy * s - p, y1 = MIN (y0 + k, H);
    y0 = MAX (y0, 0);
    for (int ox = 0; ox < OW; ox++) {
      int x0 = ox * s - p, x1 = MIN (x0 + k, W);
      x0 = MAX (x0, 0);
      for (int v0 = 0; v0 < V; v0 += 16) {
        const int nv = MIN (16, V - v0);
        float m[16];
        for (int v = 0; v < nv; v++)
          m[v] = -INFINITY;
        for (int y = y0; y < y1; y++)
          for (int x = x0; x < x1; x++) {
            const size_t o = (size_t) (y * W + x) * V + v0;
            for (int v = 0; v < nv; v++)
              m[v] = mrcnn_pool_max_step (m[v], type == POOL_BF16
                  ? mrcnn_bf16_to_f32 (srch[o + v]) : type == POOL_U8
                  ? (float) srcb[o + v] : srcf[o + v]);
          }
        const size_t o = (size_t) (oy * OW + ox) * V + v0;
        for (int v = 0; v < nv; v++) {
          if (type == POOL_BF16)
            dsth[o + v] = mrcnn_bf16_from_f32 (m[v]);
          else if (type == POOL_U8)
            dstb[o + v] = (uint8_t) m[v];
          else
            dstf[o + v] = m[v];
        }
      }
    }
  }
}

mrcnn_status
mrcnn_cpu_max_pool (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *in, int k, int s,
    int p, mrcnn_fmap *out, mrcnn_error *err)
{
  const mrcnn_backend_cpu *cpu = (const mrcnn_backend_cpu *) be;
  if (out->layout != in->layout || out->store != in->store)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "max_pool: layouts or storage types differ");
  out->n = in->n;
  out->c = in->c;
  out->h = (in->h + 2 * p - k) / s + 1;
  out->w = (in->w + 2 * p - k) / s + 1;
  const int H = in->h, W = in->w, OH = out->h, OW = out->w, V = lanes (be, in);
  const int planes = planes_of (be, in);
  const dnnl_data_type_t dt = mrcnn_cpu_store_dt (cpu, in);
  const int type = dt == dnnl_bf16 ? POOL_BF16 : dt == dnnl_u8 ? POOL_U8
      : POOL_F32;
  const size_t esz = type == POOL_BF16 ? sizeof (uint16_t) : type == POOL_U8
      ? 1 : sizeof (float);
#pragma omp parallel for schedule(static)
  for (int pc = 0; pc < planes; pc++) {
    const char *src = (const char *) in->data + (size_t) pc * H * W * V * esz;
    char *dst = (char *) out->data + (size_t) pc * OH * OW * V * esz;
    /* a constant type per call, so that each gets its own loop */
    if (type == POOL_BF16)
      max_pool_plane (src, dst, POOL_BF16, H, W, OH, OW, V, k, s, p);
    else if (type == POOL_U8)
      max_pool_plane (src, dst, POOL_U8, H, W, OH, OW, V, k, s, p);
    else
      max_pool_plane (src, dst, POOL_F32, H, W, OH, OW, V, k, s, p);
  }
  return MRCNN_OK;
}

mrcnn_status
mrcnn_cpu_upsample_add (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *top,
    mrcnn_fmap *lat, mrcnn_error *err)
{
  if (top->c != lat->c || top->n != lat->n || top->layout != lat->layout)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "upsample_add: maps of %d and %d channels (or layouts) do not match",
        top->c, lat->c);
  MRCNN_TRY (check_f32 (be, top, "upsample_add", err));
  MRCNN_TRY (check_f32 (be, lat, "upsample_add", err));
  const int TH = top->h, TW = top->w, H = lat->h, W = lat->w, V = lanes (be, lat);
  const float sy = (float) TH / (float) H, sx = (float) TW / (float) W;
  const int planes = planes_of (be, lat);
#pragma omp parallel for schedule(static)
  for (int pc = 0; pc < planes; pc++) {
    const float *src = top->data + (size_t) pc * TH * TW * V;
    float *dst = lat->data + (size_t) pc * H * W * V;
    for (int y = 0; y < H; y++) {
      int ty = mrcnn_interp_nearest (sy, y, TH, H);
      for (int x = 0; x < W; x++) {
        const float *sp = src + (size_t) (ty * TW + mrcnn_interp_nearest (sx, x, TW, W)) * V;
        float *dp = dst + (size_t) (y * W + x) * V;
        for (int v = 0; v < V; v++)
          dp[v] += sp[v];
      }
    }
  }
  return MRCNN_OK;
}

/* The sums of one bin for `nl` neighbouring channels (inlined with nl a
 * constant 8 or 16 where it can be, so that the lanes vectorise). */
static inline void
roi_bin_lanes (const float *block, const mrcnn_roi_sample *smp, int ns,
    int nl, float *sum)
{
  for (int k = 0; k < ns; k++)
    for (int v = 0; v < nl; v++)
      sum[v] += mrcnn_roi_sample_value (block + v, &smp[k]);
}

mrcnn_status
mrcnn_cpu_roi_align (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_roi_align_desc *d,
    mrcnn_fmap *out, mrcnn_error *err)
{
  const int P = d->pooled, C = d->features[0].c;
  for (int l = 0; l < d->nlevels; l++)
    MRCNN_TRY (check_f32 (be, &d->features[l], "roi_align", err));
  out->n = d->nboxes;
  out->c = C;
  out->h = out->w = P;
#pragma omp parallel for schedule(dynamic, 4)
  for (int i = 0; i < d->nboxes; i++) {
    const float *box = d->boxes + (size_t) i * 4;
    const int l = mrcnn_roi_pool_level (box, d->k_min, d->k_max,
        d->nlevels);
    const mrcnn_fmap *f = &d->features[l];
    const int H = f->h, W = f->w, V = lanes (be, f);
    mrcnn_roi_grid g;
    mrcnn_roi_grid_init (box, d->scales[l], P, P, d->sampling_ratio, 0, &g);
    for (int ph = 0; ph < P; ph++) {
      for (int pw = 0; pw < P; pw++) {
        /* sample positions once per bin, reused by every channel */
        mrcnn_roi_sample smp[64];
        int ns = 0;
        for (int iy = 0; iy < g.grid_h; iy++)
          for (int ix = 0; ix < g.grid_w && ns < 64; ix++, ns++) {
            mrcnn_roi_sample_at (H, W, mrcnn_roi_sample_y (&g, ph, iy),
                mrcnn_roi_sample_x (&g, pw, ix), &smp[ns]);
            smp[ns].o1 *= V;
            smp[ns].o2 *= V;
            smp[ns].o3 *= V;
            smp[ns].o4 *= V;
          }
        if (ns < g.grid_h * g.grid_w) {
          /* adaptive sampling of a huge box (never with sampling ratio 2) */
          for (int c = 0; c < C; c++) {
            float v = 0.0f;
            if (V == 1)
              v = mrcnn_roi_align_one (f->data + (size_t) c * H * W, H, W, &g, ph, pw);
            out->data[elem (be, out, i, c, ph, pw)] = v;
          }
          continue;
        }
        if (V > 1) {
          /* up to 16 channels of a pixel side by side: each lane sums the
           * same terms in the same order as the one-channel form below */
          const int CH = MIN (V, 16);
          for (int c0 = 0; c0 < C; c0 += CH) {
            const float *block = f->data + elem (be, f, 0, c0, 0, 0);
            const int nl = MIN (CH, C - c0);
            float sum[16] = { 0.0f };
            if (nl == 16)
              roi_bin_lanes (block, smp, ns, 16, sum);
            else if (nl == 8)
              roi_bin_lanes (block, smp, ns, 8, sum);
            else
              roi_bin_lanes (block, smp, ns, nl, sum);
            for (int v = 0; v < nl; v++)
              out->data[elem (be, out, i, c0 + v, ph, pw)] = sum[v] / g.count;
          }
          continue;
        }
        for (int c = 0; c < C; c++) {
          const float *plane = f->data + elem (be, f, 0, c, 0, 0);
          float sum = 0.0f;
          for (int k = 0; k < ns; k++)
            sum += mrcnn_roi_sample_value (plane, &smp[k]);
          out->data[elem (be, out, i, c, ph, pw)] = sum / g.count;
        }
      }
    }
  }
  return MRCNN_OK;
}

mrcnn_status
mrcnn_cpu_to_nchw (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *in, mrcnn_fmap *out, mrcnn_error *err)
{
  out->n = in->n;
  out->c = in->c;
  out->h = in->h;
  out->w = in->w;
  out->layout = MRCNN_LAYOUT_NCHW;
  const mrcnn_backend_cpu *cpu = (const mrcnn_backend_cpu *) be;
  const dnnl_data_type_t dt = mrcnn_cpu_store_dt (cpu, in);
  if (in->layout == MRCNN_LAYOUT_NCHW && dt == dnnl_f32) {
    if (out->data != in->data)
      memcpy (out->data, in->data, mrcnn_fmap_numel (in) * sizeof (float));
    return MRCNN_OK;
  }
  out->store = MRCNN_STORE_F32;
  dnnl_dims_t dims = { in->n, in->c, in->h, in->w };
  dnnl_memory_desc_t from, to;
  if (dnnl_memory_desc_init_by_tag (&from, 4, dims, dt,
          in->layout == MRCNN_LAYOUT_NATIVE ? cpu->native_tag : dnnl_nchw) != dnnl_success
      || dnnl_memory_desc_init_by_tag (&to, 4, dims, dnnl_f32, dnnl_nchw) != dnnl_success)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "to_nchw: bad dimensions");
  return mrcnn_cpu_reorder ((mrcnn_backend_cpu *) be, q->stream, &from,
      in->data, &to, out->data, NULL, err);
}

mrcnn_status
mrcnn_cpu_mask_probs (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *taps,
    const float *deconv_bias, const float *weight, const float *bias,
    const int *classes, float *probs, mrcnn_error *err)
{
  MRCNN_TRY (check_f32 (be, taps, "mask_probs", err));
  const int D = taps->c / 4, H = taps->h, W = taps->w;
  const int OW = 2 * W, OHW = 4 * H * W;
#pragma omp parallel for schedule(static)
  for (int n = 0; n < taps->n; n++) {
    const int cls = classes[n];
    const float *w = weight + (size_t) cls * D;
    float *p = probs + (size_t) n * OHW;
    for (int i = 0; i < OHW; i++)
      p[i] = bias[cls];
    for (int co = 0; co < D; co++) {
      const float wc = w[co], b = deconv_bias[co];
      for (int k = 0; k < 4; k++) {
        const int ky = k >> 1, kx = k & 1;
        const float *t = taps->data + elem (be, taps, n, co * 4 + k, 0, 0);
        const int V = lanes (be, taps);
        for (int y = 0; y < H; y++)
          for (int x = 0; x < W; x++) {
            float v = t[(size_t) (y * W + x) * V] + b;
            p[(2 * y + ky) * OW + 2 * x + kx] += wc * (v > 0.0f ? v : 0.0f);
          }
      }
    }
    for (int i = 0; i < OHW; i++)
      p[i] = mrcnn_sigmoid (p[i]);
  }
  return MRCNN_OK;
}
