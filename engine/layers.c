/* A model's layers into the backend, for the stages' loads. */
#include <stdio.h>

#include "engine_priv.h"

static mrcnn_status
conv_load (mrcnn_backend *be, const mrcnn_model *m, const char *conv,
    const char *bn, int has_bias, int stride, int pad, int relu,
    const mrcnn_quant *out_quant, const mrcnn_quant *acc_quant,
    mrcnn_conv **out, mrcnn_error *err)
{
  mrcnn_folded_conv w;
  MRCNN_TRY (mrcnn_fold_conv (m, conv, bn, has_bias, &w, err));
  mrcnn_conv_desc d = { &w, stride, pad, relu,
    mrcnn_model_layer_quant (m, conv), *out_quant, *acc_quant };
  mrcnn_status st = be->ops->conv_new (be, &d, out, err);
  mrcnn_folded_conv_clear (&w);
  return st;
}

mrcnn_status
mrcnn_conv_load (mrcnn_backend *be, const mrcnn_model *m, const char *conv,
    const char *bn, int has_bias, int stride, int pad, int relu,
    mrcnn_conv **out, mrcnn_error *err)
{
  const mrcnn_quant off = { 0 };
  return conv_load (be, m, conv, bn, has_bias, stride, pad, relu, &off, &off,
      out, err);
}

mrcnn_status
mrcnn_conv_load_u8 (mrcnn_backend *be, const mrcnn_model *m,
    const char *conv, const char *bn, int stride, int pad, int relu,
    const mrcnn_quant *out_quant, const mrcnn_quant *acc_quant,
    mrcnn_conv **out, mrcnn_error *err)
{
  return conv_load (be, m, conv, bn, 0, stride, pad, relu, out_quant,
      acc_quant, out, err);
}

mrcnn_status
mrcnn_conv_block_load (mrcnn_backend *be, const mrcnn_model *m,
    const char *block, int norm, int stride, int pad, int relu,
    const mrcnn_quant *out_quant, mrcnn_conv **out, mrcnn_error *err)
{
  char conv[256], bn[256];
  const mrcnn_quant off = { 0 };
  snprintf (conv, sizeof conv, "%s.0", block);
  snprintf (bn, sizeof bn, "%s.1", block);
  return conv_load (be, m, conv, norm ? bn : NULL, !norm, stride, pad, relu,
      out_quant ? out_quant : &off, &off, out, err);
}

mrcnn_status
mrcnn_conv_chain_load (const mrcnn_engine *e, const char *prefix, int n,
    int norm, const char *last_reader, mrcnn_conv **convs, int *u8,
    mrcnn_error *err)
{
  for (int k = 0; k < n; k++) {
    char name[128], next[128];
    snprintf (name, sizeof name, "%s.%d", prefix, k);
    mrcnn_quant rq = { 0 };
    if (k + 1 < n) {
      snprintf (next, sizeof next, "%s.%d.0", prefix, k + 1);
      rq = mrcnn_model_layer_quant (e->model, next);
    } else if (last_reader) {
      rq = mrcnn_model_layer_quant (e->model, last_reader);
    }
    const mrcnn_quant oq = mrcnn_u8_quant (e, &rq, 1);
    u8[k] = oq.on;
    MRCNN_TRY (mrcnn_conv_block_load (e->be, e->model, name, norm, 1, 1, 1,
            &oq, &convs[k], err));
  }
  return MRCNN_OK;
}

mrcnn_quant
mrcnn_u8_quant (const mrcnn_engine *e, const mrcnn_quant *readers, int n)
{
  const mrcnn_quant off = { 0 };
  if (e->cfg.precision != MRCNN_PRECISION_INT8 || !e->be->ops->quantize
      || n <= 0)
    return off;
  for (int i = 0; i < n; i++)
    if (!readers[i].on || readers[i].lo < 0.0f
        || readers[i].lo != readers[0].lo || readers[i].hi != readers[0].hi)
      return off;
  return readers[0];
}
