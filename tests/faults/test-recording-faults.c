/* gst-diode — fault tests of the recording store: the real relay, real faults
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   test-recording-faults TEST
 *
 * Issue 10 item 7: what happens to a recording when the relay or its disk
 * fails, with the diode-relay binary started by the test (--store DIR) and
 * publishers and viewers as fault-peer processes (faultlib.h): an x264
 * stream at 30 fps with a keyframe every second, published with
 * record=true; viewers decode it (diodesrc start=earliest for a recording).
 *
 *   record-kill       kill -9 the relay while it records; restart it on the
 *                     same --store: a viewer from `earliest` decodes the
 *                     recording, at most the chunks that were not yet on
 *                     disk missing (the open one, the one being written)
 *   record-kill-loop  (faults-long) three kills -9 at random moments of a
 *                     30 s recording, the publisher reconnecting each time
 *   record-flip       one byte flipped in a stored segment file (found by
 *                     the on-disk layout of docs/architecture.md): the
 *                     relay detects it, logs the damage, and that chunk
 *                     never reaches a decoder (the viewer decodes fewer
 *                     frames than before the flip, and sees a DISCONT)
 *   record-disk-full  --store on a 256 KiB tmpfs this test mounts (root only;
 *                     skipped with the reason otherwise): one clear log
 *                     line, recording stops, the live viewers keep
 *                     receiving every frame (no DISCONT, full rate)
 *
 * Exit status: 0 pass, 1 fail, 77 skip (meson's code).
 */
#include <glib.h>
#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "faultlib.h"

/* Frames a kill -9 may cost a recording: the chunk the ring still had open
 * (not closed, so never queued for the store), the one the writer was
 * writing, and what was in flight from the publisher: three GOPs of 30. */
#define KILL_LOSS_FRAMES (3 * FPS)

static gchar *store_dir;

static void
make_store_dir (void)
{
  store_dir = g_build_filename (tp_tmp_dir, "store", NULL);
  tp_check (g_mkdir_with_parents (store_dir, 0700) == 0, "mkdir %s: %s",
      store_dir, g_strerror (errno));
}

static Proc *
relay_with_store (const gchar * name, guint port)
{
  const gchar *extra[] = { "--store", store_dir, NULL };

  return relay_start (name, port, extra);
}

/* A viewer from the oldest stored chunk. */
static Proc *
viewer_earliest (const gchar * name, Proc * relay)
{
  const gchar *sets[] = { "start=earliest", NULL };

  make_identity (name);
  return peer_start (name, "view", relay, name, sets, NULL);
}

/* Waits until @p has decoded at least one frame and then nothing more for
 * @still_ms (it played all there is), at most @timeout_ms; returns the
 * count. */
static guint64
wait_frames_settle (Proc * p, guint still_ms, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gint64 since = g_get_monotonic_time ();
  guint64 last = proc_frames (p);

  for (;;) {
    guint64 n;

    tp_sleep_ms (100);
    n = proc_frames (p);
    tp_check (!p->eof || p->exited, "%s exited while playing the recording",
        p->name);
    tp_check (proc_count (p, 0, "^error ", NULL) == 0, "%s posted an error: "
        "%s", p->name, proc_find_text (p, 0, "^error ", NULL));
    if (n != last) {
      last = n;
      since = g_get_monotonic_time ();
    } else if (n > 0 && g_get_monotonic_time () - since >
        (gint64) still_ms * 1000) {
      return n;
    }
    tp_check (g_get_monotonic_time () < end, "%s: still decoding (or nothing "
        "decoded: %" G_GUINT64_FORMAT " frames) after %u ms", p->name, n,
        timeout_ms);
  }
}

/* What the relay may say about a damaged chunk, or a full disk (the store
 * logs strerror: "No space left on device"). */
static const gchar *const damage_words[] = { "damaged", "Damaged", "CRC",
  "crc", "checksum", "corrupt", NULL
};
static const gchar *const full_words[] = { "No space left", "ENOSPC",
  "disk full", NULL
};

/* The first line of @p at or after @after containing one of @words (a
 * copy), or NULL; *count: how many such lines. */
static gchar *
find_any (Proc * p, gint64 after, const gchar * const *words, guint * count)
{
  gchar *first = NULL;
  gint64 t_first = G_MAXINT64;
  guint n = 0;

  for (; *words; words++) {
    gint64 t = proc_find (p, after, *words, NULL);

    n += proc_count (p, after, *words, NULL);
    if (t >= 0 && t < t_first) {
      g_free (first);
      first = proc_find_text (p, after, *words, NULL);
      t_first = t;
    }
  }
  if (count)
    *count = n;
  return first;
}

