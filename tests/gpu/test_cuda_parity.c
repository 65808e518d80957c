/* CUDA backend vs CPU backend, op by op, on fresh random inputs.
 *
 * Each op of the backend table runs on both backends with the same inputs;
 * the CUDA outputs are poisoned with NaN first, so an element the kernel
 * never writes fails the comparison. Tolerances (CPU result = reference):
 *   ops whose arithmetic is the shared math of kernels/ with no
 *   transcendental function (preprocess, max_pool, upsample_add, roi_align,
 *   mask paste): max |d| <= 1e-6 * max (1, max |ref|) - in practice 0;
 *   mask_probs (sigmoid: CUDA's expf is within 2 ulp): max |d| <= 1e-6;
 *   convolutions and fully connected layers (cuDNN / cuBLAS vs oneDNN /
 *   OpenBLAS sum in other orders): max |d| / max |ref| <= 2e-5;
 *   rpn_proposals and detect: the same count, and each output equal to the
 *   CPU's at the same index (boxes within 1e-3 px, scores within 1e-6, same
 *   class), except that at most 1% may instead match another output of the
 *   same class (two scores within an ulp can come out in either order).
 *
 * Exits 77 (skipped) when no CUDA device is there or the build has no CUDA
 * backend, so that a machine without a GPU never reports it as passed.
 * MRCNN_TEST_SEED repeats a run. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "anchors.h"
#include "backend.h"
#include "cuda_launch.h"
#include "mask_paste.h"
#include "unit_test.h"

static mrcnn_backend *cpu, *gpu;
/* each backend's queue, made with it */
static mrcnn_queue *cpu_q, *gpu_q;
#define QUEUE_OF(be) ((be) == gpu ? gpu_q : cpu_q)

static void
die (const char *what, const mrcnn_error *err)
{
  printf ("test_cuda_parity: %s: %s\n", what, err->message);
  exit (1);
}

#define OK(call) \
  do { \
    mrcnn_error _err = { 0 }; \
    mrcnn_error *err = &_err; \
    if ((call) != MRCNN_OK) \
      die (#call, &_err); \
    (void) err; \
  } while (0)

static float
randn (void)
{
  double u1 = ut_uniform (1e-12, 1.0), u2 = ut_uniform (0.0, 1.0);
  return (float) (sqrt (-2.0 * log (u1)) * cos (2.0 * M_PI * u2));
}

static float *
host_randn (size_t n, float scale)
{
  float *p = g_new (float, MAX (n, 1));
  for (size_t i = 0; i < n; i++)
    p[i] = scale * randn ();
  return p;
}

/* backend memory holding n floats copied from host */
static float *
put (mrcnn_backend *be, const float *host, size_t n)
{
  float *p = NULL;
  OK (be->ops->alloc (be, n, &p, err));
  OK (be->ops->upload (be, p, host, n, err));
  return p;
}

/* backend memory of n NaNs */
static float *
poisoned (mrcnn_backend *be, size_t n)
{
  float *h = g_new (float, MAX (n, 1));
  for (size_t i = 0; i < n; i++)
    h[i] = NAN;
  float *p = put (be, h, n);
  g_free (h);
  return p;
}

static float *
get (mrcnn_backend *be, const float *p, size_t n)
{
  float *h = g_new (float, MAX (n, 1));
  mrcnn_error e = { 0 };
  const float *v = n ? be->ops->download (be, QUEUE_OF (be), p, n, h, &e) : h;
  if (!v)
    die ("download", &e);
  if (v != h)
    memcpy (h, v, n * sizeof (float));
  return h;
}

/* Compares n values; tol is relative to max (1, max |ref|) when rel_to_max,
 * else absolute. */
static void
compare (const char *what, const float *ref, const float *got, size_t n,
    double tol, int rel_to_max)
{
  double maxref = 0.0, maxd = 0.0, l2d = 0.0, l2r = 0.0;
  size_t exact = 0, bad = 0;
  for (size_t i = 0; i < n; i++)
    maxref = fmax (maxref, fabs (ref[i]));
  double scale = rel_to_max ? fmax (1.0, maxref) : 1.0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs ((double) ref[i] - got[i]);
    if (isnan (got[i]) != isnan (ref[i]) || d > tol * scale) {
      if (bad++ < 3)
        ut_check (0, "%s: element %zu: cpu %.9g cuda %.9g", what, i, ref[i],
            got[i]);
      else
        ut.checks++, ut.failures++;
    } else {
      ut.checks++;
    }
    if (!isnan (d)) {
      maxd = fmax (maxd, d);
      l2d += d * d;
    }
    l2r += (double) ref[i] * ref[i];
    exact += ref[i] == got[i];
  }
  printf ("        %-34s n %-9zu max|d| %.2e (max|ref| %.2e) rel L2 %.2e "
      "exact %.1f%%\n", what, n, maxd, maxref, sqrt (l2d / fmax (l2r, 1e-30)),
      n ? 100.0 * exact / n : 100.0);
}

/* ---------------------------------------------------------------- conv */

