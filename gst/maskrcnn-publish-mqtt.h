/* gst-maskrcnn: maskrcnnpublish's MQTT client (libmosquitto).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASKRCNN_PUBLISH_MQTT_H__
#define __GST_MASKRCNN_PUBLISH_MQTT_H__

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _GstMaskRcnnMqtt GstMaskRcnnMqtt;

/* Called from libmosquitto's network thread. */
typedef struct {
  /* The connection to the broker came up (TRUE) or went away (FALSE). */
  void (*connection) (gpointer user_data, gboolean up);
  /* A message was written to the socket (QoS 0) or acknowledged (QoS 1,
   * 2). */
  void (*sent) (gpointer user_data);
} GstMaskRcnnMqttCallbacks;

/* Checks the settings, creates the client and starts connecting to the
 * broker at `address` (host:port). Settings that can never work (a bad
 * address or topic, a host name that does not resolve) post an error on
 * `element` and return NULL. An unreachable broker posts a warning and
 * returns a client that is not running yet: call
 * gst_maskrcnn_mqtt_retry_connect() until it is. `element` must outlive
 * the client. Free with gst_maskrcnn_mqtt_free(). */
GstMaskRcnnMqtt *gst_maskrcnn_mqtt_new (GstElement * element,
    const gchar * address, const gchar * topic, const gchar * client_id,
    gint qos, const GstMaskRcnnMqttCallbacks * callbacks,
    gpointer user_data);

/* Whether libmosquitto's network thread runs: it does once a first
 * connection got under way, and from then on it reconnects by itself. */
gboolean gst_maskrcnn_mqtt_is_running (GstMaskRcnnMqtt * mqtt);

/* One more try at the first connection (libmosquitto does not retry one
 * that failed). Call from one thread only, while not running. Returns
 * FALSE while the broker is unreachable; sets *fatal (after posting an
 * error) when the network thread cannot start. */
gboolean gst_maskrcnn_mqtt_retry_connect (GstMaskRcnnMqtt * mqtt,
    gboolean * fatal);

/* Hands one document to libmosquitto for the topic. Returns FALSE when it
 * could not (no connection): the document is lost. */
gboolean gst_maskrcnn_mqtt_publish (GstMaskRcnnMqtt * mqtt,
    const gchar * document);

/* Disconnects, stops the network thread and frees the client. */
void gst_maskrcnn_mqtt_free (GstMaskRcnnMqtt * mqtt);

G_END_DECLS

#endif /* __GST_MASKRCNN_PUBLISH_MQTT_H__ */
