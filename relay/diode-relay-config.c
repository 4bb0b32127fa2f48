/* gst-diode — the relay operator's configuration file
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Parses the GKeyFile described in diode-relay-config.h into an immutable
 * snapshot. Reserved names are keyed by their normalized form
 * (diode-name.h), like the relay's stream table, so reserving "cam" also
 * reserves "Cam" and "ｃａｍ".
 */
#include "diode-relay-config.h"
#include "diode-msg.h"
#include "diode-name.h"
#include "diode-link-token.h"

#include <gio/gio.h>
#include <string.h>

struct _DiodeRelayConfig {
  gint        ref_count;
  GHashTable *fleets;      /* fleet name -> set of lowercase addresses */
  GHashTable *reserved;    /* stream name -> lowercase address; keys compare
                              normalized (diode_name_hash/equal) */
  GHashTable *publishers;  /* set of lowercase addresses, or NULL: anyone */
  GHashTable *trusted;     /* [relays] trusted: downstream relays that may
                              pull protected and private streams */
  GHashTable *children;    /* [relays] children: relays that may LINK here
                              (become child relays) */
  gboolean    children_any;        /* children=*: any relay may */
  GHashTable *revoked_links;       /* [links] revoked: link ids (16
                                      lowercase hex digits) */
};

static GHashTable *
new_set (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

DiodeRelayConfig *
diode_relay_config_new_empty (void)
{
  DiodeRelayConfig *cfg = g_new0 (DiodeRelayConfig, 1);

  cfg->ref_count = 1;
  cfg->fleets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_hash_table_unref);
  cfg->reserved = g_hash_table_new_full (diode_name_hash, diode_name_equal,
      g_free, g_free);
  cfg->trusted = new_set ();
  cfg->children = new_set ();
  cfg->revoked_links = new_set ();
  return cfg;
}

DiodeRelayConfig *
diode_relay_config_ref (DiodeRelayConfig * cfg)
{
  g_atomic_int_inc (&cfg->ref_count);
  return cfg;
}

void
diode_relay_config_unref (DiodeRelayConfig * cfg)
{
  if (!cfg || !g_atomic_int_dec_and_test (&cfg->ref_count))
    return;
  g_hash_table_unref (cfg->fleets);
  g_hash_table_unref (cfg->reserved);
  if (cfg->publishers)
    g_hash_table_unref (cfg->publishers);
  g_hash_table_unref (cfg->trusted);
  g_hash_table_unref (cfg->children);
  g_hash_table_unref (cfg->revoked_links);
  g_free (cfg);
}

/* A ';'-separated list of addresses into a set. */
static GHashTable *
read_addresses (GKeyFile * kf, const gchar * path, const gchar * group,
    const gchar * key, GError ** error)
{
  gsize n = 0, i;
  gchar **list = g_key_file_get_string_list (kf, group, key, &n, error);
  GHashTable *set;

  if (!list) {
    g_prefix_error (error, "%s: [%s] %s: ", path, group, key);
    return NULL;
  }
  set = new_set ();
  for (i = 0; i < n; i++) {
    gchar *a = g_strstrip (list[i]);

    if (!*a)
      continue;
    if (!diode_msg_address_is_valid (a)) {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
          "%s: [%s] %s: '%s' is not an address (0x followed by 40 hex "
          "digits; `diode id` prints one)", path, group, key, a);
      g_hash_table_unref (set);
      g_strfreev (list);
      return NULL;
    }
    g_hash_table_add (set, g_ascii_strdown (a, -1));
  }
  g_strfreev (list);
  return set;
}

/* [relays]: trusted= and children= (each optional; children=* admits any
 * relay as a child). */
static gboolean
read_relays (GKeyFile * kf, const gchar * path, DiodeRelayConfig * cfg,
    GError ** error)
{
  gchar **keys = g_key_file_get_keys (kf, "relays", NULL, NULL);
  gboolean ok = TRUE;
  gsize k;

  for (k = 0; ok && keys && keys[k]; k++) {
    GHashTable *set;

    if (strcmp (keys[k], "trusted") && strcmp (keys[k], "children")) {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
          "%s: [relays]: unknown key '%s' (expected trusted or children)",
          path, keys[k]);
      ok = FALSE;
      break;
    }
    if (!strcmp (keys[k], "children")) {
      gchar *v = g_key_file_get_string (kf, "relays", "children", NULL);

      if (v && !strcmp (g_strstrip (v), "*")) {
        cfg->children_any = TRUE;
        g_free (v);
        continue;
      }
      g_free (v);
    }
    set = read_addresses (kf, path, "relays", keys[k], error);
    if (!set) {
      ok = FALSE;
      break;
    }
    if (!strcmp (keys[k], "trusted")) {
      g_hash_table_unref (cfg->trusted);
      cfg->trusted = set;
    } else {
      g_hash_table_unref (cfg->children);
      cfg->children = set;
    }
  }
  g_strfreev (keys);
  return ok;
}

