/* gst-maskrcnn: typed access to Mask R-CNN instances on GstBuffers.
 *
 * The `maskrcnn` element attaches one GstVideoRegionOfInterestMeta per
 * detected instance:
 *
 *   roi_type      the class label as a quark ("person", "circle", ...)
 *   x, y, w, h    the box in frame pixels
 *   params        a "detection" structure and, for instances with a mask,
 *                 a "mask" structure (see the field names below)
 *
 * The mask is box-relative: `width` x `height` GRAY8 bytes (255 inside the
 * instance, 0 outside, rows tightly packed) that cover the box. When a
 * downstream element scales the frame, the box is scaled and the mask keeps
 * its size; the functions here resample it onto whatever box the meta
 * carries now.
 *
 * GStreamer 1.22's own transform of the ROI meta drops the params when the
 * frame is scaled or converted to another format (videoscale,
 * videoconvert). The instances therefore also travel in a companion meta
 * (GstMaskRcnnMeta) that puts the params back on the transformed ROI metas.
 * Read instances through the functions below and this is invisible.
 *
 * Link with pkg-config's `gst-maskrcnn-meta`.
 */
#ifndef __GST_MASKRCNN_META_H__
#define __GST_MASKRCNN_META_H__

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/* Structure and field names of the ROI params. */
#define GST_MASKRCNN_DETECTION_NAME   "detection"
#define GST_MASKRCNN_FIELD_LABEL      "label"       /* G_TYPE_STRING */
#define GST_MASKRCNN_FIELD_CLASS_ID   "class-id"    /* G_TYPE_INT */
#define GST_MASKRCNN_FIELD_CONFIDENCE "confidence"  /* G_TYPE_DOUBLE, 0..1 */
#define GST_MASKRCNN_FIELD_STALE      "stale"       /* G_TYPE_BOOLEAN */
#define GST_MASKRCNN_FIELD_AGE        "age"         /* G_TYPE_UINT */
/* Written by `maskrcnntrack`; absent (read as 0) on untracked instances. */
#define GST_MASKRCNN_FIELD_TRACK_ID   "track-id"    /* G_TYPE_UINT64 */

/* DL Streamer's ROI param for a track id (what gvatrack writes), which
 * `maskrcnntrack` adds as well, for ids up to G_MAXINT. */
#define GST_MASKRCNN_OBJECT_ID_NAME   "object_id"
#define GST_MASKRCNN_FIELD_OBJECT_ID  "id"          /* G_TYPE_INT */

#define GST_MASKRCNN_MASK_NAME        "mask"
#define GST_MASKRCNN_FIELD_WIDTH      "width"       /* G_TYPE_INT */
#define GST_MASKRCNN_FIELD_HEIGHT     "height"      /* G_TYPE_INT */
#define GST_MASKRCNN_FIELD_FORMAT     "format"      /* G_TYPE_STRING, "GRAY8" */
#define GST_MASKRCNN_FIELD_DATA       "data"        /* GST_TYPE_BUFFER */

/**
 * GstMaskRcnnInstance:
 * @roi: the region-of-interest meta this instance lives in (owned by the
 *   buffer); NULL in a copy
 * @label: class label (owned by the meta; valid while the buffer is)
 * @class_id: class index in the model, 1.. (0 is the background)
 * @confidence: the instance's score, 0..1 (the model's class probability;
 *   JSON documents and element messages write it as "score")
 * @x: box left edge in frame pixels
 * @y: box top edge in frame pixels
 * @width: box width in frame pixels
 * @height: box height in frame pixels
 * @stale: TRUE when the detection was computed on an earlier frame and
 *   carried to this one (the element's `interval` property)
 * @age: frames since the detection was computed, 0 when fresh
 * @mask: GRAY8 box-relative mask, @mask_width x @mask_height bytes, or NULL
 *   when the instance has none (owned by the meta)
 * @mask_width: mask columns
 * @mask_height: mask rows
 *
 * One detected instance. gst_maskrcnn_buffer_iterate_instances() fills one
 * in place, every pointer borrowed from the buffer's metadata: keep a
 * reference to the buffer while using it. gst_maskrcnn_instance_copy() (or
 * gst_maskrcnn_buffer_copy_instances()) makes an owned copy that holds its
 * label and a reference to its mask data, so it may outlive the buffer and
 * cross threads (read-only); that boxed copy is what bindings see
 * (`GstMaskRcnn.Instance` in Python). It replaces #GstMaskRcnnDetection.
 *
 * The track id that `maskrcnntrack` gives an instance is read with
 * gst_maskrcnn_instance_get_track_id() (`Instance.get_track_id()` in
 * Python) rather than a field: callers allocate this struct, so it keeps
 * its size.
 */
