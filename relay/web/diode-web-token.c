/* gst-diode — share links on the relay: checking tokens, revocations
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * relay_web_token_check() is a pure function of its arguments, the
 * revocation list and the operator's [links] revoked= (docs/protocol.md
 * section 16, "What the relay checks"). The revocation list holds what
 * owners revoked through POST /api/revoke, each entry kept only while the
 * links it revokes could still be valid, in two classes: revocations by
 * the owner of a stream this relay holds (live or stored) are bounded per
 * owner and in total and never evicted; revocations for a stream it does
 * not hold (any key can sign one: they cannot be told from a flood) go to
 * a smaller pool, bounded the same way, whose oldest entry is evicted to
 * make room, except entries whose stream has become known here with that
 * owner (docs/security.md says what this guarantees).
 * It is saved after every change (g_file_set_contents_full: a temporary
 * file renamed over the old one, 0600) and read at start; a file that
 * exists but cannot be read or parsed makes every check answer
 * UNAVAILABLE and is never written over, so a damaged list cannot
 * silently bring revoked links back. Everything here runs on the relay's
 * I/O thread (or before it starts / after it stopped).
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-web-token.h"
#include "diode-link-sign.h"
#include "diode-link-token.h"
#include "diode-name.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

/* A file holding more than the bounds' worth of lines is not ours. */
#define REVOKED_FILE_MAX (2 * 1024 * 1024)
#define REVOKE_BODY_MAX  4096

typedef struct {
  guint8      kind;             /* DIODE_LINK_REVOKE_ONE / _ALL */
  gchar       owner[2 * DIODE_LINK_KEY_SIZE + 1];       /* key, hex */
  gchar       id[2 * DIODE_LINK_ID_SIZE + 1];   /* ONE: link id, hex */
  gchar      *name;             /* as the owner spelled it */
  gchar      *key;              /* diode_name_key (name) */
  gint64      issued;           /* ONE: the link's issued (or later) */
  gint64      before;           /* ALL */
  gint64      keep_until;       /* dropped after this */
  gboolean    pooled;           /* taken for a stream not held here */
  gint64      added;            /* pooled: when taken (unix s) */
  guint64     seq;              /* pooled: order taken, within a second */
} Revoked;

typedef struct _RelayTokens {
  gchar      *path;
  gchar      *unavailable;      /* why every check fails closed, or NULL */
  GHashTable *one;              /* "OWNER/ID" -> Revoked* */
  GHashTable *all;              /* "OWNER\nKEY" -> Revoked* */
  guint64     seq;              /* the next pooled entry's seq */
} RelayTokens;

static void
revoked_free (Revoked * e)
{
  g_free (e->name);
  g_free (e->key);
  g_free (e);
}

static gchar *
one_key (const gchar * owner, const gchar * id)
{
  return g_strdup_printf ("%s/%s", owner, id);
}

static gchar *
all_key (const gchar * owner, const gchar * key)
{
  return g_strdup_printf ("%s\n%s", owner, key);
}

static void
hex_of (const guint8 * b, gsize n, gchar * out)
{
  static const gchar hex[] = "0123456789abcdef";
  gsize i;

  for (i = 0; i < n; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
  out[2 * n] = '\0';
}

/* The entries of @owner (hex; NULL: everyone's) in one class (@pooled 0
 * or 1) or both (-1), in no order (g_ptr_array_unref; not owned). */
static GPtrArray *
entries_of (RelayTokens * tk, const gchar * owner, gint pooled)
{
  GHashTable *tables[] = { tk->one, tk->all };
  GPtrArray *out = g_ptr_array_new ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (tables); i++) {
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init (&it, tables[i]);
    while (g_hash_table_iter_next (&it, NULL, &v)) {
      Revoked *e = v;

      if ((pooled < 0 || !e->pooled == !pooled)
          && (!owner || !strcmp (e->owner, owner)))
        g_ptr_array_add (out, e);
    }
  }
  return out;
}

static guint
n_of_owner (RelayTokens * tk, const gchar * owner, gboolean pooled)
{
  GPtrArray *a = entries_of (tk, owner, pooled);
  guint n = a->len;

  g_ptr_array_unref (a);
  return n;
}

static guint
n_entries (RelayTokens * tk, gboolean pooled)
{
  return n_of_owner (tk, NULL, pooled);
}

static void
insert (RelayTokens * tk, Revoked * e)
{
  if (e->kind == DIODE_LINK_REVOKE_ONE)
    g_hash_table_replace (tk->one, one_key (e->owner, e->id), e);
  else
    g_hash_table_replace (tk->all, all_key (e->owner, e->key), e);
}

