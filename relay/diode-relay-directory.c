/* gst-diode — where is stream X: the relay's directory
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One question, one place: a SUBSCRIBE (or a parent's PULL) for a name
 * this relay does not carry asks directory_locate() where the stream can
 * be had: published here, announced by a child relay (then PULL it from
 * that child, which pushes it), or "ask the upstream" (the tree's parent,
 * which asks its own, up to the root). Keeping the decision behind this
 * one function is what lets a later directory (a DHT over thousands of
 * independent relays) replace the tree without touching the code that
 * opens pulls and pushes.
 *
 * This file also keeps what the directory is made of on the parent side:
 * child relays' control links (LINK answered with LINK_OK, 102 when the
 * operator does not list the relay in [relays] children, or 104 LOOP
 * when the child is in this relay's own upstream chain), their ANNOUNCEs
 * (bounded by --max-announced per link and four times that in total, in
 * entries and in bytes, a link's byte share an eighth of the total;
 * allowlists not kept; unchanged re-announcements dropped and changes
 * rate-limited per link; an announcement whose path already holds this
 * relay is dropped), passed up with this relay appended to the path, and
 * forgotten (WITHDRAWN upwards) when the child's link closes. LINK_OK goes
 * down again when our own path changes: at most every PATH_CHANGE_MIN_MS,
 * one unsent LINK_OK per child (a newer one replaces it).
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

#include <string.h>

static void
announced_free (gpointer data)
{
  Announced *a = data;

  g_free (a->name);
  g_free (a->owner);
  g_free (a->fleet);
  g_strfreev (a->path);
  g_free (a);
}

static gsize
block_cost (gsize size)
{
  return size + ANNOUNCED_BLOCK_OVERHEAD;
}

static gsize
str_cost (const gchar * str)
{
  return str ? block_cost (strlen (str) + 1) : 0;
}

/* What an entry really holds on the heap: the struct, its strings, the
 * path array and the hash table's node, each block with its overhead. */
static gsize
announced_cost (const Announced * a)
{
  gsize cost = block_cost (sizeof (Announced)) + block_cost (4 *
      sizeof (gpointer));
  guint i;

  cost += str_cost (a->name) + str_cost (a->owner) + str_cost (a->fleet);
  if (a->path) {
    for (i = 0; a->path[i]; i++)
      cost += str_cost (a->path[i]);
    cost += block_cost ((i + 1) * sizeof (gchar *));
  }
  return cost;
}

static gboolean
strv_same (gchar ** a, gchar ** b)
{
  guint i;

  for (i = 0; a && b && a[i] && b[i]; i++)
    if (g_strcmp0 (a[i], b[i]))
      return FALSE;
  return (!a || !a[i]) && (!b || !b[i]);
}

/* An AVAILABLE for a name already held with the same owner, policy and
 * path says nothing new. */
static gboolean
announced_same (const Announced * a, const DiodeMsg * m)
{
  return !g_strcmp0 (a->owner, m->owner) && a->access == m->access
      && !g_strcmp0 (a->fleet, m->fleet ? m->fleet : "")
      && strv_same (a->path, m->path);
}

/* One change to an announced entry: the link's token bucket. */
static gboolean
announce_change_allowed (Conn * c)
{
  gint64 now = g_get_monotonic_time ();

  if (!c->announce_refill_at) {
    c->announce_tokens = ANNOUNCE_CHANGES_BURST;
  } else {
    c->announce_tokens += (now - c->announce_refill_at) / 1e6 *
        ANNOUNCE_CHANGES_PER_S;
    if (c->announce_tokens > ANNOUNCE_CHANGES_BURST)
      c->announce_tokens = ANNOUNCE_CHANGES_BURST;
  }
  c->announce_refill_at = now;
  if (c->announce_tokens < 1)
    return FALSE;
  c->announce_tokens -= 1;
  return TRUE;
}

static guint64
announced_budget (DiodeRelay * r)
{
  return 4 * (guint64) r->max_announced * ANNOUNCED_BYTES_PER_ENTRY;
}

/* Take @a out of @c's table, uncounted. */
static void
announced_remove (Conn * c, const gchar * name)
{
  DiodeRelay *r = c->relay;
  Announced *old = g_hash_table_lookup (c->announced, name);

  if (!old)
    return;
  c->announced_bytes -= old->cost;
  r->announced_bytes -= old->cost;
  r->n_announced--;
  g_hash_table_remove (c->announced, name);
}

