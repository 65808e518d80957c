/* Model loading: a memory-mapped safetensors file with JSON metadata. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "calibration.h"
#include "internal.h"
#include "preprocess.h"

#define HEADER_MAX (64u << 20)  /* a real header is kilobytes; refuse absurd ones */

/* json-glib parses nested arrays and objects by recursion with no depth
 * limit, so a header of a few hundred kilobytes of '[' overflows the stack
 * and kills the process. Every JSON text of a model (the header, and the
 * metadata values that hold JSON) is checked here before json-glib sees it.
 * Outside strings only the bytes of strict JSON may appear: json-glib also
 * takes comments and single-quoted strings, which would hide brackets from
 * this count. A model's header nests three deep, its metadata values one. */
#define JSON_MAX_DEPTH 32

/* NULL when s[0..len) may be given to json-glib, else why not. */
static const char *
json_text_check (const char *s, size_t len)
{
  int depth = 0;
  gboolean in_string = FALSE;

  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char) s[i];
    if (in_string) {
      if (ch == '\\')
        i++;
      else if (ch == '"')
        in_string = FALSE;
    } else if (ch == '"') {
      in_string = TRUE;
    } else if (ch == '[' || ch == '{') {
      if (++depth > JSON_MAX_DEPTH)
        return "arrays and objects nest more than "
            G_STRINGIFY (JSON_MAX_DEPTH) " deep";
    } else if (ch == ']' || ch == '}') {
      if (depth > 0)
        depth--;
    } else if (ch == 0 || (!g_ascii_isalnum (ch) && !strchr (" \t\r\n,:+-.", ch))) {
      return "a character outside strict JSON (comments and single quotes "
          "are not JSON)";
    }
  }
  return NULL;
}

const mrcnn_tensor_entry *
mrcnn_model_find (const mrcnn_model *model, const char *name)
{
  return g_hash_table_lookup (model->by_name, name);
}

