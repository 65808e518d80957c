/* int8 on the CPU backend: its rounding against its float32 reference.
 *
 * 1. Quantization: oneDNN's f32 -> u8 / s8 reorder with an output scale
 *    (what the int8 convolutions' input conversion runs) against
 *    mrcnn_q8_level (kernels/precision.h, what the reference and the fully
 *    connected layers' input use): random values, exact ties, saturation.
 *    Must agree level for level.
 * 2. Layers: convolutions (1x1, 3x3, stride 2, with ReLU and accumulation;
 *    u8 and s8 inputs) and fully connected layers, each run by the real
 *    int8 path and by the reference (emulate_precision), against a
 *    double-precision sum of the same levels x scales. The reference sums
 *    float32 products: it may differ from the exact sum by the float32
 *    rounding bound of a K-term sum, gamma = (K + 2) u with u = 2^-24, times
 *    sum |x w| + |b|. The real path accumulates the levels exactly in int32
 *    and rounds a few times after (the conversion to float, the bias, the
 *    scale, the accumulation): 6 u of the same magnitude. Without VNNI,
 *    oneDNN halves the s8 weights of a layer with s8 input (its
 *    vpmaddubsw pairs would saturate; "scale_adjust") and one level of
 *    each weight can be lost: sum |x| s_w more; and u8 x s8 pairs summed in
 *    16 bits may saturate: such a run is measured and reported, and checked
 *    against the bound of the weights' halving only where no pair can
 *    saturate (inputs below 128). Without VNNI a fully connected layer with
 *    a signed input runs in float32 (oneDNN's s8 x s8 matmul saturates
 *    there, by up to the size of its outputs): it is checked against the
 *    float32 sum of the unquantized values.
 *    Every run prints the largest difference measured against its bound.
 * 3. Maps stored U8 (one int8 convolution writes the levels the next
 *    reads): the quantize op against mrcnn_q8_level, level for level; a
 *    convolution writing the u8 levels of another scale, alone and
 *    accumulating into a U8 map of a third scale, against the level of the
 *    exact value (a level may be one off only where the exact value lies
 *    within the path's rounding bound of a tie between two levels); and the
 *    next convolution reading those levels, against the exact sum of the
 *    levels it was given. The real path rounds its output a few more times
 *    than a float32 one (the scales divided by the output's, the
 *    accumulated map's levels times the ratio of the two scales): 10 u of
 *    sum |x w| + |b| + |prior|, in output levels; the reference's bound is
 *    (K + 2) u of the same, as above. Max pooling of a U8 map against the
 *    levels of the float32 map's pooling, level for level (rounding and
 *    saturation are monotonic).
 *
 * usage: test-int8     (seed from MRCNN_TEST_SEED or the clock) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <oneapi/dnnl/dnnl.h>

#include "backend_cpu.h"
#include "precision.h"
#include "unit_test.h"

#define U 0x1p-24

static int
has_vnni (void)
{
  unsigned isa = (unsigned) dnnl_get_effective_cpu_isa ();
  return (isa & dnnl_cpu_isa_avx512_core_vnni) == dnnl_cpu_isa_avx512_core_vnni
      || (isa & dnnl_cpu_isa_avx2_vnni) == dnnl_cpu_isa_avx2_vnni;
}

/* ---------------------------------------------------------------- 1 */

