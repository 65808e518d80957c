/* maskrcnnpublish: documents in a file, line by line, and through a real
 * mosquitto broker started here on 127.0.0.1 (a random free port), with a
 * libmosquitto subscriber; the broker restarted mid-stream; a broker absent
 * at start; the queue's drops; errors at start; hostile strings (labels,
 * source ids, topics) and a model whose labels are hostile. Needs no model
 * otherwise: the frames carry instances attached through the metadata
 * library, so every byte of every document is known. A missing mosquitto
 * binary fails the test (the setup installs it). TLS and logins:
 * test-publish-tls.c. */
#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <json-glib/json-glib.h>

#include <gst/maskrcnn-meta.h>

#include "gst-test-util.h"
#include "publish-test-util.h"

/* ------------------------------------------------------------ file */

static void
run_file (gboolean with_masks)
{
  gchar *dir = g_dir_make_tmp ("publish-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  GstElement *e = gst_element_factory_make ("maskrcnnpublish", NULL);
  GstHarness *h;
  gchar *caps = pt_caps_string (), *contents = NULL, **lines;
  guint k, n_lines = 0;

  fail_unless (e != NULL);
  g_object_set (e, "location", path, "source-id", "camera-7",
      "include-masks", with_masks, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);

  gst_harness_set_src_caps_str (h, caps);
  pt_push_frames (h, 0, 39, 0);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));

  /* EOS waits for the worker: every line is in the file now. */
  fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
  fail_unless (g_str_has_suffix (contents, "\n"));
  lines = g_strsplit (contents, "\n", -1);
  for (k = 0; lines[k] && *lines[k]; k++) {
    fail_unless_equals_uint64 (pt_check_document (lines[k], "camera-7",
            with_masks), k);
    n_lines++;
  }
  fail_unless_equals_int (n_lines, 40);
  fail_unless (lines[k] && !*lines[k] && !lines[k + 1]);
  fail_unless_equals_uint64 (pt_get_u64 (h->element, "published"), 40);
  fail_unless_equals_uint64 (pt_get_u64 (h->element, "dropped"), 0);

  gst_harness_teardown (h);
  g_strfreev (lines);
  g_free (contents);
  g_unlink (path);
  g_rmdir (dir);
  g_free (caps);
  g_free (path);
  g_free (dir);
}

GST_START_TEST (test_file)
{
  run_file (TRUE);
}

GST_END_TEST;

GST_START_TEST (test_file_without_masks)
{
  run_file (FALSE);
}

GST_END_TEST;

/* ------------------------------------------------------------ errors */

/* A write that fails (the disk is full: /dev/full) posts an error from the
 * worker and the stream stops at the next frame. */
/* Track ids and counts, as maskrcnntrack and maskrcnncount leave them. */
GST_START_TEST (test_file_tracks_and_counts)
{
  pt_tracked_frames = TRUE;
  run_file (FALSE);
  pt_tracked_frames = FALSE;
}

GST_END_TEST;

GST_START_TEST (test_file_write_error)
{
  GstElement *e = gst_element_factory_make ("maskrcnnpublish", NULL);
  GstBus *bus;
  GstHarness *h;
  GstMessage *msg;
  GError *err = NULL;
  gchar *caps = pt_caps_string (), *debug = NULL;
  GstFlowReturn ret = GST_FLOW_OK;
  guint64 i;

  if (!g_file_test ("/dev/full", G_FILE_TEST_EXISTS))
    fail ("/dev/full is missing: this test needs a Linux system");
  g_object_set (e, "location", "/dev/full", NULL);
  bus = test_attach_bus (e);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, caps);
  for (i = 0; i < 200 && ret == GST_FLOW_OK; i++) {
    ret = gst_harness_push (h, pt_make_frame (i));
    g_usleep (10000);
  }
  fail_unless_equals_int (ret, GST_FLOW_ERROR);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error posted");
  gst_message_parse_error (msg, &err, &debug);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_WRITE), "%s", err->message);
  fail_unless (strstr (err->message, "/dev/full") != NULL, "%s",
      err->message);
  fail_unless (debug && strstr (debug, g_strerror (ENOSPC)) != NULL, "%s",
      GST_STR_NULL (debug));
  g_error_free (err);
  g_free (debug);
  gst_message_unref (msg);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (caps);
}

