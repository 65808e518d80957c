/* gst-maskrcnn: maskrcnnpublish's MQTT client (libmosquitto).
 *
 * libmosquitto's own thread owns the connection once it has been made and
 * reconnects (1 s, backing off to 8 s) whenever the broker goes away. That
 * thread does not retry a first connection that failed, so until one gets
 * under way the caller retries it (gst_maskrcnn_mqtt_retry_connect()).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "maskrcnn-publish-mqtt.h"

#include <errno.h>
#include <string.h>

#include <mosquitto.h>

GST_DEBUG_CATEGORY_EXTERN (gst_maskrcnn_publish_debug);
#define GST_CAT_DEFAULT gst_maskrcnn_publish_debug

#define MQTT_DEFAULT_PORT 1883
#define MQTT_KEEPALIVE_S 30

struct _GstMaskRcnnMqtt
{
  GstElement *element;          /* not owned: posts messages, outlives us */
  struct mosquitto *mosq;
  gchar *address, *host, *topic;
  gint port, qos;
  gint running;                 /* atomic: network thread started */
  gint connected;               /* atomic */
  gint closing;                 /* atomic: a disconnect is ours */
  GstMaskRcnnMqttCallbacks callbacks;
  gpointer user_data;
};

static void
mosquitto_init_once (void)
{
  static gsize done = 0;

  /* Process-wide and never undone: other libmosquitto users in the process
   * may still need it. */
  if (g_once_init_enter (&done)) {
    mosquitto_lib_init ();
    g_once_init_leave (&done, 1);
  }
}

static const gchar *
mqtt_strerror (gint rc)
{
  return rc == MOSQ_ERR_ERRNO ? g_strerror (errno) : mosquitto_strerror (rc);
}

static void
on_connect (struct mosquitto *mosq, void *data, int rc)
{
  GstMaskRcnnMqtt *m = data;

  if (rc != 0) {
    /* The broker answered but refused us (protocol, client id, auth):
     * only a change of configuration helps, so say why. */
    GST_ELEMENT_WARNING (m->element, RESOURCE, OPEN_WRITE,
        ("The MQTT broker at %s refused the connection: %s.", m->address,
            mosquitto_connack_string (rc)),
        ("Check the broker's listener and authentication settings and "
            "the client-id property."));
    return;
  }
  GST_INFO_OBJECT (m->element, "connected to the MQTT broker at %s",
      m->address);
  g_atomic_int_set (&m->connected, 1);
  m->callbacks.connection (m->user_data, TRUE);
}

static void
on_disconnect (struct mosquitto *mosq, void *data, int rc)
{
  GstMaskRcnnMqtt *m = data;
  gboolean was_connected = g_atomic_int_exchange (&m->connected, 0);

  if (rc != 0 && was_connected && !g_atomic_int_get (&m->closing))
    GST_ELEMENT_WARNING (m->element, RESOURCE, WRITE,
        ("Lost the connection to the MQTT broker at %s; reconnecting.",
            m->address),
        ("%s. Frames wait in the queue (max-queue) meanwhile; the oldest "
            "are dropped when it is full.", mosquitto_strerror (rc)));
  if (was_connected)
    m->callbacks.connection (m->user_data, FALSE);
}

static void
on_publish (struct mosquitto *mosq, void *data, int mid)
{
  GstMaskRcnnMqtt *m = data;

  m->callbacks.sent (m->user_data);
}

/* Splits "host:port" (or "[v6]:port", or a host alone for port 1883).
 * Returns FALSE for anything else. */
static gboolean
parse_address (const gchar * address, gchar ** host, gint * port)
{
  const gchar *colon, *host_end;
  gchar *end = NULL;
  gint64 p = MQTT_DEFAULT_PORT;

  if (!address || !*address)
    return FALSE;
  if (address[0] == '[') {
    host_end = strchr (address, ']');
    if (!host_end || host_end == address + 1)
      return FALSE;
    colon = host_end[1] == ':' ? host_end + 1 : NULL;
    if (!colon && host_end[1] != '\0')
      return FALSE;
    *host = g_strndup (address + 1, host_end - address - 1);
  } else {
    colon = strrchr (address, ':');
    if (colon && strchr (address, ':') != colon)
      return FALSE;             /* a bare IPv6 address: needs brackets */
    if (colon == address)
      return FALSE;
    *host = colon ? g_strndup (address, colon - address) : g_strdup (address);
  }
  if (colon) {
    p = g_ascii_strtoll (colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || p < 1 || p > 65535) {
      g_clear_pointer (host, g_free);
      return FALSE;
    }
  }
  *port = (gint) p;
  return TRUE;
}

/* Starts the network thread once a connection is under way. */
static gboolean
loop_start (GstMaskRcnnMqtt * m)
{
  gint rc = mosquitto_loop_start (m->mosq);

  if (rc != MOSQ_ERR_SUCCESS) {
    GST_ELEMENT_ERROR (m->element, LIBRARY, INIT,
        ("Could not start the MQTT client's network thread."),
        ("mosquitto_loop_start: %s", mosquitto_strerror (rc)));
    return FALSE;
  }
  g_atomic_int_set (&m->running, 1);
  return TRUE;
}

static void
mqtt_destroy (GstMaskRcnnMqtt * m)
{
  if (m->mosq)
    mosquitto_destroy (m->mosq);
  g_free (m->address);
  g_free (m->host);
  g_free (m->topic);
  g_free (m);
}

