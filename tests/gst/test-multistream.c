/* Many streams, one engine, end to end: a real gst-rtsp-server on
 * 127.0.0.1 (a free port the kernel picks) serves N streams of the shipped
 * clip, and one pipeline receives them through rtspsrc (RTP over TCP, so
 * that no frame is lost) into N maskrcnn elements that share one engine
 * (the same model-instance-id) and batch frames of different streams.
 *
 *   test-gst-multistream [--files] CLIP MODEL
 *
 * --files reads each stream from the clip itself (filesrc) instead, with
 * the same lengths and checks: the element's threads are the same, and
 * rtspsrc is left out. The ThreadSanitizer run uses it: under TSan every
 * thread runs several times slower, rtspsrc's RTP sessions then time their
 * sources out, and the pipeline stalled inside GStreamer (rtpbin removing
 * pads against rtspsrc's state change) in every run tried.
 *
 * Environment: MRCNN_MULTISTREAM_STREAMS (default 4), _FRAMES (frames of
 * the longest stream, default 30), _BATCH (batch-size, default the number
 * of streams), _TIMEOUT (seconds, default 300), _SHARED (default 1; 0 gives
 * every stream an engine of its own, the peer to compare a failure with),
 * _ELEMENTS (default 1; 0 puts identity where maskrcnn was, with
 * sleep-time _SLEEP_US microseconds (default 0) per frame to stand in for
 * the engine's time, skips the reference pass and checks only frames,
 * sizes and EOS: the same receiving pipeline without our elements, to tell
 * a stall of GStreamer's RTSP receiver from one of ours,
 * docs/reliability.md), _DROP_BYE (a stream's index: the RTCP BYE that
 * announces the end of that stream is dropped on its way into rtspsrc's
 * rtpbin, so that it gets all its frames and no EOS, as in the stalled
 * runs of docs/reliability.md; unset by default), _RTP_SLEEP_US
 * (microseconds that an identity right after rtspsrc sleeps per RTP
 * packet, in the thread of rtspsrc's jitterbuffer, as a consumer that is
 * slow to take packets; default 0: no identity) and _RTP_QUEUE (default
 * 1: an unbounded queue right after rtspsrc, so that the jitterbuffer never
 * waits for what follows, the mitigation docs/reliability.md gives users
 * for GStreamer 1.22's rtpjitterbuffer losing an EOS; 0: none, the
 * receiver in which that bug shows).
 *
 * The streams have different lengths, so that some reach EOS while the
 * others still send: every stream must still deliver all of its frames.
 * Every frame of every stream is checked against a reference pass of the
 * same frames through one maskrcnn with an engine of its own: the same
 * number of frames, every frame with instances, labels of the shapes model
 * only, boxes in the frame and non-empty masks, and per frame as many
 * instances as the reference within one.
 *
 * Exits 77 (meson's SKIP) while the maskrcnn element has no
 * model-instance-id property; 0 when every check passed, 1 otherwise.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/rtp/gstrtcpbuffer.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <gst/maskrcnn-meta.h>

#define EXIT_SKIP 77
#define N_LABELS 3
static const gchar *const labels[N_LABELS] = { "circle", "square", "triangle" };

typedef struct {
  guint index;
  guint expected;               /* frames the source sends */
  /* Written by the stream's own streaming thread in the probes, read by the
   * main thread: under the lock. */
  GMutex lock;
  guint frames;
  gboolean eos;
  gboolean eos_in;              /* EOS reached the stream's maskrcnn */
  GArray *counts;               /* guint per frame: instances */
  guint instances;
  guint label_counts[N_LABELS];
  guint empty_frames;
  guint bad_instances;
  gchar *first_problem;
  gint width, height;
} Stream;

static guint failures;

static void
fail (const gchar * fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_printerr ("FAIL: ");
  vfprintf (stderr, fmt, ap);
  g_printerr ("\n");
  va_end (ap);
  failures++;
}

static guint
env_uint (const gchar * name, guint fallback)
{
  const gchar *v = g_getenv (name);
  guint64 n;

  if (v == NULL || *v == '\0')
    return fallback;
  if (!g_ascii_string_to_unsigned (v, 10, 1, 4096, &n, NULL)) {
    g_printerr ("%s=%s: expected a number 1..4096\n", name, v);
    exit (2);
  }
  return (guint) n;
}

