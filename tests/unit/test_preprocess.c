/* Unit tests of kernels/preprocess.h: output size, pixel fetch for every
 * format, BT.601 conversion, and the normalized resized pixel against a
 * double-precision reading of GeneralizedRCNNTransform. */
#include "preprocess.h"
#include "unit_test.h"

static const float MEAN[3] = { 0.485f, 0.456f, 0.406f };
static const float STD[3] = { 0.229f, 0.224f, 0.225f };

static void
test_sizes (void)
{
  /* (w, h) -> (out_w, out_h) as torchvision 0.14 / torch 1.13 resize them */
  static const int cases[][4] = {
    { 5, 3, 1333, 799 }, { 9, 7, 1028, 800 }, { 640, 480, 1066, 800 },
    { 500, 333, 1201, 799 }, { 1000, 6, 1333, 7 }, { 13, 11, 945, 799 },
    { 131, 97, 1080, 799 }, { 1920, 1080, 1333, 749 },
    { 1280, 720, 1333, 749 }, { 800, 800, 800, 800 },
  };
  size_t i;
  int t;

  ut_begin ("resized size: torchvision cases");
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int w, h;
    mrcnn_pp_resized_size (cases[i][0], cases[i][1], 800, 1333, &w, &h);
    ut_check (w == cases[i][2] && h == cases[i][3], "%dx%d -> %dx%d, want "
        "%dx%d", cases[i][0], cases[i][1], w, h, cases[i][2], cases[i][3]);
  }
  ut_end ();

  ut_begin ("resized size vs double reference");
  for (t = 0; t < 100000; t++) {
    int iw = ut_int (2, 4096), ih = ut_int (2, 4096), w, h;
    double mn = iw < ih ? iw : ih, mx = iw < ih ? ih : iw;
    double s = fmin (800.0 / mn, 1333.0 / mx);
    double rw = iw * s, rh = ih * s;
    mrcnn_pp_resized_size (iw, ih, 800, 1333, &w, &h);
    /* float32 scale: the result may be one below where in * scale lands
     * within a few float ulps above an integer, never otherwise */
    ut_check (w <= floor (rw + 1e-3) && w >= floor (rw - 1e-3),
        "%dx%d width %d ref %.6f", iw, ih, w, rw);
    ut_check (h <= floor (rh + 1e-3) && h >= floor (rh - 1e-3),
        "%dx%d height %d ref %.6f", iw, ih, h, rh);
  }
  ut_end ();
}

/* exact BT.601 limited-range reference, with the tie distance */
static int
ref_yuv (int y, int u, int v, int c, double *tie_dist)
{
  long double Kr = 0.299L, Kb = 0.114L, Kg = 1 - Kr - Kb;
  long double yy = (y - 16) * 255.0L / 219.0L;
  long double cu = (u - 128) * 255.0L / 224.0L, cv = (v - 128) * 255.0L / 224.0L;
  long double r;

  if (c == 0)
    r = yy + 2 * (1 - Kr) * cv;
  else if (c == 1)
    r = yy - 2 * (1 - Kb) * Kb / Kg * cu - 2 * (1 - Kr) * Kr / Kg * cv;
  else
    r = yy + 2 * (1 - Kb) * cu;
  *tie_dist = (double) fabsl (r - floorl (r) - 0.5L);
  r = floorl (r + 0.5L);
  return r < 0 ? 0 : r > 255 ? 255 : (int) r;
}

static void
test_yuv (void)
{
  int y, u, v, c;
  uint8_t rgb[3];

  ut_begin ("BT.601 all 2^24 inputs vs exact reference");
  for (y = 0; y < 256; y++)
    for (u = 0; u < 256; u++)
      for (v = 0; v < 256; v++) {
        mrcnn_pp_yuv_to_rgb8 (y, u, v, rgb);
        for (c = 0; c < 3; c++) {
          double tie;
          int want = ref_yuv (y, u, v, c, &tie);
          if (rgb[c] != want && tie < 1e-9)
            continue;
          if (rgb[c] != want)
            ut_check (0, "yuv %d %d %d ch %d: %d want %d", y, u, v, c,
                rgb[c], want);
        }
      }
  ut_check (1, "done");
  /* anchor points of the standard */
  mrcnn_pp_yuv_to_rgb8 (16, 128, 128, rgb);
  ut_check (rgb[0] == 0 && rgb[1] == 0 && rgb[2] == 0, "black");
  mrcnn_pp_yuv_to_rgb8 (235, 128, 128, rgb);
  ut_check (rgb[0] == 255 && rgb[1] == 255 && rgb[2] == 255, "white");
  mrcnn_pp_yuv_to_rgb8 (126, 128, 128, rgb);
  ut_check (rgb[0] == 128 && rgb[1] == 128 && rgb[2] == 128,
      "grey 126 -> 128 (%d)", rgb[0]);
  mrcnn_pp_yuv_to_rgb8 (82, 90, 240, rgb);   /* saturated red */
  ut_check (rgb[0] == 255 && rgb[2] == 0, "red %d %d %d", rgb[0], rgb[1],
      rgb[2]);
  ut_end ();
}