GST_END_TEST;

static void
expect_start_error (const gchar * desc, GQuark domain, gint code,
    const gchar * text)
{
  g_free (pt_expect_start_error (desc, domain, code, text));
}

GST_START_TEST (test_start_errors)
{
  expect_start_error ("maskrcnnpublish method=file", GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_NOT_FOUND, "Set the location property");
  expect_start_error
      ("maskrcnnpublish method=file location=/nonexistent-dir/out.jsonl",
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_WRITE,
      "/nonexistent-dir/out.jsonl");
  expect_start_error ("maskrcnnpublish method=mqtt address=127.0.0.1:port",
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "host:port");
  expect_start_error ("maskrcnnpublish method=mqtt address=127.0.0.1:70000",
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "70000");
  expect_start_error ("maskrcnnpublish method=mqtt topic=a/+/b",
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "wildcards");
  expect_start_error ("maskrcnnpublish method=mqtt "
      "address=no-such-host.invalid:1883", GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_NOT_FOUND, "no-such-host.invalid");
}

GST_END_TEST;

/* ------------------------------------------------------------ hostile */

/* Labels as a model file or another element may carry them. */
static gchar *
hostile_label (guint k)
{
  switch (k) {
    case 0:
      return g_strdup ("say \"cheese\", \\\"escaped\\\" \\\\ and \\u0022");
    case 1:
      return g_strdup ("tab\there\nnewline\r\x01\x08\x0c\x1b\x1f\x7f end");
    case 2:
      /* invalid UTF-8: a lone continuation byte, a truncated sequence, an
       * encoded surrogate (what json-glib makes of "\ud800"), 0xff */
      return g_strdup ("bad \x80 \xc3( \xed\xa0\x80 \xff utf-8");
    case 3:{
      GString *s = g_string_new (NULL);

      /* 10 kB: ASCII, two- and four-byte characters and quotes */
      while (s->len < 10240)
        g_string_append (s, "long \xc3\xa9t\xc3\xa9 \xf0\x9f\x90\x88 \"q\" ");
      return g_string_free (s, FALSE);
    }
    default:
      return g_strdup ("+/#/$SYS/topic-like </script> \xe2\x80\xa8 end");
  }
}

#define N_HOSTILE 5

/* The metadata library also keeps each label in a GstStructure, where
 * GStreamer refuses a string that is not UTF-8 with a warning and leaves
 * the field out; the label is then read back from the region's quark,
 * byte for byte. That warning is the library's, not the publisher's
 * concern here: it is let through. Remove with
 * gst_check_remove_log_filter(). */
static GstCheckLogFilter *
allow_invalid_utf8_labels (void)
{
  return gst_check_add_log_filter ("GStreamer", G_LOG_LEVEL_WARNING,
      g_regex_new ("field 'label', but string is not valid UTF-8", 0, 0,
          NULL), NULL, NULL, NULL);
}

/* One frame per hostile label (instance j of frame i has label
 * (i + j) % N_HOSTILE), with a hostile source-id. */
static GstBuffer *
hostile_frame (guint64 i)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, PT_W * PT_H * 3, NULL);
  GstBuffer *mask = gst_buffer_new_allocate (NULL, 4 * 4, NULL);
  GstMaskRcnnInstanceInit in[2];
  gchar *l0 = hostile_label ((guint) i % N_HOSTILE);
  gchar *l1 = hostile_label ((guint) (i + 1) % N_HOSTILE);

  gst_buffer_memset (buf, 0, 0, PT_W * PT_H * 3);
  gst_buffer_memset (mask, 0, 255, 16);
  GST_BUFFER_PTS (buf) = i * PT_FRAME_NS;
  in[0] = (GstMaskRcnnInstanceInit) {
  .label = l0,.class_id = 1,.confidence = 0.75,.x = 1,.y = 2,.width = 4,
        .height = 4,.mask = mask,.mask_width = 4,.mask_height = 4};
  in[1] = in[0];
  in[1].label = l1;
  in[1].class_id = 2;
  fail_unless (gst_maskrcnn_buffer_add_instances (buf, in, 2));
  gst_buffer_unref (mask);
  g_free (l0);
  g_free (l1);
  return buf;
}

