/* maskrcnnpublish against a broker that lets no one in: a real mosquitto
 * on 127.0.0.1 with TLS listeners (a login with a password file, a client
 * certificate, an expired, a self-signed and a wrongly named server
 * certificate), every certificate made here with the openssl tool, and a
 * plain listener where the test's subscriber reads what was published.
 *
 * Documents arrive over TLS with a login (password or password-file) and
 * with a client certificate; a wrong password, an untrusted CA, a
 * self-signed, an expired and a wrongly named certificate, and a missing
 * client certificate each end the stream with an error naming the cause,
 * and are not retried; tls-verify=false connects and warns at each start;
 * the broker restarted under TLS loses nothing; the password appears in no
 * output (gst-launch-1.0 -v with every debug category at level 7, pipeline
 * dumps, gst-inspect-1.0, error messages). */
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <openssl/x509.h>

#include "gst-test-util.h"
#include "publish-test-util.h"

/* Made once per test process (an unchecked fixture runs before the tests
 * are forked). */
typedef struct {
  gchar *dir;
  gchar *ca, *other_ca;
  gchar *server_key, *server_cert, *expired_cert, *self_cert, *wrong_cert;
  gchar *client_key, *client_cert, *client_key_enc;
  gchar *password, *password_file, *not_pem;
  /* Password files that hold no single password: not /dev/null, which on
   * a machine where it is a plain file holds whatever was last written to
   * it. */
  gchar *empty_file, *two_lines_file;
  Broker broker;
  gint plain, login, certreq, expired, self_signed, wrong_name;
} Setup;

static Setup T;

#define USER "camera-7"

static gchar *
path_in (const gchar * name)
{
  return g_build_filename (T.dir, name, NULL);
}

/* Runs a command in T.dir; fails the test with its stderr when it fails. */
static void
run (const gchar * const *argv)
{
  gchar *err_text = NULL;

  fail_unless (pt_run (argv, T.dir, NULL, NULL, &err_text) == 0,
      "%s %s failed (Debian: openssl, mosquitto): %s", argv[0], argv[1],
      err_text);
  g_free (err_text);
}

/* A new EC key and a signing request for CN=`cn`. */
static void
make_key_and_csr (const gchar * key, const gchar * csr, const gchar * cn)
{
  gchar *subj = g_strdup_printf ("/CN=%s", cn);
  const gchar *argv[] = { "openssl", "req", "-new", "-newkey", "ec",
    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
    "-out", csr, "-subj", subj, NULL
  };

  run (argv);
  g_free (subj);
}

/* A self-signed CA certificate and its key: ca.pem / ca.key. */
static void
make_ca (const gchar * name, const gchar * cn)
{
  gchar *key = g_strdup_printf ("%s.key", name);
  gchar *pem = g_strdup_printf ("%s.pem", name);
  gchar *subj = g_strdup_printf ("/CN=%s", cn);
  const gchar *argv[] = { "openssl", "req", "-x509", "-newkey", "ec",
    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
    "-out", pem, "-subj", subj, "-days", "2",
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign", NULL
  };

  run (argv);
  g_free (key);
  g_free (pem);
  g_free (subj);
}

/* `csr` signed by ca.pem with the extensions of `section` of ca.cnf, valid
 * from `start` to `end` (openssl ca's YYYYMMDDHHMMSSZ) or for 2 days. */
static void
sign (const gchar * csr, const gchar * out, const gchar * section,
    const gchar * start, const gchar * end)
{
  const gchar *argv[] = { "openssl", "ca", "-batch", "-config", "ca.cnf",
    "-cert", "ca.pem", "-keyfile", "ca.key", "-in", csr, "-out", out,
    "-extensions", section, "-notext", start ? "-startdate" : "-days",
    start ? start : "2", end ? "-enddate" : NULL, end, NULL
  };

  run (argv);
}

static void
write_file (const gchar * name, const gchar * text, gint mode)
{
  gchar *path = path_in (name);

  fail_unless (g_file_set_contents (path, text, -1, NULL));
  fail_unless (g_chmod (path, mode) == 0);
  g_free (path);
}