static float
half_to_float (uint16_t h)
{
  uint32_t sign = (uint32_t) (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  uint32_t bits;
  float f;
  if (exp == 0) {
    /* zero or subnormal: man * 2^-24 */
    f = (float) man * 5.9604644775390625e-8f;
    return sign ? -f : f;
  }
  if (exp == 31)
    bits = sign | 0x7f800000u | (man << 13);
  else
    bits = sign | ((exp + 112) << 23) | (man << 13);
  memcpy (&f, &bits, sizeof f);
  return f;
}

void
mrcnn_tensor_to_f32 (const mrcnn_tensor_entry *t, float *dst)
{
  if (t->dtype == MRCNN_DTYPE_F32) {
    memcpy (dst, t->data, (size_t) t->numel * sizeof (float));
  } else {
    for (int64_t i = 0; i < t->numel; i++) {
      uint16_t h;
      memcpy (&h, t->data + 2 * i, 2);
      dst[i] = half_to_float (h);
    }
  }
}

/* ---------------------------------------------------------------- metadata */

typedef struct {
  const char *path;
  JsonObject *meta;   /* may be NULL when the file has no __metadata__ */
  mrcnn_error *err;
} meta_ctx;

static const char *
meta_string (meta_ctx *c, const char *key)
{
  if (!c->meta || !json_object_has_member (c->meta, key))
    return NULL;
  JsonNode *n = json_object_get_member (c->meta, key);
  if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
    return json_node_get_string (n);
  return NULL;
}

/* Parses the JSON text stored under key; *out is a new node or NULL when the
 * key is absent and not required. */
static mrcnn_status
meta_json (meta_ctx *c, const char *key, gboolean required, JsonNode **out)
{
  *out = NULL;
  if (c->meta && json_object_has_member (c->meta, key)
      && !meta_string (c, key))
    return mrcnn_fail (c->err, MRCNN_ERR_FORMAT,
        "model '%s': metadata field '%s' must be a string (safetensors "
        "metadata maps strings to strings)", c->path, key);
  const char *s = meta_string (c, key);
  if (!s) {
    if (required)
      return mrcnn_fail (c->err, MRCNN_ERR_FORMAT,
          "model '%s': metadata field '%s' is missing; export the model with "
          "mrcnn-export-torchvision", c->path, key);
    return MRCNN_OK;
  }
  const char *why = json_text_check (s, strlen (s));
  if (why)
    return mrcnn_fail (c->err, MRCNN_ERR_FORMAT,
        "model '%s': metadata field '%s' is not valid JSON (%s): '%.60s'",
        c->path, key, why, s);
  GError *gerr = NULL;
  JsonNode *n = json_from_string (s, &gerr);
  if (!n) {
    mrcnn_status st = mrcnn_fail (c->err, MRCNN_ERR_FORMAT,
        "model '%s': metadata field '%s' is not valid JSON (%s): '%.60s'",
        c->path, key, gerr ? gerr->message : "empty", s);
    g_clear_error (&gerr);
    return st;
  }
  *out = n;
  return MRCNN_OK;
}

static mrcnn_status
meta_number (meta_ctx *c, const char *key, gboolean required, double lo,
    double hi, gboolean integer, double *val)
{
  JsonNode *n;
  MRCNN_TRY (meta_json (c, key, required, &n));
  if (!n)
    return MRCNN_OK;
  mrcnn_status st = MRCNN_OK;
  GType t = JSON_NODE_HOLDS_VALUE (n) ? json_node_get_value_type (n) : G_TYPE_INVALID;
  double v = 0;
  if (t == G_TYPE_INT64)
    v = (double) json_node_get_int (n);
  else if (t == G_TYPE_DOUBLE && !integer)
    v = json_node_get_double (n);
  else
    st = mrcnn_fail (c->err, MRCNN_ERR_FORMAT,
        "model '%s': metadata field '%s' must be %s, got '%s'", c->path, key,
        integer ? "an integer" : "a number", meta_string (c, key));
  if (st == MRCNN_OK && !(v >= lo && v <= hi))
    st = mrcnn_fail (c->err, MRCNN_ERR_FORMAT,
        "model '%s': metadata field '%s' = %g is out of range [%g, %g]",
        c->path, key, v, lo, hi);
  if (st == MRCNN_OK)
    *val = v;
  json_node_unref (n);
  return st;
}

static mrcnn_status
meta_float_array (meta_ctx *c, const char *key, int min_len, int max_len,
    double lo, double hi, float *dst, int *len)
{
  JsonNode *n;
  MRCNN_TRY (meta_json (c, key, FALSE, &n));
  if (!n)
    return MRCNN_OK;
  mrcnn_status st = MRCNN_OK;
  JsonArray *a = JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
  int count = a ? (int) json_array_get_length (a) : -1;
  if (!a || count < min_len || count > max_len) {
    st = mrcnn_fail (c->err, MRCNN_ERR_FORMAT,
        "model '%s': metadata field '%s' must be a JSON array of %d to %d "
        "numbers", c->path, key, min_len, max_len);
  } else {
    for (int i = 0; i < count && st == MRCNN_OK; i++) {
      JsonNode *e = json_array_get_element (a, i);
      GType t = JSON_NODE_HOLDS_VALUE (e) ? json_node_get_value_type (e) : G_TYPE_INVALID;
      double v = t == G_TYPE_INT64 ? (double) json_node_get_int (e)
          : t == G_TYPE_DOUBLE ? json_node_get_double (e) : NAN;
      if (!(v >= lo && v <= hi))
        st = mrcnn_fail (c->err, MRCNN_ERR_FORMAT,
            "model '%s': metadata field '%s'[%d] must be a number in [%g, %g]",
            c->path, key, i, lo, hi);
      else
        dst[i] = (float) v;
    }
    if (len)
      *len = count;
  }
  json_node_unref (n);
  return st;
}

static mrcnn_status
parse_metadata (mrcnn_model *m, JsonObject *meta, mrcnn_error *err)
{
  meta_ctx c = { m->path, meta, err };
  double v;

  if (!meta)
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': the safetensors file has no __metadata__; it is not a "
        "gst-maskrcnn model (export one with mrcnn-export-torchvision)",
        m->path);
  const char *fmt = meta_string (&c, "format");
  if (!fmt || strcmp (fmt, "gst-maskrcnn") != 0)
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': metadata 'format' is '%s', expected 'gst-maskrcnn'",
        m->path, fmt ? fmt : "(missing)");
  MRCNN_TRY (meta_number (&c, "format_version", TRUE, 1, 1, TRUE, &v));

  const char *arch = meta_string (&c, "architecture");
  if (!arch)
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': metadata field 'architecture' is missing", m->path);
  m->architecture = g_strdup (arch);

  MRCNN_TRY (meta_number (&c, "num_classes", TRUE, 2, 100000, TRUE, &v));
  m->num_classes = (int) v;

  JsonNode *ln;
  MRCNN_TRY (meta_json (&c, "labels", TRUE, &ln));
  JsonArray *la = JSON_NODE_HOLDS_ARRAY (ln) ? json_node_get_array (ln) : NULL;
  if (!la || (int) json_array_get_length (la) != m->num_classes) {
    json_node_unref (ln);
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': metadata 'labels' must be a JSON array of num_classes "
        "(%d) strings", m->path, m->num_classes);
  }
  m->labels = g_new0 (char *, m->num_classes + 1);
  for (int i = 0; i < m->num_classes; i++) {
    JsonNode *e = json_array_get_element (la, i);
    if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING) {
      json_node_unref (ln);
      return mrcnn_fail (err, MRCNN_ERR_FORMAT,
          "model '%s': metadata 'labels'[%d] is not a string", m->path, i);
    }
    /* labels are display text: a byte that is not UTF-8 becomes U+FFFD,
     * so that metadata, captions and JSON can carry every label */
    m->labels[i] = g_utf8_make_valid (json_node_get_string (e), -1);
  }
  json_node_unref (ln);

  /* Optional fields default to torchvision's maskrcnn_resnet50_fpn. */
  m->min_size = 800;
  m->max_size = 1333;
  m->mean[0] = 0.485f; m->mean[1] = 0.456f; m->mean[2] = 0.406f;
  m->std[0] = 0.229f; m->std[1] = 0.224f; m->std[2] = 0.225f;
  m->defaults.score_threshold = 0.05f;
  m->defaults.nms_threshold = 0.5f;
  m->defaults.max_detections = 100;
  m->defaults.mask_threshold = 0.5f;
  m->rpn_pre_nms_top_n = 1000;
  m->rpn_post_nms_top_n = 1000;
  m->rpn_nms_thresh = 0.7;
  m->rpn_score_thresh = 0.0f;
  const float sizes[5] = { 32, 64, 128, 256, 512 };
  memcpy (m->anchor_sizes, sizes, sizeof sizes);
  m->aspect_ratios[0] = 0.5f; m->aspect_ratios[1] = 1.0f; m->aspect_ratios[2] = 2.0f;
  m->n_ratios = 3;

  v = m->min_size;
  MRCNN_TRY (meta_number (&c, "min_size", FALSE, 32, 4096, TRUE, &v));
  m->min_size = (int) v;
  v = m->max_size;
  MRCNN_TRY (meta_number (&c, "max_size", FALSE, 32, 8192, TRUE, &v));
  m->max_size = (int) v;
  if (m->max_size < m->min_size)
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': metadata max_size (%d) is smaller than min_size (%d)",
        m->path, m->max_size, m->min_size);
  MRCNN_TRY (meta_float_array (&c, "image_mean", 3, 3, -1e3, 1e3, m->mean, NULL));
  MRCNN_TRY (meta_float_array (&c, "image_std", 3, 3, 1e-6, 1e3, m->std, NULL));

  v = m->defaults.score_threshold;
  MRCNN_TRY (meta_number (&c, "box_score_thresh", FALSE, 0, 1, FALSE, &v));
  m->defaults.score_threshold = (float) v;
  v = m->defaults.nms_threshold;
  MRCNN_TRY (meta_number (&c, "box_nms_thresh", FALSE, 0, 1, FALSE, &v));
  m->defaults.nms_threshold = (float) v;
  v = m->defaults.max_detections;
  MRCNN_TRY (meta_number (&c, "box_detections_per_img", FALSE, 1, 10000, TRUE, &v));
  m->defaults.max_detections = (int) v;
  v = m->defaults.mask_threshold;
  MRCNN_TRY (meta_number (&c, "mask_threshold", FALSE, 0, 1, FALSE, &v));
  m->defaults.mask_threshold = (float) v;
  v = m->rpn_pre_nms_top_n;
  MRCNN_TRY (meta_number (&c, "rpn_pre_nms_top_n_test", FALSE, 1, 100000, TRUE, &v));
  m->rpn_pre_nms_top_n = (int) v;
  v = m->rpn_post_nms_top_n;
  MRCNN_TRY (meta_number (&c, "rpn_post_nms_top_n_test", FALSE, 1, 100000, TRUE, &v));
  m->rpn_post_nms_top_n = (int) v;
  v = m->rpn_nms_thresh;
  MRCNN_TRY (meta_number (&c, "rpn_nms_thresh", FALSE, 0, 1, FALSE, &v));
  m->rpn_nms_thresh = v;
  v = m->rpn_score_thresh;
  MRCNN_TRY (meta_number (&c, "rpn_score_thresh", FALSE, 0, 1, FALSE, &v));
  m->rpn_score_thresh = (float) v;
  MRCNN_TRY (meta_float_array (&c, "anchor_sizes", 5, 5, 1, 1e5, m->anchor_sizes, NULL));
  MRCNN_TRY (meta_float_array (&c, "aspect_ratios", 1, MRCNN_MAX_RATIOS, 1e-3, 1e3,
          m->aspect_ratios, &m->n_ratios));
  JsonNode *cal;
  MRCNN_TRY (meta_json (&c, "int8_calibration", FALSE, &cal));
  mrcnn_status st = cal ? mrcnn_calibration_parse (m->path, cal, &m->calib,
      err) : MRCNN_OK;
  if (cal)
    json_node_unref (cal);
  return st;
}