#define HOSTILE_SOURCE "cam \"7\"\\\n\x02\xff\xfe end"

/* A document of hostile_frame(): strict JSON, and every string as the
 * label or source-id was, except that invalid UTF-8 became U+FFFD. */
static void
check_hostile_document (const gchar * text)
{
  JsonParser *parser = json_parser_new ();
  JsonObject *doc;
  JsonArray *dets;
  gchar *want;
  guint64 i;

  pt_check_strict_json (text);
  fail_unless (json_parser_load_from_data (parser, text, -1, NULL));
  doc = json_node_get_object (json_parser_get_root (parser));
  want = g_utf8_make_valid (HOSTILE_SOURCE, -1);
  fail_unless_equals_string (json_object_get_string_member (doc,
          "source_id"), want);
  g_free (want);
  i = (guint64) json_object_get_int_member (doc, "frame");
  dets = json_object_get_array_member (doc, "detections");
  fail_unless_equals_int (json_array_get_length (dets), 2);
  for (guint j = 0; j < 2; j++) {
    JsonObject *d = json_array_get_object_element (dets, j);
    gchar *label = hostile_label ((guint) (i + j) % N_HOSTILE);

    want = g_utf8_make_valid (label, -1);
    fail_unless_equals_string (json_object_get_string_member (d, "label"),
        want);
    fail_unless_equals_int (json_object_get_int_member (d, "class_id"),
        j + 1);
    g_free (want);
    g_free (label);
  }
  g_object_unref (parser);
}

static void
push_hostile (GstHarness * h, guint n)
{
  GstCheckLogFilter *filter = allow_invalid_utf8_labels ();

  for (guint64 i = 0; i < n; i++)
    fail_unless_equals_int (gst_harness_push (h, hostile_frame (i)),
        GST_FLOW_OK);
  gst_check_remove_log_filter (filter);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
}

/* Hostile labels and source-id, to a file: every line strict JSON with
 * the strings intact (invalid UTF-8 replaced), one line per frame. */
