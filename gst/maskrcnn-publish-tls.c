/* gst-maskrcnn: the TLS side of maskrcnnpublish's MQTT client (OpenSSL).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "maskrcnn-publish-tls.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <gst/gst.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct _GstMaskRcnnTls
{
  SSL_CTX *ctx;
  gchar *host;
  /* The last attempt's failure, written by OpenSSL's callbacks on the
   * thread that runs the handshake and read by that thread. */
  glong verify_error;           /* X509_V_OK: none */
  gint verify_depth;
  gchar *verify_subject;
  gint alert;                   /* a fatal alert from the broker; -1: none */
};

/* Where our struct hangs on the SSL_CTX (OpenSSL's ex data). */
static gint
tls_ex_index (void)
{
  static gsize index = 0;

  if (g_once_init_enter (&index)) {
    gint i = SSL_CTX_get_ex_new_index (0, (void *) "gst-maskrcnn", NULL,
        NULL, NULL);
    g_once_init_leave (&index, (gsize) i + 1);
  }
  return (gint) index - 1;
}

static GstMaskRcnnTls *
tls_of_ssl (const SSL * ssl)
{
  return ssl ? SSL_CTX_get_ex_data (SSL_get_SSL_CTX (ssl),
      tls_ex_index ()) : NULL;
}

/* OpenSSL's verification decides; this only keeps the first failure, and
 * which certificate it was about. */
static int
verify_cb (int ok, X509_STORE_CTX * store)
{
  SSL *ssl = X509_STORE_CTX_get_ex_data (store,
      SSL_get_ex_data_X509_STORE_CTX_idx ());
  GstMaskRcnnTls *tls = tls_of_ssl (ssl);

  if (!ok && tls && tls->verify_error == X509_V_OK) {
    X509 *cert = X509_STORE_CTX_get_current_cert (store);
    gchar subject[256] = "";

    tls->verify_error = X509_STORE_CTX_get_error (store);
    tls->verify_depth = X509_STORE_CTX_get_error_depth (store);
    if (cert)
      X509_NAME_oneline (X509_get_subject_name (cert), subject,
          sizeof subject);
    g_free (tls->verify_subject);
    tls->verify_subject = g_strdup (subject);
  }
  return ok;
}

static void
info_cb (const SSL * ssl, int where, int ret)
{
  GstMaskRcnnTls *tls;

  if (!(where & SSL_CB_READ_ALERT) || (ret >> 8) != SSL3_AL_FATAL)
    return;
  tls = tls_of_ssl (ssl);
  if (tls && tls->alert < 0)
    tls->alert = ret;
}

/* An encrypted key would make OpenSSL prompt on the terminal: refuse it. */
static int
no_password_cb (char *buf, int size, int rwflag, void *data)
{
  if (data)
    *(gboolean *) data = TRUE;
  return 0;
}

static const gchar *
openssl_reason (void)
{
  const gchar *r = ERR_reason_error_string (ERR_peek_last_error ());

  return r ? r : "unknown OpenSSL error";
}

/* A clear message for a file that is missing or unreadable, before
 * OpenSSL's terser one. */
static gboolean
check_readable (const gchar * path, const gchar * property, GError ** error)
{
  gint fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0) {
    gint e = errno;

    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ,
        "Could not read %s \"%s\": %s.", property, path, g_strerror (e));
    return FALSE;
  }
  close (fd);
  return TRUE;
}

