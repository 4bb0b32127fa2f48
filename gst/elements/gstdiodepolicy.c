/* gst-diode — diodesink's access policy: the allowlist and its validation
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The settings a publisher gives (access, allow, fleet) become a policy the
 * relay can apply, or an error naming the property at fault. `allow` may
 * name a file: it is opened without blocking (a FIFO would hang the
 * pipeline), must be a regular file (a device like /dev/zero would exhaust
 * memory), is read up to GST_DIODE_ALLOW_FILE_MAX bytes whatever its size
 * claims (/proc files say 0), and errors name the file and the line but
 * never quote it: the path may point anywhere (/proc/self/environ).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiodepolicy.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

/* Adds the addresses in @text to @out; FALSE at a token that is not one. */
static gboolean
add_addresses (GPtrArray * out, const gchar * text)
{
  gchar **tok = g_strsplit_set (text, ", \t\r\n;", -1);
  guint i;

  for (i = 0; tok[i]; i++) {
    if (!*tok[i])
      continue;
    if (!diode_msg_address_is_valid (tok[i])) {
      g_strfreev (tok);
      return FALSE;
    }
    /* Bounded however long the text: more than the limit is an error. */
    if (out->len > DIODE_MAX_ALLOW)
      break;
    g_ptr_array_add (out, g_ascii_strdown (tok[i], -1));
  }
  g_strfreev (tok);
  return TRUE;
}

/* Reads the allow file @path into a NUL-terminated buffer, or fails with an
 * error that names @path and why, never its contents. */
static gchar *
read_allow_file (const gchar * path, gsize * len, GError ** error)
{
  struct stat st;
  gchar *buf = NULL;
  gsize n = 0;
  int fd;

  /* O_NONBLOCK: opening a FIFO nobody writes to returns at once (and
   * fstat() then refuses it) instead of blocking the caller for good. */
  fd = open (path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;

    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "allow: '%s' is neither a list of addresses (0x followed by 40 hex "
        "digits) nor a readable file (%s)", path, g_strerror (e));
    return NULL;
  }
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "allow: '%s' is not a regular file (a device, FIFO or directory "
        "cannot be an allowlist)", path);
    goto fail;
  }
  if (st.st_size > GST_DIODE_ALLOW_FILE_MAX)
    goto too_big;
  /* The size a file claims is not trusted (files in /proc say 0): read at
   * most one byte past the limit. */
  buf = g_malloc (GST_DIODE_ALLOW_FILE_MAX + 2);
  while (n <= GST_DIODE_ALLOW_FILE_MAX) {
    gssize r = read (fd, buf + n, GST_DIODE_ALLOW_FILE_MAX + 1 - n);

    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;

      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "allow: cannot read '%s': %s", path, g_strerror (e));
      goto fail;
    }
    if (r == 0)
      break;
    n += r;
  }
  if (n > GST_DIODE_ALLOW_FILE_MAX)
    goto too_big;
  close (fd);
  buf[n] = '\0';
  *len = n;
  return buf;

too_big:
  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "allow: '%s' is larger than an allow file may be (%d bytes)", path,
      GST_DIODE_ALLOW_FILE_MAX);
fail:
  g_free (buf);
  close (fd);
  return NULL;
}

gchar **
gst_diode_parse_allow (const gchar * allow, GError ** error)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  gchar *contents = NULL, *line, *next;
  gsize len = 0;
  guint lineno;

  if (!allow || !*allow)
    goto done;
  if (add_addresses (out, allow))
    goto done;
  /* Not a list: then it names a file of addresses. */
  g_ptr_array_set_size (out, 0);
  contents = read_allow_file (allow, &len, error);
  if (!contents)
    goto fail;
  for (line = contents, lineno = 1; line; line = next, lineno++) {
    gchar *hash;

    next = strchr (line, '\n');
    if (next)
      *next++ = '\0';
    /* What the file holds is not echoed: say where, not what. */
    if (strlen (line) != (gsize) ((next ? next - 1 : contents + len) - line)) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "allow: %s:%u: a NUL byte (not a text file of addresses)", allow,
          lineno);
      goto fail;
    }
    if ((hash = strchr (line, '#')))
      *hash = '\0';
    if (!add_addresses (out, line)) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "allow: %s:%u: is not an address (0x followed by 40 hex digits)",
          allow, lineno);
      goto fail;
    }
    if (out->len > DIODE_MAX_ALLOW)
      break;
  }
done:
  g_free (contents);
  if (out->len > DIODE_MAX_ALLOW) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "allow: more than %d addresses (at most %d)", DIODE_MAX_ALLOW,
        DIODE_MAX_ALLOW);
    g_ptr_array_unref (out);
    return NULL;
  }
  g_ptr_array_add (out, NULL);
  return (gchar **) g_ptr_array_free (out, FALSE);

fail:
  g_free (contents);
  g_ptr_array_unref (out);
  return NULL;
}

GstDiodePolicy *
gst_diode_policy_new (DiodeAccess access, const gchar * allow,
    const gchar * fleet, GError ** error)
{
  GstDiodePolicy *p;
  gchar **list;

  if (fleet && *fleet && !diode_msg_check_stream_name (fleet, NULL)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "fleet '%s' is not a valid name (1 to 255 bytes of UTF-8, no '/')",
        fleet);
    return NULL;
  }
  if (access == DIODE_ACCESS_PROTECTED && (!fleet || !*fleet)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "access=protected needs a fleet (the fleet property)");
    return NULL;
  }
  list = gst_diode_parse_allow (allow, error);
  if (!list)
    return NULL;
  p = g_new0 (GstDiodePolicy, 1);
  p->access = access;
  p->fleet = fleet && *fleet ? g_strdup (fleet) : NULL;
  p->allow = list;
  return p;
}

GstDiodePolicy *
gst_diode_policy_new_closed (void)
{
  GstDiodePolicy *p = g_new0 (GstDiodePolicy, 1);

  p->access = DIODE_ACCESS_PRIVATE;
  p->allow = g_new0 (gchar *, 1);
  return p;
}

void
gst_diode_policy_free (GstDiodePolicy * p)
{
  if (!p)
    return;
  g_free (p->fleet);
  g_strfreev (p->allow);
  g_free (p);
}

GBytes *
gst_diode_policy_encode (const GstDiodePolicy * p, const gchar * stream,
    guint32 pubflags, guint16 version, GError ** error)
{
  GBytes *frame;

  if (stream && version >= DIODE_PROTOCOL_VERSION_STORE) {
    DiodePublishArgs a = { 0 };

    a.stream = stream;
    a.access = p->access;
    a.fleet = p->fleet;
    a.allow = (const gchar * const *) p->allow;
    a.pubflags = pubflags;
    frame = diode_msg_encode_publish_args (&a, version, DIODE_ROLE_PUBLISHER);
    if (!frame)
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "'%s' is not a valid stream name (1 to 255 bytes of UTF-8, no '/' "
          "and no control characters)", stream);
  } else if (stream) {
    frame = diode_msg_encode_publish_policy (stream, p->access, p->fleet,
        (const gchar * const *) p->allow);
    if (!frame)
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "'%s' is not a valid stream name (1 to 255 bytes of UTF-8, no '/' "
          "and no control characters)", stream);
  } else {
    frame = diode_msg_encode_policy (p->access, p->fleet,
        (const gchar * const *) p->allow);
    if (!frame)
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "the access policy cannot be encoded (fleet or allowlist invalid)");
  }
  return frame;
}
