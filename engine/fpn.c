/* Feature pyramid: lateral 1x1 convs, top-down nearest upsampling, 3x3
 * output convs, and the extra max-pool level P6 (LastLevelMaxPool).
 *
 * Weights (mrcnn_fpn): the four lateral (inner) and four output (layer)
 * convolutions, with their biases (v1) or their batch norms folded in (v2);
 * fpn_ch, their width.
 * Scratch (mrcnn_fpn_scratch): lateral[4], the laterals of P2..P5 (the
 * top-down sums are made in place), and pyramid[5], P2..P6; each level's
 * buffer holds fpn_ch (padded) x the plan's locations at that level
 * (mrcnn_plan_level_area). */
#include <stdio.h>

#include "engine_priv.h"

struct mrcnn_fpn {
  mrcnn_conv *inner[MRCNN_FPN_LEVELS], *layer[MRCNN_FPN_LEVELS];
  int channels;
};

struct mrcnn_fpn_scratch {
  float *lateral[MRCNN_FPN_LEVELS];
  float *pyramid[MRCNN_LEVELS];
};

static mrcnn_status
fpn_load (mrcnn_engine *e, mrcnn_error *err)
{
  const mrcnn_model *m = e->model;
  mrcnn_fpn *w = e->fpn = g_new0 (mrcnn_fpn, 1);
  w->channels = m->arch.fpn_ch;
  mrcnn_status st = MRCNN_OK;
  char name[128];
  for (int k = 0; st == MRCNN_OK && k < MRCNN_FPN_LEVELS; k++) {
    snprintf (name, sizeof name, "backbone.fpn.inner_blocks.%d", k);
    st = mrcnn_conv_block_load (e->be, m, name, m->arch.v2, 1, 0, 0, NULL,
        &w->inner[k], err);
    snprintf (name, sizeof name, "backbone.fpn.layer_blocks.%d", k);
    if (st == MRCNN_OK)
      st = mrcnn_conv_block_load (e->be, m, name, m->arch.v2, 1, 1, 0, NULL,
          &w->layer[k], err);
  }
  return st;
}

static void
fpn_unload (mrcnn_engine *e)
{
  if (!e->fpn)
    return;
  for (int k = 0; k < MRCNN_FPN_LEVELS; k++) {
    e->be->ops->conv_free (e->be, e->fpn->inner[k]);
    e->be->ops->conv_free (e->be, e->fpn->layer[k]);
  }
  g_clear_pointer (&e->fpn, g_free);
}

static mrcnn_status
fpn_plan (const mrcnn_engine *e, mrcnn_context *ctx, mrcnn_error *err)
{
  mrcnn_fpn_scratch *s = ctx->fpn = g_new0 (mrcnn_fpn_scratch, 1);
  for (int l = 0; l < MRCNN_LEVELS; l++) {
    size_t n = (size_t) mrcnn_ch_pad (e->fpn->channels)
        * mrcnn_plan_level_area (&ctx->plan, l);
    /* the laterals are made while the body runs (mrcnn_fpn_lateral); the
     * pyramid is read by both heads, and by the debug record */
    if (l < MRCNN_FPN_LEVELS)
      mrcnn_plan_buffer (ctx, n, MRCNN_STAGE_BACKBONE, MRCNN_STAGE_FPN, 0,
          &s->lateral[l]);
    mrcnn_plan_buffer (ctx, n, MRCNN_STAGE_FPN, MRCNN_STAGE_PASTE, 0,
        &s->pyramid[l]);
  }
  return MRCNN_OK;
}

static void
fpn_scratch_free (const mrcnn_engine *e, mrcnn_context *ctx)
{
  g_clear_pointer (&ctx->fpn, g_free);
}

const mrcnn_stage_parts mrcnn_fpn_parts = {
  fpn_load, fpn_unload, fpn_plan, fpn_scratch_free
};

mrcnn_status
mrcnn_fpn_lateral (mrcnn_backend *be, mrcnn_queue *q, const mrcnn_fpn *w,
    mrcnn_fpn_scratch *s, int level, const mrcnn_fmap *stage_out,
    mrcnn_fmap *lateral, mrcnn_error *err)
{
  *lateral = (mrcnn_fmap) { s->lateral[level], .layout = MRCNN_LAYOUT_NATIVE };
  return be->ops->conv_run (be, q, w->inner[level], stage_out, 0, lateral,
      err);
}

mrcnn_status
mrcnn_fpn_run (mrcnn_backend *be, mrcnn_queue *q, const mrcnn_fpn *w,
    mrcnn_fpn_scratch *s, mrcnn_fmap laterals[MRCNN_FPN_LEVELS],
    mrcnn_fmap pyramid[MRCNN_LEVELS], mrcnn_error *err)
{
  for (int k = MRCNN_FPN_LEVELS - 1; k >= 0; k--) {
    if (k < MRCNN_FPN_LEVELS - 1)
      MRCNN_TRY (be->ops->upsample_add (be, q, &laterals[k + 1],
              &laterals[k], err));
    pyramid[k] = (mrcnn_fmap) { s->pyramid[k], .layout = MRCNN_LAYOUT_NATIVE };
    MRCNN_TRY (be->ops->conv_run (be, q, w->layer[k], &laterals[k], 0,
            &pyramid[k], err));
  }
  pyramid[4] = (mrcnn_fmap) { s->pyramid[4], .layout = MRCNN_LAYOUT_NATIVE };
  return be->ops->max_pool (be, q, &pyramid[3], 1, 2, 0, &pyramid[4], err);
}
