/* gst-diode — the relay's recording side: what goes into --store
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A stream whose publisher sets RECORD (PUBLISH pubflags, protocol v3) is
 * written to the relay's store (gst/store/diode-store.h) chunk by chunk:
 * each ring chunk is handed over when the ring closes it (a newer chunk
 * began and holds MEDIA: one without is never stored, so the chunk before
 * waits, and at EOS takes the EOS frame), the open one when the stream
 * ends (with the EOS flag) or its session does. Handing over is diode_store_append(): a reference, no copy,
 * queued to the store's writer thread, so the I/O thread never waits for a
 * disk. When that queue is over its bound:
 *   - a live stream loses the chunk from its recording (never from its
 *     viewers) and the next chunk stored says DISCONT;
 *   - an upload (UPLOAD: a file published at full speed) keeps the chunk
 *     and its publisher is not read (EPOLLIN off) until the queue drained,
 *     so the store paces the upload and nothing is lost.
 * The publisher hears about durable progress with STORED (at most once
 * every 5 seconds, after diode_store_sync) and, after its EOS, STORED final
 * at once.
 *
 * What the relay knows of each stored stream (RelayRec, one per name key,
 * kept for the relay's life) is loaded at start from diode_store_list, so
 * a stored name keeps its owner across restarts (another identity's
 * PUBLISH is refused, 102) and a new run goes on after the stored last
 * seq. A stored stream whose meta the store could not read (quarantined,
 * diode_store_key_state) has no known owner: its name is refused to every
 * publisher and, as a stored stream nobody may see, to every viewer. The
 * store failing to open or later (disk full, unwritable) stops recording
 * only: live fan-out is not touched, PUBLISH_OK says UNAVAILABLE. Runs on the relay's I/O thread unless it says otherwise.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* STORED progress at most this often per stream (design section 3 said a
 * second; every STORED costs the writer an fdatasync of the stream's
 * segment, 100 a second for 100 recorded streams: docs/performance.md,
 * Recordings). The first STORED of a run and STORED final go at once. */
#define STORED_INTERVAL_US  (5 * G_USEC_PER_SEC)
/* A paused upload is looked at this often for room in the store queue. */
#define UPLOAD_RETRY_MS     10

struct _RelayRec {
  DiodeRelay *relay;
  gchar      *key;              /* diode_name_key() of the name */
  DiodeStoreMeta meta;          /* as in the store */
  gboolean    meta_ok;          /* FALSE: stored, but its meta could not
                                   be read: its owner is unknown and every
                                   PUBLISH of it is refused (fail closed) */
  gboolean    known;            /* begun in the store (this run or an
                                   earlier one) */
  Stream     *stream;           /* recorded now (a RECORD publisher) */
  gboolean    upload;
  Conn       *conn;             /* publisher told STORED; kept after its
                                   EOS for STORED final (cleared when the
                                   connection goes) */
  DiodeChunk *open;             /* the ring's newest chunk, not handed over
                                   yet (a ref) */
  guint64     open_wall_us;     /* when its first frame came */
  DiodeRingCrc open_crc;        /* CRC of its frames so far, kept up as
                                   they come (still in cache) */
  gboolean    discont;          /* a chunk was lost: the next one says so */
  DiodeStoredChunk *pending;    /* upload: refused by a full queue */
  guint64     last_seq;         /* highest seq stored or queued */
  guint64     stored_seq;       /* highest durable seq (last sync) */
  guint64     stored_bytes;
  guint64     dropped;          /* chunks lost from the recording */
  gboolean    sync_busy;        /* a diode_store_sync is under way */
  gboolean    sync_again;       /* more appended since: sync once more */
  gboolean    want_final;       /* EOS handed over: the next sync is final */
  gint64      stored_at;        /* monotonic µs of the last sync asked */
};

typedef struct {
  DiodeRelay *relay;
  gboolean    final;
} SyncData;

static void rec_request_sync (RelayRec * rec, gboolean force);

static void
rec_free (gpointer data)
{
  RelayRec *rec = data;

  if (rec->conn)
    rec->conn->rec = NULL;
  if (rec->stream)
    rec->stream->rec = NULL;
  g_clear_pointer (&rec->open, diode_chunk_unref);
  g_clear_pointer (&rec->pending, diode_stored_chunk_unref);
  diode_store_meta_clear (&rec->meta);
  g_free (rec->key);
  g_free (rec);
}

