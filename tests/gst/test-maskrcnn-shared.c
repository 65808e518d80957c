/* maskrcnn elements sharing an engine (model-instance-id) and batching
 * their frames, on the shipped model: the same metadata per frame as
 * elements of their own, in order; settings that differ refused with a
 * message naming them; one stream's EOS, flush, bad frame or state change
 * never stalls the others; elements leave and join while others play.
 * Every wait has a deadline, so that a stall fails instead of hanging. */
#include <stdio.h>
#include <string.h>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include <gst/maskrcnn-meta.h>

#include "gst-test-util.h"

#define W 160
#define H 120
#define FRAMES 3
/* Long enough that a frame that waits for it shows in the elapsed time. */
#define LONG_TIMEOUT_MS 10000
#define SHORT_S 5.0

/* ------------------------------------------------------------ frames */

/* Frame f of stream s: the shapes scene rolled sideways by its own amount,
 * so that frames and streams have instances of their own and a result
 * handed to the wrong frame shows. */
static GstBuffer *
make_frame (gint s, gint f, gint w, gint h)
{
  guint8 *rgb = test_scene_rgb (w, h), *rolled = g_malloc ((gsize) 3 * w * h);
  gint shift = ((s * FRAMES + f) * 11) % w, x, y;
  GstVideoInfo info;
  GstBuffer *buf;

  for (y = 0; y < h; y++)
    for (x = 0; x < w; x++)
      memcpy (rolled + 3 * (y * w + (x + shift) % w), rgb + 3 * (y * w + x),
          3);
  buf = test_buffer_from_rgb (rolled, w, h, "RGB", &info);
  GST_BUFFER_PTS (buf) = f * GST_SECOND / 30;
  GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
  g_free (rgb);
  g_free (rolled);
  return buf;
}

static gchar *
caps_of (gint w, gint h)
{
  return test_caps_string ("RGB", w, h);
}

/* ------------------------------------------------------------ harnesses */

static GstHarness *
harness (const gchar * props, gint w, gint h)
{
  gchar *launch = g_strdup_printf ("maskrcnn name=m backend=cpu %s", props);
  GstHarness *hn = gst_harness_new_parse (launch);
  gchar *caps = caps_of (w, h);

  gst_harness_set_src_caps_str (hn, caps);
  g_free (caps);
  g_free (launch);
  return hn;
}

/* What an element of its own gives for frames 0..n-1 of stream s. */
static void
reference (gint s, gint w, gint h, gfloat score, GstBuffer ** out, gint n)
{
  gchar *props = g_strdup_printf ("score-threshold=%f", score);
  GstHarness *hn = harness (props, w, h);
  gint f;

  for (f = 0; f < n; f++) {
    out[f] = gst_harness_push_and_pull (hn, make_frame (s, f, w, h));
    fail_unless (out[f] != NULL);
  }
  gst_harness_teardown (hn);
  g_free (props);
}

/* Every instance equal: label, class, score, box, staleness, mask bytes. */
static void
assert_same_instances (GstBuffer * got, GstBuffer * want, const gchar * what)
{
  GstMaskRcnnInstance a, b;
  gpointer sa = NULL, sb = NULL;
  gint i = 0;

  fail_unless (got != NULL, "%s: no buffer", what);
  fail_unless_equals_int (gst_maskrcnn_buffer_get_n_instances (got),
      gst_maskrcnn_buffer_get_n_instances (want));
  while (gst_maskrcnn_buffer_iterate_instances (want, &sb, &b)) {
    GstMapInfo ma, mb;

    fail_unless (gst_maskrcnn_buffer_iterate_instances (got, &sa, &a));
    fail_unless_equals_string (a.label, b.label);
    fail_unless_equals_int (a.class_id, b.class_id);
    fail_unless (a.confidence == b.confidence,
        "%s: instance %d score %f != %f", what, i, a.confidence,
        b.confidence);
    fail_unless (a.x == b.x && a.y == b.y && a.width == b.width &&
        a.height == b.height, "%s: instance %d box differs", what, i);
    fail_unless (a.stale == b.stale);
    gst_buffer_map (a.mask, &ma, GST_MAP_READ);
    gst_buffer_map (b.mask, &mb, GST_MAP_READ);
    fail_unless (ma.size == mb.size && memcmp (ma.data, mb.data,
            ma.size) == 0, "%s: instance %d mask differs", what, i);
    gst_buffer_unmap (a.mask, &ma);
    gst_buffer_unmap (b.mask, &mb);
    i++;
  }
}

