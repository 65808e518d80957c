/* Unit tests of kernels/anchors.h. */
#include "anchors.h"
#include "unit_test.h"

/* round half to even in double */
static double
ref_round (double v)
{
  double f = floor (v), d = v - f;
  if (d > 0.5)
    return f + 1;
  if (d < 0.5)
    return f;
  return fmod (f, 2.0) == 0 ? f : f + 1;
}

static void
test_hand (void)
{
  /* torchvision AnchorGenerator cell anchors for 32 px */
  static const float want32[3][4] = {
    { -23, -11, 23, 11 }, { -16, -16, 16, 16 }, { -11, -23, 11, 23 } };
  static const float ratios[3] = { 0.5f, 1.0f, 2.0f };
  /* maskrcnn_resnet50_fpn's other levels, ratio 0.5 / 1 / 2 */
  static const float want[4][3][4] = {
    { { -45, -23, 45, 23 }, { -32, -32, 32, 32 }, { -23, -45, 23, 45 } },
    { { -91, -45, 91, 45 }, { -64, -64, 64, 64 }, { -45, -91, 45, 91 } },
    { { -181, -91, 181, 91 }, { -128, -128, 128, 128 },
      { -91, -181, 91, 181 } },
    { { -362, -181, 362, 181 }, { -256, -256, 256, 256 },
      { -181, -362, 181, 362 } } };
  float a[4], b[4];
  int r, l, k;

  ut_begin ("cell anchors: torchvision values");
  for (r = 0; r < 3; r++) {
    mrcnn_anchor_base (32, ratios[r], a);
    for (k = 0; k < 4; k++)
      ut_check (a[k] == want32[r][k], "32 px ratio %g [%d] = %g want %g",
          ratios[r], k, a[k], want32[r][k]);
  }
  for (l = 0; l < 4; l++)
    for (r = 0; r < 3; r++) {
      mrcnn_anchor_base ((float) (64 << l), ratios[r], a);
      for (k = 0; k < 4; k++)
        ut_check (a[k] == want[l][r][k], "%d px ratio %g [%d] = %g want %g",
            64 << l, ratios[r], k, a[k], want[l][r][k]);
    }
  /* torch.round is half to even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2 */
  mrcnn_anchor_base (1, 1, a);
  ut_check (a[0] == 0 && a[2] == 0, "size 1: %g %g", a[0], a[2]);
  mrcnn_anchor_base (3, 1, a);
  ut_check (a[0] == -2 && a[2] == 2, "size 3: %g %g", a[0], a[2]);
  mrcnn_anchor_base (5, 1, a);
  ut_check (a[0] == -2 && a[2] == 2, "size 5: %g %g", a[0], a[2]);
  ut_end ();

  ut_begin ("grid shifts");
  mrcnn_anchor_base (32, 0.5f, a);
  mrcnn_anchor_at (a, 3, 2, 4, 4, b);
  ut_check (b[0] == -11 && b[1] == -3 && b[2] == 35 && b[3] == 19,
      "cell (3,2) stride 4: %g %g %g %g", b[0], b[1], b[2], b[3]);
  mrcnn_anchor_at (a, 0, 0, 4, 4, b);
  ut_check (b[0] == a[0] && b[3] == a[3], "cell (0,0) is the base");
  ut_check (mrcnn_anchor_stride (1088, 272) == 4, "stride P2");
  ut_check (mrcnn_anchor_stride (800, 13) == 61, "stride floors 800/13");
  ut_end ();
}

static void
test_random (void)
{
  int t;

  ut_begin ("random sizes and ratios vs double reference");
  for (t = 0; t < 200000; t++) {
    float size = (float) ut_int (1, 1024);
    float ratio = (float) ut_uniform (0.1, 10.0);
    double h = sqrt ((double) ratio), ws = size / h, hs = size * h;
    double ref[4] = { -ws / 2, -hs / 2, ws / 2, hs / 2 };
    float a[4];
    int k;

    mrcnn_anchor_base (size, ratio, a);
    for (k = 0; k < 4; k++) {
      double fr = ref[k] - floor (ref[k]);
      /* float32 computes ws and hs with at most three roundings (sqrtf,
       * 1 / h, the product; halving is exact): within 3u |v| of the exact
       * value, u = 2^-24; 4u covers the higher-order terms. Closer to a
       * half-integer than that, float rounding decides the tie. */
      if (fabs (fr - 0.5) <= 4 * ldexp (1.0, -24) * fabs (ref[k]))
        continue;
      ut_check (a[k] == ref_round (ref[k]), "size %g ratio %.9g [%d]: %g "
          "want %g (%.9g)", size, ratio, k, a[k], ref_round (ref[k]),
          ref[k]);
    }
    ut_check (a[0] == -a[2] && a[1] == -a[3], "symmetric");
  }
  ut_end ();

  ut_begin ("random grid positions");
  for (t = 0; t < 100000; t++) {
    float base[4], out[4];
    int gx = ut_int (0, 400), gy = ut_int (0, 400);
    int sx = ut_int (1, 64), sy = ut_int (1, 64), k;
    mrcnn_anchor_base ((float) ut_int (8, 512), (float) ut_uniform (0.25, 4),
        base);
    mrcnn_anchor_at (base, gx, gy, sx, sy, out);
    for (k = 0; k < 4; k++)
      ut_check (out[k] == (double) base[k] + (k & 1 ? gy * sy : gx * sx),
          "shift exact");
  }
  ut_end ();
}

int
main (void)
{
  ut_init ("test_anchors");
  test_hand ();
  test_random ();
  return ut_finish ();
}
