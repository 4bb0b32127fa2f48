/* gst-diode — test harness: an honest pair measured while a client attacks
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * For the resource-limit tests against a diode-relay process
 * (test-limits-long.c, test-limits-core.c): raw clients by port, an honest
 * publisher and viewer on stream "honest" (frames sent and received, seq
 * gaps, longest pause at the viewer), an attacker that pushes one unit of
 * bytes again and again without blocking and reconnects when closed, and
 * run_attack(), which runs both and checks the pair and the relay's VmRSS.
 * Failures are gst-check failures: use from GST_START_TEST.
 */
#pragma once

#include "fixture.h"
#include "rawclient.h"
#include "diode-msg.h"

G_BEGIN_DECLS

#define PERIOD_MS     20        /* the honest publisher: 50 frames/s */
#define FRAME_SIZE    2000
#define GOP           25
/* Pass marks (the failures were +230 MB and a 4.7 s freeze). */
#define MAX_RSS_GROWTH_KB  (48 * 1024)
#define MAX_GAP_MS         1500

typedef struct
{
  FixtureRelayProc *rp;
  RawClient *pub, *view;
  guint64 next_seq;             /* the publisher's next MEDIA */
  guint64 first_seq, last_seen;
  guint sent, received, gaps;
  gint64 last_rx, max_gap_us;
  gint64 last_ping;             /* the viewer's own keepalive, by time */
  guint8 *payload;
} Honest;

typedef struct _Attacker
{
  FixtureRelayProc *rp;
  const gchar *key;
  DiodeRole role;
  GBytes *setup;                /* sent once after HELLO (may be NULL) */
  GByteArray *unit;             /* then this, again and again */
  /* or, if set, unit number @i made by this (unit then holds it) */
  void      (*make_unit) (GByteArray * unit, guint64 i, gpointer data);
  gpointer    make_data;
  guint64     made;             /* units made so far (make_unit) */
  gboolean    no_hello;         /* TLS only: what a peer may send before
                                   it is authorized */
  struct _Attacker *next;       /* more attackers, pushed in turn */
  RawClient *c;
  gsize off;                    /* into unit */
  guint64 bytes, units, reconnects;
  guint64 max_units;            /* stop after this many (0: never) */
  int rcvbuf;
} Attacker;

RawClient *proc_hello        (FixtureRelayProc * rp, int rcvbuf,
                              const gchar * key, DiodeRole role);

void       honest_start      (Honest * h, FixtureRelayProc * rp);
void       honest_step       (Honest * h);
void       honest_finish     (Honest * h, const gchar * attack);

/* Pushes @a (not the others on its chain) for at most @ms, no blocking. */
void       attacker_push     (Attacker * a, guint ms);
void       attacker_free     (Attacker * a);

void       append_frame      (GByteArray * a, GBytes * frame);
gchar    **many_addresses    (guint n);
/* The honest pair for @seconds while @a attacks; the pair must get every
 * frame without a pause of MAX_GAP_MS, the relay's RSS must grow less than
 * @max_growth_kb. */
void       run_attack        (FixtureRelayProc * rp, Attacker * a,
                              guint seconds, const gchar * name,
                              guint64 max_growth_kb);

G_END_DECLS
