/* gst-diode — who may watch a stream and who may publish a name
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Pure checks over a stream's policy, the operator's configuration, name
 * ownership and viewers' publisher pins (docs/security.md). Names compare
 * normalized (diode-name.h): the stream table and the reserved names are
 * keyed that way. Acting on the answer (refusing, cutting off) is
 * diode-relay-protocol.c's job.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"
#include "diode-web.h"

#include <string.h>

/* Is @address allowed to watch @s? Fills *why (for the log and the viewer)
 * when not. The publisher may always watch its own stream. */
gboolean
stream_allows (DiodeRelay * r, Stream * s, const gchar * address, gchar ** why)
{
  if (s->owner && !g_ascii_strcasecmp (address, s->owner))
    return TRUE;
  switch (s->access) {
    case DIODE_ACCESS_PUBLIC:
      return TRUE;
    case DIODE_ACCESS_PROTECTED:
      if (!s->fleet || !*s->fleet) {
        *why = g_strdup_printf ("stream '%s' is protected but its publisher "
            "named no fleet, so %s cannot be a member", s->name, address);
      } else if (!diode_relay_config_has_fleet (r->config, s->fleet)) {
        *why = g_strdup_printf ("stream '%s' is protected for fleet '%s', "
            "which is not configured on this relay, so %s is not a member",
            s->name, s->fleet, address);
      } else if (diode_relay_config_in_fleet (r->config, s->fleet, address)) {
        return TRUE;
      } else {
        *why = g_strdup_printf ("stream '%s' is protected: %s is not in fleet "
            "'%s' (ask the relay operator to add it)", s->name, address,
            s->fleet);
      }
      return FALSE;
    case DIODE_ACCESS_PRIVATE:{
      gchar *lower = g_ascii_strdown (address, -1);
      gboolean ok = s->allow && g_hash_table_contains (s->allow, lower);

      g_free (lower);
      if (!ok)
        *why = g_strdup_printf ("stream '%s' is private: %s is not on its "
            "allowlist (give the publisher the address `diode id` prints)",
            s->name, address);
      return ok;
    }
    default:
      *why = g_strdup_printf ("stream '%s' has an unknown access mode",
          s->name);
      return FALSE;
  }
}

void
stream_set_policy (Stream * s, const DiodeMsg * m)
{
  guint i;

  s->access = m->access;
  g_free (s->fleet);
  s->fleet = g_strdup (m->fleet ? m->fleet : "");
  if (s->allow)
    g_hash_table_unref (s->allow);
  s->allow = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (i = 0; m->allow && m->allow[i]; i++)
    g_hash_table_add (s->allow, g_ascii_strdown (m->allow[i], -1));
  s->has_policy = TRUE;
}

/* Who may publish @name: the operator's reservations and publisher list,
 * then ownership: the identity that published it last keeps it while it
 * publishes and for --name-grace after. */