GST_START_TEST (test_hostile_strings_file)
{
  gchar *dir = g_dir_make_tmp ("publish-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  GstElement *e = gst_element_factory_make ("maskrcnnpublish", NULL);
  gchar *caps = pt_caps_string (), *contents = NULL, **lines;
  GstHarness *h;
  guint k;

  g_object_set (e, "location", path, "source-id", HOSTILE_SOURCE, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, caps);
  push_hostile (h, 2 * N_HOSTILE);
  gst_harness_teardown (h);

  fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  for (k = 0; lines[k] && *lines[k]; k++)
    check_hostile_document (lines[k]);
  fail_unless_equals_int (k, 2 * N_HOSTILE);
  g_strfreev (lines);
  g_free (contents);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
  g_free (caps);
}

GST_END_TEST;

static void
set_hostile_source (GstElement * e, gpointer data)
{
  g_object_set (e, "source-id", HOSTILE_SOURCE, "topic", data, NULL);
}

/* The same through a broker, on a topic of non-ASCII text: a subscriber
 * receives every document, strict JSON, strings intact. */
GST_START_TEST (test_hostile_strings_mqtt)
{
  Broker b = {.port = pt_free_port () };
  Subscriber s = { 0 };
  const gchar *topic = "caméras/entrée/\xe5\xbd\xa2 detections";
  gchar *address = g_strdup_printf ("127.0.0.1:%d", b.port);
  GstHarness *h;
  GstBus *bus;

  broker_start (&b);
  subscriber_start (&s, b.port, topic);
  h = pt_mqtt_harness (address, 100, 1, set_hostile_source, (gpointer) topic,
      &bus);
  pt_wait_until (pt_is_connected, h->element, 10, "the connection");
  push_hostile (h, 2 * N_HOSTILE);
  for (guint k = 0; k < 2 * N_HOSTILE; k++) {
    gchar *text = subscriber_pop (&s, 20);

    fail_unless (text != NULL, "document %u did not arrive", k);
    check_hostile_document (text);
    g_free (text);
  }
  fail_unless_equals_uint64 (pt_get_u64 (h->element, "dropped"), 0);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  subscriber_stop (&s);
  broker_free (&b);
  g_free (address);
}

GST_END_TEST;

/* Topics that no broker takes for a publish: refused at start with the
 * reason, rather than every publish failing later. */
GST_START_TEST (test_hostile_topics)
{
  static const struct {
    const gchar *topic, *reason;
  } cases[] = {
    {"a/+/b", "wildcards"},
    {"cameras/#", "wildcards"},
    {"+", "wildcards"},
    {"$SYS/broker/x", "broker's own"},
    {"bad/\xff\xfe/utf-8", "UTF-8"},
    {"bad/\xed\xa0\x80/surrogate", "UTF-8"},
    {"ctrl/\x01/char", "control characters"},
    {"ctrl/\x7f/del", "control characters"},
    {"", "empty"},
  };
  GString *huge = g_string_new (NULL);

  for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
    GstElement *e = gst_element_factory_make ("maskrcnnpublish", NULL);
    GstMessage *msg;
    GError *err = NULL;

    gst_util_set_object_arg (G_OBJECT (e), "method", "mqtt");
    g_object_set (e, "topic", cases[k].topic, NULL);
    msg = test_expect_start_error (e);
    gst_message_parse_error (msg, &err, NULL);
    fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
            GST_RESOURCE_ERROR_SETTINGS), "case %u: %s", k, err->message);
    fail_unless (strstr (err->message, cases[k].reason) != NULL,
        "case %u: \"%s\" lacks \"%s\"", k, err->message, cases[k].reason);
    /* The message itself is printable UTF-8 whatever the topic held. */
    fail_unless (g_utf8_validate (err->message, -1, NULL));
    for (const gchar * p = err->message; *p; p++)
      fail_unless ((guchar) * p >= 0x20, "case %u: control character in "
          "the message", k);
    g_error_free (err);
    gst_message_unref (msg);
    gst_object_unref (e);
  }
  while (huge->len <= 65535)
    g_string_append (huge, "cameras/");
  {
    GstElement *e = gst_element_factory_make ("maskrcnnpublish", NULL);
    GstMessage *msg;
    GError *err = NULL;

    gst_util_set_object_arg (G_OBJECT (e), "method", "mqtt");
    g_object_set (e, "topic", huge->str, NULL);
    msg = test_expect_start_error (e);
    gst_message_parse_error (msg, &err, NULL);
    fail_unless (strstr (err->message, "65535") != NULL, "%s", err->message);
    /* Cut, not 64 kB of topic in the message. */
    fail_unless (strlen (err->message) < 400, "%s", err->message);
    g_error_free (err);
    gst_message_unref (msg);
    gst_object_unref (e);
  }
  g_string_free (huge, TRUE);
  expect_start_error ("maskrcnnpublish method=mqtt client-id=\"\"",
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "client id");
}

GST_END_TEST;

/* The labels of a model file as json-glib, which the engine's loader uses
 * too, decodes them from its metadata: the strings the detections carry. */