static void
check_quantize (int u8)
{
  const size_t n = 1 << 20;
  float *x = g_new (float, n);
  float inv = (float) ut_uniform (0.5, 40.0);
  float lo = u8 ? 0.0f : -128.0f, hi = u8 ? 255.0f : 127.0f;
  for (size_t i = 0; i < n; i++) {
    switch (i % 4) {
      case 0:   /* in range */
        x[i] = (float) ut_uniform (lo - 2, hi + 2) / inv;
        break;
      case 1:   /* an exact tie: k + 0.5 levels (when x * inv is exact) */
        x[i] = ((float) ut_int ((int) lo - 3, (int) hi + 3) + 0.5f) / inv;
        break;
      case 2:   /* far out of range */
        x[i] = (float) ut_uniform (-1e4, 1e4);
        break;
      default:  /* near zero */
        x[i] = (float) ut_uniform (-2, 2) / inv;
    }
  }
  dnnl_engine_t eng;
  dnnl_stream_t stream;
  dnnl_memory_desc_t fmd, tmd;
  dnnl_dims_t d = { (dnnl_dim_t) n };
  ut_check (dnnl_engine_create (&eng, dnnl_cpu, 0) == dnnl_success, "engine");
  ut_check (dnnl_stream_create (&stream, eng, dnnl_stream_default_flags)
      == dnnl_success, "stream");
  dnnl_memory_desc_init_by_tag (&fmd, 1, d, dnnl_f32, dnnl_a);
  dnnl_memory_desc_init_by_tag (&tmd, 1, d, u8 ? dnnl_u8 : dnnl_s8, dnnl_a);
  uint8_t *q = g_new (uint8_t, n);
  dnnl_primitive_attr_t attr;
  dnnl_primitive_attr_create (&attr);
  dnnl_primitive_attr_set_output_scales (attr, 1, 0, &inv);
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t r;
  dnnl_memory_t fm, tm;
  ut_check (dnnl_reorder_primitive_desc_create (&pd, &fmd, eng, &tmd, eng,
          attr) == dnnl_success, "reorder");
  dnnl_primitive_create (&r, pd);
  dnnl_memory_create (&fm, &fmd, eng, x);
  dnnl_memory_create (&tm, &tmd, eng, q);
  dnnl_exec_arg_t args[] = { { DNNL_ARG_FROM, fm }, { DNNL_ARG_TO, tm } };
  dnnl_primitive_execute (r, stream, 2, args);
  dnnl_stream_wait (stream);
  long bad = 0;
  for (size_t i = 0; i < n; i++) {
    float want = mrcnn_q8_level (x[i], inv, lo, hi);
    float got = u8 ? (float) q[i] : (float) (int8_t) q[i];
    if (got != want && bad++ < 5)
      ut_check (0, "%s: x %a x inv %a: oneDNN level %g, reference %g",
          u8 ? "u8" : "s8", x[i], inv, got, want);
  }
  ut_check (bad == 0, "%ld of %zu levels differ", bad, n);
  dnnl_memory_destroy (fm);
  dnnl_memory_destroy (tm);
  dnnl_primitive_destroy (r);
  dnnl_primitive_desc_destroy (pd);
  dnnl_primitive_attr_destroy (attr);
  dnnl_stream_destroy (stream);
  dnnl_engine_destroy (eng);
  g_free (q);
  g_free (x);
}

/* ---------------------------------------------------------------- 2 */

typedef struct {
  mrcnn_backend *be;
  mrcnn_queue *q;
} side;

static void
side_open (side *s, int emulate)
{
  mrcnn_error err = { 0 };
  ut_check (mrcnn_backend_cpu_new (0, &s->be, &err) == MRCNN_OK, "%s",
      err.message);
  ut_check (s->be->ops->set_precision (s->be, MRCNN_PRECISION_INT8, emulate,
          &err) == MRCNN_OK, "%s", err.message);
  ut_check (s->be->ops->queue_new (s->be, &s->q, &err) == MRCNN_OK, "%s",
      err.message);
  s->be->ops->queue_begin (s->be, s->q, 0);
}

static void
side_close (side *s)
{
  s->be->ops->queue_free (s->be, s->q);
  s->be->ops->destroy (s->be);
}

/* The worst difference / bound seen, per kind. */
typedef struct {
  const char *name;
  double worst;      /* max |got - ref| / bound */
  double max_abs;    /* max |got - ref| */
} tally;

static void
tally_add (tally *t, double got, double ref, double bound)
{
  double d = fabs (got - ref);
  t->max_abs = fmax (t->max_abs, d);
  t->worst = fmax (t->worst, d / bound);
}

static void
tally_check (const tally *t)
{
  printf ("  %-34s max |d| %.3g, %.3f of its bound\n", t->name, t->max_abs,
      t->worst);
  ut_check (t->worst <= 1.0, "%s: a difference exceeds its bound (%.3f x)",
      t->name, t->worst);
}

/* u8 convolutions without VNNI whose 16-bit pairs may saturate: measured
 * and printed, not checked */
static tally unchecked = { "int8 u8 convolution, pairs may saturate" };