/* A short description of a result, to tell results apart. */
static gchar *
signature (GstBuffer * buf)
{
  GString *s = g_string_new (NULL);
  GstMaskRcnnInstance inst;
  gpointer state = NULL;

  while (gst_maskrcnn_buffer_iterate_instances (buf, &state, &inst))
    g_string_append_printf (s, "%s %d,%d %dx%d %.6f;", inst.label, inst.x,
        inst.y, inst.width, inst.height, inst.confidence);
  return g_string_free (s, FALSE);
}

/* ------------------------------------------------------------ batches seen */

/* The batcher logs "batch of N WxH frames, K batches under way"
 * (maskrcnnshared, LOG) for each batch it starts: the largest N shows that
 * frames of several elements ran together, the largest K that batches ran
 * side by side. */
static GMutex seen_lock;
static guint largest_batch, most_at_once, engines_grown;

static void
log_batches (GstDebugCategory * category, GstDebugLevel level,
    const gchar * file, const gchar * function, gint line, GObject * object,
    GstDebugMessage * message, gpointer user_data)
{
  const gchar *text;
  guint n, w, h, k;

  if (strcmp (gst_debug_category_get_name (category), "maskrcnnshared") != 0)
    return;
  text = gst_debug_message_get (message);
  if (text && sscanf (text, "batch of %u ", &n) == 1) {
    g_mutex_lock (&seen_lock);
    largest_batch = MAX (largest_batch, n);
    if (sscanf (text, "batch of %u %ux%u frames, %u batches", &n, &w, &h,
            &k) == 4)
      most_at_once = MAX (most_at_once, k);
    g_mutex_unlock (&seen_lock);
  } else if (text && strstr (text, "growing the engine")) {
    g_mutex_lock (&seen_lock);
    engines_grown++;
    g_mutex_unlock (&seen_lock);
  }
}

/* What *seen holds (largest_batch, most_at_once or engines_grown), which
 * starts again from 0. */
static guint
take_seen (guint * seen)
{
  guint n;

  g_mutex_lock (&seen_lock);
  n = *seen;
  *seen = 0;
  g_mutex_unlock (&seen_lock);
  return n;
}

/* ------------------------------------------------------------ streams */

typedef struct
{
  GstHarness *h;
  gint stream, w, ht, n;
  gboolean eos;                 /* push EOS after the frames */
  GstBuffer *bad;               /* push this instead of the frames */
  GstBuffer *out[FRAMES];
  GstFlowReturn ret;
} Stream;

static GMutex done_lock;
static GCond done_cond;
static gint n_done;

static gpointer
stream_thread (gpointer data)
{
  Stream *st = data;
  gint f;

  st->ret = GST_FLOW_OK;
  if (st->bad) {
    st->ret = gst_harness_push (st->h, st->bad);
  } else {
    for (f = 0; f < st->n; f++) {
      st->ret = gst_harness_push (st->h, make_frame (st->stream, f, st->w,
              st->ht));
      if (st->ret != GST_FLOW_OK)
        break;
      st->out[f] = gst_harness_pull (st->h);
    }
  }
  if (st->eos)
    gst_harness_push_event (st->h, gst_event_new_eos ());
  g_mutex_lock (&done_lock);
  n_done++;
  g_cond_broadcast (&done_cond);
  g_mutex_unlock (&done_lock);
  return NULL;
}

/* Starts a thread per stream. */
static void
start_streams (Stream * streams, gint n, GThread ** threads)
{
  gint i;

  g_mutex_lock (&done_lock);
  n_done = 0;
  g_mutex_unlock (&done_lock);
  for (i = 0; i < n; i++)
    threads[i] = g_thread_new ("stream", stream_thread, &streams[i]);
}

