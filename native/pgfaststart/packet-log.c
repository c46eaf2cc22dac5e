/*
 * packet-log.c: pgfaststart's packet log of one stream. A sentinel transport (TCP, unused
 * channels) added to the stream records, by reference, the RTP packets TCP readers get, in
 * their order, cut at keyframes; a pad probe on the stream's src pad (the gate) records the
 * last sequence number that went past and, while closed, holds the payloader's thread.
 */
#include "faststart.h"

/* Only a random-access slice makes a keyframe: parameter sets alone do not (pushgate puts
 * them before the first, non-key, frame of a new pipeline). The access unit is still cut at
 * its first packet, so the parameter sets that precede the slice are primed too. */
gboolean
h264_nal_is_key (guint8 type)
{
  return type == 5;             /* IDR slice */
}

gboolean
h265_nal_is_key (guint8 type)
{
  return type >= 16 && type <= 21;      /* IRAP: BLA, IDR, CRA */
}

gboolean
payload_is_key (Codec codec, const guint8 * p, gsize n)
{
  gsize off;

  if (codec == CODEC_AUDIO)
    return FALSE;
  if (codec == CODEC_H264) {
    guint8 type;
    if (n < 1)
      return FALSE;
    type = p[0] & 0x1f;
    if (type == 24) {           /* STAP-A: 16-bit sizes after a 1-byte header */
      for (off = 1; off + 2 < n;) {
        gsize sz = (p[off] << 8) | p[off + 1];
        if (sz == 0 || off + 2 + sz > n)
          break;
        if (h264_nal_is_key (p[off + 2] & 0x1f))
          return TRUE;
        off += 2 + sz;
      }
      return FALSE;
    }
    if (type == 28 || type == 29)       /* FU-A/B: only the start fragment names the type */
      return n >= 2 && (p[1] & 0x80) && h264_nal_is_key (p[1] & 0x1f);
    return h264_nal_is_key (type);
  } else {
    guint8 type;
    if (n < 2)
      return FALSE;
    type = (p[0] >> 1) & 0x3f;
    if (type == 48) {           /* AP: 2-byte header, then 16-bit sizes (no DONL from rtph265pay) */
      for (off = 2; off + 2 < n;) {
        gsize sz = (p[off] << 8) | p[off + 1];
        if (sz == 0 || off + 2 + sz > n)
          break;
        if (h265_nal_is_key ((p[off + 2] >> 1) & 0x3f))
          return TRUE;
        off += 2 + sz;
      }
      return FALSE;
    }
    if (type == 49)             /* FU */
      return n >= 3 && (p[2] & 0x80) && h265_nal_is_key (p[2] & 0x3f);
    return h265_nal_is_key (type);
  }
}

/* What the log needs of an RTP packet (RFC 3550 5.1), read without mapping its payload: the
 * payloaders put the RTP header (with the FU or aggregation bytes) in one memory and the NAL
 * data in another, and mapping the payload merges them into a fresh copy, for every packet.
 * Only aggregation packets (STAP-A, AP: a few small ones per keyframe) are read whole. */
gboolean
packet_info (Codec codec, GstBuffer * buf, guint16 * seq, guint32 * ts, gboolean * marker,
    gboolean * key)
{
  gsize size = gst_buffer_get_size (buf), off, end = size, n;
  guint8 h[12], p[3];

  if (gst_buffer_extract (buf, 0, h, 12) != 12 || (h[0] >> 6) != 2)
    return FALSE;
  off = 12 + 4 * (h[0] & 0x0f);
  if (h[0] & 0x20) {            /* padding: its last byte says how much */
    guint8 pad = 0;
    if (gst_buffer_extract (buf, size - 1, &pad, 1) != 1 || pad > size)
      return FALSE;
    end -= pad;
  }
  if (h[0] & 0x10) {            /* a header extension: 4 bytes, then 32-bit words */
    guint8 x[4];
    if (gst_buffer_extract (buf, off, x, 4) != 4)
      return FALSE;
    off += 4 + 4 * GST_READ_UINT16_BE (x + 2);
  }
  if (off > end)
    return FALSE;
  *seq = GST_READ_UINT16_BE (h + 2);
  *ts = GST_READ_UINT32_BE (h + 4);
  *marker = (h[1] & 0x80) != 0;
  *key = FALSE;
  if (codec == CODEC_AUDIO)
    return TRUE;
  n = gst_buffer_extract (buf, off, p, MIN (sizeof p, end - off));
  if ((codec == CODEC_H264 && n >= 1 && (p[0] & 0x1f) == 24)
      || (codec == CODEC_H265 && n >= 2 && ((p[0] >> 1) & 0x3f) == 48)) {
    gpointer whole = NULL;
    gsize whole_size = 0;
    gst_buffer_extract_dup (buf, off, end - off, &whole, &whole_size);
    *key = payload_is_key (codec, whole, whole_size);
    g_free (whole);
  } else {
    *key = payload_is_key (codec, p, n);
  }
  return TRUE;
}

