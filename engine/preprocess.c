/* Preprocessing: GeneralizedRCNNTransform's normalize, resize and batching
 * (each frame resized on its own, then all zero-padded to one size). */
#include "engine_priv.h"
#include "preprocess.h"

#include <string.h>

void
mrcnn_preprocess_geometry (const mrcnn_model *m, int in_w, int in_h,
    mrcnn_preprocess_desc *d)
{
  mrcnn_pp_params_init (&d->pp, in_w, in_h, (float) m->min_size,
      (float) m->max_size, m->mean, m->std);
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
    mrcnn_preprocess_geometry (e->model, images[i].width, images[i].height, &d);
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
        ctx->max_batch, ctx->max_area);
  return MRCNN_OK;
}

/* The context holds max_batch frames of max_area each; a batch that mixes
 * orientations pads every frame beyond one frame's area and runs in parts
 * (mrcnn_batch_part), which is exact as long as one frame of the common size
 * fits. */
int
mrcnn_batch_fit (const mrcnn_context *ctx, const mrcnn_batch *b)
{
  size_t area = (size_t) b->pad_w * b->pad_h;
  if (b->pad_w > ctx->max_pad_w || b->pad_h > ctx->max_pad_h)
    return 0;
  return (int) MIN ((size_t) b->n, ctx->max_area * ctx->max_batch / area);
}

void
mrcnn_batch_part (const mrcnn_batch *b, int first, int count, mrcnn_batch *part)
{
  *part = *b;
  part->n = count;
  memmove (part->frame, b->frame + first, sizeof *b->frame * count);
}

mrcnn_status
mrcnn_preprocess_run (const mrcnn_engine *e, mrcnn_context *ctx,
    const mrcnn_image *images, const mrcnn_batch *b, mrcnn_fmap *input,
    mrcnn_error *err)
{
  size_t frame_floats = (size_t) 3 * b->pad_w * b->pad_h;
  for (int i = 0; i < b->n; i++) {
    mrcnn_preprocess_desc d;
    mrcnn_preprocess_geometry (e->model, images[i].width, images[i].height, &d);
    d.pad_w = b->pad_w;
    d.pad_h = b->pad_h;
    mrcnn_fmap one = { ctx->image + i * frame_floats,
      .layout = MRCNN_LAYOUT_NCHW };
    MRCNN_TRY (e->be->ops->preprocess (e->be, ctx->q, &images[i], &d, &one,
        err));
  }
  *input = (mrcnn_fmap) { ctx->image, b->n, 3, b->pad_h, b->pad_w,
    MRCNN_LAYOUT_NCHW, MRCNN_STORE_F32 };
  return MRCNN_OK;
}