typedef struct {
  int oc, ic, k, stride, h, w, relu, acc, u8;
  int small;         /* inputs below 128 levels: no 16-bit pair saturates */
} conv_case;

static void
run_conv (const conv_case *cc, side *real, side *emu, tally *tr, tally *te,
    int vnni)
{
  const int pad = cc->k / 2, n = 2;
  const int oh = (cc->h + 2 * pad - cc->k) / cc->stride + 1;
  const int ow = (cc->w + 2 * pad - cc->k) / cc->stride + 1;
  const size_t nw = (size_t) cc->oc * cc->ic * cc->k * cc->k;
  const size_t nx = (size_t) n * cc->ic * cc->h * cc->w;
  const size_t ny = (size_t) n * cc->oc * oh * ow;
  float *w = g_new (float, nw), *b = g_new (float, cc->oc);
  float *x = g_new (float, nx), *prior = g_new (float, ny);
  for (size_t i = 0; i < nw; i++)
    w[i] = (float) ut_uniform (-0.5, 0.5) * (1.0f + (float) (i % 7));
  for (int i = 0; i < cc->oc; i++)
    b[i] = (float) ut_uniform (-1, 1);
  float range = 3.0f;
  for (size_t i = 0; i < nx; i++)
    x[i] = cc->u8 ? (float) ut_uniform (0, range * 1.1)
        : (float) ut_uniform (-range * 1.1, range);
  for (size_t i = 0; i < ny; i++)
    prior[i] = (float) ut_uniform (-2, 2);
  mrcnn_quant quant = { 1, cc->u8 ? 0.0f : -range, range };
  if (cc->small)  /* levels below 128: the range is twice the largest input */
    quant.hi = 2.2f * range, quant.lo = cc->u8 ? 0.0f : -quant.hi;

  /* the levels x scales both sides compute with */
  mrcnn_q8_layer ql;
  float *wq = g_memdup2 (w, nw * sizeof (float));
  mrcnn_cpu_q8_init (&ql, &quant, wq, cc->oc, nw / cc->oc, b);
  float *xq = g_memdup2 (x, nx * sizeof (float));
  mrcnn_cpu_q8_round (&ql, xq, nx);

  mrcnn_folded_conv fc = { cc->oc, cc->ic, cc->k, cc->k, w, b };
  mrcnn_conv_desc d = { &fc, cc->stride, pad, cc->relu, quant };
  side *sides[2] = { real, emu };
  float *out[2];
  mrcnn_error err = { 0 };
  for (int s = 0; s < 2; s++) {
    mrcnn_backend *be = sides[s]->be;
    mrcnn_conv *conv;
    ut_check (be->ops->conv_new (be, &d, &conv, &err) == MRCNN_OK, "%s",
        err.message);
    mrcnn_fmap in = { x, n, cc->ic, cc->h, cc->w, MRCNN_LAYOUT_NCHW,
      MRCNN_STORE_F32 };
    out[s] = g_memdup2 (prior, ny * sizeof (float));
    mrcnn_fmap o = { out[s], 0, 0, 0, 0, MRCNN_LAYOUT_NCHW, MRCNN_STORE_F32 };
    ut_check (be->ops->conv_run (be, sides[s]->q, conv, &in, cc->acc, &o,
            &err) == MRCNN_OK, "%s", err.message);
    be->ops->conv_free (be, conv);
  }

  const int K = cc->ic * cc->k * cc->k;
  for (int in = 0; in < n; in++)
    for (int co = 0; co < cc->oc; co++)
      for (int y = 0; y < oh; y++)
        for (int xo = 0; xo < ow; xo++) {
          double sum = 0, mag = 0, xmag = 0;
          for (int ci = 0; ci < cc->ic; ci++)
            for (int ky = 0; ky < cc->k; ky++)
              for (int kx = 0; kx < cc->k; kx++) {
                int iy = y * cc->stride - pad + ky, ix = xo * cc->stride - pad + kx;
                if (iy < 0 || iy >= cc->h || ix < 0 || ix >= cc->w)
                  continue;
                double xv = xq[(((size_t) in * cc->ic + ci) * cc->h + iy) * cc->w + ix];
                double wv = wq[(((size_t) co * cc->ic + ci) * cc->k + ky) * cc->k + kx];
                sum += xv * wv;
                mag += fabs (xv * wv);
                xmag += fabs (xv);
              }
          size_t o = (((size_t) in * cc->oc + co) * oh + y) * ow + xo;
          double ref = sum + b[co] + (cc->acc ? prior[o] : 0);
          mag += fabs (b[co]) + (cc->acc ? fabs (prior[o]) : 0);
          if (cc->relu)
            ref = fmax (ref, 0);
          double tiny = 1e-30;
          tally_add (te, out[1][o], ref, (K + 2) * U * mag + tiny);
          double real_bound = 6 * U * mag + tiny;
          if (!vnni && !cc->u8)   /* halved s8 weights: a level each */
            real_bound += xmag * ql.wscale[co];
          if (vnni || cc->small || !cc->u8)
            tally_add (tr, out[0][o], ref, real_bound);
          else
            tally_add (&unchecked, out[0][o], ref, real_bound);
        }
  mrcnn_cpu_q8_clear (&ql);
  g_free (wq);
  g_free (xq);
  g_free (out[0]);
  g_free (out[1]);
  g_free (w);
  g_free (b);
  g_free (x);
  g_free (prior);
}