/* Waits for the threads; fails the test when they are not done within
 * `seconds`. */
static void
join_streams (GThread ** threads, gint n, gdouble seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (seconds * 1e6);
  gint i;

  g_mutex_lock (&done_lock);
  while (n_done < n)
    if (!g_cond_wait_until (&done_cond, &done_lock, deadline))
      break;
  i = n_done;
  g_mutex_unlock (&done_lock);
  fail_unless (i == n, "only %d of %d streams finished within %.0f s: a "
      "stream stalls", i, n, seconds);
  for (i = 0; i < n; i++)
    g_thread_join (threads[i]);
}

static gdouble
seconds_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1e6;
}

/* ------------------------------------------------------------ tests */

/* n elements share one engine, batch-size n, a batch timeout far longer
 * than the test: each element's frames come back in order with exactly
 * the metadata of an element of its own (with its own score threshold),
 * frames of several elements run in one forward pass, and no frame waits
 * for the timeout (a batch runs once every streaming element has a frame
 * in it or under way; an element that sent EOS is waited for no more). The
 * last stream of four has frames of another size, which run in batches of
 * their own. With threads=1 the engine has one worker, whose batches take
 * up to n frames; with threads=2 two workers, each taking up to n / 2
 * frames, run their batches side by side. The streams then send no EOS,
 * so that every element streams to the end and each worker's pass has its
 * share of the threads, one (as the ThreadSanitizer run needs: libgomp's
 * barriers are invisible to it); their last frames may then wait for the
 * timeout, which is short. */
static void
check_shared (gint n, gint threads)
{
  Stream streams[4] = { {0,}, };
  GstBuffer *ref[4][FRAMES];
  GThread *stream_threads[4];
  GHashTable *seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  gint64 t0;
  gint i, f;
  gdouble took;

  for (i = 0; i < n; i++) {
    Stream *st = &streams[i];
    gchar *props = g_strdup_printf ("model-instance-id=shared%d-%d "
        "batch-size=%d batch-timeout=%d threads=%d score-threshold=%f", n,
        threads, n, threads == 1 ? LONG_TIMEOUT_MS : 200, threads,
        0.05 + 0.1 * i);

    st->stream = i;
    st->w = (n == 4 && i == 3) ? 176 : W;
    st->ht = (n == 4 && i == 3) ? 144 : H;
    st->n = FRAMES;
    st->eos = threads == 1;
    reference (i, st->w, st->ht, 0.05 + 0.1 * i, ref[i], FRAMES);
    for (f = 0; f < FRAMES; f++) {
      gchar *sig = signature (ref[i][f]);
      fail_unless (!g_hash_table_contains (seen, sig),
          "two frames have the same instances (%s): the test could not tell "
          "them apart", sig);
      g_hash_table_add (seen, sig);
    }
    st->h = harness (props, st->w, st->ht);
    g_free (props);
  }

  take_seen (&largest_batch);
  take_seen (&most_at_once);
  t0 = g_get_monotonic_time ();
  start_streams (streams, n, stream_threads);
  join_streams (stream_threads, n, 120);
  took = seconds_since (t0);
  GST_INFO ("%d streams x %d frames in %.2f s", n, FRAMES, took);
  if (threads == 1) {
    fail_unless (took < LONG_TIMEOUT_MS / 1000.0,
        "%.1f s: a frame waited for the batch timeout", took);
    fail_unless_equals_int (take_seen (&largest_batch), n == 4 ? 3 : n);
    fail_unless_equals_int (take_seen (&most_at_once), 1);
  } else {
    /* two workers, n / 2 frames each: the first batch is full (any three
     * frames include two of one size) and the rest of the frames start
     * the other worker's batch while it runs */
    fail_unless_equals_int (take_seen (&largest_batch), n / 2);
    fail_unless_equals_int (take_seen (&most_at_once), 2);
  }

  for (i = 0; i < n; i++) {
    fail_unless_equals_int (streams[i].ret, GST_FLOW_OK);
    for (f = 0; f < FRAMES; f++) {
      gchar *what = g_strdup_printf ("stream %d frame %d", i, f);
      assert_same_instances (streams[i].out[f], ref[i][f], what);
      g_free (what);
      gst_buffer_unref (streams[i].out[f]);
      gst_buffer_unref (ref[i][f]);
    }
    gst_harness_teardown (streams[i].h);
  }
  g_hash_table_unref (seen);
}

