/* gst-maskrcnn: the engines of maskrcnn elements, their own or shared.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "maskrcnn-shared.h"

#include <stdlib.h>

#include "gstmaskrcnn.h"

GST_DEBUG_CATEGORY_STATIC (maskrcnn_shared_debug);
#define GST_CAT_DEFAULT maskrcnn_shared_debug

/* An engine and the model it was made from, with the settings it was made
 * with: made by the first element under setup_lock (the next ones of its
 * id wait for it there), then read only. */
struct _GstMaskRcnnShared
{
  gchar *id;                    /* NULL: one element's own, not registered */
  gint refs;                    /* under registry_lock */
  GMutex setup_lock;
  mrcnn_model *model;
  mrcnn_engine *engine;
  GstMaskRcnnSharedSettings settings;   /* settings.model: canonical path */
  gchar *creator;               /* name of the element that made the engine */
  gchar *no_cuda_reason;
  gint device;                  /* the engine's CUDA device, -1: current */
};

struct _GstMaskRcnnSharedUser
{
  GstMaskRcnnShared *sh;
  GstElement *element;
  mrcnn_stream *stream;
  gchar *model_path;            /* as this element named it */
};

/* The registry of engines by id. */
static GMutex registry_lock;
static GHashTable *registry;    /* id -> GstMaskRcnnShared */

void
gst_maskrcnn_shared_settings_clear (GstMaskRcnnSharedSettings * s)
{
  g_clear_pointer (&s->model, g_free);
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

/* ------------------------------------------------------------ errors */

static void
fail (GError ** error, gchar ** debug, GQuark domain, gint code,
    gchar * message, gchar * details)
{
  g_set_error_literal (error, domain, code, message);
  *debug = details;
  g_free (message);
}

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

static gchar *
enum_nick (GType type, gint value)
{
  GEnumClass *klass = g_type_class_ref (type);
  GEnumValue *v = g_enum_get_value (klass, value);
  gchar *nick = v ? g_strdup (v->value_nick) : g_strdup_printf ("%d", value);

  g_type_class_unref (klass);
  return nick;
}

/* The first setting in which `s` differs from the engine's, as a message
 * naming the setting, both values and the element that made the engine;
 * NULL when they agree. */
static gchar *
mismatch (const GstMaskRcnnShared * sh, const GstMaskRcnnSharedSettings * s)
{
  const GstMaskRcnnSharedSettings *e = &sh->settings;
  const gchar *name = NULL;
  gchar *mine = NULL, *theirs = NULL, *msg;

  if (g_strcmp0 (s->model, e->model) != 0) {
    name = "model";
    mine = g_strdup_printf ("\"%s\"", s->model);
    theirs = g_strdup_printf ("\"%s\"", e->model);
  } else if (s->backend != e->backend) {
    name = "backend";
    mine = enum_nick (GST_TYPE_MASK_RCNN_BACKEND, s->backend);
    theirs = enum_nick (GST_TYPE_MASK_RCNN_BACKEND, e->backend);
  } else if (s->device_id != e->device_id) {
    name = "device-id";
    mine = g_strdup_printf ("%d", s->device_id);
    theirs = g_strdup_printf ("%d", e->device_id);
  } else if (s->threads != e->threads) {
    name = "threads";
    mine = g_strdup_printf ("%d", s->threads);
    theirs = g_strdup_printf ("%d", e->threads);
  } else if (s->precision != e->precision) {
    name = "precision";
    mine = enum_nick (GST_TYPE_MASK_RCNN_PRECISION, s->precision);
    theirs = enum_nick (GST_TYPE_MASK_RCNN_PRECISION, e->precision);
  } else if (s->batch_size != e->batch_size) {
    name = "batch-size";
    mine = g_strdup_printf ("%d", s->batch_size);
    theirs = g_strdup_printf ("%d", e->batch_size);
  } else if (s->thresholds.max_detections != e->thresholds.max_detections) {
    name = "max-detections";
    mine = g_strdup_printf ("%d", s->thresholds.max_detections);
    theirs = g_strdup_printf ("%d", e->thresholds.max_detections);
  }
  if (!name)
    return NULL;
  msg = g_strdup_printf ("Cannot share the engine of model-instance-id "
      "\"%s\": this element has %s=%s but the engine was started by element "
      "\"%s\" with %s=%s. Elements sharing an engine must agree on model, "
      "backend, device-id, threads, precision, batch-size and "
      "max-detections: give them the same %s, or a different "
      "model-instance-id.", sh->id, name, mine, sh->creator, name, theirs,
      name);
  g_free (mine);
  g_free (theirs);
  return msg;
}

/* ------------------------------------------------------------ the model */

/* The model file the element names (the property, else the shipped one),
 * as a new string; NULL after filling the error. */
static gchar *
find_model (const GstMaskRcnnSharedSettings * s, GError ** error,
    gchar ** debug)
{
  gchar *path;

  if (s->model && *s->model) {
    path = g_strdup (s->model);
  } else {
    gchar *searched = NULL;
    char *found = mrcnn_default_model_path (&searched);

    /* The engine hands out malloc() memory; the element keeps GLib's. */
    path = g_strdup (found);
    free (found);
    if (!path)
      fail (error, debug, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
          g_strdup_printf ("No model given and the shipped model \"%s\" was "
              "not found. Set the \"model\" property to a .safetensors "
              "model, or MRCNN_MODEL_DIR to the directory holding %s. Looked "
              "in:\n%s", MRCNN_DEFAULT_MODEL_FILE, MRCNN_DEFAULT_MODEL_FILE,
              searched), NULL);
    free (searched);
    if (!path)
      return NULL;
  }
  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    fail (error, debug, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        g_strdup_printf ("Model file \"%s\" does not exist.", path),
        g_strdup ("Set the \"model\" property to a .safetensors file made by "
            "gst-maskrcnn's export tool."));
    g_free (path);
    return NULL;
  }
  return path;
}