static RelayRec *
rec_get (DiodeRelay * r, const gchar * key)
{
  RelayRec *rec = g_hash_table_lookup (r->recordings, key);

  if (rec)
    return rec;
  rec = g_new0 (RelayRec, 1);
  rec->relay = r;
  rec->key = g_strdup (key);
  rec->meta_ok = TRUE;
  g_hash_table_insert (r->recordings, rec->key, rec);
  return rec;
}

/* The highest seq held in the store, from its index (in memory). */
static guint64
store_last_seq (DiodeStore * st, const gchar * key)
{
  DiodeSpan *spans = g_new0 (DiodeSpan, DIODE_MAX_SPANS);
  guint n = diode_store_get_spans (st, key, spans, DIODE_MAX_SPANS);
  guint64 last = 0;
  guint i;

  for (i = 0; i < n; i++)
    last = MAX (last, spans[i].last_seq);
  g_free (spans);
  return last;
}

/* ------------------------------------------------------------------------ */
/* start and stop (diode-relay.c) */

/* Opens --store in the caller's thread, before the I/O thread starts. A
 * store that cannot be opened is logged and the relay runs without it. */
void
relay_record_start (DiodeRelay * r)
{
  DiodeStoreLimits limits = { 0 };
  GError *err = NULL;
  gchar **keys;
  guint i;

  g_clear_pointer (&r->store_error, g_free);
  r->store_failed_logged = FALSE;
  r->recordings = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      rec_free);
  if (!r->store_dir || !*r->store_dir)
    return;
  limits.max_seconds = r->store_seconds;
  limits.max_bytes = r->store_bytes;
  limits.queue_bytes = r->store_queue_bytes;
  r->store = diode_store_open (r->store_dir, &limits, &err);
  if (!r->store) {
    r->store_error = g_strdup (err->message);
    g_warning ("store %s cannot be used, nothing is recorded (live "
        "streams are not affected): %s", r->store_dir, err->message);
    g_error_free (err);
    return;
  }
  keys = diode_store_list (r->store);
  for (i = 0; keys && keys[i]; i++) {
    RelayRec *rec = rec_get (r, keys[i]);

    rec->known = TRUE;
    if (!diode_store_get_meta (r->store, keys[i], &rec->meta)) {
      /* The name's owner is unknown: nobody may publish it. */
      rec->meta_ok = FALSE;
      g_warning ("store %s: stored stream '%s' has no readable meta: "
          "nobody may publish that name until it is removed",
          r->store_dir, keys[i]);
    }
    rec->last_seq = rec->stored_seq = store_last_seq (r->store, keys[i]);
  }
  g_message ("store %s: %u stored streams, %" G_GUINT64_FORMAT " bytes "
      "(keep %" G_GUINT64_FORMAT " s, %" G_GUINT64_FORMAT " bytes; 0 = no "
      "limit)", r->store_dir, keys ? g_strv_length (keys) : 0,
      diode_store_get_bytes (r->store), r->store_seconds, r->store_bytes);
  g_strfreev (keys);
}

/* Hands over what every recorded stream holds, then closes the store
 * (its writer flushes and joins). Runs after the I/O thread stopped and
 * before its context goes: sync callbacks the writer posts while closing
 * land on a context that still exists, and are dropped with it. */
void
relay_record_stop (DiodeRelay * r)
{
  GHashTableIter it;
  gpointer v;

  if (r->rec_retry_source) {
    g_source_destroy (r->rec_retry_source);
    g_clear_pointer (&r->rec_retry_source, g_source_unref);
  }
  if (r->streams) {
    g_hash_table_iter_init (&it, r->streams);
    while (g_hash_table_iter_next (&it, NULL, &v))
      if (((Stream *) v)->rec)
        relay_record_detach (v);
  }
  /* ended uploads whose last chunk still waits for room */
  if (r->recordings) {
    g_hash_table_iter_init (&it, r->recordings);
    while (g_hash_table_iter_next (&it, NULL, &v)) {
      RelayRec *rec = v;

      if (rec->pending && r->store
          && !diode_store_append (r->store, rec->key, rec->pending))
        g_warning ("'%s': last chunk of the upload not recorded (the "
            "store's queue is full at stop)", rec->meta.name);
      g_clear_pointer (&rec->pending, diode_stored_chunk_unref);
    }
  }
  if (r->store) {
    diode_store_close (r->store);
    r->store = NULL;
  }
  g_clear_pointer (&r->recordings, g_hash_table_unref);
}