/* Entries past their keep_until revoke only links that expired. */
static gboolean
prune (RelayTokens * tk, gint64 now)
{
  GHashTable *tables[] = { tk->one, tk->all };
  gboolean changed = FALSE;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (tables); i++) {
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init (&it, tables[i]);
    while (g_hash_table_iter_next (&it, NULL, &v)) {
      if (((Revoked *) v)->keep_until <= now) {
        g_hash_table_iter_remove (&it);
        changed = TRUE;
      }
    }
  }
  return changed;
}

/* ---- the file ----------------------------------------------------------- */

static gboolean
is_hex (const gchar * s, gsize n)
{
  gsize i;

  for (i = 0; i < n; i++)
    if (!g_ascii_isxdigit (s[i]) || g_ascii_isupper (s[i]))
      return FALSE;
  return s[n] == '\0';
}

static gboolean
parse_time (const gchar * s, gint64 * out)
{
  guint64 v;

  if (!g_ascii_string_to_unsigned (s, 10, 1, DIODE_LINK_MAX_TIME +
          DIODE_LINK_MAX_LIFETIME + RELAY_TOKEN_SKEW_S, &v, NULL))
    return FALSE;
  *out = (gint64) v;
  return TRUE;
}

/* "one OWNER ID ISSUED KEEP NAME" / "all OWNER BEFORE KEEP NAME". */
static Revoked *
parse_plain (const gchar * line)
{
  gchar **f = g_strsplit (line, " ", 6);
  Revoked *e = g_new0 (Revoked, 1);
  guint n = g_strv_length (f), k = 1;
  gboolean ok = FALSE;

  if (n < 5)
    goto out;
  if (!strcmp (f[0], "one") && n == 6)
    e->kind = DIODE_LINK_REVOKE_ONE;
  else if (!strcmp (f[0], "all") && n >= 5)
    e->kind = DIODE_LINK_REVOKE_ALL;
  else
    goto out;
  if (strlen (f[k]) != 2 * DIODE_LINK_KEY_SIZE || !is_hex (f[k],
          2 * DIODE_LINK_KEY_SIZE))
    goto out;
  memcpy (e->owner, f[k++], sizeof e->owner);
  if (e->kind == DIODE_LINK_REVOKE_ONE) {
    if (strlen (f[k]) != 2 * DIODE_LINK_ID_SIZE || !is_hex (f[k],
            2 * DIODE_LINK_ID_SIZE) || !parse_time (f[k + 1], &e->issued))
      goto out;
    memcpy (e->id, f[k], sizeof e->id);
    k += 2;
  } else {
    /* the name may hold spaces: split again with one field less */
    g_strfreev (f);
    f = g_strsplit (line, " ", 5);
    n = g_strv_length (f);
    if (n != 5 || !parse_time (f[k++], &e->before))
      goto out;
  }
  if (!parse_time (f[k++], &e->keep_until)
      || !diode_msg_check_stream_name (f[k], NULL))
    goto out;
  e->name = g_strdup (f[k]);
  e->key = diode_name_key (e->name, NULL);
  ok = e->key != NULL;
out:
  g_strfreev (f);
  if (!ok) {
    revoked_free (e);
    return NULL;
  }
  return e;
}

/* A plain line, or a pooled one: "pool-one ADDED ..." / "pool-all ADDED
 * ..." (the plain line's fields after ADDED). */
static Revoked *
parse_line (const gchar * line)
{
  const gchar *sp, *sp2;
  gchar *added, *plain;
  gint64 t = 0;
  Revoked *e;

  if (!g_str_has_prefix (line, "pool-"))
    return parse_plain (line);
  sp = strchr (line, ' ');
  sp2 = sp ? strchr (sp + 1, ' ') : NULL;
  if (!sp2)
    return NULL;
  added = g_strndup (sp + 1, sp2 - sp - 1);
  plain = g_strdup_printf ("%.*s%s", (int) (sp - line - 5), line + 5, sp2);
  e = parse_time (added, &t) ? parse_plain (plain) : NULL;
  if (e) {
    e->pooled = TRUE;
    e->added = t;
  }
  g_free (added);
  g_free (plain);
  return e;
}

