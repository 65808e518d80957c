/* Unit tests of track/kalman.h: the four 2 x 2 filters against the
 * general 8 x 8 Kalman filter (matrix products, the 4 x 4 innovation
 * covariance inverted by Gauss-Jordan) in long double, on random boxes,
 * motions and measurement sequences.
 *
 * Tolerance: the reference is run twice, in double and in long double; the
 * difference between the two measures how much rounding this sequence
 * amplifies, and the filter under test may differ from the long double
 * result by a small multiple of it, plus 64 units of roundoff of the value:
 * each step rounds a few dozen times, and the covariance recursion is
 * stable (old rounding errors decay rather than add up), which covers the
 * steps where the two references happen to round alike. */
#include <float.h>

#include "kalman.h"
#include "unit_test.h"

#define REAL double
#define NAME(f) f##_d
#include "kalman_ref.h"
#undef REAL
#undef NAME
#define REAL long double
#define NAME(f) f##_ld
#include "kalman_ref.h"
#undef REAL
#undef NAME

/* The filter's covariance entry (i, j) of the 8 x 8 matrix: zero between
 * different coordinates. */
static double
kf_cov (const mrcnn_kalman * k, int i, int j)
{
  int ci = i % 4, cj = j % 4;

  if (ci != cj)
    return 0.0;
  if (i < 4 && j < 4)
    return k->p[ci][0];
  if (i >= 4 && j >= 4)
    return k->p[ci][2];
  return k->p[ci][1];
}

static double
kf_state (const mrcnn_kalman * k, int i)
{
  return i < 4 ? k->x[i] : k->v[i - 4];
}

static int
compare (const mrcnn_kalman * k, const ref_d * rd, const ref_ld * rl,
    int step)
{
  int i, j, ok = 1;

  for (i = 0; i < 8; i++) {
    double got = kf_state (k, i);
    long double want = rl->x[i];
    double spread = fabs ((double) (rd->x[i] - want));
    double tol = 8.0 * spread + 64.0 * DBL_EPSILON * (fabs ((double) want)
        + fabs ((double) rl->x[i % 4]));
    ok &= ut_check (fabs ((double) (got - want)) <= tol,
        "step %d state %d: %.17g vs %.17Lg (tol %.3g)", step, i, got, want,
        tol);
  }
  for (i = 0; i < 8; i++)
    for (j = 0; j < 8; j++) {
      double got = kf_cov (k, i, j);
      long double want = rl->P[i][j];
      double spread = fabs ((double) (rd->P[i][j] - want));
      double scale = sqrt (fabs ((double) rl->P[i][i] * (double) rl->P[j][j]));
      double tol = 8.0 * spread + 64.0 * DBL_EPSILON * scale;
      ok &= ut_check (fabs ((double) (got - want)) <= tol,
          "step %d P[%d][%d]: %.17g vs %.17Lg (tol %.3g)", step, i, j, got,
          want, tol);
    }
  return ok;
}

static void
test_hand (void)
{
  mrcnn_kalman k;
  double box[4] = { 100, 50, 40, 80 }, xywh[4];

  ut_begin ("hand-computed steps");
  mrcnn_kalman_init (&k, box);
  /* first sighting: position std 2 * w / 20 = 4 (x), velocity std
   * 10 * w / 160 = 2.5 */
  ut_check (k.p[0][0] == 16.0 && k.p[0][2] == 6.25 && k.p[0][1] == 0.0,
      "init cx covariance");
  ut_check (k.p[1][0] == 64.0 && k.p[1][2] == 25.0, "init cy covariance");
  mrcnn_kalman_predict (&k, 0);
  /* at rest: the state stays; P00 = 16 + 6.25 + (40/20)^2 = 26.25 */
  ut_check (k.x[0] == 100 && k.p[0][0] == 26.25 && k.p[0][1] == 6.25
      && ut_close (k.p[0][2], 6.25 + 0.0625, 1e-15), "predict from rest");
  mrcnn_kalman_box (&k, xywh);
  ut_check (xywh[0] == 80 && xywh[1] == 10 && xywh[2] == 40
      && xywh[3] == 80, "box of the state");
  {
    /* a measurement 10 px to the right: gain 26.25 / (26.25 + 4) */
    double z[4] = { 110, 50, 40, 80 };
    double g0 = 26.25 / 30.25, g1 = 6.25 / 30.25;

    mrcnn_kalman_update (&k, z);
    ut_check (ut_close (k.x[0], 100 + 10 * g0, 1e-12)
        && ut_close (k.v[0], 10 * g1, 1e-12), "update moves x and vx");
    ut_check (ut_close (k.p[0][0], 26.25 * (1 - g0), 1e-12),
        "update shrinks P00");
  }
  {
    /* a shrinking box stops at one pixel */
    mrcnn_kalman s;
    double b[4] = { 10, 10, 3, 3 };
    int i;

    mrcnn_kalman_init (&s, b);
    s.v[2] = s.v[3] = -2.0;
    for (i = 0; i < 3; i++)
      mrcnn_kalman_predict (&s, 0);
    ut_check (s.x[2] == 1.0 && s.x[3] == 1.0, "size floor of one pixel");
    s.v[2] = 5.0;
    mrcnn_kalman_predict (&s, 1);
    ut_check (s.v[2] == 0.0 && s.x[2] == 1.0, "hold_size stops growth");
  }
  ut_end ();
}

static void
test_random (void)
{
  int t;

  ut_begin ("random sequences vs the 8x8 filter in long double");
  for (t = 0; t < 300; t++) {
    double box[4];
    double vel[4];
    mrcnn_kalman k;
    ref_d rd;
    ref_ld rl;
    int steps = ut_int (1, 60), s, ok = 1;

    box[2] = ut_uniform (4, 400);
    box[3] = ut_uniform (4, 400);
    box[0] = ut_uniform (0, 1920);
    box[1] = ut_uniform (0, 1080);
    vel[0] = ut_uniform (-20, 20);
    vel[1] = ut_uniform (-20, 20);
    vel[2] = ut_uniform (-1, 1);
    vel[3] = ut_uniform (-1, 1);
    mrcnn_kalman_init (&k, box);
    ref_init_d (&rd, box);
    ref_init_ld (&rl, box);
    ok &= compare (&k, &rd, &rl, 0);
    for (s = 1; s <= steps && ok; s++) {
      int hold = ut_int (0, 4) == 0;
      int i;

      mrcnn_kalman_predict (&k, hold);
      ref_predict_d (&rd, hold);
      ref_predict_ld (&rl, hold);
      ok &= compare (&k, &rd, &rl, s);
      for (i = 0; i < 4; i++)
        box[i] += vel[i];
      if (box[2] < 2)
        box[2] = 2;
      if (box[3] < 2)
        box[3] = 2;
      if (ut_int (0, 3) != 0) {
        double z[4];

        for (i = 0; i < 4; i++)
          z[i] = box[i] + ut_uniform (-3, 3);
        z[2] = fmax (z[2], 1.0);
        z[3] = fmax (z[3], 1.0);
        mrcnn_kalman_update (&k, z);
        ref_update_d (&rd, z);
        ref_update_ld (&rl, z);
        ok &= compare (&k, &rd, &rl, s);
      }
    }
  }
  ut_end ();
}

int
main (void)
{
  ut_init ("test_kalman");
  test_hand ();
  test_random ();
  return ut_finish ();
}