static void
setup_tls (void)
{
  GString *conf = g_string_new (NULL);
  gchar *uuid = g_uuid_string_random (), *pw_line;

  T.dir = g_dir_make_tmp ("publish-tls-XXXXXX", NULL);
  fail_unless (T.dir != NULL);
  write_file ("index.txt", "", 0600);
  write_file ("serial", "1000\n", 0600);
  write_file ("ca.cnf", "[ca]\ndefault_ca = test\n"
      "[test]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n"
      "default_md = sha256\npolicy = any\nunique_subject = no\n"
      "email_in_dn = no\n"
      "[any]\ncommonName = supplied\n"
      "[server]\nbasicConstraints = CA:FALSE\n"
      "extendedKeyUsage = serverAuth\n"
      "subjectAltName = DNS:localhost,IP:127.0.0.1\n"
      "[wrong_name]\nbasicConstraints = CA:FALSE\n"
      "extendedKeyUsage = serverAuth\n"
      "subjectAltName = DNS:broker.example\n"
      "[client]\nbasicConstraints = CA:FALSE\n"
      "extendedKeyUsage = clientAuth\n", 0600);

  make_ca ("ca", "gst-maskrcnn test CA");
  make_ca ("other-ca", "another CA");
  make_key_and_csr ("server.key", "server.csr", "localhost");
  sign ("server.csr", "server.pem", "server", NULL, NULL);
  sign ("server.csr", "expired.pem", "server", "20200101000000Z",
      "20200102000000Z");
  sign ("server.csr", "wrong-name.pem", "wrong_name", NULL, NULL);
  {
    const gchar *argv[] = { "openssl", "req", "-x509", "-new", "-key",
      "server.key", "-out", "self-signed.pem", "-subj", "/CN=localhost",
      "-days", "2", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
      NULL
    };
    run (argv);
  }
  make_key_and_csr ("client.key", "client.csr", USER);
  sign ("client.csr", "client.pem", "client", NULL, NULL);
  {
    const gchar *argv[] = { "openssl", "pkey", "-in", "client.key",
      "-aes256", "-passout", "pass:key-passphrase", "-out",
      "client-encrypted.key", NULL
    };
    run (argv);
  }

  /* A password nothing else contains, so that finding it anywhere in an
   * output can only be a leak. */
  T.password = g_strdup_printf ("pw-%s", uuid);
  {
    const gchar *argv[] = { "mosquitto_passwd", "-c", "-b", "passwd", USER,
      T.password, NULL
    };
    run (argv);
  }
  pw_line = g_strdup_printf ("%s\n", T.password);
  write_file ("password", pw_line, 0600);
  write_file ("not-pem.txt", "this is not a certificate\n", 0600);
  write_file ("empty", "", 0600);
  write_file ("two-lines", "line-one\nline-two\n", 0600);

  T.ca = path_in ("ca.pem");
  T.other_ca = path_in ("other-ca.pem");
  T.server_key = path_in ("server.key");
  T.server_cert = path_in ("server.pem");
  T.expired_cert = path_in ("expired.pem");
  T.self_cert = path_in ("self-signed.pem");
  T.wrong_cert = path_in ("wrong-name.pem");
  T.client_key = path_in ("client.key");
  T.client_cert = path_in ("client.pem");
  T.client_key_enc = path_in ("client-encrypted.key");
  T.password_file = path_in ("password");
  T.not_pem = path_in ("not-pem.txt");
  T.empty_file = path_in ("empty");
  T.two_lines_file = path_in ("two-lines");

  /* One broker, a listener per case; the subscriber reads on the plain
   * one. */
  T.plain = pt_free_port ();
  T.login = pt_free_port ();
  T.certreq = pt_free_port ();
  T.expired = pt_free_port ();
  T.self_signed = pt_free_port ();
  T.wrong_name = pt_free_port ();
  /* Run as root, mosquitto changes to user "mosquitto" before it reads
   * the password file, which is in this process's private directory. */
  g_string_append_printf (conf, "user %s\n", g_get_user_name ());
  g_string_append_printf (conf, "per_listener_settings true\n"
      "log_dest stderr\nlog_type all\nlog_timestamp false\n"
      "listener %d 127.0.0.1\nallow_anonymous true\n"
      "listener %d 127.0.0.1\ncertfile %s\nkeyfile %s\n"
      "allow_anonymous false\npassword_file %s/passwd\n"
      "listener %d 127.0.0.1\ncertfile %s\nkeyfile %s\ncafile %s\n"
      "require_certificate true\nallow_anonymous true\n",
      T.plain, T.login, T.server_cert, T.server_key, T.dir,
      T.certreq, T.server_cert, T.server_key, T.ca);
  g_string_append_printf (conf, "listener %d 127.0.0.1\ncertfile %s\n"
      "keyfile %s\nallow_anonymous true\n", T.expired, T.expired_cert,
      T.server_key);
  g_string_append_printf (conf, "listener %d 127.0.0.1\ncertfile %s\n"
      "keyfile %s\nallow_anonymous true\n", T.self_signed, T.self_cert,
      T.server_key);
  g_string_append_printf (conf, "listener %d 127.0.0.1\ncertfile %s\n"
      "keyfile %s\nallow_anonymous true\n", T.wrong_name, T.wrong_cert,
      T.server_key);
  T.broker.port = T.plain;
  T.broker.ports[0] = T.login;
  T.broker.ports[1] = T.certreq;
  T.broker.ports[2] = T.expired;
  T.broker.ports[3] = T.self_signed;
  T.broker.ports[4] = T.wrong_name;
  T.broker.conf_text = g_string_free (conf, FALSE);
  broker_start (&T.broker);

  g_free (pw_line);
  g_free (uuid);
}

