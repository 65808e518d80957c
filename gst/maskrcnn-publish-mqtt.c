/* gst-maskrcnn: maskrcnnpublish's MQTT client (libmosquitto).
 *
 * The client runs libmosquitto's loop on a thread of its own rather than
 * mosquitto_loop_start()'s, because that thread gives up for good on some
 * errors without saying so (mosquitto_loop_forever() returns when errno is
 * EPROTO, which a TLS connection that the broker drops leaves behind), and
 * it cannot tell a broker that is away from one that refuses us. Here every
 * end of a connection comes back to one place, which either reconnects (1 s,
 * backing off to 8 s) or, for a refusal that only new settings mend (a
 * login, a certificate), posts an error and stops.
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

#include "maskrcnn-publish-tls.h"

GST_DEBUG_CATEGORY_EXTERN (gst_maskrcnn_publish_debug);
#define GST_CAT_DEFAULT gst_maskrcnn_publish_debug

#define MQTT_DEFAULT_PORT 1883
#define MQTT_KEEPALIVE_S 30
#define RECONNECT_MIN (1 * G_TIME_SPAN_SECOND)
#define RECONNECT_MAX (8 * G_TIME_SPAN_SECOND)
/* mosquitto_loop()'s wait; publishing and gst_maskrcnn_mqtt_free() wake it
 * earlier through libmosquitto's socket pair. */
#define LOOP_TIMEOUT_MS 1000
/* How long a DISCONNECT may take to go out when the client is freed. */
#define CLOSE_TIMEOUT (1 * G_TIME_SPAN_SECOND)
/* MQTT's CONNACK code for "server unavailable": the one refusal that a
 * retry may mend. */
#define CONNACK_SERVER_UNAVAILABLE 3

struct _GstMaskRcnnMqtt
{
  GstElement *element;          /* not owned: posts messages, outlives us */
  struct mosquitto *mosq;
  GstMaskRcnnTls *tls;          /* NULL: plain TCP */
  gboolean tls_verify;
  gchar *address, *host, *topic, *username;
  gint port, qos;
  GstMaskRcnnMqttCallbacks callbacks;
  gpointer user_data;
  GThread *thread;

  GMutex lock;
  GCond cond;
  gboolean closing;             /* under lock */
  gchar *last_tls_error;        /* under lock: libmosquitto's last OpenSSL
                                 * error line, for warnings */

  gint connected;               /* atomic */
  gint ever_connected;          /* atomic */
  gint unreachable;             /* atomic: gst_maskrcnn_mqtt_unreachable() */

