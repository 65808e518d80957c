/* maskrcnnpublish: documents in a file, line by line, and through a real
 * mosquitto broker started here on 127.0.0.1 (a random free port), with a
 * libmosquitto subscriber; the broker restarted mid-stream; a broker absent
 * at start; the queue's drops; errors at start. Needs no model: the frames
 * carry instances attached through the metadata library, so every byte of
 * every document is known. A missing mosquitto binary fails the test (the
 * setup installs it). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <json-glib/json-glib.h>
#include <mosquitto.h>

#include <gst/maskrcnn-meta.h>

#include "gst-test-util.h"

#define W 64
#define H 48
#define FRAME_NS (GST_SECOND / 30)

/* ------------------------------------------------------------ frames */

/* Frame i has i % 4 instances; instance j of frame i has a box that moves
 * with i and a box-size mask whose inside is the pixels with
 * (mx + my + i + j) % 3 != 0 (so each mask is different and not a box). */
static void
instance_box (guint64 i, guint j, gint * x, gint * y, gint * w, gint * h)
{
  *x = (gint) ((i * 3 + j * 11) % 40);
  *y = (gint) ((i * 2 + j * 7) % 30);
  *w = 5 + (gint) j * 4;
  *h = 4 + (gint) ((i + j) % 9);
}

static gboolean
instance_mask_at (guint64 i, guint j, gint mx, gint my)
{
  return (mx + my + i + j) % 3 != 0;
}

static const gchar *const labels[] = { "circle", "square", "triangle" };

/* With tracks: instance j of frame i has track id i * 10 + j + 1 (j = 1:
 * untracked, 0), as maskrcnntrack writes it, and even frames carry
 * maskrcnncount's counts meta with one line crossed i times. */
static gboolean tracked_frames;

static guint64
track_id_of (guint64 i, guint j)
{
  return j == 1 ? 0 : i * 10 + j + 1;
}

static void
add_tracks (GstBuffer * buf, guint64 i)
{
  GstMaskRcnnInstance inst;
  gpointer state = NULL;
  guint j = 0;

  while (gst_maskrcnn_buffer_iterate_instances (buf, &state, &inst)) {
    fail_unless (gst_maskrcnn_instance_set_track_id (buf, &inst,
            track_id_of (i, j)));
    j++;
  }
  if (i % 2 == 0) {
    GstCustomMeta *meta = gst_buffer_add_custom_meta (buf,
        "GstMaskRcnnCountsMeta");
    GstStructure *s;
    GValue lines = G_VALUE_INIT, classes = G_VALUE_INIT, v = G_VALUE_INIT;

    fail_unless (meta != NULL, "the plugin registers the counts meta");
    s = gst_custom_meta_get_structure (meta);
    g_value_init (&classes, GST_TYPE_ARRAY);
    g_value_init (&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&v, gst_structure_new ("class", "label",
            G_TYPE_STRING, "circle", "class-id", G_TYPE_INT, 1, "count",
            G_TYPE_UINT64, i, NULL));
    gst_value_array_append_and_take_value (&classes, &v);
    g_value_init (&v, GST_TYPE_STRUCTURE);
    {
      GstStructure *line = gst_structure_new ("line", "name", G_TYPE_STRING,
          "door", "x1", G_TYPE_DOUBLE, 1.5, NULL);
      gst_structure_take_value (line, "to-left", &classes);
      g_value_take_boxed (&v, line);
    }
    g_value_init (&lines, GST_TYPE_ARRAY);
    gst_value_array_append_and_take_value (&lines, &v);
    gst_structure_take_value (s, "lines", &lines);
  }
}

