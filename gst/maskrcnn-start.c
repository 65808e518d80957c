/* gst-maskrcnn: the maskrcnn element at start: the model, the engine on the
 * backend asked for, and the engine shared under model-instance-id.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmaskrcnn-priv.h"

#include <stdlib.h>

#define GST_CAT_DEFAULT gst_maskrcnn_debug

/* ------------------------------------------------------------ errors */

static void
model_error_code (mrcnn_status status, GQuark * domain, gint * code)
{
  switch (status) {
    case MRCNN_ERR_IO:
      *domain = GST_RESOURCE_ERROR;
      *code = GST_RESOURCE_ERROR_OPEN_READ;
      break;
    case MRCNN_ERR_FORMAT:
    case MRCNN_ERR_MODEL:
      *domain = GST_RESOURCE_ERROR;
      *code = GST_RESOURCE_ERROR_READ;
      break;
    default:
      *domain = GST_LIBRARY_ERROR;
      *code = GST_LIBRARY_ERROR_INIT;
      break;
  }
}

const gchar *
gst_maskrcnn_backend_name (mrcnn_backend_kind kind)
{
  switch (kind) {
    case MRCNN_BACKEND_CPU:
      return "cpu";
    case MRCNN_BACKEND_CUDA:
      return "cuda";
    default:
      return "auto";
  }
}

/* ------------------------------------------------------------ engine */

/* The device the engine must use: the shared context's, so that frames in
 * CUDA memory are on the engine's device; else the device-id property. */
static gint
engine_device (GstMaskRcnn * self, gint device_id)
{
#ifdef GST_MASK_RCNN_HAVE_CUDA
  GstCudaContext *ctx = gst_maskrcnn_base_transform_get_cuda_context
      (GST_MASK_RCNN_BASE_TRANSFORM (self));

  if (ctx)
    return gst_maskrcnn_cuda_context_device (ctx);
#endif
  return device_id;
}

/* Makes an engine on `kind` (CPU or CUDA). `quiet`: a failure is returned
 * in *err_out without posting an error (backend=auto tries CUDA first). */
static gboolean
create_engine_on (GstMaskRcnn * self, mrcnn_backend_kind kind,
    gint max_width, gint max_height, gboolean quiet, mrcnn_error * err_out)
{
  mrcnn_engine_config cfg;
  mrcnn_error err = { 0, };
  mrcnn_status st;

  if (self->engine)
    mrcnn_engine_free (self->engine);
  self->engine = NULL;

  mrcnn_engine_config_init (&cfg, self->model);
  cfg.backend = kind;
  GST_OBJECT_LOCK (self);
  cfg.device_id = self->device_id;
  cfg.num_threads = self->threads;
  cfg.precision = (mrcnn_precision) self->precision;
  cfg.thresholds = self->thresholds;
  cfg.max_batch = self->batch_size;
  GST_OBJECT_UNLOCK (self);
  if (kind == MRCNN_BACKEND_CUDA)
    cfg.device_id = engine_device (self, cfg.device_id);
  if (max_width > 0 && max_height > 0) {
    cfg.max_width = max_width;
    cfg.max_height = max_height;
  }

  st = mrcnn_engine_new (self->model, &cfg, &self->engine, &err);
  if (st != MRCNN_OK) {
    self->engine = NULL;
    if (err_out)
      *err_out = err;
    if (quiet)
      return FALSE;
    POST_ERROR (self, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_INIT,
        g_strdup_printf ("Could not set up the %s backend for model \"%s\" "
            "(frames up to %dx%d): %s", gst_maskrcnn_backend_name (cfg.backend),
            self->opened_path, cfg.max_width, cfg.max_height, err.message),
        g_strdup_printf ("mrcnn_engine_new: %s",
            mrcnn_status_name (st)));
    return FALSE;
  }
  self->engine_cfg = cfg;
  GST_INFO_OBJECT (self, "engine on %s, planned for batches of %d frames "
      "up to %dx%d", gst_maskrcnn_backend_name (mrcnn_engine_backend (self->engine)),
      cfg.max_batch, cfg.max_width, cfg.max_height);
  if (mrcnn_engine_backend (self->engine) == MRCNN_BACKEND_CPU &&
      !g_getenv ("OMP_WAIT_POLICY"))
    GST_INFO_OBJECT (self, "OMP_WAIT_POLICY is not set: the CPU engine's "
        "threads spin while they wait, which collapses the frame rate when "
        "other processes share the cores; export OMP_WAIT_POLICY=passive "
        "before the process starts (docs/performance.md, Threads under load)");
  return TRUE;
}

