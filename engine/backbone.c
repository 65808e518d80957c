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
 * buffers of their own.
 *
 * At int8 (on a backend with the quantize op) a map whose readers are all
 * int8 convolutions with the same non-negative range is stored U8: the
 * stem's output and its pooling, read by the first block; inside a block,
 * the output of conv1 (and conv2) that the next convolution reads;
 * and the blocks' outputs, which the next block reads twice (its conv1 and,
 * as the identity, the accumulation of its last convolution) along with its
 * downsampling and the FPN's lateral convolution at the end of a stage (all
 * read the same map, so their calibrations agree). A block with a
 * downsampling convolution accumulates into that convolution's float32
 * output (its range is not calibrated): its output is float32 and quantized
 * once for the next block's readers. Where the ranges do not agree (a model
 * that keeps one of the readers in float32), the map stays float32. */
#include <stdio.h>

#include "engine_priv.h"

typedef struct {
  mrcnn_conv *conv1, *conv2, *conv3, *down;
  /* the maps stored U8 (plan_u8), by the quant of each (off: not U8) */
  mrcnn_quant mid_q[2];  /* conv1's output (and conv2's in a Bottleneck) */
  mrcnn_quant out_q;     /* the block's output */
  mrcnn_quant in_q;      /* its input's range (conv1's quant) */
  int in_u8;             /* the block reads its input stored U8 ... */
  int quantize_in;       /* ... which it quantizes first (with in_q) from
                          * the float32 output of the block before */
} mrcnn_block_layers;

struct mrcnn_body {
  const mrcnn_arch *arch;      /* the model's */
  mrcnn_conv *stem;
  int stem_u8;                 /* the stem (and its pooling) write U8 */
  mrcnn_block_layers *blocks;  /* sum of arch->blocks, layer-major */
  int nblocks;
};

struct mrcnn_body_scratch {
  float *act[4];
};

static mrcnn_quant
layer_quant (const mrcnn_model *m, int l, int i, const char *conv)
{
  char c[160];
  snprintf (c, sizeof c, "backbone.body.layer%d.%d.%s", l + 1, i, conv);
  return mrcnn_model_layer_quant (m, c);
}

/* The FPN's lateral convolution of stage l. */
static mrcnn_quant
lateral_quant (const mrcnn_model *m, int l)
{
  char c[160];
  snprintf (c, sizeof c, "backbone.fpn.inner_blocks.%d.0", l);
  return mrcnn_model_layer_quant (m, c);
}

/* Which maps are stored U8 (the file's comment). A block without
 * downsampling accumulates into its input: its input and its output are
 * both U8 or both float32. Decided from the last block back, as a block's
 * output is U8 only where the next block takes its input U8. */