/* ---------------------------------------------------------------- tensors */

static mrcnn_status
parse_tensor (mrcnn_model *m, const char *name, JsonNode *node,
    const uint8_t *data, uint64_t data_size, mrcnn_tensor_entry *t,
    mrcnn_error *err)
{
  JsonObject *o = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  if (!o || !json_object_has_member (o, "dtype")
      || !json_object_has_member (o, "shape")
      || !json_object_has_member (o, "data_offsets"))
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': header entry for tensor '%s' must be an object with "
        "dtype, shape and data_offsets", m->path, name);

  /* json-glib gives NULL for a member that is not a string ("dtype": 1e308,
   * found by fuzzing) */
  JsonNode *dn = json_object_get_member (o, "dtype");
  const char *dtype = JSON_NODE_HOLDS_VALUE (dn)
      && json_node_get_value_type (dn) == G_TYPE_STRING
      ? json_node_get_string (dn) : NULL;
  if (!dtype)
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': tensor '%s' has a dtype that is not a string; only "
        "\"F32\" and \"F16\" are supported", m->path, name);
  int elsize;
  if (strcmp (dtype, "F32") == 0) {
    t->dtype = MRCNN_DTYPE_F32;
    elsize = 4;
  } else if (strcmp (dtype, "F16") == 0) {
    t->dtype = MRCNN_DTYPE_F16;
    elsize = 2;
  } else {
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': tensor '%s' has dtype '%s'; only F32 and F16 are "
        "supported", m->path, name, dtype);
  }

  JsonNode *sn = json_object_get_member (o, "shape");
  JsonArray *shape = JSON_NODE_HOLDS_ARRAY (sn) ? json_node_get_array (sn) : NULL;
  if (!shape || json_array_get_length (shape) > MRCNN_MAX_DIMS)
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': tensor '%s' shape must be an array of at most %d dims",
        m->path, name, MRCNN_MAX_DIMS);
  t->ndim = (int) json_array_get_length (shape);
  t->numel = 1;
  for (int i = 0; i < t->ndim; i++) {
    JsonNode *e = json_array_get_element (shape, i);
    if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64
        || json_node_get_int (e) < 0 || json_node_get_int (e) > (1 << 30))
      return mrcnn_fail (err, MRCNN_ERR_FORMAT,
          "model '%s': tensor '%s' has an invalid dimension %d", m->path,
          name, i);
    t->shape[i] = json_node_get_int (e);
    /* Checked before multiplying: 2^34 * 2^30 would overflow int64. */
    if (t->shape[i] > 0 && t->numel > ((int64_t) 1 << 34) / t->shape[i])
      return mrcnn_fail (err, MRCNN_ERR_FORMAT,
          "model '%s': tensor '%s' is implausibly large", m->path, name);
    t->numel *= t->shape[i];
  }

  JsonNode *on = json_object_get_member (o, "data_offsets");
  JsonArray *off = JSON_NODE_HOLDS_ARRAY (on) ? json_node_get_array (on) : NULL;
  int64_t b = -1, e = -1;
  if (off && json_array_get_length (off) == 2) {
    JsonNode *bn = json_array_get_element (off, 0), *en = json_array_get_element (off, 1);
    if (JSON_NODE_HOLDS_VALUE (bn) && json_node_get_value_type (bn) == G_TYPE_INT64)
      b = json_node_get_int (bn);
    if (JSON_NODE_HOLDS_VALUE (en) && json_node_get_value_type (en) == G_TYPE_INT64)
      e = json_node_get_int (en);
  }
  if (b < 0 || e < b)
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': tensor '%s' has invalid data_offsets", m->path, name);
  if ((uint64_t) e > data_size)
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': tensor '%s' data [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
        ") lies past the end of the file (%" G_GUINT64_FORMAT " data bytes); "
        "the file is truncated", m->path, name, b, e, data_size);
  if (e - b != t->numel * elsize)
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': tensor '%s' holds %" G_GINT64_FORMAT " bytes but its "
        "shape and dtype need %" G_GINT64_FORMAT, m->path, name, e - b,
        t->numel * elsize);
  t->data = data + b;
  return MRCNN_OK;
}

