/* ResNet body (torchvision's resnet with frozen batch norm folded into the
 * convolutions at load time). Widths come from mrcnn_arch. */
#include <stdio.h>

#include "engine_priv.h"

static mrcnn_status
make_conv (mrcnn_engine *e, const char *conv, const char *bn, int has_bias,
    int stride, int pad, int relu, mrcnn_conv **out, mrcnn_error *err)
{
  mrcnn_folded_conv w;
  MRCNN_TRY (mrcnn_fold_conv (e->model, conv, bn, has_bias, &w, err));
  mrcnn_conv_desc d = { &w, stride, pad, relu };
  mrcnn_status st = e->be->ops->conv_new (e->be, &d, out, err);
  mrcnn_folded_conv_clear (&w);
  return st;
}

mrcnn_status
mrcnn_body_init (mrcnn_engine *e, mrcnn_error *err)
{
  const mrcnn_arch *a = e->arch;
  int total = a->blocks[0] + a->blocks[1] + a->blocks[2] + a->blocks[3];
  e->blocks = g_new0 (mrcnn_block_layers, total);
  MRCNN_TRY (make_conv (e, "backbone.body.conv1", "backbone.body.bn1", 0, 2, 3,
          1, &e->stem, err));
  for (int l = 0, bi = 0; l < 4; l++) {
    for (int i = 0; i < a->blocks[l]; i++, bi++) {
      const mrcnn_block_spec *s = &a->block[bi];
      mrcnn_block_layers *b = &e->blocks[bi];
      char c[160], n[160];
#define NAMES(x, y) \
      snprintf (c, sizeof c, "backbone.body.layer%d.%d.%s", l + 1, i, x); \
      snprintf (n, sizeof n, "backbone.body.layer%d.%d.%s", l + 1, i, y)
      if (a->bottleneck) {
        /* torchvision puts the stride on the 3x3 conv (ResNet v1.5) */
        NAMES ("conv1", "bn1");
        MRCNN_TRY (make_conv (e, c, n, 0, 1, 0, 1, &b->conv1, err));
        NAMES ("conv2", "bn2");
        MRCNN_TRY (make_conv (e, c, n, 0, s->stride, 1, 1, &b->conv2, err));
        NAMES ("conv3", "bn3");
        MRCNN_TRY (make_conv (e, c, n, 0, 1, 0, 1, &b->conv3, err));
      } else {
        NAMES ("conv1", "bn1");
        MRCNN_TRY (make_conv (e, c, n, 0, s->stride, 1, 1, &b->conv1, err));
        NAMES ("conv2", "bn2");
        MRCNN_TRY (make_conv (e, c, n, 0, 1, 1, 1, &b->conv2, err));
      }
      if (s->has_downsample) {
        NAMES ("downsample.0", "downsample.1");
        MRCNN_TRY (make_conv (e, c, n, 0, s->stride, 0, 0, &b->down, err));
      }
#undef NAMES
    }
  }
  return MRCNN_OK;
}

void
mrcnn_body_free (mrcnn_engine *e)
{
  const mrcnn_arch *a = e->arch;
  mrcnn_backend *be = e->be;
  be->ops->conv_free (be, e->stem);
  e->stem = NULL;
  if (!e->blocks)
    return;
  int total = a->blocks[0] + a->blocks[1] + a->blocks[2] + a->blocks[3];
  for (int i = 0; i < total; i++) {
    be->ops->conv_free (be, e->blocks[i].conv1);
    be->ops->conv_free (be, e->blocks[i].conv2);
    be->ops->conv_free (be, e->blocks[i].conv3);
    be->ops->conv_free (be, e->blocks[i].down);
  }
  g_free (e->blocks);
  e->blocks = NULL;
}

size_t
mrcnn_body_max_activation (const mrcnn_arch *a, size_t area)
{
  size_t m = (size_t) mrcnn_ch_pad (a->stem_ch) * area / 4;
  int bi = 0;
  for (int l = 0; l < 4; l++) {
    size_t in_stride = l == 0 ? 4 : (size_t) 4 << (l - 1);
    for (int i = 0; i < a->blocks[l]; i++, bi++) {
      const mrcnn_block_spec *s = &a->block[bi];
      size_t ch = mrcnn_ch_pad (MAX (s->in_ch, MAX (s->mid_ch, s->out_ch)));
      m = MAX (m, ch * area / (in_stride * in_stride));
    }
  }
  return m;
}

/* Picks a buffer index not in the used set. */
static int
free_slot (int a, int b, int c)
{
  for (int i = 0; i < 4; i++)
    if (i != a && i != b && i != c)
      return i;
  return -1;
}

mrcnn_status
mrcnn_body_run (const mrcnn_engine *e, mrcnn_context *ctx,
    const mrcnn_fmap *input, mrcnn_fmap laterals[MRCNN_FPN_LEVELS],
    mrcnn_error *err)
{
  const mrcnn_arch *a = e->arch;
  mrcnn_backend *be = e->be;
  /* the body's maps go only from one convolution (or the stem's pooling)
   * to the next: stored in the precision's own type */
  mrcnn_fmap x = { ctx->act[1], .layout = MRCNN_LAYOUT_NATIVE,
    .store = MRCNN_STORE_REDUCED };
  mrcnn_fmap t = x;
  t.data = ctx->act[0];
  MRCNN_TRY (be->ops->conv_run (be, ctx->q, e->stem, input, 0, &t, err));
  MRCNN_TRY (be->ops->max_pool (be, ctx->q, &t, 3, 2, 1, &x, err));
  int xi = 1;
  for (int l = 0, bi = 0; l < 4; l++) {
    for (int i = 0; i < a->blocks[l]; i++, bi++) {
      const mrcnn_block_layers *b = &e->blocks[bi];
      int t1 = free_slot (xi, -1, -1);
      int t2 = free_slot (xi, t1, -1);
      int di = free_slot (xi, t1, t2);
      mrcnn_fmap f1 = x, f2 = x, id = x;
      f1.data = ctx->act[t1];
      f2.data = ctx->act[t2];
      if (b->down) {
        id.data = ctx->act[di];
        MRCNN_TRY (be->ops->conv_run (be, ctx->q, b->down, &x, 0, &id, err));
      }
      MRCNN_TRY (be->ops->conv_run (be, ctx->q, b->conv1, &x, 0, &f1, err));
      if (b->conv3) {
        MRCNN_TRY (be->ops->conv_run (be, ctx->q, b->conv2, &f1, 0, &f2, err));
        MRCNN_TRY (be->ops->conv_run (be, ctx->q, b->conv3, &f2, 1, &id, err));
      } else {
        MRCNN_TRY (be->ops->conv_run (be, ctx->q, b->conv2, &f1, 1, &id, err));
      }
      x = id;
      xi = b->down ? di : xi;
    }
    MRCNN_TRY (mrcnn_fpn_lateral (e, ctx, l, &x, &laterals[l], err));
  }
  return MRCNN_OK;
}