/* The child link that announced @name (the first linked), or NULL. */
static Conn *
directory_child_for (DiodeRelay * r, const gchar * name, Announced ** out)
{
  guint i;

  for (i = 0; r->children && i < r->children->len; i++) {
    Conn *c = g_ptr_array_index (r->children, i);
    Announced *a;

    if (c->dead || !c->announced)
      continue;
    a = g_hash_table_lookup (c->announced, name);
    if (a) {
      if (out)
        *out = a;
      return c;
    }
  }
  return NULL;
}

Announced *
directory_announced (DiodeRelay * r, const gchar * name)
{
  Announced *a = NULL;

  directory_child_for (r, name, &a);
  return a;
}

static gboolean
path_equal (const gchar * const *a, const gchar * const *b)
{
  guint i;

  for (i = 0; a && b && a[i] && b[i]; i++)
    if (g_ascii_strcasecmp (a[i], b[i]))
      return FALSE;
  return (!a || !a[i]) && (!b || !b[i]);
}

/* Is @c the child a PULL for @s failed at lately? */
static gboolean
shunned (Stream * s, Conn * c)
{
  return s && s->push_shunned && c->address
      && g_get_monotonic_time () < s->push_shunned_until
      && !g_ascii_strcasecmp (s->push_shunned, c->address);
}

DirWhere
directory_locate (DiodeRelay * r, const gchar * name, Conn ** child)
{
  Stream *s = stream_lookup (r, name);
  Conn *c = NULL;
  guint i;

  if (s && s->source == SOURCE_LOCAL)
    return DIR_LOCAL;
  /* the first child that announced it, but not one whose PULL just
   * failed (it announced and never pushed, or pushed nothing) */
  for (i = 0; r->children && i < r->children->len; i++) {
    Conn *o = g_ptr_array_index (r->children, i);

    if (!o->dead && o->announced && g_hash_table_contains (o->announced,
            name) && !shunned (s, o)) {
      c = o;
      break;
    }
  }
  if (c) {
    if (child)
      *child = c;
    return DIR_CHILD;
  }
  if (r->endpoints && r->endpoints->len)
    return DIR_UPSTREAM;
  return DIR_NONE;
}

/* Our path as a parent: this relay, then its upstream chain. */
static gchar **
directory_own_path (DiodeRelay * r)
{
  const gchar *self[] = { diode_relay_get_address (r), NULL };
  gchar **lower = diode_msg_path_append (NULL, self[0]);
  guint i;

  for (i = 0; r->upstream_path && r->upstream_path[i]; i++) {
    gchar **next = diode_msg_path_append ((const gchar * const *) lower,
        r->upstream_path[i]);

    if (!next)
      break;
    g_strfreev (lower);
    lower = next;
  }
  return lower;
}

static void
send_link_ok (Conn * c)
{
  gchar **path = directory_own_path (c->relay);
  GError *err = NULL;
  GList *node;
  GBytes *f;

  if (!diode_session_sent (c->session, DIODE_MSG_LINK_OK, 0, &err)) {
    g_clear_error (&err);
    g_strfreev (path);
    return;
  }
  f = diode_msg_encode_link_ok ((const gchar * const *) path);
  g_strfreev (path);
  /* A child that does not read gets the latest path, not every one: the
   * LINK_OK it has not been sent yet is replaced. */
  node = c->link_ok_queued ? g_queue_find (&c->ctrl, c->link_ok_queued) :
      NULL;
  if (node) {
    c->ctrl_bytes -= g_bytes_get_size (node->data);
    c->ctrl_bytes += g_bytes_get_size (f);
    g_bytes_unref (node->data);
    node->data = f;
  } else {
    conn_queue (c, f);
  }
  c->link_ok_queued = f;
  conn_flush (c);
}