/* Drops entries before `serial` (and the keyframe marks that point into them). */
void
log_drop_before (StreamLog * log, guint64 serial)
{
  while (log->base < serial && log_count (log) > 0) {
    Entry *e = log_entry (log, log->base);
    log->bytes_held -= e->size;
    gst_buffer_unref (e->buf);
    e->buf = NULL;
    log->head++;
    log->base++;
  }
  while (log->keys->len > 0 && g_array_index (log->keys, guint64, 0) < log->base)
    g_array_remove_index (log->keys, 0);
  /* Compact now and then, so the array does not grow without bound. */
  if (log->head > 1024 && log->head * 2 > log->entries->len) {
    g_array_remove_range (log->entries, 0, log->head);
    log->head = 0;
  }
}

void
log_clear (StreamLog * log)
{
  log_drop_before (log, log_end (log));
  log->have_last = FALSE;
}

/* Keeps at most max-gops GOPs and max-log-bytes (whole GOPs only); audio: AUDIO_WINDOW. */
void
log_trim (StreamLog * log)
{
  PgFastStart *fs = log->fs;

  if (log->codec == CODEC_AUDIO) {
    GstClockTime newest = log_entry (log, log_end (log) - 1)->pts;
    while (log_count (log) > 1 && (log->bytes_held > fs->max_log_bytes / 4
            || (GST_CLOCK_TIME_IS_VALID (newest)
                && GST_CLOCK_TIME_IS_VALID (log_entry (log, log->base)->pts)
                && newest - log_entry (log, log->base)->pts > AUDIO_WINDOW)))
      log_drop_before (log, log->base + 1);
    return;
  }

  while (log->keys->len > MAX (fs->max_gops, 1))
    log_drop_before (log, g_array_index (log->keys, guint64, 1));
  while (log->bytes_held > fs->max_log_bytes && log->keys->len > 1)
    log_drop_before (log, g_array_index (log->keys, guint64, 1));
  if (log->bytes_held > fs->max_log_bytes) {
    /* One GOP larger than the cap: nothing to prime from until the next keyframe. */
    log_clear (log);
  }
}

/* On the stream's send thread, without the stream lock, once per RTP packet. */
void
log_append (StreamLog * log, GstBuffer * buf)
{
  guint16 seq;
  guint32 ts;
  gboolean marker, key, new_au;
  Entry e;

  if (!packet_info (log->codec, buf, &seq, &ts, &marker, &key))
    return;

  g_mutex_lock (&log->lock);
  if (log->detached)
    goto done;

  new_au = !log->have_last || ts != log->last_ts || log->last_marker;
  if (new_au && log->codec != CODEC_AUDIO) {
    /* Before the first keyframe nothing is worth keeping. */
    if (log->keys->len == 0)
      log_clear (log);
    log->au_start = log_end (log);
    log->au_key = FALSE;
  }

  e.buf = gst_buffer_ref (buf);
  e.size = gst_buffer_get_size (buf);
  e.bytes_before = log->bytes_total;
  e.seq = seq;
  e.rtptime = ts;
  e.pts = GST_BUFFER_PTS (buf);
  e.key = FALSE;
  g_array_append_val (log->entries, e);
  log->bytes_total += e.size;
  log->bytes_held += e.size;

  if (key && log->codec != CODEC_AUDIO && !log->au_key && log->au_start >= log->base) {
    log->au_key = TRUE;
    log_entry (log, log->au_start)->key = TRUE;
    g_array_append_val (log->keys, log->au_start);
  }
  log_trim (log);

  log->have_last = TRUE;
  log->last_ts = ts;
  log->last_marker = marker;
  log->have_logged = TRUE;
  log->last_logged = seq;
  log->send_thread = g_thread_self ();
  if (log->waiters)
    g_cond_broadcast (&log->cond);
done:
  g_mutex_unlock (&log->lock);
}