/* ------------------------------------------------------------------------ */
/* lookups (diode-relay-replay.c, stats) */

gboolean
relay_record_lookup (DiodeRelay * r, const gchar * key, DiodeStoreMeta * out)
{
  RelayRec *rec = r->recordings ? g_hash_table_lookup (r->recordings, key) :
      NULL;

  if (!rec || !rec->known || !rec->meta_ok) {
    /* Its directory is there, its meta is not readable: stored, and
     * refused to everyone (fail closed), not "not stored", which would
     * let the name be looked for elsewhere or its viewers wait for it. */
    if (!r->store || diode_store_key_state (r->store, key, NULL) !=
        DIODE_STORE_KEY_QUARANTINED)
      return FALSE;
    if (out) {
      memset (out, 0, sizeof (*out));
      out->access = RELAY_ACCESS_UNREADABLE;
    }
    return TRUE;
  }
  if (out) {
    memset (out, 0, sizeof (*out));
    out->name = g_strdup (rec->meta.name);
    out->owner = g_strdup (rec->meta.owner);
    out->access = rec->meta.access;
    out->fleet = g_strdup (rec->meta.fleet);
    out->allow = g_strdupv (rec->meta.allow);
    out->pubflags = rec->meta.pubflags;
    out->finished = rec->meta.finished;
  }
  return TRUE;
}

/* LIST (diode-relay-list.c): the name of every stored stream whose meta
 * is readable (an unreadable one has no name anybody may see: skipped,
 * fail closed); the count of stored streams looked at. */
guint
relay_record_foreach_name (DiodeRelay * r, RelayRecNameFunc func,
    gpointer user_data)
{
  GHashTableIter it;
  gpointer v;

  if (!r->store || !r->recordings)
    return 0;
  g_hash_table_iter_init (&it, r->recordings);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    RelayRec *rec = v;

    if (rec->known && rec->meta_ok && rec->meta.name)
      func (rec->meta.name, user_data);
  }
  return g_hash_table_size (r->recordings);
}

DiodeStoreState
relay_record_state (Stream * s)
{
  return s->rec ? DIODE_STORE_RECORDING : DIODE_STORE_NONE;
}

/* ------------------------------------------------------------------------ */
/* who may publish a stored name */

gchar *
relay_record_unreadable_why (DiodeRelay * r, const gchar * name)
{
  gchar *key, *dir = NULL, *why = NULL;

  if (!r->store || !name)
    return NULL;
  key = diode_name_key (name, NULL);
  if (key && diode_store_key_state (r->store, key, &dir) ==
      DIODE_STORE_KEY_QUARANTINED) {
    /* The peer is told which directory, not where the store lives on the
     * relay's disk (the operator's own log line at open has the full path). */
    gchar *base = g_path_get_basename (dir);

    why = g_strdup_printf ("the stored recording's metadata is unreadable: "
        "the relay operator must repair or remove streams/%s in the relay's "
        "store directory", base);
    g_free (base);
  }
  g_free (dir);
  g_free (key);
  return why;
}

gboolean
relay_record_owner_allows (DiodeRelay * r, const gchar * name,
    const gchar * owner, gchar ** why)
{
  gchar *key, *shown;
  RelayRec *rec;
  gboolean ok = TRUE;

  /* A stored stream whose meta is unreadable: its owner is unknown, so
   * nobody may publish its name (fail closed). */
  if ((*why = relay_record_unreadable_why (r, name)))
    return FALSE;
  if (!r->recordings || !g_hash_table_size (r->recordings))
    return TRUE;
  key = diode_name_key (name, NULL);
  rec = key ? g_hash_table_lookup (r->recordings, key) : NULL;
  if (!rec || !rec->known) {
    g_free (key);
    return TRUE;
  }
  shown = diode_name_escape (name);
  if (!rec->meta_ok) {
    *why = g_strdup_printf ("stream name '%s' is a recording stored on this "
        "relay whose owner cannot be read; nobody may publish it", shown);
    ok = FALSE;
  } else if (rec->meta.owner && (!owner
          || g_ascii_strcasecmp (rec->meta.owner, owner))) {
    *why = g_strdup_printf ("stream name '%s' is a recording stored on this "
        "relay for %s", shown, rec->meta.owner);
    ok = FALSE;
  }
  g_free (shown);
  g_free (key);
  return ok;
}

gboolean
relay_record_may_publish (Conn * c, const gchar * name, gchar ** why)
{
  return relay_record_owner_allows (c->relay, name, c->address, why);
}