GST_START_TEST (test_two_share)
{
  check_shared (2, 1);
}

GST_END_TEST;

GST_START_TEST (test_four_share_batch_four)
{
  check_shared (4, 1);
}

GST_END_TEST;

GST_START_TEST (test_four_share_two_workers)
{
  check_shared (4, 2);
}

GST_END_TEST;

/* Caps beyond the planned 3840x2160 grow an engine that two elements
 * share, with two workers, while the other element streams: the engine
 * grows once the batch under way has ended, and no batch starts meanwhile;
 * every frame of both elements has the instances an element of its own
 * finds. No EOS, so that both elements stream to the end and each pass has
 * one thread (as in check_shared). */
GST_START_TEST (test_shared_engine_grows)
{
  const gint big_w = 4096, big_h = 2304;
  const gchar *props = "model-instance-id=grow batch-size=2 batch-timeout=0 "
      "threads=2 score-threshold=0.05";
  Stream a = { 0, };
  GstBuffer *ref_a[FRAMES], *ref_b, *out_b;
  GstHarness *b;
  GThread *thread;
  gchar *caps;
  gint f;

  a.stream = 0;
  a.w = W;
  a.ht = H;
  a.n = FRAMES;
  reference (0, W, H, 0.05, ref_a, FRAMES);
  reference (1, big_w, big_h, 0.05, &ref_b, 1);
  a.h = harness (props, W, H);
  b = harness (props, W, H);
  take_seen (&engines_grown);

  start_streams (&a, 1, &thread);
  caps = caps_of (big_w, big_h);
  gst_harness_set_src_caps_str (b, caps);
  g_free (caps);
  out_b = gst_harness_push_and_pull (b, make_frame (1, 0, big_w, big_h));
  join_streams (&thread, 1, 300);

  fail_unless_equals_int (take_seen (&engines_grown), 1);
  fail_unless_equals_int (a.ret, GST_FLOW_OK);
  for (f = 0; f < FRAMES; f++) {
    gchar *what = g_strdup_printf ("streaming element, frame %d", f);
    assert_same_instances (a.out[f], ref_a[f], what);
    g_free (what);
    gst_buffer_unref (a.out[f]);
    gst_buffer_unref (ref_a[f]);
  }
  assert_same_instances (out_b, ref_b, "the 4096x2304 frame");
  gst_buffer_unref (out_b);
  gst_buffer_unref (ref_b);
  gst_harness_teardown (a.h);
  gst_harness_teardown (b);
}

GST_END_TEST;

/* An element whose engine settings differ from those of the engine it
 * would share fails at start, and the message names the setting, both
 * values and the element that made the engine. Thresholds may differ. */
