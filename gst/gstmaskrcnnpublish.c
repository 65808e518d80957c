/* gst-maskrcnn: the maskrcnnpublish element.
 *
 * A pass-through that sends one JSON document per frame (the frame's
 * instances, see maskrcnn-publish-doc.h) to a file (JSON lines) or to an
 * MQTT broker (libmosquitto).
 *
 * The streaming thread only copies the instances out of the buffer (owned
 * detections: the label and a reference to each mask) into a bounded
 * queue; a worker thread encodes the masks, builds the document and writes
 * or publishes it. So a slow disk or an absent broker never holds a frame
 * up: when the queue is full the oldest frame is dropped, counted in the
 * `dropped` property and logged. The MQTT client (maskrcnn-publish-mqtt.c)
 * connects and reconnects on a thread of its own (1 s, backing off to 8 s)
 * while the broker is unreachable; a broker that refuses the login or a
 * certificate that fails verification ends the stream with an error
 * instead, since no retry mends those.
 *
 * Secrets: the password property is write-only, so that nothing that reads
 * properties back (gst-inspect, gst-launch -v, pipeline dumps) can show it,
 * and it is never logged; password-file keeps it off command lines.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmaskrcnnpublish.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "maskrcnn-publish-doc.h"
#include "maskrcnn-publish-mqtt.h"

/* Shared with maskrcnn-publish-mqtt.c. */
GST_DEBUG_CATEGORY (gst_maskrcnn_publish_debug);
#define GST_CAT_DEFAULT gst_maskrcnn_publish_debug

#define DEFAULT_METHOD GST_MASK_RCNN_PUBLISH_METHOD_FILE
#define DEFAULT_ADDRESS "127.0.0.1:1883"
#define DEFAULT_TOPIC "maskrcnn/detections"
#define DEFAULT_QOS 0
#define DEFAULT_INCLUDE_MASKS TRUE
#define DEFAULT_MAX_QUEUE 100
#define DEFAULT_TLS FALSE
#define DEFAULT_TLS_VERIFY TRUE
/* At EOS and at stop, how long the worker may take to send what is queued
 * (a broker that is down would otherwise hold EOS forever). */
#define DRAIN_TIMEOUT_S 5

enum
{
  PROP_0,
  PROP_METHOD,
  PROP_LOCATION,
  PROP_ADDRESS,
  PROP_TOPIC,
  PROP_CLIENT_ID,
  PROP_QOS,
  PROP_SOURCE_ID,
  PROP_INCLUDE_MASKS,
  PROP_MAX_QUEUE,
  PROP_PUBLISHED,
  PROP_DROPPED,
  PROP_CONNECTED,
  PROP_TLS,
  PROP_TLS_CA_FILE,
  PROP_TLS_CERT_FILE,
  PROP_TLS_KEY_FILE,
  PROP_TLS_VERIFY,
  PROP_USERNAME,
  PROP_PASSWORD,
  PROP_PASSWORD_FILE,
};

struct _GstMaskRcnnPublish
{
  GstBaseTransform parent;

  /* properties, under the object lock */
  GstMaskRcnnPublishMethod method;
  gchar *location;
  gchar *address;
  gchar *topic;
  gchar *client_id;
  gint qos;
  gchar *source_id;
  gboolean include_masks;
  guint max_queue;
  gboolean tls;
  gchar *tls_ca_file;
  gchar *tls_cert_file;
  gchar *tls_key_file;
  gboolean tls_verify;
  gchar *username;
  gchar *password;              /* secret: wiped when replaced or freed */
  gchar *password_file;

  /* streaming thread only */
  gint width, height;
  guint64 frame_count;

  /* shared with the worker and libmosquitto's thread, under `lock` */
  GMutex lock;
  GCond cond;
  GQueue queue;                 /* GstMaskRcnnPublishFrame */
  gboolean busy;                /* the worker holds a frame */
  gboolean stopping;
  gboolean failed;              /* a write failed: the stream errors out */
  gboolean connected;
  gboolean warned_drop;         /* the drop warning went out for this run */
  guint in_flight;              /* MQTT messages handed over, not yet sent */
  guint64 published;
  guint64 dropped;