/* ------------------------------------------------------------ the engine */

/* The engine's own lines (the batches it runs) go to this category. */
static void
log_engine (void *user_data, mrcnn_log_level level, const char *message)
{
  GST_CAT_LEVEL_LOG (maskrcnn_shared_debug, level == MRCNN_LOG_DEBUG ?
      GST_LEVEL_DEBUG : GST_LEVEL_LOG, NULL, "%s", message);
}

/* Makes sh's engine on `kind` (CPU or CUDA). `quiet`: a failure is only
 * returned in *err (backend=auto tries CUDA first). */
static gboolean
make_engine_on (GstMaskRcnnShared * sh, GstElement * element,
    const gchar * path, mrcnn_backend_kind kind, gint cuda_device,
    gboolean quiet, mrcnn_error * err, GError ** error, gchar ** debug)
{
  const GstMaskRcnnSharedSettings *s = &sh->settings;
  mrcnn_engine_config cfg;
  mrcnn_status st;

  mrcnn_engine_config_init (&cfg, sh->model);
  cfg.backend = kind;
  /* Frames in CUDA memory must be on the engine's device: the one of the
   * context the element shares, else the property's. */
  cfg.device_id = kind == MRCNN_BACKEND_CUDA && cuda_device >= 0 ?
      cuda_device : s->device_id;
  cfg.num_threads = s->threads;
  cfg.precision = (mrcnn_precision) s->precision;
  cfg.thresholds = s->thresholds;
  cfg.max_batch = s->batch_size;

  st = mrcnn_engine_new (sh->model, &cfg, &sh->engine, err);
  if (st != MRCNN_OK) {
    sh->engine = NULL;
    if (!quiet)
      fail (error, debug, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_INIT,
          g_strdup_printf ("Could not set up the %s backend for model \"%s\" "
              "(frames up to %dx%d): %s", gst_maskrcnn_backend_name (kind),
              path, cfg.max_width, cfg.max_height, err->message),
          g_strdup_printf ("mrcnn_engine_new: %s", mrcnn_status_name (st)));
    return FALSE;
  }
  sh->device = cfg.device_id;
  mrcnn_engine_set_log_func (sh->engine, log_engine, NULL);
  if (*mrcnn_engine_precision_note (sh->engine))
    GST_WARNING_OBJECT (element, "%s", mrcnn_engine_precision_note (sh->engine));
  GST_INFO_OBJECT (element, "engine on %s, %d passes at once, batches of up "
      "to %d frames up to %dx%d", gst_maskrcnn_backend_name
      (mrcnn_engine_backend (sh->engine)), mrcnn_engine_passes (sh->engine),
      cfg.max_batch, cfg.max_width, cfg.max_height);
  if (mrcnn_engine_backend (sh->engine) == MRCNN_BACKEND_CPU &&
      !g_getenv ("OMP_WAIT_POLICY"))
    GST_INFO_OBJECT (element, "OMP_WAIT_POLICY is not set: the CPU engine's "
        "threads spin while they wait, which collapses the frame rate when "
        "other processes share the cores; export OMP_WAIT_POLICY=passive "
        "before the process starts (docs/performance.md, Threads under "
        "load)");
  return TRUE;
}

/* Opens the model and makes sh's engine: the backend setting decides;
 * backend=auto takes CUDA where this build has it and a device answers,
 * else the CPU, and says why in a warning. */
