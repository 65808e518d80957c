/* gst-maskrcnn: the maskrcnntrack element.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-maskrcnntrack
 * @title: maskrcnntrack
 *
 * Gives each instance that `maskrcnn` attached a track id: a 64-bit number,
 * unique within the element for its lifetime and never reused, that stays
 * with the object from frame to frame. Association uses the masks as well
 * as the boxes: a constant-velocity Kalman filter predicts each track's
 * box, and a detection's similarity to a track mixes the box IoU with the
 * IoU of its mask and the track's last mask moved by the predicted motion;
 * ByteTrack's two stages (confident detections first, then low-score ones
 * for the tracks left) are each solved by optimal assignment. See
 * track/tracker.h.
 *
 * The id goes into the instance's detection params ("track-id", read with
 * gst_maskrcnn_instance_get_track_id()) and into DL Streamer's "object_id"
 * ROI param. A track is tentative until it has been matched on min-hits
 * frames and gets its id then (objects there when the stream starts get
 * theirs at once), so that a detector's one-off false detections never
 * show an id. Instances without an id - those of tentative tracks, and
 * those that neither start nor continue a track - are removed from the
 * buffer, unless keep-untracked is set (they then pass with track id 0). On frames where `maskrcnn` carried its last result (its interval
 * property: stale instances), the tracks move by their predicted motion and
 * each stale instance moves with its track's predicted box, mask and all.
 *
 * Only metadata is read and written, so frames in system and in CUDA memory
 * pass alike. New caps, a flush and a new stream end every track (ids go on
 * counting).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=clip.webm ! decodebin ! videoconvert ! \
 *     maskrcnn score-threshold=0.1 ! maskrcnntrack ! maskrcnnoverlay ! \
 *     videoconvert ! autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmaskrcnntrack.h"

#include <math.h>
#include <string.h>

#include <gst/video/video.h>

#include "maskrcnn-meta.h"
#include "tracker.h"

GST_DEBUG_CATEGORY_STATIC (gst_maskrcnn_track_debug);
#define GST_CAT_DEFAULT gst_maskrcnn_track_debug

#define DEFAULT_TRACK_THRESHOLD 0.5
#define DEFAULT_LOW_THRESHOLD 0.1
#define DEFAULT_NEW_TRACK_THRESHOLD 0.6
#define DEFAULT_MATCH_THRESHOLD 0.2
#define DEFAULT_MASK_WEIGHT 0.5
#define DEFAULT_MIN_HITS 3
#define DEFAULT_MAX_AGE 30
#define DEFAULT_PER_CLASS TRUE
#define DEFAULT_DUPLICATE_THRESHOLD 0.8
#define DEFAULT_KEEP_UNTRACKED FALSE
#define DEFAULT_POST_MESSAGES FALSE

enum
{
  PROP_0,
  PROP_TRACK_THRESHOLD,
  PROP_LOW_THRESHOLD,
  PROP_NEW_TRACK_THRESHOLD,
  PROP_MATCH_THRESHOLD,
  PROP_MASK_WEIGHT,
  PROP_MIN_HITS,
  PROP_MAX_AGE,
  PROP_PER_CLASS,
  PROP_DUPLICATE_THRESHOLD,
  PROP_KEEP_UNTRACKED,
  PROP_POST_MESSAGES,
};

/* What a fresh frame's instance became, to find its stale copies on the
 * frames maskrcnn carries it to: they are the same instances, in the same
 * order, with the same box, class and score. */
typedef struct
{
  gint x, y, w, h, class_id;
  gdouble confidence;
  guint64 track_id;
} LastInstance;

struct _GstMaskRcnnTrack
{
  GstMaskRcnnBaseTransform parent;

  /* properties, under the object lock */
  mrcnn_tracker_params params;
  gboolean keep_untracked;
  gboolean post_messages;

  /* streaming state */
  mrcnn_tracker *tracker;       /* from start() to stop() */
  gboolean keep;                /* keep_untracked, as of start() */
  gboolean post;
  GArray *last;                 /* LastInstance of the last fresh frame */
  gint width, height;           /* of the negotiated caps, 0 before */
};

