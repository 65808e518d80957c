/* ResNet body (torchvision's resnet with frozen batch norm folded into the
 * convolutions at load time). Widths come from mrcnn_arch.
 *
 * Weights (mrcnn_body): the stem convolution and, per residual block, its
 * two (BasicBlock) or three (Bottleneck) convolutions and its downsampling
 * one, each with its batch norm folded in; the model's mrcnn_arch for the
 * blocks' shapes.
 * Scratch (mrcnn_body_scratch): act[4], the buffers the activations go
 * round (a block reads one and writes up to three), each as large as the
 * largest activation of the plan's frames x frame_area input. The body's
 * stage outputs go straight into the FPN's lateral convolutions and need no
 * buffers of their own. */
#include <stdio.h>

#include "engine_priv.h"

typedef struct {
  mrcnn_conv *conv1, *conv2, *conv3, *down;
} mrcnn_block_layers;

struct mrcnn_body {
  const mrcnn_arch *arch;      /* the model's */
  mrcnn_conv *stem;
  mrcnn_block_layers *blocks;  /* sum of arch->blocks, layer-major */
  int nblocks;
};

struct mrcnn_body_scratch {
  float *act[4];
};

static mrcnn_status
body_load (mrcnn_engine *e, mrcnn_error *err)
{
  const mrcnn_model *m = e->model;
  const mrcnn_arch *a = &m->arch;
  mrcnn_backend *be = e->be;
  mrcnn_body *w = e->body = g_new0 (mrcnn_body, 1);
  w->arch = a;
  w->nblocks = a->blocks[0] + a->blocks[1] + a->blocks[2] + a->blocks[3];
  w->blocks = g_new0 (mrcnn_block_layers, w->nblocks);
  mrcnn_status st = mrcnn_conv_load (be, m, "backbone.body.conv1",
      "backbone.body.bn1", 0, 2, 3, 1, &w->stem, err);
  for (int l = 0, bi = 0; st == MRCNN_OK && l < 4; l++) {
    for (int i = 0; st == MRCNN_OK && i < a->blocks[l]; i++, bi++) {
      const mrcnn_block_spec *s = &a->block[bi];
      mrcnn_block_layers *b = &w->blocks[bi];
      char c[160], n[160];
#define NAMES(x, y) \
      snprintf (c, sizeof c, "backbone.body.layer%d.%d.%s", l + 1, i, x); \
      snprintf (n, sizeof n, "backbone.body.layer%d.%d.%s", l + 1, i, y)
#define LOAD(stride, pad, relu, out) \
      if (st == MRCNN_OK) \
        st = mrcnn_conv_load (be, m, c, n, 0, stride, pad, relu, out, err)
      if (a->bottleneck) {
        /* torchvision puts the stride on the 3x3 conv (ResNet v1.5) */
        NAMES ("conv1", "bn1");
        LOAD (1, 0, 1, &b->conv1);
        NAMES ("conv2", "bn2");
        LOAD (s->stride, 1, 1, &b->conv2);
        NAMES ("conv3", "bn3");
        LOAD (1, 0, 1, &b->conv3);
      } else {
        NAMES ("conv1", "bn1");
        LOAD (s->stride, 1, 1, &b->conv1);
        NAMES ("conv2", "bn2");
        LOAD (1, 1, 1, &b->conv2);
      }
      if (s->has_downsample) {
        NAMES ("downsample.0", "downsample.1");
        LOAD (s->stride, 0, 0, &b->down);
      }
#undef LOAD
#undef NAMES
    }
  }
  return st;
}

static void
body_unload (mrcnn_engine *e)
{
  mrcnn_body *w = e->body;
  mrcnn_backend *be = e->be;
  if (!w)
    return;
  be->ops->conv_free (be, w->stem);
  for (int i = 0; i < w->nblocks; i++) {
    be->ops->conv_free (be, w->blocks[i].conv1);
    be->ops->conv_free (be, w->blocks[i].conv2);
    be->ops->conv_free (be, w->blocks[i].conv3);
    be->ops->conv_free (be, w->blocks[i].down);
  }
  g_free (w->blocks);
  g_clear_pointer (&e->body, g_free);
}

/* Floats of a map of ch channels (padded) at `stride` on an input of area
 * pixels (both sides multiples of 32, so exact at every stride). */
static size_t
map_floats (int ch, size_t area, size_t stride)
{
  return (size_t) mrcnn_ch_pad (ch) * area / (stride * stride);
}

