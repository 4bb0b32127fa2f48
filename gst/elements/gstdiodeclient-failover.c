/* gst-diode — the relay list both elements share: fail-over and reconnect
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * `relay` names one relay or an ordered list of them. This file parses the
 * list at start (diode_endpoint_list_parse), makes the first connection
 * (each relay once, in order), and runs the reconnect loop: after a lost
 * connection the relay in use counts as failed and the next attempt goes to
 * the endpoint diode_failover_pick() gives, the first in order that is not
 * in backoff. The same sans-IO state machine picks the relay's upstreams, so
 * "which relay next, and when" is decided in one place (gst/protocol).
 * Opening one connection is gstdiodeclient.c's job.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiodeclient.h"

#include <errno.h>
#include <poll.h>

GST_DEBUG_CATEGORY_STATIC (gst_diode_failover_debug);
#define GST_CAT_DEFAULT gst_diode_failover_debug

static void
debug_init (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_diode_failover_debug, "diodefailover", 0,
        "diode relay list and fail-over");
    g_once_init_leave (&done, 1);
  }
}

/* ------------------------------------------------------------------------ */
/* settings */

gboolean
gst_diode_client_get_reconnect (GstDiodeClient * c)
{
  gboolean r;

  GST_OBJECT_LOCK (c->element);
  r = c->reconnect;
  GST_OBJECT_UNLOCK (c->element);
  return r;
}

gboolean
gst_diode_client_prepare (GstDiodeClient * c, GError ** error)
{
  gchar *relay, *pin;
  guint delay, max_delay;
  GPtrArray *list;
  GError *err = NULL;

  debug_init ();
  GST_OBJECT_LOCK (c->element);
  relay = g_strdup (c->relay);
  pin = g_strdup (c->relay_id);
  delay = c->reconnect_delay;
  max_delay = c->reconnect_max_delay;
  GST_OBJECT_UNLOCK (c->element);

  if (pin && *pin && !diode_address_is_valid (pin)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "relay-id '%s' is not an address (0x followed by 40 hex digits; "
        "`diode-relay --print-id` shows it)", pin);
    goto fail;
  }
  if (!gst_diode_client_check_direct (c, error))
    goto fail;
  list = diode_endpoint_list_parse (relay, GST_DIODE_DEFAULT_PORT, &err);
  if (!list) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "relay '%s' is not a list of relays [0xADDRESS@]HOST[:PORT],...: %s",
        relay ? relay : "", err->message);
    g_error_free (err);
    goto fail;
  }
  g_clear_pointer (&c->endpoints, g_ptr_array_unref);
  c->endpoints = list;
  g_clear_pointer (&c->failover, diode_failover_free);
  /* The backoff per relay is the reconnect backoff the user set. */
  c->failover = diode_failover_new (list->len, delay, MAX (delay, max_delay),
      0);
  c->current = c->last_used = -1;
  g_free (c->pin_default);
  c->pin_default = pin && *pin ? g_ascii_strdown (pin, -1) : NULL;
  GST_OBJECT_LOCK (c->element);
  g_clear_pointer (&c->current_relay, g_free);
  c->failovers = 0;
  GST_OBJECT_UNLOCK (c->element);
  g_free (relay);
  g_free (pin);
  return TRUE;

fail:
  g_free (relay);
  g_free (pin);
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* what the application sees */

void
gst_diode_client_post_state (GstDiodeClient * c, const gchar * state,
    guint attempt, const gchar * reason)
{
  guint failovers;

  debug_init ();
  GST_OBJECT_LOCK (c->element);
  failovers = c->failovers;
  GST_OBJECT_UNLOCK (c->element);
  GST_INFO_OBJECT (c->element, "%s relay %s (attempt %u, %u fail-overs): %s",
      state, c->hostport ? c->hostport : "", attempt, failovers,
      reason ? reason : "");
  gst_element_post_message (c->element,
      gst_message_new_element (GST_OBJECT (c->element),
          gst_structure_new ("diode-connection",
              "state", G_TYPE_STRING, state,
              "relay", G_TYPE_STRING, c->hostport ? c->hostport : "",
              "attempt", G_TYPE_UINT, attempt,
              "reason", G_TYPE_STRING, reason ? reason : "",
              "failovers", G_TYPE_UINT, failovers, NULL)));
}

