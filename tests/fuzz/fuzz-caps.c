/* gst-diode — fuzzing: the relay's reader of caps text
 * (gst/protocol/diode-caps-info.c)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Any publisher chooses its CAPS text and the relay reads it for its web
 * list: the input is that text, given with its exact length (libFuzzer's
 * buffer ends there, so a read past it is a heap-buffer-overflow under
 * ASan). Checks: a result is NUL-terminated with a '/' in its media type;
 * width and height 0 or 1..65535; a frame rate both parts positive or both
 * 0; the codec name is a string; the text cut at any shorter length still
 * parses (no read past a length), and a cut never makes up a media type
 * the whole text did not have.
 */
#include "fuzz-common.h"

#include "diode-caps-info.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_glib_setup (argc, argv);
  return 0;
}

static void
check_info (const DiodeCapsInfo * i, gboolean ok)
{
  if (!ok) {
    FUZZ_CHECK (i->media_type[0] == '\0' && i->width == 0 && i->fps_d == 0,
        "refused text left data behind");
    return;
  }
  FUZZ_CHECK (memchr (i->media_type, '\0', sizeof (i->media_type)) != NULL,
      "media type not terminated");
  FUZZ_CHECK (strchr (i->media_type, '/') != NULL, "media type '%s' has no "
      "'/'", i->media_type);
  FUZZ_CHECK (i->width >= 0 && i->width <= DIODE_CAPS_INFO_MAX_DIM, "width "
      "%d", i->width);
  FUZZ_CHECK (i->height >= 0 && i->height <= DIODE_CAPS_INFO_MAX_DIM,
      "height %d", i->height);
  FUZZ_CHECK ((i->fps_n > 0 && i->fps_d > 0) || (i->fps_n == 0
          && i->fps_d == 0), "framerate %d/%d", i->fps_n, i->fps_d);
  FUZZ_CHECK (diode_caps_info_codec (i) != NULL, "no codec string");
  FUZZ_CHECK (diode_caps_info_framerate (i) >= 0, "negative rate");
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  DiodeCapsInfo whole, cut;
  gboolean ok, ok_cut;
  gchar *copy;

  /* an exact-size copy: libFuzzer's data may be followed by readable
   * bytes in some modes, the heap copy is not */
  copy = g_malloc (size ? size : 1);
  memcpy (copy, data, size);
  ok = diode_caps_info_parse (copy, size, &whole);
  check_info (&whole, ok);
  if (size) {
    ok_cut = diode_caps_info_parse (copy, size / 2, &cut);
    check_info (&cut, ok_cut);
    /* a prefix's media type is a prefix of the whole one */
    if (ok_cut && ok)
      FUZZ_CHECK (g_str_has_prefix (whole.media_type, cut.media_type),
          "prefix type '%s' vs '%s'", cut.media_type, whole.media_type);
  }
  g_free (copy);
  return 0;
}
