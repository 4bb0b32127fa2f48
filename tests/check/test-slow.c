/* gst-diode — slow links and slow viewers (issue 3, items 2, 3 and 5)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * 1. A viewer that stalls completely (a raw TLS client that never reads)
 *    changes nothing for a healthy viewer of the same stream, is disconnected
 *    by the relay, and the relay's buffer stays bounded by its ring.
 * 2. A viewer that stops reading for a while (a blocked pipeline) skips to
 *    the latest keyframe when it resumes: DISCONT only on keyframes, and
 *    both diodesrc's and the relay's stats count the skip.
 * 3. A publisher whose relay stops reading (the real diode-relay, SIGSTOP)
 *    never blocks its pipeline, drops whole GOPs, says so on the bus and in
 *    its stats, and resumes at a keyframe flagged DISCONT.
 *
 * Real TLS and real sockets on 127.0.0.1. Every wait is bounded.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <json-glib/json-glib.h>

#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "fixture.h"
#include "rawclient.h"
#include "diode-msg.h"
#include "diode-tls.h"
#include "diode-identity.h"

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au, width=(int)320, height=(int)240, " \
  "framerate=(fraction)30/1"

/* The relay's grace for a closing peer to read its ERROR (CLOSE_FLUSH_MS in
 * relay/diode-relay.c) and its timer period (TICK_MS). */
#define RELAY_CLOSE_FLUSH_MS 2000
#define RELAY_TICK_MS        200

/* ------------------------------------------------------------------------ */
/* elements */

static GstHarness *
src_harness (const gchar * hostport, const gchar * stream)
{
  GstElement *e = gst_element_factory_make ("diodesrc", NULL);
  GstHarness *h;

  fail_unless (e != NULL);
  g_object_set (e, "relay", hostport, "stream", stream, "timeout", 5000,
      NULL);
  h = gst_harness_new_with_element (e, NULL, "src");
  gst_object_unref (e);
  return h;
}

static GstHarness *
sink_harness (const gchar * hostport, const gchar * stream)
{
  GstElement *e = gst_element_factory_make ("diodesink", NULL);
  GstHarness *h;

  fail_unless (e != NULL);
  g_object_set (e, "relay", hostport, "stream", stream, NULL);
  h = gst_harness_new_with_element (e, "sink", NULL);
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, CAPS_STR);
  return h;
}

/* The next buffer from a harness, waiting at most @timeout_ms. */
static GstBuffer *
pull_within (GstHarness * h, guint timeout_ms)
{
  gint64 end = deadline_in (timeout_ms);
  GstBuffer *b;

  while (!(b = gst_harness_try_pull (h))) {
    if (g_get_monotonic_time () > end)
      return NULL;
    g_usleep (2 * 1000);
  }
  return b;
}

static guint64
stats_u64 (GstElement * e, const gchar * field)
{
  GstStructure *s = NULL;
  guint64 v = 0;

  g_object_get (e, "stats", &s, NULL);
  fail_unless (s != NULL, "%s has no stats", GST_OBJECT_NAME (e));
  fail_unless (gst_structure_get_uint64 (s, field, &v), "stats lack %s: %"
      GST_PTR_FORMAT, field, s);
  gst_structure_free (s);
  return v;
}

/* ------------------------------------------------------------------------ */
/* the relay's JSON stats (docs/stats.md) */

/* The stream @name in the latest snapshot, or NULL. *@root must be freed
 * with json_node_unref when not NULL. */
