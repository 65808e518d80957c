/* gst-maskrcnn: the maskrcnncount element.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-maskrcnncount
 * @title: maskrcnncount
 *
 * Counts tracked objects (after `maskrcnntrack`): crossings of named lines,
 * per direction and class, and occupancy of named polygon zones, per
 * class, with each track's dwell time. A track is followed by its anchor
 * point, the bottom centre of its box (where an object stands) or the
 * centroid of its mask. A crossing counts once however the anchor jitters
 * on the line: its side changes only beyond `hysteresis` pixels, and the
 * path must meet the line segment itself. See track/counter.h.
 *
 * The counts go out three ways: an element message named "maskrcnncount"
 * whenever they change and every `message-interval` seconds, a custom meta
 * on every frame (GstMaskRcnnCountsMeta, which maskrcnnpublish writes as
 * "counts" and maskrcnnoverlay draws) - see docs/elements.md.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=clip.webm ! decodebin ! videoconvert ! \
 *     maskrcnn ! maskrcnntrack ! \
 *     maskrcnncount lines="door:0.5,0.1,0.5,0.9" zones="bay:0.1,0.1,0.4,0.1,0.4,0.5,0.1,0.5" ! \
 *     maskrcnnoverlay ! videoconvert ! autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmaskrcnncount.h"

#include <math.h>
#include <string.h>

#include <gst/video/video.h>

#include "counter.h"
#include "maskrcnn-counts.h"
#include "maskrcnn-meta.h"

GST_DEBUG_CATEGORY_STATIC (gst_maskrcnn_count_debug);
#define GST_CAT_DEFAULT gst_maskrcnn_count_debug

typedef enum
{
  GST_MASK_RCNN_COORDINATES_NORMALIZED,
  GST_MASK_RCNN_COORDINATES_PIXELS,
} GstMaskRcnnCoordinates;

typedef enum
{
  GST_MASK_RCNN_ANCHOR_BOTTOM_CENTER,
  GST_MASK_RCNN_ANCHOR_MASK_CENTROID,
} GstMaskRcnnAnchor;

#define DEFAULT_LINES NULL
#define DEFAULT_ZONES NULL
#define DEFAULT_COORDINATES GST_MASK_RCNN_COORDINATES_NORMALIZED
#define DEFAULT_ANCHOR GST_MASK_RCNN_ANCHOR_BOTTOM_CENTER
#define DEFAULT_HYSTERESIS 6.0
#define DEFAULT_FORGET_AFTER 1.0
#define DEFAULT_MESSAGE_INTERVAL 1.0
#define DEFAULT_POST_MESSAGES TRUE

enum
{
  PROP_0,
  PROP_LINES,
  PROP_ZONES,
  PROP_COORDINATES,
  PROP_ANCHOR,
  PROP_HYSTERESIS,
  PROP_FORGET_AFTER,
  PROP_MESSAGE_INTERVAL,
  PROP_POST_MESSAGES,
};

typedef struct
{
  gchar *lines, *zones;
  GstMaskRcnnCoordinates coordinates;
  GstMaskRcnnAnchor anchor;
  gdouble hysteresis, forget_after, message_interval;
  gboolean post_messages;
} Settings;

struct _GstMaskRcnnCount
{
  GstMaskRcnnBaseTransform parent;

  Settings settings;            /* under the object lock */

  /* streaming state: from start() */
  Settings run;                 /* the settings as of start() (strings not
                                 * owned: see lines/zones) */
  GArray *lines, *zones;        /* GstMaskRcnnShape as given */
  mrcnn_counter *counter;       /* for the negotiated frame size */
  mrcnn_count_line *px_lines;   /* frame pixels */
  GArray *px_zones;             /* of mrcnn_count_zone, points in px_points */
  mrcnn_point *px_points;
  gint width, height;
  GstVideoInfo info;
  GHashTable *labels;           /* class id -> label */
  guint64 frames;
  gdouble last_post;            /* seconds; < 0 before the first */
};