typedef struct {
  GstVideoRegionOfInterestMeta *roi;
  const gchar *label;
  gint class_id;
  gdouble confidence;
  gint x, y, width, height;
  gboolean stale;
  guint age;
  GstBuffer *mask;
  gint mask_width, mask_height;
} GstMaskRcnnInstance;

/* ------------------------------------------------------------ reading */

/**
 * gst_maskrcnn_buffer_get_n_instances:
 * @buffer: a buffer
 *
 * Returns: the number of Mask R-CNN instances on the buffer.
 */
guint gst_maskrcnn_buffer_get_n_instances (GstBuffer * buffer);

/**
 * gst_maskrcnn_buffer_iterate_instances: (skip)
 * @buffer: a buffer
 * @state: (inout) (nullable): iteration state, NULL before the first call
 * @instance: (out caller-allocates): the next instance, its pointers
 *   borrowed from @buffer
 *
 * Iterates the instances on the buffer in the order they were attached (by
 * descending confidence for one `maskrcnn` element). Each call fills
 * *instance and returns TRUE, or returns FALSE when there are no more.
 * Bindings use gst_maskrcnn_buffer_copy_instances(), which gives instances
 * that own what they point to.
 *
 * Returns: TRUE while there was another instance.
 */
gboolean gst_maskrcnn_buffer_iterate_instances (GstBuffer * buffer,
    gpointer * state, GstMaskRcnnInstance * instance);

/**
 * gst_maskrcnn_instance_read_mask: (skip)
 * @instance: an instance from gst_maskrcnn_buffer_iterate_instances()
 * @dst: (out caller-allocates): @height rows of @stride bytes, owned by the
 *   caller
 * @width: columns of the resampled mask
 * @height: rows of the resampled mask
 * @stride: bytes per row at @dst, at least @width
 *
 * Resamples the instance's mask (nearest neighbour) to @width x @height
 * bytes at @dst, 255 inside and 0 outside. Pass the instance's width and
 * height for the mask at the box's current size. Bindings use
 * gst_maskrcnn_instance_get_mask().
 *
 * Returns: FALSE, leaving @dst untouched, when the instance has no mask or
 *   the arguments are invalid.
 */
gboolean gst_maskrcnn_instance_read_mask (const GstMaskRcnnInstance *
    instance, guint8 * dst, gint width, gint height, gint stride);

/**
 * gst_maskrcnn_instance_read_mask_region: (skip)
 * @instance: an instance from gst_maskrcnn_buffer_iterate_instances()
 * @width: columns of the resampled mask
 * @height: rows of the resampled mask
 * @region_x: left column of the rectangle to write
 * @region_y: top row of the rectangle to write
 * @region_width: columns of the rectangle
 * @region_height: rows of the rectangle
 * @dst: (out caller-allocates): @region_height rows of @stride bytes, owned
 *   by the caller
 * @stride: bytes per row at @dst, at least @region_width
 *
 * As gst_maskrcnn_instance_read_mask(), but only the @region_width x
 * @region_height rectangle at (@region_x, @region_y) of the @width x
 * @height resampled mask: the same bytes that a full read would put there,
 * without the cost of the rest (a box far larger than the frame). The
 * rectangle must lie inside @width x @height.
 *
 * Returns: FALSE, leaving @dst untouched, when the instance has no mask or
 *   the arguments are invalid.
 */
