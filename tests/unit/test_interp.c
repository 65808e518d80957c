/* Unit tests of kernels/interp.h against a double-precision reading of
 * ATen's upsample index rules (align_corners=False). */
#include "interp.h"
#include "unit_test.h"

/* reference: scale and source index in double */
static double
ref_src (int in, int out, int dst)
{
  double s = (double) in / out * (dst + 0.5) - 0.5;
  return s < 0 ? 0 : s;
}

static void
test_hand_cases (void)
{
  mrcnn_lerp l;

  ut_begin ("hand-computed taps");
  /* 9 -> 5, dst 2: the source index is 4 - 2^-23 in double (float scale
   * 1.8f = 1.79999995...), so torch weights input 3 by 2^-23 and input 4 by
   * 1 - 2^-23 (checked against torch 1.13); a float source index would be
   * exactly 4. */
  mrcnn_interp_linear (mrcnn_interp_scale (9, 5), 2, 9, 5, &l);
  ut_check (l.i0 == 3 && l.i1 == 4, "9->5 dst 2 taps %d %d", l.i0, l.i1);
  ut_check (l.l1 == 1.0f - 0x1p-23f && l.l0 == 0x1p-23f,
      "9->5 dst 2 weights %a %a", l.l0, l.l1);
  /* 2 -> 4: sources -0.25 (clamped), 0.25, 0.75, 1.25 (last index) */
  mrcnn_interp_linear (0.5f, 0, 2, 4, &l);
  ut_check (l.i0 == 0 && l.i1 == 1 && l.l0 == 1.0f && l.l1 == 0.0f,
      "2->4 dst 0");
  mrcnn_interp_linear (0.5f, 1, 2, 4, &l);
  ut_check (l.i0 == 0 && l.i1 == 1 && l.l0 == 0.75f && l.l1 == 0.25f,
      "2->4 dst 1");
  mrcnn_interp_linear (0.5f, 3, 2, 4, &l);
  ut_check (l.i0 == 1 && l.i1 == 1 && l.l0 == 0.75f && l.l1 == 0.25f,
      "2->4 dst 3: %d %d %g %g", l.i0, l.i1, l.l0, l.l1);
  /* equal sizes copy */
  mrcnn_interp_linear (1.0f, 5, 7, 7, &l);
  ut_check (l.i0 == 5 && l.i1 == 5 && l.l0 == 1.0f && l.l1 == 0.0f, "copy");
  /* 4 -> 2: sources 0.5 and 2.5 */
  mrcnn_interp_linear (2.0f, 1, 4, 2, &l);
  ut_check (l.i0 == 2 && l.i1 == 3 && l.l1 == 0.5f, "4->2 dst 1");
  /* nearest: copy, exact doubling, general floor (dst * scale) */
  ut_check (mrcnn_interp_nearest (1.0f, 3, 5, 5) == 3, "nearest copy");
  ut_check (mrcnn_interp_nearest (0.5f, 7, 5, 10) == 3, "nearest x2");
  ut_check (mrcnn_interp_nearest (mrcnn_interp_scale (10, 3), 2, 10, 3) == 6,
      "nearest 10->3 dst 2");
  ut_check (mrcnn_interp_nearest (mrcnn_interp_scale (3, 7), 6, 3, 7) == 2,
      "nearest 3->7 dst 6");
  ut_end ();
}

