/* gst-diode — test helper: a strict reader of the Prometheus text format
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The rules of the text format 0.0.4 that /metrics must keep, checked line
 * by line (promreader.h), and the same text handed to promcheck.py for an
 * independent second reading.
 */
#include "promreader.h"

#include <math.h>
#include <string.h>
#include <sys/wait.h>

#include "fixture.h"

/* /metrics: a strict reader of the Prometheus text format 0.0.4 */

void
metrics_free (Metrics * m)
{
  g_hash_table_unref (m->samples);
  g_free (m);
}

/* Within metrics_parse_full: on a broken rule, say which and give up. */
#define REQUIRE(cond, ...) G_STMT_START { \
    if (!(cond)) { \
      gchar *what_ = g_strdup_printf (__VA_ARGS__); \
      *error = g_strdup_printf ("line %u: %s", lineno, what_); \
      g_free (what_); \
      goto out; \
    } \
  } G_STMT_END

static gboolean
metric_name_ok (const gchar * s, gsize n)
{
  gsize i;

  if (!n || !(g_ascii_isalpha (s[0]) || s[0] == '_' || s[0] == ':'))
    return FALSE;
  for (i = 1; i < n; i++)
    if (!(g_ascii_isalnum (s[i]) || s[i] == '_' || s[i] == ':'))
      return FALSE;
  return TRUE;
}

static gboolean
parse_value (const gchar * v, gdouble * out)
{
  gchar *end = NULL;

  if (!strcmp (v, "+Inf") || !strcmp (v, "-Inf") || !strcmp (v, "NaN")) {
    *out = !strcmp (v, "NaN") ? NAN : v[0] == '+' ? INFINITY : -INFINITY;
    return TRUE;
  }
  /* digits, sign, point, exponent only (strtod would take "inf", hex) */
  if (!*v || strspn (v, "0123456789+-.eE") != strlen (v))
    return FALSE;
  *out = g_ascii_strtod (v, &end);
  return end && *end == '\0';
}

/* The buckets of one label set of a histogram, in the order written. */
typedef struct
{
  GPtrArray *les;               /* gchar*: the le values as written */
  GArray *counts;               /* gdouble */
} HGroup;

static void
hgroup_free (gpointer p)
{
  HGroup *g = p;

  g_ptr_array_unref (g->les);
  g_array_unref (g->counts);
  g_free (g);
}

/* @le written as the shortest text that reads back as the same double
 * (0.05, not 0.050000000000000003; 10, not 1e+01), or +Inf. */
static gboolean
le_shortest (const gchar * le)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE], best[G_ASCII_DTOSTR_BUF_SIZE] = "";
  gdouble v;
  gint digits;

  if (!strcmp (le, "+Inf"))
    return TRUE;
  if (!parse_value (le, &v))
    return FALSE;
  for (digits = 1; digits <= 17; digits++) {
    gchar fmt[8];

    g_snprintf (fmt, sizeof (fmt), "%%.%dg", digits);
    g_ascii_formatd (buf, sizeof (buf), fmt, v);
    if (g_ascii_strtod (buf, NULL) == v
        && (!*best || strlen (buf) < strlen (best)))
      g_strlcpy (best, buf, sizeof (best));
  }
  return !strcmp (best, le);
}

/* One histogram family's buckets, per label set (@groups: the labels
 * other than le, "{k=v,..." as in the keys -> HGroup): le ascending and
 * in the shortest form, cumulative, +Inf last and equal to the set's
 * _count, its _sum present. NULL when fine, else why. */
static gchar *
histogram_error (Metrics * m, const gchar * base, GHashTable * groups)
{
  GHashTableIter it;
  gpointer k, v;

  g_hash_table_iter_init (&it, groups);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    const gchar *rest = k;
    HGroup *g = v;
    gchar *key = g_strdup_printf ("%s_count%s}", base, rest);
    gdouble *count = g_hash_table_lookup (m->samples, key);
    gchar *sum = g_strdup_printf ("%s_sum%s}", base, rest);
    gboolean has_sum = g_hash_table_contains (m->samples, sum);
    gdouble prev = -INFINITY;
    guint i;

    g_free (key);
    g_free (sum);
    if (!count || !has_sum)
      return g_strdup_printf ("%s%s}: no _count or _sum", base, rest);
    for (i = 0; i < g->les->len; i++) {
      const gchar *les = g->les->pdata[i];
      gdouble le;

      if (!parse_value (les, &le) || le <= prev)
        return g_strdup_printf ("%s%s}: le=%s not ascending", base, rest,
            les);
      if (!le_shortest (les))
        return g_strdup_printf ("%s%s}: le=%s not in its shortest form",
            base, rest, les);
      if (i && g_array_index (g->counts, gdouble, i) <
          g_array_index (g->counts, gdouble, i - 1))
        return g_strdup_printf ("%s%s}: bucket le=%s not cumulative", base,
            rest, les);
      prev = le;
    }
    if (strcmp (g->les->pdata[g->les->len - 1], "+Inf"))
      return g_strdup_printf ("%s%s}: no +Inf bucket last", base, rest);
    if (g_array_index (g->counts, gdouble, g->les->len - 1) != *count)
      return g_strdup_printf ("%s%s}: +Inf bucket is not _count", base,
          rest);
  }
  /* a _count or _sum without buckets */
  g_hash_table_iter_init (&it, m->samples);
  while (g_hash_table_iter_next (&it, &k, NULL)) {
    const gchar *key = k;
    gsize n = strlen (base);
    const gchar *after = key + n;
    gchar *rest;
    gboolean found;

    if (strncmp (key, base, n) || !(g_str_has_prefix (after, "_count{")
            || g_str_has_prefix (after, "_sum{")))
      continue;
    rest = g_strndup (strchr (after, '{'), strlen (strchr (after, '{')) - 1);
    found = g_hash_table_contains (groups, rest);
    g_free (rest);
    if (!found)
      return g_strdup_printf ("%s: no bucket", key);
  }
  return NULL;
}

