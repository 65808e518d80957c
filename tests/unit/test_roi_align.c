/* Unit tests of kernels/roi_align.h against a double-precision reading of
 * torchvision's roi_align forward and MultiScaleRoIAlign's LevelMapper. */
#include "roi_align.h"
#include "unit_test.h"

/* bilinear sample of the plane at (y, x) with roi_align's border rules */
static double
ref_sample (const float *p, int H, int W, double y, double x)
{
  int y0, x0, y1, x1;
  double ly, lx;
  if (y < -1.0 || y > H || x < -1.0 || x > W)
    return 0;
  if (y <= 0)
    y = 0;
  if (x <= 0)
    x = 0;
  y0 = (int) y;
  x0 = (int) x;
  if (y0 >= H - 1) {
    y0 = y1 = H - 1;
    y = y0;
  } else
    y1 = y0 + 1;
  if (x0 >= W - 1) {
    x0 = x1 = W - 1;
    x = x0;
  } else
    x1 = x0 + 1;
  ly = y - y0;
  lx = x - x0;
  return (1 - ly) * (1 - lx) * p[y0 * W + x0] + (1 - ly) * lx * p[y0 * W + x1]
      + ly * (1 - lx) * p[y1 * W + x0] + ly * lx * p[y1 * W + x1];
}

/* Sample positions in float, as torchvision's kernel computes them (its
 * scalar type is float): a position is what decides the border rules, so a
 * double position would disagree with torchvision itself at the borders.
 * The interpolation and the average are in double. */
static double
ref_bin (const float *p, int H, int W, const float roi[4], double scale,
    int PH, int PW, int sr, int aligned, int ph, int pw)
{
  float off = aligned ? 0.5f : 0.0f, fs = (float) scale;
  float sx = roi[0] * fs - off, sy = roi[1] * fs - off;
  float rw = roi[2] * fs - off - sx, rh = roi[3] * fs - off - sy;
  float bw, bh;
  double acc = 0;
  int gh, gw, iy, ix, n;

  if (!aligned) {
    rw = rw < 1 ? 1 : rw;
    rh = rh < 1 ? 1 : rh;
  }
  bw = rw / PW;
  bh = rh / PH;
  gh = sr > 0 ? sr : (int) ceilf (rh / PH);
  gw = sr > 0 ? sr : (int) ceilf (rw / PW);
  for (iy = 0; iy < gh; iy++)
    for (ix = 0; ix < gw; ix++) {
      float y = sy + ph * bh + ((float) iy + 0.5f) * bh / (float) gh;
      float x = sx + pw * bw + ((float) ix + 0.5f) * bw / (float) gw;
      acc += ref_sample (p, H, W, y, x);
    }
  n = gh * gw;
  return acc / (n > 1 ? n : 1);
}