/* [links] revoked=: share links the operator revoked, each given by its
 * link id (what `diode link` prints), its token or its whole URL. */
static gboolean
read_links (GKeyFile * kf, const gchar * path, DiodeRelayConfig * cfg,
    GError ** error)
{
  gchar **keys = g_key_file_get_keys (kf, "links", NULL, NULL);
  gchar **list = NULL;
  gsize n = 0, i;
  gboolean ok = TRUE;

  for (i = 0; keys && keys[i]; i++) {
    if (strcmp (keys[i], "revoked")) {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
          "%s: [links]: unknown key '%s' (expected revoked)", path, keys[i]);
      g_strfreev (keys);
      return FALSE;
    }
  }
  g_strfreev (keys);
  list = g_key_file_get_string_list (kf, "links", "revoked", &n, NULL);
  for (i = 0; ok && list && i < n; i++) {
    gchar *v = g_strstrip (list[i]);
    const gchar *t = strstr (v, "t=");
    guint8 id[DIODE_LINK_ID_SIZE], p[DIODE_LINK_MAX_PAYLOAD],
        sig[DIODE_LINK_SIG_SIZE];
    gchar hex[2 * DIODE_LINK_ID_SIZE + 1];
    DiodeLinkToken tok;
    gsize len = 0;

    if (!*v)
      continue;
    if (t) {
      gchar *amp;

      v = (gchar *) t + 2;
      amp = strchr (v, '&');
      if (amp)
        *amp = '\0';
    }
    if (diode_link_id_from_hex (v, id)) {
      /* an id as is */
    } else if (diode_link_text_decode (v, p, &len, sig, NULL)
        && diode_link_token_parse (p, len, &tok, NULL)) {
      /* the operator's word: no signature needed to refuse a link */
      memcpy (id, tok.id, sizeof id);
    } else {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
          "%s: [links] revoked: '%.40s' is neither a link id (16 hex "
          "digits), a share link's token nor its URL", path, list[i]);
      ok = FALSE;
      break;
    }
    diode_link_id_to_hex (id, hex);
    g_hash_table_add (cfg->revoked_links, g_strdup (hex));
  }
  g_strfreev (list);
  return ok;
}

