/* gst-diode — what a stream's caps say about its picture, without GStreamer
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A reader of the first structure of gst_caps_to_string() text: media
 * type, then "name=(type)value" fields separated by commas. Values are
 * skipped exactly as GStreamer writes them (quoted strings with backslash
 * escapes, nested <arrays>, {lists} and [ranges]), so a field name inside
 * a quoted string or a codec_data blob is never taken for a field. Only
 * width, height and framerate are interpreted.
 */
#include "diode-caps-info.h"

#include <string.h>

typedef struct {
  const gchar *s;
  gsize len, i;
} Scan;

static gboolean
at_end (Scan * sc)
{
  return sc->i >= sc->len || sc->s[sc->i] == '\0';
}

static gchar
peek (Scan * sc)
{
  return at_end (sc) ? '\0' : sc->s[sc->i];
}

static void
skip_space (Scan * sc)
{
  while (!at_end (sc) && g_ascii_isspace (sc->s[sc->i]))
    sc->i++;
}

static gboolean
name_char (gchar ch)
{
  return g_ascii_isalnum (ch) || ch == '-' || ch == '_' || ch == '.'
      || ch == ':' || ch == '/' || ch == '+';
}

/* Past a quoted string starting at the opening quote. FALSE: unterminated. */
static gboolean
skip_quoted (Scan * sc)
{
  sc->i++;
  while (!at_end (sc)) {
    gchar ch = sc->s[sc->i++];

    if (ch == '\\') {
      if (at_end (sc))
        return FALSE;
      sc->i++;
    } else if (ch == '"') {
      return TRUE;
    }
  }
  return FALSE;
}

/* Past a value: a quoted string, a bracketed (nested) compound, or a bare
 * token up to the next ',' or ';'. [@start, @end) is the value's text
 * (bare tokens only, trailing spaces trimmed; empty for the others).
 * FALSE: the text ends inside a string or bracket. */
static gboolean
skip_value (Scan * sc, gsize * start, gsize * end)
{
  gchar ch = peek (sc);

  *start = *end = sc->i;
  if (ch == '"')
    return skip_quoted (sc);
  if (ch == '<' || ch == '{' || ch == '[') {
    /* one stack for the three kinds: only their nesting depth matters,
     * GStreamer never writes them crossed */
    guint depth = 0;

    while (!at_end (sc)) {
      ch = sc->s[sc->i];
      if (ch == '"') {
        if (!skip_quoted (sc))
          return FALSE;
        continue;
      }
      sc->i++;
      if (ch == '<' || ch == '{' || ch == '[')
        depth++;
      else if ((ch == '>' || ch == '}' || ch == ']') && --depth == 0)
        return TRUE;
    }
    return FALSE;
  }
  while (!at_end (sc) && sc->s[sc->i] != ',' && sc->s[sc->i] != ';')
    sc->i++;
  *end = sc->i;
  while (*end > *start && g_ascii_isspace (sc->s[*end - 1]))
    (*end)--;
  return TRUE;
}

/* A decimal in [@min, @max] spanning exactly [@a, @b). */
static gboolean
parse_uint (const gchar * s, gsize a, gsize b, gint min, gint max,
    gint * out)
{
  guint64 v = 0;
  gsize i;

  if (a >= b || b - a > 10)
    return FALSE;
  for (i = a; i < b; i++) {
    if (!g_ascii_isdigit (s[i]))
      return FALSE;
    v = v * 10 + (s[i] - '0');
  }
  if (v < (guint64) min || v > (guint64) max)
    return FALSE;
  *out = (gint) v;
  return TRUE;
}

