/* Runs the kernel headers on inputs written by tv_check.py and writes the
 * outputs back, so that the Python side can compare them with torchvision.
 *
 *   tv_driver OP IN OUT
 *
 * IN and OUT are flat little-endian streams of int32 and float32 values
 * whose layout per OP is documented next to each handler (and mirrored in
 * tv_check.py). Exit status 0 on success, 2 on a malformed input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anchors.h"
#include "box_decode.h"
#include "interp.h"
#include "mask_paste.h"
#include "nms.h"
#include "preprocess.h"
#include "roi_align.h"
#include "topk.h"

typedef struct {
  unsigned char *data;
  size_t size, pos;
  FILE *out;
  int bad;
} io;

static int32_t
rd_i (io *s)
{
  int32_t v = 0;
  if (s->pos + 4 > s->size) {
    s->bad = 1;
    return 0;
  }
  memcpy (&v, s->data + s->pos, 4);
  s->pos += 4;
  return v;
}

static float
rd_f (io *s)
{
  float v = 0;
  if (s->pos + 4 > s->size) {
    s->bad = 1;
    return 0;
  }
  memcpy (&v, s->data + s->pos, 4);
  s->pos += 4;
  return v;
}

static double
rd_d (io *s)
{
  double v = 0;
  if (s->pos + 8 > s->size) {
    s->bad = 1;
    return 0;
  }
  memcpy (&v, s->data + s->pos, 8);
  s->pos += 8;
  return v;
}

/* n floats into a new array (NULL when the input is short) */
static float *
rd_fv (io *s, size_t n)
{
  float *v;
  if (s->pos + 4 * n > s->size) {
    s->bad = 1;
    return NULL;
  }
  v = malloc (4 * n + 4);
  memcpy (v, s->data + s->pos, 4 * n);
  s->pos += 4 * n;
  return v;
}

static void
wr_i (io *s, int32_t v)
{
  fwrite (&v, 4, 1, s->out);
}

static void
wr_f (io *s, float v)
{
  fwrite (&v, 4, 1, s->out);
}

/* in: C H W OH OW mode(0 bilinear, 1 nearest), C*H*W floats
 * out: C*OH*OW floats (C == 1 takes the single-channel form) */
static int
op_interp (io *s)
{
  int C = rd_i (s), H = rd_i (s), W = rd_i (s), OH = rd_i (s), OW = rd_i (s);
  int mode = rd_i (s), c, y, x;
  float *v = s->bad ? NULL : rd_fv (s, (size_t) C * H * W);
  float sy = mrcnn_interp_scale (H, OH), sx = mrcnn_interp_scale (W, OW);

  if (!v)
    return 2;
  for (c = 0; c < C; c++)
    for (y = 0; y < OH; y++)
      for (x = 0; x < OW; x++) {
        const float *p = v + (size_t) c * H * W;
        mrcnn_lerp ly, lx;
        float r;
        if (mode == 1) {
          r = p[mrcnn_interp_nearest (sy, y, H, OH) * W
              + mrcnn_interp_nearest (sx, x, W, OW)];
        } else {
          mrcnn_interp_linear (sy, y, H, OH, &ly);
          mrcnn_interp_linear (sx, x, W, OW, &lx);
          r = (C == 1 ? mrcnn_lerp2_1ch : mrcnn_lerp2_nchw) (&ly, &lx,
              p[ly.i0 * W + lx.i0], p[ly.i0 * W + lx.i1],
              p[ly.i1 * W + lx.i0], p[ly.i1 * W + lx.i1]);
        }
        wr_f (s, r);
      }
  free (v);
  return 0;
}

/* in: format W H stride min_size max_size, mean[3] std[3] (float),
 *     then the planes: H * stride bytes (packed / Y), and for NV12 / I420
 *     the chroma planes with strides stride (NV12) or stride / 2 (I420),
 *     rows (H + 1) / 2, padded to 4 bytes
 * out: out_w out_h (int), 3 * out_h * out_w floats (CHW) */