/* Tells the stream the sentinel's message went out, as a client's watch does. The stream's
 * send thread takes one appsink (RTCP first) per wake-up and sleeps until the next sample or
 * message-sent: when RTCP and RTP samples came together and nothing but the sentinel sends,
 * the RTP appsink stayed full and stalled the stream (gst-rtsp-server's send_func). */
void
sentinel_sent (StreamLog * log)
{
  GstRTSPStreamTransport *sentinel;

  g_mutex_lock (&log->lock);
  sentinel = log->sentinel ? g_object_ref (log->sentinel) : NULL;
  g_mutex_unlock (&log->lock);
  if (sentinel) {
    gst_rtsp_stream_transport_message_sent (sentinel);
    g_object_unref (sentinel);
  }
}

gboolean
sentinel_send (GstBuffer * buf, guint8 channel, gpointer user_data)
{
  if (channel == SENTINEL_CHANNEL)      /* RTP; RTCP comes on channel + 1 and is ignored */
    log_append (user_data, buf);
  sentinel_sent (user_data);
  return TRUE;
}

gboolean
sentinel_send_list (GstBufferList * list, guint8 channel, gpointer user_data)
{
  guint i, n = gst_buffer_list_length (list);

  if (channel == SENTINEL_CHANNEL)
    for (i = 0; i < n; i++)
      log_append (user_data, gst_buffer_list_get (list, i));
  sentinel_sent (user_data);
  return TRUE;
}

/* Where an aborted reader's transport sends while it waits to be removed: nowhere. */
gboolean
discard_send (GstBuffer * buf, guint8 channel, gpointer user_data)
{
  return TRUE;
}

gboolean
discard_send_list (GstBufferList * list, guint8 channel, gpointer user_data)
{
  return TRUE;
}

gboolean
last_seq_of (GstPadProbeInfo * info, guint16 * seq)
{
  GstBuffer *buf = NULL;
  guint8 b[2];

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
    buf = GST_PAD_PROBE_INFO_BUFFER (info);
  else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    guint n = gst_buffer_list_length (list);
    if (n > 0)
      buf = gst_buffer_list_get (list, n - 1);
  }
  if (!buf || gst_buffer_extract (buf, 2, b, 2) != 2)
    return FALSE;
  *seq = (b[0] << 8) | b[1];
  return TRUE;
}

/* On the payloader's streaming thread. */
GstPadProbeReturn
gate_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  StreamLog *log = user_data;
  guint16 seq;

  g_mutex_lock (&log->lock);
  if (log->gate_closers > 0 && !log->detached && !log->gate_forced_open) {
    gint64 deadline = g_get_monotonic_time () + GATE_MAX_HOLD_US;
    log->waiters++;
    while (log->gate_closers > 0 && !log->detached) {
      if (!g_cond_wait_until (&log->cond, &log->lock, deadline)) {
        /* Never hold live data longer: let it (and what follows, without waiting again)
         * through, and tell whoever closed the gate. */
        log->gate_overruns++;
        log->gate_forced_open = TRUE;
        GST_WARNING ("gate held for %d ms: letting packets through",
            (int) (GATE_MAX_HOLD_US / 1000));
        break;
      }
    }
    log->waiters--;
  }
  if (last_seq_of (info, &seq)) {
    log->have_passed = TRUE;
    log->last_passed = seq;
  }
  g_mutex_unlock (&log->lock);
  return GST_PAD_PROBE_OK;
}

/* With log->lock: every packet that went past the gate is in the log and, once UDP readers
 * are watched, at the udpsink. */
gboolean
is_quiescent (StreamLog * log)
{
  if (!log->have_passed)
    return TRUE;
  if (!log->have_logged || log->last_logged != log->last_passed)
    return FALSE;
  return !log->udp_pad || (log->have_udp_seen && log->last_udp_seen == log->last_passed);
}