static void
test_hand (void)
{
  /* 4 x 4 plane with value x + 1 */
  float ramp[16];
  mrcnn_roi_grid g;
  int i;

  for (i = 0; i < 16; i++)
    ramp[i] = (float) (i % 4) + 1;

  ut_begin ("hand-computed bins at the borders");
  {
    /* samples x = 3 (last column, value 4) and x = 5 (> width: 0) */
    const float roi[4] = { 2, 0, 6, 4 };
    mrcnn_roi_grid_init (roi, 1.0f, 1, 1, 2, 0, &g);
    ut_check (g.grid_w == 2 && g.count == 4, "grid");
    ut_check (mrcnn_roi_align_one (ramp, 4, 4, &g, 0, 0) == 2.0f,
        "right border: %g", mrcnn_roi_align_one (ramp, 4, 4, &g, 0, 0));
  }
  {
    /* samples x = -2 (outside: 0) and x = 0 (value 1) */
    const float roi[4] = { -3, 0, 1, 4 };
    mrcnn_roi_grid_init (roi, 1.0f, 1, 1, 2, 0, &g);
    ut_check (mrcnn_roi_align_one (ramp, 4, 4, &g, 0, 0) == 0.5f,
        "left border: %g", mrcnn_roi_align_one (ramp, 4, 4, &g, 0, 0));
  }
  {
    /* sample x = -1 exactly is inside the [-1, W] band: clamped to 0 */
    const float roi[4] = { -2, 0, 0, 4 };
    mrcnn_roi_grid_init (roi, 1.0f, 1, 1, 1, 0, &g);
    ut_check (mrcnn_roi_align_one (ramp, 4, 4, &g, 0, 0) == 1.0f,
        "x = -1 band: %g", mrcnn_roi_align_one (ramp, 4, 4, &g, 0, 0));
  }
  {
    /* a whole ROI beyond the plane gives 0 */
    const float roi[4] = { 10, 10, 20, 20 };
    mrcnn_roi_grid_init (roi, 1.0f, 2, 2, 2, 0, &g);
    ut_check (mrcnn_roi_align_one (ramp, 4, 4, &g, 1, 1) == 0.0f, "outside");
  }
  {
    /* degenerate ROI, aligned=False: forced to 1 x 1 at scale 1/4 */
    const float roi[4] = { 8, 8, 8, 8 };
    mrcnn_roi_grid_init (roi, 0.25f, 2, 2, 2, 0, &g);
    ut_check (g.bin_w == 0.5f && g.bin_h == 0.5f, "1 x 1 minimum");
    /* samples x = 2.125, 2.375 in bin 0: value x + 1 */
    ut_check (mrcnn_roi_align_one (ramp, 4, 4, &g, 0, 0) == 3.25f,
        "minimum-size bin: %g", mrcnn_roi_align_one (ramp, 4, 4, &g, 0, 0));
  }
  {
    /* aligned=True shifts by half a pixel: ROI [0.5, 0.5, 2.5, 2.5] covers
     * pixel centres 0..2 -> mean of x + 1 over samples 0.25..1.75 */
    const float roi[4] = { 0.5f, 0.5f, 2.5f, 2.5f };
    mrcnn_roi_grid_init (roi, 1.0f, 1, 1, 2, 1, &g);
    ut_check (g.start_x == 0.0f && mrcnn_roi_align_one (ramp, 4, 4, &g, 0, 0)
        == 2.0f, "aligned: %g", mrcnn_roi_align_one (ramp, 4, 4, &g, 0, 0));
  }
  {
    /* adaptive sampling: ceil (roi / pooled) points */
    const float roi[4] = { 0, 0, 30, 9 };
    mrcnn_roi_grid_init (roi, 1.0f, 2, 7, 0, 0, &g);
    ut_check (g.grid_w == 5 && g.grid_h == 5 && g.count == 25,
        "adaptive grid %d x %d", g.grid_w, g.grid_h);
  }
  ut_end ();

  ut_begin ("FPN level of a box");
  {
    const float b224[4] = { 0, 0, 224, 224 }, b112[4] = { 10, 10, 122, 122 };
    const float b448[4] = { 0, 0, 448, 448 }, b1[4] = { 0, 0, 1, 1 };
    const float b223[4] = { 0, 0, 223, 223 }, b2k[4] = { 0, 0, 2000, 2000 };
    const float bnan[4] = { 0, 0, NAN, 4 };
    ut_check (mrcnn_roi_level (b224, 2, 5) == 2, "224 -> P4");
    ut_check (mrcnn_roi_level (b112, 2, 5) == 1, "112 -> P3");
    ut_check (mrcnn_roi_level (b448, 2, 5) == 3, "448 -> P5");
    ut_check (mrcnn_roi_level (b223, 2, 5) == 1, "223 -> P3");
    ut_check (mrcnn_roi_level (b1, 2, 5) == 0, "tiny -> P2");
    ut_check (mrcnn_roi_level (b2k, 2, 5) == 3, "huge -> P5");
    ut_check (mrcnn_roi_level (bnan, 2, 5) == 0, "NaN -> P2");
    /* within the maps there are: P5 of 3 maps (P2..P4) is the last */
    ut_check (mrcnn_roi_pool_level (b448, 2, 5, 3) == 2, "P5 of 3 maps -> P4");
    ut_check (mrcnn_roi_pool_level (b448, 2, 5, 4) == 3, "P5 of 4 maps -> P5");
    ut_check (mrcnn_roi_pool_level (b112, 2, 5, 4) == 1, "P3 of 4 maps -> P3");
  }
  ut_end ();
}

