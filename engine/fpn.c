/* Feature pyramid: lateral 1x1 convs, top-down nearest upsampling, 3x3
 * output convs, and the extra max-pool level P6 (LastLevelMaxPool). */
#include <stdio.h>

#include "engine_priv.h"

static mrcnn_status
make_conv (mrcnn_engine *e, const char *prefix, int pad, mrcnn_conv **out,
    mrcnn_error *err)
{
  mrcnn_folded_conv w;
  MRCNN_TRY (mrcnn_fold_conv (e->model, prefix, NULL, 1, &w, err));
  mrcnn_conv_desc d = { &w, 1, pad, 0 };
  mrcnn_status st = e->be->ops->conv_new (e->be, &d, out, err);
  mrcnn_folded_conv_clear (&w);
  return st;
}

mrcnn_status
mrcnn_fpn_init (mrcnn_engine *e, mrcnn_error *err)
{
  char name[128];
  for (int k = 0; k < MRCNN_FPN_LEVELS; k++) {
    snprintf (name, sizeof name, "backbone.fpn.inner_blocks.%d.0", k);
    MRCNN_TRY (make_conv (e, name, 0, &e->fpn_inner[k], err));
    snprintf (name, sizeof name, "backbone.fpn.layer_blocks.%d.0", k);
    MRCNN_TRY (make_conv (e, name, 1, &e->fpn_layer[k], err));
  }
  return MRCNN_OK;
}

void
mrcnn_fpn_free (mrcnn_engine *e)
{
  for (int k = 0; k < MRCNN_FPN_LEVELS; k++) {
    e->be->ops->conv_free (e->be, e->fpn_inner[k]);
    e->be->ops->conv_free (e->be, e->fpn_layer[k]);
    e->fpn_inner[k] = e->fpn_layer[k] = NULL;
  }
}


mrcnn_status
mrcnn_fpn_lateral (const mrcnn_engine *e, mrcnn_context *ctx, int level,
    const mrcnn_fmap *stage_out, mrcnn_fmap *lateral, mrcnn_error *err)
{
  *lateral = (mrcnn_fmap) { ctx->lateral[level], .layout = MRCNN_LAYOUT_NATIVE };
  return e->be->ops->conv_run (e->be, ctx->q, e->fpn_inner[level], stage_out, 0,
      lateral, err);
}

mrcnn_status
mrcnn_fpn_run (const mrcnn_engine *e, mrcnn_context *ctx,
    mrcnn_fmap laterals[MRCNN_FPN_LEVELS], mrcnn_fmap pyramid[MRCNN_LEVELS],
    mrcnn_error *err)
{
  mrcnn_backend *be = e->be;
  for (int k = MRCNN_FPN_LEVELS - 1; k >= 0; k--) {
    if (k < MRCNN_FPN_LEVELS - 1)
      MRCNN_TRY (be->ops->upsample_add (be, ctx->q, &laterals[k + 1],
              &laterals[k], err));
    pyramid[k] = (mrcnn_fmap) { ctx->pyramid[k], .layout = MRCNN_LAYOUT_NATIVE };
    MRCNN_TRY (be->ops->conv_run (be, ctx->q, e->fpn_layer[k], &laterals[k], 0,
            &pyramid[k], err));
  }
  pyramid[4] = (mrcnn_fmap) { ctx->pyramid[4], .layout = MRCNN_LAYOUT_NATIVE };
  return be->ops->max_pool (be, ctx->q, &pyramid[3], 1, 2, 0, &pyramid[4], err);
}
