/* gst-maskrcnn: maskrcnnoverlay's drawing on frames in CUDA memory.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "maskrcnn-overlay-cuda.h"

#include <string.h>

#include <cuda_runtime_api.h>

/* Distinct captions kept on the device; past this the cache starts over
 * (scores change the text, so a long run sees many). */
#define MAX_SPRITES 512

typedef struct
{
  guint8 *dev;
  gint w, h, stride;
} Sprite;

struct _GstMaskRcnnOverlayCuda
{
  gint device;
  cudaStream_t stream;
  guint8 *host;                 /* pinned */
  guint8 *dev;
  gsize size;
  GHashTable *sprites;          /* key -> Sprite */
};

static gboolean
cuda_ok (cudaError_t e, const gchar * call, gchar ** why)
{
  if (e == cudaSuccess)
    return TRUE;
  cudaGetLastError ();
  *why = g_strdup_printf ("%s failed: %s (%s)", call, cudaGetErrorName (e),
      cudaGetErrorString (e));
  return FALSE;
}

static void
sprite_free (gpointer data)
{
  Sprite *s = data;

  cudaFree (s->dev);
  g_free (s);
}

GstMaskRcnnOverlayCuda *
gst_maskrcnn_overlay_cuda_new (gint device, gchar ** why)
{
  GstMaskRcnnOverlayCuda *oc = g_new0 (GstMaskRcnnOverlayCuda, 1);

  oc->device = device;
  oc->sprites = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      sprite_free);
  if (!cuda_ok (cudaSetDevice (device), "cudaSetDevice", why) ||
      !cuda_ok (cudaStreamCreateWithFlags (&oc->stream,
              cudaStreamNonBlocking), "cudaStreamCreateWithFlags", why)) {
    gst_maskrcnn_overlay_cuda_free (oc);
    return NULL;
  }
  return oc;
}

void
gst_maskrcnn_overlay_cuda_free (GstMaskRcnnOverlayCuda * oc)
{
  if (!oc)
    return;
  cudaSetDevice (oc->device);
  if (oc->stream)
    cudaStreamSynchronize (oc->stream);
  g_hash_table_destroy (oc->sprites);
  if (oc->host)
    cudaFreeHost (oc->host);
  if (oc->dev)
    cudaFree (oc->dev);
  if (oc->stream)
    cudaStreamDestroy (oc->stream);
  g_free (oc);
}

gboolean
gst_maskrcnn_overlay_cuda_target (const GstVideoFrame * frame,
    mrcnn_overlay_target * t)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  GstVideoColorMatrix matrix = frame->info.colorimetry.matrix;
  guint i;

  memset (t, 0, sizeof (*t));
  t->width = GST_VIDEO_FRAME_WIDTH (frame);
  t->height = GST_VIDEO_FRAME_HEIGHT (frame);
  switch (GST_VIDEO_FRAME_FORMAT (frame)) {
    case GST_VIDEO_FORMAT_RGBA:
    case GST_VIDEO_FORMAT_BGRA:
    case GST_VIDEO_FORMAT_RGBx:
    case GST_VIDEO_FORMAT_BGRx:
      t->data = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
      t->stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
      t->pstride = GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, 0);
      t->off_r = GST_VIDEO_FORMAT_INFO_POFFSET (finfo, GST_VIDEO_COMP_R);
      t->off_g = GST_VIDEO_FORMAT_INFO_POFFSET (finfo, GST_VIDEO_COMP_G);
      t->off_b = GST_VIDEO_FORMAT_INFO_POFFSET (finfo, GST_VIDEO_COMP_B);
      t->off_a = GST_VIDEO_FORMAT_INFO_HAS_ALPHA (finfo) ?
          (gint) GST_VIDEO_FORMAT_INFO_POFFSET (finfo, GST_VIDEO_COMP_A) : -1;
      return TRUE;
    case GST_VIDEO_FORMAT_NV12:
    case GST_VIDEO_FORMAT_I420:
      t->yuv = 1;
      for (i = 0; i < 3; i++) {
        t->comp[i] = GST_VIDEO_FRAME_COMP_DATA (frame, i);
        t->comp_stride[i] = GST_VIDEO_FRAME_COMP_STRIDE (frame, i);
        t->comp_pstride[i] = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, i);
      }
      /* As the CPU canvas: untagged YUV is BT.601. */
      if (matrix == GST_VIDEO_COLOR_MATRIX_UNKNOWN ||
          matrix == GST_VIDEO_COLOR_MATRIX_RGB ||
          !gst_video_color_matrix_get_Kr_Kb (matrix, &t->kr, &t->kb)) {
        t->kr = 0.299;
        t->kb = 0.114;
      }
      t->full_range =
          frame->info.colorimetry.range == GST_VIDEO_COLOR_RANGE_0_255;
      return TRUE;
    default:
      return FALSE;
  }
}

