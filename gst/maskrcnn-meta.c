/* gst-maskrcnn: typed access to Mask R-CNN instances on GstBuffers.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "maskrcnn-meta.h"
#include "maskrcnn-meta-priv.h"

#include <string.h>

/* ------------------------------------------------------------ companion */

/* The params of every instance a `maskrcnn` element attached to one frame,
 * keyed by ROI id. Shared by reference between the buffers that the frame's
 * metadata is copied or scaled onto, so keeping the params alive costs one
 * reference per buffer; read-only while shared (a writer that changes the
 * params, gst_maskrcnn_instance_set_track_id(), copies a shared table
 * first). */
typedef struct {
  gint roi_id;
  GstStructure *detection;
  GstStructure *mask;           /* NULL when the instance has no mask */
} InstanceEntry;

typedef struct {
  gint ref;                     /* atomic */
  guint n;
  InstanceEntry entries[];
} InstanceTable;

typedef struct {
  GstMeta meta;
  InstanceTable *table;
} GstMaskRcnnMeta;

static InstanceTable *
instance_table_new (guint n)
{
  InstanceTable *table = g_malloc0 (sizeof (InstanceTable) +
      n * sizeof (InstanceEntry));

  table->ref = 1;
  table->n = n;
  return table;
}

static InstanceTable *
instance_table_ref (InstanceTable * table)
{
  g_atomic_int_inc (&table->ref);
  return table;
}

static void
instance_table_unref (InstanceTable * table)
{
  guint i;

  if (!g_atomic_int_dec_and_test (&table->ref))
    return;
  for (i = 0; i < table->n; i++) {
    gst_structure_free (table->entries[i].detection);
    if (table->entries[i].mask)
      gst_structure_free (table->entries[i].mask);
  }
  g_free (table);
}

static const InstanceEntry *
instance_table_find (const InstanceTable * table, gint roi_id)
{
  guint i;

  for (i = 0; i < table->n; i++)
    if (table->entries[i].roi_id == roi_id)
      return &table->entries[i];
  return NULL;
}

/* Puts the params back on the ROI metas of `dest` that lost them: GStreamer
 * 1.22's ROI scale transform (used by videoscale, and by videoconvert when it
 * changes the format) copies the box but not the params. */
