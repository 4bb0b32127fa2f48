/* gst-diode — fuzzing: helpers shared by the libFuzzer harnesses
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every harness is built by tests/fuzz/run.sh with
 * clang -fsanitize=fuzzer,address,undefined. A broken invariant calls
 * FUZZ_CHECK's abort(), which libFuzzer reports as a crash and saves the
 * input that caused it.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...)                                           \
  do {                                                                  \
    if (G_UNLIKELY (!(cond))) {                                         \
      fprintf (stderr, "%s:%d: invariant broken: %s\n  ", __FILE__,     \
          __LINE__, #cond);                                             \
      fprintf (stderr, __VA_ARGS__);                                    \
      fprintf (stderr, "\n");                                           \
      abort ();                                                         \
    }                                                                   \
  } while (0)

/* A g_return_if_fail() or g_warning() inside the code under test means the
 * harness or the library broke a contract: make it a crash, like
 * G_DEBUG=fatal-criticals does for the unit tests. Debug output is muted. */
static void
fuzz_log_handler (const gchar * domain, GLogLevelFlags level,
    const gchar * message, gpointer user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) {
    fprintf (stderr, "fatal GLib log (%s): %s\n", domain ? domain : "-",
        message);
    abort ();
  }
}

/* GLib 2.74's GSlice keeps freed GBytes, GArray and GPtrArray structs in
 * its own caches, out of ASan's and LeakSanitizer's sight: a use after free
 * or a leak of one would go unnoticed. G_SLICE=always-malloc must be in the
 * environment before GLib starts, so without it the harness restarts
 * itself with it (run.sh exports it; this covers running a binary by hand). */
static inline void
fuzz_glib_setup (int *argc, char ***argv)
{
  const char *slice = getenv ("G_SLICE");

  if (slice == NULL || strstr (slice, "always-malloc") == NULL) {
    setenv ("G_SLICE", "always-malloc", 1);
    execv ("/proc/self/exe", *argv);
    fprintf (stderr, "fuzz: could not restart with G_SLICE=always-malloc\n");
    abort ();
  }
  g_log_set_default_handler (fuzz_log_handler, NULL);
  g_log_set_always_fatal (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL |
      G_LOG_LEVEL_WARNING);
}

/* Big-endian readers for the harnesses' own bookkeeping. */
static inline guint32
fuzz_be32 (const guint8 * p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) |
      ((guint32) p[2] << 8) | p[3];
}