  /* the run's settings and outputs, fixed between start() and stop() */
  GstMaskRcnnPublishMethod run_method;
  gchar *run_location;
  gchar *run_address;
  gchar *run_topic;
  gchar *run_source_id;
  gint run_qos;
  gboolean run_include_masks;
  guint run_max_queue;
  FILE *file;
  GstMaskRcnnMqtt *mqtt;
  GThread *worker;
};

G_DEFINE_TYPE (GstMaskRcnnPublish, gst_maskrcnn_publish,
    GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (maskrcnnpublish, "maskrcnnpublish",
    GST_RANK_NONE, GST_TYPE_MASK_RCNN_PUBLISH);

GType
gst_maskrcnn_publish_method_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_MASK_RCNN_PUBLISH_METHOD_FILE,
        "One JSON document per line in the file at location", "file"},
    {GST_MASK_RCNN_PUBLISH_METHOD_MQTT,
        "One MQTT message per frame on topic, at the broker at address",
        "mqtt"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstMaskRcnnPublishMethod", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* Any video, in any memory: only the metadata is read. */
static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw(ANY)"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw(ANY)"));

/* ------------------------------------------------------------ MQTT */

static void
on_connection (gpointer data, gboolean up)
{
  GstMaskRcnnPublish *self = data;
  gboolean changed;

  g_mutex_lock (&self->lock);
  changed = self->connected != up;
  self->connected = up;
  /* QoS 0 messages not yet written are lost with the connection; QoS 1 and
   * 2 are resent by libmosquitto but no longer count as pending here. */
  if (!up)
    self->in_flight = 0;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  if (changed)
    g_object_notify (G_OBJECT (self), "connected");
}