static void
teardown_tls (void)
{
  GDir *d;
  const gchar *name;

  broker_free (&T.broker);
  d = g_dir_open (T.dir, 0, NULL);
  while (d && (name = g_dir_read_name (d))) {
    gchar *p = path_in (name);
    g_unlink (p);
    g_free (p);
  }
  if (d)
    g_dir_close (d);
  g_rmdir (T.dir);
}

/* ------------------------------------------------------------ helpers */

static gchar *
address_of (gint port)
{
  return g_strdup_printf ("127.0.0.1:%d", port);
}

static void
set_login (GstElement * e, gpointer data)
{
  g_object_set (e, "tls-ca-file", T.ca, "username", USER, "password",
      T.password, NULL);
}

/* 10 frames through a harness configured by `configure`, publishing on
 * `port`: all 10 documents reach the subscriber, each checked, with no
 * error or drop, and a warning holding `warning` when it is not NULL. */
static void
expect_documents (gint port, void (*configure) (GstElement *, gpointer),
    gpointer data, const gchar * warning)
{
  Subscriber s = { 0 };
  gchar *address = address_of (port);
  GstHarness *h;
  GstBus *bus;
  GList *msgs;

  subscriber_start (&s, T.plain, "cameras/a");
  h = pt_mqtt_harness (address, 100, 1, configure, data, &bus);
  pt_wait_until (pt_is_connected, h->element, 10, "the TLS connection");
  pt_push_frames (h, 0, 9, 0);
  for (guint k = 0; k < 10; k++) {
    gchar *text = subscriber_pop (&s, 20);

    fail_unless (text != NULL, "document %u did not arrive", k);
    fail_unless_equals_uint64 (pt_check_document (text, "stream-a", TRUE),
        k);
    g_free (text);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_uint64 (pt_get_u64 (h->element, "published"), 10);
  fail_unless_equals_uint64 (pt_get_u64 (h->element, "dropped"), 0);
  msgs = pt_bus_take (bus, 0, NULL, 0);
  fail_unless_equals_int (pt_messages_count (msgs, GST_MESSAGE_ERROR, ""), 0);
  if (warning)
    fail_unless_equals_int (pt_messages_count (msgs, GST_MESSAGE_WARNING,
            warning), 1);
  g_list_free_full (msgs, (GDestroyNotify) gst_message_unref);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  subscriber_stop (&s);
  g_free (address);
}

/* Starts a harness configured by `configure` against `port` and expects
 * an error of `domain`/`code` within 10 s, whose message holds `text`
 * (and the password nowhere); then the next frame fails. Returns the
 * message and debug text joined (g_free). */
static gchar *
expect_refusal (gint port, void (*configure) (GstElement *, gpointer),
    gpointer data, GQuark domain, gint code, const gchar * text)
{
  gchar *address = address_of (port), *debug = NULL, *all;
  GstHarness *h;
  GstBus *bus;
  GstMessage *msg;
  GError *err = NULL;

  h = pt_mqtt_harness (address, 100, 0, configure, data, &bus);
  msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
      GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error within 10 s (expected \"%s\")", text);
  gst_message_parse_error (msg, &err, &debug);
  all = g_strdup_printf ("%s | %s", err->message, GST_STR_NULL (debug));
  fail_unless (err->domain == domain && err->code == code,
      "got %s %d: %s", g_quark_to_string (err->domain), err->code, all);
  fail_unless (strstr (err->message, text) != NULL, "\"%s\" lacks \"%s\"",
      err->message, text);
  fail_if (strstr (all, T.password) != NULL, "the password is in the error");
  fail_if (pt_is_connected (h->element));
  /* The stream ends: no frame goes through any more. */
  fail_unless_equals_int (gst_harness_push (h, pt_make_frame (0)),
      GST_FLOW_ERROR);
  g_error_free (err);
  g_free (debug);
  gst_message_unref (msg);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (address);
  return all;
}

/* ------------------------------------------------------------ arrive */

GST_START_TEST (test_tls_login)
{
  expect_documents (T.login, set_login, NULL, NULL);
}

GST_END_TEST;

static void
set_login_file (GstElement * e, gpointer data)
{
  g_object_set (e, "tls-ca-file", T.ca, "username", USER, "password-file",
      T.password_file, NULL);
}

GST_START_TEST (test_tls_password_file)
{
  expect_documents (T.login, set_login_file, NULL, NULL);
}

GST_END_TEST;

static void
set_client_cert (GstElement * e, gpointer data)
{
  g_object_set (e, "tls-ca-file", T.ca, "tls-cert-file", T.client_cert,
      "tls-key-file", T.client_key, NULL);
}

GST_START_TEST (test_tls_client_certificate)
{
  expect_documents (T.certreq, set_client_cert, NULL, NULL);
}

GST_END_TEST;

/* ------------------------------------------------------------ refusals */

static void
set_wrong_password (GstElement * e, gpointer data)
{
  g_object_set (e, "tls-ca-file", T.ca, "username", USER, "password",
      "not-the-password", NULL);
}

/* "not authorised", and no second try: the broker sees one connection
 * on the listener however long the element runs. */
GST_START_TEST (test_tls_wrong_password)
{
  gchar *line = g_strdup_printf ("on port %d.", T.login), *all;
  guint before = broker_log_count (&T.broker, line);

  all = expect_refusal (T.login, set_wrong_password, NULL,
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED,
      "refused the login of user \"" USER "\": not authorised");
  /* Longer than the first two retry delays (1 s, 2 s) would take. */
  g_usleep (3500 * 1000);
  fail_unless_equals_int (broker_log_count (&T.broker, line), before + 1);
  g_free (line);
  g_free (all);
}

GST_END_TEST;

static void
set_ca (GstElement * e, gpointer ca)
{
  g_object_set (e, "tls-ca-file", ca, NULL);
}

/* The element trusting `ca` connects to `port`, whose certificate fails
 * verification with OpenSSL's `x509_error`: the error says "certificate
 * verify failed: " and OpenSSL's text, and its debug text holds `hint`. */
static void
expect_verify_failure (gint port, const gchar * ca, glong x509_error,
    const gchar * hint)
{
  gchar *want = g_strdup_printf ("certificate verify failed: %s",
      X509_verify_cert_error_string (x509_error));
  gchar *all = expect_refusal (port, set_ca, (gpointer) ca,
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_WRITE, want);

  fail_unless (strstr (all, hint) != NULL, "\"%s\" lacks \"%s\"", all, hint);
  g_free (all);
  g_free (want);
}

/* The broker's certificate is signed by a CA that the element does not
 * trust. */
GST_START_TEST (test_tls_untrusted_ca)
{
  expect_verify_failure (T.login, T.other_ca,
      X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "tls-ca-file");
}

GST_END_TEST;

GST_START_TEST (test_tls_self_signed)
{
  expect_verify_failure (T.self_signed, T.ca,
      X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "tls-ca-file");
}

GST_END_TEST;

GST_START_TEST (test_tls_expired)
{
  expect_verify_failure (T.expired, T.ca, X509_V_ERR_CERT_HAS_EXPIRED,
      "Renew");
}

GST_END_TEST;

/* The certificate names broker.example only; the element connects to
 * 127.0.0.1, which must be an IP address entry of the certificate. */
GST_START_TEST (test_tls_hostname_mismatch)
{
  expect_verify_failure (T.wrong_name, T.ca, X509_V_ERR_IP_ADDRESS_MISMATCH,
      "subjectAltName");
}

GST_END_TEST;

/* A listener that requires a client certificate, and none given. */
GST_START_TEST (test_tls_client_certificate_missing)
{
  g_free (expect_refusal (T.certreq, set_ca, T.ca, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_NOT_AUTHORIZED,
          "refused the TLS connection with the alert \"certificate "
          "required\""));
}

GST_END_TEST;

/* ------------------------------------------------------------ no verify */

static void
set_no_verify (GstElement * e, gpointer data)
{
  g_object_set (e, "tls", TRUE, "tls-verify", FALSE, NULL);
}

/* tls-verify=false reaches the self-signed listener, and each start posts
 * a warning. */
GST_START_TEST (test_tls_verify_off)
{
  expect_documents (T.self_signed, set_no_verify, NULL,
      "verification is OFF");
  expect_documents (T.self_signed, set_no_verify, NULL,
      "verification is OFF");
}

GST_END_TEST;

/* ------------------------------------------------------------ restart */

/* A broker of its own (a TLS listener with a login, a plain one for the
 * subscriber), restarted mid-stream. */
GST_START_TEST (test_tls_broker_restart)
{
  Broker b = {.port = pt_free_port () };
  gint tls_port = pt_free_port ();
  gchar *address = address_of (tls_port);

  b.ports[0] = tls_port;
  b.conf_text = g_strdup_printf ("user %s\nper_listener_settings true\n"
      "listener %d 127.0.0.1\nallow_anonymous true\n"
      "listener %d 127.0.0.1\ncertfile %s\nkeyfile %s\n"
      "allow_anonymous false\npassword_file %s/passwd\n", g_get_user_name (),
      b.port, tls_port, T.server_cert, T.server_key, T.dir);
  broker_start (&b);
  pt_run_broker_restart (&b, address, b.port, set_login, NULL);
  broker_free (&b);
  g_free (address);
}

GST_END_TEST;

/* ------------------------------------------------------------ settings */

GST_START_TEST (test_tls_start_errors)
{
  gchar *d, *all;

#define START_ERROR(code, text, ...) G_STMT_START {                     \
    d = g_strdup_printf ("maskrcnnpublish method=mqtt " __VA_ARGS__);   \
    all = pt_expect_start_error (d, GST_RESOURCE_ERROR,                 \
        GST_RESOURCE_ERROR_ ## code, text);                             \
    fail_if (strstr (all, T.password) != NULL, "password in: %s", all); \
    g_free (all);                                                       \
    g_free (d);                                                         \
  } G_STMT_END

  START_ERROR (SETTINGS, "only tls-cert-file", "tls-cert-file=\"%s\"",
      T.client_cert);
  START_ERROR (OPEN_READ, "/nonexistent/ca.pem",
      "tls-ca-file=/nonexistent/ca.pem");
  START_ERROR (READ, "no usable CA certificate", "tls-ca-file=\"%s\"",
      T.not_pem);
  START_ERROR (SETTINGS, "do not belong together",
      "tls-ca-file=\"%s\" tls-cert-file=\"%s\" tls-key-file=\"%s\"", T.ca,
      T.client_cert, T.server_key);
  START_ERROR (SETTINGS, "is encrypted",
      "tls-ca-file=\"%s\" tls-cert-file=\"%s\" tls-key-file=\"%s\"", T.ca,
      T.client_cert, T.client_key_enc);
  START_ERROR (SETTINGS, "no user name", "password=\"%s\"", T.password);
  START_ERROR (SETTINGS, "Both password and password-file",
      "username=u password=\"%s\" password-file=\"%s\"", T.password,
      T.password_file);
  START_ERROR (OPEN_READ, "password file", "username=u "
      "password-file=/nonexistent/password");
#undef START_ERROR

  /* A password file that holds no single password: the error says so and
   * why, and shows nothing the file holds. */
  {
    const gchar *files[] = { T.empty_file, T.two_lines_file };
    const gchar *why[] = { "it is empty", "it is several lines" };

    for (guint k = 0; k < G_N_ELEMENTS (files); k++) {
      d = g_strdup_printf ("maskrcnnpublish method=mqtt username=u "
          "password-file=\"%s\"", files[k]);
      all = pt_expect_start_error (d, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_SETTINGS, "does not hold one password");
      fail_unless (strstr (all, why[k]) != NULL, "%s: \"%s\" lacks \"%s\"",
          d, all, why[k]);
      fail_if (strstr (all, "line-") != NULL, "file contents in: %s", all);
      g_free (all);
      g_free (d);
    }
  }
}

GST_END_TEST;

/* ------------------------------------------------------------ secrets */

/* Every .dot file in `dir`, checked and removed; returns how many held
 * `must`. */
static guint
check_dumps (const gchar * dir, const gchar * must)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  guint with = 0;

  fail_unless (d != NULL);
  while ((name = g_dir_read_name (d))) {
    gchar *p = g_build_filename (dir, name, NULL), *text = NULL;

    if (g_str_has_suffix (name, ".dot")) {
      fail_unless (g_file_get_contents (p, &text, NULL, NULL));
      fail_if (strstr (text, T.password) != NULL, "the password is in the "
          "pipeline dump %s", name);
      with += strstr (text, must) != NULL;
      g_free (text);
    }
    g_unlink (p);
    g_free (p);
  }
  g_dir_close (d);
  return with;
}

