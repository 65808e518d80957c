/* gst-maskrcnn kernels: frame -> network input (GeneralizedRCNNTransform).
 *
 * torchvision, in eval mode, turns a frame into the backbone's input by
 *   to_tensor     v = (float)u8 / 255.0f per channel, RGB order
 *   normalize     (v - mean[c]) / std[c]                      (float32)
 *   resize        bilinear, align_corners=False, to the size below
 *   batch         zero padding to a multiple of 32 (the caller's job)
 * in that order: the resize interpolates normalized values.
 *
 * Output size. _resize_image_and_masks computes, in float32 tensors,
 *   scale = min (min_size / min_dim, max_size / max_dim)
 * where a Python float divided by a tensor is evaluated as
 * tensor.reciprocal () * float; then F.interpolate (recompute_scale_factor)
 * takes out = floor (in * (double) scale) in double. Spelling the divisions
 * as divisions, or doing them in double, gives other sizes for many frames
 * (7x9 -> 800x1028 here, 799x1028 with a float division; 333x500 -> 799x1201
 * here, 800x1201 in double).
 *
 * YUV frames are converted to 8-bit RGB first, as an RGB frame would arrive
 * from a colour converter: the BT.601 limited-range matrix (Y 16..235,
 * chroma 16..240), each output rounded to nearest and clamped to 0..255,
 * chroma taken from its 2x2 block. GStreamer 1.22's videoconvert is not
 * bit-identical to this: it upsamples chroma with a filter and its fixed
 * point path lands a few levels away on some inputs, so parity tests feed
 * RGB frames.
 */
#ifndef MRCNN_KERNELS_PREPROCESS_H
#define MRCNN_KERNELS_PREPROCESS_H

#include "mrcnn_hd.h"
#include "interp.h"
#include <mrcnn/mrcnn.h>

/* A view of a frame as the kernels read it (host or device pointers).
 * format is an mrcnn_pixel_format. Packed formats use plane 0; NV12 uses
 * planes 0 (Y) and 1 (interleaved U, V); I420 planes 0 (Y), 1 (U), 2 (V). */
typedef struct {
  int format;
  int width, height;
  const uint8_t *planes[3];
  int strides[3];               /* bytes per row */
} mrcnn_pp_src;

/* How a frame of `format` lies in memory: bytes per pixel of plane 0 (0 for
 * an unknown format), its planes, and each plane's row bytes and rows:
 * chroma planes at half resolution, rounded up, NV12's interleaved U and V
 * two bytes per chroma sample. */
MRCNN_HD int
mrcnn_pp_pixel_bytes (int format)
{
  switch (format) {
    case MRCNN_PIXEL_RGB: case MRCNN_PIXEL_BGR:
      return 3;
    case MRCNN_PIXEL_RGBA: case MRCNN_PIXEL_BGRA:
    case MRCNN_PIXEL_RGBX: case MRCNN_PIXEL_BGRX:
      return 4;
    case MRCNN_PIXEL_NV12: case MRCNN_PIXEL_I420: case MRCNN_PIXEL_GRAY8:
      return 1;
    default:
      return 0;
  }
}

MRCNN_HD int
mrcnn_pp_planes (int format)
{
  return format == MRCNN_PIXEL_I420 ? 3 : format == MRCNN_PIXEL_NV12 ? 2 : 1;
}

MRCNN_HD int
mrcnn_pp_plane_row_bytes (int format, int width, int plane)
{
  if (plane == 0)
    return width * mrcnn_pp_pixel_bytes (format);
  return format == MRCNN_PIXEL_NV12 ? (width + 1) / 2 * 2 : (width + 1) / 2;
}

MRCNN_HD int
mrcnn_pp_plane_rows (int format, int height, int plane)
{
  return plane == 0 || mrcnn_pp_planes (format) == 1 ? height
      : (height + 1) / 2;
}

/* Resize and normalization of one frame size. */
typedef struct {
  int in_w, in_h;               /* frame size */
  int out_w, out_h;             /* resized size, before padding */
  float scale_x, scale_y;       /* resampling scales: (float)in / out */
  float mean[3], std[3];        /* per RGB channel, on the 0..1 scale */
} mrcnn_pp_params;

