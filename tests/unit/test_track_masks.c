/* Unit tests of track/masks.h: grids from GRAY8 masks, box IoU, and the
 * sampled mask IoU against the exact IoU of the two grids (each cell a
 * rectangle of its box) computed in double by rectangle intersection.
 *
 * Tolerance: a sample stands for a rectangle of the boxes' intersection
 * and is wrong only where that rectangle holds a change of either grid;
 * the test counts those rectangles (a rectangle is never wider than a cell
 * of either grid, so a change shows at its corners) and allows their area,
 * and the IoU range that area spans. */
#include <float.h>

#include "masks.h"
#include "unit_test.h"

static void
random_grid (mrcnn_mask_grid * g, double density)
{
  uint8_t m[40 * 37];
  int w = ut_int (1, 40), h = ut_int (1, 37), i, kind = ut_int (0, 2);

  for (i = 0; i < w * h; i++) {
    int x = i % w, y = i / w;
    double u = (x + 0.5) / w - 0.5, v = (y + 0.5) / h - 0.5;
    int in;

    if (kind == 0)              /* a disc */
      in = u * u + v * v < 0.2;
    else if (kind == 1)         /* a triangle */
      in = v > -0.4 && fabs (u) < 0.4 - (v + 0.4) * 0.45;
    else
      in = ut_uniform (0, 1) < density;
    m[i] = in ? 255 : 0;
  }
  mrcnn_mask_grid_from_gray8 (g, m, w, h, w);
}

/* Exact intersection area of the two grids' set cells. */
static double
exact_intersection (const mrcnn_mask_grid * ga, const double a[4],
    const mrcnn_mask_grid * gb, const double b[4])
{
  double sum = 0.0, cwa = a[2] / MRCNN_MASK_GRID, cha = a[3] / MRCNN_MASK_GRID;
  double cwb = b[2] / MRCNN_MASK_GRID, chb = b[3] / MRCNN_MASK_GRID;
  int ia, ja, ib, jb;

  for (ia = 0; ia < MRCNN_MASK_GRID; ia++)
    for (ja = 0; ja < MRCNN_MASK_GRID; ja++) {
      double ax0, ay0;

      if (!((ga->rows[ia] >> ja) & 1u))
        continue;
      ax0 = a[0] + ja * cwa;
      ay0 = a[1] + ia * cha;
      for (ib = 0; ib < MRCNN_MASK_GRID; ib++) {
        double by0 = b[1] + ib * chb;
        double ih = fmin (ay0 + cha, by0 + chb) - fmax (ay0, by0);

        if (ih <= 0)
          continue;
        for (jb = 0; jb < MRCNN_MASK_GRID; jb++) {
          double bx0 = b[0] + jb * cwb;
          double iw = fmin (ax0 + cwa, bx0 + cwb) - fmax (ax0, bx0);

          if (iw > 0 && ((gb->rows[ib] >> jb) & 1u))
            sum += iw * ih;
        }
      }
    }
  return sum;
}

static int
grid_value (const mrcnn_mask_grid * g, const double box[4], double x,
    double y)
{
  return mrcnn_mask_grid_at (g, (x - box[0]) / box[2], (y - box[1]) / box[3]);
}

/* Area of the sample rectangles whose grids change inside. */
static double
straddling_area (const mrcnn_mask_grid * ga, const double a[4],
    const mrcnn_mask_grid * gb, const double b[4])
{
  double x0 = fmax (a[0], b[0]), y0 = fmax (a[1], b[1]);
  double x1 = fmin (a[0] + a[2], b[0] + b[2]);
  double y1 = fmin (a[1] + a[3], b[1] + b[3]);
  double sx, sy, area = 0;
  int nx, ny, i, j;

  mrcnn_mask_iou_samples (a, b, &nx, &ny);
  sx = (x1 - x0) / nx;
  sy = (y1 - y0) / ny;
  for (i = 0; i < ny; i++)
    for (j = 0; j < nx; j++) {
      /* corners pulled in by a hair: the rectangle's own cells */
      double e = 1e-9 * (sx + sy);
      double xs[2] = { x0 + j * sx + e, x0 + (j + 1) * sx - e };
      double ys[2] = { y0 + i * sy + e, y0 + (i + 1) * sy - e };
      int va = grid_value (ga, a, xs[0], ys[0]);
      int vb = grid_value (gb, b, xs[0], ys[0]), k, change = 0;

      for (k = 1; k < 4; k++) {
        double x = xs[k & 1], y = ys[k >> 1];
        change |= grid_value (ga, a, x, y) != va
            || grid_value (gb, b, x, y) != vb;
      }
      if (change)
        area += sx * sy;
    }
  return area;
}