#define gst_maskrcnn_track_parent_class parent_class
G_DEFINE_TYPE (GstMaskRcnnTrack, gst_maskrcnn_track,
    GST_TYPE_MASK_RCNN_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (maskrcnntrack, "maskrcnntrack", GST_RANK_NONE,
    GST_TYPE_MASK_RCNN_TRACK);

/* ------------------------------------------------------------ streaming */

static void
reset_tracks (GstMaskRcnnTrack * self, const gchar * why)
{
  if (self->tracker && mrcnn_tracker_n_tracks (self->tracker) > 0)
    GST_DEBUG_OBJECT (self, "%s: %d tracks end", why,
        mrcnn_tracker_n_tracks (self->tracker));
  if (self->tracker)
    mrcnn_tracker_reset (self->tracker);
  if (self->last)
    g_array_set_size (self->last, 0);
}

static gboolean
same_instance (const LastInstance * l, const GstMaskRcnnInstance * in)
{
  return l->x == in->x && l->y == in->y && l->w == in->width
      && l->h == in->height && l->class_id == in->class_id
      && l->confidence == in->confidence;
}

/* The track id the fresh instance behind stale instance `index` got. */
static gboolean
stale_track_id (GstMaskRcnnTrack * self, const GstMaskRcnnInstance * in,
    guint index, guint64 * track_id)
{
  guint i;

  if (index < self->last->len
      && same_instance (&g_array_index (self->last, LastInstance, index), in))
    i = index;
  else {
    for (i = 0; i < self->last->len; i++)
      if (same_instance (&g_array_index (self->last, LastInstance, i), in))
        break;
    if (i == self->last->len)
      return FALSE;
  }
  *track_id = g_array_index (self->last, LastInstance, i).track_id;
  return TRUE;
}

/* Puts a stale instance where its track predicts its detection now (the
 * visible part of the object: the detection's box moved and scaled with
 * the track's predicted box). The mask is relative to the box, so it moves
 * and scales with it. */
static void
move_to_track (GstMaskRcnnTrack * self, const GstMaskRcnnInstance * in,
    guint64 track_id)
{
  GstVideoRegionOfInterestMeta *roi = in->roi;
  double box[4];
  gint64 x, y, w, h;

  if (!mrcnn_tracker_visible_box (self->tracker, track_id, box))
    return;
  w = MAX (1, (gint64) llround (box[2]));
  h = MAX (1, (gint64) llround (box[3]));
  x = llround (box[0]);
  y = llround (box[1]);
  /* ROI boxes start inside the frame (unsigned corners): a box that moves
   * past an edge is held at it, keeping its size */
  if (self->width > 0 && x + w > self->width)
    x = self->width - w;
  if (self->height > 0 && y + h > self->height)
    y = self->height - h;
  roi->x = (guint) MAX (0, x);
  roi->y = (guint) MAX (0, y);
  roi->w = (guint) w;
  roi->h = (guint) h;
}

static void
post_tracks (GstMaskRcnnTrack * self, GstBuffer * buf, GArray * instances,
    const guint64 * ids, const gboolean * kept, gboolean stale)
{
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);
  GstClockTime pts = GST_BUFFER_PTS (buf), running_time = GST_CLOCK_TIME_NONE;
  GValue list = G_VALUE_INIT;
  GstStructure *s;
  guint i;

  if (GST_CLOCK_TIME_IS_VALID (pts) &&
      trans->segment.format == GST_FORMAT_TIME)
    running_time = gst_segment_to_running_time (&trans->segment,
        GST_FORMAT_TIME, pts);
  g_value_init (&list, GST_TYPE_LIST);
  for (i = 0; i < instances->len; i++) {
    const GstMaskRcnnInstance *in =
        &g_array_index (instances, GstMaskRcnnInstance, i);
    GValue v = G_VALUE_INIT;

    if (!kept[i])
      continue;
    g_value_init (&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&v, gst_structure_new ("instance",
            "track-id", G_TYPE_UINT64, ids[i],
            "label", G_TYPE_STRING, in->label,
            "class-id", G_TYPE_INT, in->class_id,
            "score", G_TYPE_DOUBLE, in->confidence,
            "x", G_TYPE_INT, (gint) in->roi->x, "y", G_TYPE_INT,
            (gint) in->roi->y, "width", G_TYPE_INT, (gint) in->roi->w,
            "height", G_TYPE_INT, (gint) in->roi->h, NULL));
    gst_value_list_append_and_take_value (&list, &v);
  }
  s = gst_structure_new ("maskrcnntrack",
      "timestamp", G_TYPE_UINT64, pts,
      "running-time", G_TYPE_UINT64, running_time,
      "stale", G_TYPE_BOOLEAN, stale,
      "tracks", G_TYPE_INT, mrcnn_tracker_n_tracks (self->tracker), NULL);
  gst_structure_take_value (s, "instances", &list);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

static GstFlowReturn
gst_maskrcnn_track_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstMaskRcnnTrack *self = GST_MASK_RCNN_TRACK (trans);
  GstMaskRcnnInstance inst;
  gpointer state = NULL;
  GArray *instances;
  guint64 *ids;
  gboolean *kept, stale = TRUE;
  guint i, n;

  instances = g_array_new (FALSE, FALSE, sizeof (GstMaskRcnnInstance));
  while (gst_maskrcnn_buffer_iterate_instances (buf, &state, &inst)) {
    g_array_append_val (instances, inst);
    stale &= inst.stale;
  }
  n = instances->len;
  /* A frame without instances is taken as fresh: maskrcnn's carried
   * frames and its fresh ones look the same when it found nothing. */
  if (n == 0)
    stale = FALSE;
  ids = g_new0 (guint64, MAX (n, 1));
  kept = g_new0 (gboolean, MAX (n, 1));

  if (!stale) {
    mrcnn_track_input *in = g_new0 (mrcnn_track_input, MAX (n, 1));
    mrcnn_track_output *out = g_new0 (mrcnn_track_output, MAX (n, 1));
    GstMapInfo *maps = g_new0 (GstMapInfo, MAX (n, 1));
    gboolean *mapped = g_new0 (gboolean, MAX (n, 1));

    for (i = 0; i < n; i++) {
      const GstMaskRcnnInstance *d =
          &g_array_index (instances, GstMaskRcnnInstance, i);

      in[i].x = d->x;
      in[i].y = d->y;
      in[i].w = d->width;
      in[i].h = d->height;
      in[i].score = d->confidence;
      in[i].class_id = d->class_id;
      if (d->mask && gst_buffer_map (d->mask, &maps[i], GST_MAP_READ)) {
        mapped[i] = TRUE;
        in[i].mask = maps[i].data;
        in[i].mask_width = d->mask_width;
        in[i].mask_height = d->mask_height;
        in[i].mask_stride = d->mask_width;
      }
    }
    if (mrcnn_tracker_update (self->tracker, in, (int) n, out) < 0)
      GST_WARNING_OBJECT (self, "out of memory: this frame's %u instances "
          "are untracked", n);
    for (i = 0; i < n; i++) {
      if (mapped[i])
        gst_buffer_unmap (g_array_index (instances, GstMaskRcnnInstance,
                i).mask, &maps[i]);
      ids[i] = out[i].track_id;
    }
    g_array_set_size (self->last, n);
    for (i = 0; i < n; i++) {
      const GstMaskRcnnInstance *d =
          &g_array_index (instances, GstMaskRcnnInstance, i);
      LastInstance *l = &g_array_index (self->last, LastInstance, i);

      l->x = d->x;
      l->y = d->y;
      l->w = d->width;
      l->h = d->height;
      l->class_id = d->class_id;
      l->confidence = d->confidence;
      l->track_id = ids[i];
    }
    g_free (in);
    g_free (out);
    g_free (maps);
    g_free (mapped);
  } else {
    mrcnn_tracker_advance (self->tracker);
    for (i = 0; i < n; i++) {
      const GstMaskRcnnInstance *d =
          &g_array_index (instances, GstMaskRcnnInstance, i);

      if (stale_track_id (self, d, i, &ids[i]) && ids[i] != 0)
        move_to_track (self, d, ids[i]);
    }
  }

  for (i = 0; i < n; i++) {
    const GstMaskRcnnInstance *d =
        &g_array_index (instances, GstMaskRcnnInstance, i);

    kept[i] = ids[i] != 0 || self->keep;
    if (kept[i])
      gst_maskrcnn_instance_set_track_id (buf, d, ids[i]);
  }
  if (self->post)
    post_tracks (self, buf, instances, ids, kept, stale);
  for (i = 0; i < n; i++)
    if (!kept[i])
      gst_buffer_remove_meta (buf, (GstMeta *) g_array_index (instances,
              GstMaskRcnnInstance, i).roi);
  GST_LOG_OBJECT (self, "%s frame: %u instances, %d tracks",
      stale ? "stale" : "fresh", n, mrcnn_tracker_n_tracks (self->tracker));

  g_free (ids);
  g_free (kept);
  g_array_free (instances, TRUE);
  return GST_FLOW_OK;
}