/* Waits (at most @timeout_ms) for such a line; its time, or -1. */
static gint64
wait_any (Proc * p, gint64 after, const gchar * const *words,
    guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;) {
    const gchar *const *w;

    for (w = words; *w; w++) {
      gint64 t = proc_find (p, after, *w, NULL);

      if (t >= 0)
        return t;
    }
    if (p->eof || g_get_monotonic_time () >= end)
      return -1;
    tp_sleep_ms (50);
  }
}

/* ------------------------------------------------------------------------ */
/* kill -9 while recording, restart on the same directory */

/* Records for @secs seconds, kills the relay -9 @kills times at random
 * moments (restarting it on the same port and store, the publisher
 * reconnecting), then stops the publisher and checks what a viewer from
 * `earliest` decodes against what was published. */
static void
record_kill (guint kills, guint secs)
{
  const gchar *pub_sets[] = { "record=true", NULL };
  Proc *relay, *pub, *v;
  guint port, k;
  guint64 published = 0, decoded, lost_allowed = 0, down_frames = 0;
  GRand *rnd = g_rand_new ();

  make_store_dir ();
  relay = relay_with_store ("relay", 0);
  port = relay->port;
  make_identity ("pub");
  pub = peer_start ("pub", "pub", relay, "pub", pub_sets, NULL);

  for (k = 0; k < kills; k++) {
    guint ms = secs * 1000 / kills;
    gint64 t_kill, t_back;
    gchar *name;

    /* at least 3 s of recording before each kill, at most the share */
    tp_sleep_ms (3000 + g_rand_int_range (rnd, 0, MAX (1, (gint) ms - 2999)));
    t_kill = g_get_monotonic_time ();
    tp_note ("kill -9 the relay (pid %d) after %" G_GUINT64_FORMAT
        " published frames", proc_pid (relay), proc_frames (pub));
    proc_kill9 (relay);
    proc_free (relay);
    if (k + 1 == kills) {
      /* the last kill: what is on disk now is the whole recording */
      published = proc_frames (pub);
      peer_quit (pub);
      lost_allowed += KILL_LOSS_FRAMES;
      name = g_strdup_printf ("relay%u", k + 2);
      relay = relay_with_store (name, port);
      g_free (name);
      break;
    }
    name = g_strdup_printf ("relay%u", k + 2);
    relay = relay_with_store (name, port);
    g_free (name);
    t_back = proc_wait_line (pub, t_kill, "^conn resumed", NULL, 10000);
    tp_check (t_back >= 0, "the publisher did not resume within 10 s of the "
        "restart");
    /* what the publisher encoded while no relay took it is not recorded */
    down_frames += proc_frames_at (pub, t_back) - proc_frames_at (pub, t_kill);
    lost_allowed += KILL_LOSS_FRAMES;
  }
  g_rand_free (rnd);
  tp_note ("relay restarted on the same --store after the last kill; %"
      G_GUINT64_FORMAT " frames published in all, %" G_GUINT64_FORMAT
      " while the relay was down", published, down_frames);

  v = viewer_earliest ("viewer1", relay);
  decoded = wait_frames_settle (v, 3000, 40000);
  tp_note ("the viewer from earliest decoded %" G_GUINT64_FORMAT " frames",
      decoded);
  tp_check (decoded + down_frames + lost_allowed >= published, "the viewer "
      "from earliest decoded %" G_GUINT64_FORMAT " frames of the %"
      G_GUINT64_FORMAT " published (%" G_GUINT64_FORMAT " while the relay was "
      "down); a kill -9 may cost at most %u frames (the open chunk, the one "
      "being written, in flight), %u kills: the store lost more",
      decoded, published, down_frames, KILL_LOSS_FRAMES, kills);
  /* Each frame at most once: a rebuilt index that served a chunk twice, or
   * a resumed publisher's frames stored twice, would show here. */
  tp_check (decoded <= published + FPS, "the viewer decoded %"
      G_GUINT64_FORMAT " frames but only %" G_GUINT64_FORMAT " were "
      "published (frames served twice?)", decoded, published);
  peer_quit (v);
  relay_stop (relay);
  g_print ("%s: %" G_GUINT64_FORMAT " frames published, %" G_GUINT64_FORMAT
      " decoded from earliest after %u kill(s) -9 (lost %" G_GINT64_FORMAT
      ", %" G_GUINT64_FORMAT " of them while the relay was down)\n",
      tp_test_name, published, decoded, kills,
      (gint64) published - (gint64) decoded, down_frames);
  proc_free (v);
  proc_free (relay);
}

