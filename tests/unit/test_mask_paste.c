/* Unit tests of kernels/mask_paste.h against a double-precision reading of
 * paste_masks_in_image. */
#include <float.h>
#include "mask_paste.h"
#include "unit_test.h"

typedef struct {
  int bx1, by1, bx2, by2, w, h, x0, y0, x1, y1;
  double near_int;              /* distance of an expanded edge to an integer */
} ref_geom;

static void
ref_geometry (const float b[4], int M, int im_w, int im_h, ref_geom *g)
{
  double s = (double) (M + 2) / M;
  double wh = (b[2] - (double) b[0]) * 0.5 * s, hh = (b[3] - (double) b[1])
      * 0.5 * s;
  double xc = (b[2] + (double) b[0]) * 0.5, yc = (b[3] + (double) b[1]) * 0.5;
  double e[4] = { xc - wh, yc - hh, xc + wh, yc + hh };
  int k;

  g->near_int = 1;
  for (k = 0; k < 4; k++) {
    double d = fabs (e[k] - floor (e[k] + 0.5));
    g->near_int = d < g->near_int ? d : g->near_int;
  }
  g->bx1 = (int) trunc (e[0]);
  g->by1 = (int) trunc (e[1]);
  g->bx2 = (int) trunc (e[2]);
  g->by2 = (int) trunc (e[3]);
  g->w = g->bx2 - g->bx1 + 1;
  g->h = g->by2 - g->by1 + 1;
  g->w = g->w < 1 ? 1 : g->w;
  g->h = g->h < 1 ? 1 : g->h;
  g->x0 = g->bx1 > 0 ? g->bx1 : 0;
  g->y0 = g->by1 > 0 ? g->by1 : 0;
  g->x1 = g->bx2 + 1 < im_w ? g->bx2 + 1 : im_w;
  g->y1 = g->by2 + 1 < im_h ? g->by2 + 1 : im_h;
}

static double
ref_padded (const float *m, int M, int r, int c)
{
  return (r < 1 || r > M || c < 1 || c > M) ? 0 : m[(r - 1) * M + c - 1];
}

static void
ref_tap (int in, int out, int d, int *i0, int *i1, double *l1)
{
  double s;
  if (in == out) {
    *i0 = *i1 = d;
    *l1 = 0;
    return;
  }
  s = (double) in / out * (d + 0.5) - 0.5;
  s = s < 0 ? 0 : s;
  *i0 = (int) s;
  *i1 = *i0 < in - 1 ? *i0 + 1 : *i0;
  *l1 = s - *i0;
}

static double
ref_value (const float *m, int M, const ref_geom *g, int x, int y)
{
  int y0, y1, x0, x1;
  double ly, lx;
  if (x < g->x0 || x >= g->x1 || y < g->y0 || y >= g->y1)
    return 0;
  ref_tap (M + 2, g->h, y - g->by1, &y0, &y1, &ly);
  ref_tap (M + 2, g->w, x - g->bx1, &x0, &x1, &lx);
  return (1 - ly) * ((1 - lx) * ref_padded (m, M, y0, x0)
      + lx * ref_padded (m, M, y0, x1))
      + ly * ((1 - lx) * ref_padded (m, M, y1, x0)
      + lx * ref_padded (m, M, y1, x1));
}

