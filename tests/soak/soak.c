/* Soak test of the maskrcnn plugin: memory over many frames, and state
 * changes under load. Run through tests/soak/soak.sh.
 *
 * Phase 1 (frames): N frames through
 *   videotestsrc ! RGB WxH ! maskrcnn ! maskrcnnoverlay ! fakesink
 * sampling the process's resident set size every 100 frames. The RSS after
 * the warm-up frames is the baseline; the RSS after the last frame must not
 * exceed it by more than --max-growth-kb (default 1024).
 *
 * Phase 2 (state changes): the same pipeline, source unbounded, switched
 * PLAYING -> READY -> PLAYING --cycles times while frames flow: READY stops
 * the element (engine and model freed) with a frame possibly in the engine,
 * PLAYING loads them again. Every change must complete within 60 s with no
 * error on the bus and frames must flow again after each; the heap in use
 * (mallinfo2) after the last cycle may exceed that after the first tenth of
 * the cycles by --max-cycle-growth-kb (1024). Each cycle frees and makes a
 * whole engine, so the RSS there mostly follows malloc's arenas; it is
 * reported, not judged.
 *
 * Prints one line per sample and a summary; exit status 0 when every check
 * holds, 1 otherwise, 2 for a usage error. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gst/gst.h>
#include <gst/video/video.h>

typedef struct {
  GMutex lock;
  GCond cond;
  guint64 frames;          /* buffers that reached the sink */
  guint64 instances;       /* region-of-interest metas on them */
  guint64 frames_with_instances;
  gint64 *rss_kb;          /* sample every SAMPLE_EVERY frames (phase 1) */
  guint n_samples, max_samples;
  gint64 t0;               /* phase start, monotonic us */
} soak_state;

#define SAMPLE_EVERY 100

static gint64
rss_kb (void)
{
  long pages_total = 0, pages_resident = 0;
  FILE *f = fopen ("/proc/self/statm", "r");
  if (!f)
    return -1;
  if (fscanf (f, "%ld %ld", &pages_total, &pages_resident) != 2)
    pages_resident = -1;
  fclose (f);
  return pages_resident < 0 ? -1
      : (gint64) pages_resident * (sysconf (_SC_PAGESIZE) / 1024);
}

/* Bytes malloc has handed out and not had back (all arenas, plus blocks
 * served by mmap), in kB. Unlike the RSS it does not move with the
 * allocator's own fragmentation and arena growth, so it tells a leak from
 * those. */
static gint64
heap_kb (void)
{
  struct mallinfo2 mi = mallinfo2 ();
  return (gint64) ((mi.uordblks + mi.hblkhd) / 1024);
}

static void
on_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, gpointer data)
{
  soak_state *s = data;
  guint n = gst_buffer_get_n_meta (buf,
      GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE);

  g_mutex_lock (&s->lock);
  s->frames++;
  s->instances += n;
  if (n)
    s->frames_with_instances++;
  if (s->rss_kb && s->frames % SAMPLE_EVERY == 0
      && s->n_samples < s->max_samples) {
    gint64 r = rss_kb ();
    s->rss_kb[s->n_samples++] = r;
    printf ("  frame %6" G_GUINT64_FORMAT "  rss %8" G_GINT64_FORMAT " kB  "
        "heap in use %8" G_GINT64_FORMAT " kB  instances so far %"
        G_GUINT64_FORMAT "  %.1f s\n", s->frames, r, heap_kb (),
        s->instances, (g_get_monotonic_time () - s->t0) / 1e6);
    fflush (stdout);
  }
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
}

static GstElement *
make_pipeline (const char *model, int width, int height, gint64 num_buffers,
    double score, soak_state * s)
{
  GError *err = NULL;
  gchar *desc = g_strdup_printf ("videotestsrc pattern=ball num-buffers=%"
      G_GINT64_FORMAT " ! video/x-raw,format=RGB,width=%d,height=%d,"
      "framerate=30/1 ! maskrcnn name=m model=\"%s\" backend=cpu "
      "score-threshold=%g ! maskrcnnoverlay ! fakesink name=sink sync=false "
      "signal-handoffs=true", num_buffers, width, height, model, score);
  GstElement *p = gst_parse_launch (desc, &err);
  if (!p) {
    fprintf (stderr, "soak: cannot build '%s': %s\n", desc,
        err ? err->message : "?");
    g_clear_error (&err);
    g_free (desc);
    return NULL;
  }
  g_free (desc);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), s);
  gst_object_unref (sink);
  return p;
}

/* Pops bus messages until `until` (EOS or nothing) or an error; returns FALSE
 * on an error (printed). timeout_ns 0 only drains what is there. */
