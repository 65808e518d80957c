/* The CPU backend's element-wise ops in every native layout (nChw8c,
 * nChw16c, nhwc) against the same ops on plain NCHW maps: max pooling,
 * the FPN's upsample-add, RoIAlign (to NCHW and to the native layout) and
 * the mask predictor's scatter + logits. Each layout's op sums the same
 * terms in the same order, so the results must be equal bit for bit.
 * Channel counts include ones that are not a multiple of 8 or 16 (the
 * blocked layouts' padding, nhwc's last partial group of 16).
 *
 * usage: test-layouts     (seed from MRCNN_TEST_SEED or the clock) */
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "backend.h"
#include "unit_test.h"

static const char *const layouts[] = { "nChw8c", "nChw16c", "nhwc" };

/* the queue the ops run on, made with each backend */
static mrcnn_queue *queue;

static int
lanes_of (const char *layout, int c)
{
  return strcmp (layout, "nChw8c") == 0 ? 8 : strcmp (layout, "nChw16c") == 0
      ? 16 : c;
}

static size_t
native_size (const char *layout, int n, int c, int h, int w)
{
  int V = lanes_of (layout, c);
  return (size_t) n * ((c + V - 1) / V) * V * h * w;
}

/* NCHW -> the layout, written independently of the backend's formula. */
static float *
to_native (const char *layout, const float *src, int n, int c, int h, int w)
{
  int V = lanes_of (layout, c), CB = (c + V - 1) / V;
  float *dst = g_new0 (float, native_size (layout, n, c, h, w));
  for (int in = 0; in < n; in++)
    for (int ic = 0; ic < c; ic++)
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          dst[((((size_t) in * CB + ic / V) * h + y) * w + x) * V + ic % V] =
              src[(((size_t) in * c + ic) * h + y) * w + x];
  return dst;
}

static float *
random_map (size_t count)
{
  float *p = g_new (float, count);
  for (size_t i = 0; i < count; i++)
    p[i] = (float) ut_uniform (-4.0, 4.0);
  return p;
}

/* A native-layout map back to NCHW through the backend's to_nchw. */
static float *
native_to_nchw (mrcnn_backend *be, const mrcnn_fmap *f)
{
  mrcnn_error err = { 0 };
  float *out = g_new0 (float, mrcnn_fmap_numel (f));
  mrcnn_fmap o = { out, .layout = MRCNN_LAYOUT_NCHW };
  if (be->ops->to_nchw (be, queue, f, &o, &err) != MRCNN_OK) {
    printf ("    to_nchw: %s\n", err.message);
    memset (out, 0xff, mrcnn_fmap_numel (f) * sizeof (float));
  }
  return out;
}

static void
expect_equal (const float *a, const float *b, size_t n, const char *what)
{
  size_t bad = 0, first = n;
  for (size_t i = 0; i < n; i++)
    if (memcmp (&a[i], &b[i], sizeof (float)) != 0) {
      if (!bad)
        first = i;
      bad++;
    }
  ut_check (bad == 0, "%s: %zu of %zu values differ (first at %zu: %a vs %a)",
      what, bad, n, first, first < n ? a[first] : 0.0f,
      first < n ? b[first] : 0.0f);
}

static void
check_max_pool (mrcnn_backend *be, const char *layout, int c, int h, int w)
{
  mrcnn_error err = { 0 };
  float *plain = random_map ((size_t) c * h * w);
  float *native = to_native (layout, plain, 1, c, h, w);
  int oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
  float *ref = g_new0 (float, (size_t) c * oh * ow);
  float *got = g_new0 (float, native_size (layout, 1, c, oh, ow));
  mrcnn_fmap in_p = { plain, 1, c, h, w, MRCNN_LAYOUT_NCHW };
  mrcnn_fmap in_n = { native, 1, c, h, w, MRCNN_LAYOUT_NATIVE };
  mrcnn_fmap out_p = { ref, .layout = MRCNN_LAYOUT_NCHW };
  mrcnn_fmap out_n = { got, .layout = MRCNN_LAYOUT_NATIVE };
  int ok = be->ops->max_pool (be, queue, &in_p, 3, 2, 1, &out_p, &err)
      == MRCNN_OK
      && be->ops->max_pool (be, queue, &in_n, 3, 2, 1, &out_n, &err)
      == MRCNN_OK;
  if (ut_check (ok, "max_pool %s c=%d: %s", layout, c, err.message)) {
    float *back = native_to_nchw (be, &out_n);
    char what[96];
    g_snprintf (what, sizeof what, "max_pool %s %dx%dx%d", layout, c, h, w);
    expect_equal (ref, back, (size_t) c * oh * ow, what);
    g_free (back);
  }
  g_free (plain);
  g_free (native);
  g_free (ref);
  g_free (got);
}