static GPtrArray *
model_labels (const gchar * path)
{
  GPtrArray *labels = g_ptr_array_new_with_free_func (g_free);
  JsonParser *header = json_parser_new (), *list = json_parser_new ();
  gchar *data = NULL;
  gsize size = 0;
  guint64 len;
  JsonObject *meta;
  JsonArray *a;

  fail_unless (g_file_get_contents (path, &data, &size, NULL));
  fail_unless (size >= 8);
  memcpy (&len, data, 8);
  len = GUINT64_FROM_LE (len);
  fail_unless (len <= size - 8);
  fail_unless (json_parser_load_from_data (header, data + 8, (gssize) len,
          NULL));
  meta = json_object_get_object_member (json_node_get_object
      (json_parser_get_root (header)), "__metadata__");
  fail_unless (json_parser_load_from_data (list,
          json_object_get_string_member (meta, "labels"), -1, NULL));
  a = json_node_get_array (json_parser_get_root (list));
  for (guint k = 0; k < json_array_get_length (a); k++)
    g_ptr_array_add (labels, g_strdup (json_array_get_string_element (a, k)));
  g_object_unref (list);
  g_object_unref (header);
  g_free (data);
  return labels;
}

/* The fuzz corpus's model with hostile labels (tests/fuzz/make_corpus.py:
 * quotes, backslashes, control characters, escaped lone surrogates, which
 * decode to invalid UTF-8, and 10 kB), run by maskrcnn at score threshold
 * 0 so that its classes detect: every document is strict JSON and every
 * detection's label is its class's label, invalid UTF-8 replaced. */
GST_START_TEST (test_hostile_model)
{
  const gchar *model = g_getenv ("PUBLISH_HOSTILE_MODEL");
  gchar *dir = g_dir_make_tmp ("publish-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  gchar *desc, *contents = NULL, **lines;
  GPtrArray *labels;
  gboolean *seen;
  GstElement *pipeline;
  GstMessage *msg;
  GError *err = NULL;
  guint k, n_docs = 0, n_seen = 0, n_invalid = 0;
  GstCheckLogFilter *filter = allow_invalid_utf8_labels ();

  fail_unless (model && g_file_test (model, G_FILE_TEST_EXISTS),
      "PUBLISH_HOSTILE_MODEL (%s) names no file", GST_STR_NULL (model));
  labels = model_labels (model);
  seen = g_new0 (gboolean, labels->len);
  for (k = 1; k < labels->len; k++)
    n_invalid += !g_utf8_validate (g_ptr_array_index (labels, k), -1, NULL);
  /* Else the model does not test what it is for. */
  fail_unless (n_invalid > 0, "no label of the model is invalid UTF-8");

  desc = g_strdup_printf ("videotestsrc num-buffers=3 pattern=ball ! "
      "video/x-raw,format=RGB,width=96,height=64 ! maskrcnn model=\"%s\" "
      "score-threshold=0 ! maskrcnnpublish location=\"%s\" ! fakesink",
      model, path);
  pipeline = gst_parse_launch (desc, &err);
  fail_unless (pipeline != NULL && err == NULL, "%s",
      err ? err->message : desc);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      120 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS,
      "the pipeline did not reach EOS");
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  gst_check_remove_log_filter (filter);

  fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  for (k = 0; lines[k] && *lines[k]; k++) {
    JsonParser *parser = json_parser_new ();
    JsonArray *dets;

    pt_check_strict_json (lines[k]);
    fail_unless (json_parser_load_from_data (parser, lines[k], -1, NULL));
    dets = json_object_get_array_member (json_node_get_object
        (json_parser_get_root (parser)), "detections");
    for (guint j = 0; j < json_array_get_length (dets); j++) {
      JsonObject *d = json_array_get_object_element (dets, j);
      gint64 c = json_object_get_int_member (d, "class_id");
      gchar *want;

      fail_unless (c >= 1 && c < labels->len, "class %" G_GINT64_FORMAT, c);
      want = g_utf8_make_valid (g_ptr_array_index (labels, c), -1);
      fail_unless_equals_string (json_object_get_string_member (d, "label"),
          want);
      g_free (want);
      n_seen += !seen[c];
      seen[c] = TRUE;
    }
    g_object_unref (parser);
    n_docs++;
  }
  fail_unless_equals_int (n_docs, 3);
  /* Random weights at threshold 0 find every class of this model (100
   * detections a frame over 5 classes); one missing would leave its label
   * untested. */
  fail_unless_equals_int (n_seen, labels->len - 1);

  g_strfreev (lines);
  g_free (contents);
  g_free (seen);
  g_ptr_array_unref (labels);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
  g_free (desc);
}

