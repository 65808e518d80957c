/* maskrcnntrack and maskrcnncount on frames whose instances are attached
 * through the metadata library (no model): two objects that cross keep
 * their ids, an object gone longer than max-age comes back with a new id,
 * carried (stale) frames follow the predicted motion, new caps end the
 * tracks, each of two streams in one pipeline counts its own ids, counts
 * of a jittering crossing and of a zone, and settings that cannot work
 * fail at start with a message that says why. */
#include <string.h>

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include <gst/maskrcnn-meta.h>

#include "gst-test-util.h"

#define W 320
#define H 240

typedef struct
{
  gdouble cx, cy, size, score;
  gint class_id;
  gboolean stale;
} Obj;

static const gchar *const labels[] = { "background", "circle", "square" };

/* A frame with discs of the given objects (box-relative masks). */
static GstBuffer *
frame_with (const Obj * objs, guint n, guint64 index)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, W * H * 3, NULL);
  GstMaskRcnnInstanceInit in[8];
  GstBuffer *masks[8];
  guint i;

  fail_unless (n <= 8);
  GST_BUFFER_PTS (buf) = index * GST_SECOND / 30;
  GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
  for (i = 0; i < n; i++) {
    gint s = (gint) objs[i].size;

    masks[i] = test_disc_mask (s);
    in[i] = (GstMaskRcnnInstanceInit) {
    .label = labels[objs[i].class_id],.class_id = objs[i].class_id,
          .confidence = objs[i].score,.x =
          (gint) (objs[i].cx - s / 2.0),.y = (gint) (objs[i].cy - s / 2.0),
          .width = s,.height = s,.stale = objs[i].stale,.age =
          objs[i].stale ? 1 : 0,.mask = masks[i],.mask_width =
          s,.mask_height = s};
  }
  fail_unless (gst_maskrcnn_buffer_add_instances (buf, in, n));
  for (i = 0; i < n; i++)
    gst_buffer_unref (masks[i]);
  return buf;
}

typedef struct
{
  guint n;
  guint64 ids[8];
  gint x[8], y[8], w[8], class_id[8];
  gboolean object_id_ok[8];
} Seen;

/* The instances of a buffer, in order, with their track ids; checks that
 * DL Streamer's object_id param says the same. */
static void
read_frame (GstBuffer * buf, Seen * seen)
{
  GstMaskRcnnInstance inst;
  gpointer state = NULL;

  memset (seen, 0, sizeof (*seen));
  while (gst_maskrcnn_buffer_iterate_instances (buf, &state, &inst)) {
    const GstStructure *oid =
        gst_video_region_of_interest_meta_get_param (inst.roi, "object_id");
    guint i = seen->n++;
    gint id = -1;

    seen->ids[i] = gst_maskrcnn_instance_get_track_id (&inst);
    seen->x[i] = inst.x;
    seen->y[i] = inst.y;
    seen->w[i] = inst.width;
    seen->class_id[i] = inst.class_id;
    if (seen->ids[i])
      seen->object_id_ok[i] = oid && gst_structure_get_int (oid, "id", &id)
          && (guint64) id == seen->ids[i];
    else
      seen->object_id_ok[i] = oid == NULL;
  }
}

static GstHarness *
track_harness (const gchar * props)
{
  gchar *launch = g_strdup_printf ("maskrcnntrack %s", props ? props : "");
  GstHarness *h = gst_harness_new_parse (launch);
  gchar *caps = test_caps_string ("RGB", W, H);

  g_free (launch);
  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
  return h;
}

static void
push (GstHarness * h, const Obj * objs, guint n, guint64 index, Seen * seen)
{
  GstBuffer *out;

  fail_unless_equals_int (gst_harness_push (h, frame_with (objs, n, index)),
      GST_FLOW_OK);
  out = gst_harness_pull (h);
  read_frame (out, seen);
  gst_buffer_unref (out);
}

/* Which output instance is closest to (cx, cy). */
static guint
nearest (const Seen * s, gdouble cx, gdouble cy)
{
  guint i, best = 0;
  gdouble bd = G_MAXDOUBLE;

  for (i = 0; i < s->n; i++) {
    gdouble dx = s->x[i] + s->w[i] / 2.0 - cx, dy = s->y[i] + s->w[i] / 2.0
        - cy, d = dx * dx + dy * dy;
    if (d < bd) {
      bd = d;
      best = i;
    }
  }
  return best;
}