static void
on_sent (gpointer data)
{
  GstMaskRcnnPublish *self = data;

  g_mutex_lock (&self->lock);
  self->published++;
  if (self->in_flight > 0)
    self->in_flight--;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

/* The client has posted the error: the stream ends at the next frame. */
static void
on_refused (gpointer data)
{
  GstMaskRcnnPublish *self = data;

  g_mutex_lock (&self->lock);
  self->failed = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

static const GstMaskRcnnMqttCallbacks mqtt_callbacks = {
  .connection = on_connection,
  .sent = on_sent,
  .refused = on_refused,
};

/* ------------------------------------------------------------ worker */

/* Sends one document. Called by the worker without the lock. Returns
 * FALSE for a failure that ends the stream (file writes). */
static gboolean
send_document (GstMaskRcnnPublish * self, const gchar * doc)
{
  if (self->run_method == GST_MASK_RCNN_PUBLISH_METHOD_FILE) {
    if (fputs (doc, self->file) < 0 || fputc ('\n', self->file) == EOF ||
        fflush (self->file) != 0) {
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
          ("Could not write to \"%s\".", self->run_location),
          ("%s. Check the free space and permissions of that file system.",
              g_strerror (errno)));
      return FALSE;
    }
    g_mutex_lock (&self->lock);
    self->published++;
    g_mutex_unlock (&self->lock);
    return TRUE;
  } else {
    g_mutex_lock (&self->lock);
    self->in_flight++;
    g_mutex_unlock (&self->lock);
    if (!gst_maskrcnn_mqtt_publish (self->mqtt, doc)) {
      /* The connection went away between the check and the publish: the
       * document is lost, and counted as a drop. */
      g_mutex_lock (&self->lock);
      if (self->in_flight > 0)
        self->in_flight--;
      self->dropped++;
      g_mutex_unlock (&self->lock);
    }
    return TRUE;
  }
}

/* Whether the worker can send now: MQTT needs a connection. */
static inline gboolean
can_send (GstMaskRcnnPublish * self)
{
  return self->run_method == GST_MASK_RCNN_PUBLISH_METHOD_FILE ||
      self->connected;
}

static gpointer
worker_main (gpointer data)
{
  GstMaskRcnnPublish *self = data;
  gint64 stop_deadline = 0;

  g_mutex_lock (&self->lock);
  for (;;) {
    GstMaskRcnnPublishFrame *frame;
    gchar *doc;

    while (!self->failed && (g_queue_is_empty (&self->queue) ||
            !can_send (self))) {
      if (self->stopping && g_queue_is_empty (&self->queue))
        goto out;
      if (self->stopping && self->mqtt &&
          gst_maskrcnn_mqtt_unreachable (self->mqtt))
        goto out;               /* never answered: nothing will come */
      if (self->stopping) {
        /* Stopping with frames queued and no broker: wait a little for
         * the connection, then give them up. */
        if (!stop_deadline)
          stop_deadline = g_get_monotonic_time () +
              DRAIN_TIMEOUT_S * G_TIME_SPAN_SECOND;
        if (!g_cond_wait_until (&self->cond, &self->lock, stop_deadline))
          goto out;
      } else {
        g_cond_wait (&self->cond, &self->lock);
      }
    }
    if (self->failed)
      goto out;
    frame = g_queue_pop_head (&self->queue);
    self->busy = TRUE;
    g_mutex_unlock (&self->lock);

    doc = gst_maskrcnn_publish_frame_to_json (frame, self->run_source_id,
        self->run_include_masks);
    if (!doc) {
      GST_ELEMENT_WARNING (self, RESOURCE, FAILED,
          ("Out of memory encoding the masks of frame %" G_GUINT64_FORMAT
              ".", frame->frame), ("The frame's document is dropped."));
      g_mutex_lock (&self->lock);
      self->dropped++;
    } else {
      gboolean ok = send_document (self, doc);

      g_mutex_lock (&self->lock);
      if (!ok)
        self->failed = TRUE;
    }
    g_free (doc);
    gst_maskrcnn_publish_frame_free (frame);
    self->busy = FALSE;
    g_cond_broadcast (&self->cond);
  }
out:
  /* What is left could not be sent: count it. */
  self->dropped += g_queue_get_length (&self->queue);
  g_queue_clear_full (&self->queue,
      (GDestroyNotify) gst_maskrcnn_publish_frame_free);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return NULL;
}

/* Waits until the queue is empty and the broker has taken every message,
 * at most DRAIN_TIMEOUT_S. */
static void
drain (GstMaskRcnnPublish * self)
{
  gint64 deadline = g_get_monotonic_time () +
      DRAIN_TIMEOUT_S * G_TIME_SPAN_SECOND;
  gboolean done;

  g_mutex_lock (&self->lock);
  /* A broker unreachable since start is not waited for: it is down, not
   * restarting, and EOS should not stall on it. */
  while (!(done = self->failed || (g_queue_is_empty (&self->queue) &&
              !self->busy && self->in_flight == 0) ||
          (self->mqtt && gst_maskrcnn_mqtt_unreachable (self->mqtt))))
    if (!g_cond_wait_until (&self->cond, &self->lock, deadline))
      break;
  if (!done)
    GST_WARNING_OBJECT (self, "%u frame(s) still queued and %u message(s) "
        "unsent after %d s", g_queue_get_length (&self->queue),
        self->in_flight, DRAIN_TIMEOUT_S);
  g_mutex_unlock (&self->lock);
}

/* ------------------------------------------------------------ element */

/* The run's copies of the settings; also after a failed start, which gets
 * no stop(). */
static void
clear_run_settings (GstMaskRcnnPublish * self)
{
  g_clear_pointer (&self->run_location, g_free);
  g_clear_pointer (&self->run_address, g_free);
  g_clear_pointer (&self->run_topic, g_free);
  g_clear_pointer (&self->run_source_id, g_free);
}

/* Frees a copy of the password, overwriting it first so that it does not
 * linger in freed memory. */
static void
secret_free (gchar * secret)
{
  if (secret) {
    memset (secret, 0, strlen (secret));
    g_free (secret);
  }
}

/* The password in `path`: the file's text without one line end, which
 * must be all there is. NULL after posting an error. The error messages
 * name the file, never what it holds. */
static gchar *
read_password_file (GstMaskRcnnPublish * self, const gchar * path)
{
  gchar *text = NULL;
  gsize len = 0;
  GError *err = NULL;
  struct stat st;

  if (!g_file_get_contents (path, &text, &len, &err)) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Could not read the password file \"%s\".", path),
        ("%s", err->message));
    g_error_free (err);
    return NULL;
  }
  if (len > 0 && text[len - 1] == '\n')
    text[--len] = '\0';
  if (len > 0 && text[len - 1] == '\r')
    text[--len] = '\0';
  if (len == 0 || strlen (text) != len || strpbrk (text, "\r\n")) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("The password file \"%s\" does not hold one password.", path),
        ("It must hold the password on a single line (a final line end is "
            "allowed), with no NUL byte; it is %s.", len == 0 ? "empty" :
            "several lines or holds a NUL byte"));
    memset (text, 0, len);
    g_free (text);
    return NULL;
  }
  if (stat (path, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
    GST_WARNING_OBJECT (self, "the password file \"%s\" can be read by "
        "other users (mode %03o): chmod 600 it", path,
        (guint) (st.st_mode & 0777));
  return text;
}

/* Creates the MQTT client from the properties. FALSE after posting an
 * error. */
static gboolean
start_mqtt (GstMaskRcnnPublish * self)
{
  GstMaskRcnnMqttSettings s = { 0 };
  gchar *client_id, *username, *password, *password_file;
  gchar *ca_file, *cert_file, *key_file;

  GST_OBJECT_LOCK (self);
  client_id = g_strdup (self->client_id);
  username = g_strdup (self->username);
  password = g_strdup (self->password);
  password_file = g_strdup (self->password_file);
  ca_file = g_strdup (self->tls_ca_file);
  cert_file = g_strdup (self->tls_cert_file);
  key_file = g_strdup (self->tls_key_file);
  s.tls = self->tls;
  s.tls_verify = self->tls_verify;
  GST_OBJECT_UNLOCK (self);

  if (password && password_file) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Both password and password-file are set."),
        ("Set one of them: password-file keeps the password off command "
            "lines."));
  } else if (password_file && !(password = read_password_file (self,
              password_file))) {
    /* error posted */
  } else {
    s.address = self->run_address;
    s.topic = self->run_topic;
    s.client_id = client_id;
    s.qos = self->run_qos;
    s.username = username;
    s.password = password;
    s.tls_ca_file = ca_file;
    s.tls_cert_file = cert_file;
    s.tls_key_file = key_file;
    self->mqtt = gst_maskrcnn_mqtt_new (GST_ELEMENT (self), &s,
        &mqtt_callbacks, self);
  }
  g_free (client_id);
  g_free (username);
  secret_free (password);
  g_free (password_file);
  g_free (ca_file);
  g_free (cert_file);
  g_free (key_file);
  return self->mqtt != NULL;
}