static int
op_preprocess (io *s)
{
  int fmt = rd_i (s), W = rd_i (s), H = rd_i (s), stride = rd_i (s);
  float min_size = (float) rd_i (s), max_size = (float) rd_i (s);
  float mean[3], stdv[3];
  mrcnn_pp_src src;
  mrcnn_pp_params p;
  size_t need;
  int c, y, x;

  for (c = 0; c < 3; c++)
    mean[c] = rd_f (s);
  for (c = 0; c < 3; c++)
    stdv[c] = rd_f (s);
  memset (&src, 0, sizeof src);
  src.format = fmt;
  src.width = W;
  src.height = H;
  src.strides[0] = stride;
  need = (size_t) H * stride;
  src.planes[0] = s->data + s->pos;
  if (fmt == MRCNN_PIXEL_NV12) {
    src.planes[1] = src.planes[0] + need;
    src.strides[1] = stride;
    need += (size_t) ((H + 1) / 2) * stride;
  } else if (fmt == MRCNN_PIXEL_I420) {
    src.strides[1] = src.strides[2] = stride / 2;
    src.planes[1] = src.planes[0] + need;
    src.planes[2] = src.planes[1] + (size_t) ((H + 1) / 2) * (stride / 2);
    need += 2 * (size_t) ((H + 1) / 2) * (stride / 2);
  }
  if (s->bad || s->pos + need > s->size)
    return 2;
  mrcnn_pp_params_init (&p, W, H, min_size, max_size, mean, stdv);
  wr_i (s, p.out_w);
  wr_i (s, p.out_h);
  {
    float *o = malloc (sizeof (float) * 3 * (size_t) p.out_w * p.out_h + 4);
    for (y = 0; y < p.out_h; y++)
      for (x = 0; x < p.out_w; x++) {
        float v[3];
        mrcnn_pp_pixel (&src, &p, x, y, v);
        for (c = 0; c < 3; c++)
          o[((size_t) c * p.out_h + y) * p.out_w + x] = v[c];
      }
    fwrite (o, sizeof (float), 3 * (size_t) p.out_w * p.out_h, s->out);
    free (o);
  }
  return 0;
}

/* in: N min_size max_size, N x (W H); out: N x (out_w out_h) */
static int
op_sizes (io *s)
{
  int N = rd_i (s), mn = rd_i (s), mx = rd_i (s), i;
  for (i = 0; i < N && !s->bad; i++) {
    int W = rd_i (s), H = rd_i (s), ow, oh;
    mrcnn_pp_resized_size (W, H, (float) mn, (float) mx, &ow, &oh);
    wr_i (s, ow);
    wr_i (s, oh);
  }
  return s->bad ? 2 : 0;
}

/* in: L R pad_h pad_w, L x (feat_h feat_w), L sizes, R ratios (float)
 * out: all anchors, level by level, location-major, 4 floats each */
static int
op_anchors (io *s)
{
  int L = rd_i (s), R = rd_i (s), ph = rd_i (s), pw = rd_i (s), l, r;
  int fh[16], fw[16];
  float sizes[16], ratios[16];

  if (L < 1 || L > 16 || R < 1 || R > 16)
    return 2;
  for (l = 0; l < L; l++) {
    fh[l] = rd_i (s);
    fw[l] = rd_i (s);
  }
  for (l = 0; l < L; l++)
    sizes[l] = rd_f (s);
  for (r = 0; r < R; r++)
    ratios[r] = rd_f (s);
  if (s->bad)
    return 2;
  for (l = 0; l < L; l++) {
    float base[16][4];
    int sx = mrcnn_anchor_stride (pw, fw[l]), sy = mrcnn_anchor_stride (ph,
        fh[l]), gx, gy, k;
    for (r = 0; r < R; r++)
      mrcnn_anchor_base (sizes[l], ratios[r], base[r]);
    for (gy = 0; gy < fh[l]; gy++)
      for (gx = 0; gx < fw[l]; gx++)
        for (r = 0; r < R; r++) {
          float a[4];
          mrcnn_anchor_at (base[r], gx, gy, sx, sy, a);
          for (k = 0; k < 4; k++)
            wr_f (s, a[k]);
        }
  }
  return 0;
}

/* in: N img_w img_h, weights[4] min_size (float), N refs, N deltas
 * out: N decoded, N clipped (4 floats), N keep flags (int) */