static void
test_random_taps (void)
{
  int t;

  ut_begin ("random sizes vs double reference");
  for (t = 0; t < 2000; t++) {
    int in = ut_int (1, 400), out = ut_int (1, 1500), d;
    float scale = mrcnn_interp_scale (in, out);
    for (d = 0; d < out; d++) {
      mrcnn_lerp l;
      double s = ref_src (in, out, d), frac;
      int i0;

      mrcnn_interp_linear (scale, d, in, out, &l);
      if (!ut_check (l.i0 >= 0 && l.i0 < in && l.i1 >= l.i0 && l.i1 < in
              && l.i1 <= l.i0 + 1, "indices %d %d of %d", l.i0, l.i1, in))
        continue;
      ut_check (in == out || l.i1 == (l.i0 < in - 1 ? l.i0 + 1 : l.i0),
          "i1 rule");
      ut_check (l.l0 == 1.0f - l.l1 && l.l1 >= 0.0f && l.l1 <= 1.0f,
          "lambdas %g %g", l.l0, l.l1);
      if (in == out) {
        ut_check (l.i0 == d && l.l1 == 0.0f, "copy case");
        continue;
      }
      /* the float scale moves the source by at most ~1e-7 relative; a
       * fraction within 2^-25 of 1 rounds to l1 = 1.0f, as in torch */
      i0 = (int) s;
      if (i0 > in - 1)
        i0 = in - 1;
      frac = s - i0;
      if (fabs (s - floor (s + 0.5)) < 1e-4)
        continue;               /* too close to an integer to decide */
      ut_check (l.i0 == i0, "in %d out %d dst %d: i0 %d want %d", in, out,
          d, l.i0, i0);
      ut_check (ut_close (l.l1, frac, 1e-4), "in %d out %d dst %d: l1 %.9g "
          "want %.9g", in, out, d, l.l1, frac);
    }
  }
  ut_end ();

  ut_begin ("nearest vs double reference");
  for (t = 0; t < 2000; t++) {
    int in = ut_int (1, 400), out = ut_int (1, 1500), d;
    float scale = mrcnn_interp_scale (in, out);
    for (d = 0; d < out; d++) {
      double s = (double) d * in / out;
      int want = (int) floor (s), got;
      if (want > in - 1)
        want = in - 1;
      got = mrcnn_interp_nearest (scale, d, in, out);
      if (fabs (s - floor (s + 0.5)) < 1e-4 && out != in && out != 2 * in)
        continue;
      ut_check (got == want, "nearest in %d out %d dst %d: %d want %d", in,
          out, d, got, want);
    }
  }
  ut_end ();
}

static void
test_combine (void)
{
  int t;

  ut_begin ("lerp2 combinations vs double bilinear");
  for (t = 0; t < 200000; t++) {
    mrcnn_lerp ly, lx;
    float v[4];
    double ref, tol;
    int k;

    ly.i0 = lx.i0 = 0;
    ly.i1 = lx.i1 = 1;
    ly.l1 = (float) ut_uniform (0, 1);
    ly.l0 = 1.0f - ly.l1;
    lx.l1 = (float) ut_uniform (0, 1);
    lx.l0 = 1.0f - lx.l1;
    for (k = 0; k < 4; k++)
      v[k] = (float) ut_uniform (-3, 3);
    ref = (double) ly.l0 * ((double) lx.l0 * v[0] + (double) lx.l1 * v[1])
        + (double) ly.l1 * ((double) lx.l0 * v[2] + (double) lx.l1 * v[3]);
    tol = 4e-7 * 3.0;
    ut_check (ut_close (mrcnn_lerp2_nchw (&ly, &lx, v[0], v[1], v[2], v[3]),
            ref, tol), "nchw");
    ut_check (ut_close (mrcnn_lerp2_1ch (&ly, &lx, v[0], v[1], v[2], v[3]),
            ref, tol), "1ch");
  }
  /* weights (1, 0) reproduce the tap exactly in both forms */
  {
    mrcnn_lerp one = { 0, 1, 1.0f, 0.0f };
    ut_check (mrcnn_lerp2_nchw (&one, &one, 0.1f, 5, 7, 9) == 0.1f,
        "exact tap nchw");
    ut_check (mrcnn_lerp2_1ch (&one, &one, 0.1f, 5, 7, 9) == 0.1f,
        "exact tap 1ch");
  }
  ut_end ();
}

int
main (void)
{
  ut_init ("test_interp");
  test_hand_cases ();
  test_random_taps ();
  test_combine ();
  return ut_finish ();
}
