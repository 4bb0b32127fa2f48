/* gst-diode — a userspace link with delay and loss between two network
 * namespaces, for benchmarks on kernels without netem
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   delay-link --ns-a NAME --ns-b NAME [--delay-ms 20] [--loss-pct 1.0]
 *              [--seed 1] [--seconds 120] [--queue 4096]
 *
 * Creates the TUN device "dl0" in each namespace (/run/netns/NAME), then
 * forwards every IP packet read from one to the other after --delay-ms,
 * dropping --loss-pct percent of them at random (a seeded generator:
 * the same seed drops the same packet numbers). At most --queue packets
 * wait per direction; beyond that a packet is dropped (a full router
 * queue), and counted. The caller gives the devices addresses and brings
 * them up (ip -n NAME addr add ... dev dl0; ip -n NAME link set dl0 up).
 * Runs at most --seconds, then exits, printing its counters on stderr;
 * SIGTERM ends it too. Root only (TUN, setns).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#define MAX_PKT 65536

typedef struct {
  uint64_t due_ns;
  uint16_t len;
  uint8_t *data;
} Pkt;

typedef struct {
  int in_fd, out_fd;
  Pkt *ring;
  unsigned cap, head, count;
  unsigned long fwd, lost, overflow;
} Dir;

static volatile sig_atomic_t stop;

static void
on_term (int sig)
{
  (void) sig;
  stop = 1;
}

static uint64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* xorshift64*: small, seeded, the same sequence on every machine */
static uint64_t rng_state;

static double
rng_unit (void)
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double) ((rng_state * 2685821657736338717ull) >> 11)
      / (double) (1ull << 53);
}

static int
open_tun_in (const char *ns)
{
  char path[256];
  struct ifreq ifr;
  int nsfd, fd;

  snprintf (path, sizeof (path), "/run/netns/%s", ns);
  nsfd = open (path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0 || setns (nsfd, CLONE_NEWNET) < 0) {
    fprintf (stderr, "delay-link: namespace %s: %s\n", ns, strerror (errno));
    exit (1);
  }
  close (nsfd);
  fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    fprintf (stderr, "delay-link: /dev/net/tun: %s\n", strerror (errno));
    exit (1);
  }
  memset (&ifr, 0, sizeof (ifr));
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strncpy (ifr.ifr_name, "dl0", IFNAMSIZ - 1);
  if (ioctl (fd, TUNSETIFF, &ifr) < 0) {
    fprintf (stderr, "delay-link: TUNSETIFF in %s: %s\n", ns, strerror (errno));
    exit (1);
  }
  return fd;
}

static void
dir_init (Dir * d, int in_fd, int out_fd, unsigned cap)
{
  unsigned i;

  memset (d, 0, sizeof (*d));
  d->in_fd = in_fd;
  d->out_fd = out_fd;
  d->cap = cap;
  d->ring = calloc (cap, sizeof (Pkt));
  for (i = 0; i < cap; i++)
    d->ring[i].data = malloc (MAX_PKT);
  if (!d->ring || !d->ring[cap - 1].data) {
    fprintf (stderr, "delay-link: out of memory\n");
    exit (1);
  }
}

/* Reads what is there; each packet is dropped (loss or a full queue) or
 * queued until now + delay. */
static void
dir_read (Dir * d, uint64_t delay_ns, double loss)
{
  static uint8_t scratch[MAX_PKT];

  for (;;) {
    Pkt *p = d->count < d->cap ? &d->ring[(d->head + d->count) % d->cap] :
        NULL;
    ssize_t n = read (d->in_fd, p ? p->data : scratch, MAX_PKT);

    if (n <= 0)
      return;
    if (rng_unit () < loss) {
      d->lost++;
      continue;
    }
    if (!p) {
      d->overflow++;
      continue;
    }
    p->len = (uint16_t) n;
    p->due_ns = now_ns () + delay_ns;
    d->count++;
  }
}

