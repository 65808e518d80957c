/* Helpers of the maskrcnnpublish tests (test-publish.c, test-publish-tls.c):
 * frames whose every document byte is known, a real mosquitto broker
 * started on 127.0.0.1, a libmosquitto subscriber, and the checks. */
#ifndef GST_MASKRCNN_PUBLISH_TEST_UTIL_H
#define GST_MASKRCNN_PUBLISH_TEST_UTIL_H

#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/check/gstharness.h>
#include <mosquitto.h>

G_BEGIN_DECLS

#define PT_W 64
#define PT_H 48
#define PT_FRAME_NS (GST_SECOND / 30)

/* ------------------------------------------------------------ frames */

/* Frame i (PT_W x PT_H RGB) has i % 4 instances with known labels, boxes
 * and masks. New buffer. */
/* With pt_tracked_frames set, frames carry track ids and counts as
 * maskrcnntrack and maskrcnncount leave them, and pt_check_document()
 * expects them in the document. */
extern gboolean pt_tracked_frames;
GstBuffer *pt_make_frame (guint64 i);

/* Checks one document (JSON text) against the frame its number names,
 * masks included or not; returns that number. */
guint64 pt_check_document (const gchar * text, const gchar * source_id,
    gboolean with_masks);

/* Whether `text` is strict JSON as any parser takes it: UTF-8, no raw
 * control character, and parsed by json-glib. Fails the test otherwise. */
void pt_check_strict_json (const gchar * text);

/* Pushes frames first..last through the harness and checks that each
 * comes out as the same buffer, untouched. */
void pt_push_frames (GstHarness * h, guint64 first, guint64 last,
    guint sleep_ms);

/* The frames' caps. Caller frees. */
gchar *pt_caps_string (void);

guint64 pt_get_u64 (GstElement * e, const gchar * name);

/* Polls cond(data) every 20 ms; fails the test with `what` after
 * `seconds`. */
void pt_wait_until (gboolean (*cond) (gpointer), gpointer data,
    gint seconds, const gchar * what);

/* Conditions on a maskrcnnpublish element, for pt_wait_until(). */
gboolean pt_is_connected (gpointer element);
gboolean pt_is_disconnected (gpointer element);

/* Takes every message now on `bus`, and waits up to `seconds` for one of
 * `type` holding `text` if none came yet (type 0: no wait). Returns them
 * in order (g_list_free_full (l, gst_message_unref)).
 * gst_bus_pop_filtered() would drop the messages of other types, so the
 * tests look at everything through this. */
GList *pt_bus_take (GstBus * bus, GstMessageType type, const gchar * text,
    gint seconds);

/* How many messages of `type` in `msgs` hold `text` ("" for any). */
guint pt_messages_count (GList * msgs, GstMessageType type,
    const gchar * text);

/* Sets the element described by `desc` (no parent) to PAUSED, expects the
 * state change to fail with an error of `domain`/`code` whose message or
 * debug text holds `text`; returns that message and debug text, joined
 * (g_free). */
gchar *pt_expect_start_error (const gchar * desc, GQuark domain, gint code,
    const gchar * text);

/* ------------------------------------------------------------ broker */

/* A mosquitto broker of its own on 127.0.0.1. `port` is its first
 * listener; `conf_text` is NULL for one anonymous listener on it, or the
 * whole configuration, whose other listeners are `ports` (0-terminated).
 * Its log goes to `log` in `dir`. Started with g_spawn and waited for with
 * waitpid(), not GSubprocess, whose child watch lives on GLib's worker
 * thread: a test process forked from one that has that thread (gst-check
 * forks each test) would wait for it forever. */
typedef struct {
  gint port;
  gint ports[8];
  gchar *dir, *conf, *log;
  gchar *conf_text;             /* owned; NULL: the plain default */
  GPid pid;                     /* 0: not running */
} Broker;

/* A TCP port on 127.0.0.1 that was free a moment ago. */
gint pt_free_port (void);

/* Starts the broker (writing its configuration the first time) and waits
 * until every listener accepts connections. Fails the test when mosquitto
 * is missing or does not start, with its log. */
void broker_start (Broker * b);

/* SIGTERM, and waits for it to end. */
void broker_stop (Broker * b);

/* Stops it if running and removes its files. */
void broker_free (Broker * b);

/* How many lines of the broker's log hold `text`. */
guint broker_log_count (Broker * b, const gchar * text);

/* Runs `argv` in `cwd` (NULL: here) with `env` (NAME, VALUE, ... NULL)
 * added to this process's environment and waits for it (fork-safe, as
 * above). Returns its exit status (-1: killed); *out and *err (may be
 * NULL) get what it wrote. Fails the test when it cannot be started. */
gint pt_run (const gchar * const *argv, const gchar * cwd,
    const gchar * const *env, gchar ** out, gchar ** err);

/* ------------------------------------------------------------ subscriber */

/* A subscriber on its own libmosquitto thread (plain TCP, no login): every
 * payload goes to `messages`; it subscribes again after each reconnect. */
typedef struct {
  struct mosquitto *mosq;
  GMutex lock;
  GAsyncQueue *messages;        /* gchar *, the payloads */
  gint subscribed;              /* atomic */
  const gchar *topic;
} Subscriber;

void subscriber_start (Subscriber * s, gint port, const gchar * topic);
void subscriber_stop (Subscriber * s);

/* The next payload within `seconds`, or NULL. g_free. */
gchar *subscriber_pop (Subscriber * s, gint seconds);

gboolean pt_is_subscribed (gpointer subscriber);

/* ------------------------------------------------------------ runs */

/* A maskrcnnpublish harness with method=mqtt, source-id "stream-a", topic
 * "cameras/a", client-id "test-publisher", qos and max-queue, and more
 * properties from `configure` (may be NULL); *bus gets what it posts. */
GstHarness *pt_mqtt_harness (const gchar * address, guint max_queue,
    gint qos, void (*configure) (GstElement *, gpointer), gpointer data,
    GstBus ** bus);

/* The broker restarted mid-stream: 20 frames arrive; the broker stops, 5
 * frames are pushed meanwhile; it starts again on the same ports, the
 * element reconnects, 20 more frames arrive, in order, nothing dropped,
 * and the loss was warned about. `address` is where the element publishes
 * (a listener of `b`), `sub_port` a plain listener for the subscriber. */
void pt_run_broker_restart (Broker * b, const gchar * address,
    gint sub_port, void (*configure) (GstElement *, gpointer),
    gpointer data);

G_END_DECLS

#endif