static void
test_record_kill (void)
{
  record_kill (1, 8);
}

static void
test_record_kill_loop (void)
{
  record_kill (3, 30);
}

/* ------------------------------------------------------------------------ */
/* a flipped byte on disk */

/* The on-disk layout of docs/architecture.md ("The recording store"):
 * streams/<hash>/<n>.seg segment files, each a 32-byte segment header
 * then chunk records: a 12-byte prefix (u32 magic "DREC", u32 length of
 * what follows, u32 crc32), the 60-byte chunk header (the CHUNK payload),
 * then the chunk's frames (length - 60 bytes). All big endian. */
#define SEGMENT_SUFFIX ".seg"
#define SEG_HEADER_SIZE 32
#define REC_PREFIX_SIZE 12
#define REC_HEADER_SIZE 60

static void
find_segments (const gchar * dir, GPtrArray * out)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *n;

  if (!d)
    return;
  while ((n = g_dir_read_name (d))) {
    gchar *p = g_build_filename (dir, n, NULL);

    if (g_file_test (p, G_FILE_TEST_IS_DIR))
      find_segments (p, out);
    else if (g_str_has_suffix (n, SEGMENT_SUFFIX))
      g_ptr_array_add (out, g_strdup (p));
    g_free (p);
  }
  g_dir_close (d);
}

/* Big-endian u32 at any address (a record's length field is not aligned). */
static guint32
get_be32 (const guint8 * p)
{
  guint32 v;

  memcpy (&v, p, 4);
  return GUINT32_FROM_BE (v);
}

/* Walks the records of segment @data: the offset of the frames of the
 * middle one (neither the first nor the last: the last chunk of the last
 * segment failing its check is a torn write, not damage) and their size. */
static gboolean
middle_record_frames (const guint8 * data, gsize size, goffset * frames_off,
    gsize * frames_len, guint * n_records)
{
  GArray *offs = g_array_new (FALSE, FALSE, sizeof (goffset));
  gsize off = SEG_HEADER_SIZE;
  goffset mid;
  guint32 len;

  tp_check (size >= SEG_HEADER_SIZE && memcmp (data, "DIODESEG", 8) == 0,
      "the segment file does not start with DIODESEG: not the documented "
      "layout");
  while (off + REC_PREFIX_SIZE + REC_HEADER_SIZE <= size) {
    tp_check (memcmp (data + off, "DREC", 4) == 0, "no record magic DREC at "
        "offset %" G_GSIZE_FORMAT " of the segment", off);
    len = get_be32 (data + off + 4);
    tp_check (len >= REC_HEADER_SIZE && off + REC_PREFIX_SIZE + len <= size,
        "record at %" G_GSIZE_FORMAT ": length %u out of the file", off, len);
    g_array_append_val (offs, off);
    off += REC_PREFIX_SIZE + len;
  }
  *n_records = offs->len;
  if (offs->len < 3) {
    g_array_unref (offs);
    return FALSE;
  }
  mid = g_array_index (offs, goffset, offs->len / 2);
  len = get_be32 (data + mid + 4);
  *frames_off = mid + REC_PREFIX_SIZE + REC_HEADER_SIZE;
  *frames_len = len - REC_HEADER_SIZE;
  g_array_unref (offs);
  return TRUE;
}

/* Flips (XOR 0xff) the byte at @off of @path. */
static void
flip_byte (const gchar * path, goffset off)
{
  int fd = open (path, O_RDWR);
  guint8 b;

  tp_check (fd >= 0, "open %s: %s", path, g_strerror (errno));
  tp_check (pread (fd, &b, 1, off) == 1, "read %s at %" G_GINT64_FORMAT,
      path, (gint64) off);
  b ^= 0xff;
  tp_check (pwrite (fd, &b, 1, off) == 1, "write %s at %" G_GINT64_FORMAT,
      path, (gint64) off);
  close (fd);
}