static JsonObject *
relay_stream_stats (DiodeRelay * relay, const gchar * name, JsonNode ** root)
{
  gchar *json = diode_relay_get_stats_json (relay);
  JsonArray *streams;
  GError *err = NULL;
  guint i;

  *root = NULL;
  if (!json)
    return NULL;
  *root = json_from_string (json, &err);
  fail_unless (*root != NULL, "relay stats are not JSON (%s): %s",
      err ? err->message : "?", json);
  g_free (json);
  fail_unless (JSON_NODE_HOLDS_OBJECT (*root));
  streams = json_object_get_array_member (json_node_get_object (*root),
      "streams");
  fail_unless (streams != NULL, "relay stats without 'streams'");
  for (i = 0; i < json_array_get_length (streams); i++) {
    JsonObject *s = json_array_get_object_element (streams, i);

    if (!g_strcmp0 (json_object_get_string_member (s, "name"), name))
      return s;
  }
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* 1. a stalled viewer does not disturb the others */

#define T1_SOFT_LIMIT     (256 * 1024)
#define T1_HARD_LIMIT     (2 * 1024 * 1024)
#define T1_WRITE_TIMEOUT  1000
#define T1_BUFFER_BYTES   (4 * 1024 * 1024)
#define T1_STATS_MS       200
#define T1_SIZE           100000
#define T1_GOP            10
#define T1_PERIOD_MS      20
#define T1_COUNT          150   /* 3 s at 20 ms */
#define T1_STALL_AT       T1_GOP        /* the stalled viewer joins here */

GST_START_TEST (test_stalled_viewer_does_not_disturb_others)
{
  gchar *key = g_build_filename (fixture_config_dir (), "relay.pem", NULL);
  DiodeRelay *relay = diode_relay_new ("127.0.0.1:0", key);
  const gsize chunk_bytes = T1_GOP * (DIODE_MEDIA_PREFIX_SIZE + T1_SIZE);
  GstHarness *view, *pub;
  RawClient *stalled = NULL;
  GError *err = NULL;
  gchar *hp;
  guint i, pulled = 0, snapshots = 0;
  gint64 t_start, t_stall = 0, gone_ms = -1, max_push_us = 0;
  gint64 max_buffered = -1, closed_ms;
  guint max_conns = 0;
  gdouble last_uptime = -1;

  g_object_set (relay, "viewer-soft-limit", (guint64) T1_SOFT_LIMIT,
      "viewer-hard-limit", (guint64) T1_HARD_LIMIT,
      "write-timeout-ms", T1_WRITE_TIMEOUT,
      "buffer-bytes", (guint64) T1_BUFFER_BYTES,
      "stats-interval-ms", T1_STATS_MS, NULL);
  fail_unless (diode_relay_start (relay, &err), "relay: %s",
      err ? err->message : "?");
  g_free (key);
  hp = diode_relay_get_hostport (relay);

  /* the healthy viewer waits for the stream: it gets buffer 0 on */
  view = src_harness (hp, "cam");
  gst_harness_play (view);
  fail_unless (fixture_wait_waiting (relay, "cam", 1, 5000));
  pub = sink_harness (hp, "cam");
  gst_harness_play (pub);
  fail_unless (fixture_wait_publisher (relay, "cam", TRUE, 5000));

  t_start = g_get_monotonic_time ();
  for (i = 0; i < T1_COUNT; i++) {
    gint64 t0, dt, due = t_start + (gint64) i * T1_PERIOD_MS * 1000;
    GstBuffer *b;
    JsonNode *root;
    JsonObject *st;

    if (i == T1_STALL_AT) {
      DiodeMsg m = { 0 };

      /* HELLO, WELCOME, SUBSCRIBE, and from then on never read again. The
       * relay sees a 4 KiB window: the stall starts within one frame. */
      stalled = raw_open (relay, 4096, "raw-viewer.pem");
      raw_send_frame (stalled, diode_msg_encode_hello (1, 1,
              DIODE_ROLE_VIEWER, "stalled/0"));
      fail_unless (raw_read (stalled, &m, 2000) == RAW_READ_MSG,
          "no WELCOME");
      fail_unless_equals_int (m.type, DIODE_MSG_WELCOME);
      diode_msg_clear (&m);
      raw_send_frame (stalled, diode_msg_encode_subscribe ("cam", 0, 2000));
      fail_unless (fixture_wait_viewers (relay, "cam", 2, 2000),
          "the stalled viewer never joined");
      t_stall = g_get_monotonic_time ();
      GST_INFO ("stalled viewer joined after buffer %u", i);
    }

    while (g_get_monotonic_time () < due)
      g_usleep (MIN (due - g_get_monotonic_time (), 5000));
    t0 = g_get_monotonic_time ();
    fail_unless_equals_int (gst_harness_push (pub,
            fixture_make_buffer (i, T1_SIZE, T1_GOP)), GST_FLOW_OK);
    dt = g_get_monotonic_time () - t0;
    max_push_us = MAX (max_push_us, dt);

    /* the healthy viewer, as it goes */
    while ((b = gst_harness_try_pull (view))) {
      fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), pulled);
      fail_unless (fixture_payload_matches (b, pulled, T1_SIZE),
          "healthy viewer: payload of buffer %u differs", pulled);
      fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (b,
              GST_BUFFER_FLAG_DISCONT), pulled == 0);
      fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (b,
              GST_BUFFER_FLAG_DELTA_UNIT), pulled % T1_GOP != 0);
      gst_buffer_unref (b);
      pulled++;
    }

    /* the relay's memory, and when the stalled viewer goes */
    if (stalled && gone_ms < 0
        && diode_relay_count_viewers (relay, "cam") == 1)
      gone_ms = ms_since (t_stall);
    max_conns = MAX (max_conns, diode_relay_count_connections (relay));
    st = relay_stream_stats (relay, "cam", &root);
    if (st) {
      gint64 buffered = json_object_get_int_member (st, "buffered_bytes");
      gdouble uptime = json_object_get_double_member (json_node_get_object
          (root), "uptime_s");

      if (uptime != last_uptime)
        snapshots++;            /* a new one, not the same one again */
      last_uptime = uptime;
      max_buffered = MAX (max_buffered, buffered);
      fail_unless (buffered <= (gint64) (T1_BUFFER_BYTES + chunk_bytes),
          "relay buffers %" G_GINT64_FORMAT " bytes for 'cam', more than "
          "buffer-bytes (%d) + one chunk (%" G_GSIZE_FORMAT ")", buffered,
          T1_BUFFER_BYTES, chunk_bytes);
    }
    if (root)
      json_node_unref (root);
  }
  GST_INFO ("published %u buffers in %" G_GINT64_FORMAT " ms, longest push %"
      G_GINT64_FORMAT " us; healthy viewer had %u during it", T1_COUNT,
      ms_since (t_start), max_push_us, pulled);

  /* the healthy viewer got every buffer, intact, in order, no DISCONT */
  while (pulled < T1_COUNT) {
    GstBuffer *b = pull_within (view, 5000);

    fail_unless (b != NULL, "healthy viewer: buffer %u did not arrive", pulled);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), pulled);
    fail_unless (fixture_payload_matches (b, pulled, T1_SIZE),
        "healthy viewer: payload of buffer %u differs", pulled);
    fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (b,
            GST_BUFFER_FLAG_DISCONT), pulled == 0);
    gst_buffer_unref (b);
    pulled++;
  }
  fail_unless_equals_uint64 (stats_u64 (view->element, "discont"), 0);
  fail_unless_equals_uint64 (stats_u64 (view->element, "buffers-missed"), 0);
  fail_unless_equals_uint64 (stats_u64 (view->element, "buffers-received"),
      T1_COUNT);
  /* the publisher kept full rate: nothing dropped, never blocked */
  fail_unless_equals_uint64 (stats_u64 (pub->element, "gops-dropped"), 0);
  fail_unless_equals_uint64 (stats_u64 (pub->element, "buffers-dropped"), 0);
  fail_unless (max_push_us < 200 * 1000, "a push took %" G_GINT64_FORMAT
      " us", max_push_us);

  /* the stalled viewer is disconnected: past the hard limit or the write
   * timeout, plus the relay's grace to flush an ERROR, plus a tick */
  {
    guint limit = T1_WRITE_TIMEOUT + RELAY_CLOSE_FLUSH_MS + 1000;

    if (gone_ms < 0 && fixture_wait_viewers (relay, "cam", 1,
            (guint) MAX ((gint64) limit - ms_since (t_stall), 0) + 1000))
      gone_ms = ms_since (t_stall);
    GST_INFO ("stalled viewer dropped %" G_GINT64_FORMAT " ms after joining",
        gone_ms);
    fail_unless (gone_ms >= 0, "the stalled viewer is still attached %"
        G_GINT64_FORMAT " ms after it stopped reading",
        ms_since (t_stall));
    fail_unless (gone_ms <= limit, "the stalled viewer was dropped only %"
        G_GINT64_FORMAT " ms after it stopped reading (limit %u ms)",
        gone_ms, limit);
  }
  /* its connection is really closed, and only the healthy pair is left */
  closed_ms = raw_drain_until_closed (stalled, 3000);
  fail_unless (closed_ms >= 0, "the relay counts the stalled viewer as gone "
      "but keeps its connection open");
  fail_unless (fixture_wait_connections (relay, 2, 2000), "relay holds %u "
      "connections, expected 2 (publisher + healthy viewer)",
      diode_relay_count_connections (relay));
  fail_unless_equals_int (max_conns, 3);

  /* the ring was really exercised, and stayed bounded */
  GST_INFO ("%u distinct stats snapshots, buffered at most %" G_GINT64_FORMAT
      " bytes", snapshots, max_buffered);
  fail_unless (snapshots >= 5, "only %u relay stats snapshots in 3 s "
      "(stats-interval-ms %d)", snapshots, T1_STATS_MS);
  fail_unless (max_buffered >= (gint64) (T1_BUFFER_BYTES - chunk_bytes),
      "relay never buffered near buffer-bytes (%" G_GINT64_FORMAT ")",
      max_buffered);

  /* and the healthy pair still works */
  fail_unless_equals_int (gst_harness_push (pub,
          fixture_make_buffer (T1_COUNT, T1_SIZE, T1_GOP)), GST_FLOW_OK);
  {
    GstBuffer *b = pull_within (view, 5000);

    fail_unless (b != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), T1_COUNT);
    gst_buffer_unref (b);
  }

  raw_free (stalled, FALSE);
  gst_harness_teardown (pub);
  gst_harness_teardown (view);
  g_free (hp);
  g_object_unref (relay);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 1b. the write timeout, and a reason the viewer can read */