/* The samples of @text, or NULL and *@error (g_free) saying which rule
 * it broke. */
Metrics *
metrics_parse_full (const gchar * text, gchar ** error)
{
  static const gchar *const types[] = { "counter", "gauge", "histogram",
    "summary", "untyped", NULL
  };
  static const gchar *const hist_suffixes[] = { "_bucket", "_sum", "_count",
    NULL
  };
  Metrics *m = g_new0 (Metrics, 1);
  GHashTable *families = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, NULL);
  GHashTable *groups = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, hgroup_free);
  gchar *fam = NULL, *fam_type = NULL, *help_for = NULL, *why = NULL;
  gchar **lines = NULL, **f = NULL, *name = NULL, *k = NULL, *le = NULL;
  GString *key = NULL, *val = NULL;
  guint i, lineno = 0;
  gboolean ok = FALSE;

  *error = NULL;
  m->samples = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);
  REQUIRE (g_str_has_suffix (text, "\n"), "no final newline");
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i] && lines[i + 1]; i++) {
    const gchar *l = lines[i];

    lineno = i + 1;
    REQUIRE (*l != '\0', "empty line");
    if (g_str_has_prefix (l, "# HELP ")) {
      const gchar *n = l + 7, *sp = strchr (n, ' ');

      REQUIRE (sp && metric_name_ok (n, sp - n), "bad HELP: %s", l);
      if (fam && !strcmp (fam_type, "histogram")
          && (why = histogram_error (m, fam, groups)))
        REQUIRE (FALSE, "%s", why);
      g_free (help_for);
      help_for = g_strndup (n, sp - n);
      REQUIRE (!g_hash_table_contains (families, help_for), "family %s "
          "twice", help_for);
      g_clear_pointer (&fam, g_free);
      g_clear_pointer (&fam_type, g_free);
    } else if (g_str_has_prefix (l, "# TYPE ")) {
      f = g_strsplit (l + 7, " ", -1);
      REQUIRE (g_strv_length (f) == 2, "bad TYPE: %s", l);
      REQUIRE (help_for && !strcmp (f[0], help_for) && !fam, "TYPE %s "
          "without its HELP just before", f[0]);
      REQUIRE (g_strv_contains (types, f[1]), "bad type: %s", l);
      fam = g_strdup (f[0]);
      fam_type = g_strdup (f[1]);
      g_hash_table_add (families, g_strdup (fam));
      g_hash_table_remove_all (groups);
      g_clear_pointer (&f, g_strfreev);
    } else {
      const gchar *p = l;
      gdouble v;

      REQUIRE (*l != '#', "unknown comment: %s", l);
      while (*p && *p != '{' && *p != ' ')
        p++;
      REQUIRE (metric_name_ok (l, p - l), "bad name: %s", l);
      name = g_strndup (l, p - l);
      REQUIRE (fam != NULL, "sample outside a family: %s", l);
      if (!strcmp (fam_type, "histogram"))
        REQUIRE (g_str_has_prefix (name, fam)
            && g_strv_contains (hist_suffixes, name + strlen (fam)),
            "%s is not of histogram %s", name, fam);
      else
        REQUIRE (!strcmp (name, fam), "%s is not of family %s", name, fam);
      key = g_string_new (name);
      g_string_append_c (key, '{');
      if (*p == '{') {
        p++;
        while (*p != '}') {
          const gchar *k0 = p;

          while (g_ascii_isalnum (*p) || *p == '_')
            p++;
          REQUIRE (p > k0 && !g_ascii_isdigit (*k0), "bad label: %s", l);
          k = g_strndup (k0, p - k0);
          REQUIRE (p[0] == '=' && p[1] == '"', "bad label: %s", l);
          p += 2;
          val = g_string_new (NULL);
          while (*p != '"') {
            REQUIRE (*p != '\0', "unterminated label value: %s", l);
            if (*p == '\\') {
              p++;
              REQUIRE (*p == '\\' || *p == '"' || *p == 'n', "bad escape: "
                  "%s", l);
              g_string_append_c (val, *p == 'n' ? '\n' : *p);
            } else {
              g_string_append_c (val, *p);
            }
            p++;
          }
          p++;
          if (!strcmp (k, "le")) {
            REQUIRE (!le, "le twice: %s", l);
            le = g_string_free (val, FALSE);
          } else {
            g_string_append_printf (key, "%s%s=%s", key->str[key->len - 1]
                == '{' ? "" : ",", k, val->str);
            g_string_free (val, TRUE);
          }
          val = NULL;
          g_clear_pointer (&k, g_free);
          if (*p == ',')
            p++;
          else
            REQUIRE (*p == '}', "bad labels: %s", l);
        }
        p++;
      }
      REQUIRE (*p == ' ' && p[1] && !strchr (p + 1, ' '), "bad sample (or "
          "a timestamp): %s", l);
      REQUIRE (parse_value (p + 1, &v), "bad value: %s", l);
      if (le) {
        const gchar *rest = key->str + strlen (name);
        HGroup *g;

        REQUIRE (g_str_has_suffix (name, "_bucket"), "le on %s", name);
        /* its label set's buckets: "{k=v,..." as the _count's key has */
        g = g_hash_table_lookup (groups, rest);
        if (!g) {
          g = g_new0 (HGroup, 1);
          g->les = g_ptr_array_new_with_free_func (g_free);
          g->counts = g_array_new (FALSE, FALSE, sizeof (gdouble));
          g_hash_table_insert (groups, g_strdup (rest), g);
        }
        g_string_append_printf (key, "%sle=%s", key->str[key->len - 1]
            == '{' ? "" : ",", le);
        g_ptr_array_add (g->les, le);
        le = NULL;
        g_array_append_val (g->counts, v);
      } else {
        REQUIRE (!g_str_has_suffix (name, "_bucket")
            || strcmp (fam_type, "histogram"), "bucket without le: %s", l);
      }
      g_string_append_c (key, '}');
      REQUIRE (!g_hash_table_contains (m->samples, key->str), "series "
          "twice: %s", key->str);
      g_hash_table_insert (m->samples, g_string_free (key, FALSE),
          g_memdup2 (&v, sizeof (v)));
      key = NULL;
      g_clear_pointer (&name, g_free);
    }
  }
  lineno++;
  if (fam && !strcmp (fam_type, "histogram")
      && (why = histogram_error (m, fam, groups)))
    REQUIRE (FALSE, "%s", why);
  ok = TRUE;
