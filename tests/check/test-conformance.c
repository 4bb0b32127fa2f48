/* gst-diode — the relay keeps the promises of docs/protocol.md
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each test reads one promise of the protocol text and checks it against an
 * in-process relay with raw clients (real TLS on 127.0.0.1) that send and
 * read frames by hand, as a second implementation written from the text
 * alone would. The section of docs/protocol.md is named in each test.
 */
#include <gst/check/gstcheck.h>
#include <gnutls/gnutls.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>

#include "rawclient.h"

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au"

static void
hello (RawClient * c, DiodeRole role, DiodeMsg * welcome)
{
  DiodeMsg m = { 0 };

  raw_send_frame (c, diode_msg_encode_hello (1, 1, role, "conformance/0"));
  raw_expect (c, DIODE_MSG_WELCOME, welcome ? welcome : &m);
  diode_msg_clear (&m);
}

/* A publisher through PUBLISH_OK; returns next_seq. */
static guint64
publish (RawClient * c, const gchar * name)
{
  DiodeMsg m = { 0 };
  guint64 next;

  hello (c, DIODE_ROLE_PUBLISHER, NULL);
  raw_send_frame (c, diode_msg_encode_publish (name));
  raw_expect (c, DIODE_MSG_PUBLISH_OK, &m);
  next = m.seq;
  diode_msg_clear (&m);
  return next;
}

static void
send_media (RawClient * c, guint64 seq, gboolean keyframe)
{
  guint8 data[64];

  memset (data, (guint8) seq, sizeof (data));
  raw_send_frame (c, diode_msg_encode_media (seq, seq * GST_MSECOND,
          seq * GST_MSECOND, GST_MSECOND, seq, seq + 1,
          keyframe ? DIODE_MEDIA_KEYFRAME : 0, data, sizeof (data)));
}

/* The next message other than PING/PONG (PINGs answered), which must come. */
static void
read_skipping_pings (RawClient * c, DiodeMsg * m)
{
  fail_unless (raw_next (c, m, RAW_IO_MS) == RAW_READ_MSG,
      "nothing from the relay");
}

/* Section 8: "With start_seq = 0 the relay starts at the latest keyframe it
 * holds [...] If it holds no keyframe yet it waits for one (within wait_ms)"
 * and SUBSCRIBE_OK's first_seq is the "seq of the first MEDIA after the
 * stream headers". A subscriber held for an unpublished name must not get
 * first_seq 0 and the delta frames that come before the first keyframe. */