GST_START_TEST (test_crossing_keeps_ids)
{
  GstHarness *h = track_harness (NULL);
  guint64 id_a = 0, id_b = 0;
  guint f;

  /* two circles on one row, crossing head on: their boxes overlap fully
   * in the middle */
  for (f = 0; f < 60; f++) {
    Obj o[2] = { {40 + 4.0 * f, 120, 50, 0.9, 1, FALSE},
    {276 - 4.0 * f, 124, 50, 0.9, 1, FALSE}
    };
    Seen s;
    guint a, b;

    push (h, o, 2, f, &s);
    fail_unless_equals_int (s.n, 2);
    a = nearest (&s, o[0].cx, o[0].cy);
    b = nearest (&s, o[1].cx, o[1].cy);
    if (a == b) {               /* exactly on top of each other */
      a = 0;
      b = 1;
      fail_unless ((s.ids[0] == id_a && s.ids[1] == id_b)
          || (s.ids[0] == id_b && s.ids[1] == id_a));
      continue;
    }
    fail_unless (s.object_id_ok[a] && s.object_id_ok[b],
        "object_id param differs");
    if (f == 0) {
      id_a = s.ids[a];
      id_b = s.ids[b];
      fail_unless (id_a && id_b && id_a != id_b);
      continue;
    }
    fail_unless (s.ids[a] == id_a && s.ids[b] == id_b,
        "frame %u: ids %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
        " instead of %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT, f, s.ids[a],
        s.ids[b], id_a, id_b);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_max_age_and_tentative)
{
  GstHarness *h = track_harness ("max-age=5 min-hits=3");
  Obj o = { 100, 100, 40, 0.9, 1, FALSE };
  Seen s;
  guint64 first;
  guint f;

  push (h, &o, 1, 0, &s);
  first = s.ids[0];
  fail_unless (first == 1, "first frame: id %" G_GUINT64_FORMAT, first);
  /* gone for max-age frames: the same track */
  for (f = 1; f <= 5; f++)
    push (h, NULL, 0, f, &s);
  push (h, &o, 1, 6, &s);
  fail_unless_equals_uint64 (s.ids[0], first);
  /* gone for max-age + 1: a new track, tentative (removed) for min-hits - 1
   * frames, then with a new id */
  for (f = 7; f <= 12; f++)
    push (h, NULL, 0, f, &s);
  push (h, &o, 1, 13, &s);
  fail_unless_equals_int (s.n, 0);
  push (h, &o, 1, 14, &s);
  fail_unless_equals_int (s.n, 0);
  push (h, &o, 1, 15, &s);
  fail_unless_equals_int (s.n, 1);
  fail_unless (s.ids[0] == first + 1, "a new id %" G_GUINT64_FORMAT,
      s.ids[0]);
  gst_harness_teardown (h);

  /* keep-untracked: the tentative instance passes with id 0 */
  h = track_harness ("keep-untracked=true");
  push (h, &o, 1, 0, &s);
  o.cx = 250;
  {
    Obj two[2] = { {100, 100, 40, 0.9, 1, FALSE}, {250, 180, 40, 0.9, 2,
            FALSE}
    };
    push (h, two, 2, 1, &s);
  }
  fail_unless_equals_int (s.n, 2);
  fail_unless (s.ids[0] == 1 && s.ids[1] == 0 && s.object_id_ok[1]);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_stale_frames_follow)
{
  GstHarness *h = track_harness (NULL);
  guint f;
  Obj last = { 0, };

  /* interval 2: odd frames carry the even frame's instance (stale) */
  for (f = 0; f < 40; f++) {
    Seen s;

    if (f % 2 == 0) {
      last = (Obj) {
      40 + 5.0 * f, 120, 40, 0.9, 1, FALSE};
      push (h, &last, 1, f, &s);
      fail_unless_equals_int (s.n, 1);
      fail_unless_equals_uint64 (s.ids[0], 1);
    } else {
      Obj carried = last;
      gdouble moved;

      carried.stale = TRUE;
      push (h, &carried, 1, f, &s);
      fail_unless_equals_int (s.n, 1);
      fail_unless_equals_uint64 (s.ids[0], 1);
      moved = s.x[0] + s.w[0] / 2.0 - last.cx;
      /* after a few frames the velocity is learnt: the carried instance is
       * put where the object is now (5 px on), not where it was */
      if (f > 10)
        fail_unless (moved > 3.0 && moved < 7.0,
            "frame %u: moved %.1f px, not ~5", f, moved);
    }
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_new_caps_end_tracks)
{
  GstHarness *h = track_harness (NULL);
  Obj o = { 100, 100, 40, 0.9, 1, FALSE };
  Seen s;
  gchar *caps;
  guint f;

  for (f = 0; f < 3; f++)
    push (h, &o, 1, f, &s);
  fail_unless_equals_uint64 (s.ids[0], 1);
  caps = test_caps_string ("RGB", W / 2, H / 2);
  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
  /* the same object after new caps: a new stream's first frame, a new id */
  push (h, &o, 1, 3, &s);
  fail_unless_equals_uint64 (s.ids[0], 2);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ------------------------------------------------------------ two streams */

typedef struct
{
  GstAppSrc *src;
  gdouble offset;
} Feeder;

static gpointer
feed (gpointer data)
{
  Feeder *fd = data;
  guint f;

  for (f = 0; f < 40; f++) {
    Obj o[2] = { {40 + 3.0 * f + fd->offset, 80, 40, 0.9, 1, FALSE},
    {260 - 3.0 * f, 160 - fd->offset / 4, 40, 0.9, 2, FALSE}
    };
    fail_unless_equals_int (gst_app_src_push_buffer (fd->src,
            frame_with (o, 2, f)), GST_FLOW_OK);
  }
  gst_app_src_end_of_stream (fd->src);
  return NULL;
}

GST_START_TEST (test_streams_keep_their_ids)
{
  gchar *caps = test_caps_string ("RGB", W, H);
  gchar *desc = g_strdup_printf ("appsrc name=s0 caps=\"%s\" format=time ! "
      "maskrcnntrack ! appsink name=k0 sync=false "
      "appsrc name=s1 caps=\"%s\" format=time ! maskrcnntrack ! "
      "appsink name=k1 sync=false", caps, caps);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  Feeder fd[2];
  GThread *th[2];
  guint k;

  fail_unless (pipe != NULL);
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  for (k = 0; k < 2; k++) {
    gchar name[4];

    g_snprintf (name, sizeof (name), "s%u", k);
    fd[k].src = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (pipe), name));
    fd[k].offset = 10.0 * k;
    th[k] = g_thread_new ("feed", feed, &fd[k]);
  }
  for (k = 0; k < 2; k++) {
    gchar name[4];
    GstAppSink *sink;
    GstSample *sample;
    guint frames = 0;
    guint64 first_ids[2] = { 0, 0 };

    g_snprintf (name, sizeof (name), "k%u", k);
    sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (pipe), name));
    while ((sample = gst_app_sink_pull_sample (sink))) {
      Seen s;
      guint i;

      read_frame (gst_sample_get_buffer (sample), &s);
      fail_unless_equals_int (s.n, 2);
      for (i = 0; i < 2; i++) {
        /* each stream's tracker numbers its own tracks from 1 */
        guint c = (guint) s.class_id[i] - 1;
        if (frames == 0) {
          first_ids[c] = s.ids[i];
          fail_unless (s.ids[i] == 1 || s.ids[i] == 2);
        } else {
          fail_unless_equals_uint64 (s.ids[i], first_ids[c]);
        }
      }
      frames++;
      gst_sample_unref (sample);
    }
    fail_unless_equals_int (frames, 40);
    gst_object_unref (sink);
  }
  for (k = 0; k < 2; k++) {
    g_thread_join (th[k]);
    gst_object_unref (fd[k].src);
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pipe);
  g_free (desc);
  g_free (caps);
}