void
directory_handle_link (Conn * c)
{
  DiodeRelay *r = c->relay;
  guint i;

  /* Only the relays the operator lists may be children: a child's
   * announcements and pushes name streams and their owners. */
  if (!diode_relay_config_accepts_child (r->config, c->address)) {
    gchar *why = g_strdup_printf ("relay %s may not link to relay %s as "
        "a child: it is not in the relay config's [relays] children list",
        c->address, diode_relay_get_address (r));

    relay_log (r, RELAY_LOG_REFUSED, "refused link from relay %s (%s): %s",
        c->address, c->peer, why);
    conn_send_error (c, DIODE_ERR_NOT_AUTHORIZED, why);
    g_free (why);
    return;
  }
  /* A child that is one of our own upstreams would close a cycle. */
  if (diode_msg_path_contains ((const gchar * const *) r->upstream_path,
          c->address)) {
    gchar *chain = g_strjoinv (" -> ", r->upstream_path);
    gchar *why = g_strdup_printf ("linking %s under %s would close a cycle: "
        "%s is already upstream of it (%s)", c->address,
        diode_relay_get_address (r), c->address, chain);

    relay_log (r, RELAY_LOG_LINK, "refused link from relay %s (%s): %s",
        c->address, c->peer, why);
    conn_send_error (c, DIODE_ERR_LOOP, why);
    g_free (why);
    g_free (chain);
    return;
  }
  /* One control link per child identity (its share of --max-announced is
   * per link): a newer link replaces an older one that may not have
   * noticed its peer is gone yet. */
  for (i = 0; r->children && i < r->children->len; i++) {
    Conn *o = g_ptr_array_index (r->children, i);

    if (o != c && !o->dead && !g_ascii_strcasecmp (o->address, c->address)) {
      relay_log (r, RELAY_LOG_LINK, "child relay %s (%s) linked again from "
          "%s: closing the older link", c->address, o->peer, c->peer);
      conn_fail (o, DIODE_ERR_NAME_IN_USE, "replaced by a newer link of the "
          "same relay");
      directory_child_gone (o);
      break;
    }
  }
  c->child_link = TRUE;
  c->announced = g_hash_table_new_full (diode_name_hash, diode_name_equal,
      NULL, announced_free);
  g_ptr_array_add (r->children, c);
  relay_log (r, RELAY_LOG_LINK, "child relay %s (%s) linked", c->address,
      c->peer);
  send_link_ok (c);
}

void
directory_path_changed (DiodeRelay * r)
{
  gint64 now = g_get_monotonic_time ();
  guint i;

  /* An upstream changing its path in a loop: the children hear of it at
   * most every PATH_CHANGE_MIN_MS (directory_tick sends the last one). */
  if (r->path_sent_at && now < r->path_sent_at + PATH_CHANGE_MIN_MS * 1000) {
    r->path_pending = TRUE;
    return;
  }
  r->path_sent_at = now;
  r->path_pending = FALSE;

  for (i = 0; r->children && i < r->children->len; i++) {
    Conn *c = g_ptr_array_index (r->children, i);

    if (!c->dead && c->phase == CONN_OPEN)
      send_link_ok (c);
  }
}

void
directory_tick (DiodeRelay * r, gint64 now)
{
  if (r->path_pending && now >= r->path_sent_at + PATH_CHANGE_MIN_MS * 1000)
    directory_path_changed (r);
}

/* Does this relay still provide @name (locally or through another
 * child)? Then a child's WITHDRAWN is not passed up. */
static gboolean
still_provided (DiodeRelay * r, const gchar * name)
{
  Stream *s = stream_lookup (r, name);

  return (s && s->source == SOURCE_LOCAL && s->publisher)
      || directory_child_for (r, name, NULL);
}

/* --max-announced bounds a link's announcements; the total is that times
 * the children the operator listed (at least 4, the figure with
 * children=*), so listed children cannot fill it (one link per child
 * identity); each link's share is the total divided among the links up,
 * at most --max-announced, so a few links cannot fill it either. */
static guint
announce_total (DiodeRelay * r)
{
  guint64 n = MAX (4, diode_relay_config_n_children (r->config));

  return (guint) MIN ((guint64) G_MAXUINT, n * r->max_announced);
}

static guint
announce_share (DiodeRelay * r)
{
  guint links = MAX (1, r->children ? r->children->len : 1);

  return MAX (1, MIN (r->max_announced, announce_total (r) / links));
}