static gboolean
gst_maskrcnn_publish_start (GstBaseTransform * trans)
{
  GstMaskRcnnPublish *self = GST_MASK_RCNN_PUBLISH (trans);

  clear_run_settings (self);
  GST_OBJECT_LOCK (self);
  self->run_method = self->method;
  self->run_location = g_strdup (self->location);
  self->run_address = g_strdup (self->address);
  self->run_topic = g_strdup (self->topic);
  self->run_source_id = self->source_id ? g_strdup (self->source_id) :
      g_strdup (GST_OBJECT_NAME (self));
  self->run_qos = self->qos;
  self->run_include_masks = self->include_masks;
  self->run_max_queue = self->max_queue;
  GST_OBJECT_UNLOCK (self);

  self->frame_count = 0;
  self->width = self->height = 0;
  self->stopping = self->failed = self->connected = FALSE;
  self->busy = self->warned_drop = FALSE;
  self->in_flight = 0;
  self->published = self->dropped = 0;

  if (self->run_method == GST_MASK_RCNN_PUBLISH_METHOD_FILE) {
    if (!self->run_location || !*self->run_location) {
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
          ("No file name given for method=file."),
          ("Set the location property."));
      return FALSE;
    }
    self->file = fopen (self->run_location, "w");
    if (!self->file) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
          ("Could not open \"%s\" for writing.", self->run_location),
          ("%s", g_strerror (errno)));
      return FALSE;
    }
  } else if (!start_mqtt (self)) {
    return FALSE;
  }

  self->worker = g_thread_new ("maskrcnnpublish", worker_main, self);
  return TRUE;
}

