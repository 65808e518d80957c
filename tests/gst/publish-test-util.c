/* Helpers of the maskrcnnpublish tests: see publish-test-util.h. */
#include "publish-test-util.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <json-glib/json-glib.h>

#include <gst/maskrcnn-meta.h>

#include "gst-test-util.h"

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

gboolean pt_tracked_frames;

/* With tracks: instance j of frame i has track id i * 10 + j + 1 (j = 1:
 * untracked, 0), as maskrcnntrack writes it, and even frames carry
 * maskrcnncount's counts meta with one line crossed i times. */
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

GstBuffer *
pt_make_frame (guint64 i)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, PT_W * PT_H * 3, NULL);
  GstMaskRcnnInstanceInit in[3];
  GstBuffer *masks[3];
  guint n = (guint) (i % 4), j;

  gst_buffer_memset (buf, 0, (guint8) i, PT_W * PT_H * 3);
  GST_BUFFER_PTS (buf) = i * PT_FRAME_NS;
  GST_BUFFER_DURATION (buf) = PT_FRAME_NS;
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
  if (pt_tracked_frames)
    add_tracks (buf, i);
  return buf;
}

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
  guint8 *decoded = g_malloc0 (PT_W * PT_H);
  guint32 *counts;
  gsize n, k, pos = 0, inside = 0, expected = 0;
  gint x, y, w, h, px, py;

  fail_unless_equals_int (json_array_get_length (size), 2);
  fail_unless_equals_int (json_array_get_int_element (size, 0), PT_H);
  fail_unless_equals_int (json_array_get_int_element (size, 1), PT_W);
  counts = rle_from_string (s, &n);
  for (k = 0; k < n; k++) {
    fail_unless (pos + counts[k] <= PT_W * PT_H, "runs past the mask's end");
    if (k % 2)
      for (gsize q = pos; q < pos + counts[k]; q++)
        decoded[(q % PT_H) * PT_W + q / PT_H] = 1;      /* column major */
    pos += counts[k];
  }
  fail_unless_equals_int (pos, PT_W * PT_H);

  instance_box (i, j, &x, &y, &w, &h);
  for (py = 0; py < PT_H; py++)
    for (px = 0; px < PT_W; px++) {
      gboolean in = px >= x && px < x + w && py >= y && py < y + h &&
          instance_mask_at (i, j, px - x, py - y);
      fail_unless_equals_int (decoded[py * PT_W + px], in);
      inside += decoded[py * PT_W + px];
      expected += in;
    }
  fail_unless (inside == expected && inside > 0);
  g_free (counts);
  g_free (decoded);
}

void
pt_check_strict_json (const gchar * text)
{
  JsonParser *parser = json_parser_new ();
  GError *err = NULL;

  /* json-glib itself accepts raw control characters in strings; strict
   * parsers (Python's json, browsers) do not. */
  fail_unless (g_utf8_validate (text, -1, NULL), "not UTF-8: %s", text);
  for (const gchar * p = text; *p; p++)
    fail_unless ((guchar) * p >= 0x20, "raw control character 0x%02x at "
        "offset %d", (guint) (guchar) * p, (gint) (p - text));
  fail_unless (json_parser_load_from_data (parser, text, -1, &err),
      "not JSON (%s): %s", err ? err->message : "", text);
  g_object_unref (parser);
}