void
directory_handle_announce (Conn * c, DiodeMsg * m)
{
  DiodeRelay *r = c->relay;
  Announced *a, *old;

  if (!c->announced)
    return;
  if (m->op == DIODE_ANNOUNCE_WITHDRAWN) {
    Stream *s = stream_lookup (r, m->stream);

    /* the answer to a PULL it cannot serve: look elsewhere */
    if (s && s->push_child == c && s->push_pending) {
      s->push_pending = FALSE;
      s->push_child = NULL;
      r->links_kick = TRUE;
    }
    if (g_hash_table_contains (c->announced, m->stream)) {
      announced_remove (c, m->stream);
      g_info ("child relay %s withdrew '%s'", c->address, m->stream);
      if (!still_provided (r, m->stream))
        upstream_announce (r, DIODE_ANNOUNCE_WITHDRAWN, m->stream, NULL, 0,
            NULL, NULL, NULL);
    }
    return;
  }
  if (diode_msg_path_contains ((const gchar * const *) m->path,
          diode_relay_get_address (r))) {
    relay_log (r, RELAY_LOG_LINK, "dropped ANNOUNCE of '%s' from child "
        "relay %s: its path already holds this relay (a loop)", m->stream,
        c->address);
    return;
  }
  /* The claimed owner meets this relay's own rules, as a publisher
   * connected here would. */
  {
    gchar *why = NULL;

    if (!child_claim_allowed (r, c, m->stream, m->owner, &why)) {
      relay_log (r, RELAY_LOG_REFUSED, "ignored ANNOUNCE of '%s' from child "
          "relay %s: %s", m->stream, c->address, why);
      g_free (why);
      return;
    }
  }
  old = g_hash_table_lookup (c->announced, m->stream);
  if (old && announced_same (old, m))
    return;                     /* nothing new: not passed up either */
  if (!old && r->max_announced
      && (g_hash_table_size (c->announced) >= announce_share (r)
          || r->n_announced >= announce_total (r))) {
    relay_log (r, RELAY_LOG_LIMIT, "ignored ANNOUNCE of '%s' from child "
        "relay %s: %u streams announced by it, %u in all (limit %u for "
        "this link, %u in all: --max-announced per link, times the children "
        "listed, shared among the links)", m->stream, c->address,
        g_hash_table_size (c->announced), r->n_announced,
        announce_share (r), announce_total (r));
    return;
  }
  if (old && !announce_change_allowed (c)) {
    relay_log (r, RELAY_LOG_LIMIT, "ignored ANNOUNCE of '%s' from child "
        "relay %s: it changes its announcements more than %u times a "
        "second", m->stream, c->address, ANNOUNCE_CHANGES_PER_S);
    return;
  }
  /* A changed announcement lifts a failed PULL's shunning of it. */
  {
    Stream *s = stream_lookup (r, m->stream);

    if (s && s->push_shunned && !g_ascii_strcasecmp (s->push_shunned,
            c->address) && (!old || g_strcmp0 (old->owner, m->owner)
            || !path_equal ((const gchar * const *) old->path,
                (const gchar * const *) m->path)))
      g_clear_pointer (&s->push_shunned, g_free);
  }
  a = g_new0 (Announced, 1);
  a->name = g_strdup (m->stream);
  a->owner = g_strdup (m->owner);
  a->access = m->access;
  a->fleet = g_strdup (m->fleet ? m->fleet : "");
  a->path = g_strdupv (m->path);
  a->cost = announced_cost (a);
  if (r->max_announced) {
    guint64 total = announced_budget (r);
    guint64 share = total / ANNOUNCED_LINK_SHARES;
    guint64 freed = old ? old->cost : 0;

    if (c->announced_bytes - freed + a->cost > share
        || r->announced_bytes - freed + a->cost > total) {
      relay_log (r, RELAY_LOG_LIMIT, "ignored ANNOUNCE of '%s' from child "
          "relay %s: its announcements hold %" G_GUINT64_FORMAT " bytes, "
          "%" G_GUINT64_FORMAT " in all (limit %" G_GUINT64_FORMAT " per "
          "link, %" G_GUINT64_FORMAT " in all, from --max-announced)",
          m->stream, c->address, c->announced_bytes, r->announced_bytes,
          share, total);
      announced_free (a);
      return;
    }
  }
  announced_remove (c, a->name);
  r->n_announced++;
  c->announced_bytes += a->cost;
  r->announced_bytes += a->cost;
  g_hash_table_replace (c->announced, a->name, a);
  g_info ("child relay %s announces '%s'", c->address, a->name);
  upstream_announce (r, DIODE_ANNOUNCE_AVAILABLE, a->name, a->owner,
      a->access, a->fleet, NULL, (const gchar * const *) a->path);
  /* Subscribers already waiting for it here: ask for it now. */
  {
    Stream *s = stream_lookup (r, a->name);

    if (s && s->source == SOURCE_NONE && stream_has_consumers (s))
      pull_maybe_start (r, s);
  }
}

