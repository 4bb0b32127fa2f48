/* gst-diode — the `diode` tool's commands, one file each
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each takes the command's own argv (argv[0] = the command's name) and
 * returns the exit status: 0 success, 1 error, 2 usage error.
 */
#pragma once

/* diode-link.c: share links and their revocation */
int diode_cmd_link (int argc, char **argv);

/* diode-ls.c: the streams a relay carries that this identity may watch */
int diode_cmd_ls (int argc, char **argv);
int diode_cmd_stat (int argc, char **argv);