static void
check_upsample_add (mrcnn_backend *be, const char *layout, int c, int th,
    int tw, int h, int w)
{
  mrcnn_error err = { 0 };
  float *top = random_map ((size_t) c * th * tw);
  float *lat = random_map ((size_t) c * h * w);
  float *top_n = to_native (layout, top, 1, c, th, tw);
  float *lat_n = to_native (layout, lat, 1, c, h, w);
  mrcnn_fmap tp = { top, 1, c, th, tw, MRCNN_LAYOUT_NCHW };
  mrcnn_fmap lp = { lat, 1, c, h, w, MRCNN_LAYOUT_NCHW };
  mrcnn_fmap tn = { top_n, 1, c, th, tw, MRCNN_LAYOUT_NATIVE };
  mrcnn_fmap ln = { lat_n, 1, c, h, w, MRCNN_LAYOUT_NATIVE };
  int ok = be->ops->upsample_add (be, queue, &tp, &lp, &err) == MRCNN_OK
      && be->ops->upsample_add (be, queue, &tn, &ln, &err) == MRCNN_OK;
  if (ut_check (ok, "upsample_add %s: %s", layout, err.message)) {
    float *back = native_to_nchw (be, &ln);
    char what[96];
    g_snprintf (what, sizeof what, "upsample_add %s %d: %dx%d -> %dx%d",
        layout, c, th, tw, h, w);
    expect_equal (lat, back, (size_t) c * h * w, what);
    g_free (back);
  }
  g_free (top);
  g_free (lat);
  g_free (top_n);
  g_free (lat_n);
}

/* Four pyramid levels of an image of img_h x img_w, random boxes over it. */
static void
check_roi_align (mrcnn_backend *be, const char *layout, int c, int img_h,
    int img_w, int nboxes, int pooled)
{
  mrcnn_error err = { 0 };
  mrcnn_fmap fp[4], fn[4];
  float scales[4];
  for (int l = 0; l < 4; l++) {
    int h = img_h >> (l + 2), w = img_w >> (l + 2);
    float *p = random_map ((size_t) c * h * w);
    fp[l] = (mrcnn_fmap) { p, 1, c, h, w, MRCNN_LAYOUT_NCHW };
    fn[l] = (mrcnn_fmap) { to_native (layout, p, 1, c, h, w), 1, c, h, w,
      MRCNN_LAYOUT_NATIVE };
    scales[l] = 1.0f / (float) (4 << l);
  }
  float *boxes = g_new (float, (size_t) nboxes * 4);
  for (int i = 0; i < nboxes; i++) {
    float x1 = (float) ut_uniform (-10, img_w), y1 = (float) ut_uniform (-10, img_h);
    boxes[4 * i] = x1;
    boxes[4 * i + 1] = y1;
    boxes[4 * i + 2] = x1 + (float) ut_uniform (0.5, img_w / 1.5);
    boxes[4 * i + 3] = y1 + (float) ut_uniform (0.5, img_h / 1.5);
  }
  mrcnn_roi_align_desc dp = { fp, scales, 4, 2, 5, boxes, nboxes, pooled, 2 };
  mrcnn_roi_align_desc dn = dp;
  dn.features = fn;
  size_t count = (size_t) nboxes * c * pooled * pooled;
  float *ref = g_new0 (float, count);
  float *got_plain = g_new0 (float, count);
  float *got_native = g_new0 (float, native_size (layout, nboxes, c, pooled, pooled));
  mrcnn_fmap o_ref = { ref, .layout = MRCNN_LAYOUT_NCHW };
  mrcnn_fmap o_plain = { got_plain, .layout = MRCNN_LAYOUT_NCHW };
  mrcnn_fmap o_native = { got_native, .layout = MRCNN_LAYOUT_NATIVE };
  int ok = be->ops->roi_align (be, queue, &dp, &o_ref, &err) == MRCNN_OK
      && be->ops->roi_align (be, queue, &dn, &o_plain, &err) == MRCNN_OK
      && be->ops->roi_align (be, queue, &dn, &o_native, &err) == MRCNN_OK;
  if (ut_check (ok, "roi_align %s: %s", layout, err.message)) {
    char what[96];
    g_snprintf (what, sizeof what, "roi_align %s c=%d -> NCHW", layout, c);
    expect_equal (ref, got_plain, count, what);
    float *back = native_to_nchw (be, &o_native);
    g_snprintf (what, sizeof what, "roi_align %s c=%d -> native", layout, c);
    expect_equal (ref, back, count, what);
    g_free (back);
  }
  for (int l = 0; l < 4; l++) {
    g_free (fp[l].data);
    g_free (fn[l].data);
  }
  g_free (boxes);
  g_free (ref);
  g_free (got_plain);
  g_free (got_native);
}