static void
test_conv (int n, int ic, int oc, int k, int s, int p, int relu, int acc,
    int h, int w)
{
  mrcnn_folded_conv fc = { oc, ic, k, k, NULL, NULL };
  float fan = (float) (ic * k * k);
  fc.weight = host_randn ((size_t) oc * ic * k * k, 1.0f / sqrtf (fan));
  fc.bias = host_randn (oc, 0.1f);
  mrcnn_conv_desc d = { &fc, s, p, relu };
  mrcnn_conv *cc, *gc;
  OK (cpu->ops->conv_new (cpu, &d, &cc, err));
  OK (gpu->ops->conv_new (gpu, &d, &gc, err));
  int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
  size_t ni = (size_t) n * ic * h * w, no = (size_t) n * oc * oh * ow;
  float *x = host_randn (ni, 1.0f), *z = host_randn (no, 1.0f);
  float *cx = put (cpu, x, ni), *gx = put (gpu, x, ni);
  float *cy = put (cpu, z, no);
  float *gy = acc ? put (gpu, z, no) : poisoned (gpu, no);
  mrcnn_fmap ci = { cx, n, ic, h, w, MRCNN_LAYOUT_NCHW };
  mrcnn_fmap gi = { gx, n, ic, h, w, MRCNN_LAYOUT_NCHW };
  mrcnn_fmap co = { cy, .layout = MRCNN_LAYOUT_NCHW };
  mrcnn_fmap go = { gy, .layout = MRCNN_LAYOUT_NCHW };
  OK (cpu->ops->conv_run (cpu, QUEUE_OF (cpu), cc, &ci, acc, &co, err));
  OK (gpu->ops->conv_run (gpu, QUEUE_OF (gpu), gc, &gi, acc, &go, err));
  ut_check (co.n == go.n && co.c == go.c && co.h == go.h && co.w == go.w,
      "conv output shapes differ");
  char name[96];
  snprintf (name, sizeof name, "conv %dx%d s%d %d->%d%s%s %dx%dx%d", k, k, s,
      ic, oc, relu ? " relu" : "", acc ? " +res" : "", n, h, w);
  float *a = get (cpu, cy, no), *b = get (gpu, gy, no);
  compare (name, a, b, no, 2e-5, 1);
  /* again, same size: the cached algorithm */
  if (!acc) {
    OK (gpu->ops->conv_run (gpu, QUEUE_OF (gpu), gc, &gi, acc, &go, err));
    float *b2 = get (gpu, gy, no);
    ut_check (memcmp (b, b2, no * sizeof (float)) == 0,
        "%s: a second run differs", name);
    g_free (b2);
  }
  g_free (a);
  g_free (b);
  cpu->ops->release (cpu, cx);
  cpu->ops->release (cpu, cy);
  gpu->ops->release (gpu, gx);
  gpu->ops->release (gpu, gy);
  cpu->ops->conv_free (cpu, cc);
  gpu->ops->conv_free (gpu, gc);
  g_free (x);
  g_free (z);
  g_free (fc.weight);
  g_free (fc.bias);
}

static void
test_convs (void)
{
  ut_begin ("convolution (cuDNN vs oneDNN)");
  test_conv (1, 3, 16, 7, 2, 3, 1, 0, 67, 93);    /* stem */
  test_conv (1, 16, 24, 1, 1, 0, 1, 0, 34, 47);   /* bottleneck conv1 */
  test_conv (1, 24, 24, 3, 1, 1, 1, 0, 34, 47);   /* conv2 */
  test_conv (1, 24, 24, 3, 2, 1, 1, 0, 34, 47);   /* strided conv2 */
  test_conv (1, 24, 64, 1, 2, 0, 0, 0, 34, 47);   /* downsample */
  test_conv (1, 24, 64, 1, 1, 0, 1, 1, 17, 24);   /* conv3 + residual */
  test_conv (1, 64, 32, 3, 1, 1, 0, 0, 17, 24);   /* FPN output conv */
  test_conv (1, 64, 32, 1, 1, 0, 0, 1, 17, 24);   /* identity + residual */
  test_conv (7, 32, 32, 3, 1, 1, 1, 0, 14, 14);   /* mask head */
  test_conv (5, 32, 32, 3, 1, 1, 1, 0, 14, 14);   /* same bucket, fewer */
  test_conv (3, 32, 64, 1, 1, 0, 0, 0, 14, 14);   /* deconv as 1x1 */
  test_conv (1, 256, 256, 3, 1, 1, 1, 0, 50, 68); /* real widths */
  ut_end ();
}

/* ---------------------------------------------------------------- linear */