void
gst_diode_client_add_stats (GstDiodeClient * c, GstStructure * s)
{
  GST_OBJECT_LOCK (c->element);
  gst_structure_set (s, "relay", G_TYPE_STRING,
      c->current_relay ? c->current_relay : "",
      "failovers", G_TYPE_UINT64, (guint64) c->failovers, NULL);
  GST_OBJECT_UNLOCK (c->element);
}

/* ------------------------------------------------------------------------ */
/* choosing a relay */

/* Endpoint @i answered and took our PUBLISH or SUBSCRIBE. */
static void
endpoint_connected (GstDiodeClient * c, gint i)
{
  diode_failover_connected (c->failover, i, g_get_monotonic_time ());
  GST_OBJECT_LOCK (c->element);
  g_free (c->current_relay);
  c->current_relay = g_strdup (c->hostport);
  /* A fail-over is landing on another relay than the one lost; coming back
   * to the same relay is a reconnect (counted by the element). The core's
   * diode_failover_get_failovers() also counts those, as a relay wants for
   * its upstream links. */
  if (c->last_used >= 0 && c->last_used != i)
    c->failovers++;
  GST_OBJECT_UNLOCK (c->element);
  c->last_used = i;
}

/* A refusal will not change on the next try at the same relay: the relay
 * is not the one pinned or recorded, or it refused this identity or
 * these settings. */
static gboolean
is_refusal (const GError * err)
{
  return err->domain == GST_RESOURCE_ERROR &&
      (err->code == GST_RESOURCE_ERROR_NOT_AUTHORIZED ||
      err->code == GST_RESOURCE_ERROR_SETTINGS);
}

/* The error of a list where no relay could be used: the only relay's own
 * error as it was, or the first one's domain and code with every relay's
 * reason. */
static GError *
list_error (GstDiodeClient * c, GError * first, GString * reasons)
{
  GError *e;

  if (c->endpoints->len == 1 || reasons->len == 0)
    return g_error_copy (first);
  e = g_error_new (first->domain, first->code, "No relay of the list "
      "could be used: %s", reasons->str);
  return e;
}