/* The relay's own log lines (g_message in domain "diode-relay"). */
typedef struct
{
  GMutex lock;
  GPtrArray *lines;
} RelayLog;

static void
relay_log_handler (const gchar * domain, GLogLevelFlags level,
    const gchar * message, gpointer user_data)
{
  RelayLog *log = user_data;

  GST_INFO ("[relay] %s", message);
  g_mutex_lock (&log->lock);
  g_ptr_array_add (log->lines, g_strdup (message));
  g_mutex_unlock (&log->lock);
}

/* The first line holding @a and @b, copied, or NULL. */
static gchar *
relay_log_find (RelayLog * log, const gchar * a, const gchar * b)
{
  gchar *found = NULL;
  guint i;

  g_mutex_lock (&log->lock);
  for (i = 0; i < log->lines->len && !found; i++) {
    const gchar *l = g_ptr_array_index (log->lines, i);

    if (strstr (l, a) && (!b || strstr (l, b)))
      found = g_strdup (l);
  }
  g_mutex_unlock (&log->lock);
  return found;
}

static guint
local_port (int fd)
{
  struct sockaddr_in sa;
  socklen_t len = sizeof (sa);

  fail_unless (getsockname (fd, (struct sockaddr *) &sa, &len) == 0);
  return ntohs (sa.sin_port);
}