static gboolean
check_bus (GstElement * p, GstClockTime timeout_ns, gboolean wait_eos)
{
  GstBus *bus = gst_element_get_bus (p);
  gboolean ok = TRUE;
  for (;;) {
    GstMessage *m = gst_bus_timed_pop_filtered (bus, timeout_ns,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_WARNING);
    if (!m) {
      if (wait_eos) {
        fprintf (stderr, "soak: no EOS within %" GST_TIME_FORMAT "\n",
            GST_TIME_ARGS (timeout_ns));
        ok = FALSE;
      }
      break;
    }
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS) {
      gst_message_unref (m);
      if (wait_eos)
        break;
      continue;
    }
    GError *e = NULL;
    gchar *dbg = NULL;
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
      gst_message_parse_error (m, &e, &dbg);
      ok = FALSE;
    } else {
      gst_message_parse_warning (m, &e, &dbg);
    }
    fprintf (stderr, "soak: %s from %s: %s (%s)\n",
        GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR ? "ERROR" : "warning",
        GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), e ? e->message : "?",
        dbg ? dbg : "");
    g_clear_error (&e);
    g_free (dbg);
    gst_message_unref (m);
    if (!ok)
      break;
  }
  gst_object_unref (bus);
  return ok;
}

static gboolean
set_state (GstElement * p, GstState state)
{
  GstStateChangeReturn r = gst_element_set_state (p, state);
  if (r == GST_STATE_CHANGE_ASYNC)
    r = gst_element_get_state (p, NULL, NULL, 60 * GST_SECOND);
  if (r == GST_STATE_CHANGE_FAILURE || r == GST_STATE_CHANGE_ASYNC) {
    fprintf (stderr, "soak: change to %s %s\n", gst_element_state_get_name (state),
        r == GST_STATE_CHANGE_ASYNC ? "did not complete in 60 s" : "failed");
    check_bus (p, 0, FALSE);
    return FALSE;
  }
  return TRUE;
}

static gboolean
wait_frames (soak_state * s, guint64 target, gint64 timeout_us)
{
  gint64 end = g_get_monotonic_time () + timeout_us;
  gboolean ok = TRUE;
  g_mutex_lock (&s->lock);
  while (s->frames < target && ok)
    ok = g_cond_wait_until (&s->cond, &s->lock, end);
  g_mutex_unlock (&s->lock);
  return s->frames >= target;
}