/* ------------------------------------------------------------------------ */
/* the meta: name, owner, policy, flags */

static void
rec_fill_meta (RelayRec * rec, Stream * s, guint32 pubflags)
{
  gchar **allow = stream_allow_list (s);
  /* the name as first spelled stays (a later run may spell it otherwise) */
  gchar *name = rec->known && rec->meta.name ? g_strdup (rec->meta.name) :
      g_strdup (s->name);

  diode_store_meta_clear (&rec->meta);
  rec->meta.name = name;
  rec->meta.owner = g_strdup (s->owner);
  rec->meta.access = s->access;
  rec->meta.fleet = g_strdup (s->fleet ? s->fleet : "");
  rec->meta.allow = g_strdupv (allow);
  rec->meta.pubflags = pubflags;
  rec->meta.finished = FALSE;
  g_free (allow);
}

static void
rec_write_meta (RelayRec * rec)
{
  DiodeRelay *r = rec->relay;
  GError *err = NULL;

  if (!r->store)
    return;
  if (!diode_store_set_meta (r->store, rec->key, &rec->meta, &err)) {
    g_warning ("store %s: meta of '%s' not written: %s", r->store_dir,
        rec->meta.name, err->message);
    g_error_free (err);
  }
}

void
relay_record_policy (DiodeRelay * r, Stream * s)
{
  RelayRec *rec = s->rec;
  gchar **allow;

  if (!rec)
    return;
  allow = stream_allow_list (s);
  rec->meta.access = s->access;
  g_free (rec->meta.fleet);
  rec->meta.fleet = g_strdup (s->fleet ? s->fleet : "");
  g_strfreev (rec->meta.allow);
  rec->meta.allow = g_strdupv (allow);
  g_free (allow);
  rec_write_meta (rec);
}

/* ------------------------------------------------------------------------ */
/* STORED */

static void
rec_send_stored (RelayRec * rec, gboolean final)
{
  Conn *c = rec->conn;
  GError *err = NULL;

  if (!c || c->dead || c->phase != CONN_OPEN
      || diode_session_get_version (c->session) < DIODE_PROTOCOL_VERSION_STORE)
    return;
  /* the session says whether STORED may go (publishing, version 3) */
  if (!diode_session_sent (c->session, DIODE_MSG_STORED, 0, &err)) {
    g_debug ("no STORED to %s: %s", c->peer, err->message);
    g_error_free (err);
    return;
  }
  conn_queue (c, diode_msg_encode_stored (rec->stored_seq, rec->stored_bytes,
          final));
  conn_flush (c);
}

static void
rec_synced (const gchar * key, guint64 last_seq, guint64 bytes,
    gpointer user_data)
{
  SyncData *d = user_data;
  DiodeRelay *r = d->relay;
  RelayRec *rec = r->recordings ? g_hash_table_lookup (r->recordings, key) :
      NULL;

  if (!rec)
    return;
  rec->sync_busy = FALSE;
  rec->stored_seq = MAX (rec->stored_seq, last_seq);
  rec->stored_bytes = bytes;
  rec_send_stored (rec, d->final);
  if (d->final) {
    g_info ("'%s' is stored up to its end (seq %" G_GUINT64_FORMAT ", %"
        G_GUINT64_FORMAT " bytes)", rec->meta.name, rec->stored_seq,
        rec->stored_bytes);
    if (rec->conn) {
      rec->conn->rec = NULL;
      rec->conn = NULL;
    }
  }
  if (rec->sync_again || rec->want_final)
    rec_request_sync (rec, rec->want_final);
}

/* Ask the store when what was queued so far is durable: STORED then. At
 * most one sync per stream at a time and, unless @force (EOS), one per
 * STORED_INTERVAL_US; relay_record_tick catches up what was held back. */
static void
rec_request_sync (RelayRec * rec, gboolean force)
{
  DiodeRelay *r = rec->relay;
  gint64 now = g_get_monotonic_time ();
  SyncData *d;

  if (!r->store)
    return;
  if (rec->sync_busy || rec->pending
      || (!force && now - rec->stored_at < STORED_INTERVAL_US)) {
    rec->sync_again = TRUE;
    return;
  }
  rec->sync_again = FALSE;
  rec->sync_busy = TRUE;
  rec->stored_at = now;
  d = g_new0 (SyncData, 1);
  d->relay = r;
  d->final = rec->want_final;
  rec->want_final = FALSE;
  diode_store_sync (r->store, rec->key, r->context, rec_synced, d, g_free);
}