static GstBuffer *
make_frame (guint64 i)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, W * H * 3, NULL);
  GstMaskRcnnInstanceInit in[3];
  GstBuffer *masks[3];
  guint n = (guint) (i % 4), j;

  gst_buffer_memset (buf, 0, (guint8) i, W * H * 3);
  GST_BUFFER_PTS (buf) = i * FRAME_NS;
  GST_BUFFER_DURATION (buf) = FRAME_NS;
  for (j = 0; j < n; j++) {
    GstMapInfo map;
    gint x, y, w, h, mx, my;

    instance_box (i, j, &x, &y, &w, &h);
    masks[j] = gst_buffer_new_allocate (NULL, (gsize) w * h, NULL);
    gst_buffer_map (masks[j], &map, GST_MAP_WRITE);
    for (my = 0; my < h; my++)
      for (mx = 0; mx < w; mx++)
        map.data[my * w + mx] = instance_mask_at (i, j, mx, my) ? 255 : 0;
    gst_buffer_unmap (masks[j], &map);
    in[j] = (GstMaskRcnnInstanceInit) {
    .label = labels[j],.class_id = (gint) j + 1,.confidence =
          0.5 + 0.125 * j,.x = x,.y = y,.width = w,.height = h,.mask =
          masks[j],.mask_width = w,.mask_height = h};
  }
  fail_unless (gst_maskrcnn_buffer_add_instances (buf, in, n));
  for (j = 0; j < n; j++)
    gst_buffer_unref (masks[j]);
  if (tracked_frames)
    add_tracks (buf, i);
  return buf;
}

/* ------------------------------------------------------------ documents */

/* pycocotools' rleFrString: the compressed string back to run lengths. */
static guint32 *
rle_from_string (const gchar * s, gsize * n_out)
{
  GArray *counts = g_array_new (FALSE, FALSE, sizeof (guint32));
  gsize p = 0, m = 0;

  while (s[p]) {
    gint64 x = 0;
    gint k = 0, more = 1, c = 0;

    while (more) {
      fail_unless (s[p] != '\0', "RLE string ends inside a count");
      c = s[p] - 48;
      x |= (gint64) (c & 0x1f) << (5 * k);
      more = c & 0x20;
      p++;
      k++;
      if (!more && (c & 0x10))
        x |= -((gint64) 1 << (5 * k));
    }
    if (m > 2)
      x += g_array_index (counts, guint32, m - 2);
    fail_unless (x >= 0, "negative run length");
    g_array_append_val (counts, x);
    m++;
  }
  *n_out = m;
  return (guint32 *) g_array_free (counts, FALSE);
}

/* Decodes the document's mask (column-major runs, starting outside) and
 * compares it with the frame mask the instance must have. */
static void
check_mask (JsonObject * mask, guint64 i, guint j)
{
  JsonArray *size = json_object_get_array_member (mask, "size");
  const gchar *s = json_object_get_string_member (mask, "counts");
  guint8 *decoded = g_malloc0 (W * H);
  guint32 *counts;
  gsize n, k, pos = 0, inside = 0, expected = 0;
  gint x, y, w, h, px, py;

  fail_unless_equals_int (json_array_get_length (size), 2);
  fail_unless_equals_int (json_array_get_int_element (size, 0), H);
  fail_unless_equals_int (json_array_get_int_element (size, 1), W);
  counts = rle_from_string (s, &n);
  for (k = 0; k < n; k++) {
    fail_unless (pos + counts[k] <= W * H, "runs past the mask's end");
    if (k % 2)
      for (gsize q = pos; q < pos + counts[k]; q++)
        decoded[(q % H) * W + q / H] = 1;     /* column major */
    pos += counts[k];
  }
  fail_unless_equals_int (pos, W * H);

  instance_box (i, j, &x, &y, &w, &h);
  for (py = 0; py < H; py++)
    for (px = 0; px < W; px++) {
      gboolean in = px >= x && px < x + w && py >= y && py < y + h &&
          instance_mask_at (i, j, px - x, py - y);
      fail_unless_equals_int (decoded[py * W + px], in);
      inside += decoded[py * W + px];
      expected += in;
    }
  fail_unless (inside == expected && inside > 0);
  g_free (counts);
  g_free (decoded);
}

/* Checks one document against the frame its number names; returns that
 * number. */