gboolean
gst_diode_client_connect_first (GstDiodeClient * c,
    GstDiodeAttemptFunc attempt_fn, gpointer user_data, GError ** error)
{
  GError *first = NULL;
  GString *reasons = g_string_new (NULL);
  gboolean ok = FALSE;
  guint i;

  c->connect_timeout = 0;
  for (i = 0; i < c->endpoints->len; i++) {
    GError *err = NULL;

    c->current = i;
    if (attempt_fn (user_data, &err)) {
      endpoint_connected (c, i);
      ok = TRUE;
      break;
    }
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_clear_error (&first);
      first = err;
      break;
    }
    diode_failover_failed (c->failover, i, g_get_monotonic_time ());
    GST_INFO_OBJECT (c->element, "relay %u of %u (%s) not usable: %s", i + 1,
        c->endpoints->len, c->hostport, err->message);
    g_string_append_printf (reasons, "%s%s", reasons->len ? "; " : "",
        err->message);
    if (!first)
      first = err;
    else
      g_error_free (err);
  }
  if (!ok) {
    if (g_error_matches (first, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_propagate_error (error, g_error_copy (first));
    else
      g_propagate_error (error, list_error (c, first, reasons));
  }
  g_clear_error (&first);
  g_string_free (reasons, TRUE);
  return ok;
}

/* The endpoint to try next; waits (interruptibly) while every one is in
 * backoff. -1 when stopping. */
static gint
wait_for_endpoint (GstDiodeClient * c)
{
  for (;;) {
    gint64 now = g_get_monotonic_time (), retry_at = 0;
    gint i = diode_failover_pick (c->failover, now, &retry_at);
    struct pollfd p;
    int ms, r;

    if (g_atomic_int_get (&c->flushing))
      return -1;
    if (i >= 0)
      return i;
    ms = (int) CLAMP ((retry_at - now + 999) / 1000, 1, G_MAXINT);
    p.fd = c->wake_fd;
    p.events = POLLIN;
    p.revents = 0;
    r = poll (&p, 1, ms);
    if (r > 0 || (r < 0 && errno != EINTR))
      return -1;
  }
}

gboolean
gst_diode_client_reconnect (GstDiodeClient * c, const gchar * reason,
    GstDiodeAttemptFunc attempt_fn, gpointer user_data, GError ** error)
{
  guint n = c->endpoints->len;
  gboolean *refused = g_new0 (gboolean, n);
  guint nrefused = 0;
  GError *first_refusal = NULL;
  GString *refusals = g_string_new (NULL);
  gchar *last = g_strdup (reason);
  gboolean ok = FALSE;
  gint limit;
  guint attempt;

  gst_diode_client_close (c);
  /* The relay we lost counts as failed, whatever the cause (EOF, reset,
   * keepalive, shutdown): the next attempt goes to the next one in the
   * list, and this one waits its backoff. */
  if (c->current >= 0)
    diode_failover_failed (c->failover, c->current, g_get_monotonic_time ());
  GST_OBJECT_LOCK (c->element);
  g_clear_pointer (&c->current_relay, g_free);
  limit = c->max_reconnects;
  GST_OBJECT_UNLOCK (c->element);
  gst_diode_client_post_state (c, "reconnecting", 0, reason);
  c->connect_timeout = GST_DIODE_RECONNECT_CONNECT_TIMEOUT;
  for (attempt = 1;; attempt++) {
    GError *err = NULL;
    gint i;

    if (limit >= 0 && attempt > (guint) limit) {
      gst_diode_client_post_state (c, "gave-up", attempt - 1, last);
      g_set_error (error, GST_RESOURCE_ERROR, c->role == DIODE_ROLE_PUBLISHER ?
          GST_RESOURCE_ERROR_WRITE : GST_RESOURCE_ERROR_READ,
          "Gave up reconnecting to relay %s after %u attempts: %s",
          c->hostport, attempt - 1, last);
      break;
    }
    i = wait_for_endpoint (c);
    if (i < 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "flushing");
      break;
    }
    c->current = i;
    if (attempt_fn (user_data, &err)) {
      endpoint_connected (c, i);
      gst_diode_client_post_state (c, "resumed", attempt, last);
      ok = TRUE;
      break;
    }
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_propagate_error (error, err);
      break;
    }
    diode_failover_failed (c->failover, i, g_get_monotonic_time ());
    GST_DEBUG_OBJECT (c->element, "attempt %u (relay %s) failed: %s", attempt,
        c->hostport, err->message);
    /* A relay that answers but refuses us (key changed, not authorized)
     * will not change its mind: move on to the others, and stop only when
     * every relay of the list refused (not an outage). */
    if (is_refusal (err)) {
      if (!refused[i]) {
        refused[i] = TRUE;
        nrefused++;
        g_string_append_printf (refusals, "%s%s", refusals->len ? "; " : "",
            err->message);
        if (!first_refusal)
          first_refusal = g_error_copy (err);
      }
      if (nrefused == n) {
        g_propagate_error (error, list_error (c, first_refusal, refusals));
        g_error_free (err);
        break;
      }
    } else if (refused[i]) {
      refused[i] = FALSE;
      nrefused--;
    }
    g_free (last);
    last = g_strdup (err->message);
    g_error_free (err);
  }
  g_clear_error (&first_refusal);
  g_string_free (refusals, TRUE);
  g_free (refused);
  g_free (last);
  return ok;
}
