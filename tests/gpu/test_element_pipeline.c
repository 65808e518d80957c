/* The elements on frames in CUDA memory, on a GPU machine:
 *
 *   videotestsrc ! cudaupload ! maskrcnn ! maskrcnnoverlay ! cudadownload
 *
 * checked for (1) frames reaching maskrcnnoverlay in CUDA memory with
 * maskrcnn's instances attached (metadata), and (2) drawn pixels: the
 * GPU-drawn frames against the CPU overlay drawing the same instances on the
 * same source frames in system memory (same shared math: expected equal),
 * and against the undrawn frames (something was drawn).
 *
 * usage: test_element_pipeline MODEL FORMAT [FRAMES [MODE]]
 *        (FORMAT: RGBA, NV12..; MODE: --system-memory, --cuda-engine,
 *        --no-capsfilter, --restart, --expect-oom or --bad-device)
 * exit 0 pass, 1 fail, 77 skip (no cudaupload: the nvcodec plugin is not
 * there, or it found no GPU).
 *
 * --system-memory runs the same checks with the frames kept in system memory
 * and the CPU engine (no cudaupload/cudadownload): the reference path of
 * this test, checkable on any machine. --cuda-engine keeps the frames in
 * system memory but runs maskrcnn backend=cuda (the element uploads them).
 * --no-capsfilter leaves out the video/x-raw(memory:CUDAMemory) filter after
 * cudaupload: caps negotiation alone must keep the frames on the device.
 * --restart checks the CUDA context wiring of the elements' base class
 * (GstMaskRcnnBaseTransform) across a restart: at READY maskrcnn and
 * maskrcnnoverlay answer a context query with one GstCudaContext; after a
 * whole run back to NULL, which drops it, they share one again at READY
 * (adopted through set_context() from the pipeline, which kept the one
 * posted with have-context, or from a neighbour); the checks below then
 * run on the frames of that second start.
 * --expect-oom runs --cuda-engine's pipeline while another process holds the
 * GPU's memory (tests/gpu/run.sh): the pipeline must stop with an error
 * message from maskrcnn that names the memory, and no crash. --bad-device
 * runs it with device-id=99: the pipeline must stop with maskrcnn's error
 * that the device does not exist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>

#include <gst/maskrcnn-meta.h>

#define W 320
#define H 240

typedef struct
{
  GPtrArray *metas;             /* GstBuffer holding only the metas */
  guint cuda_frames, frames, instances;
  gchar *caps;                  /* the overlay's sink caps at the first frame */
} Probe;

static GstPadProbeReturn
overlay_sink_probe (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Probe *p = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMemory *mem = gst_buffer_peek_memory (buf, 0);
  GstBuffer *m = gst_buffer_new ();
  GstMaskRcnnInstance inst;
  gpointer state = NULL;

  p->frames++;
  if (!p->caps) {
    GstCaps *c = gst_pad_get_current_caps (pad);

    p->caps = c ? gst_caps_to_string (c) : g_strdup ("none");
    if (c)
      gst_caps_unref (c);
  }
  if (mem && mem->allocator && mem->allocator->mem_type &&
      strcmp (mem->allocator->mem_type, "gst.cuda.memory") == 0)
    p->cuda_frames++;
  while (gst_maskrcnn_buffer_iterate_instances (buf, &state, &inst))
    p->instances++;
  gst_buffer_copy_into (m, buf, GST_BUFFER_COPY_META, 0, -1);
  g_ptr_array_add (p->metas, m);
  return GST_PAD_PROBE_OK;
}

/* Runs a pipeline to EOS and returns the samples of its appsink "sink". */
static GPtrArray *
run (GstElement * pipe, gchar ** error)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  GPtrArray *samples = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_sample_unref);
  GstBus *bus = gst_element_get_bus (pipe);
  GstSample *s;
  GstMessage *msg;

  gst_element_set_state (pipe, GST_STATE_PLAYING);
  /* until EOS, or an error (then no EOS ever reaches the sink) */
  msg = NULL;
  while (!msg) {
    s = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), GST_SECOND / 10);
    if (s)
      g_ptr_array_add (samples, s);
    else if (gst_app_sink_is_eos (GST_APP_SINK (sink)))
      break;
    else
      msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  }
  if (!msg)
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  if (msg) {
    GError *err = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error (msg, &err, &dbg);
    *error = g_strdup_printf ("%s (%s)", err->message, dbg ? dbg : "");
    g_error_free (err);
    g_free (dbg);
    gst_message_unref (msg);
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (sink);
  return samples;
}