static guint64
check_document (const gchar * text, const gchar * source_id,
    gboolean with_masks)
{
  JsonParser *parser = json_parser_new ();
  GError *err = NULL;
  JsonObject *doc;
  JsonArray *dets;
  guint64 i;
  guint j, n;

  fail_unless (json_parser_load_from_data (parser, text, -1, &err),
      "not JSON (%s): %s", err ? err->message : "", text);
  doc = json_node_get_object (json_parser_get_root (parser));
  fail_unless (doc != NULL);
  fail_unless_equals_string (json_object_get_string_member (doc,
          "source_id"), source_id);
  i = (guint64) json_object_get_int_member (doc, "frame");
  fail_unless_equals_uint64 (json_object_get_int_member (doc, "pts"),
      i * FRAME_NS);
  fail_unless_equals_int (json_object_get_int_member (doc, "width"), W);
  fail_unless_equals_int (json_object_get_int_member (doc, "height"), H);
  dets = json_object_get_array_member (doc, "detections");
  n = json_array_get_length (dets);
  fail_unless_equals_int (n, i % 4);
  for (j = 0; j < n; j++) {
    JsonObject *d = json_array_get_object_element (dets, j);
    JsonArray *box = json_object_get_array_member (d, "box");
    gint x, y, w, h;

    instance_box (i, j, &x, &y, &w, &h);
    fail_unless_equals_string (json_object_get_string_member (d, "label"),
        labels[j]);
    fail_unless_equals_int (json_object_get_int_member (d, "class_id"),
        j + 1);
    fail_unless_equals_float (json_object_get_double_member (d, "score"),
        0.5 + 0.125 * j);
    fail_unless_equals_int (json_array_get_length (box), 4);
    fail_unless_equals_float (json_array_get_double_element (box, 0), x);
    fail_unless_equals_float (json_array_get_double_element (box, 1), y);
    fail_unless_equals_float (json_array_get_double_element (box, 2), x + w);
    fail_unless_equals_float (json_array_get_double_element (box, 3), y + h);
    fail_unless (!json_object_get_boolean_member (d, "stale"));
    fail_unless_equals_int (json_object_get_int_member (d, "age"), 0);
    fail_unless_equals_uint64 (json_object_get_int_member (d, "track_id"),
        tracked_frames ? track_id_of (i, j) : 0);
    if (with_masks)
      check_mask (json_object_get_object_member (d, "mask"), i, j);
    else
      fail_if (json_object_has_member (d, "mask"));
  }
  if (tracked_frames && i % 2 == 0) {
    JsonObject *counts = json_object_get_object_member (doc, "counts");
    JsonArray *lines = json_object_get_array_member (counts, "lines");
    JsonObject *line = json_array_get_object_element (lines, 0);
    JsonArray *left = json_object_get_array_member (line, "to_left");
    JsonObject *c = json_array_get_object_element (left, 0);

    fail_unless_equals_int (json_array_get_length (lines), 1);
    fail_unless_equals_string (json_object_get_string_member (line, "name"),
        "door");
    fail_unless_equals_float (json_object_get_double_member (line, "x1"),
        1.5);
    fail_unless_equals_string (json_object_get_string_member (c, "label"),
        "circle");
    fail_unless_equals_int (json_object_get_int_member (c, "class_id"), 1);
    fail_unless_equals_uint64 (json_object_get_int_member (c, "count"), i);
  } else {
    fail_if (json_object_has_member (doc, "counts"));
  }
  g_object_unref (parser);
  return i;
}

static guint64
get_u64 (GstElement * e, const gchar * name)
{
  guint64 v = 0;
  g_object_get (e, name, &v, NULL);
  return v;
}

/* Pushes frames first..last through the harness; each comes out as the
 * same buffer, untouched (pass-through). */