static gboolean
gst_maskrcnn_publish_stop (GstBaseTransform * trans)
{
  GstMaskRcnnPublish *self = GST_MASK_RCNN_PUBLISH (trans);

  if (self->worker) {
    g_mutex_lock (&self->lock);
    self->stopping = TRUE;
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
    g_thread_join (self->worker);
    self->worker = NULL;
  }
  if (self->mqtt) {
    /* Give the broker what was handed over before saying goodbye. */
    drain (self);
    g_clear_pointer (&self->mqtt, gst_maskrcnn_mqtt_free);
    self->connected = FALSE;
  }
  if (self->file) {
    fclose (self->file);
    self->file = NULL;
  }
  clear_run_settings (self);
  return TRUE;
}

static gboolean
gst_maskrcnn_publish_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstMaskRcnnPublish *self = GST_MASK_RCNN_PUBLISH (trans);
  GstStructure *s = gst_caps_get_structure (incaps, 0);

  /* Only the size is needed (the frame masks' size); any memory will do,
   * so no GstVideoInfo, which insists on a known format. */
  if (!gst_structure_get_int (s, "width", &self->width) ||
      !gst_structure_get_int (s, "height", &self->height)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Caps without a frame size: %" GST_PTR_FORMAT, incaps),
        ("maskrcnnpublish needs width and height in the caps."));
    return FALSE;
  }
  return TRUE;
}

static GstFlowReturn
gst_maskrcnn_publish_transform_ip (GstBaseTransform * trans,
    GstBuffer * buffer)
{
  GstMaskRcnnPublish *self = GST_MASK_RCNN_PUBLISH (trans);
  GstMaskRcnnPublishFrame *frame, *old = NULL;
  gboolean first_drop = FALSE;
  guint64 dropped;

  frame = gst_maskrcnn_publish_frame_new (buffer, self->frame_count++,
      self->width, self->height);

  g_mutex_lock (&self->lock);
  if (self->failed) {
    g_mutex_unlock (&self->lock);
    gst_maskrcnn_publish_frame_free (frame);
    return GST_FLOW_ERROR;      /* the worker has posted the error */
  }
  /* Full: drop the oldest, since the newest is what a live consumer
   * wants. */
  if (g_queue_get_length (&self->queue) >= self->run_max_queue) {
    old = g_queue_pop_head (&self->queue);
    self->dropped++;
    first_drop = !self->warned_drop;
    self->warned_drop = TRUE;
  }
  dropped = self->dropped;
  g_queue_push_tail (&self->queue, frame);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  if (old) {
    GST_WARNING_OBJECT (self, "queue full (%u frames): dropped frame %"
        G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT " dropped so far",
        self->run_max_queue, old->frame, dropped);
    if (first_drop)
      GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
          ("Dropping detection documents: %s.",
              self->run_method == GST_MASK_RCNN_PUBLISH_METHOD_FILE ?
              "writing the file cannot keep up" :
              "the MQTT broker is not connected or cannot keep up"),
          ("The queue of %u frames is full (frame %" G_GUINT64_FORMAT
              " dropped). The dropped property counts the drops; raise "
              "max-queue to absorb longer outages.", self->run_max_queue,
              old->frame));
    gst_maskrcnn_publish_frame_free (old);
  }
  return GST_FLOW_OK;
}

