/* gst-diode — unit tests: the TLS cipher a client on this CPU negotiates
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A client on a CPU without AES instructions (the camera: a Pi Zero, ARMv6)
 * offers ChaCha20-Poly1305 first and the relay takes the client's order;
 * with AES instructions AES-GCM stays first. Real GnuTLS handshakes between
 * a DiodeTls client and server on a socketpair.
 *
 * What this CPU has is known independently of the code under test:
 * DIODE_TEST_CPU_AES=0/1 when the runner says so (scripts/cross-armel.sh
 * runs this program under qemu-arm -cpu max with 1); under meson's
 * exe_wrapper "qemu-arm -cpu arm1176" (the armel cross build, CI) the
 * emulated ARM1176 has none; natively on x86 the CPUID bit. Otherwise the
 * real-detection cases are skipped and only the forced ones run.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <glib.h>
#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "diode-tls.h"

#define DEADLINE_US (30 * G_USEC_PER_SEC)

static gchar *tmp_root;

/* 1: AES instructions, 0: none, -1: not known here. */
static gint
known_cpu_aes (const gchar ** why)
{
  const gchar *env = g_getenv ("DIODE_TEST_CPU_AES");
  const gchar *wrapper = g_getenv ("MESON_EXE_WRAPPER");

  if (env && (g_str_equal (env, "0") || g_str_equal (env, "1"))) {
    *why = "DIODE_TEST_CPU_AES";
    return env[0] == '1';
  }
  if (wrapper && strstr (wrapper, "qemu-arm")
      && strstr (wrapper, "-cpu arm1176")) {
    *why = "qemu-arm -cpu arm1176 (ARMv6, no AES instructions)";
    return 0;
  }
#if defined(__x86_64__) || defined(__i386__)
  if (!wrapper) {
    *why = "x86 CPUID";
    return __builtin_cpu_supports ("aes") ? 1 : 0;
  }
#endif
  *why = "unknown";
  return -1;
}

static DiodeIdentity *
new_identity (const gchar * name)
{
  g_autofree gchar *path = g_strdup_printf ("%s/%s-%u.pem", tmp_root, name,
      g_random_int ());
  g_autoptr (GError) error = NULL;
  DiodeIdentity *id = diode_identity_load_or_create (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (id);
  return id;
}

static void
wait_fds (int cfd, gboolean cw, int sfd, gboolean sw)
{
  struct pollfd p[2] = {
    {cfd, cw ? POLLOUT : POLLIN, 0},
    {sfd, sw ? POLLOUT : POLLIN, 0},
  };
  int ret;

  do
    ret = poll (p, 2, 5000);
  while (ret < 0 && errno == EINTR);
  g_assert_cmpint (ret, >, 0);
}

/* One handshake, client and server of this process; returns the
 * client's description of the session (g_free). */
static gchar *
handshake (void)
{
  DiodeIdentity *cid = new_identity ("client"), *sid = new_identity ("relay");
  g_autoptr (GError) error = NULL;
  DiodeTls *c, *s;
  DiodeTlsStatus cst = DIODE_TLS_AGAIN, sst = DIODE_TLS_AGAIN;
  gint64 deadline = g_get_monotonic_time () + DEADLINE_US;
  gchar *desc;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
      ==, 0);
  g_assert_cmpint (fcntl (fds[0], F_SETFL, O_NONBLOCK), ==, 0);
  g_assert_cmpint (fcntl (fds[1], F_SETFL, O_NONBLOCK), ==, 0);
  c = diode_tls_new_client (fds[0], cid, "relay.example", &error);
  g_assert_no_error (error);
  s = diode_tls_new_server (fds[1], sid, &error);
  g_assert_no_error (error);
  while (cst != DIODE_TLS_OK || sst != DIODE_TLS_OK) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    if (cst != DIODE_TLS_OK) {
      cst = diode_tls_handshake (c, &error);
      g_assert_no_error (error);
      g_assert_cmpint (cst, !=, DIODE_TLS_CLOSED);
    }
    if (sst != DIODE_TLS_OK) {
      sst = diode_tls_handshake (s, &error);
      g_assert_no_error (error);
      g_assert_cmpint (sst, !=, DIODE_TLS_CLOSED);
    }
    if (cst == DIODE_TLS_AGAIN && sst == DIODE_TLS_AGAIN)
      wait_fds (fds[0], diode_tls_wants_write (c), fds[1],
          diode_tls_wants_write (s));
  }
  desc = g_strdup (diode_tls_describe (c));
  /* both ends agree */
  g_assert_cmpstr (desc, ==, diode_tls_describe (s));
  g_test_message ("negotiated %s", desc);
  diode_tls_free (c);
  diode_tls_free (s);
  close (fds[0]);
  close (fds[1]);
  diode_identity_unref (cid);
  diode_identity_unref (sid);
  return desc;
}