/* gst-launch-1.0 -v publishing 5 frames over TLS with the login, the
 * password given as `password_arg`, every frame's document arriving (the
 * password was used), with the debug log at `debug`: the password is in
 * neither stdout nor stderr nor any pipeline dump. */
static void
launch_and_check (const gchar * password_arg, const gchar * debug)
{
  gchar *dir = g_dir_make_tmp ("publish-secrets-XXXXXX", NULL);
  gchar *dumps = g_build_filename (dir, "dumps", NULL);
  gchar *pipeline, *out = NULL, *err_text = NULL;
  Subscriber s = { 0 };
  gint status;

  fail_unless (g_mkdir (dumps, 0700) == 0);
  subscriber_start (&s, T.plain, "secrets/test");
  pipeline = g_strdup_printf ("videotestsrc num-buffers=5 ! "
      "video/x-raw,format=RGB,width=%d,height=%d,framerate=30/1 ! "
      "maskrcnnpublish method=mqtt address=127.0.0.1:%d topic=secrets/test "
      "tls-ca-file=%s username=" USER " %s ! fakesink", PT_W, PT_H, T.login,
      T.ca, password_arg);
  {
    gchar **words = g_strsplit (pipeline, " ", -1);
    GPtrArray *argv = g_ptr_array_new ();
    const gchar *env[] = { "GST_DEBUG", debug, "GST_DEBUG_NO_COLOR", "1",
      "GST_DEBUG_DUMP_DOT_DIR", dumps, NULL
    };

    g_ptr_array_add (argv, (gpointer) "gst-launch-1.0");
    g_ptr_array_add (argv, (gpointer) "-v");
    for (guint k = 0; words[k]; k++)
      g_ptr_array_add (argv, words[k]);
    g_ptr_array_add (argv, NULL);
    status = pt_run ((const gchar * const *) argv->pdata, NULL, env, &out,
        &err_text);
    g_ptr_array_free (argv, TRUE);
    g_strfreev (words);
  }
  fail_unless_equals_int (status, 0);
  for (guint k = 0; k < 5; k++) {
    gchar *doc = subscriber_pop (&s, 10);

    fail_unless (doc != NULL, "document %u did not arrive; stderr ends: %s",
        k, err_text + MAX (0, (gint) strlen (err_text) - 2000));
    g_free (doc);
  }
  /* -v printed the element's properties as they changed, the debug log
   * ran at the level asked, and the dumps show the properties that are
   * set (the user name): all of it looked at, none with the password. */
  fail_unless (strstr (out, "maskrcnnpublish") != NULL);
  fail_unless (strlen (err_text) > 1000, "no debug log: %s", err_text);
  fail_if (strstr (out, T.password) != NULL, "the password is in stdout");
  fail_if (strstr (err_text, T.password) != NULL,
      "the password is in the debug log (stderr)");
  fail_unless (check_dumps (dumps, USER) > 0,
      "no pipeline dump shows maskrcnnpublish's properties");
  subscriber_stop (&s);
  g_free (out);
  g_free (err_text);
  g_rmdir (dumps);
  g_rmdir (dir);
  g_free (dumps);
  g_free (dir);
  g_free (pipeline);
}