#define T1B_WRITE_TIMEOUT 500
#define T1B_BURST         60    /* x 100 KB: more than the kernel absorbs */

GST_START_TEST (test_stalled_viewer_write_timeout)
{
  gchar *key = g_build_filename (fixture_config_dir (), "relay.pem", NULL);
  DiodeRelay *relay = diode_relay_new ("127.0.0.1:0", key);
  RelayLog log = { 0 };
  GstHarness *pub;
  RawClient *a, *b;
  GError *err = NULL;
  gchar *hp, *pa, *pb, *line_a = NULL, *line_b = NULL;
  guint i, handler, n = 0;
  gint64 t_burst, t_a = -1, gone_ms = -1, closed_a;
  gboolean got_error = FALSE, b_closed = FALSE;

  g_mutex_init (&log.lock);
  log.lines = g_ptr_array_new_with_free_func (g_free);
  handler = g_log_set_handler ("diode-relay", G_LOG_LEVEL_MESSAGE,
      relay_log_handler, &log);

  /* a hard limit out of reach: only the write timeout can act */
  g_object_set (relay, "viewer-soft-limit", (guint64) 1024 * 1024 * 1024,
      "viewer-hard-limit", (guint64) 1024 * 1024 * 1024,
      "write-timeout-ms", T1B_WRITE_TIMEOUT, "stats-interval-ms", 0, NULL);
  fail_unless (diode_relay_start (relay, &err), "relay: %s",
      err ? err->message : "?");
  g_free (key);
  hp = diode_relay_get_hostport (relay);

  pub = sink_harness (hp, "wt");
  g_object_set (pub->element, "backlog-limit", (guint64) 0, NULL);
  gst_harness_play (pub);
  fail_unless (fixture_wait_publisher (relay, "wt", TRUE, 5000));
  fail_unless_equals_int (gst_harness_push (pub,
          fixture_make_buffer (n++, 100000, 1000)), GST_FLOW_OK);

  /* two viewers that stop reading after WELCOME */
  a = raw_open (relay, 4096, "raw-viewer.pem");
  b = raw_open (relay, 4096, "raw-viewer.pem");
  pa = g_strdup_printf ("(127.0.0.1:%u)", local_port (a->fd));
  pb = g_strdup_printf ("(127.0.0.1:%u)", local_port (b->fd));
  for (i = 0; i < 2; i++) {
    RawClient *c = i ? b : a;
    DiodeMsg m = { 0 };

    raw_send_frame (c, diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER,
            "stalled/0"));
    fail_unless (raw_read (c, &m, 2000) == RAW_READ_MSG, "no WELCOME");
    fail_unless_equals_int (m.type, DIODE_MSG_WELCOME);
    diode_msg_clear (&m);
    raw_send_frame (c, diode_msg_encode_subscribe ("wt", 0, 2000));
  }
  fail_unless (fixture_wait_viewers (relay, "wt", 2, 2000));

  /* a burst fills both sockets, then a trickle keeps the stream live */
  t_burst = g_get_monotonic_time ();
  for (i = 0; i < T1B_BURST; i++)
    fail_unless_equals_int (gst_harness_push (pub,
            fixture_make_buffer (n++, 100000, 1000)), GST_FLOW_OK);
  while (ms_since (t_burst) < 6000 && (gone_ms < 0 || !b_closed)) {
    fail_unless_equals_int (gst_harness_push (pub,
            fixture_make_buffer (n++, 1000, 1000)), GST_FLOW_OK);
    g_usleep (20 * 1000);

    if (!line_a && (line_a = relay_log_find (&log, "slow viewer", pa)))
      t_a = g_get_monotonic_time ();
    if (!line_b)
      line_b = relay_log_find (&log, "slow viewer", pb);
    /* B reads and goes at once; A is the last one */
    if (gone_ms < 0 && b_closed && diode_relay_count_viewers (relay, "wt")
        == 0)
      gone_ms = ms_since (t_burst);

    /* B wakes up once the relay gave up on it: the reason must be there,
     * after whatever was still in flight */
    if (line_b && !b_closed) {
      gint64 end = deadline_in (RELAY_CLOSE_FLUSH_MS);

      while (g_get_monotonic_time () < end) {
        DiodeMsg m = { 0 };

        if (raw_read (b, &m, (guint) MAX ((end - g_get_monotonic_time ())
                    / 1000, 1)) != RAW_READ_MSG)
          break;
        if (m.type == DIODE_MSG_ERROR) {
          GST_INFO ("viewer B: ERROR %u: %s", m.error_code, m.error_text);
          fail_unless_equals_int (m.error_code, DIODE_ERR_SLOW_VIEWER);
          fail_unless (m.error_text && strstr (m.error_text, "no data"),
              "ERROR text '%s' does not say why", m.error_text);
          got_error = TRUE;
        } else {
          fail_if (got_error, "%s after the fatal ERROR",
              diode_msg_type_name (m.type));
        }
        diode_msg_clear (&m);
      }
      b_closed = TRUE;
    }
  }
  GST_INFO ("A: '%s' %" G_GINT64_FORMAT " ms after the burst; A gone "
      "after %" G_GINT64_FORMAT " ms", line_a, t_a < 0 ? -1 :
      (t_a - t_burst) / 1000, gone_ms);

  fail_unless (line_a != NULL && strstr (line_a, "accepted no data"),
      "relay did not give up on the stalled viewer for its write timeout "
      "within 6 s (log: %s)", line_a ? line_a : "nothing");
  fail_unless (line_b != NULL, "relay never gave up on viewer B");
  fail_unless (got_error, "viewer B read everything in flight but no ERROR "
      "%d with a reason", DIODE_ERR_SLOW_VIEWER);
  /* A never reads: it goes once the relay's grace to flush the ERROR
   * (which A never reads) is over, give or take a tick */
  fail_unless (gone_ms >= 0, "the stalled viewer is still attached %"
      G_GINT64_FORMAT " ms after the relay gave up on it",
      ms_since (t_a));
  fail_unless (gone_ms - (t_a - t_burst) / 1000 <= RELAY_CLOSE_FLUSH_MS +
      2 * RELAY_TICK_MS + 300, "the stalled viewer went %" G_GINT64_FORMAT
      " ms after the relay gave up on it", gone_ms - (t_a - t_burst) / 1000);
  closed_a = raw_drain_until_closed (a, 3000);
  fail_unless (closed_a >= 0, "relay keeps the stalled viewer's connection");
  fail_unless (fixture_wait_connections (relay, 1, 2000), "relay holds %u "
      "connections, expected only the publisher",
      diode_relay_count_connections (relay));

  g_log_remove_handler ("diode-relay", handler);
  raw_free (a, FALSE);
  raw_free (b, FALSE);
  gst_harness_teardown (pub);
  g_object_unref (relay);
  g_free (line_a);
  g_free (line_b);
  g_free (pa);
  g_free (pb);
  g_free (hp);
  g_ptr_array_unref (log.lines);
  g_mutex_clear (&log.lock);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 2. a viewer that stops reading skips to the latest keyframe */