static void
assert_cipher (const gchar * desc, gboolean aes)
{
  g_assert_nonnull (strstr (desc, "TLS1.3"));
  if (aes) {
    g_assert_nonnull (strstr (desc, "AES-128-GCM"));
    g_assert_null (strstr (desc, "CHACHA20"));
  } else {
    g_assert_nonnull (strstr (desc, "CHACHA20-POLY1305"));
    g_assert_null (strstr (desc, "AES"));
  }
}

/* The /proc/cpuinfo reading used where there are no ARM hwcaps. */
static void
test_cpuinfo_text (void)
{
  /* a Raspberry Pi Zero W (ARM1176JZF-S) */
  g_assert_false (diode_tls_cpuinfo_has_aes ("processor\t: 0\n"
          "model name\t: ARMv6-compatible processor rev 7 (v6l)\n"
          "BogoMIPS\t: 997.08\n"
          "Features\t: half thumb fastmult vfp edsp java tls \n"
          "CPU implementer\t: 0x41\nCPU architecture: 7\n"
          "Hardware\t: BCM2835\nModel\t\t: Raspberry Pi Zero W Rev 1.1\n"));
  /* a Cortex-A53 without the crypto extension (Pi 3, 32-bit kernel) */
  g_assert_false (diode_tls_cpuinfo_has_aes ("processor\t: 0\n"
          "Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 "
          "idiva idivt vfpd32 lpae evtstrm crc32\n"));
  /* an ARMv8 core with it, 32-bit */
  g_assert_true (diode_tls_cpuinfo_has_aes ("Features\t: half thumb fastmult "
          "vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm "
          "aes pmull sha1 sha2 crc32\n"));
  /* x86: AES-NI; "vaes" alone is not "aes" */
  g_assert_true (diode_tls_cpuinfo_has_aes ("processor\t: 0\nflags\t\t: fpu "
          "vme de pse sse4_2 aes avx\n"));
  g_assert_false (diode_tls_cpuinfo_has_aes ("flags\t\t: fpu sse2 vaes\n"));
  g_assert_true (diode_tls_cpuinfo_has_aes ("flags\t\t: aes\n"));
  /* unknown: keep the default order */
  g_assert_true (diode_tls_cpuinfo_has_aes (NULL));
  g_assert_true (diode_tls_cpuinfo_has_aes ("processor\t: 0\n"));
}

/* The real detection, on the CPU this runs on (emulated or not). */
static void
test_detect_this_cpu (void)
{
  const gchar *why;
  gint known = known_cpu_aes (&why);
  gchar *desc;

  diode_tls_set_cpu_aes_for_test (-1);
  g_test_message ("this CPU: AES instructions %s (%s); detected %s",
      known < 0 ? "?" : known ? "yes" : "no", why,
      diode_tls_cpu_has_aes ()? "yes" : "no");
  if (known < 0) {
    g_test_skip ("what this CPU has is not known independently");
    return;
  }
  g_assert_cmpint (diode_tls_cpu_has_aes (), ==, known);
  /* and the handshake with the real detection */
  desc = handshake ();
  assert_cipher (desc, known);
  g_free (desc);
}

/* Both choices, whatever this CPU is: the client's order decides. */
static void
test_forced_choice (void)
{
  gchar *desc;

  diode_tls_set_cpu_aes_for_test (0);
  g_assert_false (diode_tls_cpu_has_aes ());
  desc = handshake ();
  assert_cipher (desc, FALSE);
  g_free (desc);

  diode_tls_set_cpu_aes_for_test (1);
  g_assert_true (diode_tls_cpu_has_aes ());
  desc = handshake ();
  assert_cipher (desc, TRUE);
  g_free (desc);
  diode_tls_set_cpu_aes_for_test (-1);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmp_root = g_dir_make_tmp ("diode-test-tls-cipher-XXXXXX", NULL);
  g_assert_nonnull (tmp_root);
  g_setenv ("XDG_CONFIG_HOME", tmp_root, TRUE);
  g_test_add_func ("/tls-cipher/cpuinfo-text", test_cpuinfo_text);
  g_test_add_func ("/tls-cipher/this-cpu", test_detect_this_cpu);
  g_test_add_func ("/tls-cipher/forced", test_forced_choice);
  ret = g_test_run ();
  {
    GDir *d = g_dir_open (tmp_root, 0, NULL);
    const gchar *n;

    while (d && (n = g_dir_read_name (d))) {
      g_autofree gchar *p = g_build_filename (tmp_root, n, NULL);
      g_unlink (p);
    }
    if (d)
      g_dir_close (d);
    g_rmdir (tmp_root);
  }
  g_free (tmp_root);
  return ret;
}