/* The first engine of a run: the backend property decides; backend=auto
 * takes CUDA where this build has it and a device answers, else the CPU,
 * and says why in a warning. */
static gboolean
create_engine (GstMaskRcnn * self, gint max_width, gint max_height)
{
  GstMaskRcnnBackend backend;
  mrcnn_error err = { 0, };

  GST_OBJECT_LOCK (self);
  backend = self->backend;
  GST_OBJECT_UNLOCK (self);
  g_clear_pointer (&self->no_cuda_reason, g_free);

  switch (backend) {
    case GST_MASK_RCNN_BACKEND_CPU:
      self->no_cuda_reason = g_strdup ("the backend property is \"cpu\"");
      return create_engine_on (self, MRCNN_BACKEND_CPU, max_width,
          max_height, FALSE, NULL);
    case GST_MASK_RCNN_BACKEND_CUDA:
      return create_engine_on (self, MRCNN_BACKEND_CUDA, max_width,
          max_height, FALSE, NULL);
    default:
      break;
  }
  if (create_engine_on (self, MRCNN_BACKEND_CUDA, max_width, max_height,
          TRUE, &err))
    return TRUE;
  self->no_cuda_reason = g_strdup (err.message);
  GST_WARNING_OBJECT (self, "backend=auto: running on the CPU because the "
      "CUDA backend is not available: %s", err.message);
  return create_engine_on (self, MRCNN_BACKEND_CPU, max_width, max_height,
      FALSE, NULL);
}


/* Opens the model and makes the element's engine (self->model,
 * self->engine), for the shared entry to take over. */
static gboolean
make_engine (GstMaskRcnn * self, const gchar * path)
{
  mrcnn_error err = { 0, };
  mrcnn_status st;

  st = mrcnn_model_open (path, &self->model, &err);
  if (st != MRCNN_OK) {
    GQuark domain;
    gint code;

    self->model = NULL;
    model_error_code (st, &domain, &code);
    POST_ERROR (self, domain, code,
        g_strdup_printf ("Could not load model \"%s\": %s", path,
            err.message), g_strdup_printf ("mrcnn_model_open: %s",
            mrcnn_status_name (st)));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "model %s: %s, %d classes", path,
      mrcnn_model_architecture (self->model),
      mrcnn_model_num_classes (self->model));

  /* Planned for the engine's default largest frame; set_caps() makes a new
   * engine only for frames beyond it. Made here so that a backend that
   * cannot start fails the state change, not the first caps. */
  if (!create_engine (self, 0, 0)) {
    mrcnn_model_free (self->model);
    self->model = NULL;
    return FALSE;
  }
  return TRUE;
}

/* A joining element's frames in CUDA memory must be on the device of the
 * engine it shares, which the first element's context chose. */
static gboolean
check_shared_device (GstMaskRcnn * self)
{
#ifdef GST_MASK_RCNN_HAVE_CUDA
  gint engine_dev = gst_maskrcnn_shared_device (self->shared);
  GstCudaContext *ctx = gst_maskrcnn_base_transform_get_cuda_context
      (GST_MASK_RCNN_BASE_TRANSFORM (self));
  gint mine;

  if (!ctx ||
      gst_maskrcnn_shared_backend (self->shared) != MRCNN_BACKEND_CUDA)
    return TRUE;
  mine = gst_maskrcnn_cuda_context_device (ctx);
  if (engine_dev < 0 || engine_dev == mine)
    return TRUE;
  GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
      ("Cannot share the CUDA engine of model-instance-id \"%s\": it runs "
          "on CUDA device %d, but this element's CUDA context (shared with "
          "its neighbours) is on device %d, so its frames could not be read "
          "by the engine. Give the elements on device %d another "
          "model-instance-id.", self->instance_id, engine_dev, mine, mine),
      (NULL));
  return FALSE;