guint64
pt_check_document (const gchar * text, const gchar * source_id,
    gboolean with_masks)
{
  JsonParser *parser = json_parser_new ();
  GError *err = NULL;
  JsonObject *doc;
  JsonArray *dets;
  guint64 i;
  guint j, n;

  pt_check_strict_json (text);
  fail_unless (json_parser_load_from_data (parser, text, -1, &err),
      "not JSON (%s): %s", err ? err->message : "", text);
  doc = json_node_get_object (json_parser_get_root (parser));
  fail_unless (doc != NULL);
  fail_unless_equals_string (json_object_get_string_member (doc,
          "source_id"), source_id);
  i = (guint64) json_object_get_int_member (doc, "frame");
  fail_unless_equals_uint64 (json_object_get_int_member (doc, "pts"),
      i * PT_FRAME_NS);
  fail_unless_equals_int (json_object_get_int_member (doc, "width"), PT_W);
  fail_unless_equals_int (json_object_get_int_member (doc, "height"), PT_H);
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
        pt_tracked_frames ? track_id_of (i, j) : 0);
    if (with_masks)
      check_mask (json_object_get_object_member (d, "mask"), i, j);
    else
      fail_if (json_object_has_member (d, "mask"));
  }
  if (pt_tracked_frames && i % 2 == 0) {
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

guint64
pt_get_u64 (GstElement * e, const gchar * name)
{
  guint64 v = 0;
  g_object_get (e, name, &v, NULL);
  return v;
}

void
pt_push_frames (GstHarness * h, guint64 first, guint64 last, guint sleep_ms)
{
  for (guint64 i = first; i <= last; i++) {
    GstBuffer *in = pt_make_frame (i), *out;
    guint8 last_byte = (guint8) i;

    gst_buffer_ref (in);
    fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
    out = gst_harness_pull (h);
    fail_unless (out == in, "the buffer was not passed through as is");
    fail_unless_equals_int (gst_maskrcnn_buffer_get_n_instances (out),
        i % 4);
    fail_unless (gst_buffer_memcmp (out, PT_W * PT_H * 3 - 1, &last_byte,
            1) == 0);
    gst_buffer_unref (out);
    gst_buffer_unref (in);
    if (sleep_ms)
      g_usleep (sleep_ms * 1000);
  }
}

gchar *
pt_caps_string (void)
{
  return test_caps_string ("RGB", PT_W, PT_H);
}

void
pt_wait_until (gboolean (*cond) (gpointer), gpointer data, gint seconds,
    const gchar * what)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_TIME_SPAN_SECOND;

  while (!cond (data)) {
    fail_if (g_get_monotonic_time () > deadline, "timed out waiting for %s",
        what);
    g_usleep (20000);
  }
}

gboolean
pt_is_connected (gpointer element)
{
  gboolean c = FALSE;
  g_object_get (element, "connected", &c, NULL);
  return c;
}

gboolean
pt_is_disconnected (gpointer element)
{
  return !pt_is_connected (element);
}

static gboolean
message_holds (GstMessage * msg, GstMessageType type, const gchar * text)
{
  GError *err = NULL;
  gboolean holds;

  if (GST_MESSAGE_TYPE (msg) != type)
    return FALSE;
  if (type == GST_MESSAGE_ERROR)
    gst_message_parse_error (msg, &err, NULL);
  else if (type == GST_MESSAGE_WARNING)
    gst_message_parse_warning (msg, &err, NULL);
  else
    return TRUE;
  holds = strstr (err->message, text) != NULL;
  g_error_free (err);
  return holds;
}

GList *
pt_bus_take (GstBus * bus, GstMessageType type, const gchar * text,
    gint seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_TIME_SPAN_SECOND;
  gboolean found = type == 0;
  GList *msgs = NULL;
  GstMessage *msg;

  for (;;) {
    msg = gst_bus_pop (bus);
    if (!msg && !found && g_get_monotonic_time () < deadline)
      msg = gst_bus_timed_pop (bus, 50 * GST_MSECOND);
    if (!msg) {
      if (found || g_get_monotonic_time () >= deadline)
        break;
      continue;
    }
    found |= message_holds (msg, type, text);
    msgs = g_list_append (msgs, msg);
  }
  return msgs;
}

guint
pt_messages_count (GList * msgs, GstMessageType type, const gchar * text)
{
  guint n = 0;

  for (GList * l = msgs; l; l = l->next)
    n += message_holds (l->data, type, text);
  return n;
}

gchar *
pt_expect_start_error (const gchar * desc, GQuark domain, gint code,
    const gchar * text)
{
  GstElement *e = gst_parse_launch (desc, NULL);
  GstMessage *msg;
  GError *err = NULL;
  gchar *debug = NULL, *all;

  fail_unless (e != NULL, "%s", desc);
  msg = test_expect_start_error (e);
  gst_message_parse_error (msg, &err, &debug);
  fail_unless (err->domain == domain && err->code == code,
      "%s: got %s %d: %s", desc, g_quark_to_string (err->domain), err->code,
      err->message);
  all = g_strdup_printf ("%s %s", err->message, GST_STR_NULL (debug));
  fail_unless (strstr (all, text) != NULL, "%s: \"%s\" lacks \"%s\"", desc,
      all, text);
  g_free (debug);
  g_error_free (err);
  gst_message_unref (msg);
  gst_object_unref (e);
  return all;
}