/* ---------------------------------------------------------------- 3 */

/* A map of a side's backend as float32 NCHW (a U8 map as its levels on the
 * real path, as level x scale on the reference). */
static float *
read_nchw (side *sd, const mrcnn_fmap *f)
{
  mrcnn_backend *be = sd->be;
  float *dst = g_new (float, mrcnn_fmap_numel (f));
  mrcnn_fmap o = { dst, .layout = MRCNN_LAYOUT_NCHW };
  mrcnn_error err = { 0 };
  ut_check (be->ops->to_nchw (be, sd->q, f, &o, &err) == MRCNN_OK, "%s",
      err.message);
  return dst;
}

/* Whether level `got` is that of the exact value v / scale (saturated to
 * 0 .. 255), or one off where v / scale lies within `bound` levels of a
 * tie. */
static int
level_ok (double got, double v, double scale, double bound)
{
  double t = v / scale;
  double want = fmin (fmax (nearbyint (t), 0), 255);
  if (got == want)
    return 1;
  double tie = floor (t) + 0.5;
  return fabs (got - want) == 1 && fabs (t - tie) <= bound
      && got >= 0 && got <= 255;
}

typedef struct {
  const char *name;
  long checked, off_by_one, bad;
  double worst;  /* B's |d| / bound */
} u8_tally;