static void
check_mask_probs (mrcnn_backend *be, const char *layout, int n, int D,
    int classes)
{
  mrcnn_error err = { 0 };
  const int h = 14, w = 14, c = 4 * D;
  float *taps = random_map ((size_t) n * c * h * w);
  float *taps_n = to_native (layout, taps, n, c, h, w);
  float *dbias = random_map (D), *weight = random_map ((size_t) classes * D);
  float *bias = random_map (classes);
  int *cls = g_new (int, n);
  for (int i = 0; i < n; i++)
    cls[i] = ut_int (0, classes - 1);
  size_t count = (size_t) n * 4 * h * w;
  float *ref = g_new0 (float, count), *got = g_new0 (float, count);
  mrcnn_fmap tp = { taps, n, c, h, w, MRCNN_LAYOUT_NCHW };
  mrcnn_fmap tn = { taps_n, n, c, h, w, MRCNN_LAYOUT_NATIVE };
  int ok = be->ops->mask_probs (be, queue, &tp, dbias, weight, bias, cls, ref,
      &err) == MRCNN_OK
      && be->ops->mask_probs (be, queue, &tn, dbias, weight, bias, cls, got,
          &err)
      == MRCNN_OK;
  if (ut_check (ok, "mask_probs %s: %s", layout, err.message)) {
    char what[96];
    g_snprintf (what, sizeof what, "mask_probs %s D=%d", layout, D);
    expect_equal (ref, got, count, what);
  }
  g_free (taps);
  g_free (taps_n);
  g_free (dbias);
  g_free (weight);
  g_free (bias);
  g_free (cls);
  g_free (ref);
  g_free (got);
}

int
main (void)
{
  ut_init ("layouts");
  for (size_t li = 0; li < G_N_ELEMENTS (layouts); li++) {
    const char *layout = layouts[li];
    mrcnn_backend *be = NULL;
    mrcnn_error err = { 0 };
    g_setenv ("MRCNN_CPU_LAYOUT", layout, TRUE);
    char group[64];
    g_snprintf (group, sizeof group, "element-wise ops in %s", layout);
    ut_begin (group);
    if (!ut_check (mrcnn_backend_cpu_new (2, &be, &err) == MRCNN_OK,
            "backend: %s", err.message)) {
      ut_end ();
      continue;
    }
    if (!ut_check (be->ops->queue_new (be, &queue, &err) == MRCNN_OK,
            "queue: %s", err.message)) {
      be->ops->destroy (be);
      ut_end ();
      continue;
    }
    be->ops->queue_begin (be, queue, 2);
    mrcnn_backend_caps caps;
    be->ops->caps (be, &caps);
    ut_check (strcmp (caps.layout, layout) == 0
        && strstr (caps.kernels, layout) != NULL,
        "backend reports layout %s (kernels %s), asked for %s", caps.layout,
        caps.kernels, layout);
    static const int chans[] = { 3, 8, 16, 24, 48, 67, 256 };
    for (size_t k = 0; k < G_N_ELEMENTS (chans); k++) {
      int c = chans[k];
      check_max_pool (be, layout, c, ut_int (3, 41), ut_int (3, 41));
      check_upsample_add (be, layout, c, ut_int (2, 13), ut_int (2, 13),
          ut_int (13, 40), ut_int (13, 40));
      check_roi_align (be, layout, c, 32 * ut_int (2, 5), 32 * ut_int (2, 5),
          ut_int (1, 12), k % 2 ? 7 : 14);
    }
    check_mask_probs (be, layout, ut_int (1, 9), 16, 5);
    check_mask_probs (be, layout, ut_int (1, 9), 12, 3);
    ut_end ();
    be->ops->queue_free (be, queue);
    be->ops->destroy (be);
  }
  g_unsetenv ("MRCNN_CPU_LAYOUT");
  return ut_finish ();
}