static void
stream_init (Stream * s, guint index, guint expected)
{
  memset (s, 0, sizeof (*s));
  s->index = index;
  s->expected = expected;
  g_mutex_init (&s->lock);
  s->counts = g_array_new (FALSE, TRUE, sizeof (guint));
}

static void
stream_clear (Stream * s)
{
  g_array_unref (s->counts);
  g_free (s->first_problem);
  g_mutex_clear (&s->lock);
}

/* Records a problem of one instance; the first is kept for the report. */
static void
note_problem (Stream * s, gchar * what)
{
  s->bad_instances++;
  if (s->first_problem == NULL)
    s->first_problem = what;
  else
    g_free (what);
}

static gint
label_index (const gchar * label)
{
  for (gint i = 0; i < N_LABELS; i++)
    if (g_strcmp0 (label, labels[i]) == 0)
      return i;
  return -1;
}

static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Stream *s = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMaskRcnnInstance inst;
  gpointer state = NULL;
  guint n = 0;
  gint w, h;

  g_mutex_lock (&s->lock);
  if (s->width == 0) {
    GstCaps *caps = gst_pad_get_current_caps (pad);
    GstVideoInfo vinfo;
    if (caps && gst_video_info_from_caps (&vinfo, caps)) {
      s->width = GST_VIDEO_INFO_WIDTH (&vinfo);
      s->height = GST_VIDEO_INFO_HEIGHT (&vinfo);
    }
    gst_clear_caps (&caps);
  }
  w = s->width;
  h = s->height;

  while (gst_maskrcnn_buffer_iterate_instances (buf, &state, &inst)) {
    gint li = label_index (inst.label);
    n++;
    if (li < 0 || inst.class_id != li + 1) {
      note_problem (s, g_strdup_printf ("frame %u: label %s, class %d",
              s->frames, inst.label, inst.class_id));
      continue;
    }
    s->label_counts[li]++;
    if (!(inst.confidence > 0.0 && inst.confidence <= 1.0))
      note_problem (s, g_strdup_printf ("frame %u: %s confidence %f",
              s->frames, inst.label, inst.confidence));
    if (inst.width <= 0 || inst.height <= 0 || inst.x < 0 || inst.y < 0
        || inst.x + inst.width > w || inst.y + inst.height > h)
      note_problem (s, g_strdup_printf ("frame %u: %s box %d,%d %dx%d in "
              "%dx%d", s->frames, inst.label, inst.x, inst.y, inst.width,
              inst.height, w, h));
    else if (inst.mask == NULL)
      note_problem (s, g_strdup_printf ("frame %u: %s without a mask",
              s->frames, inst.label));
    else {
      gsize size = (gsize) inst.width * inst.height, area = 0;
      guint8 *mask = g_malloc (size);
      if (gst_maskrcnn_instance_read_mask (&inst, mask, inst.width,
              inst.height, inst.width))
        for (gsize i = 0; i < size; i++)
          area += mask[i] != 0;
      g_free (mask);
      if (area == 0)
        note_problem (s, g_strdup_printf ("frame %u: %s with an empty mask",
                s->frames, inst.label));
    }
  }
  if (n == 0)
    s->empty_frames++;
  s->instances += n;
  g_array_append_val (s->counts, n);
  s->frames++;
  g_mutex_unlock (&s->lock);
  return GST_PAD_PROBE_OK;
}

/* Sets *flag, a field of s, under s's lock when the event is EOS. */
static GstPadProbeReturn
note_eos (GstPadProbeInfo * info, Stream * s, gboolean * flag)
{
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS) {
    g_mutex_lock (&s->lock);
    *flag = TRUE;
    g_mutex_unlock (&s->lock);
  }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_event (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Stream *s = user_data;

  return note_eos (info, s, &s->eos);
}

static GstPadProbeReturn
on_event_in (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Stream *s = user_data;

  return note_eos (info, s, &s->eos_in);
}

static void
watch_element_input (GstElement * pipeline, const gchar * name, Stream * s)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), name);
  GstPad *pad = gst_element_get_static_pad (e, "sink");

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_event_in, s,
      NULL);
  gst_object_unref (pad);
  gst_object_unref (e);
}

static void
watch_sink (GstElement * pipeline, const gchar * name, Stream * s)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), name);
  GstPad *pad = gst_element_get_static_pad (sink, "sink");

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, s, NULL);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_event, s,
      NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
}