static void
run_u8_chain (int acc, int vnni, side *sides[2], u8_tally *lv, tally *tb[2])
{
  const int n = 2, ic = 24, oc = 32, k = 3, h = 13, w = 11, oc2 = 20;
  const size_t nx = (size_t) n * ic * h * w, ny = (size_t) n * oc * h * w;
  const size_t nw = (size_t) oc * ic * k * k, nw2 = (size_t) oc2 * oc;
  float *wa = g_new (float, nw), *ba = g_new (float, oc);
  float *wb = g_new (float, nw2), *bb = g_new (float, oc2);
  float *x = g_new (float, nx), *prior = g_new (float, ny);
  for (size_t i = 0; i < nw; i++)
    wa[i] = (float) ut_uniform (-0.5, 0.5);
  for (int i = 0; i < oc; i++)
    ba[i] = (float) ut_uniform (-1, 1);
  for (size_t i = 0; i < nw2; i++)
    wb[i] = (float) ut_uniform (-0.5, 0.5);
  for (int i = 0; i < oc2; i++)
    bb[i] = (float) ut_uniform (-1, 1);
  for (size_t i = 0; i < nx; i++)
    x[i] = (float) ut_uniform (0, 3.3);
  /* A's input (without VNNI, levels below 128: oneDNN's u8 x s8 pairs
   * summed in 16 bits would saturate, as in 2); the map it accumulates into,
   * as levels x its scale */
  const mrcnn_quant qa = { 1, 0.0f, vnni ? 3.0f : 7.5f };
  const mrcnn_quant qacc = { 1, 0.0f, 2.5f }, off = { 0 };
  mrcnn_q8_layer la, lo, lacc;
  float *waq = g_memdup2 (wa, nw * sizeof (float));
  mrcnn_cpu_q8_init (&la, &qa, waq, oc, nw / oc, ba);
  mrcnn_cpu_q8_input_init (&lacc, &qacc);
  float *xq = g_memdup2 (x, nx * sizeof (float));
  mrcnn_cpu_q8_round (&la, xq, nx);
  for (size_t i = 0; i < ny; i++)
    prior[i] = (float) g_random_int_range (0, 256) * lacc.scale;
  /* A's exact outputs and their magnitudes (sum |x w| + |b| + |prior|) */
  double *ve = g_new (double, ny), *vm = g_new (double, ny), vmax = 0;
  for (int in_ = 0; in_ < n; in_++)
    for (int co = 0; co < oc; co++)
      for (int y = 0; y < h; y++)
        for (int xo = 0; xo < w; xo++) {
          double sum = 0, mag = 0;
          for (int ci = 0; ci < ic; ci++)
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++) {
                int iy = y - 1 + ky, ix = xo - 1 + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                  continue;
                double p = (double) xq[(((size_t) in_ * ic + ci) * h + iy)
                    * w + ix] * waq[(((size_t) co * ic + ci) * k + ky) * k
                    + kx];
                sum += p;
                mag += fabs (p);
              }
          size_t o = (((size_t) in_ * oc + co) * h + y) * w + xo;
          ve[o] = fmax (sum + ba[co] + (acc ? prior[o] : 0), 0);
          vm[o] = mag + fabs (ba[co]) + (acc ? prior[o] : 0);
          vmax = fmax (vmax, ve[o]);
        }
  /* the map A writes, the range B reads: with VNNI, a fifth of A's
   * outputs saturate at 255; without, every level stays below 128 (B's
   * pairs) */
  const mrcnn_quant qo = { 1, 0.0f, (float) (vnni ? 0.6 * vmax
        : 2.2 * vmax) };
  mrcnn_cpu_q8_input_init (&lo, &qo);
  /* B's weights as the levels x scales it computes with */
  mrcnn_q8_layer lb;
  float *wbq = g_memdup2 (wb, nw2 * sizeof (float));
  mrcnn_cpu_q8_init (&lb, &qo, wbq, oc2, oc, bb);

  mrcnn_folded_conv fa = { oc, ic, k, k, wa, ba }, fb = { oc2, oc, 1, 1, wb,
    bb };
  mrcnn_conv_desc da = { &fa, 1, 1, 1, qa, qo, acc ? qacc : off };
  mrcnn_conv_desc db = { &fb, 1, 0, 0, qo };
  mrcnn_error err = { 0 };
  const int K = ic * k * k;
  for (int s = 0; s < 2; s++) {
    mrcnn_backend *be = sides[s]->be;
    mrcnn_queue *q = sides[s]->q;
    mrcnn_conv *ca, *cb;
    ut_check (be->ops->conv_new (be, &da, &ca, &err) == MRCNN_OK, "%s",
        err.message);
    ut_check (be->ops->conv_new (be, &db, &cb, &err) == MRCNN_OK, "%s",
        err.message);
    /* the quantize op: x into A's levels, and the prior into its own */
    void *ux = g_malloc0 (nx * sizeof (float));
    void *uy = g_malloc0 (ny * sizeof (float));
    mrcnn_fmap in = { x, n, ic, h, w, MRCNN_LAYOUT_NCHW, MRCNN_STORE_F32 };
    mrcnn_fmap xu = { ux, .layout = MRCNN_LAYOUT_NATIVE,
      .store = MRCNN_STORE_U8 };
    ut_check (be->ops->quantize (be, q, &qa, &in, &xu, &err) == MRCNN_OK,
        "%s", err.message);
    float *xl = read_nchw (sides[s], &xu);
    long qbad = 0;
    for (size_t i = 0; i < nx; i++) {
      float want = s == 0 ? mrcnn_q8_level (x[i], la.inv_scale, 0, 255)
          : xq[i];
      qbad += xl[i] != want;
    }
    ut_check (qbad == 0, "%s quantize: %ld of %zu levels differ from "
        "mrcnn_q8_level", s ? "reference" : "int8", qbad, nx);
    mrcnn_fmap yu = { uy, .layout = MRCNN_LAYOUT_NATIVE,
      .store = MRCNN_STORE_U8 };
    if (acc) {
      mrcnn_fmap pr = { prior, n, oc, h, w, MRCNN_LAYOUT_NCHW,
        MRCNN_STORE_F32 };
      ut_check (be->ops->quantize (be, q, &qacc, &pr, &yu, &err) == MRCNN_OK,
          "%s", err.message);
    }
    /* A: U8 input, U8 output (accumulating) */
    ut_check (be->ops->conv_run (be, q, ca, &xu, acc, &yu, &err) == MRCNN_OK,
        "%s", err.message);
    float *yl = read_nchw (sides[s], &yu);
    if (s == 1)   /* the reference's level x scale, back to levels */
      for (size_t i = 0; i < ny; i++)
        yl[i] = rintf (yl[i] / lo.scale);
    for (size_t o = 0; o < ny; o++) {
      double bound = (s == 0 ? 10.0 : K + 2.0) * U * vm[o] / lo.scale;
      lv[s].checked++;
      if (!level_ok (yl[o], ve[o], lo.scale, bound)) {
        if (lv[s].bad++ < 5)
          ut_check (0, "%s: level %g, exact %.9g levels (bound %.3g)",
              lv[s].name, yl[o], ve[o] / lo.scale, bound);
      } else if (yl[o] != fmin (fmax (nearbyint (ve[o] / lo.scale), 0), 255))
        lv[s].off_by_one++;
    }
    /* B reads A's levels as they are */
    float *z = g_new (float, (size_t) n * oc2 * h * w);
    mrcnn_fmap zo = { z, .layout = MRCNN_LAYOUT_NCHW };
    ut_check (be->ops->conv_run (be, q, cb, &yu, 0, &zo, &err) == MRCNN_OK,
        "%s", err.message);
    for (int in_ = 0; in_ < n; in_++)
      for (int co = 0; co < oc2; co++)
        for (size_t px = 0; px < (size_t) h * w; px++) {
          double sum = 0, mag = 0;
          for (int ci = 0; ci < oc; ci++) {
            double p = (double) yl[((size_t) in_ * oc + ci) * h * w + px]
                * lo.scale * wbq[(size_t) co * oc + ci];
            sum += p;
            mag += fabs (p);
          }
          double ref = sum + bb[co];
          mag += fabs (bb[co]);
          tally_add (tb[s], z[((size_t) in_ * oc2 + co) * h * w + px], ref,
              (s == 0 ? 6.0 : oc + 2.0) * U * mag + 1e-30);
        }
    g_free (z);
    g_free (yl);
    g_free (xl);
    g_free (ux);
    g_free (uy);
    be->ops->conv_free (be, ca);
    be->ops->conv_free (be, cb);
  }
  mrcnn_cpu_q8_clear (&la);
  mrcnn_cpu_q8_clear (&lb);
  g_free (waq);
  g_free (wbq);
  g_free (xq);
  g_free (wa);
  g_free (ba);
  g_free (wb);
  g_free (bb);
  g_free (x);
  g_free (prior);
  g_free (ve);
  g_free (vm);
}