static gboolean
load (RelayTokens * tk, gint64 now, gchar ** why)
{
  gchar *data = NULL, **lines;
  gsize len = 0;
  GError *err = NULL;
  GStatBuf st;
  GHashTable *per_owner;
  guint i;

  if (g_stat (tk->path, &st) < 0) {
    if (errno == ENOENT)
      return TRUE;              /* nothing revoked yet */
    *why = g_strdup_printf ("cannot read %s: %s", tk->path,
        g_strerror (errno));
    return FALSE;
  }
  if (!S_ISREG (st.st_mode) || st.st_size > REVOKED_FILE_MAX) {
    *why = g_strdup_printf ("%s is not a revocation list (%s)", tk->path,
        S_ISREG (st.st_mode) ? "far too large" : "not a regular file");
    return FALSE;
  }
  if (!g_file_get_contents (tk->path, &data, &len, &err)) {
    *why = g_strdup (err->message);
    g_error_free (err);
    return FALSE;
  }
  if (strlen (data) != len || !g_utf8_validate (data, len, NULL)) {
    *why = g_strdup_printf ("%s is not a revocation list (not text)",
        tk->path);
    g_free (data);
    return FALSE;
  }
  lines = g_strsplit (data, "\n", -1);
  g_free (data);
  /* entries per owner, counted as they come (the bound is checked at each
   * line: a huge file costs no more than the bound's worth) */
  per_owner = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (i = 0; lines[i]; i++) {
    Revoked *e;
    guint n;

    if (!*lines[i] || lines[i][0] == '#')
      continue;
    e = parse_line (lines[i]);
    if (!e) {
      *why = g_strdup_printf ("%s: line %u is not a revocation", tk->path,
          i + 1);
      g_hash_table_unref (per_owner);
      g_strfreev (lines);
      return FALSE;
    }
    {
      /* counted per class: "OWNER" and "+OWNER" for the pool */
      gchar *ok = g_strconcat (e->pooled ? "+" : "", e->owner, NULL);

      n = GPOINTER_TO_UINT (g_hash_table_lookup (per_owner, ok)) + 1;
      g_hash_table_replace (per_owner, ok, GUINT_TO_POINTER (n));
    }
    /* file order is age order within the pool (save sorts it so) */
    e->seq = tk->seq++;
    insert (tk, e);
    if (e->pooled ? (n_entries (tk, TRUE) > RELAY_REVOKED_POOL_MAX
            || n > RELAY_REVOKED_POOL_PER_OWNER)
        : (n_entries (tk, FALSE) > RELAY_REVOKED_MAX
            || n > RELAY_REVOKED_PER_OWNER)) {
      *why = g_strdup_printf ("%s holds more revocations than a relay keeps "
          "(%d per owner, %d in all; for streams it does not hold %d and "
          "%d)", tk->path, RELAY_REVOKED_PER_OWNER, RELAY_REVOKED_MAX,
          RELAY_REVOKED_POOL_PER_OWNER, RELAY_REVOKED_POOL_MAX);
      g_hash_table_unref (per_owner);
      g_strfreev (lines);
      return FALSE;
    }
  }
  g_hash_table_unref (per_owner);
  g_strfreev (lines);
  prune (tk, now);
  return TRUE;
}

static gint
entry_cmp (gconstpointer a, gconstpointer b)
{
  const Revoked *x = *(Revoked **) a, *y = *(Revoked **) b;
  gint c;

  /* the held streams' first; the pool after them, oldest first */
  if (!x->pooled != !y->pooled)
    return x->pooled ? 1 : -1;
  if (x->pooled && x->added != y->added)
    return x->added < y->added ? -1 : 1;
  if (x->pooled && x->seq != y->seq)
    return x->seq < y->seq ? -1 : 1;
  c = strcmp (x->owner, y->owner);
  if (c)
    return c;
  if (x->kind != y->kind)
    return x->kind - y->kind;
  c = strcmp (x->key, y->key);
  return c ? c : strcmp (x->id, y->id);
}