static void
restore_params (GstBuffer * dest, const InstanceTable * table)
{
  gpointer state = NULL;
  GstMeta *meta;

  while ((meta = gst_buffer_iterate_meta_filtered (dest, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    GstVideoRegionOfInterestMeta *roi = (GstVideoRegionOfInterestMeta *) meta;
    const InstanceEntry *entry;

    if (gst_video_region_of_interest_meta_get_param (roi,
            GST_MASKRCNN_DETECTION_NAME))
      continue;
    entry = instance_table_find (table, roi->id);
    if (!entry)
      continue;
    gst_video_region_of_interest_meta_add_param (roi,
        gst_structure_copy (entry->detection));
    if (entry->mask)
      gst_video_region_of_interest_meta_add_param (roi,
          gst_structure_copy (entry->mask));
  }
}

static gboolean
gst_maskrcnn_meta_init (GstMeta * meta, gpointer params, GstBuffer * buffer)
{
  ((GstMaskRcnnMeta *) meta)->table = NULL;
  return TRUE;
}

static void
gst_maskrcnn_meta_free (GstMeta * meta, GstBuffer * buffer)
{
  GstMaskRcnnMeta *m = (GstMaskRcnnMeta *) meta;

  if (m->table)
    instance_table_unref (m->table);
  m->table = NULL;
}

static gboolean
gst_maskrcnn_meta_transform (GstBuffer * dest, GstMeta * meta,
    GstBuffer * buffer, GQuark type, gpointer data)
{
  GstMaskRcnnMeta *smeta = (GstMaskRcnnMeta *) meta, *dmeta;

  /* The params hold no frame coordinates (the mask is box-relative), so a
   * copy and a scale are the same operation: share the table. Other
   * transforms (flips, crops...) are not understood: drop the meta, as the
   * ROI meta does. */
  if (!GST_META_TRANSFORM_IS_COPY (type) &&
      !GST_VIDEO_META_TRANSFORM_IS_SCALE (type))
    return FALSE;
  if (!smeta->table)
    return FALSE;

  dmeta = (GstMaskRcnnMeta *) gst_buffer_add_meta (dest,
      gst_maskrcnn_meta_get_info (), NULL);
  if (!dmeta)
    return FALSE;
  dmeta->table = instance_table_ref (smeta->table);

  /* Buffers keep their metas in the order they were attached and transforms
   * run in that order; gst_maskrcnn_buffer_add_instances() attaches this
   * meta after the ROI metas, so they are on `dest` by now. Where some
   * element reorders metas, the readers below fall back to the table. */
  restore_params (dest, dmeta->table);
  return TRUE;
}

GType
gst_maskrcnn_meta_api_get_type (void)
{
  static GType type = 0;

  if (g_once_init_enter (&type)) {
    static const gchar *tags[] = { GST_META_TAG_VIDEO_STR,
      GST_META_TAG_VIDEO_ORIENTATION_STR, GST_META_TAG_VIDEO_SIZE_STR, NULL
    };
    GType t = gst_meta_api_type_register ("GstMaskRcnnMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

const GstMetaInfo *
gst_maskrcnn_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) & info)) {
    const GstMetaInfo *mi = gst_meta_register (GST_MASK_RCNN_META_API_TYPE,
        "GstMaskRcnnMeta", sizeof (GstMaskRcnnMeta), gst_maskrcnn_meta_init,
        gst_maskrcnn_meta_free, gst_maskrcnn_meta_transform);
    g_once_init_leave ((GstMetaInfo **) & info, (GstMetaInfo *) mi);
  }
  return info;
}

/* ------------------------------------------------------------ reading */

/* The companion meta of `buffer` whose table holds `roi_id`, or NULL. */
static GstMaskRcnnMeta *
find_companion (GstBuffer * buffer, gint roi_id)
{
  gpointer state = NULL;
  GstMeta *meta;

  while ((meta = gst_buffer_iterate_meta_filtered (buffer, &state,
              GST_MASK_RCNN_META_API_TYPE))) {
    GstMaskRcnnMeta *m = (GstMaskRcnnMeta *) meta;

    if (m->table && instance_table_find (m->table, roi_id))
      return m;
  }
  return NULL;
}

static const InstanceEntry *
find_in_companions (GstBuffer * buffer, gint roi_id)
{
  GstMaskRcnnMeta *m = find_companion (buffer, roi_id);

  return m ? instance_table_find (m->table, roi_id) : NULL;
}

/* Finds the detection and mask params of an ROI, on the ROI or else in a
 * companion meta. Only ROIs whose detection carries a class id are ours. */
static gboolean
lookup_params (GstBuffer * buffer, GstVideoRegionOfInterestMeta * roi,
    const GstStructure ** detection, const GstStructure ** mask)
{
  *detection = gst_video_region_of_interest_meta_get_param (roi,
      GST_MASKRCNN_DETECTION_NAME);
  *mask = gst_video_region_of_interest_meta_get_param (roi,
      GST_MASKRCNN_MASK_NAME);
  if (!*detection) {
    const InstanceEntry *entry = find_in_companions (buffer, roi->id);
    if (!entry)
      return FALSE;
    *detection = entry->detection;
    *mask = entry->mask;
  }
  return gst_structure_has_field_typed (*detection,
      GST_MASKRCNN_FIELD_CLASS_ID, G_TYPE_INT);
}

static void
fill_instance (GstMaskRcnnInstance * inst, GstVideoRegionOfInterestMeta * roi,
    const GstStructure * detection, const GstStructure * mask)
{
  const GValue *v;

  memset (inst, 0, sizeof (*inst));
  inst->roi = roi;
  inst->x = roi->x;
  inst->y = roi->y;
  inst->width = roi->w;
  inst->height = roi->h;
  inst->label = gst_structure_get_string (detection, GST_MASKRCNN_FIELD_LABEL);
  if (!inst->label)
    inst->label = g_quark_to_string (roi->roi_type);
  gst_structure_get_int (detection, GST_MASKRCNN_FIELD_CLASS_ID,
      &inst->class_id);
  gst_structure_get_double (detection, GST_MASKRCNN_FIELD_CONFIDENCE,
      &inst->confidence);
  gst_structure_get_boolean (detection, GST_MASKRCNN_FIELD_STALE,
      &inst->stale);
  gst_structure_get_uint (detection, GST_MASKRCNN_FIELD_AGE, &inst->age);

  if (!mask)
    return;
  v = gst_structure_get_value (mask, GST_MASKRCNN_FIELD_DATA);
  if (!v || !GST_VALUE_HOLDS_BUFFER (v))
    return;
  {
    GstBuffer *data = gst_value_get_buffer (v);
    gint w = 0, h = 0;

    if (!gst_structure_get_int (mask, GST_MASKRCNN_FIELD_WIDTH, &w) ||
        !gst_structure_get_int (mask, GST_MASKRCNN_FIELD_HEIGHT, &h) ||
        w <= 0 || h <= 0 || gst_buffer_get_size (data) < (gsize) w * h)
      return;
    inst->mask = data;
    inst->mask_width = w;
    inst->mask_height = h;
  }
}

gboolean
gst_maskrcnn_buffer_iterate_instances (GstBuffer * buffer, gpointer * state,
    GstMaskRcnnInstance * instance)
{
  GstMeta *meta;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), FALSE);
  g_return_val_if_fail (state != NULL, FALSE);
  g_return_val_if_fail (instance != NULL, FALSE);

  while ((meta = gst_buffer_iterate_meta_filtered (buffer, state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    GstVideoRegionOfInterestMeta *roi = (GstVideoRegionOfInterestMeta *) meta;
    const GstStructure *detection, *mask;

    if (!lookup_params (buffer, roi, &detection, &mask))
      continue;
    fill_instance (instance, roi, detection, mask);
    return TRUE;
  }
  return FALSE;
}

guint
gst_maskrcnn_buffer_get_n_instances (GstBuffer * buffer)
{
  GstMaskRcnnInstance inst;
  gpointer state = NULL;
  guint n = 0;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), 0);

  while (gst_maskrcnn_buffer_iterate_instances (buffer, &state, &inst))
    n++;
  return n;
}