out:
  g_strfreev (lines);
  g_strfreev (f);
  g_hash_table_unref (families);
  g_hash_table_unref (groups);
  g_free (fam);
  g_free (fam_type);
  g_free (help_for);
  g_free (why);
  g_free (name);
  g_free (k);
  g_free (le);
  if (key)
    g_string_free (key, TRUE);
  if (val)
    g_string_free (val, TRUE);
  if (!ok) {
    metrics_free (m);
    return NULL;
  }
  return m;
}

/* A failure message may not be long (check's limit): the start of @t. */
gchar *
excerpt (const gchar * t)
{
  static gchar buf[2048];

  g_strlcpy (buf, t, sizeof (buf));
  return buf;
}

Metrics *
metrics_parse (const gchar * text)
{
  gchar *error = NULL;
  Metrics *m = metrics_parse_full (text, &error);

  fail_unless (m != NULL, "/metrics: %s\n%s", error, excerpt (text));
  return m;
}

/* The value of @name{stream=@stream} (@stream NULL: no labels); -1 when
 * absent. */
gdouble
mget (Metrics * m, const gchar * name, const gchar * stream)
{
  gchar *key = stream ? g_strdup_printf ("%s{stream=%s}", name, stream) :
      g_strdup_printf ("%s{}", name);
  gdouble *v = g_hash_table_lookup (m->samples, key);

  g_free (key);
  return v ? *v : -1;
}

/* The second reading: tests/check/promcheck.py (no prometheus_client).
 * TRUE when it finds @text well formed; its output in *@out_text. */
gboolean
python_reads (const gchar * text, gchar ** out_text)
{
  gchar *path = g_build_filename (fixture_config_dir (), "metrics.txt", NULL);
  const gchar *argv[] = { "python3", PROMCHECK_PY, path, NULL };
  gchar *out = NULL, *err = NULL;
  gint status = -1;
  GError *error = NULL;
  gboolean ok;

  fail_unless (g_file_set_contents (path, text, -1, NULL));
  fail_unless (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH,
          NULL, NULL, &out, &err, &status, &error), "python3: %s",
      error ? error->message : "?");
  ok = g_spawn_check_wait_status (status, NULL);
  /* a crash of the script itself is not a verdict */
  fail_unless (ok || WEXITSTATUS (status) == 1, "promcheck.py: %s%s", out,
      err);
  if (out_text)
    *out_text = g_strconcat (out, err, NULL);
  g_free (out);
  g_free (err);
  g_free (path);
  return ok;
}

void
python_check (const gchar * text)
{
  gchar *why = NULL;

  fail_unless (python_reads (text, &why), "%s\n%s", why, excerpt (text));
  g_free (why);
}

gdouble
mget_key (Metrics * m, const gchar * key)
{
  gdouble *v = g_hash_table_lookup (m->samples, key);

  return v ? *v : -1;
}