static void
test_linear (int n, int in, int out, int relu)
{
  float *w = host_randn ((size_t) out * in, 1.0f / sqrtf ((float) in));
  float *b = host_randn (out, 0.1f), *x = host_randn ((size_t) n * in, 1.0f);
  mrcnn_linear *cl, *gl;
  OK (cpu->ops->linear_new (cpu, w, b, out, in, relu, NULL, &cl, err));
  OK (gpu->ops->linear_new (gpu, w, b, out, in, relu, NULL, &gl, err));
  float *cx = put (cpu, x, (size_t) n * in), *gx = put (gpu, x, (size_t) n * in);
  float *cy = poisoned (cpu, (size_t) n * out), *gy = poisoned (gpu, (size_t) n * out);
  OK (cpu->ops->linear_run (cpu, QUEUE_OF (cpu), cl, cx, n, cy, err));
  OK (gpu->ops->linear_run (gpu, QUEUE_OF (gpu), gl, gx, n, gy, err));
  float *a = get (cpu, cy, (size_t) n * out), *c = get (gpu, gy, (size_t) n * out);
  char name[64];
  snprintf (name, sizeof name, "linear %d x %d -> %d%s", n, in, out,
      relu ? " relu" : "");
  compare (name, a, c, (size_t) n * out, 2e-5, 1);
  g_free (a);
  g_free (c);
  cpu->ops->release (cpu, cx);
  cpu->ops->release (cpu, cy);
  gpu->ops->release (gpu, gx);
  gpu->ops->release (gpu, gy);
  cpu->ops->linear_free (cpu, cl);
  gpu->ops->linear_free (gpu, gl);
  g_free (w);
  g_free (b);
  g_free (x);
}

static void
test_linears (void)
{
  ut_begin ("fully connected (cuBLAS vs OpenBLAS)");
  test_linear (37, 300, 129, 1);
  test_linear (1000, 1568, 256, 1);
  test_linear (5, 256, 25, 0);
  ut_end ();
}

/* ---------------------------------------------------------------- preprocess */

static void
test_preprocess_format (mrcnn_pixel_format fmt, const char *fname, int w,
    int h, int on_device)
{
  const int bpp = fmt == MRCNN_PIXEL_RGB || fmt == MRCNN_PIXEL_BGR ? 3
      : fmt <= MRCNN_PIXEL_BGRX ? 4 : 1;
  const int yuv = fmt == MRCNN_PIXEL_NV12 || fmt == MRCNN_PIXEL_I420;
  int nplanes = fmt == MRCNN_PIXEL_I420 ? 3 : fmt == MRCNN_PIXEL_NV12 ? 2 : 1;
  int strides[3] = { 0 }, rows[3] = { 0 };
  size_t offs[3] = { 0 }, total = 0;
  for (int p = 0; p < nplanes; p++) {
    int row = p == 0 ? w * bpp : fmt == MRCNN_PIXEL_NV12 ? (w + 1) / 2 * 2
        : (w + 1) / 2;
    strides[p] = row + ut_int (0, 9);   /* padded rows */
    rows[p] = p == 0 || !yuv ? h : (h + 1) / 2;
    offs[p] = total;
    total += (size_t) strides[p] * rows[p];
  }
  size_t nfloats = (total + 3) / 4;
  uint8_t *frame = g_malloc0 (nfloats * 4);
  for (size_t i = 0; i < total; i++)
    frame[i] = (uint8_t) ut_int (0, 255);
  mrcnn_image img = { fmt, w, h, { NULL }, { 0 }, 0 };
  for (int p = 0; p < nplanes; p++) {
    img.planes[p] = frame + offs[p];
    img.strides[p] = strides[p];
  }
  const float mean[3] = { 0.485f, 0.456f, 0.406f };
  const float std[3] = { 0.229f, 0.224f, 0.225f };
  mrcnn_preprocess_desc d;
  mrcnn_pp_params_init (&d.pp, w, h, 64.0f, 128.0f, mean, std);
  d.pad_w = (d.pp.out_w + 31) / 32 * 32;
  d.pad_h = (d.pp.out_h + 31) / 32 * 32;
  size_t no = (size_t) 3 * d.pad_w * d.pad_h;
  float *cy = poisoned (cpu, no), *gy = poisoned (gpu, no);
  mrcnn_fmap co = { cy, .layout = MRCNN_LAYOUT_NCHW };
  mrcnn_fmap go = { gy, .layout = MRCNN_LAYOUT_NCHW };
  OK (cpu->ops->preprocess (cpu, QUEUE_OF (cpu), &img, &d, &co, err));
  float *dev = NULL;
  mrcnn_image gimg = img;
  if (on_device) {
    dev = put (gpu, (const float *) frame, nfloats);
    for (int p = 0; p < nplanes; p++)
      gimg.planes[p] = (const uint8_t *) dev + offs[p];
    gimg.on_device = 1;
  }
  OK (gpu->ops->frame_reserve (gpu, w, h, err));
  OK (gpu->ops->preprocess (gpu, QUEUE_OF (gpu), &gimg, &d, &go, err));
  float *a = get (cpu, cy, no), *b = get (gpu, gy, no);
  char name[96];
  snprintf (name, sizeof name, "preprocess %s %dx%d %s", fname, w, h,
      on_device ? "device" : "host");
  compare (name, a, b, no, 1e-6, 1);
  g_free (a);
  g_free (b);
  cpu->ops->release (cpu, cy);
  gpu->ops->release (gpu, gy);
  if (dev)
    gpu->ops->release (gpu, dev);
  g_free (frame);
}

