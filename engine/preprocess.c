/* Preprocessing: GeneralizedRCNNTransform's normalize, resize and batching
 * (each frame resized on its own, then all zero-padded to one size).
 *
 * Weights (mrcnn_preprocess): the transform's settings from the model,
 * min_size / max_size and the per-channel mean and std.
 * Scratch (mrcnn_preprocess_scratch): `image`, the batch's input, frames x
 * 3 x frame_area floats of the plan (a batch of larger padded frames holds
 * fewer of them: mrcnn_batch_fit). */
#include "engine_priv.h"
#include "preprocess.h"

#include <string.h>

struct mrcnn_preprocess {
  float min_size, max_size;
  float mean[3], std[3];
};

struct mrcnn_preprocess_scratch {
  float *image;
};

static mrcnn_status
preprocess_load (mrcnn_engine *e, mrcnn_error *err)
{
  const mrcnn_model *m = e->model;
  mrcnn_preprocess *w = e->preprocess = g_new0 (mrcnn_preprocess, 1);
  w->min_size = (float) m->min_size;
  w->max_size = (float) m->max_size;
  memcpy (w->mean, m->mean, sizeof w->mean);
  memcpy (w->std, m->std, sizeof w->std);
  return MRCNN_OK;
}

static void
preprocess_unload (mrcnn_engine *e)
{
  g_clear_pointer (&e->preprocess, g_free);
}

static mrcnn_status
preprocess_plan (const mrcnn_engine *e, mrcnn_context *ctx, mrcnn_error *err)
{
  const mrcnn_plan *p = &ctx->plan;
  mrcnn_preprocess_scratch *s = ctx->preprocess =
      g_new0 (mrcnn_preprocess_scratch, 1);
  /* read by the body, and by the debug record after the pass */
  mrcnn_plan_buffer (ctx, (size_t) p->frames * 3 * p->frame_area,
      MRCNN_STAGE_PREPROCESS, MRCNN_STAGE_PASTE, 0, &s->image);
  return MRCNN_OK;
}

static void
preprocess_scratch_free (const mrcnn_engine *e, mrcnn_context *ctx)
{
  g_clear_pointer (&ctx->preprocess, g_free);
}

const mrcnn_stage_parts mrcnn_preprocess_parts = {
  preprocess_load, preprocess_unload, preprocess_plan, preprocess_scratch_free
};

/* The resize and normalisation of one in_w x in_h frame, padded to 32. */
static void
geometry (const mrcnn_preprocess *w, int in_w, int in_h,
    mrcnn_preprocess_desc *d)
{
  mrcnn_pp_params_init (&d->pp, in_w, in_h, w->min_size, w->max_size,
      w->mean, w->std);
  d->pad_w = (d->pp.out_w + 31) / 32 * 32;
  d->pad_h = (d->pp.out_h + 31) / 32 * 32;
}

mrcnn_status
mrcnn_batch_plan (const mrcnn_engine *e, const mrcnn_context *ctx,
    const mrcnn_image *images, int n, mrcnn_batch *b, mrcnn_error *err)
{
  /* batch_images: the largest resized height and width, each rounded up to
   * the size divisibility 32 */
  *b = (mrcnn_batch) { .n = n };
  for (int i = 0; i < n; i++) {
    mrcnn_preprocess_desc d;
    geometry (e->preprocess, images[i].width, images[i].height, &d);
    b->frame[i] = (mrcnn_frame_geometry) { images[i].width, images[i].height,
      d.pp.out_w, d.pp.out_h };
    b->pad_w = MAX (b->pad_w, d.pad_w);
    b->pad_h = MAX (b->pad_h, d.pad_h);
    b->res_w_max = MAX (b->res_w_max, d.pp.out_w);
    b->res_h_max = MAX (b->res_h_max, d.pp.out_h);
  }
  if (mrcnn_batch_fit (ctx, b) == 0)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "frames padded to a common %dx%d exceed the input planned for "
        "%d frame(s) of %zu pixels; batch frames of one orientation, or "
        "create the engine with a larger max_batch", b->pad_w, b->pad_h,
        ctx->plan.frames, ctx->plan.frame_area);
  return MRCNN_OK;
}

/* The context holds plan.frames frames of frame_area each; a batch that
 * mixes orientations pads every frame beyond one frame's area and runs in
 * parts (mrcnn_batch_part), which is exact as long as one frame of the
 * common size fits. */
int
mrcnn_batch_fit (const mrcnn_context *ctx, const mrcnn_batch *b)
{
  const mrcnn_plan *p = &ctx->plan;
  size_t area = (size_t) b->pad_w * b->pad_h;
  if (b->pad_w > p->long_side || b->pad_h > p->long_side)
    return 0;
  return (int) MIN ((size_t) b->n, p->frame_area * p->frames / area);
}

void
mrcnn_batch_part (const mrcnn_batch *b, int first, int count, mrcnn_batch *part)
{
  *part = *b;
  part->n = count;
  memmove (part->frame, b->frame + first, sizeof *b->frame * count);
}

mrcnn_status
mrcnn_preprocess_run (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_preprocess *w, mrcnn_preprocess_scratch *s,
    const mrcnn_image *images, const mrcnn_batch *b, mrcnn_fmap *input,
    mrcnn_error *err)
{
  size_t frame_floats = (size_t) 3 * b->pad_w * b->pad_h;
  for (int i = 0; i < b->n; i++) {
    mrcnn_preprocess_desc d;
    geometry (w, images[i].width, images[i].height, &d);
    d.pad_w = b->pad_w;
    d.pad_h = b->pad_h;
    mrcnn_fmap one = { s->image + i * frame_floats,
      .layout = MRCNN_LAYOUT_NCHW };
    MRCNN_TRY (be->ops->preprocess (be, q, &images[i], &d, &one, err));
  }
  *input = (mrcnn_fmap) { s->image, b->n, 3, b->pad_h, b->pad_w,
    MRCNN_LAYOUT_NCHW, MRCNN_STORE_F32 };
  return MRCNN_OK;
}