#define T2_SOFT_LIMIT     (512 * 1024)
#define T2_SIZE           (200 * 1024)
#define T2_GOP            10
#define T2_COUNT          150

GST_START_TEST (test_slow_viewer_skips_to_keyframe)
{
  gchar *key = g_build_filename (fixture_config_dir (), "relay.pem", NULL);
  DiodeRelay *relay = diode_relay_new ("127.0.0.1:0", key);
  GstElement *pipe, *src, *appsink;
  GstHarness *pub;
  GstBus *bus;
  GstMessage *msg;
  GError *err = NULL;
  gchar *hp;
  guint i, received = 0, disconts = 0, gap_sum = 0;
  gint64 last_offset = -1, end, backlog = -1, skips = -1;
  gboolean eos = FALSE;

  /* a ring that holds the whole stream (no eviction skips), a hard limit
   * and write timeout out of reach: only the soft limit can act */
  g_object_set (relay, "viewer-soft-limit", (guint64) T2_SOFT_LIMIT,
      "viewer-hard-limit", (guint64) 1024 * 1024 * 1024,
      "write-timeout-ms", 60000,
      "buffer-bytes", (guint64) 128 * 1024 * 1024,
      "buffer-seconds", 600, "stats-interval-ms", 200, NULL);
  fail_unless (diode_relay_start (relay, &err), "relay: %s",
      err ? err->message : "?");
  g_free (key);
  hp = diode_relay_get_hostport (relay);

  /* appsink holds one buffer and nobody pulls: diodesrc blocks in push and
   * stops reading its socket */
  pipe = gst_parse_launch ("diodesrc name=src timeout=5000 ! "
      "appsink name=sink max-buffers=1 sync=false", &err);
  fail_unless (pipe != NULL, "pipeline: %s", err ? err->message : "?");
  src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  appsink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  g_object_set (src, "relay", hp, "stream", "slow", NULL);
  bus = gst_element_get_bus (pipe);
  fail_if (gst_element_set_state (pipe, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
  fail_unless (fixture_wait_waiting (relay, "slow", 1, 5000));

  pub = sink_harness (hp, "slow");
  g_object_set (pub->element, "backlog-limit", (guint64) 0, NULL);
  gst_harness_play (pub);
  for (i = 0; i < T2_COUNT; i++)
    fail_unless_equals_int (gst_harness_push (pub,
            fixture_make_buffer (i, T2_SIZE, T2_GOP)), GST_FLOW_OK);
  /* diodesink's EOS waits until the relay has everything */
  fail_unless (gst_harness_push_event (pub, gst_event_new_eos ()));
  fail_unless_equals_uint64 (stats_u64 (pub->element, "backlog-bytes"), 0);

  /* premise: the viewer fell past the soft limit. Usually it is still
   * behind now (it skips when it reads again); on a slow machine it may
   * have read a little meanwhile and skipped already. */
  end = deadline_in (3000);
  while (g_get_monotonic_time () < end) {
    JsonNode *root;
    JsonObject *st = relay_stream_stats (relay, "slow", &root);

    if (st && json_object_get_int_member (st, "last_seq") == T2_COUNT) {
      JsonArray *v = json_object_get_array_member (st, "viewers");
      JsonObject *vo;

      fail_unless_equals_int (json_array_get_length (v), 1);
      vo = json_array_get_object_element (v, 0);
      backlog = json_object_get_int_member (vo, "backlog");
      skips = json_object_get_int_member (vo, "skips");
    }
    if (root)
      json_node_unref (root);
    if (backlog >= 0)
      break;
    g_usleep (50 * 1000);
  }
  GST_INFO ("blocked viewer is %" G_GINT64_FORMAT " bytes behind, %"
      G_GINT64_FORMAT " skips so far", backlog, skips);
  fail_unless (backlog > T2_SOFT_LIMIT || skips >= 1, "test premise: the "
      "blocked viewer should be past the soft limit, is %" G_GINT64_FORMAT
      " bytes behind (%" G_GINT64_FORMAT " skips)", backlog, skips);
  skips = -1;

  /* now read everything, up to the publisher's EOS */
  end = deadline_in (15000);
  while (!eos) {
    GstSample *sample = NULL;

    fail_if (g_get_monotonic_time () > end, "no EOS after %u buffers",
        received);
    g_signal_emit_by_name (appsink, "try-pull-sample", 200 * GST_MSECOND,
        &sample);
    if (!sample) {
      g_object_get (appsink, "eos", &eos, NULL);
      msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
      if (msg) {
        gst_message_parse_error (msg, &err, NULL);
        fail ("viewer error: %s", err->message);
      }
      continue;
    }
    {
      GstBuffer *b = gst_sample_get_buffer (sample);
      gint64 off = GST_BUFFER_OFFSET (b);
      gboolean discont = GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT);
      gboolean delta = GST_BUFFER_FLAG_IS_SET (b,
          GST_BUFFER_FLAG_DELTA_UNIT);

      fail_unless (off > last_offset, "offset %" G_GINT64_FORMAT " after %"
          G_GINT64_FORMAT, off, last_offset);
      fail_unless_equals_int (delta, off % T2_GOP != 0);
      fail_unless (fixture_payload_matches (b, (guint) off, T2_SIZE),
          "payload of buffer %" G_GINT64_FORMAT " differs", off);
      if (received == 0) {
        fail_unless (discont, "first buffer without DISCONT");
      } else if (discont) {
        /* a skip lands on a keyframe, and only a skip is DISCONT */
        fail_if (delta, "DISCONT on delta unit %" G_GINT64_FORMAT, off);
        fail_unless (off > last_offset + 1, "DISCONT on %" G_GINT64_FORMAT
            " right after %" G_GINT64_FORMAT, off, last_offset);
        disconts++;
        gap_sum += off - last_offset - 1;
      } else {
        fail_unless (off == last_offset + 1, "buffers %" G_GINT64_FORMAT
            "..%" G_GINT64_FORMAT " missing without DISCONT", last_offset + 1,
            off - 1);
      }
      GST_LOG ("buffer %" G_GINT64_FORMAT "%s", off, discont ? " DISCONT" :
          "");
      last_offset = off;
      received++;
      gst_sample_unref (sample);
    }
  }
  GST_INFO ("received %u of %u buffers, %u skips over %u buffers", received,
      T2_COUNT, disconts, gap_sum);
  fail_unless (disconts >= 1, "the slow viewer never skipped (got %u of %u "
      "buffers)", received, T2_COUNT);
  fail_unless_equals_int (last_offset, T2_COUNT - 1);
  fail_unless_equals_int (received + gap_sum, T2_COUNT);

  /* diodesrc counted it */
  fail_unless_equals_uint64 (stats_u64 (src, "discont"), disconts);
  fail_unless_equals_uint64 (stats_u64 (src, "buffers-missed"), gap_sum);
  fail_unless (stats_u64 (src, "buffers-missed") > 0);

  /* and so did the relay */
  end = deadline_in (2000);
  while (g_get_monotonic_time () < end) {
    JsonNode *root;
    JsonObject *st = relay_stream_stats (relay, "slow", &root);

    if (st) {
      JsonArray *v = json_object_get_array_member (st, "viewers");

      if (json_array_get_length (v) == 1)
        skips = json_object_get_int_member (json_array_get_object_element
            (v, 0), "skips");
    }
    if (root)
      json_node_unref (root);
    if (skips >= 1)
      break;
    g_usleep (50 * 1000);
  }
  fail_unless (skips >= 1, "relay stats show %" G_GINT64_FORMAT " skips for "
      "the slow viewer", skips);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR) == NULL);

  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (appsink);
  gst_object_unref (pipe);
  gst_harness_teardown (pub);
  g_free (hp);
  g_object_unref (relay);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 3. the publisher drops whole GOPs when the relay stops reading */