static gboolean
save (RelayTokens * tk, GError ** error)
{
  GString *s = g_string_new ("# share links revoked by their owners "
      "(diode-relay writes this file; docs/protocol.md section 16)\n");
  GPtrArray *all = entries_of (tk, NULL, -1);
  gboolean ok;
  guint i;

  /* a stable order: the same list, the same bytes */
  g_ptr_array_sort (all, entry_cmp);
  for (i = 0; i < all->len; i++) {
    Revoked *e = all->pdata[i];

    /* pooled: "pool-one ADDED ..." where a held one says "one ..." */
    g_string_append_printf (s, "%s%s ", e->pooled ? "pool-" : "",
        e->kind == DIODE_LINK_REVOKE_ONE ? "one" : "all");
    if (e->pooled)
      g_string_append_printf (s, "%" G_GINT64_FORMAT " ", e->added);
    if (e->kind == DIODE_LINK_REVOKE_ONE)
      g_string_append_printf (s, "%s %s %" G_GINT64_FORMAT " %"
          G_GINT64_FORMAT " %s\n", e->owner, e->id, e->issued,
          e->keep_until, e->name);
    else
      g_string_append_printf (s, "%s %" G_GINT64_FORMAT " %"
          G_GINT64_FORMAT " %s\n", e->owner, e->before, e->keep_until,
          e->name);
  }
  g_ptr_array_unref (all);
  ok = g_file_set_contents_full (tk->path, s->str, s->len,
      G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
  g_string_free (s, TRUE);
  return ok;
}

static gchar *
default_path (DiodeRelay * r)
{
  const gchar *id = diode_identity_get_path (r->identity);
  gchar *stem = g_str_has_suffix (id, ".pem") ? g_strndup (id,
      strlen (id) - 4) : g_strdup (id);
  gchar *path = g_strconcat (stem, ".link-revocations", NULL);

  g_free (stem);
  return path;
}

gboolean
relay_web_tokens_init (DiodeRelay * r, GError ** error)
{
  RelayTokens *tk;
  gchar *why = NULL;

  /* diode_relay_start loads the list once per start (freed at stop);
   * relay_web_start calls this too: the list loaded already is kept */
  if (r->tokens)
    return TRUE;
  tk = g_new0 (RelayTokens, 1);
  tk->path = r->link_revocations ? g_strdup (r->link_revocations) :
      default_path (r);
  tk->one = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) revoked_free);
  tk->all = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) revoked_free);
  if (!load (tk, g_get_real_time () / G_USEC_PER_SEC, &why)) {
    /* the relay runs; browsers get no protected stream until the operator
     * repairs or removes the file */
    g_hash_table_remove_all (tk->one);
    g_hash_table_remove_all (tk->all);
    tk->unavailable = why;
    g_message ("share links are refused on this relay: its revocation list "
        "is unreadable: %s (repair or remove the file, then restart)", why);
  }
  r->tokens = tk;
  return TRUE;
}

void
relay_web_tokens_free (DiodeRelay * r)
{
  RelayTokens *tk = r->tokens;

  if (!tk)
    return;
  r->tokens = NULL;
  g_hash_table_unref (tk->one);
  g_hash_table_unref (tk->all);
  g_free (tk->unavailable);
  g_free (tk->path);
  g_free (tk);
}

/* ---- the check ---------------------------------------------------------- */

static gboolean
is_revoked (DiodeRelay * r, const DiodeLinkToken * t)
{
  RelayTokens *tk = r->tokens;
  gchar owner[2 * DIODE_LINK_KEY_SIZE + 1], id[2 * DIODE_LINK_ID_SIZE + 1];
  gchar *k, *key;
  Revoked *e;
  gboolean hit;

  diode_link_id_to_hex (t->id, id);
  if (diode_relay_config_link_revoked (r->config, id))
    return TRUE;
  hex_of (t->owner, DIODE_LINK_KEY_SIZE, owner);
  k = one_key (owner, id);
  hit = g_hash_table_contains (tk->one, k);
  g_free (k);
  if (hit)
    return TRUE;
  key = diode_name_key (t->stream, NULL);
  if (!key)
    return TRUE;                /* cannot happen: compared equal above */
  k = all_key (owner, key);
  e = g_hash_table_lookup (tk->all, k);
  g_free (k);
  g_free (key);
  return e && (gint64) t->issued < e->before;
}

/* A link to NAME admits NAME and its audio companion NAME.audio (the
 * player opens both; docs/decisions.md "The player page"): the owner check
 * that follows still applies, so the companion must be published by the
 * same key. */
static gboolean
token_names_stream (const gchar * token_stream, const gchar * stream)
{
  gchar *companion;
  gboolean same;

  if (diode_name_same (token_stream, stream))
    return TRUE;
  companion = g_strconcat (token_stream, ".audio", NULL);
  same = diode_name_same (companion, stream);
  g_free (companion);
  return same;
}

RelayTokenResult
relay_web_token_check (DiodeRelay * r, const gchar * token,
    const gchar * stream, const gchar * owner, guint scope,
    gint64 now_unix, gint64 * expires_unix)
{
  DiodeLinkToken t;
  gchar *address;
  gboolean same;

  if (!token || !*token)
    return RELAY_TOKEN_MISSING;
  if (!r->tokens || r->tokens->unavailable)
    return RELAY_TOKEN_UNAVAILABLE;
  if (!diode_link_token_read (token, &t, NULL))
    return RELAY_TOKEN_MALFORMED;
  if (!stream || !token_names_stream (t.stream, stream))
    return RELAY_TOKEN_WRONG_STREAM;
  /* a stream whose owner is unknown takes no link: fails closed */
  address = owner ? diode_link_key_address (t.owner, NULL) : NULL;
  same = address && !g_ascii_strcasecmp (address, owner);
  g_free (address);
  if (!same)
    return RELAY_TOKEN_WRONG_OWNER;
  if (!scope || (t.scope & scope) != scope)
    return RELAY_TOKEN_WRONG_SCOPE;
  if ((gint64) t.issued > now_unix + RELAY_TOKEN_SKEW_S)
    return RELAY_TOKEN_NOT_YET_VALID;
  if (now_unix >= (gint64) t.expires)
    return RELAY_TOKEN_EXPIRED;
  if (is_revoked (r, &t))
    return RELAY_TOKEN_REVOKED;
  if (expires_unix)
    *expires_unix = (gint64) t.expires;
  return RELAY_TOKEN_OK;
}

