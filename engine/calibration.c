/* A model's int8 calibration: the range of each layer's input, measured
 * offline by the exporter (mrcnn-export-torchvision --calibrate) on
 * calibration images and stored in the metadata field `int8_calibration`
 * (docs/model-format.md), and the layers that stay in float32 at int8. */
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "calibration.h"

struct mrcnn_calibration {
  char *method;           /* "percentile 99.99", "minmax", "entropy" */
  GHashTable *ranges;     /* layer name -> float[2] (min, max) */
  GHashTable *fp32;       /* layer names that stay float32 */
};

void
mrcnn_calibration_free (mrcnn_calibration *c)
{
  if (!c)
    return;
  g_free (c->method);
  if (c->ranges)
    g_hash_table_destroy (c->ranges);
  if (c->fp32)
    g_hash_table_destroy (c->fp32);
  g_free (c);
}

static mrcnn_status
bad (const char *path, const char *why, const char *what, mrcnn_error *err)
{
  return mrcnn_fail (err, MRCNN_ERR_FORMAT, "model '%s': metadata field "
      "'int8_calibration' %s%s; calibrate the model again with "
      "mrcnn-export-torchvision --calibrate", path, why, what ? what : "");
}

static int
json_number (JsonNode *n, double *out)
{
  if (!n || !JSON_NODE_HOLDS_VALUE (n))
    return 0;
  GType t = json_node_get_value_type (n);
  if (t != G_TYPE_DOUBLE && t != G_TYPE_INT64)
    return 0;
  *out = json_node_get_double (n);
  return isfinite (*out);
}

mrcnn_status
mrcnn_calibration_parse (const char *path, JsonNode *node,
    mrcnn_calibration **out, mrcnn_error *err)
{
  *out = NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return bad (path, "must be a JSON object", NULL, err);
  JsonObject *o = json_node_get_object (node);
  JsonNode *mn = json_object_get_member (o, "method");
  JsonNode *in = json_object_get_member (o, "inputs");
  JsonNode *fn = json_object_get_member (o, "fp32");
  if (!mn || !JSON_NODE_HOLDS_VALUE (mn)
      || json_node_get_value_type (mn) != G_TYPE_STRING)
    return bad (path, "has no 'method' string", NULL, err);
  if (!in || !JSON_NODE_HOLDS_OBJECT (in))
    return bad (path, "has no 'inputs' object", NULL, err);
  if (fn && !JSON_NODE_HOLDS_ARRAY (fn))
    return bad (path, "'fp32' must be an array of layer names", NULL, err);

  mrcnn_calibration *c = g_new0 (mrcnn_calibration, 1);
  c->method = g_strdup (json_node_get_string (mn));
  c->ranges = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  c->fp32 = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  mrcnn_status st = MRCNN_OK;
  GList *names = json_object_get_members (json_node_get_object (in));
  for (GList *l = names; l && st == MRCNN_OK; l = l->next) {
    const char *name = l->data;
    JsonNode *r = json_object_get_member (json_node_get_object (in), name);
    JsonArray *a = JSON_NODE_HOLDS_ARRAY (r) ? json_node_get_array (r) : NULL;
    double lo, hi;
    if (!a || json_array_get_length (a) != 2
        || !json_number (json_array_get_element (a, 0), &lo)
        || !json_number (json_array_get_element (a, 1), &hi) || lo > hi
        || fabs (lo) > 1e30 || fabs (hi) > 1e30)
      st = bad (path, "needs [min, max] with finite min <= max for input ",
          name, err);
    else {
      float *v = g_new (float, 2);
      v[0] = (float) lo;
      v[1] = (float) hi;
      g_hash_table_insert (c->ranges, g_strdup (name), v);
    }
  }
  g_list_free (names);
  JsonArray *fa = fn ? json_node_get_array (fn) : NULL;
  for (guint i = 0; fa && st == MRCNN_OK && i < json_array_get_length (fa);
      i++) {
    JsonNode *e = json_array_get_element (fa, i);
    if (!JSON_NODE_HOLDS_VALUE (e)
        || json_node_get_value_type (e) != G_TYPE_STRING)
      st = bad (path, "'fp32' must be an array of layer names", NULL, err);
    else
      g_hash_table_add (c->fp32, g_strdup (json_node_get_string (e)));
  }
  if (st != MRCNN_OK) {
    mrcnn_calibration_free (c);
    return st;
  }
  *out = c;
  return MRCNN_OK;
}

const char *
mrcnn_calibration_method (const mrcnn_calibration *c)
{
  return c ? c->method : NULL;
}

mrcnn_quant
mrcnn_calibration_layer (const mrcnn_calibration *c, const char *layer)
{
  mrcnn_quant q = { 0 };
  const float *r = c ? g_hash_table_lookup (c->ranges, layer) : NULL;
  if (r && !g_hash_table_contains (c->fp32, layer)) {
    q.on = 1;
    q.lo = r[0];
    q.hi = r[1];
  }
  return q;
}

const char *
mrcnn_model_calibration (const mrcnn_model *model)
{
  return model ? mrcnn_calibration_method (model->calib) : NULL;
}

mrcnn_quant
mrcnn_model_layer_quant (const mrcnn_model *model, const char *layer)
{
  return mrcnn_calibration_layer (model->calib, layer);
}

mrcnn_status
mrcnn_calibration_check (const mrcnn_model *model, mrcnn_precision precision,
    mrcnn_error *err)
{
  if (precision == MRCNN_PRECISION_INT8 && !model->calib)
    return mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED, "precision int8 needs a "
        "calibrated model, and model '%s' has no int8 calibration: export it "
        "with mrcnn-export-torchvision --calibrate IMAGE... (or a directory "
        "of images), or add one to this file with python3 -m "
        "maskrcnn_tools.calibrate --model %s --out FILE IMAGE...", model->path,
        model->path);
  return MRCNN_OK;
}