static int
op_decode (io *s)
{
  int N = rd_i (s), iw = rd_i (s), ih = rd_i (s), i, k;
  float wt[4], min_size, *ref, *del, *out;

  for (k = 0; k < 4; k++)
    wt[k] = rd_f (s);
  min_size = rd_f (s);
  ref = s->bad ? NULL : rd_fv (s, 4 * (size_t) N);
  del = ref ? rd_fv (s, 4 * (size_t) N) : NULL;
  if (!ref || !del)
    return 2;
  out = calloc (8 * (size_t) N + 1, sizeof (float));
  for (i = 0; i < N; i++)
    mrcnn_box_decode (ref + 4 * i, del + 4 * i, wt, out + 4 * i);
  fwrite (out, sizeof (float), 4 * (size_t) N, s->out);
  for (i = 0; i < N; i++) {
    float *b = out + 4 * ((size_t) N + i);
    memcpy (b, out + 4 * i, 4 * sizeof (float));
    mrcnn_box_clip (b, iw, ih);
  }
  fwrite (out + 4 * (size_t) N, sizeof (float), 4 * (size_t) N, s->out);
  for (i = 0; i < N; i++)
    wr_i (s, mrcnn_box_keep_size (out + 4 * ((size_t) N + i), min_size));
  free (ref);
  free (del);
  free (out);
  return 0;
}

/* in: N batched, thr (double), N boxes sorted by score, N group ids (int)
 *     when batched
 * out: K, K indices into the sorted boxes */
static int
op_nms (io *s)
{
  int N = rd_i (s), batched = rd_i (s), i, k, n;
  double thr = rd_d (s);
  float *b = s->bad ? NULL : rd_fv (s, 4 * (size_t) N), *area;
  uint8_t *sup;
  int *keep;

  if (!b)
    return 2;
  if (batched) {
    float mx = -INFINITY;
    for (i = 0; i < 4 * N; i++)
      mx = b[i] > mx ? b[i] : mx;
    for (i = 0; i < N; i++) {
      int g = rd_i (s);
      float off = mrcnn_nms_group_offset (mx, g);
      mrcnn_box_offset (b + 4 * i, off, b + 4 * i);
    }
    if (s->bad)
      return 2;
  }
  area = malloc (sizeof (float) * (size_t) N + 4);
  sup = malloc ((size_t) N + 1);
  keep = malloc (sizeof (int) * (size_t) N + 4);
  n = mrcnn_nms_sorted (b, N, mrcnn_nms_threshold (thr), area, sup, keep);
  wr_i (s, n);
  for (k = 0; k < n; k++)
    wr_i (s, keep[k]);
  free (b);
  free (area);
  free (sup);
  free (keep);
  return 0;
}

/* in: C H W K PH PW sampling aligned, scale (float), C*H*W feature,
 *     K rois (4 floats)
 * out: K*C*PH*PW floats */
static int
op_roi_align (io *s)
{
  int C = rd_i (s), H = rd_i (s), W = rd_i (s), K = rd_i (s), PH = rd_i (s);
  int PW = rd_i (s), sr = rd_i (s), al = rd_i (s), k, c, y, x;
  float scale = rd_f (s);
  float *f = s->bad ? NULL : rd_fv (s, (size_t) C * H * W);
  float *r = f ? rd_fv (s, 4 * (size_t) K) : NULL;

  if (!r)
    return 2;
  for (k = 0; k < K; k++) {
    mrcnn_roi_grid g;
    mrcnn_roi_grid_init (r + 4 * k, scale, PH, PW, sr, al, &g);
    for (c = 0; c < C; c++)
      for (y = 0; y < PH; y++)
        for (x = 0; x < PW; x++)
          wr_f (s, mrcnn_roi_align_one (f + (size_t) c * H * W, H, W, &g, y,
                  x));
  }
  free (f);
  free (r);
  return 0;
}