gboolean
may_publish (Conn * c, Stream * s, const gchar * name, gchar ** why)
{
  DiodeRelay *r = c->relay;
  const gchar *reserved = diode_relay_config_reserved_for (r->config, name);
  gint64 now = g_get_monotonic_time ();

  if (reserved && g_ascii_strcasecmp (reserved, c->address)) {
    gchar *shown = diode_name_escape (name);

    *why = g_strdup_printf ("name '%s' is reserved for %s on this relay",
        shown, reserved);
    g_free (shown);
    return FALSE;
  }
  if (!diode_relay_config_may_publish (r->config, c->address)) {
    *why = g_strdup_printf ("%s may not publish on this relay (not on the "
        "operator's list of publishers)", c->address);
    return FALSE;
  }
  if (!s || !s->owner || !g_ascii_strcasecmp (s->owner, c->address))
    return TRUE;
  if ((s->source == SOURCE_PULLED && s->pull)
      || (s->source == SOURCE_PUSHED && (s->publisher || s->push_pending))) {
    gchar *shown = diode_name_escape (name);

    *why = g_strdup_printf ("name '%s' is owned by %s, which publishes it "
        "elsewhere in this relay network", shown, s->owner);
    g_free (shown);
    return FALSE;
  }
  if (s->publisher || s->owner_until > now) {
    gchar *shown = diode_name_escape (name), *as = diode_name_escape (s->name);
    /* Say so when the owner's spelling differs: names compare normalized */
    gchar *same = strcmp (name, s->name) ? g_strdup_printf (" (the same "
        "name as '%s')", as) : g_strdup ("");

    if (s->publisher)
      *why = g_strdup_printf ("name '%s'%s is owned by %s, which is "
          "publishing it", shown, same, s->owner);
    else
      *why = g_strdup_printf ("name '%s'%s is owned by %s; it stopped "
          "publishing and the name stays reserved for another %"
          G_GINT64_FORMAT " s", shown, same, s->owner, (s->owner_until - now) /
          G_TIME_SPAN_SECOND + 1);
    g_free (shown);
    g_free (as);
    g_free (same);
    return FALSE;
  }
  return TRUE;
}

/* What a child relay claims (ANNOUNCE, or its push's PUBLISH): that
 * @owner publishes @name. A child is listed ([relays] children) but its
 * claim still meets this relay's own rules, as a publisher connected here
 * would: [names] (a reserved name only for its identity), [publishers]
 * (the owner must be allowed; an unknown owner is not, when a list
 * exists), and ownership (a name this relay holds for another owner:
 * published here or in its grace, pulled from the upstream, or announced
 * by another child with a different owner). @from: the claiming child's
 * control link (other children's announcements are compared). */
gboolean
child_claim_allowed (DiodeRelay * r, Conn * from, const gchar * name,
    const gchar * owner, gchar ** why)
{
  const gchar *reserved = diode_relay_config_reserved_for (r->config, name);
  const gchar *shown_owner = owner ? owner : "unknown";
  Stream *s = stream_lookup (r, name);
  gint64 now = g_get_monotonic_time ();
  gchar *shown = diode_name_escape (name);
  guint i;

  if (reserved && (!owner || g_ascii_strcasecmp (reserved, owner))) {
    *why = g_strdup_printf ("name '%s' is reserved for %s on this relay "
        "([names]), not for the claimed owner %s", shown, reserved,
        shown_owner);
    goto refused;
  }
  if (!diode_relay_config_may_publish (r->config, owner)) {
    *why = g_strdup_printf ("the claimed owner %s of '%s' may not publish "
        "on this relay (not on the operator's list of publishers, "
        "[publishers] allow)", shown_owner, shown);
    goto refused;
  }
  if (s && s->owner && (!owner || g_ascii_strcasecmp (s->owner, owner))
      && ((s->source == SOURCE_LOCAL && s->publisher)
          || s->owner_until > now
          || (s->source == SOURCE_PULLED && s->pull))) {
    *why = g_strdup_printf ("name '%s' is held here for %s (%s), not for "
        "the claimed owner %s", shown, s->owner, s->publisher ?
        "published on this relay" : s->pull ? "pulled from the upstream" :
        "its name grace", shown_owner);
    goto refused;
  }
  /* a recording stored here keeps its owner (docs/security.md 11) */
  if (!relay_record_owner_allows (r, name, owner, why))
    goto refused;
  for (i = 0; r->children && i < r->children->len; i++) {
    Conn *o = g_ptr_array_index (r->children, i);
    Announced *a;

    if (o == from || o->dead || !o->announced)
      continue;
    a = g_hash_table_lookup (o->announced, name);
    if (a && (!a->owner || !owner || g_ascii_strcasecmp (a->owner, owner))) {
      *why = g_strdup_printf ("name '%s' is announced here by child relay %s "
          "for owner %s, not for the claimed owner %s", shown, o->address,
          a->owner ? a->owner : "unknown", shown_owner);
      goto refused;
    }
  }
  g_free (shown);
  return TRUE;

refused:
  g_free (shown);
  return FALSE;
}