GST_END_TEST;

/* ------------------------------------------------------------ broker */

/* Every document arrives while the broker is up; the broker goes down and
 * comes back on the same port mid-stream; the element reconnects and the
 * documents resume, in order, with nothing crashing. */
GST_START_TEST (test_mqtt_restart)
{
  Broker b = {.port = pt_free_port () };
  gchar *address = g_strdup_printf ("127.0.0.1:%d", b.port);

  broker_start (&b);
  pt_run_broker_restart (&b, address, b.port, NULL, NULL);
  broker_free (&b);
  g_free (address);
}

GST_END_TEST;

/* No broker at start: a warning, not an error; frames queue up to
 * max-queue and the oldest are dropped (counted, warned about); when the
 * broker comes up the element connects and sends what it kept. */
GST_START_TEST (test_mqtt_unreachable_then_up)
{
  Broker b = {.port = pt_free_port () };
  gchar *address = g_strdup_printf ("127.0.0.1:%d", b.port);
  GstHarness *h;
  GstBus *bus;
  gint64 deadline;
  GList *msgs;

  h = pt_mqtt_harness (address, 3, 0, NULL, NULL, &bus);
  fail_if (pt_is_connected (h->element));
  pt_push_frames (h, 0, 9, 0);
  fail_unless_equals_uint64 (pt_get_u64 (h->element, "dropped"), 7);
  fail_unless_equals_uint64 (pt_get_u64 (h->element, "published"), 0);
  /* The first connection attempt fails on the client's own thread: wait
   * for its warning. */
  msgs = pt_bus_take (bus, GST_MESSAGE_WARNING, "unreachable", 10);
  fail_unless_equals_int (pt_messages_count (msgs, GST_MESSAGE_WARNING,
          "unreachable"), 1);
  fail_unless_equals_int (pt_messages_count (msgs, GST_MESSAGE_WARNING,
          "Dropping"), 1);
  fail_unless_equals_int (pt_messages_count (msgs, GST_MESSAGE_ERROR, ""), 0);
  g_list_free_full (msgs, (GDestroyNotify) gst_message_unref);

  broker_start (&b);
  pt_wait_until (pt_is_connected, h->element, 30, "the connection");
  deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  while (pt_get_u64 (h->element, "published") < 3) {
    fail_if (g_get_monotonic_time () > deadline, "the kept frames were not "
        "sent");
    g_usleep (20000);
  }
  fail_unless_equals_uint64 (pt_get_u64 (h->element, "published"), 3);
  fail_unless_equals_uint64 (pt_get_u64 (h->element, "dropped"), 7);

  gst_harness_teardown (h);
  gst_object_unref (bus);
  broker_free (&b);
  g_free (address);
}

GST_END_TEST;

static Suite *
publish_suite (void)
{
  Suite *s = suite_create ("maskrcnnpublish");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_file);
  tcase_add_test (tc, test_file_without_masks);
  tcase_add_test (tc, test_file_tracks_and_counts);
  tcase_add_test (tc, test_file_write_error);
  tcase_add_test (tc, test_start_errors);
  tcase_add_test (tc, test_hostile_strings_file);
  tcase_add_test (tc, test_hostile_strings_mqtt);
  tcase_add_test (tc, test_hostile_topics);
  tcase_add_test (tc, test_hostile_model);
  tcase_add_test (tc, test_mqtt_restart);
  tcase_add_test (tc, test_mqtt_unreachable_then_up);
  return s;
}

GST_CHECK_MAIN (publish);