GST_START_TEST (test_settings_must_agree)
{
  static const struct
  {
    const gchar *prop, *value, *mine, *theirs;
  } cases[] = {
    {"threads", "1", "threads=1", "threads=0"},
    {"batch-size", "2", "batch-size=2", "batch-size=1"},
    {"max-detections", "50", "max-detections=50", "max-detections=100"},
    {"precision", "bf16", "precision=bf16", "precision=fp32"},
    {"backend", "auto", "backend=auto", "backend=cpu"},
    {"device-id", "0", "device-id=0", "device-id=-1"},
  };
  GstHarness *first = harness ("model-instance-id=agree", W, H);
  const gchar *other_model = test_model_path ();
  guint c;

  for (c = 0; c < G_N_ELEMENTS (cases); c++) {
    GstElement *e = gst_element_factory_make ("maskrcnn", NULL);
    GstMessage *msg;
    GError *err = NULL;

    gst_util_set_object_arg (G_OBJECT (e), "backend", "cpu");
    g_object_set (e, "model-instance-id", "agree", NULL);
    gst_util_set_object_arg (G_OBJECT (e), cases[c].prop, cases[c].value);
    msg = test_expect_start_error (e);
    gst_message_parse_error (msg, &err, NULL);
    fail_unless (g_error_matches (err, GST_LIBRARY_ERROR,
            GST_LIBRARY_ERROR_SETTINGS), "%s", err->message);
    fail_unless (strstr (err->message, cases[c].mine) != NULL &&
        strstr (err->message, cases[c].theirs) != NULL &&
        strstr (err->message, "\"agree\"") != NULL &&
        strstr (err->message, "\"m\"") != NULL, "%s: %s", cases[c].prop,
        err->message);
    GST_INFO ("%s", err->message);
    g_error_free (err);
    gst_message_unref (msg);
    gst_object_unref (e);
  }

  /* Another model file. */
  if (other_model) {
    GstElement *e = gst_element_factory_make ("maskrcnn", NULL);
    GstMessage *msg;
    GError *err = NULL;

    g_object_set (e, "model-instance-id", "agree", "model", other_model,
        NULL);
    gst_util_set_object_arg (G_OBJECT (e), "backend", "cpu");
    msg = test_expect_start_error (e);
    gst_message_parse_error (msg, &err, NULL);
    fail_unless (strstr (err->message, "model=") != NULL &&
        strstr (err->message, other_model) != NULL, "%s", err->message);
    g_error_free (err);
    gst_message_unref (msg);
    gst_object_unref (e);
  }

  /* Other thresholds, and the model named another way: starts, and
   * runs. */
  {
    GstElement *m = gst_bin_get_by_name (GST_BIN (first->element), "m");
    gchar *model = NULL, *dir, *base, *props;
    GstHarness *second;
    GstBuffer *out;

    g_object_get (m, "model", &model, NULL);
    gst_object_unref (m);
    fail_unless (model != NULL);
    dir = g_path_get_dirname (model);
    base = g_path_get_basename (model);
    props = g_strdup_printf ("model-instance-id=agree model=\"%s/./%s\" "
        "score-threshold=0.2 nms-threshold=0.3 mask-threshold=0.7", dir, base);
    second = harness (props, W, H);
    out = gst_harness_push_and_pull (second, make_frame (0, 0, W, H));
    fail_unless (out != NULL);
    gst_buffer_unref (out);
    gst_harness_teardown (second);
    g_free (props);
    g_free (dir);
    g_free (base);
    g_free (model);
  }
  {
    GstHarness *second = harness ("model-instance-id=agree "
        "score-threshold=0.2 nms-threshold=0.3 mask-threshold=0.7", W, H);
    GstBuffer *out = gst_harness_push_and_pull (second, make_frame (0, 0, W,
            H));

    fail_unless (out != NULL);
    gst_buffer_unref (out);
    gst_harness_teardown (second);
  }
  gst_harness_teardown (first);
}

GST_END_TEST;

/* Two elements share an engine with batches of two and a long timeout (one
 * thread, so one worker, whose batches take both elements' frames). */
static void
pair (const gchar * id, GstHarness ** a, GstHarness ** b)
{
  gchar *props = g_strdup_printf ("model-instance-id=%s batch-size=2 "
      "batch-timeout=%d threads=1 score-threshold=0.05", id, LONG_TIMEOUT_MS);

  *a = harness (props, W, H);
  *b = harness (props, W, H);
  g_free (props);
}

/* Pushes frames of stream s into `h` from this thread, each in time, with
 * the metadata of an element of its own. */
static void
assert_runs_alone (GstHarness * h, gint s, gint n)
{
  GstBuffer *ref[FRAMES];
  gint64 t0;
  gint f;

  reference (s, W, H, 0.05f, ref, n);
  t0 = g_get_monotonic_time ();
  for (f = 0; f < n; f++) {
    GstBuffer *out = gst_harness_push_and_pull (h, make_frame (s, f, W, H));
    assert_same_instances (out, ref[f], "alone");
    gst_buffer_unref (out);
    gst_buffer_unref (ref[f]);
  }
  fail_unless (seconds_since (t0) < SHORT_S, "%.1f s for %d frames: waited "
      "for an element that sends none", seconds_since (t0), n);
}

