/* Test frames and result comparisons shared by the engine's tests. */
#ifndef MRCNN_TEST_FRAMES_H
#define MRCNN_TEST_FRAMES_H

#include <stddef.h>
#include <string.h>

#include <glib.h>

#include "mrcnn/mrcnn.h"
#include "unit_test.h"

typedef struct {
  int w, h;
  guint8 *rgb;
  mrcnn_image view;
} frame;

/* Smooth colour gradients and filled rectangles, so that the features (and
 * a random-init model's detections) vary across the frame. */
static inline void
frame_init (frame *f, int w, int h)
{
  f->w = w;
  f->h = h;
  f->rgb = g_new (guint8, (size_t) w * h * 3);
  double a[3], b[3];
  for (int c = 0; c < 3; c++) {
    a[c] = ut_uniform (0.0, 2.0);
    b[c] = ut_uniform (0.0, 2.0);
  }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++)
        f->rgb[((size_t) y * w + x) * 3 + c] = (guint8) (127.5 + 127.0
            * sin (a[c] * x / 17.0 + b[c] * y / 23.0 + c));
  for (int r = 0; r < 6; r++) {
    int x0 = ut_int (0, w - 2), y0 = ut_int (0, h - 2);
    /* 8 .. half the side (thin frames: 1 .. half) */
    int rw = ut_int (MIN (8, MAX (1, w / 2)), MAX (1, w / 2));
    int rh = ut_int (MIN (8, MAX (1, h / 2)), MAX (1, h / 2));
    int x1 = MIN (w, x0 + rw), y1 = MIN (h, y0 + rh);
    guint8 col[3] = { ut_int (0, 255), ut_int (0, 255), ut_int (0, 255) };
    for (int y = y0; y < y1; y++)
      for (int x = x0; x < x1; x++)
        memcpy (f->rgb + ((size_t) y * w + x) * 3, col, 3);
  }
  f->view = (mrcnn_image) { MRCNN_PIXEL_RGB, w, h, { f->rgb }, { w * 3 } };
}

/* Every detection, box, score, class and mask probability equal bit for
 * bit (or, with tol > 0, within tol). */
/* One frame through the engine alone; NULL (and the reason printed) when
 * the engine refuses it. */
static inline mrcnn_result *
run_one (mrcnn_engine *e, const frame *f)
{
  mrcnn_error err = { 0 };
  mrcnn_result *r = NULL;
  if (mrcnn_engine_run (e, &f->view, &r, &err) != MRCNN_OK)
    printf ("run: %s\n", err.message);
  return r;
}

static inline int
same_results (const mrcnn_result *a, const mrcnn_result *b, float tol,
    const char *what)
{
  int n = mrcnn_result_count (a);
  if (!ut_check (n == mrcnn_result_count (b), "%s: %d detections, %d", what,
          n, mrcnn_result_count (b)))
    return 0;
  float worst = 0.0f;
  int labels_ok = 1;
  for (int i = 0; i < n; i++) {
    const mrcnn_detection *p = mrcnn_result_get (a, i), *q = mrcnn_result_get (b, i);
    float d[5] = { p->x1 - q->x1, p->y1 - q->y1, p->x2 - q->x2, p->y2 - q->y2,
      p->score - q->score };
    for (int k = 0; k < 5; k++)
      worst = MAX (worst, fabsf (d[k]));
    labels_ok &= p->class_id == q->class_id;
    int m, m2;
    const float *pa = mrcnn_result_mask_probs (a, i, &m);
    const float *pb = mrcnn_result_mask_probs (b, i, &m2);
    for (int k = 0; k < m * m; k++)
      worst = MAX (worst, fabsf (pa[k] - pb[k]));
  }
  ut_check (labels_ok, "%s: classes differ", what);
  return ut_check (worst <= tol, "%s: %d detections differ by up to %g "
      "(allowed %g)", what, n, worst, tol);
}

/* Whether res has want's detections, bit for bit (label pointers aside). */
static inline int
same_detections (const mrcnn_result *res, const mrcnn_result *want)
{
  int n = res ? mrcnn_result_count (res) : -1;
  int same = res && n == mrcnn_result_count (want);
  for (int d = 0; same && d < n; d++)
    same = memcmp (mrcnn_result_get (res, d), mrcnn_result_get (want, d),
        offsetof (mrcnn_detection, label)) == 0;
  return same;
}

#endif
