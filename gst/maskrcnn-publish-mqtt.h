/* gst-maskrcnn: maskrcnnpublish's MQTT client (libmosquitto).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASKRCNN_PUBLISH_MQTT_H__
#define __GST_MASKRCNN_PUBLISH_MQTT_H__

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _GstMaskRcnnMqtt GstMaskRcnnMqtt;

/* Called from the client's network thread. */
typedef struct {
  /* The connection to the broker came up (TRUE), or went away or an
   * attempt failed (FALSE). */
  void (*connection) (gpointer user_data, gboolean up);
  /* A message was written to the socket (QoS 0) or acknowledged (QoS 1,
   * 2). */
  void (*sent) (gpointer user_data);
  /* The broker refused us for a reason that only a change of settings
   * mends (a login, a certificate): the error is posted and the client
   * has stopped for good. */
  void (*refused) (gpointer user_data);
} GstMaskRcnnMqttCallbacks;

/* What the client needs; the strings are only read during
 * gst_maskrcnn_mqtt_new(), which copies what it keeps. */
typedef struct {
  const gchar *address;         /* host:port, [v6]:port or host */
  const gchar *topic;
  const gchar *client_id;       /* NULL: a random one */
  gint qos;
  const gchar *username;        /* NULL: no login */
  const gchar *password;        /* NULL: none; a secret, never logged */
  /* TLS is used when `tls` is set or any file is given. With no CA file
   * the system's trusted CAs verify the broker. */
  gboolean tls;
  const gchar *tls_ca_file;
  const gchar *tls_cert_file;   /* with tls_key_file: a client certificate */
  const gchar *tls_key_file;
  gboolean tls_verify;          /* check the broker's chain and host name */
} GstMaskRcnnMqttSettings;

/* Checks the settings, loads the TLS files, creates the client and starts
 * connecting to the broker on a network thread of its own. Settings that
 * can never work (a bad address or topic, a host name that does not
 * resolve, unreadable or mismatched TLS files, a password without a user
 * name) post an error on `element` and return NULL. An unreachable broker
 * posts a warning and is retried in the background (1 s, backing off to
 * 8 s), as is a broker that goes away later. A broker that refuses the
 * login, or whose certificate fails verification, gets an error naming the
 * cause and the `refused` callback; there is no retry then. `element` must
 * outlive the client. Free with gst_maskrcnn_mqtt_free(). */
GstMaskRcnnMqtt *gst_maskrcnn_mqtt_new (GstElement * element,
    const GstMaskRcnnMqttSettings * settings,
    const GstMaskRcnnMqttCallbacks * callbacks, gpointer user_data);

/* Whether an attempt to connect has failed and none ever succeeded (or the
 * client was refused): the broker is down, not restarting, and nothing
 * queued is worth waiting for at EOS. FALSE while a first connection is
 * still under way. */
gboolean gst_maskrcnn_mqtt_unreachable (GstMaskRcnnMqtt * mqtt);

/* Hands one document to libmosquitto for the topic. Returns FALSE when it
 * could not (no connection): the document is lost. */
gboolean gst_maskrcnn_mqtt_publish (GstMaskRcnnMqtt * mqtt,
    const gchar * document);

/* Disconnects, stops the network thread and frees the client. */
void gst_maskrcnn_mqtt_free (GstMaskRcnnMqtt * mqtt);

G_END_DECLS

#endif /* __GST_MASKRCNN_PUBLISH_MQTT_H__ */