static void
push_frames (GstHarness * h, guint64 first, guint64 last, guint sleep_ms)
{
  for (guint64 i = first; i <= last; i++) {
    GstBuffer *in = make_frame (i), *out;
    guint8 last_byte = (guint8) i;

    gst_buffer_ref (in);
    fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
    out = gst_harness_pull (h);
    fail_unless (out == in, "the buffer was not passed through as is");
    fail_unless_equals_int (gst_maskrcnn_buffer_get_n_instances (out),
        i % 4);
    fail_unless (gst_buffer_memcmp (out, W * H * 3 - 1, &last_byte, 1) == 0);
    gst_buffer_unref (out);
    gst_buffer_unref (in);
    if (sleep_ms)
      g_usleep (sleep_ms * 1000);
  }
}

static gchar *
caps_string (void)
{
  return test_caps_string ("RGB", W, H);
}

/* ------------------------------------------------------------ file */

static void
run_file (gboolean with_masks)
{
  gchar *dir = g_dir_make_tmp ("publish-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  GstElement *e = gst_element_factory_make ("maskrcnnpublish", NULL);
  GstHarness *h;
  gchar *caps = caps_string (), *contents = NULL, **lines;
  guint k, n_lines = 0;

  fail_unless (e != NULL);
  g_object_set (e, "location", path, "source-id", "camera-7",
      "include-masks", with_masks, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);

  gst_harness_set_src_caps_str (h, caps);
  push_frames (h, 0, 39, 0);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));

  /* EOS waits for the worker: every line is in the file now. */
  fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
  fail_unless (g_str_has_suffix (contents, "\n"));
  lines = g_strsplit (contents, "\n", -1);
  for (k = 0; lines[k] && *lines[k]; k++) {
    fail_unless_equals_uint64 (check_document (lines[k], "camera-7",
            with_masks), k);
    n_lines++;
  }
  fail_unless_equals_int (n_lines, 40);
  fail_unless (lines[k] && !*lines[k] && !lines[k + 1]);
  fail_unless_equals_uint64 (get_u64 (h->element, "published"), 40);
  fail_unless_equals_uint64 (get_u64 (h->element, "dropped"), 0);

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