/* torchvision's float32 resize factor of a frame (see the top comment). */
MRCNN_HD float
mrcnn_pp_scale_factor (int in_w, int in_h, float min_size, float max_size)
{
  float mn = (float) (in_w < in_h ? in_w : in_h);
  float mx = (float) (in_w < in_h ? in_h : in_w);
  float a = MRCNN_FMUL (1.0f / mn, min_size);
  float b = MRCNN_FMUL (1.0f / mx, max_size);
  return b < a ? b : a;
}

/* Resized size of an in_w x in_h frame for min_size / max_size (torchvision
 * defaults 800 / 1333). Either output may be 0 for extreme aspect ratios
 * (torch would fail there); callers reject such frames. */
MRCNN_HD void
mrcnn_pp_resized_size (int in_w, int in_h, float min_size, float max_size,
    int *out_w, int *out_h)
{
  double s = (double) mrcnn_pp_scale_factor (in_w, in_h, min_size, max_size);
  *out_w = (int) floor ((double) in_w * s);
  *out_h = (int) floor ((double) in_h * s);
}

/* Fills p for a frame of in_w x in_h. mean and std are copied. */
MRCNN_HD void
mrcnn_pp_params_init (mrcnn_pp_params *p, int in_w, int in_h,
    float min_size, float max_size, const float mean[3], const float std[3])
{
  int c;

  p->in_w = in_w;
  p->in_h = in_h;
  mrcnn_pp_resized_size (in_w, in_h, min_size, max_size, &p->out_w,
      &p->out_h);
  p->scale_x = p->out_w > 0 ? mrcnn_interp_scale (in_w, p->out_w) : 0.0f;
  p->scale_y = p->out_h > 0 ? mrcnn_interp_scale (in_h, p->out_h) : 0.0f;
  for (c = 0; c < 3; c++) {
    p->mean[c] = mean[c];
    p->std[c] = std[c];
  }
}

/* BT.601 limited range Y'CbCr -> 8-bit R'G'B', rounded to nearest and
 * clamped. Coefficients from Kr = 0.299, Kb = 0.114: luma scaled by 255/219,
 * chroma by 255/224 * 2 (1 - K). */
MRCNN_HD void
mrcnn_pp_yuv_to_rgb8 (int y, int u, int v, uint8_t rgb[3])
{
  const double cy = 255.0 / 219.0;
  const double crv = 255.0 / 112.0 * (1.0 - 0.299);
  const double cgu = 255.0 / 112.0 * (1.0 - 0.114) * 0.114 / 0.587;
  const double cgv = 255.0 / 112.0 * (1.0 - 0.299) * 0.299 / 0.587;
  const double cbu = 255.0 / 112.0 * (1.0 - 0.114);
  double yy = cy * (double) (y - 16);
  double uu = (double) (u - 128), vv = (double) (v - 128);
  double c[3];
  int i;

  c[0] = yy + crv * vv;
  c[1] = yy - cgu * uu - cgv * vv;
  c[2] = yy + cbu * uu;
  for (i = 0; i < 3; i++) {
    double r = floor (c[i] + 0.5);
    rgb[i] = (uint8_t) (r < 0.0 ? 0.0 : r > 255.0 ? 255.0 : r);
  }
}

/* The 8-bit RGB of pixel (x, y). Returns 0, or -1 for an unknown format
 * (then rgb is zeroed). */
