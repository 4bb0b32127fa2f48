/* gst-diode — assertions on a DiodeSession shared by the session unit tests
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * test-session.c (version 1) and test-session-link.c (relay links) drive
 * the same state machine with the same checks: they live here once.
 */
#pragma once

#include <gst/check/gstcheck.h>

#include "diode-session.h"

/* Feeds a whole encoded frame (which must not be NULL) and unrefs it. */
void   feed             (DiodeSession * s, GBytes * frame);
/* No complete message and no error yet. */
void   expect_need_more (DiodeSession * s);
/* Expects a message of @type; the caller clears @m. */
void   expect_msg       (DiodeSession * s, DiodeMsgType type, DiodeMsg * m);
void   expect_type      (DiodeSession * s, DiodeMsgType type);
/* Expects an ERROR result with @code, the session CLOSED and nothing left
 * in the message; returns the error's text (g_free it). */
gchar *next_fails       (DiodeSession * s, guint code);