int
main (int argc, char **argv)
{
  gchar *model = NULL;
  gint frames = 10000, warmup = 500, cycles = 100, width = 320, height = 240;
  gint max_growth_kb = 1024, max_cycle_growth_kb = 1024;
  gdouble score = 0.05;
  GOptionEntry entries[] = {
    {"model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "Model file", "FILE"},
    {"frames", 'n', 0, G_OPTION_ARG_INT, &frames, "Frames in phase 1 (10000)", "N"},
    {"warmup", 'w', 0, G_OPTION_ARG_INT, &warmup, "Warm-up frames (500)", "N"},
    {"cycles", 'c', 0, G_OPTION_ARG_INT, &cycles, "PLAYING<->READY cycles (100)", "N"},
    {"width", 0, 0, G_OPTION_ARG_INT, &width, "Frame width (320)", "W"},
    {"height", 0, 0, G_OPTION_ARG_INT, &height, "Frame height (240)", "H"},
    {"score-threshold", 's', 0, G_OPTION_ARG_DOUBLE, &score,
        "maskrcnn score-threshold (0.05)", "F"},
    {"max-growth-kb", 0, 0, G_OPTION_ARG_INT, &max_growth_kb,
        "Allowed RSS growth after warm-up, phase 1 (1024)", "KB"},
    {"max-cycle-growth-kb", 0, 0, G_OPTION_ARG_INT, &max_cycle_growth_kb,
        "Allowed growth of the heap in use over the cycles, phase 2 (1024)",
        "KB"},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- soak test of maskrcnn");
  GError *err = NULL;
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err) || !model
      || frames < 0 || warmup < 0 || (frames > 0 && warmup >= frames)
      || cycles < 0) {
    fprintf (stderr, "soak: %s\n", err ? err->message
        : "--model is required, and --warmup must be below --frames");
    return 2;
  }
  g_option_context_free (ctx);

  soak_state s = { 0 };
  g_mutex_init (&s.lock);
  g_cond_init (&s.cond);
  int failed = 0;

  /* -------------------------------------------------------- phase 1 */
  if (frames > 0) {
    s.max_samples = frames / SAMPLE_EVERY + 1;
    s.rss_kb = g_new0 (gint64, s.max_samples);
    GstElement *p = make_pipeline (model, width, height, frames, score, &s);
    if (!p)
      return 1;
    gint64 t0 = g_get_monotonic_time ();
    s.t0 = t0;
    printf ("phase 1: %d frames %dx%d, model %s\n", frames, width, height, model);
    fflush (stdout);
    gboolean ok = set_state (p, GST_STATE_PLAYING)
        && check_bus (p, 24 * 3600 * GST_SECOND, TRUE);
    gst_element_set_state (p, GST_STATE_NULL);
    gst_object_unref (p);
    double secs = (g_get_monotonic_time () - t0) / 1e6;
    if (!ok || s.frames != (guint64) frames) {
      fprintf (stderr, "soak: phase 1 FAILED after %" G_GUINT64_FORMAT
          " frames\n", s.frames);
      failed = 1;
    }
    guint wi = (guint) (warmup / SAMPLE_EVERY);  /* first sample at/after warm-up */
    if (wi == 0)
      wi = 1;
    if (s.n_samples > wi) {
      gint64 base = s.rss_kb[wi - 1], last = s.rss_kb[s.n_samples - 1];
      gint64 peak = base;
      for (guint i = wi - 1; i < s.n_samples; i++)
        peak = MAX (peak, s.rss_kb[i]);
      printf ("phase 1: %" G_GUINT64_FORMAT " frames in %.1f s (%.1f ms/frame), "
          "%" G_GUINT64_FORMAT " instances on %" G_GUINT64_FORMAT " frames\n",
          s.frames, secs, secs * 1000 / MAX (s.frames, 1), s.instances,
          s.frames_with_instances);
      printf ("phase 1: rss after %u warm-up frames %" G_GINT64_FORMAT
          " kB, after the last %" G_GINT64_FORMAT " kB, peak %" G_GINT64_FORMAT
          " kB: growth %+" G_GINT64_FORMAT " kB (limit %d kB)\n",
          wi * SAMPLE_EVERY, base, last, peak, last - base, max_growth_kb);
      if (last - base > max_growth_kb) {
        printf ("phase 1: FAILED: memory grew\n");
        failed = 1;
      }
    }
    g_free (s.rss_kb);
    s.rss_kb = NULL;
  }

  /* -------------------------------------------------------- phase 2 */
  if (cycles > 0) {
    int phase1_failed = failed;
    failed = 0;
    s.frames = 0;
    GstElement *p = make_pipeline (model, width, height, -1, score, &s);
    if (!p)
      return 1;
    gint64 t0 = g_get_monotonic_time ();
    gint64 rss_ref = -1, rss_first = -1, heap_ref = -1, heap_first = -1;
    guint ref_cycle = MAX (1, cycles / 10);
    printf ("phase 2: %d PLAYING <-> READY cycles under load\n", cycles);
    fflush (stdout);
    for (int c = 1; c <= cycles && !failed; c++) {
      guint64 before;
      g_mutex_lock (&s.lock);
      before = s.frames;
      g_mutex_unlock (&s.lock);
      if (!set_state (p, GST_STATE_PLAYING)) {
        failed = 1;
        break;
      }
      /* Most cycles stop after a frame or two; every third one right away,
       * while the first frame may still be in the engine. */
      if (c % 3 != 0 && !wait_frames (&s, before + 1 + c % 2, 60 * G_USEC_PER_SEC)) {
        fprintf (stderr, "soak: cycle %d: no frame within 60 s\n", c);
        failed = 1;
      }
      if (!set_state (p, GST_STATE_READY) || !check_bus (p, 0, FALSE))
        failed = 1;
      gint64 r = rss_kb (), hp = heap_kb ();
      if (c == 1) {
        rss_first = r;
        heap_first = hp;
      }
      if ((guint) c == ref_cycle) {
        rss_ref = r;
        heap_ref = hp;
      }
      if (c % 10 == 0 || c <= 3 || getenv ("SOAK_EVERY_CYCLE")) {
        printf ("  cycle %3d  frames %6" G_GUINT64_FORMAT "  rss %8"
            G_GINT64_FORMAT " kB  heap in use %8" G_GINT64_FORMAT " kB\n", c,
            s.frames, r, hp);
        fflush (stdout);
      }
    }
    gint64 rss_end = rss_kb (), heap_end = heap_kb ();
    gst_element_set_state (p, GST_STATE_NULL);
    gst_object_unref (p);
    double secs = (g_get_monotonic_time () - t0) / 1e6;
    printf ("phase 2: %s, %" G_GUINT64_FORMAT " frames in %.1f s\n",
        failed ? "FAILED" : "all state changes completed", s.frames, secs);
    printf ("phase 2: rss after cycle 1 %" G_GINT64_FORMAT " kB, after cycle %u %"
        G_GINT64_FORMAT " kB, at the end %" G_GINT64_FORMAT " kB (%+"
        G_GINT64_FORMAT " kB)\n", rss_first, ref_cycle, rss_ref, rss_end,
        rss_end - rss_ref);
    printf ("phase 2: heap in use after cycle 1 %" G_GINT64_FORMAT " kB, after "
        "cycle %u %" G_GINT64_FORMAT " kB, at the end %" G_GINT64_FORMAT
        " kB: growth %+" G_GINT64_FORMAT " kB (limit %d kB)\n", heap_first,
        ref_cycle, heap_ref, heap_end, heap_end - heap_ref,
        max_cycle_growth_kb);
    if (!failed && heap_end - heap_ref > max_cycle_growth_kb) {
      printf ("phase 2: FAILED: memory in use grew\n");
      failed = 1;
    }
    failed |= phase1_failed;
  }
  printf ("soak: %s\n", failed ? "FAILED" : "passed");
  g_free (model);
  return failed;
}