/* A viewer that pinned its publisher (SUBSCRIBE's publisher field) is only
 * served @s while @publisher (the identity publishing it, or about to) is
 * that one: once a name's grace ends another identity may publish it, and
 * the viewer must learn it rather than be served someone else's stream. */
gboolean
viewer_pin_allows (Conn * c, Stream * s, const gchar * publisher,
    gchar ** why)
{
  gchar *shown;

  if (!c->pin[0] || (publisher && !g_ascii_strcasecmp (c->pin, publisher)))
    return TRUE;
  shown = diode_name_escape (s->name);
  /* Fails closed: a stream whose owner is unknown (a push or pull that
   * named none) is not the pinned publisher's as far as we know. */
  if (!publisher)
    *why = g_strdup_printf ("stream '%s' has no known publisher here, so it "
        "cannot be shown to be %s, the publisher %s asked for", shown,
        c->pin, c->address);
  else
    *why = g_strdup_printf ("stream '%s' is published by %s, not by %s, the "
        "publisher %s asked for", shown, publisher, c->pin, c->address);
  g_free (shown);
  return FALSE;
}


/* stream_allows() for a connection. A downstream relay (role RELAY) is
 * not only a viewer: besides what its own identity may watch, it gets
 * protected and private streams when the operator trusts it ([relays]
 * trusted), because it serves them on to its own viewers (enforcing the
 * policy, which travels with the stream). Public streams go to any
 * relay. */
gboolean
conn_allowed (Conn * c, Stream * s, gchar ** why)
{
  DiodeRelay *r = c->relay;
  gchar *own = NULL;

  /* A stored recording whose meta (its owner, its policy) is unreadable:
   * nobody, not even a trusted relay, until the operator repairs it. */
  if (s->access == RELAY_ACCESS_UNREADABLE) {
    *why = relay_record_unreadable_why (r, s->name);
    if (!*why)
      *why = g_strdup ("the stored recording's metadata is unreadable");
    return FALSE;
  }
  /* A push to our own upstream: the operator chose that relay. */
  if (c->outgoing)
    return TRUE;
  /* A browser has no identity: public streams, or a share link. */
  if (c->web)
    return relay_ws_allowed (c, s, why);
  if (stream_allows (r, s, c->address, &own))
    return TRUE;
  if (diode_session_get_role (c->session) != DIODE_ROLE_RELAY) {
    *why = own;
    return FALSE;
  }
  if (diode_relay_config_trusts_relay (r->config, c->address)) {
    g_free (own);
    return TRUE;
  }
  *why = g_strdup_printf ("%s; relay %s is not trusted with %s streams "
      "here (the relay config's [relays] trusted list)", own, c->address,
      diode_access_name (s->access));
  g_free (own);
  return FALSE;
}

/* A downstream relay the operator trusts ([relays] trusted): its pulls
 * (one per stream it carries) do not count against its address's share
 * of streams, or a child carrying more than --max-streams-per-address
 * streams could not get them all. --max-streams still bounds the table. */
gboolean
conn_trusted_relay (Conn * c)
{
  return !c->outgoing && diode_session_get_role (c->session) ==
      DIODE_ROLE_RELAY && c->address
      && diode_relay_config_trusts_relay (c->relay->config, c->address);
}

/* The allowlist as a NULL-terminated array (borrowed strings, freed with
 * g_free only), for encoders. */
gchar **
stream_allow_list (Stream * s)
{
  GPtrArray *out = g_ptr_array_new ();
  GHashTableIter it;
  gpointer k;

  if (s->allow) {
    g_hash_table_iter_init (&it, s->allow);
    while (g_hash_table_iter_next (&it, &k, NULL))
      g_ptr_array_add (out, k);
  }
  g_ptr_array_add (out, NULL);
  return (gchar **) g_ptr_array_free (out, FALSE);
}
