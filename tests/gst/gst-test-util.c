/* Helpers shared by the plugin's gst-check tests. */
#include "gst-test-util.h"

#include <math.h>
#include <string.h>

#include <gst/check/gstcheck.h>

const gchar *const test_formats[] = {
  "RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx", "NV12", "I420", NULL
};

const gchar *
test_model_path (void)
{
  const gchar *vars[] = { "MRCNN_TEST_MODEL", "GST_MASKRCNN_GENERATED_MODEL" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (vars); i++) {
    const gchar *p = g_getenv (vars[i]);
    if (p && *p && g_file_test (p, G_FILE_TEST_IS_REGULAR))
      return p;
  }
  return NULL;
}

guint8 *
test_scene_rgb (gint w, gint h)
{
  guint8 *rgb = g_malloc ((gsize) w * h * 3);
  gdouble cx = 0.3 * w, cy = 0.4 * h, r = 0.18 * MIN (w, h);
  gint x, y;

  for (y = 0; y < h; y++) {
    for (x = 0; x < w; x++) {
      guint8 *p = rgb + ((gsize) y * w + x) * 3;
      gdouble u = (gdouble) x / w, v = (gdouble) y / h;

      p[0] = (guint8) (60 + 80 * u);
      p[1] = (guint8) (90 + 60 * v);
      p[2] = (guint8) (120 - 50 * u);
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r) {
        p[0] = 230;
        p[1] = 40;
        p[2] = 40;
      } else if (u > 0.55 && u < 0.85 && v > 0.15 && v < 0.45) {
        p[0] = 40;
        p[1] = 200;
        p[2] = 60;
      } else if (v > 0.6 && v < 0.9 && fabs (u - 0.65) < (v - 0.6) * 0.6) {
        p[0] = 40;
        p[1] = 60;
        p[2] = 220;
      }
    }
  }
  return rgb;
}

GstBuffer *
test_buffer_from_rgb (const guint8 * rgb, gint w, gint h,
    const gchar * format, GstVideoInfo * info)
{
  GstVideoInfo in_info;
  GstVideoFrame in_frame, out_frame;
  GstVideoConverter *conv;
  GstBuffer *in, *out;

  gst_video_info_set_format (&in_info, GST_VIDEO_FORMAT_RGB, w, h);
  gst_video_info_set_format (info, gst_video_format_from_string (format), w,
      h);
  fail_unless (GST_VIDEO_INFO_FORMAT (info) != GST_VIDEO_FORMAT_UNKNOWN);

  in = gst_buffer_new_allocate (NULL, in_info.size, NULL);
  fail_unless (gst_video_frame_map (&in_frame, &in_info, in, GST_MAP_WRITE));
  {
    gint y;
    for (y = 0; y < h; y++)
      memcpy ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&in_frame, 0) +
          (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&in_frame, 0),
          rgb + (gsize) y * w * 3, (gsize) w * 3);
  }
  out = gst_buffer_new_allocate (NULL, info->size, NULL);
  fail_unless (gst_video_frame_map (&out_frame, info, out, GST_MAP_WRITE));

  conv = gst_video_converter_new (&in_info, info,
      gst_structure_new ("options",
          GST_VIDEO_CONVERTER_OPT_DITHER_METHOD,
          GST_TYPE_VIDEO_DITHER_METHOD, GST_VIDEO_DITHER_NONE, NULL));
  fail_unless (conv != NULL);
  gst_video_converter_frame (conv, &in_frame, &out_frame);
  gst_video_converter_free (conv);

  gst_video_frame_unmap (&out_frame);
  gst_video_frame_unmap (&in_frame);
  gst_buffer_unref (in);
  return out;
}

GstBuffer *
test_scene_buffer (gint w, gint h, const gchar * format, GstVideoInfo * info)
{
  guint8 *rgb = test_scene_rgb (w, h);
  GstBuffer *buf = test_buffer_from_rgb (rgb, w, h, format, info);

  g_free (rgb);
  return buf;
}

gchar *
test_caps_string (const gchar * format, gint w, gint h)
{
  return g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d,"
      "framerate=30/1", format, w, h);
}

guint
test_frame_pixel (const GstVideoFrame * frame, gint x, gint y, guint8 c[4])
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  guint i, n = GST_VIDEO_FRAME_N_COMPONENTS (frame);

  for (i = 0; i < n; i++) {
    /* The sample covering the pixel (GST_VIDEO_SUB_SCALE rounds up: it is
     * for sizes, not positions). */
    gint sx = x >> GST_VIDEO_FORMAT_INFO_W_SUB (finfo, i);
    gint sy = y >> GST_VIDEO_FORMAT_INFO_H_SUB (finfo, i);
    const guint8 *p = (const guint8 *) GST_VIDEO_FRAME_COMP_DATA (frame, i) +
        (gsize) sy * GST_VIDEO_FRAME_COMP_STRIDE (frame, i) +
        (gsize) sx * GST_VIDEO_FRAME_COMP_PSTRIDE (frame, i);
    c[i] = *p;
  }
  return n;
}

GstBus *
test_attach_bus (GstElement * element)
{
  GstBus *bus = gst_bus_new ();

  gst_element_set_bus (element, bus);
  return bus;
}

GstMessage *
test_expect_start_error (GstElement * element)
{
  GstBus *bus = test_attach_bus (element);
  GstStateChangeReturn ret;
  GstMessage *msg;

  ret = gst_element_set_state (element, GST_STATE_PAUSED);
  fail_unless_equals_int (ret, GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error message posted");
  gst_element_set_state (element, GST_STATE_NULL);
  gst_element_set_bus (element, NULL);
  gst_object_unref (bus);
  return msg;
}

GstBuffer *
test_disc_mask (gint s)
{
  GstBuffer *mask = gst_buffer_new_allocate (NULL, (gsize) s * s, NULL);
  GstMapInfo map;
  gint x, y;

  gst_buffer_map (mask, &map, GST_MAP_WRITE);
  for (y = 0; y < s; y++)
    for (x = 0; x < s; x++) {
      gdouble u = (x + 0.5) / s - 0.5, v = (y + 0.5) / s - 0.5;
      map.data[y * s + x] = u * u + v * v < 0.25 ? 255 : 0;
    }
  gst_buffer_unmap (mask, &map);
  return mask;
}