/* ------------------------------------------------------------ broker */

gint
pt_free_port (void)
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

static gchar *
broker_log_text (Broker * b)
{
  gchar *text = NULL;

  if (!g_file_get_contents (b->log, &text, NULL, NULL))
    text = g_strdup ("(no log)");
  return text;
}

/* Whether the broker process has ended (and reaps it then). */
static gboolean
broker_ended (Broker * b)
{
  gint status;

  if (waitpid (b->pid, &status, WNOHANG) == b->pid) {
    g_spawn_close_pid (b->pid);
    b->pid = 0;
    return TRUE;
  }
  return FALSE;
}

void
broker_start (Broker * b)
{
  gchar *bin = mosquitto_binary ();
  const gchar *argv[] = { bin, "-c", NULL, NULL };
  GError *err = NULL;
  gint64 deadline;
  gint log_fd;

  if (!b->conf) {
    b->dir = g_dir_make_tmp ("mosquitto-XXXXXX", NULL);
    b->conf = g_build_filename (b->dir, "mosquitto.conf", NULL);
    b->log = g_build_filename (b->dir, "mosquitto.log", NULL);
    if (!b->conf_text)
      b->conf_text = g_strdup_printf ("listener %d 127.0.0.1\n"
          "allow_anonymous true\n", b->port);
    fail_unless (g_file_set_contents (b->conf, b->conf_text, -1, NULL));
  }
  argv[2] = b->conf;
  /* The log on stderr, appended to a file: kept for the test's checks and
   * messages. */
  log_fd = open (b->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  fail_unless (log_fd >= 0);
  fail_unless (g_spawn_async_with_fds (NULL, (gchar **) argv, NULL,
          G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &b->pid, -1, -1, log_fd,
          &err), "cannot start %s: %s", bin, err ? err->message : "");
  close (log_fd);
  deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  for (guint k = 0; k == 0 || b->ports[k - 1]; k++) {
    gint port = k == 0 ? b->port : b->ports[k - 1];

    while (!port_open (port)) {
      if (broker_ended (b) || g_get_monotonic_time () > deadline) {
        gchar *log = broker_log_text (b);

        fail ("mosquitto did not listen on 127.0.0.1:%d; its log:\n%s",
            port, log);
        g_free (log);
      }
      g_usleep (20000);
    }
  }
  g_free (bin);
}

void
broker_stop (Broker * b)
{
  gint status;

  fail_unless (b->pid > 0 && kill (b->pid, SIGTERM) == 0);
  fail_unless (waitpid (b->pid, &status, 0) == b->pid);
  g_spawn_close_pid (b->pid);
  b->pid = 0;
}

void
broker_free (Broker * b)
{
  if (b->pid > 0)
    broker_stop (b);
  if (b->dir) {
    g_unlink (b->conf);
    g_unlink (b->log);
    g_rmdir (b->dir);
  }
  g_free (b->conf);
  g_free (b->log);
  g_free (b->dir);
  g_free (b->conf_text);
}

guint
broker_log_count (Broker * b, const gchar * text)
{
  gchar *log = broker_log_text (b), **lines = g_strsplit (log, "\n", -1);
  guint n = 0;

  for (guint k = 0; lines[k]; k++)
    n += strstr (lines[k], text) != NULL;
  g_strfreev (lines);
  g_free (log);
  return n;
}

/* The sanitizer runtime (`name`: "asan", "tsan") this process runs with
 * (tests/sanitize.sh's builds), or NULL. New string. */
static gchar *
sanitizer_runtime (const gchar * name)
{
  gchar *maps = NULL, *path = NULL, *at, *lib = g_strdup_printf ("/lib%s.so",
      name);

  if (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL) &&
      (at = strstr (maps, lib))) {
    gchar *start = at, *end = strchr (at, '\n');

    while (start > maps && start[-1] != ' ')
      start--;
    path = g_strndup (start, end ? end - start : (gssize) strlen (start));
  }
  g_free (maps);
  g_free (lib);
  return path;
}