/* Source index of destination index d when n_src samples are stretched over
 * n_dst: the sample under the destination pixel's centre. */
static inline gint
nearest (gint d, gint n_src, gint n_dst)
{
  gint s = (gint) (((gint64) 2 * d + 1) * n_src / (2 * (gint64) n_dst));
  return MIN (s, n_src - 1);
}

gboolean
gst_maskrcnn_instance_read_mask (const GstMaskRcnnInstance * instance,
    guint8 * dst, gint width, gint height, gint stride)
{
  return gst_maskrcnn_instance_read_mask_region (instance, width, height, 0,
      0, width, height, dst, stride);
}

gboolean
gst_maskrcnn_instance_read_mask_region (const GstMaskRcnnInstance * instance,
    gint width, gint height, gint region_x, gint region_y, gint region_width,
    gint region_height, guint8 * dst, gint stride)
{
  GstMapInfo map;
  gint *cols = NULL;
  gint x, y;

  g_return_val_if_fail (instance != NULL, FALSE);
  g_return_val_if_fail (dst != NULL, FALSE);
  if (!instance->mask || width <= 0 || height <= 0 || region_x < 0 ||
      region_y < 0 || region_width <= 0 || region_height <= 0 ||
      region_width > width - region_x || region_height > height - region_y ||
      stride < region_width)
    return FALSE;
  if (!gst_buffer_map (instance->mask, &map, GST_MAP_READ))
    return FALSE;

  /* columns: a copy when the mask is stored at the requested width */
  if (instance->mask_width != width) {
    cols = g_new (gint, region_width);
    for (x = 0; x < region_width; x++)
      cols[x] = nearest (region_x + x, instance->mask_width, width);
  }
  for (y = 0; y < region_height; y++) {
    const guint8 *src = map.data +
        (gsize) nearest (region_y + y, instance->mask_height, height) *
        instance->mask_width;
    guint8 *row = dst + (gsize) y * stride;

    if (!cols) {
      memcpy (row, src + region_x, region_width);
      continue;
    }
    for (x = 0; x < region_width; x++)
      row[x] = src[cols[x]];
  }
  g_free (cols);
  gst_buffer_unmap (instance->mask, &map);
  return TRUE;
}

gboolean
gst_maskrcnn_instance_rasterize (const GstMaskRcnnInstance * instance,
    guint8 * frame, gint frame_width, gint frame_height, gint stride,
    guint8 value)
{
  GstMapInfo map;
  gint *cols;
  gint x0, y0, x1, y1, x, y;

  g_return_val_if_fail (instance != NULL, FALSE);
  g_return_val_if_fail (frame != NULL, FALSE);
  if (!instance->mask || instance->width <= 0 || instance->height <= 0 ||
      frame_width <= 0 || frame_height <= 0 || stride < frame_width)
    return FALSE;

  x0 = MAX (instance->x, 0);
  y0 = MAX (instance->y, 0);
  x1 = MIN ((gint64) instance->x + instance->width, frame_width);
  y1 = MIN ((gint64) instance->y + instance->height, frame_height);
  if (x0 >= x1 || y0 >= y1)
    return TRUE;                /* entirely outside the frame */

  if (!gst_buffer_map (instance->mask, &map, GST_MAP_READ))
    return FALSE;
  cols = g_new (gint, x1 - x0);
  for (x = x0; x < x1; x++)
    cols[x - x0] = nearest (x - instance->x, instance->mask_width,
        instance->width);
  for (y = y0; y < y1; y++) {
    const guint8 *src = map.data +
        (gsize) nearest (y - instance->y, instance->mask_height,
        instance->height) * instance->mask_width;
    guint8 *row = frame + (gsize) y * stride;

    for (x = x0; x < x1; x++)
      if (src[cols[x - x0]] >= 128)
        row[x] = value;
  }
  g_free (cols);
  gst_buffer_unmap (instance->mask, &map);
  return TRUE;
}