/* Max pooling of a U8 map against the levels of the float32 map's pooling
 * (the stem's output is stored U8 before its pooling): equal, level for
 * level, as rounding and saturating are monotonic. */
static void
check_u8_pool (side *sd, int emulate)
{
  const int n = 1, c = 24, h = 23, w = 19, oh = (h + 2 - 3) / 2 + 1,
      ow = (w + 2 - 3) / 2 + 1;
  const size_t nx = (size_t) n * c * h * w, ny = (size_t) n * c * oh * ow;
  float *x = g_new (float, nx), *pooled = g_new (float, ny);
  for (size_t i = 0; i < nx; i++)
    x[i] = (float) ut_uniform (0, 5.0);   /* a tenth beyond the range */
  const mrcnn_quant qx = { 1, 0.0f, 4.5f };
  mrcnn_q8_layer lq;
  mrcnn_cpu_q8_input_init (&lq, &qx);
  mrcnn_backend *be = sd->be;
  mrcnn_error err = { 0 };
  mrcnn_fmap in = { x, n, c, h, w, MRCNN_LAYOUT_NCHW, MRCNN_STORE_F32 };
  mrcnn_fmap fo = { pooled, .layout = MRCNN_LAYOUT_NCHW };
  ut_check (be->ops->max_pool (be, sd->q, &in, 3, 2, 1, &fo, &err)
      == MRCNN_OK, "%s", err.message);
  void *u = g_malloc0 (nx * sizeof (float)), *uo = g_malloc0 (ny
      * sizeof (float));
  mrcnn_fmap xu = { u, .layout = MRCNN_LAYOUT_NATIVE, .store = MRCNN_STORE_U8 };
  mrcnn_fmap yu = { uo, .layout = MRCNN_LAYOUT_NATIVE,
    .store = MRCNN_STORE_U8 };
  ut_check (be->ops->quantize (be, sd->q, &qx, &in, &xu, &err) == MRCNN_OK
      && be->ops->max_pool (be, sd->q, &xu, 3, 2, 1, &yu, &err) == MRCNN_OK,
      "%s", err.message);
  float *got = read_nchw (sd, &yu);
  long bad = 0;
  for (size_t i = 0; i < ny; i++) {
    float level = mrcnn_q8_level (pooled[i], lq.inv_scale, 0, 255);
    bad += got[i] != (emulate ? level * lq.scale : level);
  }
  ut_check (bad == 0, "%s: %ld of %zu pooled levels differ from the levels "
      "of the float32 pooling", emulate ? "reference" : "int8", bad, ny);
  g_free (got);
  g_free (u);
  g_free (uo);
  g_free (x);
  g_free (pooled);
}