/* in: K k_min k_max, K boxes; out: K level indices */
static int
op_levels (io *s)
{
  int K = rd_i (s), kmin = rd_i (s), kmax = rd_i (s), k;
  float *b = s->bad ? NULL : rd_fv (s, 4 * (size_t) K);
  if (!b)
    return 2;
  for (k = 0; k < K; k++)
    wr_i (s, mrcnn_roi_level (b + 4 * k, kmin, kmax));
  free (b);
  return 0;
}

/* in: N M im_w im_h, N*M*M masks, N boxes; out: N*im_h*im_w floats */
static int
op_paste (io *s)
{
  int N = rd_i (s), M = rd_i (s), iw = rd_i (s), ih = rd_i (s), n, x, y;
  float *m = s->bad ? NULL : rd_fv (s, (size_t) N * M * M);
  float *b = m ? rd_fv (s, 4 * (size_t) N) : NULL;
  float *row = malloc (sizeof (float) * (size_t) iw + 4);

  if (!b)
    return 2;
  for (n = 0; n < N; n++) {
    mrcnn_paste_geom g;
    mrcnn_paste_geometry (b + 4 * n, M, iw, ih, &g);
    for (y = 0; y < ih; y++) {
      for (x = 0; x < iw; x++)
        row[x] = mrcnn_paste_value (m + (size_t) n * M * M, M, &g, x, y);
      fwrite (row, sizeof (float), (size_t) iw, s->out);
    }
  }
  free (m);
  free (b);
  free (row);
  return 0;
}

/* torch.topk (largest, sorted) and torch.sort (descending) orders of equal
 * values, many cases per call.
 * in: cases, then per case: mode (0 topk, 1 sort) n k, n floats
 * out: per case: the k (topk) or n (sort) indices in torch's order */
static int
op_rank (io *s)
{
  int cases = rd_i (s);
  for (int c = 0; c < cases && !s->bad; c++) {
    int mode = rd_i (s), n = rd_i (s), k = rd_i (s);
    float *v = s->bad || n < 0 ? NULL : rd_fv (s, (size_t) n);
    if (!v)
      return 2;
    mrcnn_rank_item *it = malloc (sizeof *it * (size_t) (n + 1));
    for (int j = 0; j < n; j++)
      it[j] = (mrcnn_rank_item) { v[j], j };
    int m = n;
    if (mode == 0)
      m = mrcnn_rank_topk (it, n, k);
    else
      mrcnn_rank_sort (it, n);
    for (int j = 0; j < m; j++)
      wr_i (s, it[j].i);
    free (it);
    free (v);
  }
  return s->bad ? 2 : 0;
}

int
main (int argc, char **argv)
{
  static const struct {
    const char *name;
    int (*fn) (io *);
  } ops[] = {
    { "interp", op_interp }, { "preprocess", op_preprocess },
    { "sizes", op_sizes },
    { "anchors", op_anchors }, { "decode", op_decode }, { "nms", op_nms },
    { "roi_align", op_roi_align }, { "levels", op_levels },
    { "paste", op_paste }, { "rank", op_rank },
  };
  io s;
  FILE *in;
  long len;
  size_t i;
  int rc = 2;

  if (argc != 4) {
    fprintf (stderr, "usage: %s OP IN OUT\n", argv[0]);
    return 2;
  }
  memset (&s, 0, sizeof s);
  in = fopen (argv[2], "rb");
  if (!in || fseek (in, 0, SEEK_END) != 0 || (len = ftell (in)) < 0) {
    fprintf (stderr, "cannot read %s\n", argv[2]);
    return 2;
  }
  rewind (in);
  s.size = (size_t) len;
  s.data = malloc (s.size + 1);
  if (fread (s.data, 1, s.size, in) != s.size) {
    fprintf (stderr, "short read on %s\n", argv[2]);
    return 2;
  }
  fclose (in);
  s.out = fopen (argv[3], "wb");
  if (!s.out) {
    fprintf (stderr, "cannot write %s\n", argv[3]);
    return 2;
  }
  for (i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (strcmp (ops[i].name, argv[1]) == 0)
      rc = ops[i].fn (&s);
  if (fclose (s.out) != 0)
    rc = 2;
  if (rc)
    fprintf (stderr, "%s: bad op or malformed input\n", argv[1]);
  free (s.data);
  return rc;
}