/* Builds a frame of each format from random RGB / YUV content and checks
 * the fetched pixels. */
static void
test_fetch (void)
{
  static const int packed[] = { MRCNN_PIXEL_RGB, MRCNN_PIXEL_BGR,
    MRCNN_PIXEL_RGBA, MRCNN_PIXEL_BGRA, MRCNN_PIXEL_RGBX, MRCNN_PIXEL_BGRX,
    MRCNN_PIXEL_GRAY8 };
  int w = ut_int (2, 40), h = ut_int (2, 40), f, x, y, c;
  uint8_t *rgb = malloc ((size_t) w * h * 3);
  uint8_t *buf = malloc ((size_t) (w * 4 + 16) * h + 64);
  uint8_t *ybuf = malloc ((size_t) (w + 7) * h);
  uint8_t *ubuf = malloc ((size_t) (w + 7) * h);
  uint8_t *vbuf = malloc ((size_t) (w + 7) * h);

  for (x = 0; x < w * h * 3; x++)
    rgb[x] = (uint8_t) ut_int (0, 255);

  ut_begin ("fetch: packed RGB formats and GRAY8");
  for (f = 0; f < (int) (sizeof packed / sizeof packed[0]); f++) {
    int fmt = packed[f];
    int bpp = fmt == MRCNN_PIXEL_GRAY8 ? 1 : (fmt <= MRCNN_PIXEL_BGR ? 3 : 4);
    int bgr = fmt == MRCNN_PIXEL_BGR || fmt == MRCNN_PIXEL_BGRA
        || fmt == MRCNN_PIXEL_BGRX;
    int stride = w * bpp + ut_int (0, 13);
    mrcnn_pp_src s = { fmt, w, h, { buf, NULL, NULL }, { stride, 0, 0 } };

    memset (buf, 0xAB, (size_t) stride * h);
    for (y = 0; y < h; y++)
      for (x = 0; x < w; x++) {
        uint8_t *d = buf + (size_t) y * stride + (size_t) x * bpp;
        const uint8_t *p = rgb + ((size_t) y * w + x) * 3;
        if (bpp == 1) {
          d[0] = p[0];
          continue;
        }
        for (c = 0; c < 3; c++)
          d[bgr ? 2 - c : c] = p[c];
        if (bpp == 4)
          d[3] = (uint8_t) ut_int (0, 255);
      }
    for (y = 0; y < h; y++)
      for (x = 0; x < w; x++) {
        float v[3];
        const uint8_t *p = rgb + ((size_t) y * w + x) * 3;
        mrcnn_pp_fetch_rgb (&s, x, y, v);
        for (c = 0; c < 3; c++) {
          int want = bpp == 1 ? p[0] : p[c];
          ut_check (v[c] == (float) want / 255.0f, "fmt %d (%d,%d) c %d: "
              "%g want %d/255", fmt, x, y, c, v[c], want);
        }
      }
  }
  ut_end ();

  ut_begin ("fetch: NV12 and I420");
  {
    int ys = w + ut_int (0, 7), cs = (w + 1) / 2 + ut_int (0, 3);
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    uint8_t *uvbuf = malloc ((size_t) (2 * cs + 2) * ch);
    mrcnn_pp_src nv12 = { MRCNN_PIXEL_NV12, w, h, { ybuf, uvbuf, NULL },
      { ys, 2 * cs, 0 } };
    mrcnn_pp_src i420 = { MRCNN_PIXEL_I420, w, h, { ybuf, ubuf, vbuf },
      { ys, cs, cs } };
    for (y = 0; y < h; y++)
      for (x = 0; x < w; x++)
        ybuf[(size_t) y * ys + x] = (uint8_t) ut_int (0, 255);
    for (y = 0; y < ch; y++)
      for (x = 0; x < cw; x++) {
        uint8_t u = (uint8_t) ut_int (0, 255), v = (uint8_t) ut_int (0, 255);
        ubuf[(size_t) y * cs + x] = u;
        vbuf[(size_t) y * cs + x] = v;
        uvbuf[(size_t) y * 2 * cs + 2 * x] = u;
        uvbuf[(size_t) y * 2 * cs + 2 * x + 1] = v;
      }
    for (y = 0; y < h; y++)
      for (x = 0; x < w; x++) {
        float a[3], b[3];
        int yv = ybuf[(size_t) y * ys + x];
        int u = ubuf[(size_t) (y / 2) * cs + x / 2];
        int v = vbuf[(size_t) (y / 2) * cs + x / 2];
        mrcnn_pp_fetch_rgb (&nv12, x, y, a);
        mrcnn_pp_fetch_rgb (&i420, x, y, b);
        for (c = 0; c < 3; c++) {
          double tie;
          int want = ref_yuv (yv, u, v, c, &tie);
          ut_check (a[c] == b[c], "nv12 == i420 at (%d,%d)", x, y);
          ut_check (a[c] == (float) want / 255.0f, "yuv (%d,%d) c %d: %g "
              "want %d/255", x, y, c, a[c], want);
        }
      }
    free (uvbuf);
  }
  ut_end ();

  free (rgb);
  free (buf);
  free (ybuf);
  free (ubuf);
  free (vbuf);
}