static void
test_record_flip (void)
{
  const gchar *pub_sets[] = { "record=true", NULL };
  Proc *relay, *pub, *v1, *v2;
  guint port;
  guint64 whole, after, d0;
  GPtrArray *segs = g_ptr_array_new_with_free_func (g_free);
  const gchar *seg = NULL;
  goffset size = 0, off = 0;
  gsize len = 0, frames_len = 0;
  guint n_records = 0;
  gchar *data = NULL;
  gint64 t_restart;
  gchar *line;
  guint i;

  make_store_dir ();
  relay = relay_with_store ("relay", 0);
  port = relay->port;
  make_identity ("pub");
  pub = peer_start ("pub", "pub", relay, "pub", pub_sets, NULL);
  tp_sleep_ms (8000);
  peer_quit (pub);
  /* A clean stop: the store flushes what it has; then the reference, the
   * whole recording decoded before any damage. */
  tp_sleep_ms (1500);
  relay_stop (relay);
  proc_free (relay);
  relay = relay_with_store ("relay2", port);
  v1 = viewer_earliest ("viewer1", relay);
  whole = wait_frames_settle (v1, 3000, 40000);
  peer_quit (v1);
  relay_stop (relay);
  proc_free (relay);
  tp_note ("the undamaged recording: %" G_GUINT64_FORMAT " frames", whole);
  tp_check (whole >= 4 * FPS, "only %" G_GUINT64_FORMAT " frames recorded "
      "in 8 s", whole);

  /* The largest segment file, the middle chunk record in it, a byte in
   * the middle of that chunk's frames. */
  find_segments (store_dir, segs);
  tp_check (segs->len > 0, "no segment file (*" SEGMENT_SUFFIX ") under %s: "
      "the on-disk layout is not the one docs/architecture.md describes",
      store_dir);
  for (i = 0; i < segs->len; i++) {
    GStatBuf st;

    if (g_stat (segs->pdata[i], &st) == 0 && st.st_size > size) {
      size = st.st_size;
      seg = segs->pdata[i];
    }
  }
  tp_check (g_file_get_contents (seg, &data, &len, NULL), "cannot read %s",
      seg);
  tp_check (middle_record_frames ((const guint8 *) data, len, &off,
          &frames_len, &n_records), "%s holds %u chunk records, want 3 or "
      "more", seg, n_records);
  g_free (data);
  off += frames_len / 2;
  flip_byte (seg, off);
  tp_note ("flipped the byte at %" G_GINT64_FORMAT " of %s (%" G_GINT64_FORMAT
      " bytes, %u chunk records: in the frames of the middle one)",
      (gint64) off, seg, (gint64) size, n_records);

  t_restart = g_get_monotonic_time ();
  relay = relay_with_store ("relay3", port);
  v2 = viewer_earliest ("viewer2", relay);
  d0 = proc_discont (v2);
  after = wait_frames_settle (v2, 3000, 40000);
  tp_note ("after the flip: %" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT
      " DISCONT buffers", after, proc_discont (v2));
  tp_check (after < whole, "the viewer decoded all %" G_GUINT64_FORMAT
      " frames after a byte of the recording was flipped: the damaged chunk "
      "reached the decoder", whole);
  tp_check (after + 2 * FPS >= whole, "the viewer decoded %" G_GUINT64_FORMAT
      " frames of %" G_GUINT64_FORMAT ": one flipped byte cost more than the "
      "chunk holding it", after, whole);
  tp_check (proc_discont (v2) > d0, "the viewer saw no DISCONT over the gap "
      "the damaged chunk left");
  line = find_any (relay, t_restart, damage_words, NULL);
  tp_check (line != NULL, "the relay did not log the damaged chunk");
  tp_note ("relay: %s", line);
  g_free (line);
  peer_quit (v2);
  relay_stop (relay);
  g_print ("record-flip: one flipped byte: %" G_GUINT64_FORMAT " of %"
      G_GUINT64_FORMAT " frames decoded, the damaged chunk skipped and "
      "logged\n", after, whole);
  proc_free (v2);
  proc_free (v1);
  proc_free (relay);
  g_ptr_array_unref (segs);
}

/* ------------------------------------------------------------------------ */
/* disk full */

static gchar *mounted;

/* tp_fail calls this first: the tmpfs must not outlive the test (and
 * tp_cleanup_tmp cannot remove a mount point). */
static void
unmount_on_fail (const gchar * msg)
{
  if (mounted)
    umount2 (mounted, MNT_DETACH);
}