/* ------------------------------------------------------------ writing */

/* ROI ids are unique in the process so that the companion table can tell
 * our ROIs from those of other elements on the same buffer. */
static gint next_roi_id = 1;

static gboolean
instance_init_is_valid (const GstMaskRcnnInstanceInit * in)
{
  if (!in->label || in->width <= 0 || in->height <= 0 || in->x < 0 ||
      in->y < 0)
    return FALSE;
  if (in->mask && (in->mask_width <= 0 || in->mask_height <= 0 ||
          gst_buffer_get_size (in->mask) <
          (gsize) in->mask_width * in->mask_height))
    return FALSE;
  return TRUE;
}

gboolean
gst_maskrcnn_buffer_add_instances (GstBuffer * buffer,
    const GstMaskRcnnInstanceInit * instances, guint n)
{
  InstanceTable *table;
  GstMaskRcnnMeta *companion;
  gint first_id;
  guint i;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), FALSE);
  g_return_val_if_fail (n == 0 || instances != NULL, FALSE);

  if (!gst_buffer_is_writable (buffer))
    return FALSE;
  for (i = 0; i < n; i++)
    if (!instance_init_is_valid (&instances[i]))
      return FALSE;
  if (n == 0)
    return TRUE;

  first_id = g_atomic_int_add (&next_roi_id, (gint) n);
  table = instance_table_new (n);

  for (i = 0; i < n; i++) {
    const GstMaskRcnnInstanceInit *in = &instances[i];
    InstanceEntry *entry = &table->entries[i];
    GstVideoRegionOfInterestMeta *roi;

    entry->roi_id = first_id + (gint) i;
    entry->detection = gst_structure_new (GST_MASKRCNN_DETECTION_NAME,
        GST_MASKRCNN_FIELD_LABEL, G_TYPE_STRING, in->label,
        GST_MASKRCNN_FIELD_CLASS_ID, G_TYPE_INT, in->class_id,
        GST_MASKRCNN_FIELD_CONFIDENCE, G_TYPE_DOUBLE, in->confidence,
        GST_MASKRCNN_FIELD_STALE, G_TYPE_BOOLEAN, in->stale,
        GST_MASKRCNN_FIELD_AGE, G_TYPE_UINT, in->age, NULL);
    if (in->mask)
      entry->mask = gst_structure_new (GST_MASKRCNN_MASK_NAME,
          GST_MASKRCNN_FIELD_WIDTH, G_TYPE_INT, in->mask_width,
          GST_MASKRCNN_FIELD_HEIGHT, G_TYPE_INT, in->mask_height,
          GST_MASKRCNN_FIELD_FORMAT, G_TYPE_STRING, "GRAY8",
          GST_MASKRCNN_FIELD_DATA, GST_TYPE_BUFFER, in->mask, NULL);

    roi = gst_buffer_add_video_region_of_interest_meta (buffer, in->label,
        in->x, in->y, in->width, in->height);
    roi->id = entry->roi_id;
    gst_video_region_of_interest_meta_add_param (roi,
        gst_structure_copy (entry->detection));
    if (entry->mask)
      gst_video_region_of_interest_meta_add_param (roi,
          gst_structure_copy (entry->mask));
  }

  companion = (GstMaskRcnnMeta *) gst_buffer_add_meta (buffer,
      gst_maskrcnn_meta_get_info (), NULL);
  companion->table = table;
  return TRUE;
}

/* ------------------------------------------------------------ track ids */

/* Track ids of instance copies (gst_maskrcnn_instance_copy()), by the
 * copy's address: GstMaskRcnnInstance is allocated by its callers
 * (gst_maskrcnn_buffer_iterate_instances() fills one on the stack), so it
 * cannot grow a field without breaking applications built against it. */
G_LOCK_DEFINE_STATIC (copy_ids);
static GHashTable *copy_ids;    /* GstMaskRcnnInstance * -> guint64 * */