static void
test_hand (void)
{
  mrcnn_mask_grid full, half, none;
  uint8_t m[4] = { 255, 255, 255, 255 }, h2[4] = { 255, 0, 255, 0 };
  double a[4] = { 0, 0, 10, 10 }, b[4] = { 5, 0, 10, 10 };

  ut_begin ("hand-computed");
  mrcnn_mask_grid_from_gray8 (&full, m, 2, 2, 2);
  mrcnn_mask_grid_from_gray8 (&half, h2, 2, 2, 2);
  mrcnn_mask_grid_from_gray8 (&none, NULL, 0, 0, 0);
  ut_check (full.valid && full.fill == 1.0, "full mask");
  ut_check (half.valid && half.fill == 0.5 && half.rows[0] == 0xffffu,
      "left half: %#x", half.rows[0]);
  ut_check (!none.valid, "no mask");
  ut_check (ut_close (mrcnn_box_iou (a, b), 50.0 / 150.0, 1e-15), "box IoU");
  ut_check (ut_close (mrcnn_mask_grid_iou (&full, a, &full, b), 50.0 / 150.0,
          1e-12), "full masks: the box IoU");
  /* the left half of a (x 0..5) does not meet b at all */
  ut_check (mrcnn_mask_grid_iou (&half, a, &full, b) == 0.0,
      "disjoint masks in overlapping boxes");
  ut_check (ut_close (mrcnn_mask_grid_iou (&none, a, &full, b), 50.0 / 150.0,
          1e-15), "no mask: box IoU");
  {
    double c[4] = { 20, 20, 5, 5 };
    ut_check (mrcnn_mask_grid_iou (&full, a, &full, c) == 0.0,
        "disjoint boxes");
  }
  ut_end ();
}

static void
test_random (void)
{
  int t;

  ut_begin ("random grids and boxes vs exact grid IoU");
  for (t = 0; t < 600; t++) {
    mrcnn_mask_grid ga, gb;
    double a[4], b[4], got, inter, area_a, area_b, slack, lo, hi;

    random_grid (&ga, ut_uniform (0.2, 0.9));
    random_grid (&gb, ut_uniform (0.2, 0.9));
    a[2] = ut_uniform (3, 300);
    a[3] = ut_uniform (3, 300);
    a[0] = ut_uniform (0, 400);
    a[1] = ut_uniform (0, 400);
    if (ut_int (0, 3) == 0) {
      /* the same object a little later */
      b[2] = a[2] * ut_uniform (0.9, 1.1);
      b[3] = a[3] * ut_uniform (0.9, 1.1);
      b[0] = a[0] + ut_uniform (-0.2, 0.2) * a[2];
      b[1] = a[1] + ut_uniform (-0.2, 0.2) * a[3];
      gb = ga;
    } else {
      b[2] = ut_uniform (3, 300);
      b[3] = ut_uniform (3, 300);
      b[0] = a[0] + ut_uniform (-0.8, 0.8) * (a[2] + b[2]) * 0.5;
      b[1] = a[1] + ut_uniform (-0.8, 0.8) * (a[3] + b[3]) * 0.5;
    }
    got = mrcnn_mask_grid_iou (&ga, a, &gb, b);
    if (mrcnn_box_iou (a, b) <= 0.0) {
      ut_check (got == 0.0, "case %d: no overlap, IoU %g", t, got);
      continue;
    }
    inter = exact_intersection (&ga, a, &gb, b);
    area_a = ga.fill * a[2] * a[3];
    area_b = gb.fill * b[2] * b[3];
    if (area_a + area_b == 0.0) {
      ut_check (got == 0.0, "case %d: empty masks, IoU %g", t, got);
      continue;
    }
    slack = straddling_area (&ga, a, &gb, b) * (1 + 1e-9) + 1e-9 * (area_a
        + area_b);
    lo = fmax (0, inter - slack);
    hi = fmin (fmin (area_a, area_b), inter + slack);
    lo = lo / (area_a + area_b - lo);
    hi = hi / (area_a + area_b - hi);
    ut_check (got >= lo - 1e-12 && got <= hi + 1e-12,
        "case %d: IoU %.9g outside [%.9g, %.9g] (exact %.9g)", t, got, lo, hi,
        inter / (area_a + area_b - inter));
    ut_check (got >= 0 && got <= 1, "case %d: IoU %g out of range", t, got);
  }
  ut_end ();
}

int
main (void)
{
  ut_init ("test_track_masks");
  test_hand ();
  test_random ();
  return ut_finish ();
}