static mrcnn_status
check_finite (const mrcnn_model *m, mrcnn_error *err)
{
  for (int i = 0; i < m->n_entries; i++) {
    const mrcnn_tensor_entry *t = &m->entries[i];
    for (int64_t k = 0; k < t->numel; k++) {
      int finite;
      if (t->dtype == MRCNN_DTYPE_F32) {
        uint32_t bits;
        memcpy (&bits, t->data + 4 * k, 4);
        finite = ((bits >> 23) & 0xffu) != 0xffu;
      } else {
        uint16_t bits;
        memcpy (&bits, t->data + 2 * k, 2);
        finite = ((bits >> 10) & 0x1fu) != 0x1fu;
      }
      if (!finite)
        return mrcnn_fail (err, MRCNN_ERR_MODEL,
            "model '%s': tensor '%s' holds a non-finite value (NaN or "
            "infinity) at element %" G_GINT64_FORMAT, m->path, t->name, k);
    }
  }
  return MRCNN_OK;
}

static mrcnn_status
parse_file (mrcnn_model *m, mrcnn_error *err)
{
  const uint8_t *bytes = m->map;
  uint64_t hlen = 0;
  if (m->map_size < 8)
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': file is %zu bytes, too short for a safetensors header",
        m->path, m->map_size);
  for (int i = 7; i >= 0; i--)
    hlen = (hlen << 8) | bytes[i];
  if (hlen < 2 || hlen > HEADER_MAX)
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': header length %" G_GUINT64_FORMAT " is not plausible; "
        "this is not a safetensors file", m->path, hlen);
  if (hlen > m->map_size - 8)
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': header length %" G_GUINT64_FORMAT " runs past the end of "
        "the file (%zu bytes); the file is truncated or not safetensors",
        m->path, hlen, m->map_size);
  if (bytes[8] != '{')
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': header does not start with a JSON object; this is not a "
        "safetensors file", m->path);

  const char *why = json_text_check ((const char *) bytes + 8, (size_t) hlen);
  if (why)
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': header is not valid JSON: %s", m->path, why);

  JsonParser *parser = json_parser_new ();
  GError *gerr = NULL;
  mrcnn_status st = MRCNN_OK;
  if (!json_parser_load_from_data (parser, (const char *) bytes + 8,
          (gssize) hlen, &gerr)) {
    st = mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': header is not valid JSON: %s", m->path,
        gerr ? gerr->message : "unknown error");
    g_clear_error (&gerr);
    g_object_unref (parser);
    return st;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_object_unref (parser);
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': header is not a JSON object", m->path);
  }
  JsonObject *hdr = json_node_get_object (root);
  JsonObject *meta = NULL;
  if (json_object_has_member (hdr, "__metadata__")) {
    JsonNode *mn = json_object_get_member (hdr, "__metadata__");
    if (!JSON_NODE_HOLDS_OBJECT (mn)) {
      g_object_unref (parser);
      return mrcnn_fail (err, MRCNN_ERR_FORMAT,
          "model '%s': __metadata__ is not a JSON object", m->path);
    }
    meta = json_node_get_object (mn);
  }

  st = parse_metadata (m, meta, err);

  const uint8_t *data = bytes + 8 + hlen;
  uint64_t data_size = m->map_size - 8 - hlen;
  GList *names = json_object_get_members (hdr);
  int n = 0;
  for (GList *l = names; l; l = l->next)
    if (strcmp (l->data, "__metadata__") != 0)
      n++;
  m->entries = g_new0 (mrcnn_tensor_entry, n > 0 ? n : 1);
  for (GList *l = names; l && st == MRCNN_OK; l = l->next) {
    const char *name = l->data;
    if (strcmp (name, "__metadata__") == 0)
      continue;
    mrcnn_tensor_entry *t = &m->entries[m->n_entries];
    st = parse_tensor (m, name, json_object_get_member (hdr, name), data,
        data_size, t, err);
    if (st == MRCNN_OK) {
      t->name = g_strdup (name);
      g_hash_table_insert (m->by_name, (gpointer) t->name, t);
      m->n_entries++;
    }
  }
  g_list_free (names);
  g_object_unref (parser);
  return st;
}

