/* CPU implementations of the per-element ops. Each calls the shared math in
 * kernels/ (the same functions the CUDA kernels call per thread) in loops
 * parallelised with OpenMP. */
#include <math.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "backend_cpu.h"
#include "interp.h"
#include "preprocess.h"
#include "roi_align.h"

void
mrcnn_cpu_set_threads (int n)
{
  omp_set_num_threads (n);
}

mrcnn_status
mrcnn_cpu_preprocess (mrcnn_backend *be, const mrcnn_image *img,
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

mrcnn_status
mrcnn_cpu_max_pool (mrcnn_backend *be, const mrcnn_fmap *in, int k, int s,
    int p, mrcnn_fmap *out, mrcnn_error *err)
{
  out->n = in->n;
  out->c = in->c;
  out->h = (in->h + 2 * p - k) / s + 1;
  out->w = (in->w + 2 * p - k) / s + 1;
  const int H = in->h, W = in->w, OH = out->h, OW = out->w;
  const int planes = in->n * in->c;
#pragma omp parallel for schedule(static)
  for (int pc = 0; pc < planes; pc++) {
    const float *src = in->data + (size_t) pc * H * W;
    float *dst = out->data + (size_t) pc * OH * OW;
    for (int oy = 0; oy < OH; oy++) {
      int y0 = oy * s - p, y1 = MIN (y0 + k, H);
      y0 = MAX (y0, 0);
      for (int ox = 0; ox < OW; ox++) {
        int x0 = ox * s - p, x1 = MIN (x0 + k, W);
        x0 = MAX (x0, 0);
        float m = -INFINITY;
        for (int y = y0; y < y1; y++)
          for (int x = x0; x < x1; x++)
            m = fmaxf (m, src[y * W + x]);
        dst[oy * OW + ox] = m;
      }
    }
  }
  return MRCNN_OK;
}

mrcnn_status
mrcnn_cpu_upsample_add (mrcnn_backend *be, const mrcnn_fmap *top,
    mrcnn_fmap *lat, mrcnn_error *err)
{
  if (top->c != lat->c || top->n != lat->n)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "upsample_add: %d/%d channels do not match", top->c, lat->c);
  const int TH = top->h, TW = top->w, H = lat->h, W = lat->w;
  const float sy = (float) TH / (float) H, sx = (float) TW / (float) W;
  const int planes = lat->n * lat->c;
#pragma omp parallel for schedule(static)
  for (int pc = 0; pc < planes; pc++) {
    const float *src = top->data + (size_t) pc * TH * TW;
    float *dst = lat->data + (size_t) pc * H * W;
    for (int y = 0; y < H; y++) {
      int ty = mrcnn_interp_nearest (sy, y, TH, H);
      for (int x = 0; x < W; x++)
        dst[y * W + x] += src[ty * TW + mrcnn_interp_nearest (sx, x, TW, W)];
    }
  }
  return MRCNN_OK;
}

mrcnn_status
mrcnn_cpu_roi_align (mrcnn_backend *be, const mrcnn_roi_align_desc *d,
    mrcnn_fmap *out, mrcnn_error *err)
{
  const int P = d->pooled, C = d->features[0].c;
  out->n = d->nboxes;
  out->c = C;
  out->h = out->w = P;
#pragma omp parallel for schedule(dynamic, 4)
  for (int i = 0; i < d->nboxes; i++) {
    const mrcnn_fmap *f = &d->features[d->levels[i]];
    const int H = f->h, W = f->w;
    mrcnn_roi_grid g;
    mrcnn_roi_grid_init (d->boxes + (size_t) i * 4, d->scales[d->levels[i]],
        P, P, d->sampling_ratio, 0, &g);
    float *dst = out->data + (size_t) i * C * P * P;
    for (int ph = 0; ph < P; ph++) {
      for (int pw = 0; pw < P; pw++) {
        /* sample positions once per bin, reused by every channel */
        mrcnn_roi_sample smp[64];
        int ns = 0;
        for (int iy = 0; iy < g.grid_h; iy++)
          for (int ix = 0; ix < g.grid_w && ns < 64; ix++)
            mrcnn_roi_sample_at (H, W, mrcnn_roi_sample_y (&g, ph, iy),
                mrcnn_roi_sample_x (&g, pw, ix), &smp[ns++]);
        if (ns < g.grid_h * g.grid_w) {
          /* adaptive sampling of a huge box: compute directly */
          for (int c = 0; c < C; c++)
            dst[((size_t) c * P + ph) * P + pw] = mrcnn_roi_align_one (
                f->data + (size_t) c * H * W, H, W, &g, ph, pw);
          continue;
        }
        for (int c = 0; c < C; c++) {
          const float *plane = f->data + (size_t) c * H * W;
          float sum = 0.0f;
          for (int k = 0; k < ns; k++) {
            const mrcnn_roi_sample *s = &smp[k];
            sum += s->w1 * plane[s->o1] + s->w2 * plane[s->o2]
                + s->w3 * plane[s->o3] + s->w4 * plane[s->o4];
          }
          dst[((size_t) c * P + ph) * P + pw] = sum / g.count;
        }
      }
    }
  }
  return MRCNN_OK;
}

