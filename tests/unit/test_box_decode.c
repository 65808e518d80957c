/* Unit tests of kernels/box_decode.h against a double-precision reading of
 * BoxCoder.decode_single, clip_boxes_to_image and remove_small_boxes. */
#include "box_decode.h"
#include "unit_test.h"

static void
ref_decode (const float r[4], const float d[4], const float wt[4],
    double out[4])
{
  double w = (double) r[2] - r[0], h = (double) r[3] - r[1];
  double cx = r[0] + 0.5 * w, cy = r[1] + 0.5 * h;
  double dx = d[0] / (double) wt[0], dy = d[1] / (double) wt[1];
  double dw = d[2] / (double) wt[2], dh = d[3] / (double) wt[3];
  double clip = log (1000.0 / 16);
  double pcx, pcy, pw, ph;

  dw = dw > clip ? clip : dw;
  dh = dh > clip ? clip : dh;
  pcx = dx * w + cx;
  pcy = dy * h + cy;
  pw = exp (dw) * w;
  ph = exp (dh) * h;
  out[0] = pcx - 0.5 * pw;
  out[1] = pcy - 0.5 * ph;
  out[2] = pcx + 0.5 * pw;
  out[3] = pcy + 0.5 * ph;
}

static void
test_hand (void)
{
  static const float ones[4] = { 1, 1, 1, 1 };
  static const float head[4] = { 10, 10, 5, 5 };
  float out[4];

  ut_begin ("hand-computed decodes");
  {
    const float r[4] = { 0, 0, 10, 20 }, d[4] = { 0, 0, 0, 0 };
    mrcnn_box_decode (r, d, ones, out);
    ut_check (out[0] == 0 && out[1] == 0 && out[2] == 10 && out[3] == 20,
        "zero delta is the identity: %g %g %g %g", out[0], out[1], out[2],
        out[3]);
  }
  {
    /* dx = 1 (10 / 10) shifts by one width; dw = ln 2 * 5 / 5 doubles */
    const float r[4] = { 10, 10, 20, 30 };
    const float d[4] = { 10, -5, 5 * 0.69314718f, 0 };
    mrcnn_box_decode (r, d, head, out);
    ut_check (ut_close (out[0], 15, 1e-5) && ut_close (out[2], 35, 1e-5)
        && out[1] == 0 && out[3] == 20, "head weights: %g %g %g %g", out[0],
        out[1], out[2], out[3]);
  }
  {
    /* dw beyond log(1000/16) is clipped: width * 62.5 */
    const float r[4] = { 0, 0, 16, 16 }, d[4] = { 0, 0, 50, 50 };
    mrcnn_box_decode (r, d, ones, out);
    ut_check (ut_close (out[2] - out[0], 1000, 1e-3), "clipped width %g",
        out[2] - out[0]);
    ut_check (MRCNN_BBOX_XFORM_CLIP == (float) log (1000.0 / 16), "clip "
        "constant");
  }
  {
    float b[4] = { -5, 3, 700, 900 };
    mrcnn_box_clip (b, 640, 480);
    ut_check (b[0] == 0 && b[1] == 3 && b[2] == 640 && b[3] == 480,
        "clip: %g %g %g %g", b[0], b[1], b[2], b[3]);
    b[0] = NAN;
    mrcnn_box_clip (b, 640, 480);
    ut_check (isnan (b[0]), "clip keeps NaN as torch.clamp does");
  }
  {
    const float a[4] = { 0, 0, 1e-3f, 5 }, b[4] = { 0, 0, 0.5e-3f, 5 };
    const float c[4] = { 0, 0, NAN, 5 };
    ut_check (mrcnn_box_keep_size (a, 1e-3f), "w == min kept");
    ut_check (!mrcnn_box_keep_size (b, 1e-3f), "w < min dropped");
    ut_check (!mrcnn_box_keep_size (c, 1e-3f), "NaN dropped");
  }
  {
    float b[4] = { 10, 20, 30, 40 };
    float rw = mrcnn_box_resize_ratio (1920, 1333);
    float rh = mrcnn_box_resize_ratio (1080, 749);
    mrcnn_box_resize (b, rw, rh);
    ut_check (b[0] == 10 * rw && b[3] == 40 * rh, "resize back");
  }
  ut_end ();
}

static void
test_random (void)
{
  static const float ones[4] = { 1, 1, 1, 1 };
  static const float head[4] = { 10, 10, 5, 5 };
  int t;

  ut_begin ("random decodes vs double reference");
  for (t = 0; t < 500000; t++) {
    const float *wt = (t & 1) ? head : ones;
    float r[4], d[4], out[4];
    double ref[4], scale;
    int k;

    r[0] = (float) ut_uniform (-100, 1300);
    r[1] = (float) ut_uniform (-100, 1300);
    r[2] = r[0] + (float) ut_uniform (0, 600);
    r[3] = r[1] + (float) ut_uniform (0, 600);
    for (k = 0; k < 4; k++)
      d[k] = (float) ut_uniform (-6, 6) * wt[k];
    mrcnn_box_decode (r, d, wt, out);
    ref_decode (r, d, wt, ref);
    /* float32 of coordinates up to ~4e4 (width 600 * e^4.1), a few ulps of
     * the largest value in the computation: the output's, and the anchor's
     * (its centre is rounded at the anchor's magnitude before the shift, so
     * a decoded box far from a large anchor carries the anchor's ulp) */
    scale = fabs (ref[0]) + fabs (ref[2]) + fabs (ref[1]) + fabs (ref[3])
        + fabs (r[0]) + fabs (r[1]) + fabs (r[2]) + fabs (r[3])
        + (r[2] - r[0]) + (r[3] - r[1]) + 1;
    for (k = 0; k < 4; k++)
      ut_check (ut_close (out[k], ref[k], 4e-7 * scale), "decode [%d] %.9g "
          "want %.9g", k, out[k], ref[k]);
  }
  ut_end ();

  ut_begin ("random clip and size filter");
  for (t = 0; t < 200000; t++) {
    float b[4], c[4], m = (float) ut_uniform (0, 3);
    int w = ut_int (1, 2000), h = ut_int (1, 2000), k;
    for (k = 0; k < 4; k++)
      b[k] = c[k] = (float) ut_uniform (-500, 2500);
    mrcnn_box_clip (c, w, h);
    for (k = 0; k < 4; k++) {
      double lim = (k & 1) ? h : w;
      double want = b[k] < 0 ? 0 : b[k] > lim ? lim : b[k];
      ut_check (c[k] == want, "clip [%d]", k);
    }
    ut_check (mrcnn_box_keep_size (b, m) == ((double) b[2] - b[0] >= m
            && (double) b[3] - b[1] >= m)
        || fabs ((double) b[2] - b[0] - m) < 1e-3
        || fabs ((double) b[3] - b[1] - m) < 1e-3, "keep size");
  }
  ut_end ();
}

int
main (void)
{
  ut_init ("test_box_decode");
  test_hand ();
  test_random ();
  return ut_finish ();
}
