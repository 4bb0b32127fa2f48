/* gst-diode — stream names as relays compare them
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The wire only asks a name to be 1..255 bytes of UTF-8 without '/' or
 * control characters (diode_msg_check_stream_name()). Ownership and
 * reservation need more: "Cam", "cam" and "ｃａｍ" (fullwidth) must be one
 * name, and "cam" followed by an invisible U+200B must not be a second name
 * that looks the same. This file is the one place that decides
 * (docs/security.md, "Stream names"):
 *
 *   - names holding invisible or unstable characters (format characters
 *     such as U+200B..U+200F, U+202A..U+202E, U+2060..U+2064, U+FEFF;
 *     other default-ignorable characters; line/paragraph separators;
 *     unassigned and private-use code points) are refused;
 *   - names mixing Latin, Greek and Cyrillic letters are refused (the
 *     commonest look-alikes: Cyrillic "а" in a Latin "cam");
 *   - names beginning or ending with white space are refused;
 *   - what remains compares by its *key*: NFKC, case folded, NFKC again.
 *
 * A relay keys its stream table and its reserved names by this key, so two
 * spellings with one key are one stream with one owner. Sans-IO, GLib only.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The comparison key of @name (newly allocated), or NULL with @error set
 * (DIODE_PROTOCOL_ERROR, DIODE_ERR_BAD_NAME) when the name is refused. The
 * message names the offending character as U+XXXX and never contains it. */
gchar    *diode_name_key    (const gchar *name, GError **error);
/* TRUE if @a and @b are valid names with the same key. */
gboolean  diode_name_same   (const gchar *a, const gchar *b);
/* GHashTable functions over names: equal keys hash and compare equal. A
 * string that is not a valid name compares as itself (byte for byte). */
guint     diode_name_hash   (gconstpointer name);
gboolean  diode_name_equal  (gconstpointer a, gconstpointer b);
/* @name made safe to print in logs and error texts: every character that
 * diode_name_key() would refuse, or that is not printable, becomes
 * "<U+XXXX>". Newly allocated. */
gchar    *diode_name_escape (const gchar *name);

G_END_DECLS