/* After one element's EOS the other's frames wait for it no more. */
GST_START_TEST (test_eos_does_not_stall)
{
  GstHarness *a, *b;

  pair ("eos", &a, &b);
  fail_unless (gst_harness_push_event (a, gst_event_new_eos ()));
  assert_runs_alone (b, 1, FRAMES);
  gst_harness_teardown (a);
  gst_harness_teardown (b);
}

GST_END_TEST;

/* FLUSH_START releases an element's streaming thread that waits for its
 * batch (GST_FLOW_FLUSHING), the other element runs on, and the flushed
 * one runs again after FLUSH_STOP and a new segment. */
GST_START_TEST (test_flush_unblocks)
{
  GstHarness *a, *b;
  Stream st = { 0, };
  GThread *thread;
  GstSegment segment;
  gint64 t0;

  pair ("flush", &a, &b);
  st.h = a;
  st.w = W;
  st.ht = H;
  st.n = 1;
  /* b streams but sends nothing: a's frame waits for it. */
  start_streams (&st, 1, &thread);
  g_usleep (300 * 1000);
  t0 = g_get_monotonic_time ();
  fail_unless (gst_harness_push_event (a, gst_event_new_flush_start ()));
  join_streams (&thread, 1, SHORT_S);
  fail_unless (seconds_since (t0) < SHORT_S);
  fail_unless_equals_int (st.ret, GST_FLOW_FLUSHING);

  fail_unless (gst_harness_push_event (a, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (a, gst_event_new_segment (&segment)));

  assert_runs_alone (b, 2, 2);
  fail_unless (gst_harness_push_event (b, gst_event_new_eos ()));
  assert_runs_alone (a, 3, 2);
  gst_harness_teardown (a);
  gst_harness_teardown (b);
}

GST_END_TEST;

/* A frame the engine refuses (a row stride shorter than the row) fails its
 * own stream only, also in a batch with a good frame of another element;
 * the other runs on without waiting for the failed one. */
GST_START_TEST (test_bad_frame_fails_alone)
{
  GstHarness *a, *b;
  Stream st[2] = { {0,}, };
  GThread *threads[2];
  GstBuffer *ref[FRAMES];
  GstBus *bus;
  GstMessage *msg;
  GError *err = NULL;
  gsize offset[GST_VIDEO_MAX_PLANES] = { 0, };
  gint stride[GST_VIDEO_MAX_PLANES] = { 4, };

  pair ("bad", &a, &b);
  bus = test_attach_bus (a->element);
  st[0].h = a;
  st[0].bad = make_frame (0, 0, W, H);
  gst_buffer_add_video_meta_full (st[0].bad, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_FORMAT_RGB, W, H, 1, offset, stride);
  st[1].h = b;
  st[1].stream = 1;
  st[1].w = W;
  st[1].ht = H;
  st[1].n = 1;
  reference (1, W, H, 0.05f, ref, 1);

  take_seen (&largest_batch);
  start_streams (st, 2, threads);
  join_streams (threads, 2, 60);
  fail_unless_equals_int (take_seen (&largest_batch), 2);
  fail_unless_equals_int (st[0].ret, GST_FLOW_ERROR);
  fail_unless_equals_int (st[1].ret, GST_FLOW_OK);
  assert_same_instances (st[1].out[0], ref[0], "good frame beside a bad one");
  gst_buffer_unref (st[1].out[0]);
  gst_buffer_unref (ref[0]);

  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (strstr (err->message, "stride 4 is smaller than its row") !=
      NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);

  assert_runs_alone (b, 2, 2);
  gst_element_set_bus (a->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (a);
  gst_harness_teardown (b);
}

GST_END_TEST;

/* An element set to NULL while its frame waits for a batch leaves at once
 * (its thread gets GST_FLOW_FLUSHING); the other runs on; a new element
 * joins the running engine and the two batch together. */
GST_START_TEST (test_leave_and_join)
{
  GstHarness *a, *b, *c;
  Stream st[2] = { {0,}, };
  GThread *threads[2];
  GstBuffer *ref[2][FRAMES];
  gint64 t0;
  gint i, f;

  pair ("join", &a, &b);
  st[0].h = a;
  st[0].w = W;
  st[0].ht = H;
  st[0].n = 1;
  start_streams (st, 1, threads);
  g_usleep (300 * 1000);
  t0 = g_get_monotonic_time ();
  fail_unless (gst_element_set_state (a->element, GST_STATE_NULL) ==
      GST_STATE_CHANGE_SUCCESS);
  join_streams (threads, 1, SHORT_S);
  fail_unless (seconds_since (t0) < SHORT_S, "set_state(NULL) took %.1f s",
      seconds_since (t0));
  fail_unless_equals_int (st[0].ret, GST_FLOW_FLUSHING);
  gst_harness_teardown (a);

  assert_runs_alone (b, 1, 2);

  {
    gchar *props = g_strdup_printf ("model-instance-id=join batch-size=2 "
        "batch-timeout=%d threads=1 score-threshold=0.05", LONG_TIMEOUT_MS);
    c = harness (props, W, H);
    g_free (props);
  }
  memset (st, 0, sizeof st);
  for (i = 0; i < 2; i++) {
    st[i].h = i ? c : b;
    st[i].stream = 2 + i;
    st[i].w = W;
    st[i].ht = H;
    st[i].n = FRAMES;
    st[i].eos = TRUE;
    reference (2 + i, W, H, 0.05f, ref[i], FRAMES);
  }
  take_seen (&largest_batch);
  t0 = g_get_monotonic_time ();
  start_streams (st, 2, threads);
  join_streams (threads, 2, 120);
  fail_unless (seconds_since (t0) < LONG_TIMEOUT_MS / 1000.0);
  fail_unless_equals_int (take_seen (&largest_batch), 2);
  for (i = 0; i < 2; i++)
    for (f = 0; f < FRAMES; f++) {
      assert_same_instances (st[i].out[f], ref[i][f], "after a join");
      gst_buffer_unref (st[i].out[f]);
      gst_buffer_unref (ref[i][f]);
    }
  gst_harness_teardown (b);
  gst_harness_teardown (c);
}

GST_END_TEST;

static GstClockTime
min_latency (const gchar * props)
{
  GstHarness *h = harness (props, W, H);
  GstQuery *q = gst_query_new_latency ();
  GstClockTime min, max;
  gboolean live;

  gst_harness_set_upstream_latency (h, 5 * GST_MSECOND);
  fail_unless (gst_pad_peer_query (h->sinkpad, q));
  gst_query_parse_latency (q, &live, &min, &max);
  gst_query_unref (q);
  gst_harness_teardown (h);
  return min;
}

/* The latency query reports upstream's latency plus batch-timeout, which a
 * batch of one never waits. */
GST_START_TEST (test_latency)
{
  fail_unless_equals_uint64 (min_latency ("batch-size=2 batch-timeout=40"),
      45 * GST_MSECOND);
  fail_unless_equals_uint64 (min_latency ("batch-size=1 batch-timeout=40"),
      5 * GST_MSECOND);
}

GST_END_TEST;

static Suite *
shared_suite (void)
{
  Suite *s = suite_create ("maskrcnn-shared");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_two_share);
  tcase_add_test (tc, test_four_share_batch_four);
  tcase_add_test (tc, test_four_share_two_workers);
  tcase_add_test (tc, test_shared_engine_grows);
  tcase_add_test (tc, test_settings_must_agree);
  tcase_add_test (tc, test_eos_does_not_stall);
  tcase_add_test (tc, test_flush_unblocks);
  tcase_add_test (tc, test_bad_frame_fails_alone);
  tcase_add_test (tc, test_leave_and_join);
  tcase_add_test (tc, test_latency);
  return s;
}

int
main (int argc, char **argv)
{
  gst_check_init (&argc, &argv);
  gst_debug_set_active (TRUE);
  gst_debug_set_threshold_for_name ("maskrcnnshared", GST_LEVEL_LOG);
  gst_debug_add_log_function (log_batches, NULL, NULL);
  return gst_check_run_suite (shared_suite (), "maskrcnn-shared", __FILE__);
}