void
_gst_maskrcnn_instance_copy_set_track_id (const GstMaskRcnnInstance * copy,
    guint64 track_id)
{
  G_LOCK (copy_ids);
  if (track_id) {
    if (!copy_ids)
      copy_ids = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
          g_free);
    g_hash_table_insert (copy_ids, (gpointer) copy, g_memdup2 (&track_id,
            sizeof (track_id)));
  } else if (copy_ids) {
    g_hash_table_remove (copy_ids, copy);
  }
  G_UNLOCK (copy_ids);
}

static guint64
copy_track_id (const GstMaskRcnnInstance * copy)
{
  guint64 id = 0;

  G_LOCK (copy_ids);
  if (copy_ids) {
    const guint64 *v = g_hash_table_lookup (copy_ids, copy);
    if (v)
      id = *v;
  }
  G_UNLOCK (copy_ids);
  return id;
}

guint64
gst_maskrcnn_instance_get_track_id (const GstMaskRcnnInstance * instance)
{
  const GstStructure *detection;
  guint64 id = 0;

  g_return_val_if_fail (instance != NULL, 0);

  if (!instance->roi)
    return copy_track_id (instance);
  detection = gst_video_region_of_interest_meta_get_param (instance->roi,
      GST_MASKRCNN_DETECTION_NAME);
  if (detection)
    gst_structure_get_uint64 (detection, GST_MASKRCNN_FIELD_TRACK_ID, &id);
  return id;
}

/* The entry of `roi_id` in `buffer`'s companion meta, its table made this
 * buffer's own (copied where another buffer shares it). */
static InstanceEntry *
own_entry (GstBuffer * buffer, gint roi_id)
{
  GstMaskRcnnMeta *m = find_companion (buffer, roi_id);
  guint i;

  if (!m)
    return NULL;
  if (g_atomic_int_get (&m->table->ref) > 1) {
    InstanceTable *copy = instance_table_new (m->table->n);

    for (i = 0; i < m->table->n; i++) {
      const InstanceEntry *e = &m->table->entries[i];

      copy->entries[i].roi_id = e->roi_id;
      copy->entries[i].detection = gst_structure_copy (e->detection);
      copy->entries[i].mask = e->mask ? gst_structure_copy (e->mask) : NULL;
    }
    instance_table_unref (m->table);
    m->table = copy;
  }
  return (InstanceEntry *) instance_table_find (m->table, roi_id);
}

static void
set_object_id (GstVideoRegionOfInterestMeta * roi, guint64 track_id)
{
  GList *l;

  for (l = roi->params; l; l = l->next)
    if (gst_structure_has_name (l->data, GST_MASKRCNN_OBJECT_ID_NAME)) {
      gst_structure_free (l->data);
      roi->params = g_list_delete_link (roi->params, l);
      break;
    }
  /* DL Streamer's field is a gint: ids past G_MAXINT are not written there
   * rather than wrapped onto another object's id. */
  if (track_id != 0 && track_id <= G_MAXINT)
    gst_video_region_of_interest_meta_add_param (roi,
        gst_structure_new (GST_MASKRCNN_OBJECT_ID_NAME,
            GST_MASKRCNN_FIELD_OBJECT_ID, G_TYPE_INT, (gint) track_id, NULL));
}

gboolean
gst_maskrcnn_instance_set_track_id (GstBuffer * buffer,
    const GstMaskRcnnInstance * instance, guint64 track_id)
{
  GstStructure *detection;
  InstanceEntry *entry;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), FALSE);
  g_return_val_if_fail (instance != NULL, FALSE);

  if (!instance->roi || !gst_buffer_is_writable (buffer))
    return FALSE;
  entry = own_entry (buffer, instance->roi->id);
  detection = gst_video_region_of_interest_meta_get_param (instance->roi,
      GST_MASKRCNN_DETECTION_NAME);
  if (!detection && entry) {
    /* lost on the way (a transform that dropped the params): back */
    detection = gst_structure_copy (entry->detection);
    gst_video_region_of_interest_meta_add_param (instance->roi, detection);
    if (entry->mask && !gst_video_region_of_interest_meta_get_param
        (instance->roi, GST_MASKRCNN_MASK_NAME))
      gst_video_region_of_interest_meta_add_param (instance->roi,
          gst_structure_copy (entry->mask));
  }
  if (!detection)
    return FALSE;
  gst_structure_set (detection, GST_MASKRCNN_FIELD_TRACK_ID, G_TYPE_UINT64,
      track_id, NULL);
  if (entry)
    gst_structure_set (entry->detection, GST_MASKRCNN_FIELD_TRACK_ID,
        G_TYPE_UINT64, track_id, NULL);
  set_object_id (instance->roi, track_id);
  return TRUE;
}
