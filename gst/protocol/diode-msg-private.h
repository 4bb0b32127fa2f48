/* gst-diode — wire messages: writer and reader shared by the codec files
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * diode-msg.c holds the version-1 codec, diode-msg-link.c what version 2
 * adds for relay links, diode-msg-store.c what version 3 adds for
 * recordings, diode-msg-direct.c what version 4 adds for direct paths;
 * all build frames with a Writer and take payloads apart
 * with a Reader, defined once in diode-msg-field.c. Not installed, not
 * for callers outside gst/protocol.
 */
#pragma once

#include "diode-msg.h"

G_BEGIN_DECLS

typedef struct
{
  GByteArray *a;
} Writer;

typedef struct
{
  DiodeMsgType type;
  const guint8 *p;              /* payload */
  gsize len;                    /* payload length */
  gsize pos;                    /* read offset into payload */
} Reader;

G_GNUC_INTERNAL void     msg_writer_init   (Writer *w, DiodeMsgType type, gsize reserve);
G_GNUC_INTERNAL GBytes  *msg_writer_finish (Writer *w);
G_GNUC_INTERNAL void     msg_put_u8        (Writer *w, guint8 v);
G_GNUC_INTERNAL void     msg_put_u16       (Writer *w, guint16 v);
G_GNUC_INTERNAL void     msg_put_u32       (Writer *w, guint32 v);
G_GNUC_INTERNAL void     msg_put_u64       (Writer *w, guint64 v);
G_GNUC_INTERNAL void     msg_put_str16     (Writer *w, const gchar *s);
/* access u8, fleet str16, count u16, addresses; FALSE (nothing written)
 * when a field is invalid */
G_GNUC_INTERNAL gboolean msg_put_policy    (Writer *w, DiodeAccess access,
                                            const gchar *fleet,
                                            const gchar *const *allow);
/* the 20 raw bytes of @address, which must be valid */
G_GNUC_INTERNAL void     msg_put_address   (Writer *w, const gchar *address);
/* u8 20 + the address's bytes; @address must be valid */
G_GNUC_INTERNAL void     msg_put_publisher (Writer *w, const gchar *address);

G_GNUC_INTERNAL gboolean msg_need          (Reader *r, gsize n, const gchar *field,
                                            GError **error);
/* A field read but refused: "TYPE: <format>" as DIODE_ERR_PROTOCOL; FALSE. */
G_GNUC_INTERNAL gboolean msg_bad           (Reader *r, GError **error,
                                            const gchar *format, ...)
                                            G_GNUC_PRINTF (3, 4);
G_GNUC_INTERNAL gboolean msg_get_u8        (Reader *r, guint8 *v, const gchar *field,
                                            GError **error);
G_GNUC_INTERNAL gboolean msg_get_u16       (Reader *r, guint16 *v, const gchar *field,
                                            GError **error);
G_GNUC_INTERNAL gboolean msg_get_u32       (Reader *r, guint32 *v, const gchar *field,
                                            GError **error);
G_GNUC_INTERNAL gboolean msg_get_u64       (Reader *r, guint64 *v, const gchar *field,
                                            GError **error);
G_GNUC_INTERNAL gboolean msg_get_text      (Reader *r, gchar **out, const gchar *field,
                                            GError **error);
/* @len bytes of valid UTF-8 without NULs; @len already checked against
 * its limit */
G_GNUC_INTERNAL gboolean msg_get_text_bytes (Reader *r, gsize len, gchar **out,
                                             const gchar *field, GError **error);
G_GNUC_INTERNAL gboolean msg_get_stream    (Reader *r, gchar **out, GError **error);
G_GNUC_INTERNAL gboolean msg_get_policy    (Reader *r, DiodeMsg *msg, GError **error);
/* a new "0x" + 40 hex digits string for the 20 bytes at @b */
G_GNUC_INTERNAL gchar   *msg_address_from_bytes (const guint8 *b);
/* optional u8 0/20 + bytes: absent or 0 leaves *out NULL */
G_GNUC_INTERNAL gboolean msg_get_publisher (Reader *r, gchar **out, GError **error);

/* diode-msg-link.c: the relay-link dialect */
G_GNUC_INTERNAL gsize    msg_link_max_payload (guint type);
/* the new types' payloads */
G_GNUC_INTERNAL gboolean msg_link_parse_payload (Reader *r, DiodeMsg *msg,
                                                 GError **error);
/* after diode-msg.c parsed the version-1 fields of PUBLISH, SUBSCRIBE or
 * SUBSCRIBE_OK: the fields version 2 appends on relay links */
G_GNUC_INTERNAL gboolean msg_link_parse_appended (Reader *r, DiodeMsg *msg,
                                                  GError **error);

/* diode-msg-link.c, shared with diode-msg-store.c */
G_GNUC_INTERNAL gboolean msg_path_is_valid (const gchar *const *path);
/* u8 count + addresses; @path checked by msg_path_is_valid() */
G_GNUC_INTERNAL void     msg_put_path      (Writer *w, const gchar *const *path);
/* u8 0 (none) or 20 + bytes, like the publisher field; @owner valid or NULL */
G_GNUC_INTERNAL void     msg_put_owner     (Writer *w, const gchar *owner);

/* diode-msg-store.c: version 3, recordings */
G_GNUC_INTERNAL gsize    msg_store_max_payload (guint type);
G_GNUC_INTERNAL gboolean msg_store_parse_payload (Reader *r, DiodeMsg *msg,
                                                  GError **error);
/* after the fields of versions 1 and 2 of PUBLISH, PUBLISH_OK, SUBSCRIBE,
 * SUBSCRIBE_OK: the v3 block, when present */
G_GNUC_INTERNAL gboolean msg_store_parse_appended (Reader *r, DiodeMsg *msg,
                                                   GError **error);

/* diode-msg-direct.c: version 4, direct paths */
G_GNUC_INTERNAL gsize    msg_direct_max_payload (guint type);
G_GNUC_INTERNAL gboolean msg_direct_parse_payload (Reader *r, DiodeMsg *msg,
                                                   GError **error);
/* after the version-1 fields of WELCOME: the v4 block (stun_port) when the
 * WELCOME's version is 4 or later and it is present */
G_GNUC_INTERNAL gboolean msg_direct_parse_appended (Reader *r, DiodeMsg *msg,
                                                    GError **error);

/* diode-msg-list.c: appended to version 4, listing streams */
G_GNUC_INTERNAL gsize    msg_list_max_payload (guint type);
G_GNUC_INTERNAL gboolean msg_list_parse_payload (Reader *r, DiodeMsg *msg,
                                                 GError **error);

G_END_DECLS