mrcnn_status
mrcnn_cpu_deconv2x2_relu (mrcnn_backend *be, const mrcnn_fmap *in,
    const float *weight, const float *bias, int out_ch, mrcnn_fmap *out,
    mrcnn_error *err)
{
  mrcnn_backend_cpu *cpu = (mrcnn_backend_cpu *) be;
  const int Ci = in->c, H = in->h, W = in->w, HW = H * W;
  const size_t need = (size_t) 4 * out_ch * HW;
  if (cpu->scratch_size < need) {
    g_free (cpu->scratch);
    cpu->scratch = g_try_new (float, need);
    cpu->scratch_size = cpu->scratch ? need : 0;
    if (!cpu->scratch)
      return mrcnn_fail (err, MRCNN_ERR_NO_MEMORY, "deconvolution scratch");
  }
  out->n = in->n;
  out->c = out_ch;
  out->h = 2 * H;
  out->w = 2 * W;
  for (int n = 0; n < in->n; n++) {
    const float *x = in->data + (size_t) n * Ci * HW;
    float *y = cpu->scratch;
    /* weight [Ci][out_ch*4] row major: y[(co,ky,kx)][p] = sum_ci w[ci][.] x[ci][p] */
    cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, 4 * out_ch, HW, Ci,
        1.0f, weight, 4 * out_ch, x, HW, 0.0f, y, HW);
    float *o = out->data + (size_t) n * out_ch * 4 * HW;
#pragma omp parallel for schedule(static)
    for (int co = 0; co < out_ch; co++) {
      for (int k = 0; k < 4; k++) {
        const int ky = k >> 1, kx = k & 1;
        const float *src = y + ((size_t) co * 4 + k) * HW;
        float *dst = o + (size_t) co * 4 * HW;
        for (int yy = 0; yy < H; yy++)
          for (int xx = 0; xx < W; xx++) {
            float v = src[yy * W + xx] + bias[co];
            dst[(2 * yy + ky) * 2 * W + 2 * xx + kx] = v > 0.0f ? v : 0.0f;
          }
      }
    }
  }
  return MRCNN_OK;
}

mrcnn_status
mrcnn_cpu_mask_probs (mrcnn_backend *be, const mrcnn_fmap *in,
    const float *weight, const float *bias, const int *classes, float *probs,
    mrcnn_error *err)
{
  const int C = in->c, HW = in->h * in->w;
#pragma omp parallel for schedule(static)
  for (int n = 0; n < in->n; n++) {
    const float *w = weight + (size_t) classes[n] * C;
    const float *x = in->data + (size_t) n * C * HW;
    float *p = probs + (size_t) n * HW;
    for (int i = 0; i < HW; i++)
      p[i] = bias[classes[n]];
    for (int c = 0; c < C; c++) {
      const float wc = w[c];
      const float *xc = x + (size_t) c * HW;
      for (int i = 0; i < HW; i++)
        p[i] += wc * xc[i];
    }
    for (int i = 0; i < HW; i++)
      p[i] = 1.0f / (1.0f + expf (-p[i]));
  }
  return MRCNN_OK;
}
