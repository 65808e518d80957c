/* gst-maskrcnn: conversions between GStreamer and engine types.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "maskrcnn-convert.h"

#include <math.h>
#include <string.h>

static gboolean
pixel_format (GstVideoFormat format, mrcnn_pixel_format * out)
{
  switch (format) {
    case GST_VIDEO_FORMAT_RGB:
      *out = MRCNN_PIXEL_RGB;
      return TRUE;
    case GST_VIDEO_FORMAT_BGR:
      *out = MRCNN_PIXEL_BGR;
      return TRUE;
    case GST_VIDEO_FORMAT_RGBA:
      *out = MRCNN_PIXEL_RGBA;
      return TRUE;
    case GST_VIDEO_FORMAT_BGRA:
      *out = MRCNN_PIXEL_BGRA;
      return TRUE;
    case GST_VIDEO_FORMAT_RGBx:
      *out = MRCNN_PIXEL_RGBX;
      return TRUE;
    case GST_VIDEO_FORMAT_BGRx:
      *out = MRCNN_PIXEL_BGRX;
      return TRUE;
    case GST_VIDEO_FORMAT_NV12:
      *out = MRCNN_PIXEL_NV12;
      return TRUE;
    case GST_VIDEO_FORMAT_I420:
      *out = MRCNN_PIXEL_I420;
      return TRUE;
    default:
      return FALSE;
  }
}

gboolean
gst_maskrcnn_image_from_frame (const GstVideoFrame * frame,
    gboolean on_device, mrcnn_image * image)
{
  guint p;

  memset (image, 0, sizeof (*image));
  if (!pixel_format (GST_VIDEO_FRAME_FORMAT (frame), &image->format))
    return FALSE;
  image->width = GST_VIDEO_FRAME_WIDTH (frame);
  image->height = GST_VIDEO_FRAME_HEIGHT (frame);
  for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (frame) && p < 3; p++) {
    image->planes[p] = GST_VIDEO_FRAME_PLANE_DATA (frame, p);
    image->strides[p] = GST_VIDEO_FRAME_PLANE_STRIDE (frame, p);
  }
  image->on_device = on_device ? 1 : 0;
  return TRUE;
}

static void
instance_clear (gpointer data)
{
  GstMaskRcnnInstanceInit *in = data;

  gst_clear_buffer (&in->mask);
}

GArray *
gst_maskrcnn_instances_new (void)
{
  GArray *a = g_array_new (FALSE, TRUE, sizeof (GstMaskRcnnInstanceInit));

  g_array_set_clear_func (a, instance_clear);
  return a;
}

static void
detection_window (const mrcnn_detection * d, gint frame_w, gint frame_h,
    gint * x, gint * y, gint * w, gint * h)
{
  gint x0 = (gint) CLAMP (floorf (d->x1), 0, frame_w - 1);
  gint y0 = (gint) CLAMP (floorf (d->y1), 0, frame_h - 1);
  gint x1 = (gint) CLAMP (ceilf (d->x2), x0 + 1, frame_w);
  gint y1 = (gint) CLAMP (ceilf (d->y2), y0 + 1, frame_h);

  *x = x0;
  *y = y0;
  *w = x1 - x0;
  *h = y1 - y0;
}

gboolean
gst_maskrcnn_instances_from_result (GArray * instances,
    const mrcnn_result * result, gint frame_w, gint frame_h,
    gfloat mask_threshold, mrcnn_error * err)
{
  gint i, n = mrcnn_result_count (result);

  g_array_set_size (instances, 0);
  for (i = 0; i < n; i++) {
    const mrcnn_detection *d = mrcnn_result_get (result, i);
    GstMaskRcnnInstanceInit in = { 0, };
    GstMapInfo map;
    mrcnn_status st;

    detection_window (d, frame_w, frame_h, &in.x, &in.y, &in.width,
        &in.height);
    in.label = d->label ? d->label : "unknown";
    in.class_id = d->class_id;
    in.confidence = d->score;
    in.mask_width = in.width;
    in.mask_height = in.height;
    in.mask = gst_buffer_new_allocate (NULL,
        (gsize) in.width * in.height, NULL);
    if (!in.mask || !gst_buffer_map (in.mask, &map, GST_MAP_WRITE)) {
      gst_clear_buffer (&in.mask);
      err->status = MRCNN_ERR_NO_MEMORY;
      g_snprintf (err->message, sizeof (err->message),
          "could not allocate a %dx%d mask", in.width, in.height);
      g_array_set_size (instances, 0);
      return FALSE;
    }
    st = mrcnn_result_paste_mask (result, i, mask_threshold, in.x, in.y,
        in.width, in.height, map.data, in.width, err);
    gst_buffer_unmap (in.mask, &map);
    if (st != MRCNN_OK) {
      gst_buffer_unref (in.mask);
      g_array_set_size (instances, 0);
      return FALSE;
    }
    g_array_append_val (instances, in);
  }
  return TRUE;
}

GstStructure *
gst_maskrcnn_instances_to_structure (const GArray * instances,
    GstClockTime pts, GstClockTime stream_time, GstClockTime running_time,
    GstClockTime duration, guint age)
{
  GValue list = G_VALUE_INIT;
  GstStructure *s;
  guint i;

  g_value_init (&list, GST_TYPE_LIST);
  for (i = 0; i < instances->len; i++) {
    const GstMaskRcnnInstanceInit *in =
        &g_array_index (instances, GstMaskRcnnInstanceInit, i);
    GValue v = G_VALUE_INIT;

    g_value_init (&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&v, gst_structure_new ("instance",
            "label", G_TYPE_STRING, in->label,
            "class-id", G_TYPE_INT, in->class_id,
            "score", G_TYPE_DOUBLE, in->confidence,
            "x", G_TYPE_INT, in->x, "y", G_TYPE_INT, in->y,
            "width", G_TYPE_INT, in->width,
            "height", G_TYPE_INT, in->height, NULL));
    gst_value_list_append_and_take_value (&list, &v);
  }

  s = gst_structure_new ("maskrcnn",
      "timestamp", G_TYPE_UINT64, pts,
      "stream-time", G_TYPE_UINT64, stream_time,
      "running-time", G_TYPE_UINT64, running_time,
      "duration", G_TYPE_UINT64, duration,
      "stale", G_TYPE_BOOLEAN, age > 0, "age", G_TYPE_UINT, age, NULL);
  gst_structure_take_value (s, "instances", &list);
  return s;
}