static gboolean
gst_maskrcnn_publish_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstMaskRcnnPublish *self = GST_MASK_RCNN_PUBLISH (trans);

  /* At EOS the documents of every frame should be out (a file read after
   * EOS is complete), within DRAIN_TIMEOUT_S. */
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && self->worker)
    drain (self);
  return GST_BASE_TRANSFORM_CLASS (gst_maskrcnn_publish_parent_class)
      ->sink_event (trans, event);
}

static void
gst_maskrcnn_publish_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstMaskRcnnPublish *self = GST_MASK_RCNN_PUBLISH (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_METHOD:
      self->method = g_value_get_enum (value);
      break;
    case PROP_LOCATION:
      g_free (self->location);
      self->location = g_value_dup_string (value);
      break;
    case PROP_ADDRESS:
      g_free (self->address);
      self->address = g_value_dup_string (value);
      break;
    case PROP_TOPIC:
      g_free (self->topic);
      self->topic = g_value_dup_string (value);
      break;
    case PROP_CLIENT_ID:
      g_free (self->client_id);
      self->client_id = g_value_dup_string (value);
      break;
    case PROP_QOS:
      self->qos = g_value_get_int (value);
      break;
    case PROP_SOURCE_ID:
      g_free (self->source_id);
      self->source_id = g_value_dup_string (value);
      break;
    case PROP_INCLUDE_MASKS:
      self->include_masks = g_value_get_boolean (value);
      break;
    case PROP_MAX_QUEUE:
      self->max_queue = g_value_get_uint (value);
      break;
    case PROP_TLS:
      self->tls = g_value_get_boolean (value);
      break;
    case PROP_TLS_CA_FILE:
      g_free (self->tls_ca_file);
      self->tls_ca_file = g_value_dup_string (value);
      break;
    case PROP_TLS_CERT_FILE:
      g_free (self->tls_cert_file);
      self->tls_cert_file = g_value_dup_string (value);
      break;
    case PROP_TLS_KEY_FILE:
      g_free (self->tls_key_file);
      self->tls_key_file = g_value_dup_string (value);
      break;
    case PROP_TLS_VERIFY:
      self->tls_verify = g_value_get_boolean (value);
      break;
    case PROP_USERNAME:
      g_free (self->username);
      self->username = g_value_dup_string (value);
      break;
    case PROP_PASSWORD:
      secret_free (self->password);
      self->password = g_value_dup_string (value);
      break;
    case PROP_PASSWORD_FILE:
      g_free (self->password_file);
      self->password_file = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_maskrcnn_publish_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstMaskRcnnPublish *self = GST_MASK_RCNN_PUBLISH (object);

  switch (prop_id) {
    case PROP_PUBLISHED:
      g_mutex_lock (&self->lock);
      g_value_set_uint64 (value, self->published);
      g_mutex_unlock (&self->lock);
      return;
    case PROP_DROPPED:
      g_mutex_lock (&self->lock);
      g_value_set_uint64 (value, self->dropped);
      g_mutex_unlock (&self->lock);
      return;
    case PROP_CONNECTED:
      g_mutex_lock (&self->lock);
      g_value_set_boolean (value, self->connected);
      g_mutex_unlock (&self->lock);
      return;
    default:
      break;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_METHOD:
      g_value_set_enum (value, self->method);
      break;
    case PROP_LOCATION:
      g_value_set_string (value, self->location);
      break;
    case PROP_ADDRESS:
      g_value_set_string (value, self->address);
      break;
    case PROP_TOPIC:
      g_value_set_string (value, self->topic);
      break;
    case PROP_CLIENT_ID:
      g_value_set_string (value, self->client_id);
      break;
    case PROP_QOS:
      g_value_set_int (value, self->qos);
      break;
    case PROP_SOURCE_ID:
      g_value_set_string (value, self->source_id);
      break;
    case PROP_INCLUDE_MASKS:
      g_value_set_boolean (value, self->include_masks);
      break;
    case PROP_MAX_QUEUE:
      g_value_set_uint (value, self->max_queue);
      break;
    case PROP_TLS:
      g_value_set_boolean (value, self->tls);
      break;
    case PROP_TLS_CA_FILE:
      g_value_set_string (value, self->tls_ca_file);
      break;
    case PROP_TLS_CERT_FILE:
      g_value_set_string (value, self->tls_cert_file);
      break;
    case PROP_TLS_KEY_FILE:
      g_value_set_string (value, self->tls_key_file);
      break;
    case PROP_TLS_VERIFY:
      g_value_set_boolean (value, self->tls_verify);
      break;
    case PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;
    case PROP_PASSWORD_FILE:
      g_value_set_string (value, self->password_file);
      break;
      /* PROP_PASSWORD is write-only: GObject never asks for it. */
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_maskrcnn_publish_finalize (GObject * object)
{
  GstMaskRcnnPublish *self = GST_MASK_RCNN_PUBLISH (object);

  g_free (self->location);
  g_free (self->address);
  g_free (self->topic);
  g_free (self->client_id);
  g_free (self->source_id);
  g_free (self->tls_ca_file);
  g_free (self->tls_cert_file);
  g_free (self->tls_key_file);
  g_free (self->username);
  secret_free (self->password);
  g_free (self->password_file);
  clear_run_settings (self);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (gst_maskrcnn_publish_parent_class)->finalize (object);
}

static void
gst_maskrcnn_publish_class_init (GstMaskRcnnPublishClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
  /* Nothing can read a secret back: not gst-inspect, not deep-notify
   * (gst-launch -v), not a pipeline dump. */
  const GParamFlags wo = G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  GST_DEBUG_CATEGORY_INIT (gst_maskrcnn_publish_debug, "maskrcnnpublish", 0,
      "Mask R-CNN instances published as JSON");

  gobject_class->set_property = gst_maskrcnn_publish_set_property;
  gobject_class->get_property = gst_maskrcnn_publish_get_property;
  gobject_class->finalize = gst_maskrcnn_publish_finalize;

  g_object_class_install_property (gobject_class, PROP_METHOD,
      g_param_spec_enum ("method", "Method",
          "Where the documents go: a file of JSON lines (location) or an "
          "MQTT broker (address, topic). Read at start",
          GST_TYPE_MASK_RCNN_PUBLISH_METHOD, DEFAULT_METHOD, flags));
  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
          "File that method=file writes, one JSON document per line "
          "(truncated at start)", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_ADDRESS,
      g_param_spec_string ("address", "Address",
          "MQTT broker as host:port ([v6-address]:port; port 1883 when "
          "left out)", DEFAULT_ADDRESS, flags));
  g_object_class_install_property (gobject_class, PROP_TOPIC,
      g_param_spec_string ("topic", "Topic",
          "MQTT topic of the documents (no wildcards)", DEFAULT_TOPIC,
          flags));
  g_object_class_install_property (gobject_class, PROP_CLIENT_ID,
      g_param_spec_string ("client-id", "Client id",
          "MQTT client id; NULL for a random one. Two clients with one id "
          "push each other off the broker", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_QOS,
      g_param_spec_int ("qos", "QoS",
          "MQTT quality of service: 0 at most once, 1 at least once, "
          "2 exactly once", 0, 2, DEFAULT_QOS, flags));
  g_object_class_install_property (gobject_class, PROP_SOURCE_ID,
      g_param_spec_string ("source-id", "Source id",
          "Names the stream in every document (source_id), so that "
          "consumers of a topic that many pipelines publish to can tell "
          "them apart; NULL for the element's name",
          NULL, flags));
  g_object_class_install_property (gobject_class, PROP_INCLUDE_MASKS,
      g_param_spec_boolean ("include-masks", "Include masks",
          "Put each instance's mask in the document as COCO compressed RLE",
          DEFAULT_INCLUDE_MASKS, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_QUEUE,
      g_param_spec_uint ("max-queue", "Max queue",
          "Frames waiting to be sent before the oldest is dropped (a slow "
          "disk, a broker that is down)", 1, 100000, DEFAULT_MAX_QUEUE,
          flags));
  g_object_class_install_property (gobject_class, PROP_TLS,
      g_param_spec_boolean ("tls", "TLS",
          "Connect to the MQTT broker with TLS. Also on when any tls-*-file "
          "is set; without tls-ca-file the system's trusted CAs verify the "
          "broker", DEFAULT_TLS, flags));
  g_object_class_install_property (gobject_class, PROP_TLS_CA_FILE,
      g_param_spec_string ("tls-ca-file", "TLS CA file",
          "PEM file of the CA certificate(s) that the broker's certificate "
          "must be signed by (turns TLS on)", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_TLS_CERT_FILE,
      g_param_spec_string ("tls-cert-file", "TLS certificate file",
          "PEM file of the client certificate (chain) for brokers that ask "
          "for one; needs tls-key-file (turns TLS on)", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_TLS_KEY_FILE,
      g_param_spec_string ("tls-key-file", "TLS key file",
          "PEM file of the client certificate's private key, unencrypted; "
          "keep it readable by the pipeline's user only (turns TLS on)",
          NULL, flags));
  g_object_class_install_property (gobject_class, PROP_TLS_VERIFY,
      g_param_spec_boolean ("tls-verify", "TLS verify",
          "Verify the broker's certificate chain and that it is for the "
          "host in address. FALSE connects to anyone who answers (a "
          "warning is posted at every start): for tests only",
          DEFAULT_TLS_VERIFY, flags));
  g_object_class_install_property (gobject_class, PROP_USERNAME,
      g_param_spec_string ("username", "User name",
          "MQTT login: the user name; NULL for none", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_PASSWORD,
      g_param_spec_string ("password", "Password",
          "MQTT login: the password (write-only, never shown or logged). "
          "It shows on command lines and in GStreamer's own log of a "
          "parsed pipeline: prefer password-file", NULL, wo));
  g_object_class_install_property (gobject_class, PROP_PASSWORD_FILE,
      g_param_spec_string ("password-file", "Password file",
          "File holding the MQTT password on one line, read at start "
          "(keep it readable by the pipeline's user only)", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_PUBLISHED,
      g_param_spec_uint64 ("published", "Published",
          "Documents written to the file, or sent to (QoS 0) or "
          "acknowledged by (QoS 1, 2) the broker, since start",
          0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_DROPPED,
      g_param_spec_uint64 ("dropped", "Dropped",
          "Documents dropped since start: queue full, or lost with the "
          "broker connection", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_CONNECTED,
      g_param_spec_boolean ("connected", "Connected",
          "Whether the MQTT client is connected to the broker now", FALSE,
          ro));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Mask R-CNN publisher", "Filter/Analyzer/Video",
      "Sends each frame's Mask R-CNN instances as a JSON document to a file "
      "or an MQTT broker, passing the frames through untouched",
      "gst-maskrcnn developers");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_maskrcnn_publish_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_maskrcnn_publish_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_maskrcnn_publish_set_caps);
  trans_class->transform_ip =
      GST_DEBUG_FUNCPTR (gst_maskrcnn_publish_transform_ip);
  trans_class->sink_event =
      GST_DEBUG_FUNCPTR (gst_maskrcnn_publish_sink_event);
  trans_class->passthrough_on_same_caps = TRUE;
  trans_class->transform_ip_on_passthrough = TRUE;

  gst_type_mark_as_plugin_api (GST_TYPE_MASK_RCNN_PUBLISH_METHOD, 0);
}

static void
gst_maskrcnn_publish_init (GstMaskRcnnPublish * self)
{
  self->method = DEFAULT_METHOD;
  self->address = g_strdup (DEFAULT_ADDRESS);
  self->topic = g_strdup (DEFAULT_TOPIC);
  self->qos = DEFAULT_QOS;
  self->include_masks = DEFAULT_INCLUDE_MASKS;
  self->max_queue = DEFAULT_MAX_QUEUE;
  self->tls = DEFAULT_TLS;
  self->tls_verify = DEFAULT_TLS_VERIFY;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->queue);
  /* Never writes to the buffers, so never asks for a writable one. */
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}