gboolean gst_maskrcnn_instance_read_mask_region (const GstMaskRcnnInstance *
    instance, gint width, gint height, gint region_x, gint region_y,
    gint region_width, gint region_height, guint8 * dst, gint stride);

/**
 * gst_maskrcnn_instance_rasterize: (skip)
 * @instance: an instance from gst_maskrcnn_buffer_iterate_instances()
 * @frame: (inout): a full-frame GRAY8 image owned by the
 *   caller, @frame_height rows of @stride bytes
 * @frame_width: frame columns
 * @frame_height: frame rows
 * @stride: bytes per row of @frame, at least @frame_width
 * @value: the byte written where the mask covers the frame
 *
 * Writes @value into every pixel of @frame that the instance's mask covers;
 * pixels outside the mask are left as they are, so calling it for several
 * instances builds a label map. Parts of the box outside the frame are
 * clipped. Bindings use gst_maskrcnn_instance_get_frame_mask().
 *
 * Returns: FALSE when the instance has no mask or the arguments are invalid.
 */
gboolean gst_maskrcnn_instance_rasterize (const GstMaskRcnnInstance *
    instance, guint8 * frame, gint frame_width, gint frame_height,
    gint stride, guint8 value);

/* ------------------------------------------------------------ track ids */

/**
 * gst_maskrcnn_instance_get_track_id:
 * @instance: an instance from gst_maskrcnn_buffer_iterate_instances(), or
 *   a copy from gst_maskrcnn_instance_copy() or
 *   gst_maskrcnn_buffer_copy_instances()
 *
 * The instance's track id: a number `maskrcnntrack` gives each object,
 * unique within that element for its lifetime and never reused, the same
 * on every frame that shows the object. The detection params carry it as
 * the "track-id" field (#GST_MASKRCNN_FIELD_TRACK_ID). A copy holds the
 * id its instance had when copied (a struct copied by assignment does
 * not: use gst_maskrcnn_instance_copy()).
 *
 * Returns: the track id, or 0 when the instance is not tracked.
 */
guint64 gst_maskrcnn_instance_get_track_id (const GstMaskRcnnInstance *
    instance);

/**
 * gst_maskrcnn_instance_set_track_id: (skip)
 * @buffer: the writable buffer @instance was read from
 * @instance: an instance from gst_maskrcnn_buffer_iterate_instances() on
 *   @buffer
 * @track_id: the track id, 0 for untracked
 *
 * Records the instance's track id for every reader: the "track-id" field
 * of its detection params (kept when the frame is scaled, as the other
 * params are) and DL Streamer's "object_id" ROI param (a structure
 * #GST_MASKRCNN_OBJECT_ID_NAME with a gint field "id", as gvatrack writes;
 * left out where the id exceeds G_MAXINT or is 0). For trackers.
 *
 * Returns: FALSE when @buffer is not writable or @instance carries no
 *   detection params on it.
 */
gboolean gst_maskrcnn_instance_set_track_id (GstBuffer * buffer,
    const GstMaskRcnnInstance * instance, guint64 track_id);

/* ------------------------------------------------------------ owned copies */

#define GST_TYPE_MASK_RCNN_INSTANCE (gst_maskrcnn_instance_get_type ())

/**
 * gst_maskrcnn_instance_get_type:
 *
 * Returns: the boxed type of #GstMaskRcnnInstance copies
 *   (gst_maskrcnn_instance_copy(), gst_maskrcnn_instance_free()).
 */
GType gst_maskrcnn_instance_get_type (void);

/**
 * gst_maskrcnn_instance_copy:
 * @instance: an instance, filled by gst_maskrcnn_buffer_iterate_instances()
 *   or itself a copy
 *
 * An owned copy of @instance: the label copied, a reference taken on the
 * mask data (immutable once attached, so sharing it is safe), @roi NULL
 * (the meta belongs to the buffer). It may outlive the buffer and cross
 * threads (read-only).
 *
 * Returns: (transfer full): the copy; free it with
 *   gst_maskrcnn_instance_free().
 */