static void
test_preprocess (void)
{
  static const struct { mrcnn_pixel_format f; const char *name; } fmts[] = {
    { MRCNN_PIXEL_RGB, "RGB" }, { MRCNN_PIXEL_BGR, "BGR" },
    { MRCNN_PIXEL_RGBA, "RGBA" }, { MRCNN_PIXEL_BGRA, "BGRA" },
    { MRCNN_PIXEL_RGBX, "RGBx" }, { MRCNN_PIXEL_BGRX, "BGRx" },
    { MRCNN_PIXEL_NV12, "NV12" }, { MRCNN_PIXEL_I420, "I420" },
    { MRCNN_PIXEL_GRAY8, "GRAY8" },
  };
  ut_begin ("preprocess (all formats, host and device frames)");
  for (size_t i = 0; i < G_N_ELEMENTS (fmts); i++)
    for (int dev = 0; dev < 2; dev++)
      test_preprocess_format (fmts[i].f, fmts[i].name, ut_int (40, 300),
          ut_int (30, 200), dev);
  ut_end ();
}

/* ---------------------------------------------------------------- pool, upsample */

static void
test_pool_upsample (void)
{
  ut_begin ("max_pool and upsample_add");
  static const int cfg[][3] = { { 3, 2, 1 }, { 1, 2, 0 } };
  for (int t = 0; t < 2; t++) {
    int c = 5, h = ut_int (9, 80), w = ut_int (9, 80);
    int k = cfg[t][0], s = cfg[t][1], p = cfg[t][2];
    int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
    size_t ni = (size_t) c * h * w, no = (size_t) c * oh * ow;
    float *x = host_randn (ni, 1.0f);
    float *cx = put (cpu, x, ni), *gx = put (gpu, x, ni);
    float *cy = poisoned (cpu, no), *gy = poisoned (gpu, no);
    mrcnn_fmap ci = { cx, 1, c, h, w, MRCNN_LAYOUT_NCHW };
    mrcnn_fmap gi = { gx, 1, c, h, w, MRCNN_LAYOUT_NCHW };
    mrcnn_fmap co = { cy, .layout = MRCNN_LAYOUT_NCHW };
    mrcnn_fmap go = { gy, .layout = MRCNN_LAYOUT_NCHW };
    OK (cpu->ops->max_pool (cpu, QUEUE_OF (cpu), &ci, k, s, p, &co, err));
    OK (gpu->ops->max_pool (gpu, QUEUE_OF (gpu), &gi, k, s, p, &go, err));
    float *a = get (cpu, cy, no), *b = get (gpu, gy, no);
    char name[64];
    snprintf (name, sizeof name, "max_pool k%d s%d p%d %dx%d", k, s, p, h, w);
    compare (name, a, b, no, 0.0, 0);
    g_free (a);
    g_free (b);
    g_free (x);
    cpu->ops->release (cpu, cx);
    cpu->ops->release (cpu, cy);
    gpu->ops->release (gpu, gx);
    gpu->ops->release (gpu, gy);
  }
  for (int t = 0; t < 2; t++) {
    int c = 6, th = ut_int (3, 40), tw = ut_int (3, 40);
    int h = t == 0 ? 2 * th : ut_int (th, 3 * th), w = t == 0 ? 2 * tw : ut_int (tw, 3 * tw);
    size_t nt = (size_t) c * th * tw, nl = (size_t) c * h * w;
    float *top = host_randn (nt, 1.0f), *lat = host_randn (nl, 1.0f);
    float *ct = put (cpu, top, nt), *gt = put (gpu, top, nt);
    float *cl = put (cpu, lat, nl), *gl = put (gpu, lat, nl);
    mrcnn_fmap ctm = { ct, 1, c, th, tw, MRCNN_LAYOUT_NCHW };
    mrcnn_fmap gtm = { gt, 1, c, th, tw, MRCNN_LAYOUT_NCHW };
    mrcnn_fmap clm = { cl, 1, c, h, w, MRCNN_LAYOUT_NCHW };
    mrcnn_fmap glm = { gl, 1, c, h, w, MRCNN_LAYOUT_NCHW };
    OK (cpu->ops->upsample_add (cpu, QUEUE_OF (cpu), &ctm, &clm, err));
    OK (gpu->ops->upsample_add (gpu, QUEUE_OF (gpu), &gtm, &glm, err));
    float *a = get (cpu, cl, nl), *b = get (gpu, gl, nl);
    char name[64];
    snprintf (name, sizeof name, "upsample_add %dx%d -> %dx%d", th, tw, h, w);
    compare (name, a, b, nl, 0.0, 0);
    g_free (a);
    g_free (b);
    g_free (top);
    g_free (lat);
    cpu->ops->release (cpu, ct);
    cpu->ops->release (cpu, cl);
    gpu->ops->release (gpu, gt);
    gpu->ops->release (gpu, gl);
  }
  ut_end ();
}

/* ---------------------------------------------------------------- roi_align */

