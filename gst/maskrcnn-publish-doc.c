/* gst-maskrcnn: the JSON document maskrcnnpublish sends for one frame.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "maskrcnn-publish-doc.h"

#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <mrcnn/coco_rle.h>
#include <mrcnn/detection_json.h>

#include "maskrcnn-counts.h"

GstMaskRcnnPublishFrame *
gst_maskrcnn_publish_frame_new (GstBuffer * buffer, guint64 frame,
    gint width, gint height)
{
  GstMaskRcnnPublishFrame *f = g_new0 (GstMaskRcnnPublishFrame, 1);

  f->pts = GST_BUFFER_PTS (buffer);
  f->frame = frame;
  f->width = width;
  f->height = height;
  f->instances = gst_maskrcnn_buffer_copy_instances (buffer);
  {
    const GstStructure *counts = gst_maskrcnn_buffer_get_counts (buffer);
    f->counts = counts ? gst_structure_copy (counts) : NULL;
  }
  return f;
}

void
gst_maskrcnn_publish_frame_free (GstMaskRcnnPublishFrame * frame)
{
  if (!frame)
    return;
  g_list_free_full (frame->instances,
      (GDestroyNotify) gst_maskrcnn_instance_free);
  if (frame->counts)
    gst_structure_free (frame->counts);
  g_free (frame);
}

/* Strings in the document come from model files (labels) and from users
 * (source-id): any bytes at all. JSON text is UTF-8, so invalid sequences
 * become U+FFFD; mrcnn_json_to_string() escapes the rest. New string. */
static gchar *
valid_utf8 (const gchar * s)
{
  return g_utf8_make_valid (s, -1);
}

/* The COCO RLE of the instance's full-frame mask, as mrcnn-infer writes
 * it (size [h, w]); an empty mask where the instance has none, so that
 * every detection has the same schema. */
static gboolean
add_mask (JsonBuilder * b, const GstMaskRcnnInstance * d, gint w, gint h)
{
  GBytes *mask = gst_maskrcnn_instance_get_frame_mask (d, w, h);
  guint8 *empty = NULL;
  const guint8 *data;
  char *counts;

  if (mask) {
    data = g_bytes_get_data (mask, NULL);
  } else {
    empty = g_try_malloc0 ((gsize) MAX (w, 1) * MAX (h, 1));
    data = empty;
  }
  counts = data ? mrcnn_coco_rle_encode_string (data, w, h, w) : NULL;
  if (mask)
    g_bytes_unref (mask);
  g_free (empty);
  if (!counts)
    return FALSE;

  mrcnn_detection_json_mask (b, counts, w, h);
  free (counts);
  return TRUE;
}

static void add_value (JsonBuilder * b, const GValue * v);

static gboolean
add_field (GQuark field, const GValue * v, gpointer user_data)
{
  JsonBuilder *b = user_data;
  gchar *name = g_strdelimit (g_strdup (g_quark_to_string (field)), "-", '_');

  json_builder_set_member_name (b, name);
  g_free (name);
  add_value (b, v);
  return TRUE;
}

/* A GValue of a counts structure as JSON: numbers, strings, booleans,
 * arrays and lists as arrays, structures as objects (their names left
 * out, field names with '_' for '-'). */
static void
add_value (JsonBuilder * b, const GValue * v)
{
  GType t = G_VALUE_TYPE (v);

  if (t == G_TYPE_INT)
    json_builder_add_int_value (b, g_value_get_int (v));
  else if (t == G_TYPE_UINT)
    json_builder_add_int_value (b, g_value_get_uint (v));
  else if (t == G_TYPE_INT64)
    json_builder_add_int_value (b, g_value_get_int64 (v));
  else if (t == G_TYPE_UINT64)
    json_builder_add_int_value (b, (gint64) g_value_get_uint64 (v));
  else if (t == G_TYPE_DOUBLE)
    json_builder_add_double_value (b, g_value_get_double (v));
  else if (t == G_TYPE_FLOAT)
    json_builder_add_double_value (b, g_value_get_float (v));
  else if (t == G_TYPE_BOOLEAN)
    json_builder_add_boolean_value (b, g_value_get_boolean (v));
  else if (t == G_TYPE_STRING)
    json_builder_add_string_value (b, g_value_get_string (v));
  else if (t == GST_TYPE_ARRAY || t == GST_TYPE_LIST) {
    gboolean array = t == GST_TYPE_ARRAY;
    guint i, n = array ? gst_value_array_get_size (v) :
        gst_value_list_get_size (v);

    json_builder_begin_array (b);
    for (i = 0; i < n; i++)
      add_value (b, array ? gst_value_array_get_value (v, i) :
          gst_value_list_get_value (v, i));
    json_builder_end_array (b);
  } else if (t == GST_TYPE_STRUCTURE) {
    json_builder_begin_object (b);
    gst_structure_foreach (gst_value_get_structure (v), add_field, b);
    json_builder_end_object (b);
  } else {
    json_builder_add_null_value (b);
  }
}

gchar *
gst_maskrcnn_publish_frame_to_json (const GstMaskRcnnPublishFrame * frame,
    const gchar * source_id, gboolean include_masks)
{
  JsonBuilder *b = json_builder_new ();
  JsonNode *root = NULL;
  gchar *out = NULL;
  GList *l;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "source_id");
  if (source_id) {
    gchar *s = valid_utf8 (source_id);

    json_builder_add_string_value (b, s);
    g_free (s);
  } else {
    json_builder_add_null_value (b);
  }
  json_builder_set_member_name (b, "frame");
  json_builder_add_int_value (b, (gint64) frame->frame);
  json_builder_set_member_name (b, "pts");
  if (GST_CLOCK_TIME_IS_VALID (frame->pts))
    json_builder_add_int_value (b, (gint64) frame->pts);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "width");
  json_builder_add_int_value (b, frame->width);
  json_builder_set_member_name (b, "height");
  json_builder_add_int_value (b, frame->height);
  json_builder_set_member_name (b, "detections");
  json_builder_begin_array (b);
  for (l = frame->instances; l; l = l->next) {
    const GstMaskRcnnInstance *d = l->data;

    /* The pixel window of the box, as the metadata holds it; mrcnn-infer
     * has the engine's float box, of which this is the outward rounding.
     * The document calls the confidence "score", as mrcnn-infer does. */
    mrcnn_detection_json_begin (b, d->label, d->class_id, d->confidence, d->x,
        d->y, (gdouble) d->x + d->width, (gdouble) d->y + d->height);
    json_builder_set_member_name (b, "stale");
    json_builder_add_boolean_value (b, d->stale);
    json_builder_set_member_name (b, "age");
    json_builder_add_int_value (b, d->age);
    json_builder_set_member_name (b, "track_id");
    json_builder_add_int_value (b,
        (gint64) gst_maskrcnn_instance_get_track_id (d));
    if (include_masks && !add_mask (b, d, frame->width, frame->height))
      goto out;
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  if (frame->counts) {
    json_builder_set_member_name (b, "counts");
    json_builder_begin_object (b);
    gst_structure_foreach (frame->counts, add_field, b);
    json_builder_end_object (b);
  }
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  out = mrcnn_json_to_string (root, FALSE);

out:
  if (root)
    json_node_unref (root);
  g_object_unref (b);
  return out;
}
