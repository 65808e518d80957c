/* Preprocessing: GeneralizedRCNNTransform's normalize, resize and pad. */
#include "engine_priv.h"
#include "preprocess.h"

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
mrcnn_preprocess_run (mrcnn_engine *e, const mrcnn_image *img, mrcnn_error *err)
{
  mrcnn_preprocess_desc d;
  mrcnn_preprocess_geometry (e->model, img->width, img->height, &d);
  if ((size_t) d.pad_w * d.pad_h > e->max_area || d.pad_w > e->max_pad_w
      || d.pad_h > e->max_pad_h)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "frame %dx%d resizes to %dx%d, beyond the planned input",
        img->width, img->height, d.pp.out_w, d.pp.out_h);
  e->img_w = img->width;
  e->img_h = img->height;
  e->res_w = d.pp.out_w;
  e->res_h = d.pp.out_h;
  e->in_map.data = e->image;
  e->in_map.layout = MRCNN_LAYOUT_NCHW;
  return e->be->ops->preprocess (e->be, img, &d, &e->in_map, err);
}