/* With log->lock. Waits until is_quiescent. */
gboolean
wait_quiescent (StreamLog * log)
{
  gint64 deadline = g_get_monotonic_time () + QUIESCE_WAIT_US;
  gboolean ok = TRUE;

  log->waiters++;
  while (!log->detached && !is_quiescent (log)) {
    if (!g_cond_wait_until (&log->cond, &log->lock, deadline)) {
      ok = FALSE;
      break;
    }
  }
  log->waiters--;
  return ok && !log->detached;
}

void
gate_close (StreamLog * log)
{
  log->gate_closers++;
}

void
gate_open (StreamLog * log)
{
  if (log->gate_closers > 0)
    log->gate_closers--;
  if (log->gate_closers == 0)
    log->gate_forced_open = FALSE;
  if (log->waiters)
    g_cond_broadcast (&log->cond);
}

StreamLog *
log_ref (StreamLog * log)
{
  g_atomic_int_inc (&log->refcount);
  return log;
}

void
log_unref (gpointer data)
{
  StreamLog *log = data;

  if (!g_atomic_int_dec_and_test (&log->refcount))
    return;
  GST_DEBUG ("log of stream %p freed", log->stream);
  log_clear (log);
  g_array_unref (log->entries);
  g_array_unref (log->keys);
  g_mutex_clear (&log->lock);
  g_cond_clear (&log->cond);
  gst_clear_object (&log->srcpad);
  gst_clear_object (&log->udp_pad);
  g_object_unref (log->stream);
  gst_object_unref (log->fs);
  g_free (log);
}

gboolean
stream_codec (GstRTSPStream * stream, Codec * codec, guint * clock_rate)
{
  GstCaps *caps = gst_rtsp_stream_get_caps (stream);
  const gchar *enc, *media;
  GstStructure *s;
  gboolean ok = FALSE;
  gint rate = 90000;

  if (!caps)
    return FALSE;
  s = gst_caps_get_structure (caps, 0);
  media = gst_structure_get_string (s, "media");
  enc = gst_structure_get_string (s, "encoding-name");
  gst_structure_get_int (s, "clock-rate", &rate);
  if (media && g_str_equal (media, "audio")) {
    *codec = CODEC_AUDIO;
    ok = TRUE;
  } else if (media && enc && g_str_equal (media, "video")) {
    if (g_ascii_strcasecmp (enc, "H264") == 0) {
      *codec = CODEC_H264;
      ok = TRUE;
    } else if (g_ascii_strcasecmp (enc, "H265") == 0) {
      *codec = CODEC_H265;
      ok = TRUE;
    }
  }
  *clock_rate = rate > 0 ? rate : 90000;   /* only used for video */
  gst_caps_unref (caps);
  return ok;
}

StreamLog *
log_install (PgFastStart * fs, GstRTSPStream * stream)
{
  StreamLog *log;
  GstRTSPTransport *tr;
  Codec codec;
  guint clock_rate;

  if (!stream_codec (stream, &codec, &clock_rate))
    return NULL;

  log = g_new0 (StreamLog, 1);
  log->refcount = 1;
  log->fs = gst_object_ref (fs);
  log->stream = g_object_ref (stream);
  log->codec = codec;
  log->clock_rate = clock_rate;
  g_mutex_init (&log->lock);
  g_cond_init (&log->cond);
  log->entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  log->keys = g_array_new (FALSE, FALSE, sizeof (guint64));

  gst_rtsp_transport_new (&tr);
  tr->trans = GST_RTSP_TRANS_RTP;
  tr->profile = GST_RTSP_PROFILE_AVP;
  tr->lower_transport = GST_RTSP_LOWER_TRANS_TCP;
  tr->interleaved.min = SENTINEL_CHANNEL;
  tr->interleaved.max = SENTINEL_CHANNEL + 1;
  /* A stream only builds its TCP sender part for a TCP transport: make sure it exists. */
  if (!gst_rtsp_stream_complete_stream (stream, tr)) {
    GST_WARNING ("stream %p cannot send over TCP: no fast start", stream);
    gst_rtsp_transport_free (tr);
    log_unref (log);
    return NULL;
  }
  log->sentinel = gst_rtsp_stream_transport_new (stream, tr);
  /* The transport's finalize releases the data of set_callbacks, when nothing can call it
   * any more, but never that of set_list_callbacks: that one holds no ref of its own. */
  gst_rtsp_stream_transport_set_callbacks (log->sentinel, sentinel_send,
      sentinel_send, log_ref (log), log_unref);
  gst_rtsp_stream_transport_set_list_callbacks (log->sentinel,
      sentinel_send_list, sentinel_send_list, log, NULL);
  if (!gst_rtsp_stream_add_transport (stream, log->sentinel)) {
    g_clear_object (&log->sentinel);
    log_unref (log);
    return NULL;
  }
  log->srcpad = gst_rtsp_stream_get_srcpad (stream);
  if (log->srcpad)
    log->probe_id = gst_pad_add_probe (log->srcpad,
        GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, gate_probe,
        log_ref (log), log_unref);
  GST_INFO ("fast start on stream %p (%s)", stream,
      codec == CODEC_H264 ? "H.264" : codec == CODEC_H265 ? "H.265" : "audio");
  return log;
}