static void
take_field (DiodeCapsInfo * info, const gchar * s, gsize name_a,
    gsize name_b, gsize type_a, gsize type_b, gsize va, gsize vb)
{
  gsize nlen = name_b - name_a, tlen = type_b - type_a;
  const gchar *type = s + type_a;
  gboolean is_int = tlen == 0 || (tlen == 3 && !memcmp (type, "int", 3))
      || (tlen == 1 && type[0] == 'i');
  gboolean is_frac = tlen == 0 || (tlen == 8 && !memcmp (type, "fraction", 8));

  if (nlen == 5 && !memcmp (s + name_a, "width", 5) && is_int) {
    parse_uint (s, va, vb, 1, DIODE_CAPS_INFO_MAX_DIM, &info->width);
  } else if (nlen == 6 && !memcmp (s + name_a, "height", 6) && is_int) {
    parse_uint (s, va, vb, 1, DIODE_CAPS_INFO_MAX_DIM, &info->height);
  } else if (nlen == 11 && !memcmp (s + name_a, "mpegversion", 11)
      && is_int) {
    parse_uint (s, va, vb, 1, 4, &info->mpegversion);
  } else if (nlen == 9 && !memcmp (s + name_a, "framerate", 9) && is_frac) {
    const gchar *slash = memchr (s + va, '/', vb - va);
    gint n, d;

    /* 0/1 means "variable" in GStreamer: not a rate to show */
    if (slash && parse_uint (s, va, slash - s, 1, G_MAXINT, &n)
        && parse_uint (s, slash - s + 1, vb, 1, G_MAXINT, &d)) {
      info->fps_n = n;
      info->fps_d = d;
    }
  }
}

gboolean
diode_caps_info_parse (const gchar * caps, gsize len, DiodeCapsInfo * info)
{
  Scan sc = { caps, caps ? len : 0, 0 };
  gsize a, tl;

  memset (info, 0, sizeof (*info));
  skip_space (&sc);
  a = sc.i;
  while (!at_end (&sc) && name_char (sc.s[sc.i]))
    sc.i++;
  tl = sc.i - a;
  if (tl == 0 || tl > DIODE_CAPS_INFO_MAX_TYPE || !memchr (caps + a, '/', tl))
    return FALSE;
  memcpy (info->media_type, caps + a, tl);
  info->media_type[tl] = '\0';
  /* caps features: "video/x-raw(memory:GLMemory)" */
  if (peek (&sc) == '(') {
    while (!at_end (&sc) && sc.s[sc.i] != ')')
      sc.i++;
    if (at_end (&sc))
      return TRUE;
    sc.i++;
  }

  for (;;) {
    gsize name_a, name_b, type_a = 0, type_b = 0, va, vb;

    skip_space (&sc);
    if (peek (&sc) != ',')
      return TRUE;              /* ';' (next structure), end, or junk */
    sc.i++;
    skip_space (&sc);
    name_a = sc.i;
    while (!at_end (&sc) && name_char (sc.s[sc.i]))
      sc.i++;
    name_b = sc.i;
    skip_space (&sc);
    if (name_a == name_b || peek (&sc) != '=')
      return TRUE;
    sc.i++;
    skip_space (&sc);
    if (peek (&sc) == '(') {
      sc.i++;
      type_a = sc.i;
      while (!at_end (&sc) && name_char (sc.s[sc.i]))
        sc.i++;
      type_b = sc.i;
      if (peek (&sc) != ')')
        return TRUE;
      sc.i++;
      skip_space (&sc);
    }
    if (!skip_value (&sc, &va, &vb))
      return TRUE;
    if (vb > va)
      take_field (info, caps, name_a, name_b, type_a, type_b, va, vb);
  }
}

const gchar *
diode_caps_info_codec (const DiodeCapsInfo * info)
{
  static const struct {
    const gchar *type, *codec;
  } known[] = {
    {"video/x-h264", "h264"}, {"video/x-h265", "h265"},
    {"video/x-vp8", "vp8"}, {"video/x-vp9", "vp9"}, {"video/x-av1", "av1"},
    {"image/jpeg", "jpeg"}, {"video/x-raw", "raw"},
    {"audio/x-opus", "opus"}, {"audio/x-raw", "raw"},
    {"audio/x-flac", "flac"}, {"video/mpegts", "mpegts"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (known); i++)
    if (!strcmp (info->media_type, known[i].type))
      return known[i].codec;
  /* audio/mpeg is MP3 (mpegversion 1) or AAC (2, 4) */
  if (!strcmp (info->media_type, "audio/mpeg") && info->mpegversion)
    return info->mpegversion == 1 ? "mp3" : "aac";
  return info->media_type;
}

gdouble
diode_caps_info_framerate (const DiodeCapsInfo * info)
{
  return info->fps_d ? (gdouble) info->fps_n / info->fps_d : 0.0;
}