#define gst_maskrcnn_count_parent_class parent_class
G_DEFINE_TYPE (GstMaskRcnnCount, gst_maskrcnn_count,
    GST_TYPE_MASK_RCNN_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (maskrcnncount, "maskrcnncount", GST_RANK_NONE,
    GST_TYPE_MASK_RCNN_COUNT);

#define GST_TYPE_MASK_RCNN_COORDINATES (gst_maskrcnn_coordinates_get_type ())
static GType
gst_maskrcnn_coordinates_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_MASK_RCNN_COORDINATES_NORMALIZED,
        "Fractions of the frame's width and height (0..1)", "normalized"},
    {GST_MASK_RCNN_COORDINATES_PIXELS, "Frame pixels", "pixels"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstMaskRcnnCoordinates", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define GST_TYPE_MASK_RCNN_ANCHOR (gst_maskrcnn_anchor_get_type ())
static GType
gst_maskrcnn_anchor_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_MASK_RCNN_ANCHOR_BOTTOM_CENTER,
        "The bottom centre of the box (where an object stands)",
        "bottom-center"},
    {GST_MASK_RCNN_ANCHOR_MASK_CENTROID,
        "The centroid of the mask (the box centre where there is no mask)",
        "mask-centroid"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstMaskRcnnAnchor", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* ------------------------------------------------------------ geometry */

static void
clear_counter (GstMaskRcnnCount * self)
{
  g_clear_pointer (&self->counter, mrcnn_counter_free);
  g_clear_pointer (&self->px_lines, g_free);
  g_clear_pointer (&self->px_points, g_free);
  if (self->px_zones)
    g_array_free (self->px_zones, TRUE);
  self->px_zones = NULL;
}

static gboolean
make_counter (GstMaskRcnnCount * self)
{
  gboolean norm = self->run.coordinates ==
      GST_MASK_RCNN_COORDINATES_NORMALIZED;
  gdouble sx = norm ? self->width : 1.0, sy = norm ? self->height : 1.0;
  guint i, j, total = 0, k = 0;

  clear_counter (self);
  self->px_lines = g_new0 (mrcnn_count_line, MAX (self->lines->len, 1));
  for (i = 0; i < self->lines->len; i++) {
    const GstMaskRcnnShape *s = &g_array_index (self->lines,
        GstMaskRcnnShape, i);

    self->px_lines[i].a.x = s->xy[0] * sx;
    self->px_lines[i].a.y = s->xy[1] * sy;
    self->px_lines[i].b.x = s->xy[2] * sx;
    self->px_lines[i].b.y = s->xy[3] * sy;
  }
  for (i = 0; i < self->zones->len; i++)
    total += g_array_index (self->zones, GstMaskRcnnShape, i).n_points;
  self->px_points = g_new0 (mrcnn_point, MAX (total, 1));
  self->px_zones = g_array_new (FALSE, TRUE, sizeof (mrcnn_count_zone));
  for (i = 0; i < self->zones->len; i++) {
    const GstMaskRcnnShape *s = &g_array_index (self->zones,
        GstMaskRcnnShape, i);
    mrcnn_count_zone z;

    z.points = &self->px_points[k];
    z.n_points = (int) s->n_points;
    for (j = 0; j < s->n_points; j++, k++) {
      self->px_points[k].x = s->xy[2 * j] * sx;
      self->px_points[k].y = s->xy[2 * j + 1] * sy;
    }
    g_array_append_val (self->px_zones, z);
  }
  self->counter = mrcnn_counter_new (self->px_lines, (int) self->lines->len,
      (const mrcnn_count_zone *) self->px_zones->data,
      (int) self->zones->len, self->run.hysteresis, self->run.forget_after);
  return self->counter != NULL;
}

/* ------------------------------------------------------------ counts out */

static const gchar *
label_of (GstMaskRcnnCount * self, gint class_id)
{
  const gchar *l = g_hash_table_lookup (self->labels,
      GINT_TO_POINTER (class_id));
  return l ? l : "unknown";
}

static void
append_structure (GValue * array, GstStructure * s)
{
  GValue v = G_VALUE_INIT;

  g_value_init (&v, GST_TYPE_STRUCTURE);
  g_value_take_boxed (&v, s);
  gst_value_array_append_and_take_value (array, &v);
}

static void
take_array (GstStructure * s, const gchar * field, GValue * array)
{
  gst_structure_take_value (s, field, array);
}

static GstStructure *
class_count (GstMaskRcnnCount * self, gint class_id, guint64 count)
{
  return gst_structure_new ("class", "label", G_TYPE_STRING,
      label_of (self, class_id), "class-id", G_TYPE_INT, class_id,
      "count", G_TYPE_UINT64, count, NULL);
}

static GstStructure *
counts_structure (GstMaskRcnnCount * self)
{
  GstStructure *s = gst_structure_new_empty ("counts");
  GValue lines = G_VALUE_INIT, zones = G_VALUE_INIT;
  const int *classes;
  int n_classes = mrcnn_counter_classes (self->counter, &classes), c;
  guint i;

  g_value_init (&lines, GST_TYPE_ARRAY);
  for (i = 0; i < self->lines->len; i++) {
    const mrcnn_count_line *l = &self->px_lines[i];
    GstStructure *ls = gst_structure_new ("line", "name", G_TYPE_STRING,
        g_array_index (self->lines, GstMaskRcnnShape, i).name,
        "x1", G_TYPE_DOUBLE, l->a.x, "y1", G_TYPE_DOUBLE, l->a.y,
        "x2", G_TYPE_DOUBLE, l->b.x, "y2", G_TYPE_DOUBLE, l->b.y, NULL);
    GValue dirs[2] = { G_VALUE_INIT, G_VALUE_INIT };
    int d;

    for (d = 0; d < 2; d++) {
      g_value_init (&dirs[d], GST_TYPE_ARRAY);
      for (c = 0; c < n_classes; c++) {
        guint64 n = mrcnn_counter_line_count (self->counter, (int) i,
            (mrcnn_count_direction) d, classes[c]);
        if (n)
          append_structure (&dirs[d], class_count (self, classes[c], n));
      }
    }
    take_array (ls, "to-left", &dirs[0]);
    take_array (ls, "to-right", &dirs[1]);
    append_structure (&lines, ls);
  }
  take_array (s, "lines", &lines);

  g_value_init (&zones, GST_TYPE_ARRAY);
  for (i = 0; i < self->zones->len; i++) {
    const mrcnn_count_zone *z = &g_array_index (self->px_zones,
        mrcnn_count_zone, i);
    GstStructure *zs = gst_structure_new ("zone", "name", G_TYPE_STRING,
        g_array_index (self->zones, GstMaskRcnnShape, i).name, NULL);
    GValue pts = G_VALUE_INIT, occ = G_VALUE_INIT, tracks = G_VALUE_INIT;
    int n, k;

    g_value_init (&pts, GST_TYPE_ARRAY);
    for (k = 0; k < z->n_points; k++) {
      GValue v = G_VALUE_INIT;

      g_value_init (&v, G_TYPE_DOUBLE);
      g_value_set_double (&v, z->points[k].x);
      gst_value_array_append_value (&pts, &v);
      g_value_set_double (&v, z->points[k].y);
      gst_value_array_append_and_take_value (&pts, &v);
    }
    take_array (zs, "points", &pts);
    g_value_init (&occ, GST_TYPE_ARRAY);
    for (c = 0; c < n_classes; c++) {
      int o = mrcnn_counter_zone_occupancy (self->counter, (int) i,
          classes[c]);
      if (o)
        append_structure (&occ, class_count (self, classes[c], (guint64) o));
    }
    take_array (zs, "occupancy", &occ);
    g_value_init (&tracks, GST_TYPE_ARRAY);
    n = mrcnn_counter_zone_tracks (self->counter, (int) i, NULL, NULL, NULL,
        0);
    if (n > 0) {
      guint64 *ids = g_new (guint64, n);
      int *cls = g_new (int, n);
      double *dwell = g_new (double, n);

      mrcnn_counter_zone_tracks (self->counter, (int) i, ids, cls, dwell, n);
      for (k = 0; k < n; k++)
        append_structure (&tracks, gst_structure_new ("track",
                "track-id", G_TYPE_UINT64, ids[k],
                "label", G_TYPE_STRING, label_of (self, cls[k]),
                "class-id", G_TYPE_INT, cls[k],
                "dwell", G_TYPE_DOUBLE, dwell[k], NULL));
      g_free (ids);
      g_free (cls);
      g_free (dwell);
    }
    take_array (zs, "tracks", &tracks);
    append_structure (&zones, zs);
  }
  take_array (s, "zones", &zones);
  return s;
}

static GstStructure *
event_structure (GstMaskRcnnCount * self, const mrcnn_count_event * e)
{
  const gchar *kind = e->kind == MRCNN_COUNT_EVENT_CROSS ? "crossing" :
      e->kind == MRCNN_COUNT_EVENT_ENTER ? "entry" : "exit";
  GArray *shapes = e->kind == MRCNN_COUNT_EVENT_CROSS ? self->lines :
      self->zones;
  GstStructure *s = gst_structure_new (kind,
      e->kind == MRCNN_COUNT_EVENT_CROSS ? "line" : "zone", G_TYPE_STRING,
      g_array_index (shapes, GstMaskRcnnShape, e->index).name,
      "track-id", G_TYPE_UINT64, e->track_id,
      "label", G_TYPE_STRING, label_of (self, e->class_id),
      "class-id", G_TYPE_INT, e->class_id, NULL);

  if (e->kind == MRCNN_COUNT_EVENT_CROSS)
    gst_structure_set (s, "direction", G_TYPE_STRING,
        e->direction == MRCNN_COUNT_TO_LEFT ? "to-left" : "to-right", NULL);
  if (e->kind == MRCNN_COUNT_EVENT_EXIT)
    gst_structure_set (s, "dwell", G_TYPE_DOUBLE, e->dwell, NULL);
  return s;
}

static void
post_counts (GstMaskRcnnCount * self, GstBuffer * buf, const gchar * reason,
    const mrcnn_count_event * events, int n_events,
    const GstStructure * counts, GstClockTime running_time)
{
  GValue list = G_VALUE_INIT, v = G_VALUE_INIT;
  GstStructure *s;
  int i;

  g_value_init (&list, GST_TYPE_LIST);
  for (i = 0; i < n_events; i++) {
    GValue e = G_VALUE_INIT;

    g_value_init (&e, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&e, event_structure (self, &events[i]));
    gst_value_list_append_and_take_value (&list, &e);
  }
  s = gst_structure_new ("maskrcnncount",
      "timestamp", G_TYPE_UINT64, GST_BUFFER_PTS (buf),
      "running-time", G_TYPE_UINT64, running_time,
      "reason", G_TYPE_STRING, reason, NULL);
  gst_structure_take_value (s, "events", &list);
  g_value_init (&v, GST_TYPE_STRUCTURE);
  g_value_set_boxed (&v, counts);
  gst_structure_take_value (s, "counts", &v);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* ------------------------------------------------------------ streaming */

/* The mask's centroid in frame pixels; FALSE where it has no pixel. */
static gboolean
mask_centroid (const GstMaskRcnnInstance * in, mrcnn_point * p)
{
  GstMapInfo map;
  gdouble sx = 0, sy = 0;
  guint64 n = 0;
  gint x, y;

  if (!in->mask || !gst_buffer_map (in->mask, &map, GST_MAP_READ))
    return FALSE;
  for (y = 0; y < in->mask_height; y++) {
    const guint8 *row = map.data + (gsize) y * in->mask_width;
    for (x = 0; x < in->mask_width; x++)
      if (row[x] >= 128) {
        sx += x + 0.5;
        sy += y + 0.5;
        n++;
      }
  }
  gst_buffer_unmap (in->mask, &map);
  if (!n)
    return FALSE;
  /* the mask covers the box at its own resolution */
  p->x = in->x + sx / n * in->width / in->mask_width;
  p->y = in->y + sy / n * in->height / in->mask_height;
  return TRUE;
}

static GstFlowReturn
gst_maskrcnn_count_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstMaskRcnnCount *self = GST_MASK_RCNN_COUNT (trans);
  GstMaskRcnnInstance inst;
  gpointer state = NULL;
  GArray *obs = g_array_new (FALSE, FALSE, sizeof (mrcnn_count_obs));
  const mrcnn_count_event *events = NULL;
  GstClockTime pts = GST_BUFFER_PTS (buf), running_time = GST_CLOCK_TIME_NONE;
  GstStructure *counts;
  gdouble now;
  int n_events;

  if (!self->counter) {
    g_array_free (obs, TRUE);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  while (gst_maskrcnn_buffer_iterate_instances (buf, &state, &inst)) {
    mrcnn_count_obs o;

    o.track_id = gst_maskrcnn_instance_get_track_id (&inst);
    if (!o.track_id)
      continue;                 /* counting follows tracks */
    o.class_id = inst.class_id;
    if (!g_hash_table_contains (self->labels, GINT_TO_POINTER (inst.class_id)))
      g_hash_table_insert (self->labels, GINT_TO_POINTER (inst.class_id),
          g_strdup (inst.label));
    if (self->run.anchor != GST_MASK_RCNN_ANCHOR_MASK_CENTROID
        || !mask_centroid (&inst, &o.anchor)) {
      o.anchor.x = inst.x + 0.5 * inst.width;
      o.anchor.y = self->run.anchor == GST_MASK_RCNN_ANCHOR_MASK_CENTROID ?
          inst.y + 0.5 * inst.height : (gdouble) inst.y + inst.height;
    }
    g_array_append_val (obs, o);
  }

  /* the stream's clock: running time, else the frame count at the caps'
   * rate */
  if (GST_CLOCK_TIME_IS_VALID (pts) &&
      trans->segment.format == GST_FORMAT_TIME)
    running_time = gst_segment_to_running_time (&trans->segment,
        GST_FORMAT_TIME, pts);
  if (GST_CLOCK_TIME_IS_VALID (running_time))
    now = running_time / (gdouble) GST_SECOND;
  else if (GST_VIDEO_INFO_FPS_N (&self->info) > 0)
    now = self->frames * GST_VIDEO_INFO_FPS_D (&self->info) /
        (gdouble) GST_VIDEO_INFO_FPS_N (&self->info);
  else
    now = self->frames / 30.0;
  self->frames++;

  n_events = mrcnn_counter_update (self->counter,
      (const mrcnn_count_obs *) obs->data, (int) obs->len, now, &events);
  g_array_free (obs, TRUE);
  if (n_events < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Out of memory while counting."), (NULL));
    return GST_FLOW_ERROR;
  }
  counts = counts_structure (self);
  if (self->run.post_messages) {
    if (n_events > 0)
      post_counts (self, buf, "change", events, n_events, counts,
          running_time);
    if (self->run.message_interval > 0 && (self->last_post < 0
            || now - self->last_post >= self->run.message_interval)) {
      post_counts (self, buf, "interval", NULL, 0, counts, running_time);
      self->last_post = now;
    }
  }
  gst_maskrcnn_buffer_set_counts (buf, counts);
  return GST_FLOW_OK;
}

/* ------------------------------------------------------------ life cycle */

static gboolean
gst_maskrcnn_count_start (GstBaseTransform * trans)
{
  GstMaskRcnnCount *self = GST_MASK_RCNN_COUNT (trans);
  gboolean norm;
  gchar *why = NULL;

  GST_OBJECT_LOCK (self);
  self->run = self->settings;
  self->run.lines = g_strdup (self->settings.lines);
  self->run.zones = g_strdup (self->settings.zones);
  GST_OBJECT_UNLOCK (self);

  norm = self->run.coordinates == GST_MASK_RCNN_COORDINATES_NORMALIZED;
  self->lines = gst_maskrcnn_shapes_parse (self->run.lines, "line", norm,
      &why);
  if (self->lines)
    self->zones = gst_maskrcnn_shapes_parse (self->run.zones, "zone", norm,
        &why);
  if (why) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Invalid maskrcnncount settings: %s.", why), (NULL));
    g_free (why);
    return FALSE;
  }
  if (self->lines->len == 0 && self->zones->len == 0)
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
        ("maskrcnncount has no lines and no zones: nothing is counted."),
        ("set the lines or zones property"));
  self->labels = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
      g_free);
  self->frames = 0;
  self->last_post = -1;
  self->width = self->height = 0;
  gst_maskrcnn_counts_meta_register ();
  return TRUE;
}

