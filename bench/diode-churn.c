/* gst-diode — diode-churn: N viewers joining and leaving at random (soak)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   diode-churn --port P --stream NAME -n 200 --duration 600 \
 *               [--relay-id 0x...] [--identity FILE] [--seed S]
 *
 * One thread, one epoll set, every socket non-blocking (like diode-load).
 * Each of the N slots loops: connect, TLS 1.3, HELLO as VIEWER, SUBSCRIBE
 * (latest keyframe), read frames for a random lifetime, leave, stay away a
 * random while, and again. How a session ends is drawn at random too, so the
 * relay sees every way a viewer goes away:
 *
 *   close   (55 %)  close_notify then close(): the polite way
 *   reset   (20 %)  SO_LINGER 0 then close(): the peer gets an RST
 *   early   (15 %)  leaves at a random point before SUBSCRIBE_OK (during
 *                   the TCP connect, the TLS handshake or after HELLO)
 *   stall   (10 %)  stops reading and sending but keeps the socket open
 *                   for --stall-max seconds (default 5); the relay's
 *                   keepalive (3 x 800 ms) must have closed it by then:
 *                   the slot then reads what is left (raw, undecrypted)
 *                   and must reach the relay's FIN or RST within 3 s
 *
 * Viewers send a PING every --ping-ms (default 400 ms) while connected, as
 * the protocol asks (section 11), so only stalled ones are cut off.
 *
 * Every --report seconds a line goes to stderr; at the end one JSON object
 * goes to stdout. Exit status 0 unless sessions failed in ways the relay
 * should never cause (see "unexpected" in the JSON), or nothing streamed.
 * Hard bound: --duration + 30 s whatever happens.
 */
#define _GNU_SOURCE
#include <glib.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "diode-identity.h"
#include "diode-tls.h"
#include "diode-msg.h"
#include "diode-session.h"

#define RBUF_SIZE   (256 * 1024)
#define MAX_EVENTS  512
#define AGENT       "diode-churn/0.1"

typedef enum {
  S_OFF,                        /* between sessions */
  S_CONNECTING,
  S_HANDSHAKE,
  S_WELCOME,                    /* HELLO sent */
  S_SUBSCRIBING,                /* SUBSCRIBE sent */
  S_STREAMING,                  /* SUBSCRIBE_OK received */
  S_STALLED,                    /* deliberately deaf and mute */
  S_DRAINING,                   /* after the stall: has the relay closed? */
} SState;

typedef enum {
  LEAVE_CLOSE,
  LEAVE_RESET,
  LEAVE_EARLY,
  LEAVE_STALL,
  N_LEAVE,
} LeaveMode;

static const gchar *leave_names[N_LEAVE] = { "close", "reset", "early",
  "stall"
};

typedef struct {
  guint idx;
  int fd;
  SState st;
  guint32 events;
  LeaveMode mode;
  SState early_at;              /* LEAVE_EARLY: leave on reaching this state */
  gint64 leave_at_ns;           /* end of the session's life */
  gint64 next_at_ns;            /* S_OFF: when to start again */
  gint64 stall_until_ns;        /* S_STALLED: end of the stall, then
                                   S_DRAINING: deadline for the FIN */
  gint64 last_ping_ns;
  guint64 ping_token;
  gboolean got_caps, got_key;
  DiodeTls *tls;
  DiodeSession *sess;
  GByteArray *outq;
} Slot;

static struct {
  gchar *host;
  gint port;
  gchar *stream;
  gint n;
  gdouble duration, min_life, max_life, max_off, stall_max, report;
  gint ping_ms;
  gchar *relay_id;
  gchar *identity;
  gint64 seed;
  gint wait_ms;
} opt = {
  .port = 0, .n = 200, .duration = 60, .min_life = 0.5, .max_life = 20,
  .max_off = 2, .stall_max = 5, .report = 10, .ping_ms = 400, .wait_ms = 5000,
};

static struct {
  guint64 sessions, subscribed, with_keyframe, media, bytes;
  guint64 left[N_LEAVE];
  guint64 stall_closed_by_relay;        /* relay closed a stalled viewer */
  guint64 stall_not_closed;     /* ... or did not within --stall-max */
  guint64 unexpected;           /* errors the relay should never cause */
} cnt;