GstMaskRcnnMqtt *
gst_maskrcnn_mqtt_new (GstElement * element, const gchar * address,
    const gchar * topic, const gchar * client_id, gint qos,
    const GstMaskRcnnMqttCallbacks * callbacks, gpointer user_data)
{
  GstMaskRcnnMqtt *m;
  gchar *host = NULL;
  gint port = 0, rc;

  if (!parse_address (address, &host, &port)) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
        ("Invalid MQTT broker address \"%s\".", GST_STR_NULL (address)),
        ("Set address to host:port, e.g. 127.0.0.1:1883 or [::1]:1883."));
    return NULL;
  }
  if (!topic || !*topic ||
      mosquitto_pub_topic_check (topic) != MOSQ_ERR_SUCCESS) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
        ("Invalid MQTT topic \"%s\".", GST_STR_NULL (topic)),
        ("A publish topic is a non-empty UTF-8 string without the "
            "wildcards + and #."));
    g_free (host);
    return NULL;
  }

  m = g_new0 (GstMaskRcnnMqtt, 1);
  m->element = element;
  m->address = g_strdup (address);
  m->host = host;
  m->port = port;
  m->topic = g_strdup (topic);
  m->qos = qos;
  m->callbacks = *callbacks;
  m->user_data = user_data;

  mosquitto_init_once ();
  m->mosq = mosquitto_new (client_id, TRUE, m);
  if (!m->mosq) {
    GST_ELEMENT_ERROR (element, LIBRARY, INIT,
        ("Could not create the MQTT client."),
        ("mosquitto_new: %s", g_strerror (errno)));
    goto fail;
  }
  mosquitto_connect_callback_set (m->mosq, on_connect);
  mosquitto_disconnect_callback_set (m->mosq, on_disconnect);
  mosquitto_publish_callback_set (m->mosq, on_publish);
  mosquitto_reconnect_delay_set (m->mosq, 1, 8, TRUE);

  rc = mosquitto_connect_async (m->mosq, m->host, m->port, MQTT_KEEPALIVE_S);
  if (rc == MOSQ_ERR_EAI) {
    GST_ELEMENT_ERROR (element, RESOURCE, NOT_FOUND,
        ("Could not resolve the MQTT broker's host \"%s\".", m->host),
        ("Check the address property (%s).", address));
    goto fail;
  } else if (rc == MOSQ_ERR_INVAL) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
        ("Invalid MQTT settings for the broker at %s.", address),
        ("mosquitto_connect_async: %s", mosquitto_strerror (rc)));
    goto fail;
  } else if (rc != MOSQ_ERR_SUCCESS) {
    /* Not an error: a live pipeline keeps running while the broker
     * restarts or the network comes back. */
    GST_ELEMENT_WARNING (element, RESOURCE, OPEN_WRITE,
        ("The MQTT broker at %s is unreachable; retrying in the background.",
            address),
        ("%s. Frames wait in the queue (max-queue) until it answers; the "
            "oldest are dropped when it is full.", mqtt_strerror (rc)));
    return m;
  }
  if (!loop_start (m))
    goto fail;
  return m;

fail:
  mqtt_destroy (m);
  return NULL;
}

gboolean
gst_maskrcnn_mqtt_is_running (GstMaskRcnnMqtt * mqtt)
{
  return g_atomic_int_get (&mqtt->running);
}

gboolean
gst_maskrcnn_mqtt_retry_connect (GstMaskRcnnMqtt * mqtt, gboolean * fatal)
{
  gint rc = mosquitto_connect_async (mqtt->mosq, mqtt->host, mqtt->port,
      MQTT_KEEPALIVE_S);

  *fatal = FALSE;
  if (rc != MOSQ_ERR_SUCCESS) {
    GST_DEBUG_OBJECT (mqtt->element, "MQTT broker at %s still unreachable: "
        "%s", mqtt->address, mqtt_strerror (rc));
    return FALSE;
  }
  if (!loop_start (mqtt)) {
    *fatal = TRUE;
    return FALSE;
  }
  return TRUE;
}

gboolean
gst_maskrcnn_mqtt_publish (GstMaskRcnnMqtt * mqtt, const gchar * document)
{
  gint rc = mosquitto_publish (mqtt->mosq, NULL, mqtt->topic,
      (int) strlen (document), document, mqtt->qos, FALSE);

  if (rc != MOSQ_ERR_SUCCESS) {
    GST_WARNING_OBJECT (mqtt->element, "MQTT publish failed: %s",
        mqtt_strerror (rc));
    return FALSE;
  }
  return TRUE;
}

void
gst_maskrcnn_mqtt_free (GstMaskRcnnMqtt * mqtt)
{
  gboolean connected;

  if (!mqtt)
    return;
  g_atomic_int_set (&mqtt->closing, 1);
  connected = g_atomic_int_get (&mqtt->connected);
  mosquitto_disconnect (mqtt->mosq);
  /* Connected: let the thread write the DISCONNECT and end by itself.
   * Otherwise it may sit in a reconnect delay or a connect: cancel it. */
  if (g_atomic_int_get (&mqtt->running))
    mosquitto_loop_stop (mqtt->mosq, !connected);
  mqtt_destroy (mqtt);
}