#define T3_BACKLOG_LIMIT  (1024 * 1024)
#define T3_SIZE           100000
#define T3_GOP            5
#define T3_FIRST          T3_GOP        /* buffers before the stall */
#define T3_STALLED        200
#define T3_AFTER          10

static const gchar *const t3_relay_args[] = { "-q",
  /* no relay-side skips: what the viewer misses, the publisher dropped */
  "--viewer-soft-limit", "1073741824",
  "--viewer-hard-limit", "2147483648",
  "--write-timeout", "60000",
  "--buffer-seconds", "600",
  "--buffer-bytes", "268435456", NULL
};

GST_START_TEST (test_publisher_drops_whole_gops_on_slow_link)
{
  FixtureRelayProc *rp = fixture_relay_proc_start (DIODE_RELAY_PATH,
      t3_relay_args);
  gchar *hp = g_strdup_printf ("127.0.0.1:%u", rp->port);
  const guint total = T3_FIRST + T3_STALLED + T3_AFTER;
  GstHarness *view, *pub;
  GstBus *bus;
  GstMessage *msg;
  GstBuffer *b;
  guint i, n_qos = 0, n_gop_msgs = 0, received = 0, jumps = 0;
  gint64 max_push_us = 0, last_offset = -1, end;
  guint64 gops, dropped, sent;
  gboolean stopped = FALSE;

  /* the viewer subscribes first and waits: it is attached before the stall */
  view = src_harness (hp, "uplink");
  gst_harness_play (view);
  pub = sink_harness (hp, "uplink");
  g_object_set (pub->element, "backlog-limit", (guint64) T3_BACKLOG_LIMIT,
      "timeout", 0, NULL);
  bus = gst_bus_new ();
  gst_element_set_bus (pub->element, bus);
  gst_harness_play (pub);

  for (i = 0; i < T3_FIRST; i++)
    fail_unless_equals_int (gst_harness_push (pub,
            fixture_make_buffer (i, T3_SIZE, T3_GOP)), GST_FLOW_OK);
  for (i = 0; i < T3_FIRST; i++) {
    b = pull_within (view, 5000);
    fail_unless (b != NULL, "viewer: buffer %u did not arrive", i);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), i);
    gst_buffer_unref (b);
    received++;
    last_offset = i;
  }

  /* the relay stops reading: the link is now infinitely slow */
  fail_unless (kill (rp->pid, SIGSTOP) == 0);
  stopped = TRUE;
  for (i = T3_FIRST; i < T3_FIRST + T3_STALLED; i++) {
    gint64 t0 = g_get_monotonic_time ();

    fail_unless_equals_int (gst_harness_push (pub,
            fixture_make_buffer (i, T3_SIZE, T3_GOP)), GST_FLOW_OK);
    max_push_us = MAX (max_push_us, g_get_monotonic_time () - t0);
  }
  gops = stats_u64 (pub->element, "gops-dropped");
  dropped = stats_u64 (pub->element, "buffers-dropped");
  sent = stats_u64 (pub->element, "buffers-sent");
  GST_INFO ("relay stopped: longest push %" G_GINT64_FORMAT " us; %"
      G_GUINT64_FORMAT " buffers in %" G_GUINT64_FORMAT " GOPs dropped, %"
      G_GUINT64_FORMAT " queued, backlog %" G_GUINT64_FORMAT " bytes",
      max_push_us, dropped, gops, sent,
      stats_u64 (pub->element, "backlog-bytes"));
  fail_unless (max_push_us < 200 * 1000, "a push blocked for %"
      G_GINT64_FORMAT " us while the relay was stopped", max_push_us);
  fail_unless (gops >= 1, "no GOP dropped with the relay stopped");
  fail_unless (dropped > 0);
  fail_unless (dropped % T3_GOP == 0, "%" G_GUINT64_FORMAT " buffers "
      "dropped: not whole GOPs of %d", dropped, T3_GOP);
  fail_unless (dropped >= gops * T3_GOP);
  fail_unless_equals_uint64 (sent + dropped, T3_FIRST + T3_STALLED);

  /* the bus heard about it */
  while ((msg = gst_bus_pop (bus))) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_QOS) {
      GstFormat fmt;
      guint64 processed, qdropped;
      gboolean live;

      gst_message_parse_qos (msg, &live, NULL, NULL, NULL, NULL);
      gst_message_parse_qos_stats (msg, &fmt, &processed, &qdropped);
      fail_unless_equals_int (fmt, GST_FORMAT_BUFFERS);
      n_qos++;
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && gst_message_has_name (msg, "diode-gop-dropped")) {
      n_gop_msgs++;
    }
    gst_message_unref (msg);
  }
  GST_INFO ("%u QoS and %u diode-gop-dropped messages", n_qos, n_gop_msgs);
  fail_unless (n_qos >= 1, "no QoS message");
  fail_unless (n_gop_msgs >= 1, "no diode-gop-dropped message");
  fail_unless_equals_uint64 (n_gop_msgs, gops);

  /* the relay reads again: the queue drains, publishing resumes */
  fail_unless (kill (rp->pid, SIGCONT) == 0);
  stopped = FALSE;
  end = deadline_in (10000);
  while (stats_u64 (pub->element, "backlog-bytes") > 0) {
    fail_if (g_get_monotonic_time () > end, "diodesink's queue did not "
        "drain after the relay resumed");
    g_usleep (5 * 1000);
  }
  for (i = T3_FIRST + T3_STALLED; i < total; i++)
    fail_unless_equals_int (gst_harness_push (pub,
            fixture_make_buffer (i, T3_SIZE, T3_GOP)), GST_FLOW_OK);
  fail_unless_equals_uint64 (stats_u64 (pub->element, "buffers-dropped"),
      dropped);

  /* the viewer gets every buffer that was sent; a gap is a dropped GOP and
   * the first buffer after it a keyframe flagged DISCONT */
  while (last_offset < (gint64) total - 1) {
    gboolean discont, delta;

    b = pull_within (view, 10000);
    fail_unless (b != NULL, "viewer: nothing after buffer %" G_GINT64_FORMAT,
        last_offset);
    discont = GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT);
    delta = GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DELTA_UNIT);
    fail_unless ((gint64) GST_BUFFER_OFFSET (b) > last_offset);
    fail_unless (fixture_payload_matches (b, GST_BUFFER_OFFSET (b), T3_SIZE),
        "viewer: payload of buffer %" G_GUINT64_FORMAT " differs",
        GST_BUFFER_OFFSET (b));
    if ((gint64) GST_BUFFER_OFFSET (b) != last_offset + 1) {
      fail_unless ((last_offset + 1) % T3_GOP == 0, "viewer: buffers %"
          G_GINT64_FORMAT "..%" G_GUINT64_FORMAT " missing: part of a GOP",
          last_offset + 1, GST_BUFFER_OFFSET (b) - 1);
      fail_if (delta, "viewer: buffer %" G_GUINT64_FORMAT " after a drop is "
          "not a keyframe", GST_BUFFER_OFFSET (b));
      fail_unless (discont, "viewer: keyframe %" G_GUINT64_FORMAT " after a "
          "drop is not DISCONT", GST_BUFFER_OFFSET (b));
      jumps++;
    } else {
      fail_if (discont, "viewer: DISCONT on %" G_GUINT64_FORMAT " without a "
          "drop before it", GST_BUFFER_OFFSET (b));
    }
    last_offset = GST_BUFFER_OFFSET (b);
    received++;
    gst_buffer_unref (b);
  }
  GST_INFO ("viewer: %u of %u buffers, %u drops seen", received, total, jumps);
  fail_unless (jumps >= 1);
  fail_unless_equals_uint64 (received + dropped, total);
  /* the relay itself skipped nothing: every gap was the publisher's */
  fail_unless_equals_uint64 (stats_u64 (view->element, "discont"), 0);

  gst_harness_teardown (pub);
  gst_harness_teardown (view);
  gst_object_unref (bus);
  if (stopped)
    kill (rp->pid, SIGCONT);
  fail_unless (fixture_relay_proc_stop (rp), "diode-relay did not exit "
      "cleanly on SIGTERM");
  g_free (hp);
}

GST_END_TEST;

static Suite *
slow_suite (void)
{
  Suite *s = suite_create ("slow");
  TCase *tc = tcase_create ("slow");

  fixture_config_dir ();
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_stalled_viewer_does_not_disturb_others);
  tcase_add_test (tc, test_stalled_viewer_write_timeout);
  tcase_add_test (tc, test_slow_viewer_skips_to_keyframe);
  tcase_add_test (tc, test_publisher_drops_whole_gops_on_slow_link);
  return s;
}

GST_CHECK_MAIN (slow);