/* The GstCudaContext (borrowed, only to compare) with which `e`'s pad
 * `pad_name` answers a context query, or NULL. */
static gpointer
context_answer (GstElement * e, const gchar * pad_name)
{
  GstPad *pad = gst_element_get_static_pad (e, pad_name);
  GstQuery *q = gst_query_new_context ("gst.cuda.context");
  GstContext *c = NULL;
  gpointer obj = NULL;

  if (gst_pad_query (pad, q)) {
    gst_query_parse_context (q, &c);
    if (c) {
      const GValue *v = gst_structure_get_value (gst_context_get_structure
          (c), "gst.cuda.context");
      if (v && G_VALUE_HOLDS_OBJECT (v))
        obj = g_value_get_object (v);
    }
  }
  gst_query_unref (q);
  gst_object_unref (pad);
  return obj;
}

/* Brings the pipeline to READY, where maskrcnn ("m") and maskrcnnoverlay
 * ("o") must answer with one context. Prints what it saw. */
static gboolean
check_contexts (GstElement * pipe, const gchar * when)
{
  GstElement *m = gst_bin_get_by_name (GST_BIN (pipe), "m");
  GstElement *o = gst_bin_get_by_name (GST_BIN (pipe), "o");
  gpointer a, b;
  gboolean ok;

  gst_element_set_state (pipe, GST_STATE_READY);
  a = context_answer (m, "sink");
  b = context_answer (o, "src");
  ok = a != NULL && a == b;
  printf ("context %s: maskrcnn %p, maskrcnnoverlay %p: %s\n", when, a, b,
      ok ? "one shared context" : "FAIL (not one shared context)");
  gst_object_unref (m);
  gst_object_unref (o);
  return ok;
}

/* Byte differences between two frames' visible pixels. */
static void
compare (GstSample * a, GstSample * b, guint64 * n_diff, guint * max_diff,
    guint64 * n_bytes, guint frame, gint report)
{
  GstVideoInfo ia, ib;
  GstVideoFrame fa, fb;
  guint p;

  gst_video_info_from_caps (&ia, gst_sample_get_caps (a));
  gst_video_info_from_caps (&ib, gst_sample_get_caps (b));
  if (!gst_video_frame_map (&fa, &ia, gst_sample_get_buffer (a), GST_MAP_READ))
    return;
  if (!gst_video_frame_map (&fb, &ib, gst_sample_get_buffer (b), GST_MAP_READ)) {
    gst_video_frame_unmap (&fa);
    return;
  }
  for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (&fa); p++) {
    gint comp[GST_VIDEO_MAX_COMPONENTS];
    gint rows, row_bytes, y, x;

    gst_video_format_info_component (fa.info.finfo, p, comp);
    rows = GST_VIDEO_FRAME_COMP_HEIGHT (&fa, comp[0]);
    row_bytes = GST_VIDEO_FRAME_COMP_WIDTH (&fa, comp[0]) *
        GST_VIDEO_FRAME_COMP_PSTRIDE (&fa, comp[0]);
    for (y = 0; y < rows; y++) {
      const guint8 *ra = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&fa, p) +
          (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&fa, p);
      const guint8 *rb = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&fb, p) +
          (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&fb, p);
      for (x = 0; x < row_bytes; x++) {
        guint d = (guint) ABS ((gint) ra[x] - (gint) rb[x]);
        *n_bytes += 1;
        if (d) {
          if (report > 0 && *n_diff < (guint64) report)
            printf ("  differs: frame %u plane %u row %d byte %d: %u vs %u\n",
                frame, p, y, x, ra[x], rb[x]);
          *n_diff += 1;
          *max_diff = MAX (*max_diff, d);
        }
      }
    }
  }
  gst_video_frame_unmap (&fa);
  gst_video_frame_unmap (&fb);
}