static float *
random_boxes (int n, int img_w, int img_h)
{
  float *b = g_new (float, (size_t) n * 4);
  for (int i = 0; i < n; i++) {
    /* sizes from sub-pixel to larger than the image, some outside */
    float s = (float) exp (ut_uniform (log (0.5), log (1.5 * MAX (img_w, img_h))));
    float ar = (float) exp (ut_uniform (-1.2, 1.2));
    float cx = (float) ut_uniform (-0.1 * img_w, 1.1 * img_w);
    float cy = (float) ut_uniform (-0.1 * img_h, 1.1 * img_h);
    float bw = s * sqrtf (ar), bh = s / sqrtf (ar);
    b[4 * i + 0] = cx - bw / 2;
    b[4 * i + 1] = cy - bh / 2;
    b[4 * i + 2] = cx + bw / 2;
    b[4 * i + 3] = cy + bh / 2;
  }
  return b;
}

static void
test_roi_align (void)
{
  ut_begin ("roi_align (multi-level)");
  const int C = 8, img_w = 272, img_h = 200, pad_w = 288, pad_h = 224;
  for (int pooled = 7; pooled <= 14; pooled += 7) {
    mrcnn_fmap cf[4], gf[4];
    float scales[4];
    for (int l = 0; l < 4; l++) {
      int s = 4 << l, h = pad_h / s, w = pad_w / s;
      size_t n = (size_t) C * h * w;
      float *x = host_randn (n, 1.0f);
      cf[l] = (mrcnn_fmap) { put (cpu, x, n), 1, C, h, w, MRCNN_LAYOUT_NCHW };
      gf[l] = (mrcnn_fmap) { put (gpu, x, n), 1, C, h, w, MRCNN_LAYOUT_NCHW };
      scales[l] = 1.0f / (float) s;
      g_free (x);
    }
    int nb = 300;
    float *boxes = random_boxes (nb, img_w, img_h);
    float *cb = put (cpu, boxes, (size_t) nb * 4), *gb = put (gpu, boxes, (size_t) nb * 4);
    size_t no = (size_t) nb * C * pooled * pooled;
    float *cy = poisoned (cpu, no), *gy = poisoned (gpu, no);
    mrcnn_roi_align_desc cd = { cf, scales, 4, 2, 5, cb, nb, pooled, 2 };
    mrcnn_roi_align_desc gd = { gf, scales, 4, 2, 5, gb, nb, pooled, 2 };
    mrcnn_fmap co = { cy, .layout = MRCNN_LAYOUT_NCHW };
    mrcnn_fmap go = { gy, .layout = MRCNN_LAYOUT_NCHW };
    OK (cpu->ops->roi_align (cpu, QUEUE_OF (cpu), &cd, &co, err));
    OK (gpu->ops->roi_align (gpu, QUEUE_OF (gpu), &gd, &go, err));
    float *a = get (cpu, cy, no), *b = get (gpu, gy, no);
    char name[64];
    snprintf (name, sizeof name, "roi_align %d boxes %dx%d", nb, pooled, pooled);
    compare (name, a, b, no, 1e-6, 1);
    g_free (a);
    g_free (b);
    g_free (boxes);
    for (int l = 0; l < 4; l++) {
      cpu->ops->release (cpu, cf[l].data);
      gpu->ops->release (gpu, gf[l].data);
    }
    cpu->ops->release (cpu, cb);
    gpu->ops->release (gpu, gb);
    cpu->ops->release (cpu, cy);
    gpu->ops->release (gpu, gy);
  }
  ut_end ();
}

/* ---------------------------------------------------------------- mask_probs */

static void
test_mask_probs (void)
{
  ut_begin ("mask_probs (deconv taps, class logits, sigmoid)");
  const int n = 9, D = 16, h = 14, w = 14, C = 7;
  size_t nt = (size_t) n * 4 * D * h * w;
  float *taps = host_randn (nt, 1.0f), *db = host_randn (D, 0.2f);
  float *wt = host_randn ((size_t) C * D, 0.5f), *bias = host_randn (C, 0.5f);
  int classes[9];
  for (int i = 0; i < n; i++)
    classes[i] = ut_int (1, C - 1);
  float *ct = put (cpu, taps, nt), *gt = put (gpu, taps, nt);
  float *cdb = put (cpu, db, D), *gdb = put (gpu, db, D);
  float *cw = put (cpu, wt, (size_t) C * D), *gw = put (gpu, wt, (size_t) C * D);
  float *cbias = put (cpu, bias, C), *gbias = put (gpu, bias, C);
  float *ccls = put (cpu, (const float *) classes, n);
  float *gcls = put (gpu, (const float *) classes, n);
  size_t no = (size_t) n * 4 * h * w;
  float *cy = poisoned (cpu, no), *gy = poisoned (gpu, no);
  mrcnn_fmap ctm = { ct, n, 4 * D, h, w, MRCNN_LAYOUT_NCHW };
  mrcnn_fmap gtm = { gt, n, 4 * D, h, w, MRCNN_LAYOUT_NCHW };
  OK (cpu->ops->mask_probs (cpu, QUEUE_OF (cpu), &ctm, cdb, cw, cbias,
      (const int *) ccls, cy, err));
  OK (gpu->ops->mask_probs (gpu, QUEUE_OF (gpu), &gtm, gdb, gw, gbias,
      (const int *) gcls, gy, err));
  float *a = get (cpu, cy, no), *b = get (gpu, gy, no);
  compare ("mask_probs 9 x 28x28", a, b, no, 1e-6, 0);
  g_free (a);
  g_free (b);
  float *bufs_c[] = { ct, cdb, cw, cbias, ccls, cy };
  float *bufs_g[] = { gt, gdb, gw, gbias, gcls, gy };
  for (int i = 0; i < 6; i++) {
    cpu->ops->release (cpu, bufs_c[i]);
    gpu->ops->release (gpu, bufs_g[i]);
  }
  g_free (taps);
  g_free (db);
  g_free (wt);
  g_free (bias);
  ut_end ();
}

