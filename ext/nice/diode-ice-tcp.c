/* gst-diode — the kernel socket of an ICE-TCP pair (see below why)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "diode-ice-priv.h"

#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* ICE-TCP: the kernel socket of the selected pair. libnice 0.1.21 does
 * not give it: its NiceOutputStream looks at the local candidate's socket,
 * which is the listening socket on the side that accepted, or a
 * placeholder without a kernel socket on the side that connected, and
 * nice_agent_get_sockets() leaves accepted connections out. So we find it
 * the way the kernel knows it: among this process's descriptors, the TCP
 * socket connected to the selected remote candidate (and bound to the
 * selected local one when that has a real port). Looked up again whenever
 * the pair changes; only polled, never read or written. */
static gboolean
sockaddr_is (const struct sockaddr *sa, const NiceAddress * want,
    gboolean with_port)
{
  NiceAddress na;

  nice_address_init (&na);
  nice_address_set_from_sockaddr (&na, sa);
  if (!nice_address_is_valid (&na))
    return FALSE;
  if (with_port)
    return nice_address_equal (&na, want);
  return nice_address_equal_no_port (&na, want);
}

int
diode_ice_find_tcp_fd (NiceAgent * agent, guint stream_id, int skip1,
    int skip2)
{
  NiceCandidate *local = NULL, *remote = NULL;
  GDir *dir;
  const gchar *name;
  int found = -1;
  guint lport;

  if (!nice_agent_get_selected_pair (agent, stream_id, 1, &local,
          &remote))
    return -1;
  lport = nice_address_get_port (&local->addr);
  dir = g_dir_open ("/proc/self/fd", 0, NULL);
  if (!dir)
    return -1;
  while (found < 0 && (name = g_dir_read_name (dir))) {
    union {
      struct sockaddr sa;
      struct sockaddr_storage ss;
    } la, ra;
    socklen_t ll = sizeof (la), rl = sizeof (ra);
    int fd = atoi (name), type;
    socklen_t tl = sizeof (type);

    if (fd <= 2 || fd == skip1 || fd == skip2)
      continue;
    if (getsockopt (fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0
        || type != SOCK_STREAM)
      continue;
    if (getpeername (fd, &ra.sa, &rl) < 0 || getsockname (fd, &la.sa, &ll) < 0)
      continue;
    /* libnice takes only IP addresses (anything else is a critical) */
    if ((ra.sa.sa_family != AF_INET && ra.sa.sa_family != AF_INET6)
        || la.sa.sa_family != ra.sa.sa_family)
      continue;
    if (!sockaddr_is (&ra.sa, &remote->addr, TRUE))
      continue;
    /* tcp-active candidates carry port 9 (RFC 6544) or 0, not the real one */
    if (!sockaddr_is (&la.sa, &local->addr, lport != 0 && lport != 9))
      continue;
    found = fd;
  }
  g_dir_close (dir);
  return found;
}