GstMaskRcnnInstance *gst_maskrcnn_instance_copy (const GstMaskRcnnInstance *
    instance);

/**
 * gst_maskrcnn_instance_free:
 * @instance: (transfer full): a copy made by gst_maskrcnn_instance_copy()
 *   or gst_maskrcnn_buffer_copy_instances() (never an instance the iterator
 *   filled: that one owns nothing)
 *
 * Frees the copy, its label and its reference to the mask data.
 */
void gst_maskrcnn_instance_free (GstMaskRcnnInstance * instance);

/**
 * gst_maskrcnn_instance_has_mask:
 * @instance: an instance
 *
 * Returns: TRUE when the instance carries a mask.
 */
gboolean gst_maskrcnn_instance_has_mask (const GstMaskRcnnInstance *
    instance);

/**
 * gst_maskrcnn_instance_get_mask:
 * @instance: an instance
 *
 * The mask on the box as it is now: @width x @height GRAY8 bytes, rows
 * tightly packed, 255 inside the instance and 0 outside. Byte (i, j) covers
 * frame pixel (x + i, y + j).
 *
 * Returns: (transfer full) (nullable): the mask, or NULL when the instance
 *   has none.
 */
GBytes *gst_maskrcnn_instance_get_mask (const GstMaskRcnnInstance *
    instance);

/**
 * gst_maskrcnn_instance_get_frame_mask:
 * @instance: an instance
 * @frame_width: frame columns
 * @frame_height: frame rows
 *
 * The mask pasted into a full frame: @frame_width x @frame_height GRAY8
 * bytes, rows tightly packed, 255 where the instance is and 0 elsewhere
 * (parts of the box outside the frame are clipped). This is what COCO RLE
 * encodes.
 *
 * Returns: (transfer full) (nullable): the frame mask, or NULL when the
 *   instance has no mask or a size is not positive.
 */
GBytes *gst_maskrcnn_instance_get_frame_mask (const GstMaskRcnnInstance *
    instance, gint frame_width, gint frame_height);

/**
 * gst_maskrcnn_buffer_copy_instances:
 * @buffer: a buffer
 *
 * Owned copies (gst_maskrcnn_instance_copy()) of all the Mask R-CNN
 * instances of the frame, in the order
 * gst_maskrcnn_buffer_iterate_instances() gives them.
 *
 * Returns: (transfer full) (element-type GstMaskRcnnInstance): a new list
 *   of new copies (empty: NULL); free it with
 *   `g_list_free_full (list, (GDestroyNotify) gst_maskrcnn_instance_free)`.
 */
GList *gst_maskrcnn_buffer_copy_instances (GstBuffer * buffer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstMaskRcnnInstance,
    gst_maskrcnn_instance_free)

/* ------------------------------------------------------------ deprecated */

/* GstMaskRcnnDetection was a second type for one instance, with the score
 * named `score`; #GstMaskRcnnInstance copies replace it. It keeps working
 * for the applications (and the Python code) that use it. */
G_GNUC_BEGIN_IGNORE_DEPRECATIONS

/**
 * GstMaskRcnnDetection:
 * @label: class label
 * @class_id: class index in the model, 1.. (0 is the background)
 * @score: the instance's score, 0..1 (#GstMaskRcnnInstance's @confidence)
 * @x: box left edge in frame pixels
 * @y: box top edge in frame pixels
 * @width: box width in frame pixels
 * @height: box height in frame pixels
 * @stale: TRUE when the detection was computed on an earlier frame and
 *   carried to this one (the element's `interval` property)
 * @age: frames since the detection was computed, 0 when fresh
 * @track_id: the track id (gst_maskrcnn_instance_get_track_id()), 0 when
 *   untracked
 *
 * One instance as an owned, reference-counted copy of the buffer's
 * metadata (`GstMaskRcnn.Detection` in Python). The fields are read-only.
 *
 * Deprecated: Use #GstMaskRcnnInstance copies
 *   (gst_maskrcnn_buffer_copy_instances(), gst_maskrcnn_instance_copy()),
 *   whose score is @confidence.
 */