  /* The network thread's (and gst_maskrcnn_mqtt_new()'s before the thread
   * starts). */
  gint connack;                 /* the last refusal in a CONNACK; 0: none */
  gboolean warned;              /* a warning went out for this outage */
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

/* A user's string as an error message may show it: as is when it is
 * printable UTF-8, escaped otherwise, and cut when long. New string. */
static gchar *
for_message (const gchar * s)
{
  gboolean printable = g_utf8_validate (s, -1, NULL);
  gchar *out;

  for (const gchar * p = s; printable && *p; p++)
    printable = (guchar) * p >= 0x20 && *p != 0x7f;
  out = printable ? g_strdup (s) : g_strescape (s, NULL);
  if (g_utf8_strlen (out, -1) > 80) {
    gchar *cut = g_utf8_substring (out, 0, 77);

    g_free (out);
    out = g_strconcat (cut, "...", NULL);
    g_free (cut);
  }
  return out;
}

/* What makes `topic` unfit for publishing, or NULL. libmosquitto's own
 * mosquitto_pub_topic_check() only looks for wildcards; a topic that is
 * not UTF-8 would pass it and then fail every single publish. */
static const gchar *
topic_problem (const gchar * topic)
{
  gsize len = topic ? strlen (topic) : 0;

  if (len == 0)
    return "a topic cannot be empty";
  if (len > 65535)
    return "a topic is at most 65535 bytes long";
  if (mosquitto_validate_utf8 (topic, (int) len) != MOSQ_ERR_SUCCESS)
    return "a topic is UTF-8 text without control characters (U+0000 to "
        "U+001F, U+007F to U+009F)";
  if (strpbrk (topic, "+#"))
    return "the wildcards + and # are for subscriptions, a publish topic "
        "cannot hold them";
  if (topic[0] == '$')
    return "topics that start with $ are the broker's own ($SYS)";
  return NULL;
}

/* ------------------------------------------------------------ callbacks */

static void
on_connect (struct mosquitto *mosq, void *data, int rc)
{
  GstMaskRcnnMqtt *m = data;

  if (rc != 0) {
    /* The broker answered but refused us; the loop decides what to do
     * once libmosquitto has closed the connection. */
    m->connack = rc;
    return;
  }
  if (m->tls && !m->tls_verify)
    GST_WARNING_OBJECT (m->element, "connected to the MQTT broker at %s "
        "over TLS WITHOUT verifying its certificate (tls-verify=false): "
        "anyone on the path can read and forge the documents", m->address);
  else
    GST_INFO_OBJECT (m->element, "connected to the MQTT broker at %s%s",
        m->address, m->tls ? " (TLS, certificate verified)" : "");
  m->warned = FALSE;
  g_atomic_int_set (&m->ever_connected, 1);
  g_atomic_int_set (&m->unreachable, 0);
  g_atomic_int_set (&m->connected, 1);
  m->callbacks.connection (m->user_data, TRUE);
}

static void
on_publish (struct mosquitto *mosq, void *data, int mid)
{
  GstMaskRcnnMqtt *m = data;

  m->callbacks.sent (m->user_data);
}

/* libmosquitto's log into ours. It never logs the password. */
static void
on_log (struct mosquitto *mosq, void *data, int level, const char *str)
{
  GstMaskRcnnMqtt *m = data;
  GstDebugLevel gst_level = GST_LEVEL_LOG;

  if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
    gst_level = GST_LEVEL_WARNING;
  else if (level & (MOSQ_LOG_NOTICE | MOSQ_LOG_INFO))
    gst_level = GST_LEVEL_INFO;
  if (g_str_has_prefix (str, "OpenSSL Error")) {
    g_mutex_lock (&m->lock);
    g_free (m->last_tls_error);
    m->last_tls_error = g_strdup (str);
    g_mutex_unlock (&m->lock);
  }
  GST_CAT_LEVEL_LOG (GST_CAT_DEFAULT, gst_level, m->element,
      "libmosquitto: %s", str);
}

/* ------------------------------------------------------------ outcomes */

static void
begin_attempt (GstMaskRcnnMqtt * m)
{
  m->connack = 0;
  if (m->tls)
    gst_maskrcnn_tls_reset (m->tls);
  g_mutex_lock (&m->lock);
  g_clear_pointer (&m->last_tls_error, g_free);
  g_mutex_unlock (&m->lock);
}

/* If the attempt ended in a refusal that a retry cannot mend, tells the
 * element (first, so that the stream has failed by the time anyone sees
 * the error), posts the error and returns TRUE. */
static gboolean
refused (GstMaskRcnnMqtt * m)
{
  gchar *why, *hint = NULL;
  gboolean by_broker = FALSE;

  if (m->connack != 0 && m->connack != CONNACK_SERVER_UNAVAILABLE) {
    const gchar *reason = mosquitto_connack_string (m->connack);

    m->callbacks.refused (m->user_data);

    /* "Connection Refused: not authorised." -> "not authorised" */
    if (g_str_has_prefix (reason, "Connection Refused: "))
      reason += strlen ("Connection Refused: ");
    why = g_strndup (reason, strlen (reason) -
        (g_str_has_suffix (reason, ".") ? 1 : 0));
    if (m->connack == 4 || m->connack == 5) {
      if (m->username)
        GST_ELEMENT_ERROR (m->element, RESOURCE, NOT_AUTHORIZED,
            ("The MQTT broker at %s refused the login of user \"%s\": %s.",
                m->address, m->username, why),
            ("CONNACK code %d. Check username and password (or "
                "password-file) against the broker's password file and "
                "ACL; a refused login is not retried.", m->connack));
      else
        GST_ELEMENT_ERROR (m->element, RESOURCE, NOT_AUTHORIZED,
            ("The MQTT broker at %s refused the connection without a "
                "login: %s.", m->address, why),
            ("CONNACK code %d. The broker wants a login: set username and "
                "password (or password-file); a refused connection is not "
                "retried.", m->connack));
    } else {
      GST_ELEMENT_ERROR (m->element, RESOURCE, OPEN_WRITE,
          ("The MQTT broker at %s refused the connection: %s.", m->address,
              why),
          ("CONNACK code %d. Check the broker's listener settings and the "
              "client-id property; the connection is not retried.",
              m->connack));
    }
    g_free (why);
    return TRUE;
  }
  if (m->tls && (why = gst_maskrcnn_tls_get_failure (m->tls, &hint,
              &by_broker))) {
    m->callbacks.refused (m->user_data);
    if (by_broker)
      GST_ELEMENT_ERROR (m->element, RESOURCE, NOT_AUTHORIZED,
          ("The MQTT broker at %s refused the TLS connection with %s.",
              m->address, why), ("%s It is not retried.", hint));
    else
      GST_ELEMENT_ERROR (m->element, RESOURCE, OPEN_WRITE,
          ("Could not connect to the MQTT broker at %s: %s.", m->address,
              why), ("%s It is not retried.", hint));
    g_free (why);
    g_free (hint);
    return TRUE;
  }
  return FALSE;
}

/* A connection attempt failed or a connection ended with result `rc`.
 * Returns TRUE when the client must stop (refused() said why); otherwise
 * warns, once per outage. */
static gboolean
connection_ended (GstMaskRcnnMqtt * m, gint rc)
{
  gboolean was_connected = g_atomic_int_exchange (&m->connected, 0);
  gboolean stop = refused (m);
  gchar *tls_error, *detail;

  if (stop || !g_atomic_int_get (&m->ever_connected))
    g_atomic_int_set (&m->unreachable, 1);
  /* Also after a failed attempt: whoever waits for the broker learns that
   * it did not answer. */
  m->callbacks.connection (m->user_data, FALSE);
  if (stop)
    return TRUE;

  g_mutex_lock (&m->lock);
  tls_error = g_strdup (m->last_tls_error);
  g_mutex_unlock (&m->lock);
  if (m->connack == CONNACK_SERVER_UNAVAILABLE)
    detail = g_strdup (mosquitto_connack_string (m->connack));
  else if (tls_error)
    detail = g_strdup_printf ("%s (%s)", mqtt_strerror (rc), tls_error);
  else
    detail = g_strdup (mqtt_strerror (rc));
  g_free (tls_error);
  /* libmosquitto's texts end with a full stop, the messages add theirs. */
  if (g_str_has_suffix (detail, "."))
    detail[strlen (detail) - 1] = '\0';

  if (was_connected)
    GST_ELEMENT_WARNING (m->element, RESOURCE, WRITE,
        ("Lost the connection to the MQTT broker at %s; reconnecting.",
            m->address),
        ("%s. Frames wait in the queue (max-queue) meanwhile; the oldest "
            "are dropped when it is full.", detail));
  else if (!m->warned)
    GST_ELEMENT_WARNING (m->element, RESOURCE, OPEN_WRITE,
        ("The MQTT broker at %s is unreachable; retrying in the background.",
            m->address),
        ("%s. Frames wait in the queue (max-queue) until it answers; the "
            "oldest are dropped when it is full.", detail));
  else
    GST_DEBUG_OBJECT (m->element, "MQTT broker at %s still unreachable: %s",
        m->address, detail);
  m->warned = TRUE;
  g_free (detail);
  return FALSE;
}

/* ------------------------------------------------------------ thread */

static gboolean
is_closing (GstMaskRcnnMqtt * m)
{
  gboolean closing;

  g_mutex_lock (&m->lock);
  closing = m->closing;
  g_mutex_unlock (&m->lock);
  return closing;
}

/* Waits `delay` unless the client is being freed; FALSE then. */
static gboolean
backoff (GstMaskRcnnMqtt * m, gint64 delay)
{
  gint64 until = g_get_monotonic_time () + delay;
  gboolean closing;

  g_mutex_lock (&m->lock);
  while (!m->closing && g_cond_wait_until (&m->cond, &m->lock, until));
  closing = m->closing;
  g_mutex_unlock (&m->lock);
  return !closing;
}

static gpointer
network_main (gpointer data)
{
  GstMaskRcnnMqtt *m = data;
  gint64 delay = RECONNECT_MIN, close_deadline = 0;
  /* gst_maskrcnn_mqtt_new() made the first attempt; no socket means it
   * failed. */
  gboolean need_connect = mosquitto_socket (m->mosq) < 0;

  for (;;) {
    gint rc;

    if (is_closing (m)) {
      /* Let the DISCONNECT that gst_maskrcnn_mqtt_free() queued go out. */
      if (!close_deadline)
        close_deadline = g_get_monotonic_time () + CLOSE_TIMEOUT;
      if (need_connect || mosquitto_socket (m->mosq) < 0 ||
          !g_atomic_int_get (&m->connected) ||
          g_get_monotonic_time () >= close_deadline)
        break;
    }
    if (need_connect) {
      if (!backoff (m, delay))
        continue;
      delay = MIN (delay * 2, RECONNECT_MAX);
      begin_attempt (m);
      rc = mosquitto_reconnect_async (m->mosq);
      if (rc != MOSQ_ERR_SUCCESS) {
        if (connection_ended (m, rc))
          break;
        continue;
      }
      need_connect = FALSE;
    }
    rc = mosquitto_loop (m->mosq, LOOP_TIMEOUT_MS, 1);
    if (g_atomic_int_get (&m->connected))
      delay = RECONNECT_MIN;
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket (m->mosq) >= 0)
      continue;
    need_connect = TRUE;
    if (is_closing (m))
      break;
    if (connection_ended (m, rc))
      break;
  }
  return NULL;
}

