/* gst-diode — test helper: a strict reader of the Prometheus text format
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What the web tests share to read /metrics: every line a HELP/TYPE
 * comment or `name{labels} value`; HELP then TYPE before a family's
 * samples, each family once and its samples together; valid names and
 * label names; only \\ \" \n escapes; float values (or +Inf, -Inf, NaN), no
 * timestamps, no series twice; histograms, per label set: le ascending and
 * written in the shortest form that reads back (0.05, never
 * 0.050000000000000003), cumulative, +Inf last and equal to _count, _sum
 * present. Failures are gst-check failures
 * (except metrics_parse_full and python_reads, which report).
 */
#pragma once

#include <gst/check/gstcheck.h>

G_BEGIN_DECLS

typedef struct
{
  GHashTable *samples;          /* "name{k=v,...}" (values unescaped, in
                                   their order, le last) -> gdouble* */
} Metrics;

/* The samples of @text, or NULL and *@error (g_free) saying which rule it
 * broke. */
Metrics *metrics_parse_full (const gchar * text, gchar ** error);
/* The same, failing the test on a broken rule. */
Metrics *metrics_parse (const gchar * text);
void     metrics_free (Metrics * m);
/* The value of @name{stream=@stream} (@stream NULL: no labels); -1 when
 * absent. */
gdouble  mget (Metrics * m, const gchar * name, const gchar * stream);
/* The value of the series @key ("name{k=v,k2=v2}", labels in the order
 * written, values unescaped); -1 when absent. */
gdouble  mget_key (Metrics * m, const gchar * key);
/* The start of @t, short enough for a failure message (static buffer). */
gchar   *excerpt (const gchar * t);
/* tests/check/promcheck.py on @text: TRUE when it finds it well formed
 * (its output in *@out_text, g_free); python_check fails the test if not. */
gboolean python_reads (const gchar * text, gchar ** out_text);
void     python_check (const gchar * text);

G_END_DECLS