static gboolean
make_engine (GstMaskRcnnShared * sh, GstElement * element,
    const gchar * path, gint cuda_device, GError ** error, gchar ** debug)
{
  mrcnn_error err = { 0, };
  mrcnn_status st;

  st = mrcnn_model_open (path, &sh->model, &err);
  if (st != MRCNN_OK) {
    GQuark domain;
    gint code;

    sh->model = NULL;
    model_error_code (st, &domain, &code);
    fail (error, debug, domain, code,
        g_strdup_printf ("Could not load model \"%s\": %s", path,
            err.message), g_strdup_printf ("mrcnn_model_open: %s",
            mrcnn_status_name (st)));
    return FALSE;
  }
  GST_INFO_OBJECT (element, "model %s: %s, %d classes", path,
      mrcnn_model_architecture (sh->model),
      mrcnn_model_num_classes (sh->model));

  switch (sh->settings.backend) {
    case GST_MASK_RCNN_BACKEND_CPU:
      sh->no_cuda_reason = g_strdup ("the backend property is \"cpu\"");
      return make_engine_on (sh, element, path, MRCNN_BACKEND_CPU,
          cuda_device, FALSE, &err, error, debug);
    case GST_MASK_RCNN_BACKEND_CUDA:
      return make_engine_on (sh, element, path, MRCNN_BACKEND_CUDA,
          cuda_device, FALSE, &err, error, debug);
    default:
      break;
  }
  if (make_engine_on (sh, element, path, MRCNN_BACKEND_CUDA, cuda_device,
          TRUE, &err, error, debug))
    return TRUE;
  sh->no_cuda_reason = g_strdup (err.message);
  GST_WARNING_OBJECT (element, "backend=auto: running on the CPU because the "
      "CUDA backend is not available: %s", err.message);
  return make_engine_on (sh, element, path, MRCNN_BACKEND_CPU, cuda_device,
      FALSE, &err, error, debug);
}

static void
shared_free (GstMaskRcnnShared * sh)
{
  /* The engine before the model it was made from. */
  if (sh->engine)
    mrcnn_engine_free (sh->engine);
  if (sh->model)
    mrcnn_model_free (sh->model);
  gst_maskrcnn_shared_settings_clear (&sh->settings);
  g_free (sh->creator);
  g_free (sh->no_cuda_reason);
  g_free (sh->id);
  g_mutex_clear (&sh->setup_lock);
  g_free (sh);
}

/* A joining element's frames in CUDA memory must be on the device of the
 * engine it shares, which the first element's context chose. */
static gboolean
check_device (const GstMaskRcnnShared * sh, gint cuda_device,
    GError ** error, gchar ** debug)
{
  if (cuda_device < 0 || sh->device < 0 || sh->device == cuda_device
      || mrcnn_engine_backend (sh->engine) != MRCNN_BACKEND_CUDA)
    return TRUE;
  fail (error, debug, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS,
      g_strdup_printf ("Cannot share the CUDA engine of model-instance-id "
          "\"%s\": it runs on CUDA device %d, but this element's CUDA "
          "context (shared with its neighbours) is on device %d, so its "
          "frames could not be read by the engine. Give the elements on "
          "device %d another model-instance-id.", sh->id, sh->device,
          cuda_device, cuda_device), NULL);
  return FALSE;
}

GstMaskRcnnSharedUser *
gst_maskrcnn_shared_acquire (GstElement * element, const gchar * id,
    const GstMaskRcnnSharedSettings * s, gint cuda_device, GError ** error,
    gchar ** debug)
{
  static gsize debug_once = 0;
  GstMaskRcnnShared *sh = NULL;
  GstMaskRcnnSharedUser *user;
  GstMaskRcnnSharedSettings mine = *s;
  mrcnn_error err = { 0, };
  gboolean ok;
  gchar *path;

  if (g_once_init_enter (&debug_once)) {
    GST_DEBUG_CATEGORY_INIT (maskrcnn_shared_debug, "maskrcnnshared", 0,
        "maskrcnn engines, their own or shared between elements, and their "
        "batches");
    g_once_init_leave (&debug_once, 1);
  }
  *debug = NULL;
  path = find_model (s, error, debug);
  if (!path)
    return NULL;
  /* "models/x" and "/abs/models/x" name one model. */
  mine.model = g_canonicalize_filename (path, NULL);

  g_mutex_lock (&registry_lock);
  if (id) {
    if (!registry)
      registry = g_hash_table_new (g_str_hash, g_str_equal);
    sh = g_hash_table_lookup (registry, id);
  }
  if (!sh) {
    sh = g_new0 (GstMaskRcnnShared, 1);
    sh->id = g_strdup (id);
    sh->device = -1;
    g_mutex_init (&sh->setup_lock);
    if (id)
      g_hash_table_insert (registry, sh->id, sh);
  }
  sh->refs++;
  g_mutex_unlock (&registry_lock);

  user = g_new0 (GstMaskRcnnSharedUser, 1);
  user->sh = sh;
  user->element = element;
  user->model_path = path;
  g_mutex_lock (&sh->setup_lock);
  if (sh->engine) {
    gchar *why = mismatch (sh, &mine);

    ok = why == NULL && check_device (sh, cuda_device, error, debug);
    if (why)
      fail (error, debug, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS, why,
          g_strdup_printf ("model-instance-id \"%s\"", id));
    else if (ok)
      GST_INFO_OBJECT (element, "sharing the engine of model-instance-id "
          "\"%s\"", id);
  } else {
    /* the first element, or the first after one whose engine failed */
    sh->settings = mine;
    sh->settings.model = g_strdup (mine.model);
    sh->creator = gst_object_get_name (GST_OBJECT (element));
    ok = make_engine (sh, element, path, cuda_device, error, debug);
    if (!ok) {
      if (sh->model)
        mrcnn_model_free (sh->model);
      sh->model = NULL;
      gst_maskrcnn_shared_settings_clear (&sh->settings);
      g_clear_pointer (&sh->creator, g_free);
      g_clear_pointer (&sh->no_cuda_reason, g_free);
    }
  }
  g_mutex_unlock (&sh->setup_lock);
  g_free (mine.model);
  if (!ok) {
    gst_maskrcnn_shared_leave (user);
    return NULL;
  }
  if (mrcnn_stream_new (sh->engine, &user->stream, &err) != MRCNN_OK) {
    fail (error, debug, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_INIT,
        g_strdup_printf ("Could not open a stream on the engine: %s",
            err.message), NULL);
    gst_maskrcnn_shared_leave (user);
    return NULL;
  }
  GST_DEBUG_OBJECT (element, "joined engine \"%s\" (%d users)",
      id ? id : "(own)", sh->refs);
  return user;
}