GST_END_TEST;

/* ------------------------------------------------------------ counting */

static guint64
class_count (const GstStructure * counts, const gchar * kind, guint index,
    const gchar * field, gint class_id)
{
  const GValue *a = gst_structure_get_value (counts, kind), *c;
  const GstStructure *shape;
  guint i;

  fail_unless (a && GST_VALUE_HOLDS_ARRAY (a));
  shape = gst_value_get_structure (gst_value_array_get_value (a, index));
  c = gst_structure_get_value (shape, field);
  for (i = 0; i < gst_value_array_get_size (c); i++) {
    const GstStructure *cs =
        gst_value_get_structure (gst_value_array_get_value (c, i));
    gint id = 0;
    guint64 n = 0;

    gst_structure_get_int (cs, "class-id", &id);
    gst_structure_get_uint64 (cs, "count", &n);
    if (id == class_id)
      return n;
  }
  return 0;
}

GST_START_TEST (test_count_line_and_zone)
{
  GstHarness *h = gst_harness_new_parse ("maskrcnntrack ! maskrcnncount "
      "lines=\"door:0.5,0.1,0.5,0.9\" "
      "zones=\"bay:0.0,0.0,0.3,0.0,0.3,0.5,0.0,0.5\" hysteresis=4");
  gchar *caps = test_caps_string ("RGB", W, H);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  guint f, changes = 0, crossings = 0;

  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
  /* a circle walks right across the line (x = 160), pausing on it with
   * +-3 px of jitter (within the band) for 20 frames, then on; a square
   * stays in the zone */
  for (f = 0; f < 70; f++) {
    gdouble x = f < 25 ? 60 + 4.0 * f : f < 45 ? 160 + (f % 2 ? 3 : -3) :
        160 + 4.0 * (f - 44);
    Obj o[2] = { {x, 150, 40, 0.9, 1, FALSE}, {50, 60, 30, 0.9, 2, FALSE} };
    GstBuffer *out;
    const GstStructure *counts;
    GstCustomMeta *meta;

    fail_unless_equals_int (gst_harness_push (h, frame_with (o, 2, f)),
        GST_FLOW_OK);
    out = gst_harness_pull (h);
    meta = gst_buffer_get_custom_meta (out, "GstMaskRcnnCountsMeta");
    fail_unless (meta != NULL, "frame %u has no counts", f);
    counts = gst_custom_meta_get_structure (meta);
    fail_unless_equals_uint64 (class_count (counts, "lines", 0, "to-right",
            1), 0);
    /* facing down the line, the right side of the picture is its left */
    fail_unless_equals_uint64 (class_count (counts, "lines", 0, "to-left", 1),
        f >= 46 ? 1 : 0);
    fail_unless_equals_uint64 (class_count (counts, "zones", 0, "occupancy",
            2), 1);
    fail_unless_equals_uint64 (class_count (counts, "zones", 0, "occupancy",
            1), 0);
    gst_buffer_unref (out);
  }
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    const GstStructure *s = gst_message_get_structure (msg);
    const gchar *reason = gst_structure_get_string (s, "reason");

    if (gst_structure_has_name (s, "maskrcnncount")
        && g_strcmp0 (reason, "change") == 0) {
      const GValue *ev = gst_structure_get_value (s, "events");
      guint i;

      changes++;
      for (i = 0; i < gst_value_list_get_size (ev); i++)
        crossings += gst_structure_has_name (gst_value_get_structure
            (gst_value_list_get_value (ev, i)), "crossing");
    }
    gst_message_unref (msg);
  }
  /* the square's entry on the first frame, the circle's one crossing */
  fail_unless_equals_int (crossings, 1);
  fail_unless_equals_int (changes, 2);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ------------------------------------------------------------ settings */