void
log_detach (StreamLog * log)
{
  GstRTSPStreamTransport *sentinel;

  g_mutex_lock (&log->lock);
  log->detached = TRUE;
  log->gate_closers = 0;
  g_cond_broadcast (&log->cond);
  log_clear (log);
  sentinel = g_steal_pointer (&log->sentinel);  /* sentinel_sent reads it under the lock */
  g_mutex_unlock (&log->lock);
  if (log->srcpad && log->probe_id)
    gst_pad_remove_probe (log->srcpad, log->probe_id);
  log->probe_id = 0;
  if (log->udp_pad && log->udp_probe_id)
    gst_pad_remove_probe (log->udp_pad, log->udp_probe_id);
  log->udp_probe_id = 0;
  if (sentinel) {
    gst_rtsp_stream_remove_transport (log->stream, sentinel);
    g_object_unref (sentinel);
  }
}

StreamLog *
find_log (GPtrArray * logs, GstRTSPStream * stream)
{
  guint i;

  for (i = 0; i < logs->len; i++) {
    StreamLog *log = g_ptr_array_index (logs, i);
    if (log->stream == stream)
      return log;
  }
  return NULL;
}

/* With log->lock, the log quiescent: the keyframe to prime from, or FALSE for live. */
gboolean
choose_start (StreamLog * log, guint64 * start)
{
  PgFastStart *fs = log->fs;
  gint i;
  gboolean found = FALSE;
  guint32 last_ts;

  if (log->keys->len == 0 || log_count (log) == 0)
    return FALSE;
  last_ts = log_entry (log, log_end (log) - 1)->rtptime;
  /* Newest keyframe with enough history (ffmpeg probes ~20 frames before it shows one);
   * else the oldest that fits the byte cap. */
  for (i = log->keys->len - 1; i >= 0; i--) {
    guint64 k = g_array_index (log->keys, guint64, i);
    Entry *e = log_entry (log, k);
    guint64 bytes = log->bytes_total - e->bytes_before;
    gint32 ticks = (gint32) (last_ts - e->rtptime);
    guint64 history_ms = ticks > 0 ? (guint64) ticks * 1000 / log->clock_rate : 0;

    if (bytes > fs->max_prime_bytes)
      break;
    *start = k;
    found = TRUE;
    if (history_ms >= fs->min_history_ms)
      break;
  }
  return found;
}

/* With log->lock, the log quiescent: the first audio packet at or after `pts` (the video
 * keyframe's running time), or FALSE when there is none to send. */
gboolean
choose_audio_start (StreamLog * log, GstClockTime pts, guint64 * start)
{
  guint64 k = log_end (log);

  while (k > log->base && GST_CLOCK_TIME_IS_VALID (log_entry (log, k - 1)->pts)
      && log_entry (log, k - 1)->pts >= pts)
    k--;
  *start = k;
  return k < log_end (log);
}

/* With log->lock: closes the gate and waits until nothing is in flight; FALSE (gate open
 * again) when that did not happen in time. */
gboolean
gate_close_quiet (StreamLog * log)
{
  gate_close (log);
  if (wait_quiescent (log) && !log->gate_forced_open)
    return TRUE;
  if (!log->detached)
    g_atomic_int_inc (&log->fs->fallbacks);
  gate_open (log);
  return FALSE;
}