/* ---------------------------------------------------------------- boxes */

/* Compares n x (box, score, label) lists in order; an entry that differs may
 * match another entry of the same class within tolerance (ties in score). */
static void
compare_detections (const char *what, int na, const float *ba,
    const float *sa, const int *la, int nb, const float *bb, const float *sb,
    const int *lb)
{
  ut_check (na == nb, "%s: cpu %d outputs, cuda %d", what, na, nb);
  int n = MIN (na, nb), in_order = 0, elsewhere = 0, missing = 0;
  double maxd_box = 0.0, maxd_score = 0.0;
  for (int i = 0; i < n; i++) {
    int j = i, found = 0;
    for (int pass = 0; pass < 2 && !found; pass++) {
      for (j = pass ? 0 : i; j < (pass ? n : i + 1); j++) {
        double db = 0.0;
        for (int c = 0; c < 4; c++)
          db = fmax (db, fabs ((double) ba[4 * i + c] - bb[4 * j + c]));
        double ds = sa ? fabs ((double) sa[i] - sb[j]) : 0.0;
        if (db <= 1e-3 && ds <= 1e-6 && (!la || la[i] == lb[j])) {
          found = 1;
          if (pass == 0) {
            in_order++;
            maxd_box = fmax (maxd_box, db);
            maxd_score = fmax (maxd_score, ds);
          } else {
            elsewhere++;
          }
          break;
        }
      }
    }
    if (!found && missing++ < 3)
      ut_check (0, "%s: cpu output %d (%.3f %.3f %.3f %.3f%s) has no cuda "
          "partner", what, i, ba[4 * i], ba[4 * i + 1], ba[4 * i + 2],
          ba[4 * i + 3], "");
  }
  ut_check (missing == 0, "%s: %d outputs without a partner", what, missing);
  ut_check (elsewhere <= n / 100, "%s: %d of %d outputs out of order", what,
      elsewhere, n);
  printf ("        %-34s cpu %d cuda %d: %d in order, %d elsewhere, %d "
      "missing; max|d| box %.2e score %.2e\n", what, na, nb, in_order,
      elsewhere, missing, maxd_box, maxd_score);
}

static void
test_rpn (int pre_nms, int pad_w, int pad_h)
{
  const int A = 3, L = 5, img_w = pad_w - 13, img_h = pad_h - 21, post = 1000;
  float cell[5 * 3 * 4];
  size_t locs[5];
  static const float sizes[5] = { 32, 64, 128, 256, 512 };
  static const float ratios[3] = { 0.5f, 1.0f, 2.0f };
  mrcnn_fmap ch[5], gh[5];
  for (int l = 0; l < L; l++) {
    for (int r = 0; r < A; r++)
      mrcnn_anchor_base (sizes[l], ratios[r], cell + (l * A + r) * 4);
    int h = l < 4 ? pad_h >> (l + 2) : ((pad_h >> 5) - 1) / 2 + 1;
    int w = l < 4 ? pad_w >> (l + 2) : ((pad_w >> 5) - 1) / 2 + 1;
    locs[l] = (size_t) h * w;
    size_t n = (size_t) 5 * A * h * w;
    float *x = g_new (float, n);
    for (size_t i = 0; i < n; i++)
      x[i] = i < (size_t) A * h * w ? 2.0f * randn () : 0.5f * randn ();
    ch[l] = (mrcnn_fmap) { put (cpu, x, n), 1, 5 * A, h, w, MRCNN_LAYOUT_NCHW };
    gh[l] = (mrcnn_fmap) { put (gpu, x, n), 1, 5 * A, h, w, MRCNN_LAYOUT_NCHW };
    g_free (x);
  }
  mrcnn_postproc_desc d = {
    .nlevels = L, .num_anchors = A, .cell_anchors = cell,
    .pre_nms_top_n = pre_nms, .post_nms_top_n = post, .rpn_nms_thresh = 0.7,
    .rpn_score_thresh = 0.0f, .rpn_min_size = 1e-3f, .box_min_size = 1e-2f,
    .num_classes = 5, .max_detections = 100,
  };
  memcpy (d.max_locations, locs, sizeof locs);
  mrcnn_postproc *cp, *gp;
  OK (cpu->ops->postproc_new (cpu, &d, &cp, err));
  OK (gpu->ops->postproc_new (gpu, &d, &gp, err));
  float *cy = poisoned (cpu, (size_t) post * 4), *gy = poisoned (gpu, (size_t) post * 4);
  int cn = -1, gn = -1;
  OK (cpu->ops->rpn_proposals (cpu, QUEUE_OF (cpu), cp, ch, pad_w, pad_h,
      img_w, img_h, cy, &cn, err));
  OK (gpu->ops->rpn_proposals (gpu, QUEUE_OF (gpu), gp, gh, pad_w, pad_h,
      img_w, img_h, gy, &gn, err));
  float *a = get (cpu, cy, (size_t) MAX (cn, 0) * 4);
  float *b = get (gpu, gy, (size_t) MAX (gn, 0) * 4);
  char name[80];
  snprintf (name, sizeof name, "rpn_proposals pre %d, %dx%d", pre_nms, pad_w, pad_h);
  compare_detections (name, cn, a, NULL, NULL, gn, b, NULL, NULL);
  g_free (a);
  g_free (b);
  for (int l = 0; l < L; l++) {
    cpu->ops->release (cpu, ch[l].data);
    gpu->ops->release (gpu, gh[l].data);
  }
  cpu->ops->release (cpu, cy);
  gpu->ops->release (gpu, gy);
  cpu->ops->postproc_free (cpu, cp);
  gpu->ops->postproc_free (gpu, gp);
}