/* Track ids and counts, as maskrcnntrack and maskrcnncount leave them. */
GST_START_TEST (test_file_tracks_and_counts)
{
  tracked_frames = TRUE;
  run_file (FALSE);
  tracked_frames = FALSE;
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
GST_START_TEST (test_file_write_error)
{
  GstElement *e = gst_element_factory_make ("maskrcnnpublish", NULL);
  GstBus *bus;
  GstHarness *h;
  GstMessage *msg;
  GError *err = NULL;
  gchar *caps = caps_string (), *debug = NULL;
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
    ret = gst_harness_push (h, make_frame (i));
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
  GstElement *e = gst_parse_launch (desc, NULL);
  GstMessage *msg;
  GError *err = NULL;
  gchar *debug = NULL, *all;

  fail_unless (e != NULL);
  msg = test_expect_start_error (e);
  gst_message_parse_error (msg, &err, &debug);
  fail_unless (err->domain == domain && err->code == code,
      "%s: got %s %d: %s", desc, g_quark_to_string (err->domain), err->code,
      err->message);
  all = g_strdup_printf ("%s %s", err->message, GST_STR_NULL (debug));
  fail_unless (strstr (all, text) != NULL, "%s: \"%s\" lacks \"%s\"", desc,
      all, text);
  g_free (all);
  g_free (debug);
  g_error_free (err);
  gst_message_unref (msg);
  gst_object_unref (e);
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

/* ------------------------------------------------------------ broker */

typedef struct {
  gint port;
  gchar *dir, *conf;
  GSubprocess *proc;
} Broker;

static gint
free_port (void)
{
  struct sockaddr_in a = { 0 };
  socklen_t len = sizeof a;
  gint fd = socket (AF_INET, SOCK_STREAM, 0), port;

  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fail_unless (fd >= 0 && bind (fd, (struct sockaddr *) &a, sizeof a) == 0 &&
      getsockname (fd, (struct sockaddr *) &a, &len) == 0);
  port = ntohs (a.sin_port);
  close (fd);
  return port;
}

static gboolean
port_open (gint port)
{
  struct sockaddr_in a = { 0 };
  gint fd = socket (AF_INET, SOCK_STREAM, 0);
  gboolean ok;

  a.sin_family = AF_INET;
  a.sin_port = htons (port);
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  ok = connect (fd, (struct sockaddr *) &a, sizeof a) == 0;
  close (fd);
  return ok;
}

static gchar *
mosquitto_binary (void)
{
  gchar *path = g_find_program_in_path ("mosquitto");

  if (!path && g_file_test ("/usr/sbin/mosquitto", G_FILE_TEST_IS_EXECUTABLE))
    path = g_strdup ("/usr/sbin/mosquitto");
  fail_unless (path != NULL, "the mosquitto broker is not installed "
      "(Debian package mosquitto; tools/setup.sh installs it)");
  return path;
}

static void
broker_start (Broker * b)
{
  gchar *bin = mosquitto_binary ();
  GError *err = NULL;
  gint64 deadline;

  if (!b->conf) {
    gchar *text;

    b->dir = g_dir_make_tmp ("mosquitto-XXXXXX", NULL);
    b->conf = g_build_filename (b->dir, "mosquitto.conf", NULL);
    text = g_strdup_printf ("listener %d 127.0.0.1\nallow_anonymous true\n"
        "persistence false\n", b->port);
    fail_unless (g_file_set_contents (b->conf, text, -1, NULL));
    g_free (text);
  }
  b->proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
      G_SUBPROCESS_FLAGS_STDERR_SILENCE, &err, bin, "-c", b->conf, NULL);
  fail_unless (b->proc != NULL, "cannot start %s: %s", bin,
      err ? err->message : "");
  deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  while (!port_open (b->port)) {
    /* The identifier goes once the process has ended. */
    fail_if (g_subprocess_get_identifier (b->proc) == NULL ||
        g_get_monotonic_time () > deadline,
        "mosquitto did not listen on 127.0.0.1:%d", b->port);
    g_usleep (20000);
  }
  g_free (bin);
}

static void
broker_stop (Broker * b)
{
  g_subprocess_send_signal (b->proc, SIGTERM);
  fail_unless (g_subprocess_wait (b->proc, NULL, NULL));
  g_clear_object (&b->proc);
}

static void
broker_free (Broker * b)
{
  if (b->proc)
    broker_stop (b);
  g_unlink (b->conf);
  g_rmdir (b->dir);
  g_free (b->conf);
  g_free (b->dir);
}

/* A subscriber on its own libmosquitto thread: every payload goes to a
 * queue; it subscribes again after each reconnect. */
typedef struct {
  struct mosquitto *mosq;
  GAsyncQueue *messages;
  gint subscribed;              /* atomic */
  const gchar *topic;
} Subscriber;

static void
sub_on_connect (struct mosquitto *m, void *data, int rc)
{
  Subscriber *s = data;

  if (rc == 0)
    mosquitto_subscribe (m, NULL, s->topic, 1);
}

static void
sub_on_subscribe (struct mosquitto *m, void *data, int mid, int n,
    const int *granted)
{
  g_atomic_int_set (&((Subscriber *) data)->subscribed, 1);
}

static void
sub_on_disconnect (struct mosquitto *m, void *data, int rc)
{
  g_atomic_int_set (&((Subscriber *) data)->subscribed, 0);
}

static void
sub_on_message (struct mosquitto *m, void *data,
    const struct mosquitto_message *msg)
{
  Subscriber *s = data;

  g_async_queue_push (s->messages, g_strndup (msg->payload, msg->payloadlen));
}

static void
wait_until (gboolean (*cond) (gpointer), gpointer data, gint seconds,
    const gchar * what)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_TIME_SPAN_SECOND;

  while (!cond (data)) {
    fail_if (g_get_monotonic_time () > deadline, "timed out waiting for %s",
        what);
    g_usleep (20000);
  }
}