#else
  return TRUE;
#endif
}

gboolean
gst_maskrcnn_start_engine (GstMaskRcnn * self)
{
  GstMaskRcnnSharedSettings settings = { 0, };
  gboolean ok;
  gchar *path, *id;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model_path);
  self->running = TRUE;
  GST_OBJECT_UNLOCK (self);

  if (!path || !*path) {
    gchar *searched = NULL, *found;

    g_free (path);
    found = mrcnn_default_model_path (&searched);
    /* The engine hands out malloc() memory; the element keeps GLib's. */
    path = g_strdup (found);
    free (found);
    if (!path) {
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
          ("No model given and the shipped model \"%s\" was not found. "
              "Set the \"model\" property to a .safetensors model, or "
              "MRCNN_MODEL_DIR to the directory holding %s. Looked in:\n%s",
              MRCNN_DEFAULT_MODEL_FILE, MRCNN_DEFAULT_MODEL_FILE,
              searched), (NULL));
      free (searched);
      return FALSE;
    }
    free (searched);
  }

  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("Model file \"%s\" does not exist.", path),
        ("Set the \"model\" property to a .safetensors file made by "
            "gst-maskrcnn's export tool."));
    g_free (path);
    return FALSE;
  }

  self->opened_path = path;
  GST_OBJECT_LOCK (self);
  g_free (self->running_model);
  self->running_model = g_strdup (path);
  GST_OBJECT_UNLOCK (self);

#ifdef GST_MASK_RCNN_HAVE_CUDA
  gst_maskrcnn_base_transform_look_for_cuda_context
      (GST_MASK_RCNN_BASE_TRANSFORM (self));
#endif

  GST_OBJECT_LOCK (self);
  id = g_strdup (self->instance_id && *self->instance_id ?
      self->instance_id : NULL);
  /* "models/x" and "/abs/models/x" name one model. */
  settings.model = g_canonicalize_filename (path, NULL);
  settings.backend = self->backend;
  settings.device_id = self->device_id;
  settings.threads = self->threads;
  settings.precision = self->precision;
  settings.batch_size = self->batch_size;
  settings.max_detections = self->thresholds.max_detections;
  GST_OBJECT_UNLOCK (self);

  self->shared = gst_maskrcnn_shared_join (id, GST_ELEMENT (self));
  gst_maskrcnn_shared_lock_setup (self->shared);
  if (gst_maskrcnn_shared_has_engine (self->shared)) {
    gchar *why = gst_maskrcnn_shared_mismatch (self->shared, &settings);

    if (why)
      GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS, ("%s", why),
          ("model-instance-id \"%s\"", id));
    else if (!check_shared_device (self))
      why = g_strdup ("device");
    ok = why == NULL;
    g_free (why);
    if (ok)
      GST_INFO_OBJECT (self, "sharing the engine of model-instance-id "
          "\"%s\"", id);
  } else if ((ok = make_engine (self, path))) {
    gst_maskrcnn_shared_set_engine (self->shared, self->model, self->engine,
        &self->engine_cfg, &settings, self->no_cuda_reason);
    self->model = NULL;
    self->engine = NULL;
  }
  gst_maskrcnn_shared_unlock_setup (self->shared);
  if (!ok) {
    gst_maskrcnn_shared_leave (self->shared);
    self->shared = NULL;
    g_clear_pointer (&self->opened_path, g_free);
  }
  gst_maskrcnn_shared_settings_clear (&settings);
  g_free (id);

  self->have_info = FALSE;
  self->frame_index = 0;
  return ok;
}