static void
run_linear (int n, int in_f, int out_f, int relu, int u8, side *real,
    side *emu, tally *tr, tally *te, int vnni)
{
  float *w = g_new (float, (size_t) out_f * in_f), *b = g_new (float, out_f);
  float *x = g_new (float, (size_t) n * in_f);
  for (size_t i = 0; i < (size_t) out_f * in_f; i++)
    w[i] = (float) ut_uniform (-0.2, 0.2);
  for (int i = 0; i < out_f; i++)
    b[i] = (float) ut_uniform (-1, 1);
  float range = 2.0f;
  for (size_t i = 0; i < (size_t) n * in_f; i++)
    x[i] = u8 ? (float) ut_uniform (0, range) : (float) ut_uniform (-range, range);
  /* levels below 128 (the range twice the largest input), so that no
   * 16-bit pair can saturate without VNNI */
  mrcnn_quant quant = { 1, u8 ? 0.0f : -2 * range, 2 * range };
  mrcnn_q8_layer ql;
  float *wq = g_memdup2 (w, (size_t) out_f * in_f * sizeof (float));
  mrcnn_cpu_q8_init (&ql, &quant, wq, out_f, in_f, b);
  float *xq = g_memdup2 (x, (size_t) n * in_f * sizeof (float));
  mrcnn_cpu_q8_round (&ql, xq, (size_t) n * in_f);
  side *sides[2] = { real, emu };
  float *y[2];
  mrcnn_error err = { 0 };
  for (int s = 0; s < 2; s++) {
    mrcnn_backend *be = sides[s]->be;
    mrcnn_linear *l;
    ut_check (be->ops->linear_new (be, w, b, out_f, in_f, relu, &quant, &l,
            &err) == MRCNN_OK, "%s", err.message);
    y[s] = g_new0 (float, (size_t) n * out_f);
    ut_check (be->ops->linear_run (be, sides[s]->q, l, x, n, y[s], &err)
        == MRCNN_OK, "%s", err.message);
    be->ops->linear_free (be, l);
  }
  /* without VNNI a layer with a signed input runs in float32 (oneDNN's
   * s8 x s8 matmul saturates there): against the unquantized sum */
  const int fp32 = !vnni && !u8;
  for (int r = 0; r < n; r++)
    for (int o = 0; o < out_f; o++) {
      double sum = b[o], mag = fabs (b[o]), sum32 = b[o], mag32 = fabs (b[o]);
      for (int k = 0; k < in_f; k++) {
        double p = (double) xq[(size_t) r * in_f + k] * wq[(size_t) o * in_f + k];
        double p32 = (double) x[(size_t) r * in_f + k] * w[(size_t) o * in_f + k];
        sum += p;
        mag += fabs (p);
        sum32 += p32;
        mag32 += fabs (p32);
      }
      if (relu)
        sum = fmax (sum, 0), sum32 = fmax (sum32, 0);
      size_t i = (size_t) r * out_f + o;
      tally_add (te, y[1][i], sum, (in_f + 2) * U * mag + 1e-30);
      if (fp32)
        tally_add (tr, y[0][i], sum32, (in_f + 2) * U * mag32 + 1e-30);
      else
        tally_add (tr, y[0][i], sum, 6 * U * mag + 1e-30);
    }
  mrcnn_cpu_q8_clear (&ql);
  g_free (wq);
  g_free (xq);
  g_free (y[0]);
  g_free (y[1]);
  g_free (w);
  g_free (b);
  g_free (x);
}