/* MRCNN_MULTISTREAM_DROP_BYE: drops the RTCP packets holding a BYE. */
static GstPadProbeReturn
drop_bye (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstRTCPBuffer rtcp = GST_RTCP_BUFFER_INIT;
  GstRTCPPacket packet;
  gboolean bye = FALSE, more;

  if (buf && gst_rtcp_buffer_map (buf, GST_MAP_READ, &rtcp)) {
    for (more = gst_rtcp_buffer_get_first_packet (&rtcp, &packet);
        more && !bye; more = gst_rtcp_packet_move_to_next (&packet))
      bye = gst_rtcp_packet_get_type (&packet) == GST_RTCP_TYPE_BYE;
    gst_rtcp_buffer_unmap (&rtcp);
  }
  if (bye)
    g_print ("dropped an RTCP BYE on its way into %s\n",
        GST_OBJECT_NAME (GST_OBJECT_PARENT (pad)));
  return bye ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

static void
on_manager_pad (GstElement * manager, GstPad * pad, gpointer user_data)
{
  if (g_str_has_prefix (GST_PAD_NAME (pad), "recv_rtcp_sink"))
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, drop_bye, NULL, NULL);
}

static void
on_new_manager (GstElement * rtspsrc, GstElement * manager,
    gpointer user_data)
{
  g_signal_connect (manager, "pad-added", G_CALLBACK (on_manager_pad), NULL);
}

/* A pipeline stuck inside GStreamer can be neither waited for nor stopped
 * (rtspsrc against its own task under heavy load, even inside the
 * set_state that starts it: docs/reliability.md). The watchdog reports and
 * ends the process then, rather than leave it to meson's timeout. */
typedef struct {
  GMutex lock;
  GCond cond;
  gboolean done;
  gint64 deadline;
  const gchar *phase;           /* what the main thread is doing */
  Stream *streams;
  guint n;
} Watchdog;

static gpointer
watch (gpointer data)
{
  Watchdog *w = data;

  g_mutex_lock (&w->lock);
  while (!w->done && g_cond_wait_until (&w->cond, &w->lock, w->deadline));
  if (!w->done) {
    g_printerr ("FAIL: no end after the timeout, the pipeline is stuck "
        "while %s\n", w->phase);
    for (guint i = 0; i < w->n; i++) {
      g_mutex_lock (&w->streams[i].lock);
      g_printerr ("  stream %u: %u of %u frames%s%s\n", i,
          w->streams[i].frames, w->streams[i].expected,
          w->streams[i].eos ? ", EOS" : "",
          w->streams[i].eos_in && !w->streams[i].eos ?
          ", EOS into maskrcnn only" : "");
      g_mutex_unlock (&w->streams[i].lock);
    }
    _exit (1);
  }
  g_mutex_unlock (&w->lock);
  return NULL;
}

/* Names the elements not in PLAYING, for the report of a stalled run. */
static void
print_not_playing (GstElement * pipeline)
{
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (pipeline));
  GValue v = G_VALUE_INIT;

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&v);
    GstState cur, pending;
    gst_element_get_state (e, &cur, &pending, 0);
    if (cur != GST_STATE_PLAYING || pending != GST_STATE_VOID_PENDING) {
      GstObject *parent = gst_object_get_parent (GST_OBJECT (e));
      g_printerr ("  %s/%s: %s (pending %s)\n",
          parent ? GST_OBJECT_NAME (parent) : "-", GST_OBJECT_NAME (e),
          gst_element_state_get_name (cur),
          gst_element_state_get_name (pending));
      gst_clear_object (&parent);
    }
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
}

/* Once every stream has its frames, how long to wait for the EOS that
 * follows them before stopping anyway. */
#define EOS_GRACE (30 * G_USEC_PER_SEC)

/* Runs `pipeline` until every stream has its frames and EOS, an error, or
 * the timeout; FALSE on an error or the timeout (a stream that has all its
 * frames but no EOS after EOS_GRACE is not a failure by itself).
 *
 * Stopping waits for the EOS that follows the last frames, so that rtspsrc
 * is not set to NULL while its session still delivers. Under heavy load a
 * stream's EOS sometimes never arrives (it does not reach the stream's
 * maskrcnn either), and stopping the pipeline then stalls inside GStreamer:
 * rtspsrc's task, closing the session, sets rtpbin to NULL and waits for a
 * pad's stream lock, while this thread waits for rtpbin's state lock
 * (docs/reliability.md). The streams without EOS are named before the stop,
 * and the watchdog names the phase it caught. */