/* relay_reap: a connection that was a child's control link is gone. */
void
directory_child_gone (Conn * c)
{
  DiodeRelay *r = c->relay;
  GHashTableIter it;
  gpointer v;
  GPtrArray *names;
  guint i;

  if (!c->child_link)
    return;
  c->child_link = FALSE;
  g_ptr_array_remove (r->children, c);
  relay_log (r, RELAY_LOG_LINK, "child relay %s (%s) unlinked%s", c->address,
      c->peer, r->stopping ? "" : "; forgetting what it announced");
  /* Streams it was asked to push look elsewhere. */
  g_hash_table_iter_init (&it, r->streams);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    Stream *s = v;

    if (s->push_child == c) {
      s->push_child = NULL;
      s->push_pending = FALSE;
      r->links_kick = TRUE;
    }
  }
  names = g_ptr_array_new_with_free_func (g_free);
  g_hash_table_iter_init (&it, c->announced);
  while (g_hash_table_iter_next (&it, NULL, &v))
    g_ptr_array_add (names, g_strdup (((Announced *) v)->name));
  r->n_announced -= g_hash_table_size (c->announced);
  r->announced_bytes -= c->announced_bytes;
  c->announced_bytes = 0;
  g_clear_pointer (&c->announced, g_hash_table_unref);
  for (i = 0; !r->stopping && i < names->len; i++)
    if (!still_provided (r, names->pdata[i]))
      upstream_announce (r, DIODE_ANNOUNCE_WITHDRAWN, names->pdata[i], NULL,
          0, NULL, NULL, NULL);
  g_ptr_array_unref (names);
}

void
directory_local_changed (DiodeRelay * r, Stream * s, gboolean available)
{
  if (available) {
    gchar **allow = stream_allow_list (s);

    upstream_announce (r, DIODE_ANNOUNCE_AVAILABLE, s->name, s->owner,
        s->access, s->fleet, (const gchar * const *) allow, NULL);
    g_free (allow);
  } else if (!directory_child_for (r, s->name, NULL)) {
    upstream_announce (r, DIODE_ANNOUNCE_WITHDRAWN, s->name, NULL, 0, NULL,
        NULL, NULL);
  }
}

void
directory_announce_all (DiodeRelay * r)
{
  GHashTableIter it;
  gpointer v;
  guint i;

  g_hash_table_iter_init (&it, r->streams);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    Stream *s = v;

    if (s->source == SOURCE_LOCAL && s->publisher)
      directory_local_changed (r, s, TRUE);
  }
  for (i = 0; r->children && i < r->children->len; i++) {
    Conn *c = g_ptr_array_index (r->children, i);
    GHashTableIter ai;

    if (c->dead || !c->announced)
      continue;
    g_hash_table_iter_init (&ai, c->announced);
    while (g_hash_table_iter_next (&ai, NULL, &v)) {
      Announced *a = v;

      upstream_announce (r, DIODE_ANNOUNCE_AVAILABLE, a->name, a->owner,
          a->access, a->fleet, NULL, (const gchar * const *) a->path);
    }
  }
}

void
directory_shun_child (DiodeRelay * r, Stream * s, Conn * child,
    const gchar * why)
{
  if (!child || !child->address)
    return;
  relay_log (r, RELAY_LOG_LINK, "child relay %s %s for '%s': not asking it "
      "again for %u s (or until it announces the stream anew); looking "
      "elsewhere", child->address, why, s->name, PUSH_SHUN_MS / 1000);
  g_free (s->push_shunned);
  s->push_shunned = g_strdup (child->address);
  s->push_shunned_until = g_get_monotonic_time () +
      (gint64) PUSH_SHUN_MS * 1000;
}

/* SIGHUP: a child no longer in [relays] children is unlinked: its control
 * link closes (what it announced is forgotten and withdrawn upwards when
 * relay_reap frees it) and so do its pushes. */
void
directory_recheck_children (DiodeRelay * r)
{
  GHashTableIter it;
  gpointer k;
  GPtrArray *cut = g_ptr_array_new ();
  guint i;

  g_hash_table_iter_init (&it, r->conns);
  while (g_hash_table_iter_next (&it, &k, NULL)) {
    Conn *c = k;

    if (c->dead || c->outgoing || !c->address
        || diode_relay_config_accepts_child (r->config, c->address))
      continue;
    if (c->child_link || (c->publishing && c->stream
            && c->stream->source == SOURCE_PUSHED))
      g_ptr_array_add (cut, c);
  }
  for (i = 0; i < cut->len; i++) {
    Conn *c = cut->pdata[i];

    relay_log (r, RELAY_LOG_LINK, "child relay %s (%s) is no longer in "
        "[relays] children: closing its %s", c->address, c->peer,
        c->child_link ? "control link" : "push");
    if (c->child_link)
      directory_child_gone (c);
    conn_fail (c, DIODE_ERR_NOT_AUTHORIZED, "this relay no longer accepts "
        "you as a child relay ([relays] children)");
  }
  g_ptr_array_unref (cut);
}