guint8 *
gst_maskrcnn_overlay_cuda_stage (GstMaskRcnnOverlayCuda * oc, gsize size,
    gchar ** why)
{
  gsize want;

  if (size <= oc->size)
    return oc->host;
  /* Grow by half again, so that a few larger frames settle it. The stream
   * is idle here: the previous frame was finished. */
  want = MAX (size, oc->size + oc->size / 2);
  if (oc->host)
    cudaFreeHost (oc->host);
  if (oc->dev)
    cudaFree (oc->dev);
  oc->host = NULL;
  oc->dev = NULL;
  oc->size = 0;
  if (!cuda_ok (cudaSetDevice (oc->device), "cudaSetDevice", why) ||
      !cuda_ok (cudaMallocHost ((void **) &oc->host, want), "cudaMallocHost",
          why) ||
      !cuda_ok (cudaMalloc ((void **) &oc->dev, want), "cudaMalloc", why))
    return NULL;
  oc->size = want;
  return oc->host;
}

const guint8 *
gst_maskrcnn_overlay_cuda_upload (GstMaskRcnnOverlayCuda * oc, gsize size,
    gchar ** why)
{
  if (size == 0)
    return oc->dev;
  if (!cuda_ok (cudaSetDevice (oc->device), "cudaSetDevice", why) ||
      !cuda_ok (cudaMemcpyAsync (oc->dev, oc->host, size,
              cudaMemcpyHostToDevice, oc->stream), "cudaMemcpyAsync", why))
    return NULL;
  return oc->dev;
}

const guint8 *
gst_maskrcnn_overlay_cuda_sprite (GstMaskRcnnOverlayCuda * oc,
    const gchar * key, gint * w, gint * h, gint * stride)
{
  Sprite *s = g_hash_table_lookup (oc->sprites, key);

  if (!s)
    return NULL;
  *w = s->w;
  *h = s->h;
  *stride = s->stride;
  return s->dev;
}

const guint8 *
gst_maskrcnn_overlay_cuda_add_sprite (GstMaskRcnnOverlayCuda * oc,
    const gchar * key, const guint8 * argb, gint w, gint h, gint stride,
    gchar ** why)
{
  Sprite *s;
  gsize n = (gsize) stride * h;

  if (!cuda_ok (cudaSetDevice (oc->device), "cudaSetDevice", why))
    return NULL;
  if (g_hash_table_size (oc->sprites) >= MAX_SPRITES) {
    /* Queued launches may still read the old sprites. */
    if (!cuda_ok (cudaStreamSynchronize (oc->stream),
            "cudaStreamSynchronize", why))
      return NULL;
    g_hash_table_remove_all (oc->sprites);
  }
  s = g_new0 (Sprite, 1);
  s->w = w;
  s->h = h;
  s->stride = stride;
  if (!cuda_ok (cudaMalloc ((void **) &s->dev, n), "cudaMalloc", why) ||
      !cuda_ok (cudaMemcpy (s->dev, argb, n, cudaMemcpyHostToDevice),
          "cudaMemcpy (caption)", why)) {
    sprite_free (s);
    return NULL;
  }
  g_hash_table_insert (oc->sprites, g_strdup (key), s);
  return s->dev;
}

gboolean
gst_maskrcnn_overlay_cuda_draw (GstMaskRcnnOverlayCuda * oc,
    const mrcnn_overlay_target * target, const mrcnn_overlay_layer * layer,
    gchar ** why)
{
  return cuda_ok ((cudaError_t) mrcnn_cuda_overlay_draw (target, layer,
          oc->stream), "overlay kernel launch", why);
}

gboolean
gst_maskrcnn_overlay_cuda_finish (GstMaskRcnnOverlayCuda * oc, gchar ** why)
{
  return cuda_ok (cudaSetDevice (oc->device), "cudaSetDevice", why) &&
      cuda_ok (cudaStreamSynchronize (oc->stream), "cudaStreamSynchronize",
      why);
}