GST_START_TEST (test_waiting_viewer_starts_at_first_keyframe)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  RawClient *p = raw_open (relay, 0, "pub.pem");
  DiodeMsg m = { 0 };
  guint64 next;

  hello (v, DIODE_ROLE_VIEWER, NULL);
  raw_send_frame (v, diode_msg_encode_subscribe ("cam", 0, 5000));
  fail_unless (fixture_wait_waiting (relay, "cam", 1, 2000));

  next = publish (p, "cam");
  raw_send_frame (p, diode_msg_encode_caps (CAPS_STR));
  send_media (p, next, FALSE);
  send_media (p, next + 1, FALSE);
  fail_unless (fixture_wait_last_seq (relay, "cam", next + 1, 2000));
  /* No keyframe yet: nothing for the viewer, not even SUBSCRIBE_OK. */
  fail_unless (raw_read (v, &m, 300) != RAW_READ_MSG
      || m.type == DIODE_MSG_PING, "viewer got %s before any keyframe",
      diode_msg_type_name (m.type));
  diode_msg_clear (&m);

  send_media (p, next + 2, TRUE);
  send_media (p, next + 3, FALSE);
  read_skipping_pings (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  fail_unless_equals_uint64 (m.seq, next + 2);
  diode_msg_clear (&m);
  read_skipping_pings (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_CAPS);
  diode_msg_clear (&m);
  read_skipping_pings (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_MEDIA);
  fail_unless_equals_uint64 (m.seq, next + 2);
  fail_unless (m.flags & DIODE_MEDIA_KEYFRAME, "first MEDIA is no keyframe");
  diode_msg_clear (&m);
  read_skipping_pings (v, &m);
  fail_unless_equals_uint64 (m.seq, next + 3);
  diode_msg_clear (&m);

  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* Same promise for a SUBSCRIBE that arrives while the stream is published
 * but has not had a keyframe yet; with wait_ms = 0 the relay cannot wait and
 * answers NOT_FOUND (section 6, SUBSCRIBE_OK). */
GST_START_TEST (test_subscribe_before_first_keyframe)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *now = raw_open (relay, 0, "viewer.pem");
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  DiodeMsg m = { 0 };
  guint64 next = publish (p, "cam");

  raw_send_frame (p, diode_msg_encode_caps (CAPS_STR));
  send_media (p, next, FALSE);
  fail_unless (fixture_wait_last_seq (relay, "cam", next, 2000));

  hello (now, DIODE_ROLE_VIEWER, NULL);
  raw_send_frame (now, diode_msg_encode_subscribe ("cam", 0, 0));
  read_skipping_pings (now, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_ERROR);
  fail_unless_equals_int (m.error_code, DIODE_ERR_NOT_FOUND);
  diode_msg_clear (&m);

  hello (v, DIODE_ROLE_VIEWER, NULL);
  raw_send_frame (v, diode_msg_encode_subscribe ("cam", 0, 5000));
  fail_unless (raw_read (v, &m, 300) != RAW_READ_MSG
      || m.type == DIODE_MSG_PING, "viewer got %s before any keyframe",
      diode_msg_type_name (m.type));
  diode_msg_clear (&m);
  send_media (p, next + 1, TRUE);
  read_skipping_pings (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  fail_unless_equals_uint64 (m.seq, next + 1);
  diode_msg_clear (&m);
  read_skipping_pings (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_CAPS);
  diode_msg_clear (&m);
  read_skipping_pings (v, &m);
  fail_unless_equals_uint64 (m.seq, next + 1);
  diode_msg_clear (&m);

  raw_free (v, FALSE);
  raw_free (now, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* Section 8, "Life of a stream after EOS": during the name grace a joiner
 * gets the newest chunk, all of it, then EOS; afterwards the name is gone
 * (NOT_FOUND). A joiner used to get the chunk before the last one. */
GST_START_TEST (test_ended_stream_join_gets_last_chunk)
{
  DiodeRelay *relay = relay_with ("name-grace-ms", 1500, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  RawClient *late;
  DiodeMsg m = { 0 };
  guint64 next = publish (p, "cam"), seq, last = next + 599, first_got = 0;
  gboolean eos = FALSE;
  guint n = 0;

  raw_send_frame (p, diode_msg_encode_caps (CAPS_STR));
  for (seq = next; seq <= last; seq++)
    send_media (p, seq, (seq - next) % 60 == 0);
  raw_send_frame (p, diode_msg_encode_eos (last));
  fail_unless (fixture_wait_publisher (relay, "cam", FALSE, 2000));

  hello (v, DIODE_ROLE_VIEWER, NULL);
  raw_send_frame (v, diode_msg_encode_subscribe ("cam", 0, 0));
  read_skipping_pings (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  fail_unless_equals_uint64 (m.seq, next + 540);
  diode_msg_clear (&m);
  while (!eos) {
    read_skipping_pings (v, &m);
    if (m.type == DIODE_MSG_MEDIA) {
      if (!first_got)
        first_got = m.seq;
      seq = m.seq;
      n++;
    } else if (m.type == DIODE_MSG_EOS) {
      fail_unless_equals_uint64 (m.seq, last);
      eos = TRUE;
    }
    diode_msg_clear (&m);
  }
  fail_unless_equals_uint64 (first_got, next + 540);
  fail_unless_equals_uint64 (seq, last);
  fail_unless_equals_int (n, 60);

  /* Past the name grace the ended stream is gone. */
  g_usleep (2000 * 1000);
  late = raw_open (relay, 0, "viewer.pem");
  hello (late, DIODE_ROLE_VIEWER, NULL);
  raw_send_frame (late, diode_msg_encode_subscribe ("cam", 0, 0));
  read_skipping_pings (late, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_ERROR);
  fail_unless_equals_int (m.error_code, DIODE_ERR_NOT_FOUND);
  diode_msg_clear (&m);

  raw_free (late, FALSE);
  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* Section 6, CAPS: "Sent before the first MEDIA": a MEDIA before any CAPS in
 * a publish session is a protocol error. */
GST_START_TEST (test_media_before_caps_refused)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  gint code = -1;
  guint64 next = publish (p, "cam");

  send_media (p, next, TRUE);
  fail_unless (raw_wait_closed (p, 3000, &code, NULL) >= 0);
  fail_unless_equals_int (code, DIODE_ERR_PROTOCOL);
  fail_unless (!diode_relay_has_publisher (relay, "cam"));
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* Section 6, PUBLISH_OK: next_seq is the lowest seq the first MEDIA may
 * carry; a restarted publisher that goes back below it is refused. */
GST_START_TEST (test_next_seq_enforced)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *p2;
  gint code = -1;
  guint64 next = publish (p, "cam");
  gchar *text = NULL;

  fail_unless_equals_uint64 (next, 1);
  raw_send_frame (p, diode_msg_encode_caps (CAPS_STR));
  send_media (p, 1, TRUE);
  send_media (p, 2, FALSE);
  fail_unless (fixture_wait_last_seq (relay, "cam", 2, 2000));
  raw_free (p, FALSE);
  fail_unless (fixture_wait_publisher (relay, "cam", FALSE, 2000));

  p2 = raw_open (relay, 0, "pub.pem");
  next = publish (p2, "cam");
  fail_unless_equals_uint64 (next, 3);
  raw_send_frame (p2, diode_msg_encode_caps (CAPS_STR));
  send_media (p2, 1, TRUE);
  fail_unless (raw_wait_closed (p2, 3000, &code, &text) >= 0);
  fail_unless_equals_int (code, DIODE_ERR_PROTOCOL);
  fail_unless (strstr (text, "seq") != NULL, "%s", text);
  g_free (text);
  raw_free (p2, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* Section 11: WELCOME announces K and the relay keeps it: a quiet viewer
 * hears a PING within K ms (and some slack), and the relay's WELCOME says
 * what the relay is set to, 800 ms by default. */
GST_START_TEST (test_keepalive_as_announced)
{
  DiodeRelay *relay = relay_with ("keepalive-ms", 300, NULL);
  DiodeRelay *plain = relay_with (NULL);
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  RawClient *d = raw_open (plain, 0, "viewer.pem");
  DiodeMsg m = { 0 };
  gint64 t0;

  hello (d, DIODE_ROLE_VIEWER, &m);
  fail_unless_equals_int (m.keepalive_ms, 800);
  diode_msg_clear (&m);

  hello (v, DIODE_ROLE_VIEWER, &m);
  fail_unless_equals_int (m.keepalive_ms, 300);
  diode_msg_clear (&m);
  t0 = g_get_monotonic_time ();
  fail_unless (raw_read (v, &m, 3000) == RAW_READ_MSG);
  fail_unless_equals_int (m.type, DIODE_MSG_PING);
  fail_unless (ms_since (t0) < 2000, "first PING after %" G_GINT64_FORMAT
      " ms", ms_since (t0));
  diode_msg_clear (&m);

  raw_free (v, FALSE);
  raw_free (d, FALSE);
  relay_free (relay);
  relay_free (plain);
}

GST_END_TEST;

/* Section 7: ERROR 101 NAME_IN_USE is the one refusal after which the relay
 * closes (the replaced publisher must stop). */
GST_START_TEST (test_name_in_use_closes)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *old = raw_open (relay, 0, "pub.pem");
  RawClient *new;
  gint code = -1;
  guint64 next = publish (old, "cam");

  raw_send_frame (old, diode_msg_encode_caps (CAPS_STR));
  send_media (old, next, TRUE);
  fail_unless (fixture_wait_last_seq (relay, "cam", next, 2000));
  new = raw_open (relay, 0, "pub.pem");
  publish (new, "cam");
  fail_unless (raw_wait_closed (old, 3000, &code, NULL) >= 0,
      "the replaced publisher's connection stayed open");
  fail_unless_equals_int (code, DIODE_ERR_NAME_IN_USE);
  raw_free (old, FALSE);
  raw_free (new, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* Section 8: the relay holds a SUBSCRIBE at most its own maximum, whatever
 * wait_ms asks for. */
GST_START_TEST (test_wait_ms_capped)
{
  DiodeRelay *relay = relay_with ("max-wait-ms", 400, NULL);
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  DiodeMsg m = { 0 };
  gint64 t0;

  hello (v, DIODE_ROLE_VIEWER, NULL);
  t0 = g_get_monotonic_time ();
  raw_send_frame (v, diode_msg_encode_subscribe ("nobody", 0, 600000));
  for (;;) {
    fail_unless (raw_read (v, &m, 5000) == RAW_READ_MSG,
        "no answer within 5 s");
    if (m.type != DIODE_MSG_PING)
      break;
    diode_msg_clear (&m);
  }
  fail_unless_equals_int (m.type, DIODE_MSG_ERROR);
  fail_unless_equals_int (m.error_code, DIODE_ERR_NOT_FOUND);
  fail_unless (ms_since (t0) >= 350 && ms_since (t0) < 3000,
      "answered after %" G_GINT64_FORMAT " ms", ms_since (t0));
  diode_msg_clear (&m);
  raw_free (v, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* Section 1: "A relay rejects a client without [a certificate] during the
 * handshake": the client reads a TLS alert, not a bare end of file. */
GST_START_TEST (test_no_certificate_gets_alert)
{
  DiodeRelay *relay = relay_with (NULL);
  int fd = tcp_connect (relay, 0);
  gnutls_session_t s;
  gnutls_certificate_credentials_t cred;
  gint64 end = deadline_in (5000);
  int ret;
  gboolean alert = FALSE;

  gnutls_certificate_allocate_credentials (&cred);
  gnutls_init (&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
  gnutls_priority_set_direct (s, "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL);
  gnutls_credentials_set (s, GNUTLS_CRD_CERTIFICATE, cred);
  gnutls_transport_set_int (s, fd);
  while ((ret = gnutls_handshake (s)) < 0 && !gnutls_error_is_fatal (ret)) {
    fail_unless (wait_fd (fd, gnutls_record_get_direction (s) ? POLLOUT :
            POLLIN, end), "handshake hangs");
  }
  if (ret == 0) {
    /* TLS 1.3: the client may finish first; the verdict comes next. */
    GBytes *h = diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER, "nocert");
    gsize len;
    const guint8 *d = g_bytes_get_data (h, &len);
    guint8 buf[256];

    gnutls_record_send (s, d, len);
    g_bytes_unref (h);
    while ((ret = gnutls_record_recv (s, buf, sizeof (buf))) < 0
        && !gnutls_error_is_fatal (ret))
      fail_unless (wait_fd (fd, POLLIN, end), "relay neither answered nor "
          "closed");
    fail_unless (ret <= 0, "relay sent application data");
  }
  alert = (ret == GNUTLS_E_FATAL_ALERT_RECEIVED);
  GST_INFO ("client without certificate: %s (alert %s)", gnutls_strerror (ret),
      alert ? gnutls_alert_get_name (gnutls_alert_get (s)) : "none");
  fail_unless (alert, "no TLS alert, got: %s", ret == 0 ? "EOF" :
      gnutls_strerror (ret));
  gnutls_deinit (s);
  gnutls_certificate_free_credentials (cred);
  close (fd);
  relay_free (relay);
}

GST_END_TEST;

/* Section 8 (resume): a subscriber that asks for the next seq, not yet
 * published, of a live stream is caught up: SUBSCRIBE_OK's first_seq is
 * that seq and the next MEDIA is it, after CAPS, not the latest keyframe
 * again (a repeated GOP at every fail-over). One that asks past it (the
 * relay is behind it) gets first_seq = last + 1, the only case where
 * first_seq < start_seq. start_seq held: resumed there, as before. */
GST_START_TEST (test_resume_at_next_seq_joins_tail)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v[3];
  const guint64 ask[3] = { 15, 21, 25 }, first_at[3] = { 15, 21, 21 };
  DiodeMsg m = { 0 };
  guint64 next, s;
  guint i;

  next = publish (p, "cam");
  fail_unless_equals_uint64 (next, 1);
  raw_send_frame (p, diode_msg_encode_caps (CAPS_STR));
  for (s = 1; s <= 20; s++)
    send_media (p, s, s == 1 || s == 11);
  fail_unless (fixture_wait_last_seq (relay, "cam", 20, 2000));

  for (i = 0; i < 3; i++) {
    v[i] = raw_open (relay, 0, "viewer.pem");
    hello (v[i], DIODE_ROLE_VIEWER, NULL);
    raw_send_frame (v[i], diode_msg_encode_subscribe ("cam", ask[i], 0));
    read_skipping_pings (v[i], &m);
    fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
    fail_unless (m.seq == first_at[i], "start_seq %" G_GUINT64_FORMAT
        ": first_seq %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT,
        ask[i], m.seq, first_at[i]);
    diode_msg_clear (&m);
    read_skipping_pings (v[i], &m);
    fail_unless_equals_int (m.type, DIODE_MSG_CAPS);
    diode_msg_clear (&m);
  }
  send_media (p, 21, FALSE);
  for (i = 0; i < 3; i++) {
    guint64 want = first_at[i];

    do {
      read_skipping_pings (v[i], &m);
      fail_unless_equals_int (m.type, DIODE_MSG_MEDIA);
      fail_unless (m.seq == want, "start_seq %" G_GUINT64_FORMAT
          ": MEDIA %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT,
          ask[i], m.seq, want);
      diode_msg_clear (&m);
    } while (want++ < 21);
    raw_free (v[i], FALSE);
  }
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* The tail join needs the last frame buffered: a publisher's new session
 * empties the ring while the sequence goes on, and a resume past it then
 * waits for the new session's first keyframe like any join (never
 * SUBSCRIBE_OK with first_seq 0). */
GST_START_TEST (test_resume_after_new_session_waits_for_keyframe)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v;
  DiodeMsg m = { 0 };
  guint64 next, s;

  next = publish (p, "cam");
  raw_send_frame (p, diode_msg_encode_caps (CAPS_STR));
  for (s = next; s < next + 10; s++)
    send_media (p, s, s == next);
  fail_unless (fixture_wait_last_seq (relay, "cam", next + 9, 2000));
  raw_free (p, FALSE);
  fail_unless (fixture_wait_publisher (relay, "cam", FALSE, 2000));
  p = raw_open (relay, 0, "pub.pem");
  next = publish (p, "cam");
  fail_unless_equals_uint64 (next, 11);
  raw_send_frame (p, diode_msg_encode_caps (CAPS_STR));

  v = raw_open (relay, 0, "viewer.pem");
  hello (v, DIODE_ROLE_VIEWER, NULL);
  raw_send_frame (v, diode_msg_encode_subscribe ("cam", 11, 5000));
  fail_unless (raw_read (v, &m, 300) != RAW_READ_MSG
      || m.type == DIODE_MSG_PING, "viewer got %s before any keyframe",
      diode_msg_type_name (m.type));
  diode_msg_clear (&m);
  send_media (p, 11, TRUE);
  read_skipping_pings (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  fail_unless_equals_uint64 (m.seq, 11);
  diode_msg_clear (&m);
  read_skipping_pings (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_CAPS);
  diode_msg_clear (&m);
  read_skipping_pings (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_MEDIA);
  fail_unless_equals_uint64 (m.seq, 11);
  diode_msg_clear (&m);

  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

static Suite *
conformance_suite (void)
{
  Suite *s = suite_create ("conformance");
  TCase *tc = tcase_create ("protocol.md");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_waiting_viewer_starts_at_first_keyframe);
  tcase_add_test (tc, test_subscribe_before_first_keyframe);
  tcase_add_test (tc, test_resume_at_next_seq_joins_tail);
  tcase_add_test (tc, test_resume_after_new_session_waits_for_keyframe);
  tcase_add_test (tc, test_ended_stream_join_gets_last_chunk);
  tcase_add_test (tc, test_media_before_caps_refused);
  tcase_add_test (tc, test_next_seq_enforced);
  tcase_add_test (tc, test_keepalive_as_announced);
  tcase_add_test (tc, test_name_in_use_closes);
  tcase_add_test (tc, test_wait_ms_capped);
  tcase_add_test (tc, test_no_certificate_gets_alert);
  return s;
}

GST_CHECK_MAIN (conformance);