/* ------------------------------------------------------------------------ */
/* handing chunks to the store */

static void
rec_set_paused (RelayRec * rec, gboolean paused)
{
  if (rec->conn && rec->conn->store_paused != paused)
    conn_set_store_paused (rec->conn, paused);
}

static gboolean rec_retry_cb (gpointer user_data);

static void
rec_arm_retry (DiodeRelay * r)
{
  if (r->rec_retry_source)
    return;
  r->rec_retry_source = g_timeout_source_new (UPLOAD_RETRY_MS);
  g_source_set_callback (r->rec_retry_source, rec_retry_cb, r, NULL);
  g_source_attach (r->rec_retry_source, r->context);
}

/* The store failed: recording stops for every stream (the store refuses
 * appends), live fan-out goes on. The store said why in one clear line
 * (path, strerror); this one is for --verbose only, so a full disk is one
 * line in the log, not two. */
static void
rec_store_failed (DiodeRelay * r)
{
  gchar *reason = NULL;

  if (r->store_failed_logged)
    return;
  r->store_failed_logged = TRUE;
  diode_store_is_healthy (r->store, &reason);
  g_info ("store %s failed (%s): recording stopped for every stream, live "
      "streams go on", r->store_dir, reason ? reason : "unknown error");
  g_free (reason);
}

static gboolean
store_usable (DiodeRelay * r)
{
  if (!r->store)
    return FALSE;
  if (!diode_store_is_healthy (r->store, NULL)) {
    rec_store_failed (r);
    return FALSE;
  }
  return TRUE;
}

/* Hand @sc over. TRUE if the store took it. */
static gboolean
rec_append (RelayRec * rec, DiodeStoredChunk * sc)
{
  DiodeRelay *r = rec->relay;

  if (!store_usable (r))
    return FALSE;
  if (diode_store_append (r->store, rec->key, sc)) {
    rec->last_seq = MAX (rec->last_seq, sc->hdr.last_seq);
    r->store_chunks++;
    return TRUE;
  }
  if (!diode_store_is_healthy (r->store, NULL))
    rec_store_failed (r);
  return FALSE;
}

/* @sc with @eos_frame (the stream's EOS frame, from a later ring chunk
 * that holds no MEDIA) as its last frame: counts, bytes and CRC follow.
 * FALSE (nothing changed) when the chunk has no room for one more frame
 * within the record limits. */
static gboolean
stored_chunk_add_eos (DiodeStoredChunk * sc, GBytes * eos_frame)
{
  gsize n = g_bytes_get_size (eos_frame);

  if (sc->hdr.n_frames >= DIODE_MAX_CHUNK_FRAMES
      || (guint64) sc->hdr.bytes + n > DIODE_MAX_CHUNK_BYTES)
    return FALSE;
  g_ptr_array_add (sc->frames, g_bytes_ref (eos_frame));
  sc->hdr.n_frames++;
  sc->hdr.bytes += n;
  sc->hdr.crc = diode_chunk_crc (sc->hdr.crc, eos_frame);
  return TRUE;
}

/* A chunk the ring is done with (or the open one at the end of a
 * session, @eos when it ends with the stream's EOS). @eos_frame: the EOS
 * frame came in a newer ring chunk without MEDIA (a continuation begun by
 * the EOS itself, or after a CAPS change), which is never stored on its
 * own (nothing in it to seek to): it goes at the end of this one, so the
 * last stored chunk ends with EOS as a finished recording must (its
 * replay viewers get the EOS frame, then the replay ends). */