static gboolean
run_until_done (GstElement * pipeline, Stream * streams, guint n,
    guint timeout_s)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  gboolean ok = FALSE;
  gint64 all_frames_at = 0;
  /* Some slack after the timeout for stopping the pipeline. */
  Watchdog w = { .deadline = deadline + 60 * G_USEC_PER_SEC,
    .streams = streams, .n = n };
  GThread *dog;

  g_mutex_init (&w.lock);
  g_cond_init (&w.cond);
  w.phase = "starting";
  dog = g_thread_new ("watchdog", watch, &w);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE)
    fail ("the pipeline did not start");
  g_mutex_lock (&w.lock);
  w.phase = "running";
  g_mutex_unlock (&w.lock);
  while (g_get_monotonic_time () < deadline) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 50 * GST_MSECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    if (msg) {
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
        GError *err = NULL;
        gchar *dbg = NULL;
        gst_message_parse_error (msg, &err, &dbg);
        fail ("error from %s: %s (%s)", GST_OBJECT_NAME (msg->src),
            err->message, dbg ? dbg : "");
        g_clear_error (&err);
        g_free (dbg);
        gst_message_unref (msg);
        break;
      }
      gst_message_unref (msg);
      ok = TRUE;                /* the whole pipeline is at EOS */
      break;
    }
    guint done = 0, at_eos = 0;
    for (guint i = 0; i < n; i++) {
      g_mutex_lock (&streams[i].lock);
      done += streams[i].eos || streams[i].frames >= streams[i].expected;
      at_eos += streams[i].eos;
      g_mutex_unlock (&streams[i].lock);
    }
    if (done == n) {
      gint64 now = g_get_monotonic_time ();
      ok = TRUE;
      if (all_frames_at == 0)
        all_frames_at = now;
      if (at_eos == n)
        break;
      if (now >= all_frames_at + EOS_GRACE) {
        g_printerr ("every frame arrived, but %u of %u streams have no EOS "
            "after %d s: stopping anyway\n", n - at_eos, n,
            (gint) (EOS_GRACE / G_USEC_PER_SEC));
        for (guint i = 0; i < n; i++) {
          g_mutex_lock (&streams[i].lock);
          if (!streams[i].eos)
            g_printerr ("  stream %u: no EOS at the sink; %s\n", i,
                streams[i].eos_in ? "EOS went into its maskrcnn" :
                "no EOS into its maskrcnn either");
          g_mutex_unlock (&streams[i].lock);
        }
        print_not_playing (pipeline);
        break;
      }
    }
  }
  if (!ok && g_get_monotonic_time () >= deadline)
    fail ("timeout after %u s", timeout_s);
  g_mutex_lock (&w.lock);
  w.phase = "stopping";
  g_mutex_unlock (&w.lock);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_mutex_lock (&w.lock);
  w.done = TRUE;
  g_cond_signal (&w.cond);
  g_mutex_unlock (&w.lock);
  g_thread_join (dog);
  g_mutex_clear (&w.lock);
  g_cond_clear (&w.cond);
  gst_object_unref (bus);
  return ok;
}

/* The RTSP server runs its main loop in a thread of its own, so that it
 * answers and sends (over TCP through its main context) while the main
 * thread waits on the receivers. */
static gpointer
serve (gpointer loop)
{
  GMainContext *ctx = g_main_loop_get_context (loop);

  g_main_context_push_thread_default (ctx);
  g_main_loop_run (loop);
  g_main_context_pop_thread_default (ctx);
  return NULL;
}

/* The server on 127.0.0.1, a port the kernel picks: one mount per stream,
 * each its own media (not shared), so that every client gets the clip from
 * its first frame; identity ends each after the stream's own number of
 * frames. NULL when it did not start. */