int
main (int argc, char **argv)
{
  const gchar *model, *format;
  gint frames;
  gchar *desc, *error = NULL;
  GstElement *pipe, *overlay, *src;
  GstPad *pad;
  GPtrArray *gpu, *plain, *cpu;
  Probe probe = { 0, };
  guint64 d_cpu = 0, n_cpu = 0, d_plain = 0, n_plain = 0;
  guint max_cpu = 0, max_plain = 0, i;
  GstCaps *caps;
  gboolean ok = TRUE, system_memory, cuda_on_system, no_capsfilter, restart;
  const gchar *expect = NULL;   /* an error naming this must stop the run */
  const gchar *mode, *upload = "", *download = "";

  gst_init (&argc, &argv);
  if (argc < 3) {
    fprintf (stderr, "usage: %s MODEL FORMAT [FRAMES [--system-memory|"
        "--cuda-engine|--no-capsfilter|--restart|--expect-oom|"
        "--bad-device]]\n",
        argv[0]);
    return 2;
  }
  model = argv[1];
  format = argv[2];
  frames = argc > 3 ? atoi (argv[3]) : 4;
  mode = argc > 4 ? argv[4] : "";
  system_memory = strcmp (mode, "--system-memory") == 0;
  if (strcmp (mode, "--expect-oom") == 0)
    expect = "memory";
  else if (strcmp (mode, "--bad-device") == 0)
    expect = "does not exist";
  cuda_on_system = expect || strcmp (mode, "--cuda-engine") == 0;
  no_capsfilter = strcmp (mode, "--no-capsfilter") == 0;
  restart = strcmp (mode, "--restart") == 0;
  if (*mode && !system_memory && !cuda_on_system && !no_capsfilter &&
      !restart) {
    fprintf (stderr, "%s: unknown mode '%s'\n", argv[0], mode);
    return 2;
  }
  if (!system_memory && !gst_registry_check_feature_version (gst_registry_get (), "cudaupload",
          1, 22, 0)) {
    printf ("SKIP: no cudaupload (the nvcodec plugin is missing or found no "
        "CUDA device)\n");
    return 77;
  }

  /* 1. the pipeline under test (CUDA memory unless a mode says otherwise) */
  if (!system_memory && !cuda_on_system) {
    upload = no_capsfilter ? "cudaupload ! " :
        "cudaupload ! video/x-raw(memory:CUDAMemory) ! ";
    download = "cudadownload ! ";
  }
  desc = g_strdup_printf ("videotestsrc num-buffers=%d pattern=smpte ! "
      "video/x-raw,format=%s,width=%d,height=%d,framerate=30/1 ! %s"
      "maskrcnn name=m model=\"%s\" backend=%s%s score-threshold=0.0 "
      "max-detections=8 ! maskrcnnoverlay name=o ! %s"
      "video/x-raw,format=%s ! appsink name=sink sync=false", frames, format,
      W, H, upload, model, system_memory ? "cpu" : "cuda",
      strcmp (mode, "--bad-device") == 0 ? " device-id=99" : "", download,
      format);
  printf ("pipeline: %s\n", desc);
  pipe = gst_parse_launch (desc, NULL);
  g_free (desc);
  if (!pipe) {
    printf ("FAIL: could not build the pipeline\n");
    return 1;
  }
  probe.metas = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_buffer_unref);
  overlay = gst_bin_get_by_name (GST_BIN (pipe), "o");
  pad = gst_element_get_static_pad (overlay, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, overlay_sink_probe,
      &probe, NULL);
  gst_object_unref (pad);
  gst_object_unref (overlay);
  if (restart) {
    gboolean held = check_contexts (pipe, "at READY");

    g_ptr_array_unref (run (pipe, &error));
    if (error) {
      printf ("FAIL: CUDA pipeline error on the first start: %s\n", error);
      return 1;
    }
    held = check_contexts (pipe, "at READY after a run to NULL") && held;
    if (!held) {
      printf ("FAIL: the elements' CUDA context wiring\n");
      return 1;
    }
    /* the checks below are on the second start's frames */
    g_ptr_array_set_size (probe.metas, 0);
    probe.frames = probe.cuda_frames = probe.instances = 0;
    g_clear_pointer (&probe.caps, g_free);
  }
  gpu = run (pipe, &error);
  gst_object_unref (pipe);
  if (expect) {
    gboolean named = error && g_strrstr (error, expect) != NULL;

    printf ("%s: %u frames out; error: %s\n", named ? "PASS" : "FAIL",
        gpu->len, error ? error : "none");
    g_free (error);
    g_ptr_array_unref (gpu);
    g_ptr_array_unref (probe.metas);
    g_free (probe.caps);
    return named ? 0 : 1;
  }
  if (error) {
    printf ("FAIL: CUDA pipeline error: %s\n", error);
    return 1;
  }
  printf ("caps at maskrcnnoverlay: %s\n", probe.caps ? probe.caps : "none");
  printf ("metadata: %u frames at maskrcnnoverlay, %u in CUDA memory, "
      "%u instances\n", probe.frames, probe.cuda_frames, probe.instances);
  if (gpu->len != (guint) frames || probe.frames != (guint) frames) {
    printf ("FAIL: %u frames out, %u at the overlay, %d expected\n", gpu->len,
        probe.frames, frames);
    return 1;
  }
  if (!system_memory && !cuda_on_system && probe.cuda_frames != probe.frames) {
    printf ("FAIL: frames reached maskrcnnoverlay in system memory\n");
    ok = FALSE;
  }
  if (probe.instances == 0) {
    printf ("FAIL: no instances attached (score-threshold 0)\n");
    ok = FALSE;
  }

  /* 2. the same source frames, undrawn, in system memory */
  desc = g_strdup_printf ("videotestsrc num-buffers=%d pattern=smpte ! "
      "video/x-raw,format=%s,width=%d,height=%d,framerate=30/1 ! "
      "appsink name=sink sync=false", frames, format, W, H);
  pipe = gst_parse_launch (desc, NULL);
  g_free (desc);
  plain = run (pipe, &error);
  gst_object_unref (pipe);

  /* 3. the CPU overlay drawing the GPU run's instances on them */
  desc = g_strdup_printf ("appsrc name=src format=time ! maskrcnnoverlay ! "
      "appsink name=sink sync=false");
  pipe = gst_parse_launch (desc, NULL);
  g_free (desc);
  src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  caps = gst_caps_copy (gst_sample_get_caps (g_ptr_array_index (plain, 0)));
  g_object_set (src, "caps", caps, NULL);
  gst_caps_unref (caps);
  for (i = 0; i < plain->len && i < probe.metas->len; i++) {
    GstBuffer *b = gst_buffer_copy_deep (gst_sample_get_buffer
        (g_ptr_array_index (plain, i)));
    gst_buffer_copy_into (b, g_ptr_array_index (probe.metas, i),
        GST_BUFFER_COPY_META, 0, -1);
    gst_app_src_push_buffer (GST_APP_SRC (src), b);
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  gst_object_unref (src);
  cpu = run (pipe, &error);
  gst_object_unref (pipe);
  if (error || cpu->len != gpu->len || plain->len != gpu->len) {
    printf ("FAIL: reference pipelines: %s (%u/%u/%u frames)\n",
        error ? error : "frame count", gpu->len, plain->len, cpu->len);
    return 1;
  }

  for (i = 0; i < gpu->len; i++) {
    compare (g_ptr_array_index (gpu, i), g_ptr_array_index (cpu, i), &d_cpu,
        &max_cpu, &n_cpu, i, 8);
    compare (g_ptr_array_index (gpu, i), g_ptr_array_index (plain, i),
        &d_plain, &max_plain, &n_plain, i, 0);
  }
  printf ("drawn pixels: GPU vs undrawn: %" G_GUINT64_FORMAT " of %"
      G_GUINT64_FORMAT " bytes changed\n", d_plain, n_plain);
  printf ("drawn pixels: GPU vs CPU overlay, same instances: %"
      G_GUINT64_FORMAT " bytes differ, max difference %u\n", d_cpu, max_cpu);
  if (probe.instances > 0 && d_plain == 0) {
    printf ("FAIL: the GPU overlay drew nothing\n");
    ok = FALSE;
  }
  /* The same integer/double math on both sides: allow off-by-one rounding
   * on at most 0.1% of the bytes. */
  if (max_cpu > 1 || d_cpu * 1000 > n_cpu) {
    printf ("FAIL: GPU drawing differs from the CPU drawing\n");
    ok = FALSE;
  }
  printf ("%s\n", ok ? "PASS" : "FAIL");
  g_ptr_array_unref (gpu);
  g_ptr_array_unref (plain);
  g_ptr_array_unref (cpu);
  g_ptr_array_unref (probe.metas);
  g_free (probe.caps);
  return ok ? 0 : 1;
}
