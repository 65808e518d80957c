/* gst-maskrcnn: CUDA context sharing and CUDA-memory frames (see the
 * header for why the primary context).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "maskrcnn-cuda.h"

#include <cuda_runtime_api.h>
#include <gst/cuda/gstcudaloader.h>
#include <gst/cuda/gstcudautils.h>

GST_DEBUG_CATEGORY_STATIC (gst_maskrcnn_cuda_debug);
#define GST_CAT_DEFAULT gst_maskrcnn_cuda_debug

#define MAX_DEVICES 64

static gboolean loaded;
static GMutex primary_lock;
static CUcontext primary[MAX_DEVICES];

gboolean
gst_maskrcnn_cuda_load (const gchar ** why)
{
  static gsize once = 0;

  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (gst_maskrcnn_cuda_debug, "maskrcnncuda", 0,
        "gst-maskrcnn CUDA context and memory");
    loaded = gst_cuda_load_library ();
    GST_INFO ("libcuda %s", loaded ? "loaded" : "not available");
    g_once_init_leave (&once, 1);
  }
  if (!loaded && why)
    *why = "the NVIDIA driver's libcuda could not be loaded "
        "(no driver installed on this machine)";
  return loaded;
}

gboolean
gst_maskrcnn_caps_are_cuda (const GstCaps * caps)
{
  GstCapsFeatures *f;

  if (!caps || gst_caps_is_empty (caps) || gst_caps_is_any (caps))
    return FALSE;
  f = gst_caps_get_features (caps, 0);
  return f && gst_caps_features_contains (f,
      GST_CAPS_FEATURE_MEMORY_CUDA_MEMORY);
}

/* The runtime's device for -1, else device_id itself. */
static gboolean
resolve_device (gint device_id, gint * device, gchar ** why)
{
  gint count = 0;
  cudaError_t e = cudaGetDeviceCount (&count);

  if (e != cudaSuccess || count == 0) {
    cudaGetLastError ();
    *why = g_strdup_printf ("no CUDA device: %s", e != cudaSuccess ?
        cudaGetErrorString (e) : "the driver reports none");
    return FALSE;
  }
  if (device_id >= count || device_id < -1) {
    *why = g_strdup_printf ("CUDA device %d does not exist (this machine has "
        "%d)", device_id, count);
    return FALSE;
  }
  if (device_id == -1 && cudaGetDevice (&device_id) != cudaSuccess)
    device_id = 0;
  if (device_id >= MAX_DEVICES) {
    *why = g_strdup_printf ("CUDA device %d is beyond the %d supported",
        device_id, MAX_DEVICES);
    return FALSE;
  }
  *device = device_id;
  return TRUE;
}

/* The primary context of `device`, as the runtime (and so the engine) uses
 * it. The runtime keeps it alive for the life of the process. Leaves it
 * current in the calling thread, as cudaSetDevice() does. */
static CUcontext
primary_context (gint device, gchar ** why)
{
  CUcontext ctx = NULL;
  cudaError_t e;

  g_mutex_lock (&primary_lock);
  ctx = primary[device];
  g_mutex_unlock (&primary_lock);
  if (ctx)
    return ctx;

  /* cudaSetDevice() binds the primary context to this thread; cudaFree(0)
   * makes sure it is initialised. gstreamer-cuda's loader has no
   * cuCtxGetCurrent(): pop it to learn its handle, then push it back. */
  e = cudaSetDevice (device);
  if (e == cudaSuccess)
    e = cudaFree (NULL);
  if (e != cudaSuccess) {
    cudaGetLastError ();
    *why = g_strdup_printf ("could not initialise CUDA device %d: %s",
        device, cudaGetErrorString (e));
    return NULL;
  }
  if (CuCtxPopCurrent (&ctx) != CUDA_SUCCESS || !ctx) {
    *why = g_strdup_printf ("no current CUDA context on device %d after "
        "cudaSetDevice()", device);
    return NULL;
  }
  CuCtxPushCurrent (ctx);

  g_mutex_lock (&primary_lock);
  primary[device] = ctx;
  g_mutex_unlock (&primary_lock);
  return ctx;
}

void
gst_maskrcnn_cuda_handle_set_context (GstElement * element,
    GstContext * context, gint device_id, GstCudaContext ** ctx)
{
  if (!gst_maskrcnn_cuda_load (NULL))
    return;
  gst_cuda_handle_set_context (element, context, device_id, ctx);
}

gint
gst_maskrcnn_cuda_context_device (GstCudaContext * ctx)
{
  guint id = 0;

  g_object_get (ctx, "cuda-device-id", &id, NULL);
  return (gint) id;
}