MRCNN_HD int
mrcnn_pp_fetch_rgb8 (const mrcnn_pp_src *s, int x, int y, uint8_t rgb[3])
{
  const uint8_t *row = s->planes[0] + (size_t) y * (size_t) s->strides[0];
  const uint8_t *p;
  int u, v;

  switch (s->format) {
    case MRCNN_PIXEL_RGB:
      p = row + 3 * (size_t) x;
      rgb[0] = p[0]; rgb[1] = p[1]; rgb[2] = p[2];
      return 0;
    case MRCNN_PIXEL_BGR:
      p = row + 3 * (size_t) x;
      rgb[0] = p[2]; rgb[1] = p[1]; rgb[2] = p[0];
      return 0;
    case MRCNN_PIXEL_RGBA:
    case MRCNN_PIXEL_RGBX:
      p = row + 4 * (size_t) x;
      rgb[0] = p[0]; rgb[1] = p[1]; rgb[2] = p[2];
      return 0;
    case MRCNN_PIXEL_BGRA:
    case MRCNN_PIXEL_BGRX:
      p = row + 4 * (size_t) x;
      rgb[0] = p[2]; rgb[1] = p[1]; rgb[2] = p[0];
      return 0;
    case MRCNN_PIXEL_GRAY8:
      rgb[0] = rgb[1] = rgb[2] = row[x];
      return 0;
    case MRCNN_PIXEL_NV12:
      p = s->planes[1] + (size_t) (y >> 1) * (size_t) s->strides[1]
          + 2 * (size_t) (x >> 1);
      u = p[0];
      v = p[1];
      mrcnn_pp_yuv_to_rgb8 (row[x], u, v, rgb);
      return 0;
    case MRCNN_PIXEL_I420:
      u = s->planes[1][(size_t) (y >> 1) * (size_t) s->strides[1] + (x >> 1)];
      v = s->planes[2][(size_t) (y >> 1) * (size_t) s->strides[2] + (x >> 1)];
      mrcnn_pp_yuv_to_rgb8 (row[x], u, v, rgb);
      return 0;
    default:
      rgb[0] = rgb[1] = rgb[2] = 0;
      return -1;
  }
}

/* Pixel (x, y) as to_tensor gives it: (float)u8 / 255.0f per RGB channel. */
MRCNN_HD void
mrcnn_pp_fetch_rgb (const mrcnn_pp_src *s, int x, int y, float rgb[3])
{
  uint8_t c[3];

  mrcnn_pp_fetch_rgb8 (s, x, y, c);
  rgb[0] = (float) c[0] / 255.0f;
  rgb[1] = (float) c[1] / 255.0f;
  rgb[2] = (float) c[2] / 255.0f;
}

/* Pixel (x, y) normalized: ((float)u8 / 255 - mean) / std per channel. */
MRCNN_HD void
mrcnn_pp_fetch_normalized (const mrcnn_pp_src *s, const mrcnn_pp_params *p,
    int x, int y, float out[3])
{
  float rgb[3];
  int c;

  mrcnn_pp_fetch_rgb (s, x, y, rgb);
  for (c = 0; c < 3; c++)
    out[c] = (rgb[c] - p->mean[c]) / p->std[c];
}

/* The backbone input at resized pixel (ox, oy), 0 <= ox < p->out_w,
 * 0 <= oy < p->out_h, as three channel values. Pixels of the padding (up to
 * the multiple of 32) are zeros, which the caller writes. */
MRCNN_HD void
mrcnn_pp_pixel (const mrcnn_pp_src *s, const mrcnn_pp_params *p, int ox,
    int oy, float out[3])
{
  mrcnn_lerp ly, lx;
  float n00[3], n01[3], n10[3], n11[3];
  int c;

  /* Same size: the interpolation's weights are 1 and 0 on the same pixel
   * (mrcnn_interp_linear), which gives that pixel exactly; skip the other
   * three fetches. */
  if (p->in_w == p->out_w && p->in_h == p->out_h) {
    mrcnn_pp_fetch_normalized (s, p, ox, oy, out);
    return;
  }
  mrcnn_interp_linear (p->scale_y, oy, p->in_h, p->out_h, &ly);
  mrcnn_interp_linear (p->scale_x, ox, p->in_w, p->out_w, &lx);
  mrcnn_pp_fetch_normalized (s, p, lx.i0, ly.i0, n00);
  mrcnn_pp_fetch_normalized (s, p, lx.i1, ly.i0, n01);
  mrcnn_pp_fetch_normalized (s, p, lx.i0, ly.i1, n10);
  mrcnn_pp_fetch_normalized (s, p, lx.i1, ly.i1, n11);
  for (c = 0; c < 3; c++)
    out[c] = mrcnn_lerp2_nchw (&ly, &lx, n00[c], n01[c], n10[c], n11[c]);
}

#endif /* MRCNN_KERNELS_PREPROCESS_H */