static void
test_detect (int n_props, int C, float logit_scale)
{
  const int img_w = 600, img_h = 400, D = 100;
  float cell[5 * 3 * 4] = { 0 };
  mrcnn_postproc_desc d = {
    .nlevels = 5, .num_anchors = 3, .cell_anchors = cell,
    .max_locations = { 1, 1, 1, 1, 1 },
    .pre_nms_top_n = 1000, .post_nms_top_n = 1000, .rpn_nms_thresh = 0.7,
    .rpn_score_thresh = 0.0f, .rpn_min_size = 1e-3f, .box_min_size = 1e-2f,
    .num_classes = C, .max_detections = D,
  };
  mrcnn_postproc *cp, *gp;
  OK (cpu->ops->postproc_new (cpu, &d, &cp, err));
  OK (gpu->ops->postproc_new (gpu, &d, &gp, err));
  /* proposals inside the image; a few duplicated so that NMS has work */
  float *props = g_new (float, (size_t) n_props * 4);
  for (int i = 0; i < n_props; i++) {
    if (i > 0 && ut_int (0, 3) == 0) {
      memcpy (props + 4 * i, props + 4 * ut_int (0, i - 1), 4 * sizeof (float));
      props[4 * i] += (float) ut_uniform (-3, 3);
      continue;
    }
    float x1 = (float) ut_uniform (0, img_w - 20), y1 = (float) ut_uniform (0, img_h - 20);
    props[4 * i + 0] = x1;
    props[4 * i + 1] = y1;
    props[4 * i + 2] = x1 + (float) ut_uniform (2, img_w - x1);
    props[4 * i + 3] = y1 + (float) ut_uniform (2, img_h - y1);
  }
  size_t np = (size_t) n_props * 5 * C;
  float *pred = g_new (float, np);
  for (int r = 0; r < n_props; r++)
    for (int k = 0; k < 5 * C; k++)
      pred[(size_t) r * 5 * C + k] = k < C ? logit_scale * randn () : 0.3f * randn ();
  float *cpr = put (cpu, props, (size_t) n_props * 4), *gpr = put (gpu, props, (size_t) n_props * 4);
  float *cpd = put (cpu, pred, np), *gpd = put (gpu, pred, np);
  float *cb = poisoned (cpu, (size_t) D * 4), *gb = poisoned (gpu, (size_t) D * 4);
  float *cs = poisoned (cpu, D), *gs = poisoned (gpu, D);
  float *cl = poisoned (cpu, D), *gl = poisoned (gpu, D);
  mrcnn_thresholds th = { 0.05f, 0.5f, D, 0.5f };
  int cn = -1, gn = -1;
  OK (cpu->ops->detect (cpu, QUEUE_OF (cpu), cp, cpr, cpd, n_props, &th,
          img_w, img_h, cb, cs, (int *) cl, &cn, err));
  OK (gpu->ops->detect (gpu, QUEUE_OF (gpu), gp, gpr, gpd, n_props, &th,
          img_w, img_h, gb, gs, (int *) gl, &gn, err));
  float *hb[2] = { get (cpu, cb, (size_t) cn * 4), get (gpu, gb, (size_t) gn * 4) };
  float *hs[2] = { get (cpu, cs, cn), get (gpu, gs, gn) };
  float *hl[2] = { get (cpu, cl, cn), get (gpu, gl, gn) };
  char name[80];
  snprintf (name, sizeof name, "detect %d proposals, %d classes", n_props, C);
  compare_detections (name, cn, hb[0], hs[0], (int *) hl[0], gn, hb[1], hs[1],
      (int *) hl[1]);
  for (int i = 0; i < 2; i++) {
    g_free (hb[i]);
    g_free (hs[i]);
    g_free (hl[i]);
  }
  float *bc[] = { cpr, cpd, cb, cs, cl }, *bg[] = { gpr, gpd, gb, gs, gl };
  for (int i = 0; i < 5; i++) {
    cpu->ops->release (cpu, bc[i]);
    gpu->ops->release (gpu, bg[i]);
  }
  cpu->ops->postproc_free (cpu, cp);
  gpu->ops->postproc_free (gpu, gp);
  g_free (props);
  g_free (pred);
}