GstMaskRcnnTls *
gst_maskrcnn_tls_new (const gchar * host, const gchar * ca_file,
    const gchar * cert_file, const gchar * key_file, gboolean verify,
    GError ** error)
{
  GstMaskRcnnTls *tls;
  gboolean key_encrypted = FALSE;

  if ((cert_file == NULL) != (key_file == NULL)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "A client certificate needs both tls-cert-file and tls-key-file; "
        "only %s is set.", cert_file ? "tls-cert-file" : "tls-key-file");
    return NULL;
  }
  if ((ca_file && !check_readable (ca_file, "tls-ca-file", error)) ||
      (cert_file && !check_readable (cert_file, "tls-cert-file", error)) ||
      (key_file && !check_readable (key_file, "tls-key-file", error)))
    return NULL;

  tls = g_new0 (GstMaskRcnnTls, 1);
  tls->host = g_strdup (host);
  tls->alert = -1;
  ERR_clear_error ();
  tls->ctx = SSL_CTX_new (TLS_client_method ());
  if (!tls->ctx) {
    g_set_error (error, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_INIT,
        "Could not create a TLS context: %s.", openssl_reason ());
    goto fail;
  }
  SSL_CTX_set_ex_data (tls->ctx, tls_ex_index (), tls);
  SSL_CTX_set_min_proto_version (tls->ctx, TLS1_2_VERSION);
  SSL_CTX_set_info_callback (tls->ctx, info_cb);
  SSL_CTX_set_default_passwd_cb (tls->ctx, no_password_cb);
  SSL_CTX_set_default_passwd_cb_userdata (tls->ctx, &key_encrypted);

  if (ca_file) {
    if (SSL_CTX_load_verify_locations (tls->ctx, ca_file, NULL) != 1) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
          "tls-ca-file \"%s\" holds no usable CA certificate (PEM): %s.",
          ca_file, openssl_reason ());
      goto fail;
    }
  } else if (SSL_CTX_set_default_verify_paths (tls->ctx) != 1) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
        "Could not load the system's trusted CA certificates: %s. Set "
        "tls-ca-file.", openssl_reason ());
    goto fail;
  }

  if (cert_file) {
    if (SSL_CTX_use_certificate_chain_file (tls->ctx, cert_file) != 1) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
          "tls-cert-file \"%s\" holds no usable certificate (PEM): %s.",
          cert_file, openssl_reason ());
      goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file (tls->ctx, key_file,
            SSL_FILETYPE_PEM) != 1) {
      if (ERR_GET_REASON (ERR_peek_last_error ()) ==
          X509_R_KEY_VALUES_MISMATCH)
        g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
            "The client certificate \"%s\" and the key \"%s\" do not "
            "belong together: %s.", cert_file, key_file, openssl_reason ());
      else if (key_encrypted)
        g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
            "tls-key-file \"%s\" is encrypted; maskrcnnpublish needs the "
            "key unencrypted (openssl pkey -in KEY -out NEW-KEY), in a file "
            "only the pipeline's user can read.", key_file);
      else
        g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
            "tls-key-file \"%s\" holds no usable private key (PEM): %s.",
            key_file, openssl_reason ());
      goto fail;
    }
    if (SSL_CTX_check_private_key (tls->ctx) != 1) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "The client certificate \"%s\" and the key \"%s\" do not belong "
          "together: %s.", cert_file, key_file, openssl_reason ());
      goto fail;
    }
  }
  /* The flag lives on this stack; the callback stays, so that nothing
   * ever prompts. */
  SSL_CTX_set_default_passwd_cb_userdata (tls->ctx, NULL);

  if (verify) {
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param (tls->ctx);
    gint ok;

    /* OpenSSL's own host name check, for a name or an IP address (which
     * must be an iPAddress entry of the certificate, not a DNS name). */
    X509_VERIFY_PARAM_set_hostflags (param,
        X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (g_hostname_is_ip_address (host))
      ok = X509_VERIFY_PARAM_set1_ip_asc (param, host);
    else
      ok = X509_VERIFY_PARAM_set1_host (param, host, 0);
    if (ok != 1) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "Cannot verify the broker's certificate for host \"%s\": %s.",
          host, openssl_reason ());
      goto fail;
    }
    SSL_CTX_set_verify (tls->ctx, SSL_VERIFY_PEER, verify_cb);
  } else {
    SSL_CTX_set_verify (tls->ctx, SSL_VERIFY_NONE, NULL);
  }
  ERR_clear_error ();
  return tls;

fail:
  ERR_clear_error ();
  gst_maskrcnn_tls_free (tls);
  return NULL;
}

gpointer
gst_maskrcnn_tls_get_context (GstMaskRcnnTls * tls)
{
  return tls->ctx;
}

void
gst_maskrcnn_tls_reset (GstMaskRcnnTls * tls)
{
  tls->verify_error = X509_V_OK;
  tls->verify_depth = 0;
  g_clear_pointer (&tls->verify_subject, g_free);
  tls->alert = -1;
}

static const gchar *
verify_hint (glong err)
{
  switch (err) {
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
      return "The broker's certificate is not signed by a CA this element "
          "trusts: set tls-ca-file to the CA certificate that signed it "
          "(without tls-ca-file, the system's CAs are trusted).";
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "Renew the broker's certificate, or check this machine's "
          "clock.";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "The certificate is not for the host in the address property: "
          "connect by a host name or IP address that the certificate's "
          "subjectAltName lists, or reissue it for this one.";
    default:
      return "Check the broker's certificate and tls-ca-file.";
  }
}

/* OpenSSL 3.0 names the TLS 1.3 alerts "unknown"; a broker that wants a
 * client certificate sends one of them. */
static const gchar *
alert_text (gint alert)
{
  switch (alert & 0xff) {
    case 109:
      return "missing extension";
    case 116:
      return "certificate required";
    case 120:
      return "no application protocol";
    default:
      return SSL_alert_desc_string_long (alert);
  }
}

gchar *
gst_maskrcnn_tls_get_failure (GstMaskRcnnTls * tls, gchar ** hint,
    gboolean * refused_by_broker)
{
  if (tls->verify_error != X509_V_OK) {
    *refused_by_broker = FALSE;
    *hint = g_strdup (verify_hint (tls->verify_error));
    return g_strdup_printf ("certificate verify failed: %s (certificate "
        "\"%s\", depth %d, for host \"%s\")",
        X509_verify_cert_error_string (tls->verify_error),
        tls->verify_subject ? tls->verify_subject : "", tls->verify_depth,
        tls->host);
  }
  if (tls->alert >= 0) {
    *refused_by_broker = TRUE;
    *hint = g_strdup ("The broker ended the TLS handshake. If it asks for "
        "a client certificate, set tls-cert-file and tls-key-file to one "
        "that its CA signed; also check its TLS versions (TLS 1.2 or newer "
        "here).");
    return g_strdup_printf ("the alert \"%s\"", alert_text (tls->alert));
  }
  return NULL;
}

void
gst_maskrcnn_tls_free (GstMaskRcnnTls * tls)
{
  if (!tls)
    return;
  if (tls->ctx)
    SSL_CTX_free (tls->ctx);
  g_free (tls->verify_subject);
  g_free (tls->host);
  g_free (tls);
}
