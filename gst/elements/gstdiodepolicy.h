/* gst-diode — diodesink's access policy: the allowlist and its validation
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Turns the access/allow/fleet settings into a policy the relay can apply,
 * or a GError that says which setting is wrong and why. Kept apart from the
 * sink's queue and writer because it is input handling: an allow file is
 * read here, bounded, and its contents never reach an error message.
 */
#pragma once

#include <gst/gst.h>
#include "diode-msg.h"

G_BEGIN_DECLS

/* The largest allow file read: 2048 addresses of 42 characters, one per
 * line, leave room for comments. */
#define GST_DIODE_ALLOW_FILE_MAX (128 * 1024)

typedef struct
{
  DiodeAccess access;
  gchar *fleet;                 /* NULL or a valid fleet name */
  gchar **allow;                /* lowercase addresses, never NULL */
} GstDiodePolicy;

/* @allow: addresses separated by commas/spaces/semicolons, or the path of a
 * regular file of them ('#' comments, GST_DIODE_ALLOW_FILE_MAX bytes at
 * most). NULL or "" gives an empty list. Errors (GST_RESOURCE_ERROR_SETTINGS)
 * name the file and line, never what the file holds. */
gchar  **gst_diode_parse_allow (const gchar * allow, GError ** error);

/* Validates the settings as a whole: NULL with a GST_RESOURCE_ERROR_SETTINGS
 * error naming the property at fault. */
GstDiodePolicy *gst_diode_policy_new (DiodeAccess access, const gchar * allow,
                                      const gchar * fleet, GError ** error);
/* The strictest policy: private with an empty allowlist (the relay then
 * lets only the publisher's own identity watch). */
GstDiodePolicy *gst_diode_policy_new_closed (void);
void     gst_diode_policy_free (GstDiodePolicy * p);
/* PUBLISH for @stream, or POLICY when @stream is NULL. @pubflags
 * (DiodePublishFlags) go into a PUBLISH when the connection negotiated
 * @version >= DIODE_PROTOCOL_VERSION_STORE; older relays get none. */
GBytes  *gst_diode_policy_encode (const GstDiodePolicy * p,
                                  const gchar * stream, guint32 pubflags,
                                  guint16 version, GError ** error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstDiodePolicy, gst_diode_policy_free)

G_END_DECLS