/* double reference of one backbone input value */
static double
ref_norm (const uint8_t *img, int w, int x, int y, int c)
{
  double v = (double) img[((size_t) y * w + x) * 3 + c] / 255.0;
  return (v - MEAN[c]) / STD[c];
}

static void
ref_taps (int in, int out, int d, int *i0, int *i1, double *l1)
{
  double s;
  if (in == out) {
    *i0 = *i1 = d;
    *l1 = 0;
    return;
  }
  s = (double) in / out * (d + 0.5) - 0.5;
  if (s < 0)
    s = 0;
  *i0 = (int) s;
  if (*i0 > in - 1)
    *i0 = in - 1;
  *i1 = *i0 < in - 1 ? *i0 + 1 : *i0;
  *l1 = s - *i0;
}

static void
test_pixel (void)
{
  int t;

  ut_begin ("normalized resized pixel vs double reference");
  for (t = 0; t < 30; t++) {
    int w = ut_int (2, 60), h = ut_int (2, 60), x, y, c;
    float min_size = (float) ut_int (10, 120), max_size = (float) ut_int (
        (int) min_size, 200);
    uint8_t *img = malloc ((size_t) w * h * 3);
    mrcnn_pp_src s = { MRCNN_PIXEL_RGB, w, h, { img, NULL, NULL },
      { w * 3, 0, 0 } };
    mrcnn_pp_params p;

    for (x = 0; x < w * h * 3; x++)
      img[x] = (uint8_t) ut_int (0, 255);
    mrcnn_pp_params_init (&p, w, h, min_size, max_size, MEAN, STD);
    ut_check (p.out_w >= 1 && p.out_h >= 1, "size %dx%d", p.out_w, p.out_h);
    for (y = 0; y < p.out_h; y++)
      for (x = 0; x < p.out_w; x++) {
        float out[3];
        int y0, y1, x0, x1;
        double ly, lx;
        mrcnn_pp_pixel (&s, &p, x, y, out);
        ref_taps (h, p.out_h, y, &y0, &y1, &ly);
        ref_taps (w, p.out_w, x, &x0, &x1, &lx);
        for (c = 0; c < 3; c++) {
          double r = (1 - ly) * ((1 - lx) * ref_norm (img, w, x0, y0, c)
              + lx * ref_norm (img, w, x1, y0, c))
              + ly * ((1 - lx) * ref_norm (img, w, x0, y1, c)
              + lx * ref_norm (img, w, x1, y1, c));
          /* values reach ~2.7; the float scale shifts taps by ~1e-7 of the
           * size, and neighbours differ by up to ~4.5 */
          ut_check (ut_close (out[c], r, 2e-5 + 5e-7 * (w + h)),
              "%dx%d->%dx%d (%d,%d) c %d: %.8g want %.8g", w, h, p.out_w,
              p.out_h, x, y, c, out[c], r);
        }
      }
    free (img);
  }
  ut_end ();

  ut_begin ("same size: resize is the identity");
  {
    int w, h, x, y, c;
    /* torchvision's factor is (1 / short side) * min_size in float, which is
     * exactly 1 only for some sides (e.g. not for 41 or 47): draw one */
    do {
      w = ut_int (2, 50);
      h = ut_int (2, 50);
    } while ((1.0f / (float) (w < h ? w : h)) * (float) (w < h ? w : h) != 1.0f);
    uint8_t *img = malloc ((size_t) w * h * 3);
    mrcnn_pp_src s = { MRCNN_PIXEL_RGB, w, h, { img, NULL, NULL },
      { w * 3, 0, 0 } };
    mrcnn_pp_params p;
    for (x = 0; x < w * h * 3; x++)
      img[x] = (uint8_t) ut_int (0, 255);
    /* min_size = short side and a large max_size give scale exactly 1 */
    mrcnn_pp_params_init (&p, w, h, (float) (w < h ? w : h), 1e6f, MEAN,
        STD);
    ut_check (p.out_w == w && p.out_h == h, "identity size %dx%d", p.out_w,
        p.out_h);
    for (y = 0; y < h && p.out_h == h; y++)
      for (x = 0; x < w && p.out_w == w; x++) {
        float out[3], n[3];
        mrcnn_pp_pixel (&s, &p, x, y, out);
        mrcnn_pp_fetch_normalized (&s, &p, x, y, n);
        for (c = 0; c < 3; c++)
          ut_check (out[c] == n[c] && n[c] == ((float) img[((size_t) y * w
                      + x) * 3 + c] / 255.0f - MEAN[c]) / STD[c],
              "identity (%d,%d)", x, y);
      }
    free (img);
  }
  ut_end ();
}

int
main (void)
{
  ut_init ("test_preprocess");
  test_sizes ();
  test_yuv ();
  test_fetch ();
  test_pixel ();
  return ut_finish ();
}