/* ------------------------------------------------------------ life cycle */

/* The reason the settings cannot work, or NULL. */
static gchar *
check_params (const mrcnn_tracker_params * p)
{
  if (p->low_threshold > p->high_threshold)
    return g_strdup_printf ("low-threshold (%g) is above track-threshold "
        "(%g): the low-score stage would take no detection; set "
        "low-threshold at or below track-threshold", p->low_threshold,
        p->high_threshold);
  if (p->new_track_threshold < p->high_threshold)
    return g_strdup_printf ("new-track-threshold (%g) is below "
        "track-threshold (%g): only confident detections start tracks; set "
        "new-track-threshold at or above track-threshold",
        p->new_track_threshold, p->high_threshold);
  return NULL;
}

static gboolean
gst_maskrcnn_track_start (GstBaseTransform * trans)
{
  GstMaskRcnnTrack *self = GST_MASK_RCNN_TRACK (trans);
  mrcnn_tracker_params p;
  gchar *why;

  GST_OBJECT_LOCK (self);
  p = self->params;
  self->keep = self->keep_untracked;
  self->post = self->post_messages;
  GST_OBJECT_UNLOCK (self);

  why = check_params (&p);
  if (why) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Invalid maskrcnntrack settings: %s.", why), (NULL));
    g_free (why);
    return FALSE;
  }
  self->tracker = mrcnn_tracker_new (&p);
  if (!self->tracker) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Out of memory for the tracker."), (NULL));
    return FALSE;
  }
  self->last = g_array_new (FALSE, FALSE, sizeof (LastInstance));
  self->width = self->height = 0;
  return TRUE;
}