/* The largest activation of the body on an input of `area` pixels: the
 * stem's output, or the largest map a block reads or writes, each at its
 * own stride (the stride is on the first convolution of a BasicBlock, on
 * the 3x3 of a Bottleneck). */
static size_t
max_activation (const mrcnn_arch *a, size_t area)
{
  size_t m = map_floats (a->stem_ch, area, 2);
  size_t stride = 4;                   /* after the stem's pooling */
  for (int bi = 0, l = 0; l < 4; l++) {
    for (int i = 0; i < a->blocks[l]; i++, bi++) {
      const mrcnn_block_spec *s = &a->block[bi];
      const size_t out = stride * (size_t) s->stride;
      m = MAX (m, map_floats (s->in_ch, area, stride));
      m = MAX (m, map_floats (s->mid_ch, area, a->bottleneck ? stride : out));
      m = MAX (m, map_floats (a->bottleneck ? s->mid_ch : s->out_ch, area,
              out));
      m = MAX (m, map_floats (s->out_ch, area, out));
      stride = out;
    }
  }
  return m;
}

static mrcnn_status
body_plan (const mrcnn_engine *e, mrcnn_context *ctx, mrcnn_error *err)
{
  mrcnn_body_scratch *s = ctx->body = g_new0 (mrcnn_body_scratch, 1);
  size_t act = (size_t) ctx->plan.frames * max_activation (e->body->arch,
      ctx->plan.frame_area);
  /* the body's own: its maps are REDUCED (mrcnn_body_run) */
  for (int i = 0; i < 4; i++)
    mrcnn_plan_buffer (ctx, act, MRCNN_STAGE_BACKBONE, MRCNN_STAGE_BACKBONE,
        1, &s->act[i]);
  return MRCNN_OK;
}

static void
body_scratch_free (const mrcnn_engine *e, mrcnn_context *ctx)
{
  g_clear_pointer (&ctx->body, g_free);
}

const mrcnn_stage_parts mrcnn_body_parts = {
  body_load, body_unload, body_plan, body_scratch_free
};

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
mrcnn_body_run (mrcnn_backend *be, mrcnn_queue *q, const mrcnn_body *w,
    mrcnn_body_scratch *s, const mrcnn_fpn *fpn, mrcnn_fpn_scratch *fpn_s,
    const mrcnn_fmap *input, mrcnn_fmap laterals[MRCNN_FPN_LEVELS],
    mrcnn_error *err)
{
  const mrcnn_arch *a = w->arch;
  /* the body's maps go only from one convolution (or the stem's pooling)
   * to the next: stored in the precision's own type */
  mrcnn_fmap x = { s->act[1], .layout = MRCNN_LAYOUT_NATIVE,
    .store = MRCNN_STORE_REDUCED };
  mrcnn_fmap t = x;
  t.data = s->act[0];
  MRCNN_TRY (be->ops->conv_run (be, q, w->stem, input, 0, &t, err));
  MRCNN_TRY (be->ops->max_pool (be, q, &t, 3, 2, 1, &x, err));
  int xi = 1;
  for (int l = 0, bi = 0; l < 4; l++) {
    for (int i = 0; i < a->blocks[l]; i++, bi++) {
      const mrcnn_block_layers *b = &w->blocks[bi];
      int t1 = free_slot (xi, -1, -1);
      int t2 = free_slot (xi, t1, -1);
      int di = free_slot (xi, t1, t2);
      mrcnn_fmap f1 = x, f2 = x, id = x;
      f1.data = s->act[t1];
      f2.data = s->act[t2];
      if (b->down) {
        id.data = s->act[di];
        MRCNN_TRY (be->ops->conv_run (be, q, b->down, &x, 0, &id, err));
      }
      MRCNN_TRY (be->ops->conv_run (be, q, b->conv1, &x, 0, &f1, err));
      if (b->conv3) {
        MRCNN_TRY (be->ops->conv_run (be, q, b->conv2, &f1, 0, &f2, err));
        MRCNN_TRY (be->ops->conv_run (be, q, b->conv3, &f2, 1, &id, err));
      } else {
        MRCNN_TRY (be->ops->conv_run (be, q, b->conv2, &f1, 1, &id, err));
      }
      x = id;
      xi = b->down ? di : xi;
    }
    MRCNN_TRY (mrcnn_fpn_lateral (be, q, fpn, fpn_s, l, &x, &laterals[l],
            err));
  }
  return MRCNN_OK;
}
