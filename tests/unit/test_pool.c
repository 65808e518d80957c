/* Unit tests of kernels/pool.h: the window maximum of torch's max_pool2d
 * (padding -inf, NaN propagates) against a direct double-precision reading,
 * with fresh random sizes, kernels, strides and paddings. */
#include "pool.h"
#include "unit_test.h"

static void
test_step (void)
{
  ut_begin ("max step: order, infinities, NaN");
  ut_check (mrcnn_pool_max_step (1.0f, 2.0f) == 2.0f, "1,2");
  ut_check (mrcnn_pool_max_step (2.0f, 1.0f) == 2.0f, "2,1");
  ut_check (mrcnn_pool_max_step (-INFINITY, -5.0f) == -5.0f, "-inf,-5");
  ut_check (mrcnn_pool_max_step (3.0f, INFINITY) == INFINITY, "3,inf");
  ut_check (isnan (mrcnn_pool_max_step (3.0f, NAN)), "3,nan");
  /* once NaN, it stays NaN: nothing compares greater than NaN */
  ut_check (isnan (mrcnn_pool_max_step (NAN, 7.0f)), "nan,7");
  ut_end ();
}

static void
test_random_windows (void)
{
  int t;

  ut_begin ("random planes vs direct reference");
  for (t = 0; t < 300; t++) {
    int h = ut_int (1, 23), w = ut_int (1, 23), k = ut_int (1, 4);
    int s = ut_int (1, 3), p = ut_int (0, k / 2);
    int oh = mrcnn_pool_out_size (h, k, s, p), ow = mrcnn_pool_out_size (w, k, s, p);
    float plane[23 * 23];
    int with_nan = ut_int (0, 3) == 0, oy, ox, i;

    if (oh <= 0 || ow <= 0)
      continue;
    for (i = 0; i < h * w; i++)
      plane[i] = (float) ut_uniform (-100.0, 100.0);
    if (with_nan)
      plane[ut_int (0, h * w - 1)] = NAN;
    for (oy = 0; oy < oh; oy++)
      for (ox = 0; ox < ow; ox++) {
        double ref = -INFINITY;
        int any = 0, nan = 0, y, x;
        float got = mrcnn_max_pool_at (plane, h, w, k, s, p, oy, ox);

        for (y = oy * s - p; y < oy * s - p + k; y++)
          for (x = ox * s - p; x < ox * s - p + k; x++) {
            if (y < 0 || x < 0 || y >= h || x >= w)
              continue;     /* padding: -inf */
            any = 1;
            if (isnan (plane[y * w + x]))
              nan = 1;
            else if (plane[y * w + x] > ref)
              ref = plane[y * w + x];
          }
        if (!any)
          continue;         /* a window of padding only: not reachable with p <= k/2 */
        if (nan)
          ut_check (isnan (got), "%dx%d k%d s%d p%d (%d,%d): NaN expected, got %g",
              h, w, k, s, p, oy, ox, got);
        else
          ut_check (got == (float) ref, "%dx%d k%d s%d p%d (%d,%d): %g vs %g",
              h, w, k, s, p, oy, ox, got, ref);
      }
  }
  ut_end ();
}

int
main (void)
{
  ut_init ("test_pool");
  test_step ();
  test_random_windows ();
  return ut_finish ();
}