DiodeRelayConfig *
diode_relay_config_load (const gchar * path, GError ** error)
{
  GKeyFile *kf = g_key_file_new ();
  DiodeRelayConfig *cfg = NULL;
  gchar **groups = NULL;
  gsize i;

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, error)) {
    g_prefix_error (error, "cannot read relay configuration %s: ", path);
    goto out;
  }
  cfg = diode_relay_config_new_empty ();
  groups = g_key_file_get_groups (kf, NULL);
  for (i = 0; groups[i]; i++) {
    const gchar *g = groups[i];

    if (!strcmp (g, "publishers")) {
      cfg->publishers = read_addresses (kf, path, g, "allow", error);
      if (!cfg->publishers)
        goto fail;
    } else if (!strcmp (g, "relays")) {
      if (!read_relays (kf, path, cfg, error))
        goto fail;
    } else if (!strcmp (g, "links")) {
      if (!read_links (kf, path, cfg, error))
        goto fail;
    } else if (g_str_has_prefix (g, "fleet ")) {
      const gchar *name = g + strlen ("fleet ");
      GHashTable *members;

      if (!diode_msg_check_stream_name (name, NULL)) {
        g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
            "%s: [%s]: '%s' is not a valid fleet name", path, g, name);
        goto fail;
      }
      members = read_addresses (kf, path, g, "members", error);
      if (!members)
        goto fail;
      g_hash_table_insert (cfg->fleets, g_strdup (name), members);
    } else if (!strcmp (g, "names")) {
      gchar **keys = g_key_file_get_keys (kf, g, NULL, NULL);
      gsize k;

      for (k = 0; keys && keys[k]; k++) {
        gchar *a = g_key_file_get_string (kf, g, keys[k], NULL);

        if (!a || !diode_msg_address_is_valid (g_strstrip (a))) {
          g_set_error (error, G_KEY_FILE_ERROR,
              G_KEY_FILE_ERROR_INVALID_VALUE, "%s: [names] %s: '%s' is not "
              "an address", path, keys[k], a ? a : "");
          g_free (a);
          g_strfreev (keys);
          goto fail;
        }
        {
          GError *bad = NULL;
          gchar *norm = diode_name_key (keys[k], &bad);
          GHashTableIter it;
          gpointer other;

          if (norm == NULL) {
            gchar *shown = diode_name_escape (keys[k]);

            g_set_error (error, G_KEY_FILE_ERROR,
                G_KEY_FILE_ERROR_INVALID_VALUE, "%s: [names] %s: %s", path,
                shown, bad->message);
            g_free (shown);
            g_error_free (bad);
            g_free (a);
            g_strfreev (keys);
            goto fail;
          }
          g_free (norm);
          /* two spellings of one name would be one reservation: refuse
           * rather than let the file's order pick the owner */
          g_hash_table_iter_init (&it, cfg->reserved);
          while (g_hash_table_iter_next (&it, &other, NULL)) {
            if (diode_name_equal (other, keys[k])) {
              g_set_error (error, G_KEY_FILE_ERROR,
                  G_KEY_FILE_ERROR_INVALID_VALUE, "%s: [names] %s: the same "
                  "name as '%s' (names compare without case and width)",
                  path, keys[k], (const gchar *) other);
              g_free (a);
              g_strfreev (keys);
              goto fail;
            }
          }
        }
        g_hash_table_insert (cfg->reserved, g_strdup (keys[k]),
            g_ascii_strdown (a, -1));
        g_free (a);
      }
      g_strfreev (keys);
    } else {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
          "%s: unknown section [%s] (expected [publishers], [fleet NAME], "
          "[names], [relays] or [links])", path, g);
      goto fail;
    }
  }
  goto out;

fail:
  g_clear_pointer (&cfg, diode_relay_config_unref);
out:
  g_strfreev (groups);
  g_key_file_unref (kf);
  return cfg;
}

static gboolean
set_has (GHashTable * set, const gchar * address)
{
  gchar *lower = g_ascii_strdown (address, -1);
  gboolean found = g_hash_table_contains (set, lower);

  g_free (lower);
  return found;
}

gboolean
diode_relay_config_has_fleet (DiodeRelayConfig * cfg, const gchar * fleet)
{
  return fleet && g_hash_table_contains (cfg->fleets, fleet);
}

gboolean
diode_relay_config_in_fleet (DiodeRelayConfig * cfg, const gchar * fleet,
    const gchar * address)
{
  GHashTable *members = fleet ? g_hash_table_lookup (cfg->fleets, fleet) :
      NULL;

  return members && address && set_has (members, address);
}

const gchar *
diode_relay_config_reserved_for (DiodeRelayConfig * cfg, const gchar * name)
{
  return g_hash_table_lookup (cfg->reserved, name);
}

gboolean
diode_relay_config_may_publish (DiodeRelayConfig * cfg, const gchar * address)
{
  return !cfg->publishers || (address && set_has (cfg->publishers, address));
}

guint
diode_relay_config_n_fleets (DiodeRelayConfig * cfg)
{
  return g_hash_table_size (cfg->fleets);
}

gboolean
diode_relay_config_trusts_relay (DiodeRelayConfig * cfg,
    const gchar * address)
{
  return address && set_has (cfg->trusted, address);
}

guint
diode_relay_config_n_trusted (DiodeRelayConfig * cfg)
{
  return g_hash_table_size (cfg->trusted);
}

gboolean
diode_relay_config_accepts_child (DiodeRelayConfig * cfg,
    const gchar * address)
{
  return address && (cfg->children_any || set_has (cfg->children, address));
}

gboolean
diode_relay_config_children_any (DiodeRelayConfig * cfg)
{
  return cfg->children_any;
}

guint
diode_relay_config_n_children (DiodeRelayConfig * cfg)
{
  return g_hash_table_size (cfg->children);
}

gboolean
diode_relay_config_link_revoked (DiodeRelayConfig * cfg, const gchar * id_hex)
{
  return id_hex && g_hash_table_contains (cfg->revoked_links, id_hex);
}
