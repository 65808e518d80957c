/* maskrcnnoverlay fed region-of-interest metadata it did not write: another
 * element (or a buggy application) may attach ROIs with boxes far outside
 * the frame and "mask" parameters whose size, type or buffer do not agree.
 * Each case is one buffer through appsrc ! maskrcnnoverlay ! fakesink, in
 * RGBA, I420 and NV12 at odd frame sizes; the pipeline must reach EOS with
 * no error (and, in the ASan build, no report). Run by bad-inputs.sh.
 *
 * --box WxH instead sends one RGBA 64x48 frame carrying a single ROI of
 * that size at (0, 0), and prints the time and peak memory it took (the
 * overlay rasterizes a mask over the whole box, see docs/reliability.md).
 *
 * Exit status 0 when every format reached EOS, 1 otherwise. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>

typedef struct {
  const char *what;
  guint x, y, w, h;             /* the ROI, as GstVideoRegionOfInterestMeta has it */
  gint mask_w, mask_h;          /* announced mask size */
  gsize mask_bytes;             /* real size of the mask buffer; 0: no buffer */
  gboolean data_not_buffer;     /* "data" holds a string */
  gboolean no_class_id;         /* detection without class-id: not ours */
} roi_case;

static const roi_case cases[] = {
  {"inside", 4, 4, 20, 10, 20, 10, 200, FALSE, FALSE},
  {"x near G_MAXUINT", 4000000000u, 2, 30, 30, 8, 8, 64, FALSE, FALSE},
  {"w = G_MAXUINT", 2, 2, G_MAXUINT, 5, 8, 8, 64, FALSE, FALSE},
  {"h = 2^31", 2, 2, 5, 1u << 31, 8, 8, 64, FALSE, FALSE},
  {"right and bottom overhang", 50, 40, 100, 100, 16, 16, 256, FALSE, FALSE},
  {"mask claims 1000x1000, holds 10 bytes", 0, 0, 30, 30, 1000, 1000, 10, FALSE, FALSE},
  {"mask size negative", 0, 0, 30, 30, -5, 8, 64, FALSE, FALSE},
  {"mask size 0", 0, 0, 30, 30, 0, 0, 64, FALSE, FALSE},
  {"mask 1x1 stretched over the box", 0, 0, 63, 47, 1, 1, 1, FALSE, FALSE},
  {"mask without a buffer", 0, 0, 30, 30, 8, 8, 0, FALSE, FALSE},
  {"mask data is a string", 0, 0, 30, 30, 8, 8, 64, TRUE, FALSE},
  {"zero-sized box", 10, 10, 0, 0, 8, 8, 64, FALSE, FALSE},
  {"detection without class-id", 0, 0, 30, 30, 8, 8, 64, FALSE, TRUE},
};

static void
add_roi (GstBuffer * buf, const roi_case * c)
{
  GstVideoRegionOfInterestMeta *roi =
      gst_buffer_add_video_region_of_interest_meta (buf, "thing", c->x, c->y,
      c->w, c->h);
  GstStructure *det = gst_structure_new ("detection", "label", G_TYPE_STRING,
      c->what, "confidence", G_TYPE_DOUBLE, 0.9, NULL);
  if (!c->no_class_id)
    gst_structure_set (det, "class-id", G_TYPE_INT, 1, NULL);
  gst_video_region_of_interest_meta_add_param (roi, det);

  GstStructure *mask = gst_structure_new ("mask", "width", G_TYPE_INT,
      c->mask_w, "height", G_TYPE_INT, c->mask_h, "format", G_TYPE_STRING,
      "GRAY8", NULL);
  if (c->data_not_buffer) {
    gst_structure_set (mask, "data", G_TYPE_STRING, "not a buffer", NULL);
  } else if (c->mask_bytes > 0) {
    GstBuffer *m = gst_buffer_new_allocate (NULL, c->mask_bytes, NULL);
    gst_buffer_memset (m, 0, 255, c->mask_bytes);
    gst_structure_set (mask, "data", GST_TYPE_BUFFER, m, NULL);
    gst_buffer_unref (m);
  }
  gst_video_region_of_interest_meta_add_param (roi, mask);
}

static const roi_case *only_case;  /* --box */

static gboolean
run_format (const char *format, int w, int h)
{
  gchar *desc = g_strdup_printf ("appsrc name=src format=time caps=video/x-raw,"
      "format=%s,width=%d,height=%d,framerate=30/1 ! maskrcnnoverlay ! "
      "fakesink", format, w, h);
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);
  g_free (desc);
  if (!p) {
    fprintf (stderr, "foreign-meta: %s\n", err ? err->message : "?");
    g_clear_error (&err);
    return FALSE;
  }
  GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
  GstVideoInfo info;
  gst_video_info_set_format (&info, gst_video_format_from_string (format), w, h);
  gst_element_set_state (p, GST_STATE_PLAYING);

  guint n = only_case ? 1 : G_N_ELEMENTS (cases);
  for (guint i = 0; i < n; i++) {
    GstBuffer *buf = gst_buffer_new_allocate (NULL, info.size, NULL);
    gst_buffer_memset (buf, 0, 0x80, info.size);
    GST_BUFFER_PTS (buf) = i * GST_SECOND / 30;
    GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
    add_roi (buf, only_case ? only_case : &cases[i]);
    /* and all cases at once on the last buffer */
    if (!only_case && i == n - 1)
      for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
        add_roi (buf, &cases[k]);
    gst_app_src_push_buffer (GST_APP_SRC (src), buf);
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));

  GstBus *bus = gst_element_get_bus (p);
  GstMessage *m = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gboolean ok = m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS;
  if (m && !ok) {
    gst_message_parse_error (m, &err, NULL);
    fprintf (stderr, "foreign-meta: %s %dx%d: %s\n", format, w, h,
        err ? err->message : "?");
    g_clear_error (&err);
  } else if (!m) {
    fprintf (stderr, "foreign-meta: %s %dx%d: no EOS within 60 s\n", format,
        w, h);
  }
  if (m)
    gst_message_unref (m);
  gst_object_unref (bus);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (p);
  printf ("foreign-meta: %-5s %dx%d: %s\n", format, w, h, ok ? "EOS" : "FAILED");
  return ok;
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  if (argc == 3 && strcmp (argv[1], "--box") == 0) {
    static roi_case box = { "box", 0, 0, 0, 0, 8, 8, 64, FALSE, FALSE };
    if (sscanf (argv[2], "%ux%u", &box.w, &box.h) != 2) {
      fprintf (stderr, "usage: %s [--box WxH]\n", argv[0]);
      return 2;
    }
    only_case = &box;
    gint64 t0 = g_get_monotonic_time ();
    gboolean ok = run_format ("RGBA", 64, 48);
    struct rusage ru;
    getrusage (RUSAGE_SELF, &ru);
    printf ("foreign-meta: one %ux%u ROI on a 64x48 frame: %.1f s, peak RSS "
        "%ld kB\n", box.w, box.h, (g_get_monotonic_time () - t0) / 1e6,
        ru.ru_maxrss);
    return ok ? 0 : 1;
  }
  gboolean ok = run_format ("RGBA", 64, 48);
  ok &= run_format ("RGB", 63, 47);
  ok &= run_format ("I420", 63, 47);
  ok &= run_format ("NV12", 65, 49);
  return ok ? 0 : 1;
}
