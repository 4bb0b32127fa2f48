/* gst-diode — test harness: relays linked into a tree
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What test-links.c and test-links-failover.c share: in-process relays
 * linked by "upstream"/"fallbacks" (each parent accepting the child in
 * [relays] children), a diodesink publisher and a diodesrc viewer in
 * GstHarness, numbered buffers checked byte for byte, [relays] trusted,
 * and link members read from a fresh stats snapshot.
 * Failures are gst-check failures: use from GST_START_TEST.
 */
#pragma once

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <json-glib/json-glib.h>

#include "fixture.h"

G_BEGIN_DECLS

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au, width=(int)320, height=(int)240, " \
  "framerate=(fraction)30/1"
#define GOP      10
#define WAIT_MS  10000

DiodeRelay *start_linked (const gchar * key, DiodeRelay * upstream,
    DiodeRelay * fallback, guint linger_ms);
GstHarness *publisher (DiodeRelay * relay, const gchar * stream);
GstHarness *viewer (DiodeRelay * relay, const gchar * stream);
void push (GstHarness * pub, guint from, guint n);
void expect_buffer (GstHarness * view, guint i);
void trust (DiodeRelay * r, DiodeRelay * child);
JsonNode *fresh_stats (DiodeRelay * r);
gint64 link_stat (DiodeRelay * r, const gchar * kind, const gchar * peer,
    const gchar * member);

G_END_DECLS