typedef struct _GstMaskRcnnDetection GstMaskRcnnDetection
    G_DEPRECATED_FOR (GstMaskRcnnInstance);
struct _GstMaskRcnnDetection {
  gchar *label;
  gint class_id;
  gdouble score;
  gint x, y, width, height;
  gboolean stale;
  guint age;

  /*< private >*/
  GstBuffer *mask_data;         /* box-relative GRAY8, or NULL */
  gint mask_width, mask_height;
  gint ref_count;

  /*< public >*/
  /* Last: only the library allocates detections, so the struct may grow
   * at its end. */
  guint64 track_id;
};

#define GST_TYPE_MASK_RCNN_DETECTION (gst_maskrcnn_detection_get_type ())
/* The spelling before the type macros followed the elements'
 * (GST_TYPE_MASK_RCNN_*). */
#define GST_TYPE_MASKRCNN_DETECTION GST_TYPE_MASK_RCNN_DETECTION \
  GLIB_DEPRECATED_MACRO_FOR (GST_TYPE_MASK_RCNN_DETECTION)

/**
 * gst_maskrcnn_detection_get_type:
 *
 * Returns: the boxed type of #GstMaskRcnnDetection.
 *
 * Deprecated: Use gst_maskrcnn_instance_get_type().
 */
G_DEPRECATED_FOR (gst_maskrcnn_instance_get_type)
GType gst_maskrcnn_detection_get_type (void);

/**
 * gst_maskrcnn_detection_new_from_instance: (skip)
 * @instance: an instance from gst_maskrcnn_buffer_iterate_instances()
 *
 * Returns: (transfer full): a new detection that owns copies of what
 *   @instance borrows; release it with gst_maskrcnn_detection_unref().
 *
 * Deprecated: Use gst_maskrcnn_instance_copy().
 */
G_DEPRECATED_FOR (gst_maskrcnn_instance_copy)
GstMaskRcnnDetection *gst_maskrcnn_detection_new_from_instance (const
    GstMaskRcnnInstance * instance);

/**
 * gst_maskrcnn_detection_ref:
 * @detection: a detection
 *
 * Returns: (transfer full): @detection, with one more reference.
 *
 * Deprecated: Use gst_maskrcnn_instance_copy().
 */
G_DEPRECATED_FOR (gst_maskrcnn_instance_copy)
GstMaskRcnnDetection *gst_maskrcnn_detection_ref (GstMaskRcnnDetection *
    detection);

/**
 * gst_maskrcnn_detection_unref:
 * @detection: (transfer full): a detection
 *
 * Drops one reference; the last one frees the detection.
 *
 * Deprecated: Use gst_maskrcnn_instance_free().
 */
G_DEPRECATED_FOR (gst_maskrcnn_instance_free)
void gst_maskrcnn_detection_unref (GstMaskRcnnDetection * detection);

/**
 * gst_maskrcnn_detection_has_mask:
 * @detection: a detection
 *
 * Returns: TRUE when the detection carries a mask.
 *
 * Deprecated: Use gst_maskrcnn_instance_has_mask().
 */
G_DEPRECATED_FOR (gst_maskrcnn_instance_has_mask)
gboolean gst_maskrcnn_detection_has_mask (const GstMaskRcnnDetection *
    detection);

/**
 * gst_maskrcnn_detection_get_mask:
 * @detection: a detection
 *
 * As gst_maskrcnn_instance_get_mask().
 *
 * Returns: (transfer full) (nullable): the mask, or NULL when the detection
 *   has none.
 *
 * Deprecated: Use gst_maskrcnn_instance_get_mask().
 */
G_DEPRECATED_FOR (gst_maskrcnn_instance_get_mask)
GBytes *gst_maskrcnn_detection_get_mask (const GstMaskRcnnDetection *
    detection);

