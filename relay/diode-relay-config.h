/* gst-diode — the relay operator's configuration file
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A GKeyFile, reloaded on SIGHUP (docs/security.md):
 *
 *   [publishers]
 *   # when present, only these identities may publish on this relay
 *   allow=0x...;0x...
 *
 *   [fleet office]
 *   # members of fleet "office": who may watch its "protected" streams
 *   members=0x...;0x...
 *
 *   [names]
 *   # stream names reserved for one identity
 *   pi-taipei=0x...
 *
 *   [relays]
 *   # downstream relays that may pull protected and private streams
 *   # (public streams go to any relay)
 *   trusted=0x...;0x...
 *
 *   [links]
 *   # share links the operator revoked: link ids (`diode link` prints
 *   # them), tokens or whole link URLs
 *   revoked=0123456789abcdef;...
 *
 * Parsed into an immutable, refcounted snapshot: the relay thread swaps
 * snapshots, never edits one.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _DiodeRelayConfig DiodeRelayConfig;

DiodeRelayConfig *diode_relay_config_new_empty (void);
/* Every address is checked; errors name the file, group and key. */
DiodeRelayConfig *diode_relay_config_load (const gchar *path, GError **error);
DiodeRelayConfig *diode_relay_config_ref   (DiodeRelayConfig *cfg);
void              diode_relay_config_unref (DiodeRelayConfig *cfg);

/* TRUE if @fleet is configured (has a group). */
gboolean     diode_relay_config_has_fleet   (DiodeRelayConfig *cfg, const gchar *fleet);
gboolean     diode_relay_config_in_fleet    (DiodeRelayConfig *cfg, const gchar *fleet,
                                             const gchar *address);
/* The identity a name is reserved for, or NULL. */
const gchar *diode_relay_config_reserved_for (DiodeRelayConfig *cfg, const gchar *name);
/* TRUE if no publisher list is configured or @address is on it. */
gboolean     diode_relay_config_may_publish  (DiodeRelayConfig *cfg, const gchar *address);
guint        diode_relay_config_n_fleets     (DiodeRelayConfig *cfg);
/* [relays] trusted: may the downstream relay @address pull protected and
 * private streams from this relay? */
gboolean     diode_relay_config_trusts_relay (DiodeRelayConfig *cfg,
                                              const gchar *address);
guint        diode_relay_config_n_trusted    (DiodeRelayConfig *cfg);
/* [relays] children: may the relay @address link here as a child? */
gboolean     diode_relay_config_accepts_child (DiodeRelayConfig *cfg,
                                               const gchar *address);
/* children=* (any relay may link) */
gboolean     diode_relay_config_children_any (DiodeRelayConfig *cfg);
/* children listed by address (0 with children=*) */
guint        diode_relay_config_n_children   (DiodeRelayConfig *cfg);

/* [links] revoked: has the operator revoked the share link @id_hex (16
 * lowercase hex digits)? */
gboolean     diode_relay_config_link_revoked (DiodeRelayConfig *cfg,
                                              const gchar *id_hex);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiodeRelayConfig, diode_relay_config_unref)

G_END_DECLS