const gchar *
relay_web_token_result_text (RelayTokenResult res)
{
  /* shown by the page and sent as a WebSocket close reason: <= 123 bytes */
  switch (res) {
    case RELAY_TOKEN_OK:
      return "the share link is valid";
    case RELAY_TOKEN_MISSING:
      return "this stream is not public: it needs a share link from its "
          "owner";
    case RELAY_TOKEN_MALFORMED:
      return "the share link is not valid (damaged, cut short or forged)";
    case RELAY_TOKEN_WRONG_STREAM:
      return "the share link is for another stream";
    case RELAY_TOKEN_WRONG_OWNER:
      return "the share link was not made by this stream's owner";
    case RELAY_TOKEN_EXPIRED:
      return "the share link has expired";
    case RELAY_TOKEN_REVOKED:
      return "the share link has been revoked";
    case RELAY_TOKEN_WRONG_SCOPE:
      return "the share link does not allow this (live or recording)";
    case RELAY_TOKEN_NOT_YET_VALID:
      return "the share link is not valid yet (a clock is wrong)";
    case RELAY_TOKEN_UNAVAILABLE:
    default:
      return "this relay cannot check share links now (its revocation list "
          "is unreadable)";
  }
}

/* ---- revocations -------------------------------------------------------- */

/* The single-link entries @all (kind ALL) covers: same owner and stream,
 * issued before it. Counted, or removed when @remove. A held-stream @all
 * covers both classes; a pooled one only the pool's (a held-stream entry
 * is never given up for one that can be evicted). */
static guint
n_covered (RelayTokens * tk, const Revoked * all, gboolean remove)
{
  GHashTableIter it;
  gpointer v;
  guint n = 0;

  g_hash_table_iter_init (&it, tk->one);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    Revoked *o = v;

    if ((!all->pooled || o->pooled) && !strcmp (o->owner, all->owner)
        && !strcmp (o->key, all->key) && o->issued < all->before) {
      n += !o->pooled == !all->pooled;
      if (remove)
        g_hash_table_iter_remove (&it);
    }
  }
  return n;
}

gchar *
relay_web_stream_owner (DiodeRelay * r, const gchar * name)
{
  Stream *s = stream_lookup (r, name);
  gchar *key, *owner = NULL;
  DiodeStoreMeta meta = { 0 };

  if (s && s->owner)
    return g_strdup (s->owner);
  key = diode_name_key (name, NULL);
  if (key && relay_record_lookup (r, key, &meta)) {
    owner = g_strdup (meta.owner);
    diode_store_meta_clear (&meta);
  }
  g_free (key);
  return owner;
}

/* A pooled entry whose stream this relay now holds, published by the
 * entry's owner: kept (not evicted) while that lasts. */
static gboolean
pooled_is_held (DiodeRelay * r, const Revoked * e)
{
  guint8 key[DIODE_LINK_KEY_SIZE];
  gchar *owner, *address;
  gboolean held;
  guint i;

  for (i = 0; i < DIODE_LINK_KEY_SIZE; i++)
    key[i] = g_ascii_xdigit_value (e->owner[2 * i]) << 4 |
        g_ascii_xdigit_value (e->owner[2 * i + 1]);
  owner = relay_web_stream_owner (r, e->name);
  address = owner ? diode_link_key_address (key, NULL) : NULL;
  held = address && !g_ascii_strcasecmp (address, owner);
  g_free (owner);
  g_free (address);
  return held;
}