static gboolean
gst_maskrcnn_count_stop (GstBaseTransform * trans)
{
  GstMaskRcnnCount *self = GST_MASK_RCNN_COUNT (trans);

  clear_counter (self);
  gst_maskrcnn_shapes_free (self->lines);
  gst_maskrcnn_shapes_free (self->zones);
  self->lines = self->zones = NULL;
  g_clear_pointer (&self->labels, g_hash_table_unref);
  g_clear_pointer (&self->run.lines, g_free);
  g_clear_pointer (&self->run.zones, g_free);
  return TRUE;
}

/* The tracks of other caps are not those of these: they are forgotten and
 * the counts start again. */
static gboolean
gst_maskrcnn_count_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstMaskRcnnCount *self = GST_MASK_RCNN_COUNT (trans);

  if (!GST_BASE_TRANSFORM_CLASS (parent_class)->set_caps (trans, incaps,
          outcaps))
    return FALSE;
  if (!gst_video_info_from_caps (&self->info, incaps)) {
    GST_ERROR_OBJECT (self, "invalid caps %" GST_PTR_FORMAT, incaps);
    return FALSE;
  }
  self->width = GST_VIDEO_INFO_WIDTH (&self->info);
  self->height = GST_VIDEO_INFO_HEIGHT (&self->info);
  if (!make_counter (self)) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Out of memory for the counter."), (NULL));
    return FALSE;
  }
  return TRUE;
}