static void
rec_chunk (RelayRec * rec, DiodeChunk * c, guint64 wall_us, gboolean eos,
    GBytes * eos_frame)
{
  DiodeRelay *r = rec->relay;
  DiodeStoredChunk *sc;

  /* A chunk without MEDIA (caps only) holds nothing to seek to. */
  if (!c->first_seq || !c->frames->len)
    return;
  sc = diode_stored_chunk_new_from_ring_crc (c, wall_us, rec->discont,
      c == rec->open ? &rec->open_crc : NULL);
  if (!sc)
    return;
  if (eos_frame && !stored_chunk_add_eos (sc, eos_frame))
    g_warning ("'%s': the recording's last chunk is full: its end is "
        "stored without the EOS frame", rec->meta.name);
  if (eos)
    sc->hdr.flags |= DIODE_CHUNK_EOS;
  if (rec->upload && rec->pending) {
    /* cannot happen: the publisher is not read while one waits */
    g_warning ("'%s': upload chunk while one waits for the store",
        rec->meta.name);
    diode_stored_chunk_unref (sc);
    return;
  }
  if (rec_append (rec, sc)) {
    rec->discont = FALSE;
    diode_stored_chunk_unref (sc);
    if (rec->upload && r->store_queue_bytes
        && diode_store_queued_bytes (r->store) >= r->store_queue_bytes) {
      /* Room left for nothing more: do not read the uploader until
       * the writer catches up. */
      r->store_pauses++;
      rec_set_paused (rec, TRUE);
      rec_arm_retry (r);
    }
    rec_request_sync (rec, FALSE);
    return;
  }
  if (rec->upload && r->store && diode_store_is_healthy (r->store, NULL)) {
    /* The queue is full: keep it, stop reading the uploader. */
    rec->pending = sc;
    r->store_pauses++;
    rec_set_paused (rec, TRUE);
    rec_arm_retry (r);
    return;
  }
  rec->discont = TRUE;
  rec->dropped++;
  r->store_dropped++;
  if (r->store && diode_store_is_healthy (r->store, NULL))
    relay_log (r, RELAY_LOG_STORE, "'%s': the store's write queue is full "
        "(%" G_GUINT64_FORMAT " bytes queued, bound %" G_GUINT64_FORMAT
        "): seqs %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT " are not "
        "recorded (live viewers get them)", rec->meta.name,
        diode_store_queued_bytes (r->store), r->store_queue_bytes,
        sc->hdr.first_seq, sc->hdr.last_seq);
  diode_stored_chunk_unref (sc);
}

/* A paused upload: its chunk in, and once the queue has room, read it
 * again. FALSE while it must stay paused. */
static gboolean
rec_retry (RelayRec * rec)
{
  DiodeRelay *r = rec->relay;

  if (rec->pending) {
    if (!rec_append (rec, rec->pending)) {
      if (store_usable (r))
        return FALSE;
      /* the store failed: the upload goes on unrecorded */
      g_clear_pointer (&rec->pending, diode_stored_chunk_unref);
      rec->dropped++;
      rec->discont = TRUE;
    } else {
      g_clear_pointer (&rec->pending, diode_stored_chunk_unref);
      rec->discont = FALSE;
      rec_request_sync (rec, rec->want_final);
    }
  }
  if (store_usable (r) && r->store_queue_bytes
      && diode_store_queued_bytes (r->store) >= r->store_queue_bytes)
    return FALSE;
  rec_set_paused (rec, FALSE);
  return TRUE;
}

static gboolean
rec_retry_cb (gpointer user_data)
{
  DiodeRelay *r = user_data;
  GHashTableIter it;
  gpointer v;
  gboolean waiting = FALSE;

  g_hash_table_iter_init (&it, r->recordings);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    RelayRec *rec = v;

    if ((rec->pending || (rec->conn && rec->conn->store_paused))
        && !rec_retry (rec))
      waiting = TRUE;
  }
  if (waiting)
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&r->rec_retry_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* After every frame a recorded stream's publisher sent: the ring's newest
 * chunk changed means the one before is closed: store it. */
void
relay_record_frame (DiodeRelay * r, Stream * s, gboolean eos)
{
  RelayRec *rec = s->rec;
  DiodeChunk *newest = diode_ring_newest_chunk (s->ring);
  GBytes *eos_frame = NULL;

  if (newest != rec->open) {
    /* A newer chunk without MEDIA yet (a continuation begun by a CAPS
     * change, or by the EOS itself): the one before is held back until
     * MEDIA comes, so that an EOS before any can still end it. */
    if (newest && !newest->first_seq && rec->open && rec->open->first_seq) {
      if (!eos)
        return;
      /* The EOS frame ends the newest chunk; the stored end is the held
       * chunk with it. */
      if (newest->frames->len) {
        GBytes *f = g_ptr_array_index (newest->frames,
            newest->frames->len - 1);

        if (g_bytes_get_size (f) > 0
            && ((const guint8 *) g_bytes_get_data (f, NULL))[0] ==
            DIODE_MSG_EOS)
          eos_frame = f;
      }
    } else {
      if (rec->open)
        rec_chunk (rec, rec->open, rec->open_wall_us, FALSE, NULL);
      g_clear_pointer (&rec->open, diode_chunk_unref);
      rec->open = newest ? diode_chunk_ref (newest) : NULL;
      rec->open_wall_us = g_get_real_time ();
      memset (&rec->open_crc, 0, sizeof rec->open_crc);
    }
  }
  if (rec->open && rec->open == newest)
    diode_ring_crc_update (&rec->open_crc, rec->open);
  if (!eos)
    return;
  /* The end: the open chunk (it ends with the EOS frame), then the
   * recording is finished and the publisher hears STORED final once all
   * of it is durable. */
  if (rec->open)
    rec_chunk (rec, rec->open, rec->open_wall_us, TRUE, eos_frame);
  g_clear_pointer (&rec->open, diode_chunk_unref);
  rec->meta.finished = TRUE;
  rec_write_meta (rec);
  rec->want_final = TRUE;
  rec_request_sync (rec, TRUE);
  rec->stream = NULL;
  s->rec = NULL;
  g_info ("'%s': recording finished", rec->meta.name);
}