/* ------------------------------------------------------------ API */

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

/* Settings that can never work: posts the error and returns FALSE. */
static gboolean
check_settings (GstElement * element, const GstMaskRcnnMqttSettings * s)
{
  const struct
  {
    const gchar *value, *what, *hint;
  } strings[] = {
    {s->client_id, "client id", "Many brokers also want at most 23 letters "
          "and digits; unset client-id for a random one."},
    {s->username, "user name", ""},
  };
  const gchar *problem = topic_problem (s->topic);
  gchar *shown;

  if (problem) {
    shown = for_message (s->topic ? s->topic : "");
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
        ("Invalid MQTT topic \"%s\": %s.", shown, problem),
        ("Set the topic property to a publish topic such as "
            "cameras/entrance/detections."));
    g_free (shown);
    return FALSE;
  }
  for (guint k = 0; k < G_N_ELEMENTS (strings); k++) {
    gsize len = strings[k].value ? strlen (strings[k].value) : 0;

    if (strings[k].value && (len == 0 || len > 65535 ||
            mosquitto_validate_utf8 (strings[k].value,
                (int) len) != MOSQ_ERR_SUCCESS)) {
      shown = for_message (strings[k].value);
      GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
          ("Invalid MQTT %s \"%s\".", strings[k].what, shown),
          ("An MQTT %s is non-empty UTF-8 text without control characters, "
              "at most 65535 bytes. %s", strings[k].what, strings[k].hint));
      g_free (shown);
      return FALSE;
    }
  }
  if (s->password && !s->username) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
        ("A password is set but no user name."),
        ("MQTT sends a password only with a user name: set username."));
    return FALSE;
  }
  if (s->password && strlen (s->password) > 65535) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
        ("The password is longer than MQTT allows (65535 bytes)."), (NULL));
    return FALSE;
  }
  return TRUE;
}

