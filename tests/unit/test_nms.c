/* Unit tests of kernels/nms.h against a double-precision greedy NMS. */
#include "nms.h"
#include "unit_test.h"

static double
ref_iou (const float *a, const float *b)
{
  double aa = ((double) a[2] - a[0]) * ((double) a[3] - a[1]);
  double ab = ((double) b[2] - b[0]) * ((double) b[3] - b[1]);
  double w = fmin (a[2], b[2]) - fmax (a[0], b[0]);
  double h = fmin (a[3], b[3]) - fmax (a[1], b[1]);
  double inter = (w > 0 ? w : 0) * (h > 0 ? h : 0);
  return inter / (aa + ab - inter);
}

static void
test_hand (void)
{
  float boxes[5 * 4] = {
    0, 0, 10, 10,       /* kept */
    0, 0, 10, 10,       /* identical: suppressed */
    10, 0, 20, 10,      /* touches box 0 only: IoU 0, kept */
    0, 0, 10, 5,        /* IoU 0.5 with box 0: kept at 0.5 (strict >) */
    12, 0, 20, 10,      /* IoU 0.8 with box 2: suppressed */
  };
  float area[5];
  uint8_t sup[5];
  int keep[5], n;

  ut_begin ("hand-computed suppressions");
  n = mrcnn_nms_sorted (boxes, 5, mrcnn_nms_threshold (0.5), area, sup, keep);
  ut_check (n == 3 && keep[0] == 0 && keep[1] == 2 && keep[2] == 3,
      "thr 0.5 keeps 0 2 3 (got %d: %d %d %d)", n, keep[0], keep[1], keep[2]);
  n = mrcnn_nms_sorted (boxes, 5, mrcnn_nms_threshold (0.49), area, sup,
      keep);
  ut_check (n == 2 && keep[0] == 0 && keep[1] == 2, "thr 0.49 keeps 0 2");
  n = mrcnn_nms_sorted (boxes, 5, mrcnn_nms_threshold (0.85), area, sup,
      keep);
  ut_check (n == 4, "thr 0.85 keeps 4 (got %d)", n);
  ut_check (mrcnn_box_area (boxes) == 100, "area");
  {
    /* degenerate boxes: 0 / 0 = NaN suppresses nothing */
    const float z[4] = { 5, 5, 5, 5 };
    ut_check (!mrcnn_box_suppresses (z, 0, z, 0, 0.0f), "NaN overlap");
  }
  ut_check (mrcnn_nms_group_offset (99.5f, 3) == 301.5f, "group offset");
  ut_end ();

  ut_begin ("threshold as torchvision compares it (double)");
  {
    static const double thr[] = { 0.7, 0.5, 0.3, 0.1, 0.9, 1.0 / 3, 0 };
    size_t i;
    for (i = 0; i < sizeof thr / sizeof thr[0]; i++) {
      float t = mrcnn_nms_threshold (thr[i]);
      float f = (float) thr[i];
      int k;
      /* every float near the threshold decides as the double compare */
      for (k = -4; k <= 4; k++) {
        float v = f;
        int j;
        for (j = 0; j < (k < 0 ? -k : k); j++)
          v = nextafterf (v, k < 0 ? -1.0f : 2.0f);
        ut_check ((v > t) == ((double) v > thr[i]), "thr %.17g v %.9g", thr[i],
            v);
      }
    }
    ut_check (mrcnn_nms_threshold (0.7) == 0.7f, "0.7 -> 0.7f");
    ut_check (mrcnn_nms_threshold (0.3) < 0.3f, "0.3 -> below 0.3f");
  }
  ut_end ();
}

static void
test_random (void)
{
  int t, skipped = 0;

  ut_begin ("random sets vs double greedy NMS");
  for (t = 0; t < 400; t++) {
    int n = ut_int (1, 400), i, j, nk, nr = 0, near = 0;
    double thr = ut_uniform (0.2, 0.9);
    float *b = malloc (sizeof (float) * 4 * n), *area = malloc (sizeof (float)
        * n);
    uint8_t *sup = malloc (n), *rsup = calloc (n, 1);
    int *keep = malloc (sizeof (int) * n), *rkeep = malloc (sizeof (int) * n);

    /* clustered boxes so that many overlap */
    for (i = 0; i < n; i++) {
      double cx = ut_int (0, 4) * 100 + ut_uniform (-20, 20);
      double cy = ut_int (0, 4) * 100 + ut_uniform (-20, 20);
      double w = ut_uniform (5, 80), h = ut_uniform (5, 80);
      b[4 * i] = (float) (cx - w / 2);
      b[4 * i + 1] = (float) (cy - h / 2);
      b[4 * i + 2] = (float) (cx + w / 2);
      b[4 * i + 3] = (float) (cy + h / 2);
    }
    for (i = 0; i < n; i++) {
      if (rsup[i])
        continue;
      rkeep[nr++] = i;
      for (j = i + 1; j < n; j++) {
        double iou;
        if (rsup[j])
          continue;
        iou = ref_iou (b + 4 * i, b + 4 * j);
        if (fabs (iou - thr) < 1e-5)
          near = 1;
        if (iou > thr)
          rsup[j] = 1;
      }
    }
    nk = mrcnn_nms_sorted (b, n, mrcnn_nms_threshold (thr), area, sup, keep);
    if (near) {
      skipped++;                /* a decision float rounding may flip */
    } else {
      int same = nk == nr;
      for (i = 0; same && i < nk; i++)
        same = keep[i] == rkeep[i];
      ut_check (same, "n %d thr %g: kept %d, reference %d", n, thr, nk, nr);
    }
    for (i = 1; i < nk; i++)
      ut_check (keep[i] > keep[i - 1], "ascending");
    free (b);
    free (area);
    free (sup);
    free (rsup);
    free (keep);
    free (rkeep);
  }
  ut_end ();
  if (skipped)
    printf ("        (%d sets had an IoU within 1e-5 of the threshold and "
        "were not compared)\n", skipped);
}

int
main (void)
{
  ut_init ("test_nms");
  test_hand ();
  test_random ();
  return ut_finish ();
}