static gint
age_cmp (gconstpointer a, gconstpointer b)
{
  const Revoked *x = *(Revoked **) a, *y = *(Revoked **) b;

  if (x->added != y->added)
    return x->added < y->added ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The pool's oldest entry (of @owner, hex, or of anyone if NULL) that may
 * be evicted, or NULL. Streams are looked up oldest first until one is
 * not held: usually the first. */
static Revoked *
pool_oldest (DiodeRelay * r, RelayTokens * tk, const gchar * owner)
{
  GPtrArray *pool = entries_of (tk, owner, TRUE);
  Revoked *found = NULL;
  guint i;

  g_ptr_array_sort (pool, age_cmp);
  for (i = 0; i < pool->len && !found; i++)
    if (!pooled_is_held (r, pool->pdata[i]))
      found = pool->pdata[i];
  g_ptr_array_unref (pool);
  return found;
}

static void
evict (RelayTokens * tk, Revoked * e)
{
  gchar *k = e->kind == DIODE_LINK_REVOKE_ONE ? one_key (e->owner, e->id) :
      all_key (e->owner, e->key);

  g_info ("share links: the revocation pool is full: evicted the oldest "
      "(owner %.16s..., stream '%s')", e->owner, e->name);
  g_hash_table_remove (e->kind == DIODE_LINK_REVOKE_ONE ? tk->one : tk->all,
      k);
  g_free (k);
}

/* Whether @old (same key as @e, same class) already revokes all @e does. */
static gboolean
already (const Revoked * old, const Revoked * e)
{
  if (e->kind == DIODE_LINK_REVOKE_ONE)
    return old->keep_until >= e->keep_until;
  return old->before >= e->before;
}

guint
relay_web_token_revoke_text (DiodeRelay * r, const gchar * text,
    gint64 now, gchar ** message)
{
  RelayTokens *tk = r->tokens;
  DiodeLinkRevocation rv;
  GError *err = NULL;
  gchar *address = NULL, *owner = NULL, *shown = NULL, *k;
  gchar owner_hex[2 * DIODE_LINK_KEY_SIZE + 1];
  Revoked *e = NULL, *old = NULL;
  guint status, freed = 0;
  gboolean replaces;

  if (!tk || tk->unavailable) {
    *message = g_strdup ("this relay cannot take revocations now: its "
        "revocation list is unreadable (every share link is refused "
        "meanwhile)");
    return SOUP_STATUS_SERVICE_UNAVAILABLE;
  }
  if (!diode_link_revocation_read (text, &rv, &err)) {
    *message = g_strdup_printf ("not a valid revocation: %s", err->message);
    g_error_free (err);
    return SOUP_STATUS_BAD_REQUEST;
  }
  shown = diode_name_escape (rv.stream);
  address = diode_link_key_address (rv.owner, NULL);
  owner = relay_web_stream_owner (r, rv.stream);
  /* a stream held here by another key: its owner's links are not this
   * key's to revoke. A stream not held here: taken into the pool (an edge
   * relay that pulls on demand must refuse the link when a viewer comes) */
  if (!address || (owner && g_ascii_strcasecmp (address, owner))) {
    *message = g_strdup_printf ("this relay's stream '%s' is not owned by %s",
        shown, address ? address : "that key");
    status = SOUP_STATUS_FORBIDDEN;
    goto out;
  }
  hex_of (rv.owner, DIODE_LINK_KEY_SIZE, owner_hex);
  prune (tk, now);

  e = g_new0 (Revoked, 1);
  e->kind = rv.kind;
  memcpy (e->owner, owner_hex, sizeof e->owner);
  e->name = g_strdup (rv.stream);
  e->key = diode_name_key (rv.stream, NULL);
  e->pooled = owner == NULL;
  e->added = now;
  if (!e->key) {
    *message = g_strdup_printf ("'%s' is not a stream name this relay "
        "takes", shown);
    status = SOUP_STATUS_BAD_REQUEST;
    goto out;
  }
  if (rv.kind == DIODE_LINK_REVOKE_ONE) {
    /* a link lives at most 366 days from an issued time at most 300 s
     * ahead: no need to keep it longer than that */
    gint64 cap = now + RELAY_TOKEN_SKEW_S + DIODE_LINK_MAX_LIFETIME;

    diode_link_id_to_hex (rv.id, e->id);
    e->issued = (gint64) rv.issued;
    e->keep_until = MIN ((gint64) rv.expires, cap);
    if (e->keep_until <= now) {
      *message = g_strdup_printf ("link %s of '%s' has expired already: "
          "nothing to revoke", e->id, shown);
      status = SOUP_STATUS_OK;
      goto out;
    }
    k = one_key (e->owner, e->id);
    old = g_hash_table_lookup (tk->one, k);
    g_free (k);
  } else {
    if ((gint64) rv.before > now + RELAY_TOKEN_SKEW_S) {
      *message = g_strdup ("the revocation is dated in the future (check "
          "this computer's clock)");
      status = SOUP_STATUS_BAD_REQUEST;
      goto out;
    }
    e->before = (gint64) rv.before;
    e->keep_until = e->before + DIODE_LINK_MAX_LIFETIME;
    if (e->keep_until <= now) {
      *message = g_strdup_printf ("every link of '%s' issued before %"
          G_GINT64_FORMAT " has expired already: nothing to revoke", shown,
          e->before);
      status = SOUP_STATUS_OK;
      goto out;
    }
    k = all_key (e->owner, e->key);
    old = g_hash_table_lookup (tk->all, k);
    g_free (k);
  }
  if (old) {
    /* one entry per key: a held-stream one stays held; a pooled one
     * becomes held when its stream is held now and the owner has room */
    if (!old->pooled)
      e->pooled = FALSE;
    else if (!e->pooled && n_of_owner (tk, owner_hex, FALSE) >=
        RELAY_REVOKED_PER_OWNER)
      e->pooled = TRUE;
    if (!old->pooled == !e->pooled && already (old, e)) {
      if (e->kind == DIODE_LINK_REVOKE_ONE)
        *message = g_strdup_printf ("link %s of '%s' was revoked already",
            e->id, shown);
      else
        *message = g_strdup_printf ("the links of '%s' were revoked "
            "already", shown);
      status = SOUP_STATUS_OK;
      goto out;
    }
    /* what the old one revoked stays revoked */
    e->keep_until = MAX (e->keep_until, old->keep_until);
    e->before = MAX (e->before, old->before);
    if (e->pooled) {
      e->added = old->added;
      e->seq = old->seq;
    }
  }
  replaces = old && !old->pooled == !e->pooled;
  if (e->kind == DIODE_LINK_REVOKE_ALL)
    freed = n_covered (tk, e, FALSE);
  if (!e->pooled) {
    /* bounds: per owner, then in total (what this one replaces is freed) */
    if (!replaces && n_of_owner (tk, owner_hex, FALSE) - freed >=
        RELAY_REVOKED_PER_OWNER) {
      *message = g_strdup_printf ("this relay keeps at most %d revocations "
          "per owner: revoke every link of '%s' at once instead (diode link "
          "--revoke --all)", RELAY_REVOKED_PER_OWNER, shown);
      status = SOUP_STATUS_INSUFFICIENT_STORAGE;
      goto out;
    }
    if (!replaces && n_entries (tk, FALSE) - freed >= RELAY_REVOKED_MAX) {
      *message = g_strdup_printf ("this relay's revocation list is full (%d "
          "entries); ask its operator ([links] revoked= in its "
          "configuration)", RELAY_REVOKED_MAX);
      status = SOUP_STATUS_INSUFFICIENT_STORAGE;
      goto out;
    }
  } else if (!replaces) {
    /* the pool: room is made by evicting its oldest (never one whose
     * stream is held here now); none evictable: refused */
    if ((n_of_owner (tk, owner_hex, TRUE) - freed >=
            RELAY_REVOKED_POOL_PER_OWNER && !pool_oldest (r, tk, owner_hex))
        || (n_entries (tk, TRUE) - freed >= RELAY_REVOKED_POOL_MAX
            && !pool_oldest (r, tk, NULL))) {
      *message = g_strdup_printf ("this relay does not hold '%s' and its "
          "revocations for streams it does not hold are all in use: revoke "
          "on the relay that holds it", shown);
      status = SOUP_STATUS_INSUFFICIENT_STORAGE;
      goto out;
    }
  }
  if (e->kind == DIODE_LINK_REVOKE_ALL)
    n_covered (tk, e, TRUE);
  if (old && !replaces) {
    /* moved from the pool to the held class */
    k = e->kind == DIODE_LINK_REVOKE_ONE ? one_key (e->owner, e->id) :
        all_key (e->owner, e->key);
    g_hash_table_remove (e->kind == DIODE_LINK_REVOKE_ONE ? tk->one :
        tk->all, k);
    g_free (k);
    old = NULL;
  }
  if (e->pooled && !replaces) {
    Revoked *o;

    while (n_of_owner (tk, owner_hex, TRUE) >= RELAY_REVOKED_POOL_PER_OWNER
        && (o = pool_oldest (r, tk, owner_hex)))
      evict (tk, o);
    while (n_entries (tk, TRUE) >= RELAY_REVOKED_POOL_MAX
        && (o = pool_oldest (r, tk, NULL)))
      evict (tk, o);
    e->seq = tk->seq++;
  }
  if (e->kind == DIODE_LINK_REVOKE_ONE)
    *message = g_strdup_printf ("revoked link %s of '%s'", e->id, shown);
  else
    *message = g_strdup_printf ("revoked every link of '%s' issued before %"
        G_GINT64_FORMAT, shown, e->before);
  if (e->pooled) {
    gchar *m = *message;

    *message = g_strdup_printf ("%s (this relay does not hold '%s' now: "
        "kept among at most %d revocations for streams it does not hold, "
        "oldest evicted first; revoke on every relay the link can reach)",
        m, shown, RELAY_REVOKED_POOL_MAX);
    g_free (m);
  }
  insert (tk, e);
  e = NULL;
  status = SOUP_STATUS_OK;
  if (!save (tk, &err)) {
    gchar *m = *message;

    /* still revoked here: better than letting the link work again */
    *message = g_strdup_printf ("%s until this relay restarts: it could not "
        "save its revocation list: %s", m, err->message);
    g_message ("share links: %s", *message);
    g_free (m);
    g_error_free (err);
    status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
  }
  {
    /* viewers watching with a link revoked now are cut off */
    Stream *s = stream_lookup (r, rv.stream);

    if (s)
      stream_recheck_viewers (r, s);
  }
out:
  if (e)
    revoked_free (e);
  g_free (shown);
  g_free (address);
  g_free (owner);
  return status;
}

void
relay_web_token_revoke (DiodeRelay * r, SoupServerMessage * msg)
{
  SoupMessageBody *body;
  GBytes *bytes;
  gchar *text, *message = NULL;
  gsize len = 0;
  const gchar *data;
  guint status;

  if (strcmp (soup_server_message_get_method (msg), SOUP_METHOD_POST)) {
    soup_message_headers_replace (soup_server_message_get_response_headers
        (msg), "Allow", "POST");
    soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
        NULL);
    return;
  }
  body = soup_server_message_get_request_body (msg);
  bytes = soup_message_body_flatten (body);
  data = g_bytes_get_data (bytes, &len);
  if (len > REVOKE_BODY_MAX) {
    message = g_strdup ("a revocation is a few hundred bytes");
    status = SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE;
  } else {
    text = g_strstrip (g_strndup (data ? data : "", len));
    status = relay_web_token_revoke_text (r, text,
        g_get_real_time () / G_USEC_PER_SEC, &message);
    g_free (text);
  }
  g_bytes_unref (bytes);
  soup_message_headers_replace (soup_server_message_get_response_headers
      (msg), "Cache-Control", "no-store");
  soup_server_message_set_status (msg, status, NULL);
  {
    gchar *line = g_strconcat (message, "\n", NULL);

    soup_server_message_set_response (msg, "text/plain; charset=utf-8",
        SOUP_MEMORY_TAKE, line, strlen (line));
  }
  g_free (message);
}