static gboolean
pad_query (const GValue * item, GValue * value, gpointer user_data)
{
  GstPad *pad = g_value_get_object (item);

  if (gst_pad_peer_query (pad, GST_QUERY_CAST (user_data))) {
    g_value_set_boolean (value, TRUE);
    return FALSE;
  }
  return TRUE;
}

static gboolean
query_pads (GstElement * element, GstQuery * query, GstPadDirection dir)
{
  GstIterator *it = dir == GST_PAD_SRC ? gst_element_iterate_src_pads
      (element) : gst_element_iterate_sink_pads (element);
  GValue res = G_VALUE_INIT;
  gboolean found;

  g_value_init (&res, G_TYPE_BOOLEAN);
  g_value_set_boolean (&res, FALSE);
  while (gst_iterator_fold (it, pad_query, &res, query) ==
      GST_ITERATOR_RESYNC)
    gst_iterator_resync (it);
  found = g_value_get_boolean (&res);
  gst_iterator_free (it);
  return found;
}

gboolean
gst_maskrcnn_cuda_ensure_context (GstElement * element, gint device_id,
    GstCudaContext ** ctx, gchar ** why)
{
  const gchar *no_driver = NULL;
  GstQuery *query;
  GstContext *context;
  CUcontext handle;
  CUdevice cudev;
  gint device;
  guint i;

  if (*ctx)
    return TRUE;
  if (!gst_maskrcnn_cuda_load (&no_driver)) {
    *why = g_strdup (no_driver);
    return FALSE;
  }

  /* 1. a neighbour's, downstream first (as gstreamer-cuda does) */
  query = gst_query_new_context (GST_CUDA_CONTEXT_TYPE);
  for (i = 0; i < 2 && !*ctx; i++) {
    if (query_pads (element, query, i == 0 ? GST_PAD_SRC : GST_PAD_SINK)) {
      gst_query_parse_context (query, &context);
      if (context)
        gst_element_set_context (element, context);
    }
  }
  gst_query_unref (query);

  /* 2. the application's or a bin's, answering need-context
   * synchronously */
  if (!*ctx)
    gst_element_post_message (element,
        gst_message_new_need_context (GST_OBJECT_CAST (element),
            GST_CUDA_CONTEXT_TYPE));
  if (*ctx) {
    GST_INFO_OBJECT (element, "sharing CUDA context %" GST_PTR_FORMAT
        " (device %d)", *ctx, gst_maskrcnn_cuda_context_device (*ctx));
    return TRUE;
  }

  /* 3. the device's primary context, the one the engine runs in */
  if (!resolve_device (device_id, &device, why))
    return FALSE;
  handle = primary_context (device, why);
  if (!handle)
    return FALSE;
  if (CuDeviceGet (&cudev, device) != CUDA_SUCCESS) {
    *why = g_strdup_printf ("cuDeviceGet (%d) failed", device);
    return FALSE;
  }
  *ctx = gst_cuda_context_new_wrapped (handle, cudev);
  if (!*ctx) {
    *why = g_strdup_printf ("could not wrap the primary CUDA context of "
        "device %d", device);
    return FALSE;
  }
  GST_INFO_OBJECT (element, "made %" GST_PTR_FORMAT " for the primary "
      "context of device %d", *ctx, device);
  context = gst_context_new_cuda_context (*ctx);
  gst_element_post_message (element,
      gst_message_new_have_context (GST_OBJECT_CAST (element), context));
  return TRUE;
}

gboolean
gst_maskrcnn_cuda_check_buffer (GstBuffer * buf, gint device, gchar ** why)
{
  CUcontext want;
  guint i, n = gst_buffer_n_memory (buf);

  if (device < 0 || device >= MAX_DEVICES) {
    *why = g_strdup_printf ("bad CUDA device %d", device);
    return FALSE;
  }
  want = primary_context (device, why);
  if (!want)
    return FALSE;
  for (i = 0; i < n; i++) {
    GstMemory *mem = gst_buffer_peek_memory (buf, i);
    GstCudaMemory *cmem;

    if (!gst_is_cuda_memory (mem)) {
      *why = g_strdup_printf ("the buffer's memory %u is not CUDA memory "
          "(allocator %s) although the caps say memory:CUDAMemory", i,
          mem->allocator ? mem->allocator->mem_type : "none");
      return FALSE;
    }
    cmem = (GstCudaMemory *) mem;
    if (gst_cuda_context_get_handle (cmem->context) != (gpointer) want) {
      *why = g_strdup_printf ("the frame is in CUDA context %p of device "
          "%d, not in the primary context of device %d that the engine "
          "runs in (an element upstream made a context of its own; let "
          "maskrcnn/maskrcnnoverlay share theirs, e.g. place them in the "
          "same pipeline before it starts)",
          gst_cuda_context_get_handle (cmem->context),
          gst_maskrcnn_cuda_context_device (cmem->context), device);
      return FALSE;
    }
  }
  return TRUE;
}