static gboolean
gst_maskrcnn_track_stop (GstBaseTransform * trans)
{
  GstMaskRcnnTrack *self = GST_MASK_RCNN_TRACK (trans);

  g_clear_pointer (&self->tracker, mrcnn_tracker_free);
  if (self->last)
    g_array_free (self->last, TRUE);
  self->last = NULL;
  return TRUE;
}

/* New caps may be another stream, or boxes in other units: the tracks end
 * (their ids are never given again). */
static gboolean
gst_maskrcnn_track_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstMaskRcnnTrack *self = GST_MASK_RCNN_TRACK (trans);
  GstVideoInfo info;

  if (!GST_BASE_TRANSFORM_CLASS (parent_class)->set_caps (trans, incaps,
          outcaps))
    return FALSE;
  if (!gst_video_info_from_caps (&info, incaps)) {
    GST_ERROR_OBJECT (self, "invalid caps %" GST_PTR_FORMAT, incaps);
    return FALSE;
  }
  reset_tracks (self, "new caps");
  self->width = GST_VIDEO_INFO_WIDTH (&info);
  self->height = GST_VIDEO_INFO_HEIGHT (&info);
  return TRUE;
}

static gboolean
gst_maskrcnn_track_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstMaskRcnnTrack *self = GST_MASK_RCNN_TRACK (trans);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_STOP:
      reset_tracks (self, "flush");
      break;
    case GST_EVENT_STREAM_START:
      reset_tracks (self, "new stream");
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

/* ------------------------------------------------------------ properties */