static GHashTable *reasons;     /* unexpected reason -> count */
static int epfd = -1;
static Slot *slots;
static DiodeIdentity *identity;
static struct sockaddr_storage dst;
static socklen_t dst_len;
static guint8 *rbuf;
static GRand *rnd;
static volatile sig_atomic_t stop_requested;

static gint64
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static gint64
secs_ns (gdouble s)
{
  return (gint64) (s * 1e9);
}

static void
on_signal (int sig)
{
  stop_requested = 1;
}

static void
unexpected (Slot * s, const gchar * why)
{
  cnt.unexpected++;
  g_hash_table_insert (reasons, (gpointer) g_intern_string (why),
      GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (reasons,
                  g_intern_string (why))) + 1));
}

static void
set_events (Slot * s, guint32 ev)
{
  struct epoll_event e = { 0 };
  if (s->fd < 0 || s->events == ev)
    return;
  e.events = ev;
  e.data.ptr = s;
  if (epoll_ctl (epfd, EPOLL_CTL_MOD, s->fd, &e) == 0)
    s->events = ev;
}

/* End the session (however it went) and schedule the next one. */
static void
slot_end (Slot * s, gboolean rst)
{
  if (s->fd >= 0) {
    epoll_ctl (epfd, EPOLL_CTL_DEL, s->fd, NULL);
    if (rst) {
      struct linger l = { 1, 0 };
      setsockopt (s->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    } else if (s->tls) {
      diode_tls_bye (s->tls);
    }
    close (s->fd);
    s->fd = -1;
  }
  g_clear_pointer (&s->tls, diode_tls_free);
  g_clear_pointer (&s->sess, diode_session_free);
  g_byte_array_set_size (s->outq, 0);
  s->st = S_OFF;
  s->events = 0;
  s->next_at_ns = now_ns () + secs_ns (g_rand_double_range (rnd, 0,
          opt.max_off));
}

/* The session ended on our side, as planned. */
static void
slot_leave (Slot * s)
{
  cnt.left[s->mode]++;
  slot_end (s, s->mode == LEAVE_RESET);
}

static void
slot_start (Slot * s)
{
  struct epoll_event e = { 0 };
  int one = 1;
  guint r = g_rand_int_range (rnd, 0, 100);
  gint64 now = now_ns ();

  s->mode = r < 55 ? LEAVE_CLOSE : r < 75 ? LEAVE_RESET : r < 90 ?
      LEAVE_EARLY : LEAVE_STALL;
  s->early_at = (SState) g_rand_int_range (rnd, S_CONNECTING,
      S_SUBSCRIBING + 1);
  s->leave_at_ns = now + secs_ns (g_rand_double_range (rnd, opt.min_life,
          opt.max_life));
  s->last_ping_ns = now;
  s->got_caps = s->got_key = FALSE;
  cnt.sessions++;

  s->fd = socket (dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
      0);
  if (s->fd < 0) {
    unexpected (s, "socket() failed");
    slot_end (s, FALSE);
    return;
  }
  setsockopt (s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect (s->fd, (struct sockaddr *) &dst, dst_len) < 0
      && errno != EINPROGRESS) {
    unexpected (s, "connect() failed");
    slot_end (s, FALSE);
    return;
  }
  s->st = S_CONNECTING;
  e.events = EPOLLOUT;
  e.data.ptr = s;
  epoll_ctl (epfd, EPOLL_CTL_ADD, s->fd, &e);
  s->events = EPOLLOUT;
}

/* LEAVE_EARLY: leave as soon as the chosen state is reached. */
static gboolean
maybe_leave_early (Slot * s)
{
  if (s->mode == LEAVE_EARLY && s->st == s->early_at) {
    slot_leave (s);
    return TRUE;
  }
  return FALSE;
}

static gboolean
tls_flush (Slot * s)
{
  while (s->outq->len > 0) {
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st = diode_tls_send (s->tls, s->outq->data, s->outq->len,
        &n, &err);
    if (st == DIODE_TLS_OK) {
      g_byte_array_remove_range (s->outq, 0, n);
      continue;
    }
    g_clear_error (&err);
    if (st == DIODE_TLS_AGAIN) {
      set_events (s, EPOLLIN | EPOLLOUT);
      return TRUE;
    }
    unexpected (s, "TLS send failed");
    slot_end (s, FALSE);
    return FALSE;
  }
  set_events (s, EPOLLIN);
  return TRUE;
}

static gboolean
tls_queue (Slot * s, GBytes * frame, DiodeMsgType type)
{
  gsize len;
  const guint8 *d = g_bytes_get_data (frame, &len);
  diode_session_sent (s->sess, type, 0, NULL);
  g_byte_array_append (s->outq, d, len);
  g_bytes_unref (frame);
  return tls_flush (s);
}

/* FALSE: the slot ended. */
static gboolean
handle_msg (Slot * s, DiodeMsg * m)
{
  switch (m->type) {
    case DIODE_MSG_WELCOME:
      if (s->st == S_WELCOME) {
        if (maybe_leave_early (s))
          return FALSE;
        s->st = S_SUBSCRIBING;
        if (!tls_queue (s, diode_msg_encode_subscribe (opt.stream, 0,
                    opt.wait_ms), DIODE_MSG_SUBSCRIBE))
          return FALSE;
        return !maybe_leave_early (s);
      }
      break;
    case DIODE_MSG_SUBSCRIBE_OK:
      s->st = S_STREAMING;
      cnt.subscribed++;
      if (s->mode == LEAVE_EARLY)       /* too late to leave early: close */
        s->mode = LEAVE_CLOSE;
      break;
    case DIODE_MSG_CAPS:
      s->got_caps = TRUE;
      break;
    case DIODE_MSG_MEDIA:
      cnt.media++;
      if ((m->flags & DIODE_MEDIA_KEYFRAME) && s->got_caps && !s->got_key) {
        s->got_key = TRUE;
        cnt.with_keyframe++;
      }
      break;
    case DIODE_MSG_PING:
      return tls_queue (s, diode_msg_encode_pong (m->token), DIODE_MSG_PONG);
    case DIODE_MSG_ERROR:{
      gchar *why = g_strdup_printf ("relay sent ERROR %u (%s) to a %s viewer",
          m->error_code, diode_error_code_name (m->error_code),
          s->st == S_STREAMING ? "streaming" : "joining");
      unexpected (s, why);
      g_free (why);
      slot_end (s, FALSE);
      return FALSE;
    }
    default:
      break;
  }
  return TRUE;
}

static void
tls_read (Slot * s)
{
  for (;;) {
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st = diode_tls_recv (s->tls, rbuf, RBUF_SIZE, &n, &err);

    if (st == DIODE_TLS_OK) {
      DiodeMsg m;
      DiodeSessionResult r;

      cnt.bytes += n;
      diode_session_feed (s->sess, rbuf, n);
      while ((r = diode_session_next (s->sess, &m, &err)) ==
          DIODE_SESSION_MESSAGE) {
        gboolean alive = handle_msg (s, &m);
        diode_msg_clear (&m);
        if (!alive)
          return;
      }
      if (r == DIODE_SESSION_ERROR) {
        gchar *why = g_strdup_printf ("protocol error: %s", err->message);
        g_clear_error (&err);
        unexpected (s, why);
        g_free (why);
        slot_end (s, FALSE);
        return;
      }
      continue;
    }
    if (st == DIODE_TLS_AGAIN)
      return;
    unexpected (s, st == DIODE_TLS_CLOSED ? "closed by the relay" :
        "TLS receive failed");
    g_clear_error (&err);
    slot_end (s, FALSE);
    return;
  }
}

static void
handshake_step (Slot * s)
{
  GError *err = NULL;
  DiodeTlsStatus st = diode_tls_handshake (s->tls, &err);

  if (st == DIODE_TLS_AGAIN) {
    set_events (s, diode_tls_wants_write (s->tls) ? EPOLLOUT : EPOLLIN);
    return;
  }
  if (st != DIODE_TLS_OK) {
    gchar *why = g_strdup_printf ("TLS handshake: %s", err ? err->message :
        "failed");
    unexpected (s, why);
    g_free (why);
    g_clear_error (&err);
    slot_end (s, FALSE);
    return;
  }
  if (opt.relay_id && g_ascii_strcasecmp (opt.relay_id,
          diode_tls_get_peer_address (s->tls)) != 0) {
    unexpected (s, "relay-id mismatch");
    slot_end (s, FALSE);
    return;
  }
  s->sess = diode_session_new (DIODE_SESSION_CLIENT_END);
  s->st = S_WELCOME;
  if (!tls_queue (s, diode_msg_encode_hello (DIODE_PROTOCOL_VERSION,
              DIODE_PROTOCOL_VERSION, DIODE_ROLE_VIEWER, AGENT),
          DIODE_MSG_HELLO))
    return;
  maybe_leave_early (s);
}

static void
on_event (Slot * s, guint32 ev)
{
  switch (s->st) {
    case S_CONNECTING:{
      int err = 0;
      socklen_t l = sizeof err;
      GError *e = NULL;

      getsockopt (s->fd, SOL_SOCKET, SO_ERROR, &err, &l);
      if (err) {
        unexpected (s, err == ECONNREFUSED ? "connection refused" :
            "connect failed");
        slot_end (s, FALSE);
        return;
      }
      s->tls = diode_tls_new_client (s->fd, identity, NULL, &e);
      if (!s->tls) {
        unexpected (s, "TLS setup failed");
        g_clear_error (&e);
        slot_end (s, FALSE);
        return;
      }
      s->st = S_HANDSHAKE;
      if (maybe_leave_early (s))
        return;
      handshake_step (s);
      break;
    }
    case S_HANDSHAKE:
      handshake_step (s);
      break;
    case S_WELCOME:
    case S_SUBSCRIBING:
    case S_STREAMING:
      if ((ev & EPOLLOUT) && s->outq->len > 0 && !tls_flush (s))
        return;
      if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
        tls_read (s);
      break;
    case S_STALLED:
      /* Only HUP/ERR get here: the relay reset the connection. */
      cnt.stall_closed_by_relay++;
      slot_leave (s);
      break;
    case S_DRAINING:
      /* Discard what the relay sent before it gave up on us, down to its
       * FIN (read returns 0) or RST. */
      for (;;) {
        ssize_t r = read (s->fd, rbuf, RBUF_SIZE);

        if (r > 0)
          continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
          break;
        if (r < 0 && errno == EINTR)
          continue;
        cnt.stall_closed_by_relay++;
        slot_leave (s);
        break;
      }
      break;
    default:
      break;
  }
}

/* Deadlines of every slot: start, leave, stall, ping. */
static void
tick (gint64 now, gboolean ending)
{
  gint i;

  for (i = 0; i < opt.n; i++) {
    Slot *s = &slots[i];

    switch (s->st) {
      case S_OFF:
        if (!ending && now >= s->next_at_ns)
          slot_start (s);
        break;
      case S_STALLED:
        if (now >= s->stall_until_ns) {
          struct epoll_event e = { 0 };
          s->st = S_DRAINING;
          s->stall_until_ns = now + secs_ns (3);
          e.events = EPOLLIN;
          e.data.ptr = s;
          epoll_ctl (epfd, EPOLL_CTL_MOD, s->fd, &e);
          s->events = EPOLLIN;
        }
        break;
      case S_DRAINING:
        if (now >= s->stall_until_ns) {
          /* The relay should have closed it long ago. */
          cnt.stall_not_closed++;
          unexpected (s, "relay did not close a stalled viewer");
          slot_leave (s);
        }
        break;
      default:
        if (now >= s->leave_at_ns) {
          if (s->mode == LEAVE_STALL && s->st == S_STREAMING) {
            /* From now on: read nothing, send nothing. (EPOLLHUP/ERR are
             * always reported; on_event ignores them in this state.) */
            struct epoll_event e = { 0 };
            s->st = S_STALLED;
            s->stall_until_ns = now + secs_ns (opt.stall_max);
            e.events = 0;
            e.data.ptr = s;
            epoll_ctl (epfd, EPOLL_CTL_MOD, s->fd, &e);
            s->events = 0;
          } else {
            if (s->mode == LEAVE_STALL || s->mode == LEAVE_EARLY)
              s->mode = LEAVE_CLOSE;    /* not streaming yet: just go */
            slot_leave (s);
          }
          break;
        }
        if (s->sess && s->st >= S_WELCOME && s->st <= S_STREAMING
            && now - s->last_ping_ns >= (gint64) opt.ping_ms * 1000000) {
          s->last_ping_ns = now;
          tls_queue (s, diode_msg_encode_ping (++s->ping_token),
              DIODE_MSG_PING);
        }
        break;
    }
  }
}

static void
report (gdouble t)
{
  gint i, active = 0, streaming = 0, stalled = 0;

  for (i = 0; i < opt.n; i++) {
    if (slots[i].st != S_OFF)
      active++;
    if (slots[i].st == S_STREAMING)
      streaming++;
    if (slots[i].st == S_STALLED || slots[i].st == S_DRAINING)
      stalled++;
  }
  fprintf (stderr, "diode-churn: t=%.0fs connected=%d streaming=%d "
      "stalled=%d sessions=%" G_GUINT64_FORMAT " subscribed=%" G_GUINT64_FORMAT
      " keyframe=%" G_GUINT64_FORMAT " media=%" G_GUINT64_FORMAT
      " unexpected=%" G_GUINT64_FORMAT "\n", t, active, streaming, stalled,
      cnt.sessions, cnt.subscribed, cnt.with_keyframe, cnt.media,
      cnt.unexpected);
}

static gboolean
resolve (void)
{
  struct addrinfo hints = { 0 }, *res = NULL;
  gchar port[16];
  hints.ai_socktype = SOCK_STREAM;
  g_snprintf (port, sizeof port, "%d", opt.port);
  if (getaddrinfo (opt.host, port, &hints, &res) != 0 || !res)
    return FALSE;
  memcpy (&dst, res->ai_addr, res->ai_addrlen);
  dst_len = res->ai_addrlen;
  freeaddrinfo (res);
  return TRUE;
}

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = {
    {"host", 'H', 0, G_OPTION_ARG_STRING, &opt.host,
        "Relay host (default 127.0.0.1)", "HOST"},
    {"port", 'p', 0, G_OPTION_ARG_INT, &opt.port, "Relay port", "PORT"},
    {"stream", 's', 0, G_OPTION_ARG_STRING, &opt.stream,
        "Stream to watch (default soak)", "NAME"},
    {"viewers", 'n', 0, G_OPTION_ARG_INT, &opt.n,
        "Viewer slots (default 200)", "N"},
    {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &opt.duration,
        "Seconds to run (default 60)", "S"},
    {"min-life", 0, 0, G_OPTION_ARG_DOUBLE, &opt.min_life,
        "Shortest session (default 0.5 s)", "S"},
    {"max-life", 0, 0, G_OPTION_ARG_DOUBLE, &opt.max_life,
        "Longest session (default 20 s)", "S"},
    {"max-off", 0, 0, G_OPTION_ARG_DOUBLE, &opt.max_off,
        "Longest pause between sessions (default 2 s)", "S"},
    {"stall-max", 0, 0, G_OPTION_ARG_DOUBLE, &opt.stall_max,
        "How long a stalled viewer stays deaf and mute before checking that "
          "the relay closed it (default 5 s)", "S"},
    {"ping-ms", 0, 0, G_OPTION_ARG_INT, &opt.ping_ms,
        "PING period while connected (default 400)", "MS"},
    {"report", 0, 0, G_OPTION_ARG_DOUBLE, &opt.report,
        "Progress line period on stderr (default 10 s, 0: none)", "S"},
    {"relay-id", 0, 0, G_OPTION_ARG_STRING, &opt.relay_id,
        "Address the relay must present", "0x..."},
    {"identity", 'i', 0, G_OPTION_ARG_FILENAME, &opt.identity,
        "Viewer key file, shared by every slot, created if missing "
          "(default $XDG_CONFIG_HOME/diode/identity.pem)", "FILE"},
    {"seed", 0, 0, G_OPTION_ARG_INT64, &opt.seed,
        "Random seed (default: time)", "S"},
    {NULL}
  };
  GOptionContext *ctx;
  GError *err = NULL;
  struct epoll_event evs[MAX_EVENTS];
  struct rlimit rl;
  gint64 t0, end, hard_end, next_report;
  GHashTableIter it;
  gpointer k, v;
  gint i;
  gboolean first = TRUE;

  ctx = g_option_context_new ("- viewers that join and leave at random");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    fprintf (stderr, "diode-churn: %s\n", err->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (opt.port <= 0 || opt.port > 65535 || opt.n < 1 || opt.n > 20000
      || opt.duration <= 0 || opt.min_life <= 0 || opt.max_life < opt.min_life
      || opt.max_off < 0 || opt.ping_ms <= 0) {
    fprintf (stderr, "diode-churn: bad options (need --port; -n 1..20000; "
        "positive times)\n");
    return 2;
  }
  if (!opt.host)
    opt.host = g_strdup ("127.0.0.1");
  if (!opt.stream)
    opt.stream = g_strdup ("soak");
  if (!resolve ()) {
    fprintf (stderr, "diode-churn: cannot resolve %s\n", opt.host);
    return 2;
  }
  identity = diode_identity_load_or_create (opt.identity, &err);
  if (!identity) {
    fprintf (stderr, "diode-churn: %s\n", err->message);
    return 2;
  }
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t) opt.n
      + 64) {
    rl.rlim_cur = MIN ((rlim_t) opt.n + 64, rl.rlim_max);
    setrlimit (RLIMIT_NOFILE, &rl);
  }
  signal (SIGPIPE, SIG_IGN);
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);

  rnd = opt.seed ? g_rand_new_with_seed ((guint32) opt.seed) : g_rand_new ();
  reasons = g_hash_table_new (g_str_hash, g_str_equal);
  rbuf = g_malloc (RBUF_SIZE);
  epfd = epoll_create1 (EPOLL_CLOEXEC);
  slots = g_new0 (Slot, opt.n);
  t0 = now_ns ();
  for (i = 0; i < opt.n; i++) {
    slots[i].idx = i;
    slots[i].fd = -1;
    slots[i].outq = g_byte_array_new ();
    /* Join over the first two seconds, not all in one go. */
    slots[i].next_at_ns = t0 + secs_ns (g_rand_double_range (rnd, 0, 2));
  }
  end = t0 + secs_ns (opt.duration);
  hard_end = end + secs_ns (30);
  next_report = opt.report > 0 ? t0 + secs_ns (opt.report) : G_MAXINT64;

  while (!stop_requested) {
    gint64 now = now_ns ();
    gint n;

    if (now >= end || now >= hard_end)
      break;
    n = epoll_wait (epfd, evs, MAX_EVENTS, 20);
    for (i = 0; i < n; i++)
      on_event (evs[i].data.ptr, evs[i].events);
    now = now_ns ();
    tick (now, FALSE);
    if (now >= next_report) {
      report ((now - t0) / 1e9);
      next_report += secs_ns (opt.report);
    }
  }
  /* Everyone leaves politely. */
  for (i = 0; i < opt.n; i++)
    if (slots[i].st != S_OFF)
      slot_end (&slots[i], FALSE);
  report ((now_ns () - t0) / 1e9);

  printf ("{\"viewers\":%d,\"duration_s\":%.1f,\"sessions\":%" G_GUINT64_FORMAT
      ",\"subscribed\":%" G_GUINT64_FORMAT ",\"with_keyframe\":%"
      G_GUINT64_FORMAT ",\"media\":%" G_GUINT64_FORMAT ",\"bytes\":%"
      G_GUINT64_FORMAT ",\"left\":{", opt.n, (now_ns () - t0) / 1e9,
      cnt.sessions, cnt.subscribed, cnt.with_keyframe, cnt.media, cnt.bytes);
  for (i = 0; i < N_LEAVE; i++)
    printf ("%s\"%s\":%" G_GUINT64_FORMAT, i ? "," : "", leave_names[i],
        cnt.left[i]);
  printf ("},\"stalled_closed_by_relay\":%" G_GUINT64_FORMAT
      ",\"stalled_not_closed\":%" G_GUINT64_FORMAT ",\"unexpected\":%"
      G_GUINT64_FORMAT ",\"unexpected_reasons\":{", cnt.stall_closed_by_relay,
      cnt.stall_not_closed, cnt.unexpected);
  g_hash_table_iter_init (&it, reasons);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    printf ("%s\"%s\":%u", first ? "" : ",", (const gchar *) k,
        GPOINTER_TO_UINT (v));
    first = FALSE;
  }
  printf ("}}\n");
  fflush (stdout);

  for (i = 0; i < opt.n; i++)
    g_byte_array_unref (slots[i].outq);
  g_free (slots);
  g_free (rbuf);
  diode_identity_unref (identity);
  g_hash_table_unref (reasons);
  g_rand_free (rnd);
  close (epfd);
  return (cnt.unexpected == 0 && cnt.with_keyframe > 0) ? 0 : 1;
}