static void
test_postproc (void)
{
  ut_begin ("rpn_proposals (top-k, decode, NMS per level)");
  test_rpn (1000, 352, 256);    /* > 1000 candidates: NMS per level */
  test_rpn (150, 352, 256);     /* <= 1000: torchvision's offset variant */
  test_rpn (1000, 1344, 800);   /* the R50 settings */
  ut_end ();
  ut_begin ("detect (softmax, decode, NMS per class)");
  test_detect (300, 5, 1.5f);   /* few candidates: offset variant */
  test_detect (1000, 91, 3.0f); /* many: NMS per class */
  test_detect (0, 5, 1.0f);     /* nothing */
  ut_end ();
}

/* ---------------------------------------------------------------- paste */

static void
test_paste (void)
{
  ut_begin ("mask paste (kernel vs mrcnn_paste_value)");
  const int M = 28, im_w = 160, im_h = 120;
  float mask[28 * 28];
  for (int i = 0; i < M * M; i++)
    mask[i] = (float) ut_uniform (0, 1);
  float *dm = put (gpu, mask, M * M);
  size_t nbytes = (size_t) im_w * im_h;
  float *dd = poisoned (gpu, (nbytes + 3) / 4);
  for (int t = 0; t < 20; t++) {
    float box[4];
    float *rb = random_boxes (1, im_w, im_h);
    memcpy (box, rb, sizeof box);
    g_free (rb);
    mrcnn_paste_geom g;
    mrcnn_paste_geometry (box, M, im_w, im_h, &g);
    uint8_t *want = g_malloc0 (nbytes);
    for (int y = 0; y < im_h; y++)
      for (int x = 0; x < im_w; x++)
        want[(size_t) y * im_w + x] = mrcnn_paste_value (mask, M, &g, x, y) > 0.5f ? 255 : 0;
    cudaError_t e = mrcnn_cuda_paste_mask (dm, M, box, im_w, im_h, 0.5f, 0, 0,
        im_w, im_h, (uint8_t *) dd, im_w, 0);
    if (e == cudaSuccess)
      e = cudaDeviceSynchronize ();
    ut_check (e == cudaSuccess, "mrcnn_cuda_paste_mask: %s", cudaGetErrorString (e));
    uint8_t *got = (uint8_t *) get (gpu, dd, (nbytes + 3) / 4);
    size_t diff = 0;
    for (size_t i = 0; i < nbytes; i++)
      diff += want[i] != got[i];
    ut_check (diff == 0, "box %.1f %.1f %.1f %.1f: %zu pixels differ", box[0],
        box[1], box[2], box[3], diff);
    g_free (want);
    g_free (got);
  }
  gpu->ops->release (gpu, dm);
  gpu->ops->release (gpu, dd);
  ut_end ();
}

/* ---------------------------------------------------------------- errors */

static void
test_errors (void)
{
  ut_begin ("errors: device out of range");
  mrcnn_backend *be = NULL;
  mrcnn_error e = { 0 };
  mrcnn_status st = mrcnn_backend_cuda_new (4096, &be, &e);
  ut_check (st == MRCNN_ERR_INVALID_ARG && be == NULL
      && strstr (e.message, "does not exist") != NULL,
      "device 4096: status %d, message '%s'", (int) st, e.message);
  ut_end ();
}

int
main (void)
{
  mrcnn_error err = { 0 };
  setvbuf (stdout, NULL, _IOLBF, 0);
  mrcnn_status st = mrcnn_backend_cuda_new (-1, &gpu, &err);
  if (st != MRCNN_OK) {
    printf ("test_cuda_parity: SKIP: %s\n", err.message);
    return 77;
  }
  if (mrcnn_backend_cpu_new (0, &cpu, &err) != MRCNN_OK)
    die ("CPU backend", &err);
  if (gpu->ops->queue_new (gpu, &gpu_q, &err) != MRCNN_OK
      || cpu->ops->queue_new (cpu, &cpu_q, &err) != MRCNN_OK)
    die ("backend queue", &err);
  cpu->ops->queue_begin (cpu, cpu_q, cpu->workers);
  ut_init ("test_cuda_parity");
  test_convs ();
  test_linears ();
  test_preprocess ();
  test_pool_upsample ();
  test_roi_align ();
  test_mask_probs ();
  test_postproc ();
  test_paste ();
  test_errors ();
  gpu->ops->queue_free (gpu, gpu_q);
  cpu->ops->queue_free (cpu, cpu_q);
  gpu->ops->destroy (gpu);
  cpu->ops->destroy (cpu);
  return ut_finish ();
}