/* When this process runs under the sanitizer `name`, a child gets its
 * runtime first, and `extra` in its options variable `options_var`. */
static gchar **
preload_runtime (gchar ** envp, const gchar * name,
    const gchar * options_var, const gchar * extra)
{
  gchar *lib = sanitizer_runtime (name), *opts;
  const gchar *old = g_environ_getenv (envp, options_var);

  if (!lib)
    return envp;
  opts = g_strdup_printf ("%s:%s", old ? old : "", extra);
  envp = g_environ_setenv (envp, "LD_PRELOAD", lib, TRUE);
  envp = g_environ_setenv (envp, options_var, opts, TRUE);
  g_free (opts);
  g_free (lib);
  return envp;
}

gint
pt_run (const gchar * const *argv, const gchar * cwd,
    const gchar * const *env, gchar ** out, gchar ** err_text)
{
  gchar **envp = g_get_environ ();
  GError *err = NULL;
  gint status = 0;

  /* Under a sanitizer the plugin is instrumented: a GStreamer tool that
   * loads it needs the runtime first. Under ThreadSanitizer that is the
   * runtime itself, not the test's GLib shim (which kills an uninstrumented
   * program), so every GMutex looks unlocked to it: the tool's races are
   * not looked at, the in-process tests look at ours. The leaks of an
   * uninstrumented program are not looked at either. */
  envp = preload_runtime (envp, "tsan", "TSAN_OPTIONS", "report_bugs=0");
  envp = preload_runtime (envp, "asan", "ASAN_OPTIONS", "detect_leaks=0");
  for (guint k = 0; env && env[k]; k += 2)
    envp = g_environ_setenv (envp, env[k], env[k + 1], TRUE);
  fail_unless (g_spawn_sync (cwd, (gchar **) argv, envp,
          G_SPAWN_SEARCH_PATH | (out ? 0 : G_SPAWN_STDOUT_TO_DEV_NULL) |
          (err_text ? 0 : G_SPAWN_STDERR_TO_DEV_NULL), NULL, NULL, out,
          err_text, &status, &err), "cannot run %s: %s", argv[0],
      err ? err->message : "");
  g_strfreev (envp);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

/* ------------------------------------------------------------ subscriber */

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

  /* Under the lock that subscriber_stop() takes after the thread ended:
   * ThreadSanitizer does not see libmosquitto join its thread. */
  g_mutex_lock (&s->lock);
  g_async_queue_push (s->messages, g_strndup (msg->payload, msg->payloadlen));
  g_mutex_unlock (&s->lock);
}

gboolean
pt_is_subscribed (gpointer data)
{
  return g_atomic_int_get (&((Subscriber *) data)->subscribed);
}

void
subscriber_start (Subscriber * s, gint port, const gchar * topic)
{
  mosquitto_lib_init ();
  g_mutex_init (&s->lock);
  s->topic = topic;
  s->messages = g_async_queue_new_full (g_free);
  s->mosq = mosquitto_new (NULL, TRUE, s);
  mosquitto_connect_callback_set (s->mosq, sub_on_connect);
  mosquitto_subscribe_callback_set (s->mosq, sub_on_subscribe);
  mosquitto_disconnect_callback_set (s->mosq, sub_on_disconnect);
  mosquitto_message_callback_set (s->mosq, sub_on_message);
  mosquitto_reconnect_delay_set (s->mosq, 1, 1, FALSE);
  fail_unless_equals_int (mosquitto_connect (s->mosq, "127.0.0.1", port, 30),
      MOSQ_ERR_SUCCESS);
  fail_unless_equals_int (mosquitto_loop_start (s->mosq), MOSQ_ERR_SUCCESS);
  pt_wait_until (pt_is_subscribed, s, 10, "the subscription");
}