/* The stream's session ends without EOS (a new publisher, the stream is
 * forgotten, the relay stops): what the ring still has open is stored as
 * it is, and the stream is no longer recorded. */
void
relay_record_detach (Stream * s)
{
  RelayRec *rec = s->rec;

  if (!rec)
    return;
  /* an upload's chunk waiting for room first (it is the older one), then
   * the open one; one more try for whichever the queue still refuses */
  if (rec->pending && rec_append (rec, rec->pending))
    g_clear_pointer (&rec->pending, diode_stored_chunk_unref);
  if (rec->open && !rec->pending)
    rec_chunk (rec, rec->open, rec->open_wall_us, FALSE, NULL);
  g_clear_pointer (&rec->open, diode_chunk_unref);
  if (rec->pending && !rec_append (rec, rec->pending))
    g_warning ("'%s': the end of the upload is not recorded (the store's "
        "queue is full)", rec->meta.name);
  g_clear_pointer (&rec->pending, diode_stored_chunk_unref);
  if (rec->relay->store)        /* its segment's fds go back now */
    diode_store_end (rec->relay->store, rec->key);
  rec_set_paused (rec, FALSE);
  if (rec->conn) {
    rec->conn->rec = NULL;
    rec->conn = NULL;
  }
  rec->stream = NULL;
  s->rec = NULL;
}

/* The connection is going: nothing more is sent to it. */
void
relay_record_conn_gone (Conn * c)
{
  RelayRec *rec = c->rec;

  if (rec && rec->conn == c)
    rec->conn = NULL;
  c->rec = NULL;
}

/* ------------------------------------------------------------------------ */
/* PUBLISH */

guint64
relay_record_next_seq (DiodeRelay * r, const gchar * name)
{
  gchar *key;
  RelayRec *rec;
  guint64 seq = 0;

  if (!r->recordings)
    return 0;
  key = diode_name_key (name, NULL);
  rec = key ? g_hash_table_lookup (r->recordings, key) : NULL;
  if (rec)
    seq = rec->last_seq + 1;
  g_free (key);
  return seq;
}

/* A publisher got @s (handle_publish, the policy set, before PUBLISH_OK):
 * start recording it if it asks and the store can. Returns the store
 * state PUBLISH_OK carries. */
DiodeStoreState
relay_record_publish (DiodeRelay * r, Stream * s, Conn * c, guint32 pubflags)
{
  GError *err = NULL;
  gchar *key;
  RelayRec *rec;

  relay_record_detach (s);
  if (!(pubflags & DIODE_PUBLISH_RECORD) || s->source != SOURCE_LOCAL)
    return DIODE_STORE_NONE;
  if (!r->store_dir || !*r->store_dir)
    return DIODE_STORE_NONE;
  if (!store_usable (r)) {
    relay_log (r, RELAY_LOG_STORE, "'%s' is not recorded: the store %s is "
        "unavailable (%s)", s->name, r->store_dir, r->store ? "failed, see "
        "above" : r->store_error ? r->store_error : "not open");
    return DIODE_STORE_UNAVAILABLE;
  }
  key = diode_name_key (s->name, NULL);
  if (!key)
    return DIODE_STORE_NONE;
  rec = rec_get (r, key);
  g_free (key);
  if (rec->stream)              /* another stream object: cannot be */
    relay_record_detach (rec->stream);
  /* a connection still waiting for an earlier run's STORED final */
  if (rec->conn) {
    rec->conn->rec = NULL;
    rec->conn = NULL;
  }
  rec_fill_meta (rec, s, pubflags);
  if (!diode_store_begin (r->store, rec->key, &rec->meta, &err)) {
    relay_log (r, RELAY_LOG_STORE, "'%s' is not recorded: %s", s->name,
        err->message);
    g_error_free (err);
    return DIODE_STORE_UNAVAILABLE;
  }
  rec->known = TRUE;
  rec->meta_ok = TRUE;
  rec->upload = (pubflags & DIODE_PUBLISH_UPLOAD) != 0;
  rec->stream = s;
  rec->conn = c;
  rec->want_final = FALSE;
  /* What the ring holds now belongs to no run of this publisher; the
   * first stored chunk of a run after a gap says so. */
  rec->discont = rec->last_seq != 0;
  c->rec = rec;
  s->rec = rec;
  g_clear_pointer (&rec->open, diode_chunk_unref);
  relay_log (r, RELAY_LOG_STORE, "'%s' is recorded to %s%s", s->name,
      r->store_dir, rec->upload ? " (upload: paced by the store)" : "");
  return DIODE_STORE_RECORDING;
}