static GstRTSPServer *
start_server (const gchar * clip, Stream * streams, guint n,
    GMainLoop ** loop, GThread ** thread, guint * source_id, gint * port)
{
  GstRTSPServer *server = gst_rtsp_server_new ();
  GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points (server);
  GMainContext *ctx;

  gst_rtsp_server_set_address (server, "127.0.0.1");
  gst_rtsp_server_set_service (server, "0");
  for (guint i = 0; i < n; i++) {
    GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new ();
    gchar *launch = g_strdup_printf ("( filesrc location=\"%s\" ! "
        "matroskademux ! identity eos-after=%u ! rtpvp8pay name=pay0 pt=96 )",
        clip, streams[i].expected + 1);
    gchar *path = g_strdup_printf ("/s%u", i);
    gst_rtsp_media_factory_set_launch (factory, launch);
    gst_rtsp_media_factory_set_shared (factory, FALSE);
    gst_rtsp_media_factory_set_protocols (factory, GST_RTSP_LOWER_TRANS_TCP);
    gst_rtsp_mount_points_add_factory (mounts, path, factory);
    g_free (launch);
    g_free (path);
  }
  g_object_unref (mounts);
  ctx = g_main_context_new ();
  *loop = g_main_loop_new (ctx, FALSE);
  g_main_context_unref (ctx);
  *source_id = gst_rtsp_server_attach (server, ctx);
  *port = gst_rtsp_server_get_bound_port (server);
  if (*source_id == 0 || *port <= 0) {
    fail ("the RTSP server did not start on 127.0.0.1");
    g_object_unref (server);
    return NULL;
  }
  *thread = g_thread_new ("rtsp-server", serve, *loop);
  return server;
}

static gboolean
have_factories (const gchar * const *names)
{
  gboolean ok = TRUE;
  for (; *names; names++) {
    GstElementFactory *f = gst_element_factory_find (*names);
    if (f == NULL) {
      fail ("GStreamer element %s is missing (tools/setup.sh installs it)",
          *names);
      ok = FALSE;
    }
    gst_clear_object (&f);
  }
  return ok;
}

/* The longest stream's frames from the clip through one maskrcnn with an
 * engine of its own, into `reference`. FALSE after reporting a failure. */
static gboolean
reference_pass (const gchar * clip, const gchar * model, guint frames,
    guint timeout_s, Stream * reference)
{
  GError *err = NULL;
  GstElement *pipeline;
  /* identity's eos-after=N passes N - 1 buffers and ends with the N-th. */
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! matroskademux"
      " ! identity eos-after=%u ! vp8dec ! videoconvert ! maskrcnn "
      "model=\"%s\" ! fakesink name=sink sync=false", clip, frames + 1,
      model);

  pipeline = gst_parse_launch (desc, &err);
  g_free (desc);
  /* A pipeline may come back with a (recoverable) error: fail on both. */
  if (err != NULL) {
    fail ("reference pipeline: %s", err->message);
    return FALSE;
  }
  watch_sink (pipeline, "sink", reference);
  run_until_done (pipeline, reference, 1, timeout_s);
  gst_object_unref (pipeline);
  if (reference->frames != frames || reference->empty_frames > 0
      || reference->bad_instances > 0) {
    fail ("reference pass: %u frames of %u, %u without instances, %u bad "
        "instances (%s)", reference->frames, frames, reference->empty_frames,
        reference->bad_instances, reference->first_problem ?
        reference->first_problem : "-");
    return FALSE;
  }
  g_print ("reference: %u frames, %u instances (circle %u, square %u, "
      "triangle %u)\n", reference->frames, reference->instances,
      reference->label_counts[0], reference->label_counts[1],
      reference->label_counts[2]);
  return TRUE;
}