static void
plan_u8 (const mrcnn_engine *e, mrcnn_body *w)
{
  const mrcnn_model *m = e->model;
  const mrcnn_arch *a = w->arch;
  const mrcnn_quant off = { 0 };
  for (int l = 3, bi = w->nblocks - 1; l >= 0; l--)
    for (int i = a->blocks[l] - 1; i >= 0; i--, bi--) {
      mrcnn_block_layers *b = &w->blocks[bi];
      const int down = a->block[bi].has_downsample;
      /* conv1 -> conv2 (-> conv3) */
      const mrcnn_quant q1 = layer_quant (m, l, i, "conv1");
      const mrcnn_quant q2 = layer_quant (m, l, i, "conv2");
      const mrcnn_quant q3 = a->bottleneck ? layer_quant (m, l, i, "conv3")
          : off;
      const mrcnn_quant q2u = mrcnn_u8_quant (e, &q2, 1);
      const mrcnn_quant q3u = mrcnn_u8_quant (e, &q3, 1);
      if (q1.on && q2u.on && (!a->bottleneck || q3u.on)) {
        b->mid_q[0] = q2u;
        b->mid_q[1] = a->bottleneck ? q3u : off;
      }
      /* the input's readers */
      mrcnn_quant in[2] = { q1, layer_quant (m, l, i, "downsample.0") };
      b->in_q = q1;
      const int in_agree = mrcnn_u8_quant (e, in, down ? 2 : 1).on;
      /* the output's: the next block, whose input must be U8, and the
       * lateral convolution after a stage */
      mrcnn_quant out[2];
      int n = 0, next_u8 = 1;
      if (bi + 1 < w->nblocks) {
        out[n++] = w->blocks[bi + 1].in_q;
        next_u8 = w->blocks[bi + 1].in_u8;
      }
      if (i + 1 == a->blocks[l])
        out[n++] = lateral_quant (m, l);
      const mrcnn_quant outu = mrcnn_u8_quant (e, out, n);
      const int out_agree = next_u8 && outu.on
          && (a->bottleneck ? q3 : q2).on;
      if (down) {
        b->in_u8 = in_agree;  /* its output: into the downsampling's
                               * float32 output */
      } else {
        b->in_u8 = in_agree && out_agree;
        b->out_q = b->in_u8 ? outu : off;
      }
    }
  /* the stem's output goes through the max pooling to the first block:
   * the level of a maximum is the maximum of the levels, so the stem may
   * write the levels of the first block's range */
  w->stem_u8 = w->nblocks > 0 && w->blocks[0].in_u8
      && mrcnn_model_layer_quant (m, "backbone.body.conv1").on;
  for (int bi = 0; bi < w->nblocks; bi++)
    w->blocks[bi].quantize_in = w->blocks[bi].in_u8
        && (bi == 0 ? !w->stem_u8 : !w->blocks[bi - 1].out_q.on);
}

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
  plan_u8 (e, w);
  const mrcnn_quant off = { 0 };
  mrcnn_status st = mrcnn_conv_load_u8 (be, m, "backbone.body.conv1",
      "backbone.body.bn1", 2, 3, 1, w->stem_u8 ? &w->blocks[0].in_q : &off,
      &off, &w->stem, err);
  for (int l = 0, bi = 0; st == MRCNN_OK && l < 4; l++) {
    for (int i = 0; st == MRCNN_OK && i < a->blocks[l]; i++, bi++) {
      const mrcnn_block_spec *s = &a->block[bi];
      mrcnn_block_layers *b = &w->blocks[bi];
      char c[160], n[160];
#define NAMES(x, y) \
      snprintf (c, sizeof c, "backbone.body.layer%d.%d.%s", l + 1, i, x); \
      snprintf (n, sizeof n, "backbone.body.layer%d.%d.%s", l + 1, i, y)
#define LOAD(stride, pad, relu, oq, aq, out) \
      if (st == MRCNN_OK) \
        st = mrcnn_conv_load_u8 (be, m, c, n, stride, pad, relu, oq, aq, \
            out, err)
      /* the U8 maps each convolution writes (plan_u8) or accumulates
       * into: a U8 output is written into the block's U8 input */
      const mrcnn_quant *acc = b->out_q.on ? &b->in_q : &off;
      if (a->bottleneck) {
        /* torchvision puts the stride on the 3x3 conv (ResNet v1.5) */
        NAMES ("conv1", "bn1");
        LOAD (1, 0, 1, &b->mid_q[0], &off, &b->conv1);
        NAMES ("conv2", "bn2");
        LOAD (s->stride, 1, 1, &b->mid_q[1], &off, &b->conv2);
        NAMES ("conv3", "bn3");
        LOAD (1, 0, 1, &b->out_q, acc, &b->conv3);
      } else {
        NAMES ("conv1", "bn1");
        LOAD (s->stride, 1, 1, &b->mid_q[0], &off, &b->conv1);
        NAMES ("conv2", "bn2");
        LOAD (1, 1, 1, &b->out_q, acc, &b->conv2);
      }
      if (s->has_downsample) {
        NAMES ("downsample.0", "downsample.1");
        LOAD (s->stride, 0, 0, &off, &off, &b->down);
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
  /* the body's own: its maps are REDUCED or U8 (mrcnn_body_run) */
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
   * to the next: stored in the precision's own type, or U8 (plan_u8) */
  mrcnn_fmap x = { s->act[1], .layout = MRCNN_LAYOUT_NATIVE,
    .store = w->stem_u8 ? MRCNN_STORE_U8 : MRCNN_STORE_REDUCED };
  mrcnn_fmap t = x;
  t.data = s->act[0];
  MRCNN_TRY (be->ops->conv_run (be, q, w->stem, input, 0, &t, err));
  MRCNN_TRY (be->ops->max_pool (be, q, &t, 3, 2, 1, &x, err));
  int xi = 1;
  for (int l = 0, bi = 0; l < 4; l++) {
    for (int i = 0; i < a->blocks[l]; i++, bi++) {
      const mrcnn_block_layers *b = &w->blocks[bi];
      if (b->quantize_in) {
        const int qi = free_slot (xi, -1, -1);
        mrcnn_fmap xq = x;
        xq.data = s->act[qi];
        xq.store = MRCNN_STORE_U8;
        MRCNN_TRY (be->ops->quantize (be, q, &b->in_q, &x, &xq, err));
        x = xq;
        xi = qi;
      }
      int t1 = free_slot (xi, -1, -1);
      int t2 = free_slot (xi, t1, -1);
      int di = free_slot (xi, t1, t2);
      mrcnn_fmap f1 = x, f2 = x, id = x;
      f1.data = s->act[t1];
      f2.data = s->act[t2];
      f1.store = f2.store = b->mid_q[0].on ? MRCNN_STORE_U8
          : MRCNN_STORE_REDUCED;
      if (b->down) {
        id.data = s->act[di];
        id.store = MRCNN_STORE_REDUCED;
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