void
gst_maskrcnn_shared_leave (GstMaskRcnnSharedUser * user)
{
  GstMaskRcnnShared *sh = user->sh;
  gboolean last;

  /* Others may have been waiting for this user's frames to fill a batch:
   * freeing the stream tells the engine. */
  if (user->stream)
    mrcnn_stream_free (user->stream);
  GST_DEBUG_OBJECT (user->element, "left engine \"%s\"",
      sh->id ? sh->id : "(own)");
  g_free (user->model_path);
  g_free (user);

  g_mutex_lock (&registry_lock);
  last = --sh->refs == 0;
  if (last && sh->id)
    g_hash_table_remove (registry, sh->id);
  g_mutex_unlock (&registry_lock);
  if (last)
    shared_free (sh);
}

/* ------------------------------------------------------------ facts */

mrcnn_backend_kind
gst_maskrcnn_shared_backend (GstMaskRcnnSharedUser * user)
{
  return mrcnn_engine_backend (user->sh->engine);
}

const gchar *
gst_maskrcnn_shared_no_cuda_reason (GstMaskRcnnSharedUser * user)
{
  return user->sh->no_cuda_reason;
}

gint
gst_maskrcnn_shared_device (GstMaskRcnnSharedUser * user)
{
  return user->sh->device;
}

gint
gst_maskrcnn_shared_max_detections (GstMaskRcnnSharedUser * user)
{
  return user->sh->settings.thresholds.max_detections;
}

gboolean
gst_maskrcnn_shared_can_run (GstMaskRcnnSharedUser * user, gint w, gint h)
{
  return mrcnn_model_resized_size (user->sh->model, w, h, NULL, NULL);
}

const gchar *
gst_maskrcnn_shared_model_path (GstMaskRcnnSharedUser * user)
{
  return user->model_path;
}

/* ------------------------------------------------------------ streaming */

gboolean
gst_maskrcnn_shared_reserve (GstMaskRcnnSharedUser * user, gint w, gint h,
    mrcnn_error * err)
{
  return mrcnn_engine_reserve (user->sh->engine, w, h, err) == MRCNN_OK;
}

void
gst_maskrcnn_shared_set_flushing (GstMaskRcnnSharedUser * user,
    gboolean flushing)
{
  mrcnn_stream_set_cancelled (user->stream, flushing);
}

void
gst_maskrcnn_shared_set_streaming (GstMaskRcnnSharedUser * user,
    gboolean streaming)
{
  mrcnn_stream_set_active (user->stream, streaming);
}

GstMaskRcnnSharedReturn
gst_maskrcnn_shared_run (GstMaskRcnnSharedUser * user,
    const mrcnn_image * image, const mrcnn_thresholds * th, guint timeout_ms,
    mrcnn_result ** result, mrcnn_error * err)
{
  mrcnn_status st = mrcnn_stream_run (user->stream, image, th,
      (int) MIN (timeout_ms, G_MAXINT), result, err);

  if (st == MRCNN_ERR_CANCELLED)
    return GST_MASK_RCNN_SHARED_FLUSHING;
  return st == MRCNN_OK ? GST_MASK_RCNN_SHARED_OK :
      GST_MASK_RCNN_SHARED_FAILED;
}