/* Writes the packets whose time has come; returns ns until the next one
 * (or -1: none waiting). */
static int64_t
dir_flush (Dir * d)
{
  uint64_t t = now_ns ();

  while (d->count > 0) {
    Pkt *p = &d->ring[d->head];
    if (p->due_ns > t)
      return (int64_t) (p->due_ns - t);
    /* a TUN write takes the packet or drops it: never blocks for long */
    if (write (d->out_fd, p->data, p->len) == p->len)
      d->fwd++;
    d->head = (d->head + 1) % d->cap;
    d->count--;
  }
  return -1;
}

int
main (int argc, char **argv)
{
  const char *ns_a = NULL, *ns_b = NULL;
  double delay_ms = 20, loss_pct = 1.0;
  unsigned long seed = 1, seconds = 120, queue = 4096;
  int a, b, i;
  Dir ab, ba;
  uint64_t delay_ns, end;
  double loss;

  for (i = 1; i + 1 < argc; i += 2) {
    if (!strcmp (argv[i], "--ns-a"))
      ns_a = argv[i + 1];
    else if (!strcmp (argv[i], "--ns-b"))
      ns_b = argv[i + 1];
    else if (!strcmp (argv[i], "--delay-ms"))
      delay_ms = atof (argv[i + 1]);
    else if (!strcmp (argv[i], "--loss-pct"))
      loss_pct = atof (argv[i + 1]);
    else if (!strcmp (argv[i], "--seed"))
      seed = strtoul (argv[i + 1], NULL, 10);
    else if (!strcmp (argv[i], "--seconds"))
      seconds = strtoul (argv[i + 1], NULL, 10);
    else if (!strcmp (argv[i], "--queue"))
      queue = strtoul (argv[i + 1], NULL, 10);
    else {
      fprintf (stderr, "delay-link: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (!ns_a || !ns_b || delay_ms < 0 || delay_ms > 10000 || loss_pct < 0
      || loss_pct > 100 || queue < 1 || queue > 65536 || seconds < 1
      || seconds > 86400) {
    fprintf (stderr, "usage: delay-link --ns-a NAME --ns-b NAME "
        "[--delay-ms 0..10000] [--loss-pct 0..100] [--seed N] "
        "[--seconds 1..86400] [--queue 1..65536]\n");
    return 2;
  }
  rng_state = seed ? seed * 0x9E3779B97F4A7C15ull : 1;
  delay_ns = (uint64_t) (delay_ms * 1e6);
  loss = loss_pct / 100.0;
  a = open_tun_in (ns_a);
  b = open_tun_in (ns_b);
  dir_init (&ab, a, b, (unsigned) queue);
  dir_init (&ba, b, a, (unsigned) queue);
  signal (SIGTERM, on_term);
  signal (SIGINT, on_term);
  /* tell the caller the devices exist */
  printf ("ready\n");
  fflush (stdout);

  end = now_ns () + (uint64_t) seconds * 1000000000ull;
  while (!stop && now_ns () < end) {
    struct pollfd pfd[2] = { {a, POLLIN, 0}, {b, POLLIN, 0} };
    int64_t w1 = dir_flush (&ab), w2 = dir_flush (&ba);
    int64_t w = w1 < 0 ? w2 : (w2 < 0 ? w1 : (w1 < w2 ? w1 : w2));
    int timeout_ms = w < 0 ? 100 : (int) ((w + 999999) / 1000000);

    if (poll (pfd, 2, timeout_ms) < 0 && errno != EINTR)
      break;
    if (pfd[0].revents & POLLIN)
      dir_read (&ab, delay_ns, loss);
    if (pfd[1].revents & POLLIN)
      dir_read (&ba, delay_ns, loss);
  }
  fprintf (stderr, "delay-link: a->b forwarded %lu lost %lu overflow %lu; "
      "b->a forwarded %lu lost %lu overflow %lu\n", ab.fwd, ab.lost,
      ab.overflow, ba.fwd, ba.lost, ba.overflow);
  return 0;
}