static void
expect_error (const gchar * factory, const gchar * prop, const gchar * value,
    const gchar * needle)
{
  GstElement *e = gst_element_factory_make (factory, NULL);
  GstMessage *msg;
  GError *err = NULL;

  fail_unless (e != NULL);
  gst_util_set_object_arg (G_OBJECT (e), prop, value);
  msg = test_expect_start_error (e);
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (strstr (err->message, needle) != NULL,
      "\"%s\" does not say \"%s\"", err->message, needle);
  g_error_free (err);
  gst_message_unref (msg);
  gst_object_unref (e);
}

GST_START_TEST (test_bad_settings)
{
  static const struct
  {
    const gchar *factory, *prop, *value, *says;
  } cases[] = {
    {"maskrcnncount", "lines", "door:0.5,0.5",
        "line \"door\" has 1 point; a line has two points"},
    {"maskrcnncount", "lines", "door:0.5,0.1,0.5,0.9,0.2,0.2",
        "line \"door\" has 3 points"},
    {"maskrcnncount", "zones", "bay:0,0,1,1,1,0,0,1",
          "zone \"bay\" crosses itself: its edge (0, 0)-(1, 1) meets its edge "
        "(1, 0)-(0, 1)"},
    {"maskrcnncount", "zones", "bay:0,0,1,0", "zone \"bay\" has 2 points"},
    {"maskrcnncount", "lines", "door:0.5,0.1,1.5,0.9",
        "point (1.5, 0.9) is outside 0..1"},
    {"maskrcnncount", "lines", "door:0.5,x,0.5,0.9", "\"x\" is not a number"},
    {"maskrcnncount", "lines", "door:0,0,1,1;door:0,1,1,0",
        "two lines are named \"door\""},
    {"maskrcnncount", "lines", "1door:0,0,1,1",
        "line name \"1door\" is not valid"},
    {"maskrcnntrack", "low-threshold", "0.7",
        "low-threshold (0.7) is above track-threshold (0.5)"},
    {"maskrcnntrack", "new-track-threshold", "0.3",
        "new-track-threshold (0.3) is below track-threshold (0.5)"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    expect_error (cases[i].factory, cases[i].prop, cases[i].value,
        cases[i].says);
}

GST_END_TEST;

static Suite *
track_suite (void)
{
  Suite *s = suite_create ("maskrcnntrack");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_crossing_keeps_ids);
  tcase_add_test (tc, test_max_age_and_tentative);
  tcase_add_test (tc, test_stale_frames_follow);
  tcase_add_test (tc, test_new_caps_end_tracks);
  tcase_add_test (tc, test_streams_keep_their_ids);
  tcase_add_test (tc, test_count_line_and_zone);
  tcase_add_test (tc, test_bad_settings);
  return s;
}

GST_CHECK_MAIN (track);