/* The password from a file, with every debug category at level 7: it is
 * nowhere. */
GST_START_TEST (test_secret_password_file)
{
  gchar *arg = g_strdup_printf ("password-file=%s", T.password_file);

  launch_and_check (arg, "*:7");
  g_free (arg);
}

GST_END_TEST;

/* The password on the command line, the element's own log at its highest
 * level: the element never shows it. (GStreamer's parser logs the whole
 * command line in category GST_PIPELINE, which is why password-file
 * exists.) */
GST_START_TEST (test_secret_password_property)
{
  gchar *arg = g_strdup_printf ("password=%s", T.password);

  launch_and_check (arg, "maskrcnnpublish:9");
  g_free (arg);
}

GST_END_TEST;

/* gst-inspect-1.0 lists the property as write-only, with no value; and
 * nothing reads it back in the process either. */
GST_START_TEST (test_secret_inspect)
{
  const gchar *argv[] = { "gst-inspect-1.0", "maskrcnnpublish", NULL };
  gchar *out = NULL, *block;
  GstElement *e = gst_element_factory_make ("maskrcnnpublish", NULL);
  GParamSpec *pspec;
  GstElement *bin = gst_pipeline_new (NULL);
  gchar *dot;

  fail_unless_equals_int (pt_run (argv, NULL, NULL, &out, NULL), 0);
  block = strstr (out, "\n  password ");
  fail_unless (block != NULL, "gst-inspect shows no password property");
  block = g_strndup (block, strstr (block + 1, "\n  password-file") - block);
  fail_unless (strstr (block, "writable") != NULL, "%s", block);
  fail_if (strstr (block, "readable") != NULL, "%s", block);
  g_free (block);

  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (e), "password");
  fail_unless (pspec && (pspec->flags & G_PARAM_WRITABLE));
  fail_if (pspec->flags & G_PARAM_READABLE);
  g_object_set (e, "password", T.password, "username", USER, NULL);
  gst_bin_add (GST_BIN (bin), e);
  dot = gst_debug_bin_to_dot_data (GST_BIN (bin), GST_DEBUG_GRAPH_SHOW_ALL);
  fail_unless (strstr (dot, "username=\\\"" USER) != NULL, "%s", dot);
  fail_if (strstr (dot, T.password) != NULL, "the password is in the dump");
  g_free (dot);
  gst_object_unref (bin);
  g_free (out);
}

GST_END_TEST;

static Suite *
publish_tls_suite (void)
{
  Suite *s = suite_create ("maskrcnnpublish-tls");
  TCase *tc = tcase_create ("tls");

  tcase_set_timeout (tc, 300);
  tcase_add_unchecked_fixture (tc, setup_tls, teardown_tls);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_tls_login);
  tcase_add_test (tc, test_tls_password_file);
  tcase_add_test (tc, test_tls_client_certificate);
  tcase_add_test (tc, test_tls_wrong_password);
  tcase_add_test (tc, test_tls_untrusted_ca);
  tcase_add_test (tc, test_tls_self_signed);
  tcase_add_test (tc, test_tls_expired);
  tcase_add_test (tc, test_tls_hostname_mismatch);
  tcase_add_test (tc, test_tls_client_certificate_missing);
  tcase_add_test (tc, test_tls_verify_off);
  tcase_add_test (tc, test_tls_broker_restart);
  tcase_add_test (tc, test_tls_start_errors);
  tcase_add_test (tc, test_secret_password_file);
  tcase_add_test (tc, test_secret_password_property);
  tcase_add_test (tc, test_secret_inspect);
  return s;
}

GST_CHECK_MAIN (publish_tls);