static void
test_random (void)
{
  int t;

  ut_begin ("random ROIs vs double reference");
  for (t = 0; t < 300; t++) {
    int H = ut_int (1, 40), W = ut_int (1, 40), C = ut_int (1, 4);
    int PH = ut_int (1, 14), PW = ut_int (1, 14), sr = ut_int (-1, 3);
    int aligned = ut_int (0, 1), K = ut_int (1, 8), c, k, ph, pw, i;
    float scale = 1.0f / (float) (1 << ut_int (0, 5));
    float *feat = malloc (sizeof (float) * C * H * W);
    double fmax = 0;

    for (i = 0; i < C * H * W; i++) {
      feat[i] = (float) ut_uniform (-4, 4);
      fmax = fmax > fabs (feat[i]) ? fmax : fabs (feat[i]);
    }
    for (k = 0; k < K; k++) {
      float roi[4];
      double ext = (double) W / scale, eyt = (double) H / scale;
      mrcnn_roi_grid g;
      mrcnn_roi_sample *pre;
      int n = 0;

      roi[0] = (float) ut_uniform (-0.2 * ext, 1.1 * ext);
      roi[1] = (float) ut_uniform (-0.2 * eyt, 1.1 * eyt);
      roi[2] = roi[0] + (float) ut_uniform (0, 0.8 * ext);
      roi[3] = roi[1] + (float) ut_uniform (0, 0.8 * eyt);
      mrcnn_roi_grid_init (roi, scale, PH, PW, sr, aligned, &g);
      if (g.grid_h * g.grid_w > 400)
        continue;
      /* the precomputed path (per ROI, shared by the channels) */
      pre = malloc (sizeof (*pre) * (size_t) (PH * PW * (g.grid_h > 0 ?
                  g.grid_h : 0) * (g.grid_w > 0 ? g.grid_w : 0) + 1));
      for (ph = 0; ph < PH; ph++)
        for (pw = 0; pw < PW; pw++) {
          int iy, ix;
          for (iy = 0; iy < g.grid_h; iy++)
            for (ix = 0; ix < g.grid_w; ix++)
              mrcnn_roi_sample_at (H, W, mrcnn_roi_sample_y (&g, ph, iy),
                  mrcnn_roi_sample_x (&g, pw, ix), &pre[n++]);
        }
      for (c = 0; c < C; c++) {
        const float *plane = feat + (size_t) c * H * W;
        int idx = 0;
        for (ph = 0; ph < PH; ph++)
          for (pw = 0; pw < PW; pw++) {
            float one = mrcnn_roi_align_one (plane, H, W, &g, ph, pw);
            float acc = 0;
            double ref = ref_bin (plane, H, W, roi, scale, PH, PW, sr,
                aligned, ph, pw);
            for (i = 0; i < g.grid_h * g.grid_w; i++)
              acc += mrcnn_roi_sample_value (plane, &pre[idx++]);
            ut_check ((acc / g.count) == one, "precomputed path == one");
            ut_check (ut_close (one, ref, 2e-5 * fmax), "H %d W %d roi "
                "%g %g %g %g scale %g sr %d al %d bin (%d,%d): %.8g want "
                "%.8g", H, W, roi[0], roi[1], roi[2], roi[3], scale, sr,
                aligned, ph, pw, one, ref);
          }
      }
      free (pre);
    }
    free (feat);
  }
  ut_end ();

  ut_begin ("random boxes: FPN level vs double reference");
  for (t = 0; t < 200000; t++) {
    float b[4];
    double s, lv;
    int want;
    b[0] = (float) ut_uniform (0, 1000);
    b[1] = (float) ut_uniform (0, 1000);
    b[2] = b[0] + (float) exp (ut_uniform (-3, 8));
    b[3] = b[1] + (float) exp (ut_uniform (-3, 8));
    s = sqrt (((double) b[2] - b[0]) * ((double) b[3] - b[1]));
    lv = 4 + log2 (s / 224) + 1e-6;
    if (fabs (lv - floor (lv + 0.5)) < 1e-5)
      continue;                 /* on a level boundary */
    want = (int) floor (lv);
    want = want < 2 ? 2 : want > 5 ? 5 : want;
    ut_check (mrcnn_roi_level (b, 2, 5) == want - 2, "level of %g x %g",
        b[2] - b[0], b[3] - b[1]);
  }
  ut_end ();
}

int
main (void)
{
  ut_init ("test_roi_align");
  test_hand ();
  test_random ();
  return ut_finish ();
}
