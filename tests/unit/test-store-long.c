/* gst-diode — the store's slow test: a crash at every byte offset
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * sc_cut_sweep() (storecheck.c) at every byte of a last record of ~12 KiB:
 * ~12 000 opens. Suite store-long (not in the default `meson test`).
 */
#include "storecheck.h"

static void
test_cut_every_offset (void)
{
  guint tried = sc_cut_sweep (5, 3000, 1, 500);

  g_assert_cmpuint (tried, >, 12000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/crash/cut-every-offset", test_cut_every_offset);
  return g_test_run ();
}