static gboolean
is_subscribed (gpointer data)
{
  return g_atomic_int_get (&((Subscriber *) data)->subscribed);
}

static gboolean
is_connected (gpointer data)
{
  gboolean c = FALSE;
  g_object_get (data, "connected", &c, NULL);
  return c;
}

static gboolean
is_disconnected (gpointer data)
{
  return !is_connected (data);
}

static gboolean
all_acknowledged (gpointer data)
{
  return get_u64 (data, "published") >= 20;
}

static void
subscriber_start (Subscriber * s, gint port, const gchar * topic)
{
  mosquitto_lib_init ();
  s->topic = topic;
  s->messages = g_async_queue_new_full (g_free);
  s->mosq = mosquitto_new ("test-subscriber", TRUE, s);
  mosquitto_connect_callback_set (s->mosq, sub_on_connect);
  mosquitto_subscribe_callback_set (s->mosq, sub_on_subscribe);
  mosquitto_disconnect_callback_set (s->mosq, sub_on_disconnect);
  mosquitto_message_callback_set (s->mosq, sub_on_message);
  mosquitto_reconnect_delay_set (s->mosq, 1, 1, FALSE);
  fail_unless_equals_int (mosquitto_connect (s->mosq, "127.0.0.1", port, 30),
      MOSQ_ERR_SUCCESS);
  fail_unless_equals_int (mosquitto_loop_start (s->mosq), MOSQ_ERR_SUCCESS);
  wait_until (is_subscribed, s, 10, "the subscription");
}

static void
subscriber_stop (Subscriber * s)
{
  mosquitto_disconnect (s->mosq);
  mosquitto_loop_stop (s->mosq, FALSE);
  mosquitto_destroy (s->mosq);
  g_async_queue_unref (s->messages);
}

/* Receives documents until one of frame `last` came; checks each and
 * records its frame number. */
static void
receive_until (Subscriber * s, guint64 last, GArray * frames)
{
  for (;;) {
    gchar *text = g_async_queue_timeout_pop (s->messages,
        20 * G_TIME_SPAN_SECOND);
    guint64 f;

    fail_unless (text != NULL, "no document for frame %" G_GUINT64_FORMAT
        " within 20 s (%u received)", last, frames->len);
    f = check_document (text, "stream-a", TRUE);
    g_free (text);
    g_array_append_val (frames, f);
    if (f == last)
      return;
  }
}

static gboolean
received (GArray * frames, guint64 f)
{
  for (guint k = 0; k < frames->len; k++)
    if (g_array_index (frames, guint64, k) == f)
      return TRUE;
  return FALSE;
}

static GstHarness *
mqtt_harness (gint port, guint max_queue, gint qos, GstBus ** bus)
{
  GstElement *e = gst_element_factory_make ("maskrcnnpublish", NULL);
  gchar *address = g_strdup_printf ("127.0.0.1:%d", port), *caps;
  GstHarness *h;

  fail_unless (e != NULL);
  g_object_set (e, "source-id", "stream-a", "address", address,
      "topic", "cameras/a", "qos", qos, "client-id", "test-publisher",
      "max-queue", max_queue, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "method", "mqtt");
  /* A bus before start, to catch what start posts. */
  *bus = test_attach_bus (e);
  h = gst_harness_new_with_element (e, "sink", "src");
  caps = caps_string ();
  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
  g_free (address);
  gst_object_unref (e);
  return h;
}

/* Every document arrives while the broker is up; the broker goes down and
 * comes back on the same port mid-stream; the element reconnects and the
 * documents resume, in order, with nothing crashing. */