int
main (void)
{
  ut_init ("int8");
  const int vnni = has_vnni ();
  printf ("oneDNN ISA: %s VNNI\n", vnni ? "with" : "without");

  ut_begin ("quantization: oneDNN's reorder against mrcnn_q8_level (u8)");
  check_quantize (1);
  ut_end ();
  ut_begin ("quantization: oneDNN's reorder against mrcnn_q8_level (s8)");
  check_quantize (0);
  ut_end ();

  side real, emu;
  side_open (&real, 0);
  side_open (&emu, 1);
  mrcnn_backend_caps caps;
  real.be->ops->caps (real.be, &caps);
  printf ("int8 kernels: %s\n", caps.kernels);

  ut_begin ("convolutions: int8 and its reference against exact sums");
  {
    static const conv_case cases[] = {
      { 32, 24, 3, 1, 13, 11, 1, 0, 1, 0 },
      { 32, 24, 3, 1, 13, 11, 1, 0, 1, 1 },
      { 48, 20, 1, 1, 9, 17, 0, 1, 0, 0 },
      { 40, 32, 3, 2, 15, 14, 1, 1, 0, 0 },
      { 64, 3, 7, 2, 31, 27, 1, 0, 0, 0 },     /* the stem: 3 channels */
      { 17, 16, 1, 1, 7, 7, 0, 0, 1, 1 },
    };
    tally tr = { "int8 convolution vs exact" };
    tally te = { "int8 reference convolution vs exact" };
    for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
      run_conv (&cases[i], &real, &emu, &tr, &te, vnni);
    tally_check (&tr);
    tally_check (&te);
    if (!vnni)
      printf ("  %-34s max |d| %.3g, %.3f of the bound without saturation "
          "(not checked)\n", unchecked.name, unchecked.max_abs,
          unchecked.worst);
  }
  ut_end ();

  ut_begin ("fully connected: int8 and its reference against exact sums");
  {
    tally tr = { "int8 matmul vs exact (s8 input)" };
    tally te = { "int8 reference matmul vs exact (s8)" };
    tally tr2 = { "int8 matmul vs exact (u8 input)" };
    tally te2 = { "int8 reference matmul vs exact (u8)" };
    run_linear (37, 392, 64, 1, 0, &real, &emu, &tr, &te, vnni);
    run_linear (5, 128, 30, 0, 1, &real, &emu, &tr2, &te2, vnni);
    tally_check (&tr);
    tally_check (&te);
    tally_check (&tr2);
    tally_check (&te2);
  }
  ut_end ();

  ut_begin ("maps stored U8: quantize, a convolution writing levels, the "
      "next reading them");
  {
    u8_tally lv[2] = { { "int8 U8 output" }, { "int8 reference U8 output" } };
    tally tb[2] = { { "int8 conv reading U8 vs exact" },
      { "int8 reference reading U8 vs exact" } };
    side *sides[2] = { &real, &emu };
    tally *tbp[2] = { &tb[0], &tb[1] };
    run_u8_chain (0, vnni, sides, lv, tbp);
    run_u8_chain (1, vnni, sides, lv, tbp);
    check_u8_pool (&real, 0);
    check_u8_pool (&emu, 1);
    for (int s = 0; s < 2; s++)
      printf ("  %-34s %ld levels, %ld one off at a tie, %ld wrong\n",
          lv[s].name, lv[s].checked, lv[s].off_by_one, lv[s].bad);
    tally_check (&tb[0]);
    tally_check (&tb[1]);
  }
  ut_end ();

  side_close (&real);
  side_close (&emu);
  return ut_finish ();
}