static void
gst_maskrcnn_track_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstMaskRcnnTrack *self = GST_MASK_RCNN_TRACK (object);
  mrcnn_tracker_params *p = &self->params;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_TRACK_THRESHOLD:
      p->high_threshold = g_value_get_double (value);
      break;
    case PROP_LOW_THRESHOLD:
      p->low_threshold = g_value_get_double (value);
      break;
    case PROP_NEW_TRACK_THRESHOLD:
      p->new_track_threshold = g_value_get_double (value);
      break;
    case PROP_MATCH_THRESHOLD:
      p->match_threshold = g_value_get_double (value);
      break;
    case PROP_MASK_WEIGHT:
      p->mask_weight = g_value_get_double (value);
      break;
    case PROP_MIN_HITS:
      p->min_hits = (int) g_value_get_uint (value);
      break;
    case PROP_MAX_AGE:
      p->max_age = (int) g_value_get_uint (value);
      break;
    case PROP_PER_CLASS:
      p->per_class = g_value_get_boolean (value);
      break;
    case PROP_DUPLICATE_THRESHOLD:
      p->duplicate_iou = g_value_get_double (value);
      break;
    case PROP_KEEP_UNTRACKED:
      self->keep_untracked = g_value_get_boolean (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_maskrcnn_track_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstMaskRcnnTrack *self = GST_MASK_RCNN_TRACK (object);
  const mrcnn_tracker_params *p = &self->params;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_TRACK_THRESHOLD:
      g_value_set_double (value, p->high_threshold);
      break;
    case PROP_LOW_THRESHOLD:
      g_value_set_double (value, p->low_threshold);
      break;
    case PROP_NEW_TRACK_THRESHOLD:
      g_value_set_double (value, p->new_track_threshold);
      break;
    case PROP_MATCH_THRESHOLD:
      g_value_set_double (value, p->match_threshold);
      break;
    case PROP_MASK_WEIGHT:
      g_value_set_double (value, p->mask_weight);
      break;
    case PROP_MIN_HITS:
      g_value_set_uint (value, (guint) p->min_hits);
      break;
    case PROP_MAX_AGE:
      g_value_set_uint (value, (guint) p->max_age);
      break;
    case PROP_PER_CLASS:
      g_value_set_boolean (value, p->per_class);
      break;
    case PROP_DUPLICATE_THRESHOLD:
      g_value_set_double (value, p->duplicate_iou);
      break;
    case PROP_KEEP_UNTRACKED:
      g_value_set_boolean (value, self->keep_untracked);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_maskrcnn_track_finalize (GObject * object)
{
  GstMaskRcnnTrack *self = GST_MASK_RCNN_TRACK (object);

  mrcnn_tracker_free (self->tracker);
  if (self->last)
    g_array_free (self->last, TRUE);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_maskrcnn_track_class_init (GstMaskRcnnTrackClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  /* read when the element starts */
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  GST_DEBUG_CATEGORY_INIT (gst_maskrcnn_track_debug, "maskrcnntrack", 0,
      "Mask R-CNN instance tracking");

  gobject_class->set_property = gst_maskrcnn_track_set_property;
  gobject_class->get_property = gst_maskrcnn_track_get_property;
  gobject_class->finalize = gst_maskrcnn_track_finalize;

  g_object_class_install_property (gobject_class, PROP_TRACK_THRESHOLD,
      g_param_spec_double ("track-threshold", "Track threshold",
          "Score from which a detection is confident: matched first, and "
          "able to start a track; lower ones only continue tracks",
          0.0, 1.0, DEFAULT_TRACK_THRESHOLD, flags));
  g_object_class_install_property (gobject_class, PROP_LOW_THRESHOLD,
      g_param_spec_double ("low-threshold", "Low threshold",
          "Score below which a detection is ignored (maskrcnn's "
          "score-threshold must be at or below it for the low-score stage "
          "to see any)", 0.0, 1.0, DEFAULT_LOW_THRESHOLD, flags));
  g_object_class_install_property (gobject_class, PROP_NEW_TRACK_THRESHOLD,
      g_param_spec_double ("new-track-threshold", "New track threshold",
          "Score from which an unmatched confident detection starts a track",
          0.0, 1.0, DEFAULT_NEW_TRACK_THRESHOLD, flags));
  g_object_class_install_property (gobject_class, PROP_MATCH_THRESHOLD,
      g_param_spec_double ("match-threshold", "Match threshold",
          "Least similarity (mix of box and mask IoU with the predicted "
          "track) for a confident detection to continue a track",
          0.01, 1.0, DEFAULT_MATCH_THRESHOLD, flags));
  g_object_class_install_property (gobject_class, PROP_MASK_WEIGHT,
      g_param_spec_double ("mask-weight", "Mask weight",
          "Weight of the mask IoU in the similarity (0: boxes only, 1: masks "
          "only)", 0.0, 1.0, DEFAULT_MASK_WEIGHT, flags));
  g_object_class_install_property (gobject_class, PROP_MIN_HITS,
      g_param_spec_uint ("min-hits", "Minimum hits",
          "Frames a new track must be matched on before it is confirmed and "
          "gets its id; a tentative track ends at its first miss", 1, 1000,
          DEFAULT_MIN_HITS, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_AGE,
      g_param_spec_uint ("max-age", "Maximum age",
          "Frames a confirmed track is kept without a match (through an "
          "occlusion) before it ends", 0, 100000, DEFAULT_MAX_AGE, flags));
  g_object_class_install_property (gobject_class, PROP_PER_CLASS,
      g_param_spec_boolean ("per-class", "Per class",
          "Match detections only with tracks of their class (false: across "
          "classes, for a detector that confuses similar classes)",
          DEFAULT_PER_CLASS, flags));
  g_object_class_install_property (gobject_class, PROP_DUPLICATE_THRESHOLD,
      g_param_spec_double ("duplicate-threshold", "Duplicate threshold",
          "Box IoU above which a detection that overlaps a better scoring one "
          "of another class is a duplicate: it may continue a track of its "
          "class but starts none (1: every detection may)",
          0.0, 1.0, DEFAULT_DUPLICATE_THRESHOLD, flags));
  g_object_class_install_property (gobject_class, PROP_KEEP_UNTRACKED,
      g_param_spec_boolean ("keep-untracked", "Keep untracked",
          "Pass instances without a track id (of tentative tracks, or of no "
          "track) with track id 0 instead of removing them",
          DEFAULT_KEEP_UNTRACKED, flags));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post an element message named \"maskrcnntrack\" per frame with "
          "its instances and their track ids", DEFAULT_POST_MESSAGES, flags));

  gst_element_class_set_static_metadata (element_class,
      "Mask R-CNN tracker", "Filter/Analyzer/Video",
      "Gives Mask R-CNN instances track ids that follow objects from frame "
      "to frame, using their masks as well as their boxes",
      "gst-maskrcnn developers");
  gst_maskrcnn_base_transform_class_add_pad_templates (element_class);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_maskrcnn_track_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_maskrcnn_track_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_maskrcnn_track_set_caps);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_maskrcnn_track_sink_event);
  trans_class->transform_ip =
      GST_DEBUG_FUNCPTR (gst_maskrcnn_track_transform_ip);
  trans_class->passthrough_on_same_caps = FALSE;
}

static void
gst_maskrcnn_track_init (GstMaskRcnnTrack * self)
{
  mrcnn_tracker_params_default (&self->params);
  self->params.high_threshold = DEFAULT_TRACK_THRESHOLD;
  self->params.low_threshold = DEFAULT_LOW_THRESHOLD;
  self->params.new_track_threshold = DEFAULT_NEW_TRACK_THRESHOLD;
  self->params.match_threshold = DEFAULT_MATCH_THRESHOLD;
  self->params.mask_weight = DEFAULT_MASK_WEIGHT;
  self->params.min_hits = DEFAULT_MIN_HITS;
  self->params.max_age = DEFAULT_MAX_AGE;
  self->params.per_class = DEFAULT_PER_CLASS;
  self->params.duplicate_iou = DEFAULT_DUPLICATE_THRESHOLD;
  self->keep_untracked = DEFAULT_KEEP_UNTRACKED;
  self->post_messages = DEFAULT_POST_MESSAGES;

  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), FALSE);
}