static void
test_hand (void)
{
  mrcnn_paste_geom g;
  float ones[16];
  int i, x, y, bad = 0;

  for (i = 0; i < 16; i++)
    ones[i] = 1.0f;

  ut_begin ("box partly outside the frame");
  {
    /* M = 4: scale 1.5; w_half 13 * 0.5 * 1.5 = 9.75 about x_c 1.5 ->
     * [-8.25, 11.25] -> [-8, 11]; h_half 3.75 about 4.5 -> [0, 8] */
    const float box[4] = { -5, 2, 8, 7 };
    mrcnn_paste_geometry (box, 4, 20, 8, &g);
    ut_check (g.bx1 == -8 && g.bx2 == 11 && g.by1 == 0 && g.by2 == 8,
        "expanded box %d %d %d %d", g.bx1, g.by1, g.bx2, g.by2);
    ut_check (g.w == 20 && g.h == 9, "resized size %d x %d", g.w, g.h);
    ut_check (g.x0 == 0 && g.x1 == 12 && g.y0 == 0 && g.y1 == 8,
        "window [%d,%d) x [%d,%d)", g.x0, g.x1, g.y0, g.y1);
    for (y = 0; y < 8; y++)
      for (x = 0; x < 20; x++) {
        float v = mrcnn_paste_value (ones, 4, &g, x, y);
        if (x >= 12 && v != 0.0f)
          bad++;
        if (v < 0.0f || v > 1.0f)
          bad++;
      }
    ut_check (bad == 0, "zero right of the window, values in [0, 1]");
    /* pixel x = 1 is column 9 of the 20 wide resize: source 9 * 0.3 +
     * 0.15 - 0.5 = 2.35 in the padded 6 x 6 mask, inside the ones */
    ut_check (mrcnn_paste_value (ones, 4, &g, 1, 4) > 0.999f,
        "interior value %g", mrcnn_paste_value (ones, 4, &g, 1, 4));
    /* the first padded row (zeros) pulls row 0 down */
    ut_check (mrcnn_paste_value (ones, 4, &g, 1, 0) < 0.5f, "top edge %g",
        mrcnn_paste_value (ones, 4, &g, 1, 0));
  }
  ut_end ();

  ut_begin ("box outside and degenerate boxes");
  {
    const float right[4] = { 30, 2, 40, 6 };
    const float flat[4] = { 5, 5, 5, 5 };
    mrcnn_paste_geometry (right, 4, 20, 8, &g);
    ut_check (mrcnn_paste_window_empty (&g) && g.x1 - g.x0 == 0,
        "window empty right of the frame");
    ut_check (mrcnn_paste_value (ones, 4, &g, 19, 3) == 0.0f, "zero");
    mrcnn_paste_geometry (flat, 4, 20, 8, &g);
    ut_check (g.w == 1 && g.h == 1 && g.x0 == 5 && g.x1 == 6,
        "zero-size box pastes one pixel: %d x %d [%d,%d)", g.w, g.h, g.x0,
        g.x1);
  }
  ut_end ();
}

static void
test_random (void)
{
  int t, skipped = 0;

  ut_begin ("random masks and boxes vs double reference");
  for (t = 0; t < 400; t++) {
    int M = ut_int (1, 32), im_w = ut_int (1, 120), im_h = ut_int (1, 120);
    float *m = malloc (sizeof (float) * M * M), box[4];
    mrcnn_paste_geom g;
    ref_geom r;
    int i, x, y;

    for (i = 0; i < M * M; i++)
      m[i] = (float) ut_uniform (0, 1);
    box[0] = (float) ut_uniform (-0.3 * im_w, 1.1 * im_w);
    box[1] = (float) ut_uniform (-0.3 * im_h, 1.1 * im_h);
    box[2] = box[0] + (float) ut_uniform (0, 0.9 * im_w);
    box[3] = box[1] + (float) ut_uniform (0, 0.9 * im_h);
    mrcnn_paste_geometry (box, M, im_w, im_h, &g);
    ref_geometry (box, M, im_w, im_h, &r);
    if (r.near_int < 1e-4) {
      skipped++;
      free (m);
      continue;
    }
    ut_check (g.bx1 == r.bx1 && g.by1 == r.by1 && g.bx2 == r.bx2
        && g.by2 == r.by2 && g.w == r.w && g.h == r.h, "geometry");
    ut_check (g.x0 == r.x0 && g.y0 == r.y0 && (g.x1 == r.x1 || (r.x1 <= r.x0
                && g.x1 == g.x0)) && (g.y1 == r.y1 || (r.y1 <= r.y0
                && g.y1 == g.y0)), "window");
    for (y = 0; y < im_h; y++)
      for (x = 0; x < im_w; x++) {
        mrcnn_lerp ly, lx;
        float v = mrcnn_paste_value (m, M, &g, x, y);
        /* the float path rounds the source coordinate (up to M + 2 in the
         * padded mask) to float, which moves a value by up to a few ulp of
         * that coordinate times the mask's slope (at most 1 per pixel) */
        ut_check (ut_close (v, ref_value (m, M, &r, x, y),
                2e-6 + 4 * FLT_EPSILON * (M + 2)),
            "M %d box %g %g %g %g pixel (%d,%d): %.8g want %.8g", M, box[0],
            box[1], box[2], box[3], x, y, v, ref_value (m, M, &r, x, y));
        if (x >= g.x0 && x < g.x1 && y >= g.y0 && y < g.y1) {
          mrcnn_paste_lerp_y (&g, y, &ly);
          mrcnn_paste_lerp_x (&g, x, &lx);
          ut_check (mrcnn_paste_value_lerp (m, M, &ly, &lx) == v,
              "precomputed taps");
        }
      }
    free (m);
  }
  ut_end ();
  if (skipped)
    printf ("        (%d boxes with an expanded edge within 1e-4 of an "
        "integer were not compared)\n", skipped);
}

int
main (void)
{
  ut_init ("test_mask_paste");
  test_hand ();
  test_random ();
  return ut_finish ();
}