/* ------------------------------------------------------------ properties */

static void
gst_maskrcnn_count_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstMaskRcnnCount *self = GST_MASK_RCNN_COUNT (object);
  Settings *s = &self->settings;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LINES:
      g_free (s->lines);
      s->lines = g_value_dup_string (value);
      break;
    case PROP_ZONES:
      g_free (s->zones);
      s->zones = g_value_dup_string (value);
      break;
    case PROP_COORDINATES:
      s->coordinates = g_value_get_enum (value);
      break;
    case PROP_ANCHOR:
      s->anchor = g_value_get_enum (value);
      break;
    case PROP_HYSTERESIS:
      s->hysteresis = g_value_get_double (value);
      break;
    case PROP_FORGET_AFTER:
      s->forget_after = g_value_get_double (value);
      break;
    case PROP_MESSAGE_INTERVAL:
      s->message_interval = g_value_get_double (value);
      break;
    case PROP_POST_MESSAGES:
      s->post_messages = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_maskrcnn_count_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstMaskRcnnCount *self = GST_MASK_RCNN_COUNT (object);
  Settings *s = &self->settings;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LINES:
      g_value_set_string (value, s->lines);
      break;
    case PROP_ZONES:
      g_value_set_string (value, s->zones);
      break;
    case PROP_COORDINATES:
      g_value_set_enum (value, s->coordinates);
      break;
    case PROP_ANCHOR:
      g_value_set_enum (value, s->anchor);
      break;
    case PROP_HYSTERESIS:
      g_value_set_double (value, s->hysteresis);
      break;
    case PROP_FORGET_AFTER:
      g_value_set_double (value, s->forget_after);
      break;
    case PROP_MESSAGE_INTERVAL:
      g_value_set_double (value, s->message_interval);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, s->post_messages);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_maskrcnn_count_finalize (GObject * object)
{
  GstMaskRcnnCount *self = GST_MASK_RCNN_COUNT (object);

  gst_maskrcnn_count_stop (GST_BASE_TRANSFORM (object));
  g_free (self->settings.lines);
  g_free (self->settings.zones);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_maskrcnn_count_class_init (GstMaskRcnnCountClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  GST_DEBUG_CATEGORY_INIT (gst_maskrcnn_count_debug, "maskrcnncount", 0,
      "Mask R-CNN line and zone counting");

  gobject_class->set_property = gst_maskrcnn_count_set_property;
  gobject_class->get_property = gst_maskrcnn_count_get_property;
  gobject_class->finalize = gst_maskrcnn_count_finalize;

  g_object_class_install_property (gobject_class, PROP_LINES,
      g_param_spec_string ("lines", "Lines",
          "Named lines to count crossings of, \"name:x1,y1,x2,y2;...\" "
          "(see coordinates); directions are told from the first point "
          "facing the second", DEFAULT_LINES, flags));
  g_object_class_install_property (gobject_class, PROP_ZONES,
      g_param_spec_string ("zones", "Zones",
          "Named polygon zones to count occupancy and dwell in, "
          "\"name:x1,y1,x2,y2,x3,y3,...;...\" (see coordinates)",
          DEFAULT_ZONES, flags));
  g_object_class_install_property (gobject_class, PROP_COORDINATES,
      g_param_spec_enum ("coordinates", "Coordinates",
          "Units of the lines' and zones' points",
          GST_TYPE_MASK_RCNN_COORDINATES, DEFAULT_COORDINATES, flags));
  g_object_class_install_property (gobject_class, PROP_ANCHOR,
      g_param_spec_enum ("anchor", "Anchor",
          "The point of a track that crosses lines and stands in zones",
          GST_TYPE_MASK_RCNN_ANCHOR, DEFAULT_ANCHOR, flags));
  g_object_class_install_property (gobject_class, PROP_HYSTERESIS,
      g_param_spec_double ("hysteresis", "Hysteresis",
          "Pixels an anchor must be beyond a line to change side, or "
          "outside a zone to leave it (larger than the detector's jitter)",
          0.0, 10000.0, DEFAULT_HYSTERESIS, flags));
  g_object_class_install_property (gobject_class, PROP_FORGET_AFTER,
      g_param_spec_double ("forget-after", "Forget after",
          "Seconds a track may be unseen before it leaves its zones",
          0.0, 3600.0, DEFAULT_FORGET_AFTER, flags));
  g_object_class_install_property (gobject_class, PROP_MESSAGE_INTERVAL,
      g_param_spec_double ("message-interval", "Message interval",
          "Seconds between periodic \"maskrcnncount\" messages (0: only on "
          "changes)", 0.0, 3600.0, DEFAULT_MESSAGE_INTERVAL, flags));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post \"maskrcnncount\" element messages on every change and every "
          "message-interval seconds", DEFAULT_POST_MESSAGES, flags));

  gst_type_mark_as_plugin_api (GST_TYPE_MASK_RCNN_COORDINATES, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_MASK_RCNN_ANCHOR, 0);

  gst_element_class_set_static_metadata (element_class,
      "Mask R-CNN counter", "Filter/Analyzer/Video",
      "Counts tracked instances crossing named lines and staying in named "
      "zones", "gst-maskrcnn developers");
  gst_maskrcnn_base_transform_class_add_pad_templates (element_class);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_maskrcnn_count_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_maskrcnn_count_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_maskrcnn_count_set_caps);
  trans_class->transform_ip =
      GST_DEBUG_FUNCPTR (gst_maskrcnn_count_transform_ip);
  trans_class->passthrough_on_same_caps = FALSE;
}

static void
gst_maskrcnn_count_init (GstMaskRcnnCount * self)
{
  self->settings.lines = g_strdup (DEFAULT_LINES);
  self->settings.zones = g_strdup (DEFAULT_ZONES);
  self->settings.coordinates = DEFAULT_COORDINATES;
  self->settings.anchor = DEFAULT_ANCHOR;
  self->settings.hysteresis = DEFAULT_HYSTERESIS;
  self->settings.forget_after = DEFAULT_FORGET_AFTER;
  self->settings.message_interval = DEFAULT_MESSAGE_INTERVAL;
  self->settings.post_messages = DEFAULT_POST_MESSAGES;

  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), FALSE);
}