int
main (int argc, char **argv)
{
  static const gchar *const needed[] = { "rtspsrc", "rtpvp8pay",
    "rtpvp8depay", "vp8dec", "matroskademux", "identity", "videoconvert",
    "fakesink", "maskrcnn", NULL
  };
  const gchar *clip, *model;
  guint n_streams, frames, batch, timeout_s, shared, sleep_us, rtp_sleep_us;
  gboolean rtp_queue;
  gboolean files, elements;
  GstElement *probe_element, *pipeline;
  GObjectClass *klass;
  Stream reference, *streams;
  GstRTSPServer *server;
  GMainLoop *server_loop = NULL;
  GString *desc;
  GError *err = NULL;
  GThread *server_thread;
  guint source_id = 0;
  gint port = 0;

  gst_init (&argc, &argv);
  files = argc == 4 && strcmp (argv[1], "--files") == 0;
  if (argc != 3 + files) {
    g_printerr ("usage: %s [--files] CLIP MODEL\n", argv[0]);
    return 2;
  }
  clip = argv[1 + files];
  model = argv[2 + files];
  n_streams = env_uint ("MRCNN_MULTISTREAM_STREAMS", 4);
  frames = env_uint ("MRCNN_MULTISTREAM_FRAMES", 30);
  batch = env_uint ("MRCNN_MULTISTREAM_BATCH", n_streams);
  timeout_s = env_uint ("MRCNN_MULTISTREAM_TIMEOUT", 300);
  shared = g_strcmp0 (g_getenv ("MRCNN_MULTISTREAM_SHARED"), "0") != 0;
  elements = g_strcmp0 (g_getenv ("MRCNN_MULTISTREAM_ELEMENTS"), "0") != 0;
  shared = shared && elements;
  sleep_us = g_getenv ("MRCNN_MULTISTREAM_SLEEP_US") ?
      (guint) g_ascii_strtoull (g_getenv ("MRCNN_MULTISTREAM_SLEEP_US"), NULL,
      10) : 0;
  rtp_sleep_us = g_getenv ("MRCNN_MULTISTREAM_RTP_SLEEP_US") ?
      (guint) g_ascii_strtoull (g_getenv ("MRCNN_MULTISTREAM_RTP_SLEEP_US"),
      NULL, 10) : 0;
  rtp_queue = g_strcmp0 (g_getenv ("MRCNN_MULTISTREAM_RTP_QUEUE"), "0") != 0;

  if (!have_factories (needed))
    return 1;
  probe_element = gst_element_factory_make ("maskrcnn", NULL);
  klass = G_OBJECT_GET_CLASS (probe_element);
  if (shared && (!g_object_class_find_property (klass, "model-instance-id")
          || !g_object_class_find_property (klass, "batch-size"))) {
    g_print ("SKIP: this maskrcnn element has no model-instance-id / "
        "batch-size property, so its streams cannot share an engine\n");
    gst_object_unref (probe_element);
    return EXIT_SKIP;
  }
  gst_object_unref (probe_element);
  if (!g_file_test (clip, G_FILE_TEST_EXISTS)
      || !g_file_test (model, G_FILE_TEST_EXISTS)) {
    fail ("missing %s or %s", clip, model);
    return 1;
  }

  /* Reference: the longest stream's frames through an engine of its own.
   * Without our elements there is nothing to compare with. */
  stream_init (&reference, 0, frames);
  if (elements && !reference_pass (clip, model, frames, timeout_s, &reference))
    return 1;

  server = NULL;
  server_thread = NULL;
  streams = g_new0 (Stream, n_streams);
  for (guint i = 0; i < n_streams; i++)
    /* Lengths from `frames` down to about half of it. */
    stream_init (&streams[i], i, frames - i * (frames / (2 * n_streams)));
  if (!files) {
    server = start_server (clip, streams, n_streams, &server_loop,
        &server_thread, &source_id, &port);
    if (server == NULL)
      return 1;
  }
  if (!files)
    g_print ("RTSP server on 127.0.0.1:%d\n", port);
  if (!elements)
    g_print ("%u streams, no maskrcnn (identity in its place)\n", n_streams);
  else if (shared)
    g_print ("%u streams, one engine, batch-size %u\n", n_streams, batch);
  else
    g_print ("%u streams, one engine each\n", n_streams);

  /* The receivers: one pipeline, N branches, one engine. The queue gives
   * each maskrcnn a streaming thread of its own, apart from rtspsrc's. */
  gchar *sharing = shared ? g_strdup_printf ("model-instance-id="
      "test-multistream batch-size=%u", batch) : g_strdup ("");
  desc = g_string_new (NULL);
  for (guint i = 0; i < n_streams; i++) {
    if (files)
      g_string_append_printf (desc, "filesrc location=\"%s\" ! matroskademux"
          " ! identity eos-after=%u ! vp8dec", clip, streams[i].expected + 1);
    else {
      g_string_append_printf (desc, "rtspsrc name=src%u "
          "location=rtsp://127.0.0.1:%d/s%u protocols=tcp latency=200 ! ",
          i, port, i);
      if (rtp_queue)
        g_string_append (desc, "queue max-size-buffers=0 max-size-bytes=0 "
            "max-size-time=0 ! ");
      if (rtp_sleep_us)
        g_string_append_printf (desc, "identity sleep-time=%u ! ",
            rtp_sleep_us);
      g_string_append (desc, "rtpvp8depay ! vp8dec");
    }
    if (elements)
      g_string_append_printf (desc, " ! videoconvert ! queue ! maskrcnn "
          "name=m%u model=\"%s\" %s ! fakesink name=sink%u sync=false  ", i,
          model, sharing, i);
    else
      g_string_append_printf (desc, " ! videoconvert ! queue ! identity "
          "name=m%u sleep-time=%u ! fakesink name=sink%u sync=false  ", i,
          sleep_us, i);
  }
  g_free (sharing);
  pipeline = gst_parse_launch (desc->str, &err);
  g_string_free (desc, TRUE);
  if (err != NULL) {
    fail ("receiving pipeline: %s", err->message);
    return 1;
  }
  for (guint i = 0; i < n_streams; i++) {
    gchar *name = g_strdup_printf ("sink%u", i);
    watch_sink (pipeline, name, &streams[i]);
    g_free (name);
    name = g_strdup_printf ("m%u", i);
    watch_element_input (pipeline, name, &streams[i]);
    g_free (name);
  }
  if (!files && g_getenv ("MRCNN_MULTISTREAM_DROP_BYE")) {
    gchar *name = g_strdup_printf ("src%s",
        g_getenv ("MRCNN_MULTISTREAM_DROP_BYE"));
    GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), name);

    if (src == NULL) {
      fail ("MRCNN_MULTISTREAM_DROP_BYE: no stream %s", name + 3);
      return 1;
    }
    g_signal_connect (src, "new-manager", G_CALLBACK (on_new_manager), NULL);
    gst_object_unref (src);
    g_free (name);
  }
  gint64 t0 = g_get_monotonic_time ();
  run_until_done (pipeline, streams, n_streams, timeout_s);
  gdouble secs = (g_get_monotonic_time () - t0) / 1e6;
  gst_object_unref (pipeline);
  if (server) {
    GMainContext *ctx = g_main_loop_get_context (server_loop);
    g_main_loop_quit (server_loop);
    g_thread_join (server_thread);
    g_source_destroy (g_main_context_find_source_by_id (ctx, source_id));
    g_object_unref (server);
    g_main_loop_unref (server_loop);
  }

  /* Batched forward passes may run other oneDNN kernels than single frames,
   * so a score at the threshold can fall on the other side: one instance
   * more or less on a frame is tolerated, nothing else. */
  for (guint i = 0; i < n_streams; i++) {
    Stream *s = &streams[i];
    guint off = 0;

    g_print ("stream %u: %u of %u frames%s, %u instances (circle %u, "
        "square %u, triangle %u)\n", i, s->frames, s->expected,
        s->eos ? ", EOS" : "", s->instances, s->label_counts[0],
        s->label_counts[1], s->label_counts[2]);
    if (s->frames != s->expected)
      fail ("stream %u: %u frames, the server sent %u", i, s->frames,
          s->expected);
    if (s->width != 640 || s->height != 360)
      fail ("stream %u: frames of %dx%d, not 640x360", i, s->width, s->height);
    if (!elements)
      continue;
    if (s->empty_frames > 0)
      fail ("stream %u: %u frames without instances", i, s->empty_frames);
    /* The clip shows all three kinds of shape on every frame. */
    for (guint l = 0; l < N_LABELS; l++)
      if (s->label_counts[l] == 0)
        fail ("stream %u: no %s", i, labels[l]);
    if (s->bad_instances > 0)
      fail ("stream %u: %u bad instances, first: %s", i, s->bad_instances,
          s->first_problem);
    for (guint f = 0; f < s->counts->len && f < reference.counts->len; f++) {
      gint a = g_array_index (s->counts, guint, f);
      gint b = g_array_index (reference.counts, guint, f);
      if (ABS (a - b) > 1) {
        fail ("stream %u frame %u: %d instances, the reference %d", i, f,
            a, b);
        break;
      }
      off += a != b;
    }
    if (off > 0)
      g_print ("stream %u: %u frames differ from the reference by one "
          "instance\n", i, off);
  }
  guint total = 0;
  for (guint i = 0; i < n_streams; i++)
    total += streams[i].frames;
  g_print ("%u frames in %.1f s (%.1f frames/s%s)\n", total, secs,
      total / secs, files ? "" : ", paced by the server's real-time sending");

  for (guint i = 0; i < n_streams; i++)
    stream_clear (&streams[i]);
  g_free (streams);
  stream_clear (&reference);
  if (failures) {
    g_printerr ("%u check(s) failed\n", failures);
    return 1;
  }
  g_print ("ok\n");
  return 0;
}