static void
test_record_disk_full (void)
{
  const gchar *pub_sets[] = { "record=true", NULL };
  Proc *relay, *pub, *v[2];
  gint64 t0, t_full;
  guint64 d[2], f[2];
  guint i, n_full;
  gchar *line;

  if (geteuid () != 0) {
    g_print ("SKIP record-disk-full: needs root to mount a small tmpfs "
        "(euid %d)\n", (int) geteuid ());
    tp_cleanup_tmp ();
    exit (77);
  }
  make_store_dir ();
  if (mount ("tmpfs", store_dir, "tmpfs", MS_NOSUID | MS_NODEV,
          "size=256k,mode=0700") != 0) {
    g_print ("SKIP record-disk-full: cannot mount a tmpfs on %s: %s\n",
        store_dir, g_strerror (errno));
    tp_cleanup_tmp ();
    exit (77);
  }
  mounted = store_dir;
  tp_fail_handler = unmount_on_fail;
  tp_note ("256 KiB tmpfs on %s", store_dir);

  relay = relay_with_store ("relay", 0);
  make_identity ("pub");
  pub = peer_start ("pub", "pub", relay, "pub", pub_sets, NULL);
  for (i = 0; i < 2; i++) {
    gchar *n = g_strdup_printf ("viewer%u", i + 1);

    make_identity (n);
    v[i] = peer_start (n, "view", relay, n, NULL, NULL);
    g_free (n);
  }
  wait_decoding (v, 2, 30, 20000);
  t0 = g_get_monotonic_time ();
  for (i = 0; i < 2; i++) {
    d[i] = proc_discont (v[i]);
    f[i] = proc_frames (v[i]);
  }

  /* the publisher's ~250 kbit/s fill 256 KiB in about 8 s */
  t_full = wait_any (relay, 0, full_words, 40000);
  tp_check (t_full >= 0, "the relay logged nothing about the full disk "
      "within 40 s of recording onto a 256 KiB tmpfs");
  line = find_any (relay, 0, full_words, NULL);
  tp_note ("relay: %s", line);
  tp_check (strstr (line, store_dir) != NULL, "the disk-full line does not "
      "name the store's path %s: %s", store_dir, line);
  g_free (line);

  /* live goes on, untouched, for 5 s after the failure */
  check_rate (v, 2, 5000, 0.8);
  /* Said once, not once per chunk: the store's line and the relay's
   * summary of it (recording stopped for every stream), then silence. */
  g_free (find_any (relay, 0, full_words, &n_full));
  tp_check (n_full <= 2, "the relay logged the full disk %u times (once, "
      "then recording stops)", n_full);
  g_free (find_any (relay, t_full + 2 * G_USEC_PER_SEC, full_words, &n_full));
  tp_check (n_full == 0, "the relay still logs the full disk %u times "
      "after the first line (recording must stop)", n_full);
  for (i = 0; i < 2; i++) {
    guint64 got = proc_frames (v[i]) - f[i];
    gint64 secs = (g_get_monotonic_time () - t0) / G_USEC_PER_SEC;

    check_no_restart (v[i]);
    tp_check (proc_discont (v[i]) == d[i], "%s: %" G_GUINT64_FORMAT
        " DISCONT buffers while the store failed (live viewers must get "
        "every frame)", v[i]->name, proc_discont (v[i]) - d[i]);
    tp_note ("%s: %" G_GUINT64_FORMAT " frames in %" G_GINT64_FORMAT
        " s, no DISCONT", v[i]->name, got, secs);
  }
  check_no_restart (pub);
  tp_check (!relay->eof, "the relay died");

  for (i = 0; i < 2; i++)
    peer_quit (v[i]);
  peer_quit (pub);
  relay_stop (relay);
  g_print ("record-disk-full: disk full at +%.1f s, logged once (store + relay), 2 live "
      "viewers kept every frame\n", (t_full - t0) / 1e6);
  for (i = 0; i < 2; i++)
    proc_free (v[i]);
  proc_free (pub);
  proc_free (relay);
  tp_check (umount2 (store_dir, 0) == 0, "umount %s: %s", store_dir,
      g_strerror (errno));
  mounted = NULL;
}

/* ------------------------------------------------------------------------ */

static const FaultTest tests[] = {
  {"record-kill", test_record_kill},
  {"record-kill-loop", test_record_kill_loop},
  {"record-flip", test_record_flip},
  {"record-disk-full", test_record_disk_full},
};

int
main (int argc, char **argv)
{
  guint i;

  if (argc != 2) {
    g_printerr ("test-recording-faults: name one test:");
    for (i = 0; i < G_N_ELEMENTS (tests); i++)
      g_printerr (" %s", tests[i].name);
    g_printerr ("\n");
    return 2;
  }
  if (!faults_setup ("test-recording-faults"))
    return 1;
  return faults_run ("test-recording-faults", tests, G_N_ELEMENTS (tests),
      argv[1]);
}