/**
 * gst_maskrcnn_detection_get_frame_mask:
 * @detection: a detection
 * @frame_width: frame columns
 * @frame_height: frame rows
 *
 * As gst_maskrcnn_instance_get_frame_mask().
 *
 * Returns: (transfer full) (nullable): the frame mask, or NULL when the
 *   detection has no mask or a size is not positive.
 *
 * Deprecated: Use gst_maskrcnn_instance_get_frame_mask().
 */
G_DEPRECATED_FOR (gst_maskrcnn_instance_get_frame_mask)
GBytes *gst_maskrcnn_detection_get_frame_mask (const GstMaskRcnnDetection *
    detection, gint frame_width, gint frame_height);

/**
 * gst_maskrcnn_buffer_get_instances:
 * @buffer: a buffer
 *
 * All Mask R-CNN instances of the frame as detections, in the order
 * gst_maskrcnn_buffer_iterate_instances() gives them.
 *
 * Returns: (transfer full) (element-type GstMaskRcnnDetection): a new list
 *   of new detections (empty: NULL); free it with
 *   `g_list_free_full (list, (GDestroyNotify) gst_maskrcnn_detection_unref)`.
 *
 * Deprecated: Use gst_maskrcnn_buffer_copy_instances(), which gives
 *   #GstMaskRcnnInstance copies.
 */
G_DEPRECATED_FOR (gst_maskrcnn_buffer_copy_instances)
GList *gst_maskrcnn_buffer_get_instances (GstBuffer * buffer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstMaskRcnnDetection,
    gst_maskrcnn_detection_unref)

G_GNUC_END_IGNORE_DEPRECATIONS

/* ------------------------------------------------------------ writing */

/**
 * GstMaskRcnnInstanceInit:
 *
 * What gst_maskrcnn_buffer_add_instances() needs to know of one instance.
 * The mask, when not NULL, must hold mask_width * mask_height bytes; the
 * function takes its own reference to it.
 */
typedef struct {
  const gchar *label;
  gint class_id;
  gdouble confidence;
  gint x, y, width, height;
  gboolean stale;
  guint age;
  GstBuffer *mask;
  gint mask_width, mask_height;
} GstMaskRcnnInstanceInit;

/**
 * gst_maskrcnn_buffer_add_instances: (skip)
 * @buffer: a writable buffer
 * @instances: (array length=n): what to attach; the function takes its own
 *   references to the masks
 * @n: number of @instances
 *
 * Attaches @n instances to a writable buffer: one ROI meta each, plus the
 * companion meta that keeps their params across scaling. Not for bindings:
 * #GstMaskRcnnInstanceInit holds a raw mask buffer pointer.
 *
 * Returns: FALSE (and attaches nothing) when the buffer is not writable or
 *   an instance is invalid (empty box, label NULL, mask smaller than its
 *   stated size).
 */
gboolean gst_maskrcnn_buffer_add_instances (GstBuffer * buffer,
    const GstMaskRcnnInstanceInit * instances, guint n);

/* ------------------------------------------------------------ companion */

/* The companion meta is an implementation detail of the functions above;
 * its API type is public so that elements may decide whether to keep it
 * (tags: "video", "orientation", "size", as the ROI meta's). */
#define GST_MASK_RCNN_META_API_TYPE (gst_maskrcnn_meta_api_get_type ())
/* The spelling before the type macros followed the elements'. */
#define GST_MASKRCNN_META_API_TYPE GST_MASK_RCNN_META_API_TYPE \
  GLIB_DEPRECATED_MACRO_FOR (GST_MASK_RCNN_META_API_TYPE)

/**
 * gst_maskrcnn_meta_api_get_type:
 *
 * Returns: the API type of the companion meta.
 */
GType gst_maskrcnn_meta_api_get_type (void);

/**
 * gst_maskrcnn_meta_get_info: (skip)
 *
 * Returns: (transfer none): the companion meta's registration, owned by
 *   GStreamer.
 */
const GstMetaInfo *gst_maskrcnn_meta_get_info (void);

G_END_DECLS

#endif /* __GST_MASKRCNN_META_H__ */