/* ------------------------------------------------------------------------ */
/* timers and stats */

void
relay_record_tick (DiodeRelay * r, gint64 now)
{
  GHashTableIter it;
  gpointer v;

  if (!r->store || !r->recordings)
    return;
  g_hash_table_iter_init (&it, r->recordings);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    RelayRec *rec = v;

    if (rec->sync_again && !rec->sync_busy && !rec->pending
        && now - rec->stored_at >= STORED_INTERVAL_US)
      rec_request_sync (rec, FALSE);
  }
}

gchar *
relay_record_stats_text (Stream * s)
{
  RelayRec *rec = s->rec;

  if (!rec)
    return g_strdup ("");
  return g_strdup_printf (", recorded: stored up to seq %" G_GUINT64_FORMAT
      ", %" G_GUINT64_FORMAT " bytes, %" G_GUINT64_FORMAT " chunks lost",
      rec->stored_seq, rec->stored_bytes, rec->dropped);
}

void
relay_record_stats_stream (JsonBuilder * b, Stream * s)
{
  RelayRec *rec = s->rec;

  json_builder_set_member_name (b, "recording");
  json_builder_add_boolean_value (b, rec != NULL);
  json_builder_set_member_name (b, "stored_bytes");
  json_builder_add_int_value (b, rec ? rec->stored_bytes : 0);
  json_builder_set_member_name (b, "stored_seq");
  json_builder_add_int_value (b, rec ? rec->stored_seq : 0);
  json_builder_set_member_name (b, "store_dropped");
  json_builder_add_int_value (b, rec ? rec->dropped : 0);
}

/* Stored streams the relay knows of (begun now or listed at start). */
static guint
rec_count_known (DiodeRelay * r)
{
  GHashTableIter it;
  gpointer v;
  guint n = 0;

  if (!r->recordings)
    return 0;
  g_hash_table_iter_init (&it, r->recordings);
  while (g_hash_table_iter_next (&it, NULL, &v))
    n += ((RelayRec *) v)->known ? 1 : 0;
  return n;
}

void
relay_record_stats (JsonBuilder * b, DiodeRelay * r)
{
  gchar *reason = NULL;
  gboolean healthy;

  json_builder_set_member_name (b, "store");
  if (!r->store_dir || !*r->store_dir) {
    json_builder_add_null_value (b);
    return;
  }
  healthy = r->store && diode_store_is_healthy (r->store, &reason);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "dir");
  json_builder_add_string_value (b, r->store_dir);
  json_builder_set_member_name (b, "healthy");
  json_builder_add_boolean_value (b, healthy);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, healthy ? NULL : reason ? reason :
      r->store_error);
  json_builder_set_member_name (b, "bytes");
  json_builder_add_int_value (b, r->store ? diode_store_get_bytes (r->store)
      : 0);
  json_builder_set_member_name (b, "queued");
  json_builder_add_int_value (b, r->store ?
      diode_store_queued_bytes (r->store) : 0);
  json_builder_set_member_name (b, "streams");
  json_builder_add_int_value (b, rec_count_known (r));
  json_builder_set_member_name (b, "chunks");
  json_builder_add_int_value (b, r->store_chunks);
  json_builder_set_member_name (b, "dropped");
  json_builder_add_int_value (b, r->store_dropped);
  json_builder_set_member_name (b, "pauses");
  json_builder_add_int_value (b, r->store_pauses);
  json_builder_end_object (b);
  g_free (reason);
}
