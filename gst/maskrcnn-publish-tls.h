/* gst-maskrcnn: the TLS side of maskrcnnpublish's MQTT client (OpenSSL).
 *
 * libmosquitto takes an OpenSSL context of ours (MOSQ_OPT_SSL_CTX), so that
 * the broker's certificate is checked by OpenSSL's own chain and host name
 * verification and the reason of a failure ("self-signed certificate",
 * "certificate has expired", "hostname mismatch") and a fatal alert from
 * the broker ("certificate required") are kept for the error message,
 * where libmosquitto's log only says "certificate verify failed".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASKRCNN_PUBLISH_TLS_H__
#define __GST_MASKRCNN_PUBLISH_TLS_H__

#include <glib.h>

G_BEGIN_DECLS

typedef struct _GstMaskRcnnTls GstMaskRcnnTls;

/* A client context for connecting to `host` (a name or an IP address,
 * which the broker's certificate must hold when `verify` is set). With
 * `ca_file` NULL the system's trusted CAs are used; `cert_file` and
 * `key_file` (PEM, the key unencrypted) give a client certificate, both or
 * neither. Returns NULL and sets `error` (GST_RESOURCE_ERROR) when a file
 * cannot be read or the certificate and key do not match. Free with
 * gst_maskrcnn_tls_free(). */
GstMaskRcnnTls *gst_maskrcnn_tls_new (const gchar * host,
    const gchar * ca_file, const gchar * cert_file, const gchar * key_file,
    gboolean verify, GError ** error);

/* The OpenSSL SSL_CTX, for MOSQ_OPT_SSL_CTX (libmosquitto takes its own
 * reference). */
gpointer gst_maskrcnn_tls_get_context (GstMaskRcnnTls * tls);

/* Forgets what the previous connection attempt recorded. Call before each
 * attempt, from the thread that runs the connection. */
void gst_maskrcnn_tls_reset (GstMaskRcnnTls * tls);

/* Why the last attempt's TLS failed, when the cause is one that a retry
 * cannot mend: the broker's certificate failed verification, or the broker
 * sent a fatal alert (it refused our certificate or has none from us).
 * Returns NULL otherwise. *hint gets what the user can do about it; both
 * strings are new (g_free). *refused_by_broker tells an alert (the broker
 * refused us) from a failed verification (we refused the broker). */
gchar *gst_maskrcnn_tls_get_failure (GstMaskRcnnTls * tls, gchar ** hint,
    gboolean * refused_by_broker);

void gst_maskrcnn_tls_free (GstMaskRcnnTls * tls);

G_END_DECLS

#endif /* __GST_MASKRCNN_PUBLISH_TLS_H__ */