static void
mqtt_destroy (GstMaskRcnnMqtt * m)
{
  /* libmosquitto holds a reference to the TLS context, whose callbacks
   * point at m->tls: the client goes first. */
  if (m->mosq)
    mosquitto_destroy (m->mosq);
  gst_maskrcnn_tls_free (m->tls);
  g_free (m->address);
  g_free (m->host);
  g_free (m->topic);
  g_free (m->username);
  g_free (m->last_tls_error);
  g_mutex_clear (&m->lock);
  g_cond_clear (&m->cond);
  g_free (m);
}

GstMaskRcnnMqtt *
gst_maskrcnn_mqtt_new (GstElement * element,
    const GstMaskRcnnMqttSettings * s,
    const GstMaskRcnnMqttCallbacks * callbacks, gpointer user_data)
{
  GstMaskRcnnMqtt *m;
  gchar *host = NULL;
  gint port = 0, rc;
  gboolean tls = s->tls || s->tls_ca_file || s->tls_cert_file ||
      s->tls_key_file;
  GError *err = NULL;

  if (!parse_address (s->address, &host, &port)) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
        ("Invalid MQTT broker address \"%s\".", GST_STR_NULL (s->address)),
        ("Set address to host:port, e.g. 127.0.0.1:1883 or [::1]:1883 "
            "(TLS brokers usually listen on 8883)."));
    return NULL;
  }
  if (!check_settings (element, s)) {
    g_free (host);
    return NULL;
  }

  m = g_new0 (GstMaskRcnnMqtt, 1);
  g_mutex_init (&m->lock);
  g_cond_init (&m->cond);
  m->element = element;
  m->address = g_strdup (s->address);
  m->host = host;
  m->port = port;
  m->topic = g_strdup (s->topic);
  m->username = g_strdup (s->username);
  m->qos = s->qos;
  m->tls_verify = s->tls_verify;
  m->callbacks = *callbacks;
  m->user_data = user_data;

  if (tls) {
    m->tls = gst_maskrcnn_tls_new (host, s->tls_ca_file, s->tls_cert_file,
        s->tls_key_file, s->tls_verify, &err);
    if (!m->tls) {
      gst_element_message_full (element, GST_MESSAGE_ERROR, err->domain,
          err->code, g_strdup (err->message),
          g_strdup ("The TLS settings of maskrcnnpublish cannot work; fix "
              "the tls-* properties."), __FILE__, GST_FUNCTION, __LINE__);
      g_error_free (err);
      goto fail;
    }
    if (!s->tls_verify)
      GST_ELEMENT_WARNING (element, RESOURCE, SETTINGS,
          ("TLS certificate verification is OFF (tls-verify=false): the "
              "MQTT broker at %s is not authenticated.", s->address),
          ("Anyone who can intercept the connection can read the documents "
              "and the password. Use it only for tests; set tls-ca-file to "
              "the broker's CA instead."));
  } else if (s->password) {
    GST_WARNING_OBJECT (element, "the MQTT password goes to %s unencrypted: "
        "use TLS (tls-ca-file) for a broker that is not on this machine",
        s->address);
  }

  mosquitto_init_once ();
  m->mosq = mosquitto_new (s->client_id, TRUE, m);
  if (!m->mosq) {
    GST_ELEMENT_ERROR (element, LIBRARY, INIT,
        ("Could not create the MQTT client."),
        ("mosquitto_new: %s", g_strerror (errno)));
    goto fail;
  }
  /* Our thread runs the loop: libmosquitto must not write from the
   * publishing thread. */
  mosquitto_threaded_set (m->mosq, TRUE);
  mosquitto_connect_callback_set (m->mosq, on_connect);
  mosquitto_publish_callback_set (m->mosq, on_publish);
  mosquitto_log_callback_set (m->mosq, on_log);
  if (s->username &&
      (rc = mosquitto_username_pw_set (m->mosq, s->username,
              s->password)) != MOSQ_ERR_SUCCESS) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
        ("Could not set the MQTT login."),
        ("mosquitto_username_pw_set: %s", mosquitto_strerror (rc)));
    goto fail;
  }
  if (m->tls) {
    /* Our context as it is: libmosquitto must not add its own
     * verification, which would replace ours. */
    rc = mosquitto_int_option (m->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
    if (rc == MOSQ_ERR_SUCCESS)
      rc = mosquitto_void_option (m->mosq, MOSQ_OPT_SSL_CTX,
          gst_maskrcnn_tls_get_context (m->tls));
    if (rc != MOSQ_ERR_SUCCESS) {
      GST_ELEMENT_ERROR (element, LIBRARY, INIT,
          ("This libmosquitto cannot connect with TLS."),
          ("MOSQ_OPT_SSL_CTX: %s", mosquitto_strerror (rc)));
      goto fail;
    }
  }

  begin_attempt (m);
  rc = mosquitto_connect_async (m->mosq, m->host, m->port, MQTT_KEEPALIVE_S);
  if (rc == MOSQ_ERR_EAI) {
    GST_ELEMENT_ERROR (element, RESOURCE, NOT_FOUND,
        ("Could not resolve the MQTT broker's host \"%s\".", m->host),
        ("Check the address property (%s).", s->address));
    goto fail;
  } else if (rc == MOSQ_ERR_INVAL) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
        ("Invalid MQTT settings for the broker at %s.", s->address),
        ("mosquitto_connect_async: %s", mosquitto_strerror (rc)));
    goto fail;
  } else if (rc != MOSQ_ERR_SUCCESS && connection_ended (m, rc)) {
    /* Refused at once (a fast TLS handshake that failed verification).
     * The start succeeds all the same, as when the refusal comes a moment
     * later from the network thread: the error is posted, the stream
     * fails, and the client does nothing more. */
    return m;
  }
  /* Otherwise unreachable for now, or connecting: a live pipeline keeps
   * running while the broker restarts or the network comes back. */

  m->thread = g_thread_try_new ("maskrcnnpublish-mqtt", network_main, m,
      &err);
  if (!m->thread) {
    GST_ELEMENT_ERROR (element, LIBRARY, INIT,
        ("Could not start the MQTT client's network thread."),
        ("%s", err->message));
    g_error_free (err);
    goto fail;
  }
  return m;

fail:
  mqtt_destroy (m);
  return NULL;
}

gboolean
gst_maskrcnn_mqtt_unreachable (GstMaskRcnnMqtt * mqtt)
{
  return g_atomic_int_get (&mqtt->unreachable);
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
  if (!mqtt)
    return;
  g_mutex_lock (&mqtt->lock);
  mqtt->closing = TRUE;
  g_cond_broadcast (&mqtt->cond);
  g_mutex_unlock (&mqtt->lock);
  /* Queues a DISCONNECT and wakes the loop through libmosquitto's socket
   * pair; without a connection it only marks the client disconnected. */
  mosquitto_disconnect (mqtt->mosq);
  if (mqtt->thread)
    g_thread_join (mqtt->thread);
  mqtt_destroy (mqtt);
}