static void
model_free_entries (mrcnn_model *m)
{
  for (int i = 0; i < m->n_entries; i++)
    g_free ((char *) m->entries[i].name);
  g_free (m->entries);
}

void
mrcnn_model_free (mrcnn_model *m)
{
  if (!m)
    return;
  mrcnn_arch_clear (&m->arch);
  mrcnn_calibration_free (m->calib);
  if (m->by_name)
    g_hash_table_destroy (m->by_name);
  model_free_entries (m);
  if (m->map && m->map != MAP_FAILED)
    munmap (m->map, m->map_size);
  g_strfreev (m->labels);
  g_free (m->architecture);
  g_free (m->path);
  g_free (m);
}

mrcnn_status
mrcnn_model_open (const char *path, mrcnn_model **out, mrcnn_error *err)
{
  if (!path || !out)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_model_open: path and out must not be NULL");
  *out = NULL;

  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return mrcnn_fail (err, MRCNN_ERR_IO, "model '%s': cannot open: %s",
        path, g_strerror (errno));
  struct stat sb;
  if (fstat (fd, &sb) != 0 || !S_ISREG (sb.st_mode)) {
    close (fd);
    return mrcnn_fail (err, MRCNN_ERR_IO,
        "model '%s': not a regular file", path);
  }
  if (sb.st_size == 0) {
    close (fd);
    return mrcnn_fail (err, MRCNN_ERR_FORMAT,
        "model '%s': file is empty", path);
  }

  mrcnn_model *m = g_new0 (mrcnn_model, 1);
  m->path = g_strdup (path);
  m->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  m->map_size = (size_t) sb.st_size;
  m->map = mmap (NULL, m->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  close (fd);
  if (m->map == MAP_FAILED) {
    m->map = NULL;
    mrcnn_model_free (m);
    return mrcnn_fail (err, MRCNN_ERR_IO, "model '%s': cannot map: %s", path,
        g_strerror (map_errno));
  }

  mrcnn_status st = parse_file (m, err);
  if (st == MRCNN_OK)
    st = mrcnn_arch_check (m, err);
  if (st == MRCNN_OK)
    st = check_finite (m, err);
  if (st != MRCNN_OK) {
    mrcnn_model_free (m);
    return st;
  }
  *out = m;
  return MRCNN_OK;
}

const char *
mrcnn_model_path (const mrcnn_model *model)
{
  return model ? model->path : NULL;
}

const char *
mrcnn_model_architecture (const mrcnn_model *model)
{
  return model ? model->architecture : NULL;
}

int
mrcnn_model_num_classes (const mrcnn_model *model)
{
  return model ? model->num_classes : 0;
}

int
mrcnn_model_resized_size (const mrcnn_model *model, int width, int height,
    int *out_w, int *out_h)
{
  int w = 0, h = 0;
  if (model && width >= 2 && height >= 2)
    mrcnn_pp_resized_size (width, height, (float) model->min_size,
        (float) model->max_size, &w, &h);
  if (out_w)
    *out_w = w;
  if (out_h)
    *out_h = h;
  return w >= 1 && h >= 1;
}

const char *
mrcnn_model_class_label (const mrcnn_model *model, int class_id)
{
  if (!model || class_id < 0 || class_id >= model->num_classes)
    return NULL;
  return model->labels[class_id];
}