GST_START_TEST (test_mqtt_restart)
{
  Broker b = {.port = free_port () };
  Subscriber s = { 0 };
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (guint64));
  GstHarness *h;
  GstBus *bus;
  guint k;

  broker_start (&b);
  subscriber_start (&s, b.port, "cameras/a");
  h = mqtt_harness (b.port, 1000, 1, &bus);
  wait_until (is_connected, h->element, 10, "the publisher's connection");

  push_frames (h, 0, 19, 5);
  receive_until (&s, 19, frames);
  fail_unless_equals_int (frames->len, 20);
  /* Every PUBACK in, so that libmosquitto has nothing to resend after the
   * restart (which would repeat a frame). */
  wait_until (all_acknowledged, h->element, 10, "the acknowledgements");

  broker_stop (&b);
  wait_until (is_disconnected, h->element, 10, "the lost connection");
  push_frames (h, 20, 24, 5);   /* queued while the broker is away */
  broker_start (&b);
  wait_until (is_connected, h->element, 20, "the publisher's reconnection");
  wait_until (is_subscribed, &s, 20, "the subscriber's reconnection");
  push_frames (h, 25, 44, 5);
  receive_until (&s, 44, frames);

  /* 0..19 before, 25..44 after; 20..24 went out on reconnection, possibly
   * before the subscriber was back. In order throughout. */
  for (k = 0; k <= 44; k++)
    fail_unless (k >= 20 && k < 25 ? TRUE : received (frames, k),
        "frame %u never arrived", k);
  for (k = 1; k < frames->len; k++)
    fail_unless (g_array_index (frames, guint64, k) >
        g_array_index (frames, guint64, k - 1), "documents out of order");
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless (get_u64 (h->element, "published") >= 40);
  fail_unless_equals_uint64 (get_u64 (h->element, "dropped"), 0);

  /* The loss of the connection was reported as a warning. */
  {
    GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
    GError *err = NULL;

    fail_unless (msg != NULL, "no warning about the lost broker");
    gst_message_parse_warning (msg, &err, NULL);
    fail_unless (strstr (err->message, "Lost the connection") != NULL,
        "%s", err->message);
    g_error_free (err);
    gst_message_unref (msg);
  }

  gst_harness_teardown (h);
  gst_object_unref (bus);
  subscriber_stop (&s);
  broker_free (&b);
  g_array_free (frames, TRUE);
}

GST_END_TEST;

/* No broker at start: a warning, not an error; frames queue up to
 * max-queue and the oldest are dropped (counted, warned about); when the
 * broker comes up the element connects and sends what it kept. */
GST_START_TEST (test_mqtt_unreachable_then_up)
{
  Broker b = {.port = free_port () };
  GstHarness *h;
  GstBus *bus;
  GstMessage *msg;
  GError *err = NULL;
  gint64 deadline;
  gboolean saw_unreachable = FALSE, saw_drop = FALSE;

  h = mqtt_harness (b.port, 3, 0, &bus);
  fail_if (is_connected (h->element));
  push_frames (h, 0, 9, 0);
  fail_unless_equals_uint64 (get_u64 (h->element, "dropped"), 7);
  fail_unless_equals_uint64 (get_u64 (h->element, "published"), 0);

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING))) {
    gst_message_parse_warning (msg, &err, NULL);
    saw_unreachable |= strstr (err->message, "unreachable") != NULL;
    saw_drop |= strstr (err->message, "Dropping") != NULL;
    g_clear_error (&err);
    gst_message_unref (msg);
  }
  fail_unless (saw_unreachable, "no warning about the unreachable broker");
  fail_unless (saw_drop, "no warning about the drops");
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg == NULL, "an error was posted");

  broker_start (&b);
  wait_until (is_connected, h->element, 30, "the connection");
  deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  while (get_u64 (h->element, "published") < 3) {
    fail_if (g_get_monotonic_time () > deadline, "the kept frames were not "
        "sent");
    g_usleep (20000);
  }
  fail_unless_equals_uint64 (get_u64 (h->element, "published"), 3);
  fail_unless_equals_uint64 (get_u64 (h->element, "dropped"), 7);

  gst_harness_teardown (h);
  gst_object_unref (bus);
  broker_free (&b);
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
  tcase_add_test (tc, test_mqtt_restart);
  tcase_add_test (tc, test_mqtt_unreachable_then_up);
  return s;
}

GST_CHECK_MAIN (publish);