/* ---- test hooks --------------------------------------------------------- */

typedef struct {
  DiodeRelay *r;
  const gchar *token, *stream, *owner, *text;
  guint scope;
  gint64 now, expires;
  RelayTokenResult res;
  guint status;
  gchar *message;
  gboolean done;
  GMutex lock;
  GCond cond;
} SyncCall;

static gboolean
sync_call_cb (gpointer data)
{
  SyncCall *c = data;

  if (c->text)
    c->status = relay_web_token_revoke_text (c->r, c->text, c->now,
        &c->message);
  else
    c->res = relay_web_token_check (c->r, c->token, c->stream, c->owner,
        c->scope, c->now, &c->expires);
  g_mutex_lock (&c->lock);
  c->done = TRUE;
  g_cond_signal (&c->cond);
  g_mutex_unlock (&c->lock);
  return G_SOURCE_REMOVE;
}

static void
sync_call (SyncCall * c)
{
  GMainContext *ctx = c->r->running ? c->r->context : NULL;

  g_mutex_init (&c->lock);
  g_cond_init (&c->cond);
  if (!ctx) {
    sync_call_cb (c);
  } else {
    g_main_context_invoke (ctx, sync_call_cb, c);
    g_mutex_lock (&c->lock);
    while (!c->done)
      g_cond_wait (&c->cond, &c->lock);
    g_mutex_unlock (&c->lock);
  }
  g_mutex_clear (&c->lock);
  g_cond_clear (&c->cond);
}

RelayTokenResult
diode_relay_web_token_check_sync (DiodeRelay * r, const gchar * token,
    const gchar * stream, const gchar * owner, guint scope, gint64 now_unix,
    gint64 * expires_unix)
{
  SyncCall c = { r, token, stream, owner, NULL, scope, now_unix };

  sync_call (&c);
  if (expires_unix)
    *expires_unix = c.expires;
  return c.res;
}

guint
diode_relay_web_revoke_sync (DiodeRelay * r, const gchar * text,
    gint64 now_unix, gchar ** message)
{
  SyncCall c = { r, NULL, NULL, NULL, text, 0, now_unix };

  sync_call (&c);
  *message = c.message;
  return c.status;
}