void
subscriber_stop (Subscriber * s)
{
  mosquitto_disconnect (s->mosq);
  mosquitto_loop_stop (s->mosq, FALSE);
  g_mutex_lock (&s->lock);
  g_mutex_unlock (&s->lock);
  mosquitto_destroy (s->mosq);
  g_async_queue_unref (s->messages);
  g_mutex_clear (&s->lock);
}

gchar *
subscriber_pop (Subscriber * s, gint seconds)
{
  return g_async_queue_timeout_pop (s->messages,
      (guint64) seconds * G_TIME_SPAN_SECOND);
}

/* ------------------------------------------------------------ runs */

GstHarness *
pt_mqtt_harness (const gchar * address, guint max_queue, gint qos,
    void (*configure) (GstElement *, gpointer), gpointer data, GstBus ** bus)
{
  GstElement *e = gst_element_factory_make ("maskrcnnpublish", NULL);
  GstHarness *h;
  gchar *caps;

  fail_unless (e != NULL);
  g_object_set (e, "source-id", "stream-a", "address", address,
      "topic", "cameras/a", "qos", qos, "client-id", "test-publisher",
      "max-queue", max_queue, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "method", "mqtt");
  if (configure)
    configure (e, data);
  /* A bus before start, to catch what start posts. */
  *bus = test_attach_bus (e);
  h = gst_harness_new_with_element (e, "sink", "src");
  caps = pt_caps_string ();
  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
  gst_object_unref (e);
  return h;
}

/* Receives documents until one of frame `last` came; checks each and
 * records its frame number. */
static void
receive_until (Subscriber * s, guint64 last, GArray * frames)
{
  for (;;) {
    gchar *text = subscriber_pop (s, 20);
    guint64 f;

    fail_unless (text != NULL, "no document for frame %" G_GUINT64_FORMAT
        " within 20 s (%u received)", last, frames->len);
    f = pt_check_document (text, "stream-a", TRUE);
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

static gboolean
all_acknowledged (gpointer data)
{
  return pt_get_u64 (data, "published") >= 20;
}

void
pt_run_broker_restart (Broker * b, const gchar * address, gint sub_port,
    void (*configure) (GstElement *, gpointer), gpointer data)
{
  Subscriber s = { 0 };
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (guint64));
  GstHarness *h;
  GstBus *bus;
  GList *msgs;
  guint k;

  subscriber_start (&s, sub_port, "cameras/a");
  h = pt_mqtt_harness (address, 1000, 1, configure, data, &bus);
  pt_wait_until (pt_is_connected, h->element, 10,
      "the publisher's connection");

  pt_push_frames (h, 0, 19, 5);
  receive_until (&s, 19, frames);
  fail_unless_equals_int (frames->len, 20);
  /* Every PUBACK in, so that libmosquitto has nothing to resend after the
   * restart (which would repeat a frame). */
  pt_wait_until (all_acknowledged, h->element, 10, "the acknowledgements");

  broker_stop (b);
  pt_wait_until (pt_is_disconnected, h->element, 10, "the lost connection");
  pt_push_frames (h, 20, 24, 5);        /* queued while the broker is away */
  broker_start (b);
  pt_wait_until (pt_is_connected, h->element, 20,
      "the publisher's reconnection");
  pt_wait_until (pt_is_subscribed, &s, 20, "the subscriber's reconnection");
  pt_push_frames (h, 25, 44, 5);
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
  fail_unless (pt_get_u64 (h->element, "published") >= 40);
  fail_unless_equals_uint64 (pt_get_u64 (h->element, "dropped"), 0);

  /* The loss of the connection was reported as a warning; no error. */
  msgs = pt_bus_take (bus, 0, NULL, 0);
  fail_unless (pt_messages_count (msgs, GST_MESSAGE_WARNING,
          "Lost the connection") > 0, "no warning about the lost broker");
  fail_unless_equals_int (pt_messages_count (msgs, GST_MESSAGE_ERROR, ""), 0);
  g_list_free_full (msgs, (GDestroyNotify) gst_message_unref);

  gst_harness_teardown (h);
  gst_object_unref (bus);
  subscriber_stop (&s);
  g_array_free (frames, TRUE);
}
