/* gst-diode — which relay of an ordered list to use (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Shared by the elements' relay list (relay=a,b,c) and the relay's
 * upstream + fallbacks: the earlier an endpoint is in the list, the more it
 * is preferred. A pure state machine: the caller connects, reports what
 * happened, and passes the time in (monotonic microseconds), so tests run
 * it on a fake clock.
 *
 * - pick: the first endpoint, in order, that is not in backoff.
 * - failed: a connect refused, a TLS or pin failure, or a link that died
 *   puts that endpoint in backoff: retry_min after a link that was up (or
 *   a first failure), doubling on every further failure up to retry_max;
 *   a success resets it.
 * - fail-back: an endpoint earlier than the active one that has been
 *   connected (the caller keeps a probe link to it) continuously for
 *   failback_ms is where the caller should move.
 * - failovers: moves away from the endpoint in use (the active one failed).
 *
 * The active endpoint is the first one connected while none was active,
 * or the one the caller names (diode_failover_set_active(), or as
 * @active_i of diode_failover_should_fail_back()).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _DiodeFailover DiodeFailover;

/* @n endpoints (>= 1), backoff from @retry_min_ms doubling to
 * @retry_max_ms, fail back after @failback_ms of continuous connection. */
DiodeFailover *diode_failover_new    (guint n, guint retry_min_ms, guint retry_max_ms,
                                      guint failback_ms);
void           diode_failover_free   (DiodeFailover *f);
guint          diode_failover_get_n  (DiodeFailover *f);

/* The index to connect to now: the first in order not in backoff (it may
 * be one already connected, e.g. a probe link the caller can promote).
 * -1 when all are in backoff; then @retry_at_us (may be NULL) gets the
 * earliest time one leaves it (else @now_us). */
gint     diode_failover_pick     (DiodeFailover *f, gint64 now_us, gint64 *retry_at_us);
/* A link to @i is up (TLS, pin, HELLO/WELCOME done): its backoff resets
 * and its continuous-connection clock starts. Becomes the active endpoint
 * if there is none. */
void     diode_failover_connected (DiodeFailover *f, guint i, gint64 now_us);
/* Connecting to @i failed, or its link died: backoff for @i. When @i was
 * the active endpoint this counts one failover and leaves none active. */
void     diode_failover_failed   (DiodeFailover *f, guint i, gint64 now_us);
/* The caller closed its link to @i on purpose (after failing back, when a
 * probe is no longer wanted): not connected any more, no backoff, not a
 * failover. */
void     diode_failover_closed   (DiodeFailover *f, guint i, gint64 now_us);
/* The caller now uses @i (-1: none), e.g. after promoting a probe link. */
void     diode_failover_set_active (DiodeFailover *f, gint i);
gint     diode_failover_get_active (DiodeFailover *f);
gboolean diode_failover_is_connected (DiodeFailover *f, guint i);

/* TRUE once an endpoint earlier than @active_i has been connected
 * continuously for failback_ms; @better_i (may be NULL) gets the earliest
 * such one. Also records @active_i as the active endpoint. */
gboolean diode_failover_should_fail_back (DiodeFailover *f, gint active_i,
                                          gint64 now_us, gint *better_i);
/* Moves away from an endpoint that was in use, since creation. */
guint    diode_failover_get_failovers (DiodeFailover *f);

G_END_DECLS
