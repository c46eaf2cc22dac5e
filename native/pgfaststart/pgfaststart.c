/* pgfaststart: fast start for late RTSP readers (TCP and unicast UDP) of a shared
 * gst-rtsp-server 1.22 media.
 *
 * The element carries no pads: it is a GObject that the application creates once and gives
 * its GstRTSPServer. Everything that runs per packet or per RTSP signal is here, in C, because
 * under node-gtk a JavaScript handler would make GStreamer and RTSP threads wait for Node.
 * See ../shared/design/fast-start.md (the mechanism) and README.md (how pushgate uses it).
 *
 * Per stream of a media (H.264/H.265 video; audio, which is primed from the video keyframe's
 * running time so both tracks start together):
 *  - a "sentinel" GstRTSPStreamTransport (TCP, unused channels) added to the stream records,
 *    by reference, the RTP packets TCP readers get, in their order, cut at keyframes (and
 *    reports each message sent, as a client does: the stream's send thread relies on that);
 *  - a pad probe on the stream's src pad (the "gate") records the last sequence number that
 *    went past and, while closed, holds the payloader's thread (at most GATE_MAX_HOLD_US).
 * Per late TCP PLAY: pre-play-request closes the gate and waits until the sentinel has what
 * went past; send-message rewrites RTP-Info to the first packet that will be primed;
 * play-request takes the reader's transport out of the live fan-out, reopens the gate and
 * sends the logged packets from a keyframe on through the reader's own transport, one chunk
 * per message-sent; the last chunk is sent with the gate closed and the log quiescent, and
 * the transport goes back to the fan-out, so live packets follow at exactly the next seq.
 * Per late UDP PLAY the same, except that all UDP readers of a stream share one multiudpsink
 * (gst-rtsp-server's udpsink[0], on a branch of its own after the tee): play-request takes the
 * reader out of it, a thread of the prime's own sends the logged packets to the reader's RTP
 * port through the stream's own RTP socket (the reader sees one sender), paced, and the
 * hand-over also waits until the udpsink has taken every packet that went past the gate
 * (a probe on its sink pad, watched from the first packet it saw) and sent it (an idle probe
 * on its queue's pad), so the packets it sends the reader once it is back are new ones.
 *
 * A media is held (one prepare count, its streams logged) from its first PLAY, or, when the
 * application asks ("warm" action, at go-live), from before any reader: then it is constructed
 * on the application's thread and prepared, set playing and held on a thread of its own, so
 * even a stream's first reader is primed. A held media's TCP sink sends without waiting on the
 * clock, as its udpsink does (media_send_unsynced).
 *
 * Lock order: StreamLog.lock -> gst-rtsp-server's stream/client locks. We never take a
 * StreamLog lock while holding a gst-rtsp-server lock we know of (the sentinel callbacks run
 * without the stream lock; message-sent runs without the client's send lock), and never
 * hold a StreamLog lock across a send (a send may call message-sent synchronously).
 */
#include "pushgate.h"
#include <string.h>


GST_DEBUG_CATEGORY_STATIC (pgfs_debug);
#define GST_CAT_DEFAULT pgfs_debug

/* Longest a gate may hold the payloader, and longest we wait for quiescence. */
#define GATE_MAX_HOLD_US (100 * G_TIME_SPAN_MILLISECOND)
#define QUIESCE_WAIT_US (100 * G_TIME_SPAN_MILLISECOND)
/* A stream's first UDP reader waits this long for a packet to reach the new udpsink. */
#define UDP_FIRST_SEEN_WAIT_US (500 * G_TIME_SPAN_MILLISECOND)
/* UDP priming has no flow control: UDP_CHUNK_PACKETS every UDP_PACE_US, about 45 Mbit/s with
 * 1.4 kB packets. The keyframe, first, arrives within milliseconds; a 2 s GOP of 4.5 Mbit/s
 * takes 0.2 s. A reader that stops reading for 20 ms still loses nothing from a 208 kB socket
 * buffer (Linux's default), and the bursts stay short for the networks in between. */
#define UDP_CHUNK_PACKETS 8
#define UDP_PACE_US (2 * G_TIME_SPAN_MILLISECOND)
/* Channels nobody uses: the sentinel never sends anything anywhere. */
#define SENTINEL_CHANNEL 250

/* Audio is primed from the time of the video keyframe, so that both tracks start together. */
typedef enum { CODEC_H264, CODEC_H265, CODEC_AUDIO } Codec;

/* How much audio a log keeps: more than max-gops GOPs of usual lengths. */
#define AUDIO_WINDOW (10 * GST_SECOND)

typedef struct
{
  GstBuffer *buf;
  guint64 bytes_before;         /* log bytes appended before this packet, ever */
  GstClockTime pts;             /* running time (set by the payloader) */
  guint32 rtptime;
  guint32 size;
  guint16 seq;
  gboolean key;                 /* first packet of a keyframe access unit */
} Entry;

typedef struct _PgFastStart PgFastStart;
typedef struct _StreamLog StreamLog;
typedef struct _Prime Prime;

typedef enum { PRIME_PENDING, PRIME_PRIMING, PRIME_DONE, PRIME_ABORTED } PrimeState;

struct _Prime
{
  gint refcount;
  StreamLog *log;
  GstRTSPStreamTransport *trans;
  gchar *url;                   /* RTP-Info url= of this stream for this reader */
  PrimeState state;
  guint64 next;                 /* serial of the next log entry to send */
  guint16 start_seq;
  guint32 start_rtptime;
  guint gate_overruns;          /* log->gate_overruns when the gate closed for us */
  gboolean busy, again;         /* pump re-entrancy (message-sent may fire inside a send) */
  gboolean counted;             /* counted in log->active_primes */
  gboolean out_of_stream;       /* we took the transport out of the live fan-out */
  gboolean msf_set;             /* our message-sent callback (holding a ref) is installed */
  /* UDP readers: where their RTP goes, and the socket it goes from (the stream's own). */
  GSocket *udp_socket;
  GSocketAddress *udp_dest;
};

struct _StreamLog
{
  gint refcount;
  PgFastStart *fs;              /* strong ref */
  GstRTSPStream *stream;        /* strong ref */
  GstRTSPStreamTransport *sentinel;
  GstPad *srcpad;
  gulong probe_id;
  Codec codec;
  guint clock_rate;

  GMutex lock;
  GCond cond;
  guint waiters;
  gboolean detached;

  GArray *entries;              /* Entry; valid from index head */
  guint head;
  guint64 base;                 /* serial of entries[head] */
  GArray *keys;                 /* guint64 serials of keyframe starts, oldest first */
  guint64 bytes_total;          /* ever appended */
  guint64 bytes_held;

  gboolean have_last;
  guint32 last_ts;
  gboolean last_marker;
  guint64 au_start;
  gboolean au_key;

  guint gate_closers;
  guint gate_overruns;
  gboolean gate_forced_open;    /* overrun: stays open until every closer has reopened it */
  gboolean have_passed, have_logged;
  guint16 last_passed, last_logged;

  guint active_primes;
  GThread *send_thread;         /* the stream's TCP send thread, as seen by the sentinel */

  /* The stream's RTP multiudpsink, watched from the first UDP reader's PLAY: what reached it. */
  GstPad *udp_pad;
  gulong udp_probe_id;
  gboolean have_udp_seen;
  guint16 last_udp_seen;
  guint udp_idle_serial;        /* bumped each time the udpsink was seen out of its chain */
};

typedef struct
{
  GstRTSPMedia *media;          /* strong ref; we also hold one prepare count */
  GPtrArray *logs;              /* StreamLog* */
} MediaRec;

struct _PgFastStart
{
  GstElement parent;
  GMutex lock;                  /* servers, medias */
  GPtrArray *servers;           /* GstRTSPServer* (strong refs): plain RTSP and RTSPS share medias */
  GHashTable *medias;           /* GstRTSPMedia* -> MediaRec* */

  /* tunables (read without lock: plain words) */
  guint max_gops;
  guint min_history_ms;
  guint64 max_prime_bytes;
  guint64 max_log_bytes;
  guint max_concurrent;
  guint chunk_packets;

  gint primed_joins, live_joins, fallbacks, completed, active, warmed, warm_failures;
};

typedef struct
{
  GstElementClass parent_class;
} PgFastStartClass;

GType pg_fast_start_get_type (void);
G_DEFINE_TYPE (PgFastStart, pg_fast_start, GST_TYPE_ELEMENT);
#define PG_FAST_START(o) ((PgFastStart *) (o))

enum
{
  PROP_0, PROP_SERVER, PROP_ADD_SERVER, PROP_RELEASE_MEDIA, PROP_DETACH, PROP_MAX_GOPS, PROP_MIN_HISTORY_MS,
  PROP_MAX_PRIME_BYTES, PROP_MAX_LOG_BYTES, PROP_MAX_CONCURRENT, PROP_CHUNK_PACKETS,
  PROP_PRIMED_JOINS, PROP_LIVE_JOINS, PROP_FALLBACKS, PROP_COMPLETED, PROP_ACTIVE,
  PROP_LOG_BYTES, PROP_WARMED, PROP_WARM_FAILURES
};

enum
{
  SIGNAL_WARM,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static GQuark client_quark, released_quark, unsynced_quark;

/* ---------- keyframe detection on RTP payloads ---------- */

/* Only a random-access slice makes a keyframe: parameter sets alone do not (pushgate puts
 * them before the first, non-key, frame of a new pipeline). The access unit is still cut at
 * its first packet, so the parameter sets that precede the slice are primed too. */
static gboolean
h264_nal_is_key (guint8 type)
{
  return type == 5;             /* IDR slice */
}

static gboolean
h265_nal_is_key (guint8 type)
{
  return type >= 16 && type <= 21;      /* IRAP: BLA, IDR, CRA */
}

static gboolean
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
static gboolean
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

/* ---------- the log ---------- */

static inline guint
log_count (StreamLog * log)
{
  return log->entries->len - log->head;
}

static inline guint64
log_end (StreamLog * log)
{
  return log->base + log_count (log);
}

static inline Entry *
log_entry (StreamLog * log, guint64 serial)
{
  return &g_array_index (log->entries, Entry, log->head + (guint) (serial - log->base));
}

/* Drops entries before `serial` (and the keyframe marks that point into them). */
static void
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

static void
log_clear (StreamLog * log)
{
  log_drop_before (log, log_end (log));
  log->have_last = FALSE;
}

/* Keeps at most max-gops GOPs and max-log-bytes (whole GOPs only); audio: AUDIO_WINDOW. */
static void
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
static void
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
static void
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

static gboolean
sentinel_send (GstBuffer * buf, guint8 channel, gpointer user_data)
{
  if (channel == SENTINEL_CHANNEL)      /* RTP; RTCP comes on channel + 1 and is ignored */
    log_append (user_data, buf);
  sentinel_sent (user_data);
  return TRUE;
}

static gboolean
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
static gboolean
discard_send (GstBuffer * buf, guint8 channel, gpointer user_data)
{
  return TRUE;
}

static gboolean
discard_send_list (GstBufferList * list, guint8 channel, gpointer user_data)
{
  return TRUE;
}

/* ---------- the gate ---------- */

static gboolean
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
static GstPadProbeReturn
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
static gboolean
is_quiescent (StreamLog * log)
{
  if (!log->have_passed)
    return TRUE;
  if (!log->have_logged || log->last_logged != log->last_passed)
    return FALSE;
  return !log->udp_pad || (log->have_udp_seen && log->last_udp_seen == log->last_passed);
}

/* With log->lock. Waits until is_quiescent. */
static gboolean
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

static void
gate_close (StreamLog * log)
{
  log->gate_closers++;
}

static void
gate_open (StreamLog * log)
{
  if (log->gate_closers > 0)
    log->gate_closers--;
  if (log->gate_closers == 0)
    log->gate_forced_open = FALSE;
  if (log->waiters)
    g_cond_broadcast (&log->cond);
}

/* ---------- UDP readers ---------- */

static StreamLog *log_ref (StreamLog * log);
static void log_unref (gpointer data);

/* On the udpsink's streaming thread. */
static GstPadProbeReturn
udp_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  StreamLog *log = user_data;
  guint16 seq;

  if (!last_seq_of (info, &seq))
    return GST_PAD_PROBE_OK;
  g_mutex_lock (&log->lock);
  log->have_udp_seen = TRUE;
  log->last_udp_seen = seq;
  if (log->waiters)
    g_cond_broadcast (&log->cond);
  g_mutex_unlock (&log->lock);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
udp_idle_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  StreamLog *log = user_data;

  g_mutex_lock (&log->lock);
  log->udp_idle_serial++;
  if (log->waiters)
    g_cond_broadcast (&log->cond);
  g_mutex_unlock (&log->lock);
  return GST_PAD_PROBE_REMOVE;
}

/* With log->lock (dropped meanwhile), the gate closed and the log quiescent: waits until the
 * udpsink is out of its chain function too. Seeing a packet (udp_probe) comes before sending
 * it: a reader added to the udpsink before that send is over would get it again, after what
 * we sent it ourselves. The idle probe goes on the pad that pushes into the udpsink (its
 * queue's): on a sink pad GStreamer calls an idle probe at once, chain or not. FALSE after
 * QUIESCE_WAIT_US. */
static gboolean
wait_udp_idle (StreamLog * log)
{
  guint serial = log->udp_idle_serial;
  gint64 deadline = g_get_monotonic_time () + QUIESCE_WAIT_US;
  GstPad *pad = log->udp_pad ? gst_pad_get_peer (log->udp_pad) : NULL;
  gboolean ok = TRUE;

  if (!pad)
    return TRUE;                /* unlinked: nothing reaches the udpsink */
  /* Called at once, from here, when the pad is idle now: without our lock. */
  g_mutex_unlock (&log->lock);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_IDLE, udp_idle_probe, log_ref (log), log_unref);
  g_mutex_lock (&log->lock);
  log->waiters++;
  while (log->udp_idle_serial == serial && !log->detached) {
    if (!g_cond_wait_until (&log->cond, &log->lock, deadline)) {
      ok = FALSE;
      break;
    }
  }
  log->waiters--;
  gst_object_unref (pad);
  return ok && !log->detached;
}

/* The elements `factory` made in `media`'s pipeline (gst-rtsp-server's sinks live there, beside
 * the media's element), as a new array of refs; empty without a pipeline. */
static GPtrArray *
media_elements (GstRTSPMedia * media, const gchar * factory)
{
  GstElement *element = gst_rtsp_media_get_element (media);
  GstObject *pipeline = element ? gst_object_get_parent (GST_OBJECT (element)) : NULL;
  GPtrArray *found = g_ptr_array_new_with_free_func (gst_object_unref);
  GstIterator *it;
  GValue item = G_VALUE_INIT;

  if (element)
    gst_object_unref (element);
  if (GST_IS_BIN (pipeline)) {
    it = gst_bin_iterate_all_by_element_factory_name (GST_BIN (pipeline), factory);
    while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
      g_ptr_array_add (found, g_value_dup_object (&item));
      g_value_reset (&item);
    }
    g_value_unset (&item);
    gst_iterator_free (it);
  }
  gst_clear_object (&pipeline);
  return found;
}

/* The multiudpsink of `media` that sends from `socket`: udpsink[0] of the stream. */
static GstElement *
find_udpsink (GstRTSPMedia * media, GSocket * socket)
{
  GPtrArray *sinks = media_elements (media, "multiudpsink");
  GstElement *found = NULL;
  guint i;

  for (i = 0; i < sinks->len && !found; i++) {
    GstElement *sink = g_ptr_array_index (sinks, i);
    GSocket *v4 = NULL, *v6 = NULL;
    g_object_get (sink, "socket", &v4, "socket-v6", &v6, NULL);
    if (v4 == socket || v6 == socket)
      found = gst_object_ref (sink);
    g_clear_object (&v4);
    g_clear_object (&v6);
  }
  g_ptr_array_unref (sinks);
  return found;
}

/* With log->lock and the gate open: waits until the udpsink has seen a packet. What passed the
 * gate before its branch was linked never reaches it, and what is queued before it (the queue
 * holds a whole frame's list) has not been seen yet: only from a packet the udpsink saw on
 * does every later packet past the gate reach it too, so that quiescence can wait for the
 * last one. FALSE (the reader joins live) when no packet came within UDP_FIRST_SEEN_WAIT_US. */
static gboolean
wait_udp_first_seen (StreamLog * log)
{
  gint64 deadline = g_get_monotonic_time () + UDP_FIRST_SEEN_WAIT_US;

  log->waiters++;
  while (!log->have_udp_seen && !log->detached)
    if (!g_cond_wait_until (&log->cond, &log->lock, deadline))
      break;
  log->waiters--;
  return log->have_udp_seen && !log->detached;
}

/* Without log->lock: from now on, what reaches the stream's udpsink counts for quiescence.
 * FALSE (the reader joins live) when there is no udpsink or no packet reached it. */
static gboolean
udp_watch (StreamLog * log, GstRTSPMedia * media, GstRTSPStreamTransport * trans,
    GSocket * socket)
{
  GstElement *sink;
  GstPad *pad;
  gboolean watched;

  g_mutex_lock (&log->lock);
  watched = log->udp_pad != NULL && wait_udp_first_seen (log);
  g_mutex_unlock (&log->lock);
  if (watched)
    return TRUE;
  /* A stream's first UDP reader: its udpsink is made when the PLAY completes the pipeline,
   * after pre-play-request. Complete it now (the same call, which does nothing twice). */
  if (!(sink = find_udpsink (media, socket))
      && gst_rtsp_stream_complete_stream (log->stream,
          gst_rtsp_stream_transport_get_transport (trans)))
    sink = find_udpsink (media, socket);
  if (!sink)
    return FALSE;
  pad = gst_element_get_static_pad (sink, "sink");
  gst_object_unref (sink);
  if (!pad)
    return FALSE;
  g_mutex_lock (&log->lock);
  if (!log->udp_pad && !log->detached) {
    log->udp_pad = gst_object_ref (pad);
    log->have_udp_seen = FALSE;
    log->udp_probe_id = gst_pad_add_probe (pad,
        GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, udp_probe, log_ref (log),
        log_unref);
  }
  watched = log->udp_pad != NULL && wait_udp_first_seen (log);
  g_mutex_unlock (&log->lock);
  gst_object_unref (pad);
  return watched;
}

/* Where a UDP reader's RTP goes and the stream socket it goes from; FALSE if unknown. */
static gboolean
udp_route (GstRTSPStreamTransport * trans, GSocket ** socket, GSocketAddress ** dest)
{
  const GstRTSPTransport *tr = gst_rtsp_stream_transport_get_transport (trans);
  GInetAddress *address;

  if (!tr->destination || tr->client_port.min <= 0)
    return FALSE;
  address = g_inet_address_new_from_string (tr->destination);
  if (!address)
    return FALSE;
  *socket = gst_rtsp_stream_get_rtp_socket (gst_rtsp_stream_transport_get_stream (trans),
      g_inet_address_get_family (address));
  *dest = *socket ? g_inet_socket_address_new (address, tr->client_port.min) : NULL;
  g_object_unref (address);
  return *socket != NULL;
}

/* ---------- lifetimes ---------- */

static StreamLog *
log_ref (StreamLog * log)
{
  g_atomic_int_inc (&log->refcount);
  return log;
}

static void
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

static Prime *
prime_ref (Prime * p)
{
  g_atomic_int_inc (&p->refcount);
  return p;
}

static void
prime_unref (gpointer data)
{
  Prime *p = data;

  if (!g_atomic_int_dec_and_test (&p->refcount))
    return;
  g_object_unref (p->trans);
  log_unref (p->log);
  g_clear_object (&p->udp_socket);
  g_clear_object (&p->udp_dest);
  g_free (p->url);
  g_free (p);
}

/* With log->lock: drops our message-sent callback (and the ref it holds). The transport's
 * finalize would not: it only clears the non-"full" callback. */
static void
prime_release_msf (Prime * p)
{
  if (p->msf_set) {
    p->msf_set = FALSE;
    gst_rtsp_stream_transport_set_message_sent_full (p->trans, NULL, NULL, NULL);
  }
}

/* With log->lock: the prime no longer counts against the concurrency cap. */
static void
prime_finish (Prime * p, PrimeState state)
{
  p->state = state;
  if (p->counted) {
    p->counted = FALSE;
    p->log->active_primes--;
    g_atomic_int_add (&p->log->fs->active, -1);
  }
  if (state == PRIME_ABORTED)
    prime_release_msf (p);
}

/* With log->lock: puts the transport back into the stream's live fan-out; the stream
 * installs its own message-sent callback, which releases ours. */
static void
prime_go_live (Prime * p)
{
  if (p->out_of_stream && !p->log->detached) {
    gst_rtsp_stream_add_transport (p->log->stream, p->trans);
    p->out_of_stream = FALSE;
    p->msf_set = FALSE;
  }
  prime_release_msf (p);
}

/* ---------- installing on a media ---------- */

static gboolean
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

static StreamLog *
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

static void
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

static void
media_rec_free (MediaRec * rec)
{
  guint i;

  for (i = 0; i < rec->logs->len; i++)
    log_detach (g_ptr_array_index (rec->logs, i));
  g_ptr_array_unref (rec->logs);
  /* Our prepare count goes last: the sentinels must leave the streams first. */
  gst_rtsp_media_unprepare (rec->media);
  g_object_unref (rec->media);
  g_free (rec);
}

/* ---------- no clock wait before TCP readers ---------- */

/* gst-rtsp-server syncs its RTP appsink (the TCP readers' branch) to the clock, and sets that
 * again at every PLAY ("rate control", on unless a client says Rate-Control: no). pushgate's
 * ingest already releases each unit in real time, with a smooth timestamp up to a few ms ahead:
 * the clock wait only made the streaming thread sleep once more for most frames (about 20
 * times a second per stream, measured) and held TCP readers back by those ms, while UDP
 * readers (udpsink sync=false) never waited. The rest of rate control (RTCP SR timestamps,
 * payloader timing) is left as gst-rtsp-server sets it. */
static void
sync_changed (GObject * sink, GParamSpec * pspec, gpointer user_data)
{
  gboolean sync = FALSE;

  g_object_get (sink, "sync", &sync, NULL);
  if (sync)
    g_object_set (sink, "sync", FALSE, NULL);
}

static void
media_send_unsynced (GstRTSPMedia * media)
{
  GPtrArray *sinks = media_elements (media, "appsink");
  guint i;

  for (i = 0; i < sinks->len; i++) {
    GObject *sink = g_ptr_array_index (sinks, i);
    if (!g_object_get_qdata (sink, unsynced_quark)) {
      g_object_set_qdata (sink, unsynced_quark, GINT_TO_POINTER (1));
      g_signal_connect (sink, "notify::sync", G_CALLBACK (sync_changed), NULL);
      g_object_set (sink, "sync", FALSE, NULL);
    }
  }
  g_ptr_array_unref (sinks);
}

/* With fs->lock held: holds @media, whose prepare count the caller has taken for us, and logs
 * the packets of each of its streams. */
static MediaRec *
media_hold_locked (PgFastStart * fs, GstRTSPMedia * media)
{
  MediaRec *rec = g_new0 (MediaRec, 1);
  guint i, n;

  rec->media = g_object_ref (media);
  rec->logs = g_ptr_array_new_with_free_func (log_unref);
  n = gst_rtsp_media_n_streams (media);
  for (i = 0; i < n; i++) {
    StreamLog *log = log_install (fs, gst_rtsp_media_get_stream (media, i));
    if (log)
      g_ptr_array_add (rec->logs, log);
  }
  /* after log_install: the sentinels made the streams' TCP sinks */
  media_send_unsynced (media);
  g_hash_table_insert (fs->medias, media, rec);
  return rec;
}

/* On a client thread, with the media lock held, at a PLAY. A media that was not warmed at
 * go-live ("warm") is held from its first PLAY: then it is prepared and its streams joined,
 * and the extra prepare count we take keeps it running, and its log warm, after that first
 * reader leaves.
 * Returns a new array holding refs to the media's stream logs (they stay valid even if the
 * application releases the media meanwhile), or NULL. */
static GPtrArray *
media_ensure (PgFastStart * fs, GstRTSPMedia * media)
{
  MediaRec *rec;
  GPtrArray *logs = NULL;
  guint i;

  g_mutex_lock (&fs->lock);
  rec = g_hash_table_lookup (fs->medias, media);
  if (!rec && fs->servers->len > 0 && !g_object_get_qdata (G_OBJECT (media), released_quark)
      && gst_rtsp_media_prepare (media, NULL))
    rec = media_hold_locked (fs, media);
  if (rec) {
    logs = g_ptr_array_new_with_free_func (log_unref);
    for (i = 0; i < rec->logs->len; i++)
      g_ptr_array_add (logs, log_ref (g_ptr_array_index (rec->logs, i)));
  }
  g_mutex_unlock (&fs->lock);
  return logs;
}

/* ---------- warming a media at go-live ---------- */

typedef struct
{
  PgFastStart *fs;              /* strong refs */
  GstRTSPMedia *media;
  GstRTSPThreadPool *pool;
} Warm;

/* On a thread of its own: gst_rtsp_media_prepare waits until every stream has a packet, and
 * the application that asked for the warm-up (on its own thread) is what brings them. */
static gpointer
warm_run (gpointer data)
{
  Warm *w = data;
  PgFastStart *fs = w->fs;
  GstRTSPThread *thread;
  gboolean held = FALSE;

  /* The media's bus is watched on a media thread of the server's pool, as for a DESCRIBE. */
  thread = gst_rtsp_thread_pool_get_thread (w->pool, GST_RTSP_THREAD_TYPE_MEDIA, NULL);
  if (thread && gst_rtsp_media_prepare (w->media, thread)) {
    g_mutex_lock (&fs->lock);
    if (fs->servers->len > 0 && !g_object_get_qdata (G_OBJECT (w->media), released_quark)
        && !g_hash_table_contains (fs->medias, w->media)) {
      media_hold_locked (fs, w->media);
      held = TRUE;
    }
    g_mutex_unlock (&fs->lock);
    if (held) {
      /* A prepared live media keeps its streams blocked until a PLAY, queueing stale data
       * in its appsrc: let it run now, into the logs just installed. */
      gst_rtsp_media_set_pipeline_state (w->media, GST_STATE_PLAYING);
      g_atomic_int_inc (&fs->warmed);
    } else {
      gst_rtsp_media_unprepare (w->media);
    }
  }
  GST_DEBUG ("warm-up of media %p: %s", w->media, held ? "held" : "not held");
  if (!held)
    g_atomic_int_inc (&fs->warm_failures);
  g_object_unref (w->pool);
  g_object_unref (w->media);
  gst_object_unref (w->fs);
  g_free (w);
  return NULL;
}

/* On the application's thread (the factory's create-element may be JavaScript, which must
 * run there): constructs the shared media of @path so that the first DESCRIBE finds it, and
 * prepares and holds it on a thread of its own, so the first PLAY is primed like any other.
 * Call it before the factory is mounted: construct takes the factory's medias lock, which an
 * RTSP client thread holds while its own construct waits for that JavaScript create-element,
 * so from the application's thread it deadlocks if a reader is constructing meanwhile. */
static gboolean
warm (PgFastStart * fs, GstRTSPMediaFactory * factory, const gchar * path)
{
  GstRTSPThreadPool *pool = NULL;
  GstRTSPMedia *media = NULL;
  GstRTSPUrl *url = NULL;
  GError *error = NULL;
  GThread *thread;
  gchar *uri;
  Warm *w;

  if (!GST_IS_RTSP_MEDIA_FACTORY (factory) || !path || path[0] != '/')
    return FALSE;
  g_mutex_lock (&fs->lock);
  if (fs->servers->len > 0)
    pool = gst_rtsp_server_get_thread_pool (g_ptr_array_index (fs->servers, 0));
  g_mutex_unlock (&fs->lock);
  if (!pool)
    return FALSE;
  uri = g_strconcat ("rtsp://127.0.0.1", path, NULL);
  if (gst_rtsp_url_parse (uri, &url) == GST_RTSP_OK)
    media = gst_rtsp_media_factory_construct (factory, url);
  g_free (uri);
  if (url)
    gst_rtsp_url_free (url);
  if (!media || !gst_rtsp_media_is_shared (media)) {
    g_clear_object (&media);
    g_object_unref (pool);
    return FALSE;
  }
  w = g_new0 (Warm, 1);
  w->fs = gst_object_ref (fs);
  w->media = media;
  w->pool = pool;
  thread = g_thread_try_new ("pgwarm", warm_run, w, &error);
  if (!thread) {
    GST_WARNING ("no thread to warm media %p: %s", media, error->message);
    g_error_free (error);
    gst_object_unref (w->fs);
    g_object_unref (w->media);
    g_object_unref (w->pool);
    g_free (w);
    return FALSE;
  }
  g_thread_unref (thread);
  return TRUE;
}

static StreamLog *
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

/* ---------- priming ---------- */

typedef struct
{
  GPtrArray *pending;           /* Prime*, between pre-play-request and play-request */
} ClientRec;

static void
client_rec_free (gpointer data)
{
  ClientRec *rec = data;
  g_ptr_array_unref (rec->pending);
  g_free (rec);
}

/* With log->lock, the log quiescent: the keyframe to prime from, or FALSE for live. */
static gboolean
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

static void prime_pump (Prime * p);

static void
prime_message_sent (GstRTSPStreamTransport * trans, gpointer user_data)
{
  prime_pump (user_data);
}

/* With log->lock (dropped around the send): sends entries [p->next, end), at most `max`.
 * FALSE when the client refused them; p->next is then back where it was. The client refuses
 * a send while another data message of the channel is queued, which happens when a
 * message-sent of an RTCP packet (sent before we took the transport out of the fan-out)
 * pumps us while our chunk is still queued: the chunk's own message-sent follows. */
static gboolean
send_chunk (Prime * p, guint max)
{
  StreamLog *log = p->log;
  guint64 end = log_end (log);
  GstBufferList *list = gst_buffer_list_new_sized (MIN (max, 64));
  guint n;
  gboolean ok = TRUE;

  while (p->next < end && gst_buffer_list_length (list) < max) {
    gst_buffer_list_add (list, gst_buffer_ref (log_entry (log, p->next)->buf));
    p->next++;
  }
  n = gst_buffer_list_length (list);
  if (n > 0) {
    g_mutex_unlock (&log->lock);
    ok = gst_rtsp_stream_transport_send_rtp_list (p->trans, list);
    g_mutex_lock (&log->lock);
    if (!ok)
      p->next -= n;
  }
  gst_buffer_list_unref (list);
  return ok;
}

static gboolean udp_send_chunk (Prime * p, guint max);

/* With log->lock: TRUE when the prime ended here, because the log is gone, or because the reader
 * fell behind it (then it joins live at once, with a gap its jitterbuffer will see). */
static gboolean
prime_ended_early (Prime * p)
{
  StreamLog *log = p->log;

  if (log->detached) {
    prime_finish (p, PRIME_ABORTED);
    return TRUE;
  }
  if (p->next < log->base) {
    GST_WARNING ("reader fell behind the log: joining live");
    g_atomic_int_inc (&log->fs->fallbacks);
    prime_go_live (p);
    prime_finish (p, PRIME_DONE);
    return TRUE;
  }
  return FALSE;
}

/* With log->lock (dropped while waiting and sending): the tail. With the gate closed and
 * nothing in flight (to the log, and for UDP to the udpsink), what we send now and the live
 * packets after the transport is back are exactly contiguous. A TCP client that refuses the
 * send leaves the prime as it was: its next message-sent tries again. */
static void
prime_hand_over (Prime * p)
{
  StreamLog *log = p->log;
  PgFastStart *fs = log->fs;
  gboolean udp = p->udp_socket != NULL, quiet, sent;
  guint overruns;

  gate_close (log);
  overruns = log->gate_overruns;
  quiet = wait_quiescent (log) && (!udp || wait_udp_idle (log)) && !log->gate_forced_open;
  /* The lock was dropped while waiting: the reader may have left meanwhile. */
  if (log->detached || p->state != PRIME_PRIMING) {
    gate_open (log);
    if (p->state == PRIME_PRIMING)
      prime_finish (p, PRIME_ABORTED);
    return;
  }
  sent = udp ? udp_send_chunk (p, G_MAXUINT) : send_chunk (p, G_MAXUINT);
  if ((!sent && !udp) || p->state != PRIME_PRIMING) {
    gate_open (log);
    return;
  }
  if (!sent || log->gate_overruns != overruns)
    quiet = FALSE;
  if (!quiet) {
    /* Something is stuck between the payloader and the senders: go live anyway. */
    GST_WARNING ("no quiescence for the hand-over: joining live, maybe with a gap");
    g_atomic_int_inc (&fs->fallbacks);
  } else {
    g_atomic_int_inc (&fs->completed);
  }
  /* The gate is still closed (we hold it): no packet arrived since the tail was taken. */
  prime_go_live (p);
  prime_finish (p, PRIME_DONE);
  gate_open (log);
}

/* One step: a chunk, or the hand-over to live. With log->lock (dropped around sends).
 * A refused send just waits for the next message-sent; if the client is going away, its
 * session media's weak ref ends the prime. */
static void
prime_step (Prime * p)
{
  StreamLog *log = p->log;
  PgFastStart *fs = log->fs;

  if (p->state != PRIME_PRIMING || prime_ended_early (p))
    return;
  if (log_end (log) - p->next >= fs->chunk_packets) {
    send_chunk (p, fs->chunk_packets);
    return;
  }
  prime_hand_over (p);
}

static void
prime_pump (Prime * p)
{
  StreamLog *log = p->log;

  prime_ref (p);
  g_mutex_lock (&log->lock);
  if (g_thread_self () == log->send_thread) {
    /* The message-sent of an RTCP packet the stream sent this reader before we took it out of
     * the fan-out. Not ours (ours come from the client's watch or from within our own send),
     * and the hand-over must not wait for quiescence on the very thread that logs. */
    g_mutex_unlock (&log->lock);
    prime_unref (p);
    return;
  }
  if (p->busy) {
    /* A send inside prime_step completed at once and told us so. */
    p->again = TRUE;
    g_mutex_unlock (&log->lock);
    prime_unref (p);
    return;
  }
  p->busy = TRUE;
  do {
    p->again = FALSE;
    prime_step (p);
  } while (p->again && p->state == PRIME_PRIMING);
  p->busy = FALSE;
  g_mutex_unlock (&log->lock);
  prime_unref (p);
}

/* With log->lock (dropped around the sends): sends entries [p->next, end) to a UDP reader,
 * at most `max`. FALSE when the socket would block or failed: p->next is then the first entry
 * not sent. */
static gboolean
udp_send_chunk (Prime * p, guint max)
{
  StreamLog *log = p->log;
  guint64 end = MIN (log_end (log), p->next + max), first = p->next, i;
  GPtrArray *bufs = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  gboolean ok = TRUE;

  for (i = first; i < end; i++)
    g_ptr_array_add (bufs, gst_buffer_ref (log_entry (log, i)->buf));
  g_mutex_unlock (&log->lock);
  for (i = 0; i < bufs->len && ok; i++) {
    GstBuffer *buf = g_ptr_array_index (bufs, i);
    GstMapInfo map;
    GOutputVector vector;
    gsize written = 0;
    GError *error = NULL;

    if (!gst_buffer_map (buf, &map, GST_MAP_READ))
      continue;
    vector.buffer = map.data;
    vector.size = map.size;
    if (g_socket_send_message_with_timeout (p->udp_socket, p->udp_dest, &vector, 1, NULL, 0,
            0, 0, &written, NULL, &error) != G_POLLABLE_RETURN_OK) {
      if (error)
        GST_INFO ("UDP prime: %s", error->message);
      g_clear_error (&error);
      ok = FALSE;
    }
    gst_buffer_unmap (buf, &map);
  }
  g_mutex_lock (&log->lock);
  p->next = first + (ok ? bufs->len : i - 1);
  g_ptr_array_unref (bufs);
  return ok;
}

/* The thread of one UDP prime: paced chunks, then the hand-over to live as for TCP. */
static gpointer
udp_prime_run (gpointer data)
{
  Prime *p = data;
  StreamLog *log = p->log;

  g_mutex_lock (&log->lock);
  while (p->state == PRIME_PRIMING && !prime_ended_early (p)) {
    if (log_end (log) - p->next >= UDP_CHUNK_PACKETS) {
      udp_send_chunk (p, UDP_CHUNK_PACKETS);
      g_mutex_unlock (&log->lock);
      g_usleep (UDP_PACE_US);
      g_mutex_lock (&log->lock);
    } else {
      prime_hand_over (p);     /* ends the prime one way or the other */
    }
  }
  g_mutex_unlock (&log->lock);
  prime_unref (p);
  return NULL;
}

/* The reader's session media is going away (TEARDOWN, closed connection, timeout). Its
 * finalize will remove the transport from the stream, counting it as active: if we hold it
 * out of the stream, put it back (sending nowhere) so the media's count stays balanced. */
static void
on_sessmedia_gone (gpointer data, GObject * where_the_object_was)
{
  Prime *p = data;
  StreamLog *log = p->log;

  g_mutex_lock (&log->lock);
  if (p->state == PRIME_PRIMING) {
    GST_INFO ("reader left while being primed");
    prime_finish (p, PRIME_ABORTED);
  }
  if (p->out_of_stream && !log->detached) {
    /* Its client may be gone already: whatever the stream sends it until the removal
     * goes nowhere. */
    gst_rtsp_stream_transport_set_callbacks (p->trans, discard_send, discard_send, NULL, NULL);
    gst_rtsp_stream_transport_set_list_callbacks (p->trans, discard_send_list,
        discard_send_list, NULL, NULL);
    prime_go_live (p);
  }
  prime_release_msf (p);
  g_mutex_unlock (&log->lock);
  prime_unref (p);
}

/* ---------- client signals (client threads, media lock held) ---------- */

static ClientRec *
client_rec (GstRTSPClient * client)
{
  return g_object_get_qdata (G_OBJECT (client), client_quark);
}

static void
abort_pending (ClientRec * crec)
{
  guint i;

  for (i = 0; i < crec->pending->len; i++) {
    Prime *p = g_ptr_array_index (crec->pending, i);
    g_mutex_lock (&p->log->lock);
    prime_finish (p, PRIME_ABORTED);
    gate_open (p->log);
    g_mutex_unlock (&p->log->lock);
  }
  g_ptr_array_set_size (crec->pending, 0);
}

/* With log->lock, the log quiescent: the first audio packet at or after `pts` (the video
 * keyframe's running time), or FALSE when there is none to send. */
static gboolean
choose_audio_start (StreamLog * log, GstClockTime pts, guint64 * start)
{
  guint64 k = log_end (log);

  while (k > log->base && GST_CLOCK_TIME_IS_VALID (log_entry (log, k - 1)->pts)
      && log_entry (log, k - 1)->pts >= pts)
    k--;
  *start = k;
  return k < log_end (log);
}

/* With log->lock and the gate closed for it: a pending prime of `trans` from `start`. */
static Prime *
prime_new (StreamLog * log, GstRTSPStreamTransport * trans, guint64 start)
{
  Prime *p = g_new0 (Prime, 1);
  const GstRTSPUrl *url = gst_rtsp_stream_transport_get_url (trans);

  p->refcount = 1;
  p->log = log_ref (log);
  p->trans = g_object_ref (trans);
  p->state = PRIME_PENDING;
  p->next = start;
  p->start_seq = log_entry (log, start)->seq;
  p->start_rtptime = log_entry (log, start)->rtptime;
  p->gate_overruns = log->gate_overruns;
  p->counted = TRUE;
  log->active_primes++;
  g_atomic_int_inc (&log->fs->active);
  if (url)
    p->url = gst_rtsp_url_get_request_uri (url);
  return p;
}

/* With log->lock: closes the gate and waits until nothing is in flight; FALSE (gate open
 * again) when that did not happen in time. */
static gboolean
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

static GstRTSPStatusCode
on_pre_play (GstRTSPClient * client, GstRTSPContext * ctx, PgFastStart * fs)
{
  ClientRec *crec = client_rec (client);
  GPtrArray *logs, *transports;
  GstClockTime video_pts = GST_CLOCK_TIME_NONE;
  guint i, pass;

  if (!crec || !ctx->sessmedia || !ctx->media)
    return GST_RTSP_STS_OK;
  abort_pending (crec);
  logs = media_ensure (fs, ctx->media);
  /* Only a first PLAY of a session joins mid-stream. */
  if (!logs || gst_rtsp_session_media_get_rtsp_state (ctx->sessmedia) != GST_RTSP_STATE_READY) {
    g_atomic_int_inc (&fs->live_joins);
    if (logs)
      g_ptr_array_unref (logs);
    return GST_RTSP_STS_OK;
  }

  /* Video first: its keyframe decides where audio starts. */
  transports = gst_rtsp_session_media_get_transports (ctx->sessmedia);
  for (pass = 0; pass < 2; pass++) {
    for (i = 0; i < transports->len; i++) {
      GstRTSPStreamTransport *trans = g_ptr_array_index (transports, i);
      StreamLog *log;
      guint64 start;
      gboolean ok;

      GstRTSPLowerTrans lower;
      g_autoptr (GSocket) udp_socket = NULL;      /* freed at each iteration's end */
      g_autoptr (GSocketAddress) udp_dest = NULL;

      if (!trans)
        continue;
      /* Unicast UDP and TCP; multicast readers share their packets with others. */
      lower = gst_rtsp_stream_transport_get_transport (trans)->lower_transport;
      if (lower != GST_RTSP_LOWER_TRANS_TCP && lower != GST_RTSP_LOWER_TRANS_UDP)
        continue;
      log = find_log (logs, gst_rtsp_stream_transport_get_stream (trans));
      if (!log || (log->codec == CODEC_AUDIO) != (pass == 1))
        continue;
      if (pass == 1 && !GST_CLOCK_TIME_IS_VALID (video_pts))
        continue;
      if (lower == GST_RTSP_LOWER_TRANS_UDP) {
        gboolean routed = udp_route (trans, &udp_socket, &udp_dest);
        if (!routed || !udp_watch (log, ctx->media, trans, udp_socket)) {
          GST_INFO ("UDP reader joins live: %s",
              routed ? "no udpsink, or no packet reached it" : "no route");
          continue;
        }
      }

      g_mutex_lock (&log->lock);
      if (log->detached || (guint) g_atomic_int_get (&fs->active) >= fs->max_concurrent
          || (pass == 0 && log->keys->len == 0) || !gate_close_quiet (log)) {
        g_mutex_unlock (&log->lock);
        continue;
      }
      /* The PLAY adds a UDP reader to the udpsink before play-request takes it out again:
       * it must not be sending then. */
      if (udp_socket && !wait_udp_idle (log)) {
        g_atomic_int_inc (&fs->fallbacks);
        gate_open (log);
        g_mutex_unlock (&log->lock);
        continue;
      }
      if (pass == 0)
        ok = choose_start (log, &start);        /* FALSE: every GOP is over max-prime-bytes */
      else
        ok = choose_audio_start (log, video_pts, &start);
      if (!ok) {
        gate_open (log);
        g_mutex_unlock (&log->lock);
        continue;
      }
      if (pass == 0 && GST_CLOCK_TIME_IS_VALID (log_entry (log, start)->pts))
        video_pts = MIN (log_entry (log, start)->pts,
            GST_CLOCK_TIME_IS_VALID (video_pts) ? video_pts : G_MAXUINT64);
      {
        Prime *p = prime_new (log, trans, start);
        p->udp_socket = g_steal_pointer (&udp_socket);
        p->udp_dest = g_steal_pointer (&udp_dest);
        g_ptr_array_add (crec->pending, p);
      }
      g_mutex_unlock (&log->lock);
    }
  }
  g_ptr_array_unref (transports);
  g_ptr_array_unref (logs);
  if (crec->pending->len == 0)
    g_atomic_int_inc (&fs->live_joins);
  return GST_RTSP_STS_OK;
}

/* Rewrites "url=U;seq=S;rtptime=T" for the primed streams: the first packet the reader
 * will get is the keyframe's (and 1.22's own seq names a packet already sent). */
static void
rewrite_rtp_info (GstRTSPMessage * msg, GPtrArray * pending)
{
  gchar *value = NULL;
  gchar **items;
  GString *out;
  guint i, j;

  if (gst_rtsp_message_get_header (msg, GST_RTSP_HDR_RTP_INFO, &value, 0) != GST_RTSP_OK
      || !value)
    return;
  items = g_strsplit (value, ",", -1);
  out = g_string_new ("");
  for (i = 0; items[i]; i++) {
    const gchar *item = g_strstrip (items[i]);
    Prime *match = NULL;
    for (j = 0; j < pending->len; j++) {
      Prime *p = g_ptr_array_index (pending, j);
      if (p->url && g_str_has_prefix (item, "url=")
          && strncmp (item + 4, p->url, strlen (p->url)) == 0
          && item[4 + strlen (p->url)] == ';')
        match = p;
    }
    if (out->len)
      g_string_append_c (out, ',');
    if (match)
      g_string_append_printf (out, "url=%s;seq=%u;rtptime=%u", match->url,
          match->start_seq, match->start_rtptime);
    else
      g_string_append (out, item);
  }
  g_strfreev (items);
  gst_rtsp_message_remove_header (msg, GST_RTSP_HDR_RTP_INFO, -1);
  gst_rtsp_message_take_header (msg, GST_RTSP_HDR_RTP_INFO, g_string_free (out, FALSE));
}

static void
on_send_message (GstRTSPClient * client, GstRTSPContext * ctx,
    GstRTSPMessage * msg, PgFastStart * fs)
{
  ClientRec *crec = client_rec (client);
  GstRTSPStatusCode code;

  if (!crec || crec->pending->len == 0
      || gst_rtsp_message_get_type (msg) != GST_RTSP_MESSAGE_RESPONSE)
    return;
  if (gst_rtsp_message_parse_response (msg, &code, NULL, NULL) != GST_RTSP_OK
      || code != GST_RTSP_STS_OK) {
    abort_pending (crec);
    return;
  }
  rewrite_rtp_info (msg, crec->pending);
}

static void
on_play (GstRTSPClient * client, GstRTSPContext * ctx, PgFastStart * fs)
{
  ClientRec *crec = client_rec (client);
  gboolean primed = FALSE;
  guint i;

  if (!crec || crec->pending->len == 0)
    return;
  for (i = 0; i < crec->pending->len; i++) {
    Prime *p = g_ptr_array_index (crec->pending, i);
    StreamLog *log = p->log;

    g_mutex_lock (&log->lock);
    if (log->detached || p->state != PRIME_PENDING || !ctx->sessmedia) {
      prime_finish (p, PRIME_ABORTED);
      gate_open (log);
      g_mutex_unlock (&log->lock);
      continue;
    }
    if (log->gate_overruns != p->gate_overruns) {
      /* Live packets got past the gate during the PLAY: they may have reached the reader. */
      g_atomic_int_inc (&fs->fallbacks);
      prime_finish (p, PRIME_DONE);
      gate_open (log);
      g_mutex_unlock (&log->lock);
      continue;
    }
    /* Out of the live fan-out; message-sent (TCP) or our own thread (UDP) now drives our
     * chunks. */
    gst_rtsp_stream_remove_transport (log->stream, p->trans);
    p->out_of_stream = TRUE;
    p->state = PRIME_PRIMING;
    if (p->udp_socket) {
      GThread *thread = g_thread_try_new ("pgfs-udp-prime", udp_prime_run, prime_ref (p), NULL);
      if (!thread) {
        prime_go_live (p);
        prime_finish (p, PRIME_DONE);
        gate_open (log);
        g_mutex_unlock (&log->lock);
        prime_unref (p);        /* the ref the thread would have held; `pending` keeps one */
        continue;
      }
      g_thread_unref (thread);  /* it ends on its own, holding its prime */
    } else {
      gst_rtsp_stream_transport_set_message_sent_full (p->trans,
          prime_message_sent, prime_ref (p), prime_unref);
      p->msf_set = TRUE;
    }
    g_object_weak_ref (G_OBJECT (ctx->sessmedia), on_sessmedia_gone, prime_ref (p));
    gate_open (log);
    g_mutex_unlock (&log->lock);
    primed = TRUE;
    if (!p->udp_socket)
      prime_pump (p);
  }
  g_ptr_array_set_size (crec->pending, 0);
  if (primed)
    g_atomic_int_inc (&fs->primed_joins);
}

/* On the server's main context (Node's thread in pushgate): C, not JavaScript. */
static void
on_client_connected (GstRTSPServer * server, GstRTSPClient * client, PgFastStart * fs)
{
  ClientRec *crec = g_new0 (ClientRec, 1);

  crec->pending = g_ptr_array_new_with_free_func (prime_unref);
  g_object_set_qdata_full (G_OBJECT (client), client_quark, crec, client_rec_free);
  g_signal_connect (client, "pre-play-request", G_CALLBACK (on_pre_play), fs);
  g_signal_connect (client, "send-message", G_CALLBACK (on_send_message), fs);
  g_signal_connect (client, "play-request", G_CALLBACK (on_play), fs);
}

static GstRTSPFilterResult
disconnect_client (GstRTSPServer * server, GstRTSPClient * client, gpointer fs)
{
  g_signal_handlers_disconnect_by_data (client, fs);
  return GST_RTSP_FILTER_KEEP;
}

/* Leaves every server: no new clients are hooked, current ones are unhooked. */
static void
leave_servers (PgFastStart * fs)
{
  GPtrArray *old;
  guint i;

  g_mutex_lock (&fs->lock);
  old = fs->servers;
  fs->servers = g_ptr_array_new_with_free_func (g_object_unref);
  for (i = 0; i < old->len; i++)
    g_signal_handlers_disconnect_by_func (g_ptr_array_index (old, i),
        on_client_connected, fs);
  g_mutex_unlock (&fs->lock);
  for (i = 0; i < old->len; i++)
    gst_rtsp_server_client_filter (g_ptr_array_index (old, i), disconnect_client, fs);
  g_ptr_array_unref (old);
}

/* Hooks the clients of one more server (sharing mount points, so medias, with the others). */
static void
add_server (PgFastStart * fs, GstRTSPServer * server)
{
  if (!server)
    return;
  g_mutex_lock (&fs->lock);
  if (!g_ptr_array_find (fs->servers, server, NULL)) {
    g_ptr_array_add (fs->servers, g_object_ref (server));
    g_signal_connect (server, "client-connected", G_CALLBACK (on_client_connected), fs);
  }
  g_mutex_unlock (&fs->lock);
}

static void
set_server (PgFastStart * fs, GstRTSPServer * server)
{
  leave_servers (fs);
  add_server (fs, server);
}

/* From the application when a media is done with (its publisher ended): drops the log, the
 * sentinels, the gates and our prepare count. */
static void
release_media (PgFastStart * fs, GstRTSPMedia * media)
{
  MediaRec *rec = NULL;

  if (!media)
    return;
  g_mutex_lock (&fs->lock);
  /* A PLAY still in flight on this media must not take a new hold on it. */
  g_object_set_qdata (G_OBJECT (media), released_quark, GINT_TO_POINTER (1));
  if (!g_hash_table_steal_extended (fs->medias, media, NULL, (gpointer *) & rec))
    rec = NULL;
  g_mutex_unlock (&fs->lock);
  GST_DEBUG ("release of media %p: %s", media, rec ? "held, released" : "not held");
  if (rec)
    media_rec_free (rec);
}

/* Leaves the server and releases every media still held. */
static void
detach_all (PgFastStart * fs)
{
  GList *medias, *l;

  set_server (fs, NULL);
  g_mutex_lock (&fs->lock);
  medias = g_hash_table_get_keys (fs->medias);
  g_mutex_unlock (&fs->lock);
  for (l = medias; l; l = l->next)
    release_media (fs, l->data);
  g_list_free (medias);
}

/* ---------- GObject boilerplate ---------- */

static guint64
total_log_bytes (PgFastStart * fs)
{
  GHashTableIter it;
  gpointer value;
  guint64 total = 0;
  guint i;

  g_mutex_lock (&fs->lock);
  g_hash_table_iter_init (&it, fs->medias);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    MediaRec *rec = value;
    for (i = 0; i < rec->logs->len; i++) {
      StreamLog *log = g_ptr_array_index (rec->logs, i);
      g_mutex_lock (&log->lock);
      total += log->bytes_held;
      g_mutex_unlock (&log->lock);
    }
  }
  g_mutex_unlock (&fs->lock);
  return total;
}

static void
pg_fast_start_set_property (GObject * object, guint id, const GValue * value,
    GParamSpec * pspec)
{
  PgFastStart *fs = PG_FAST_START (object);

  switch (id) {
    case PROP_SERVER:
      set_server (fs, g_value_get_object (value));
      break;
    case PROP_ADD_SERVER:
      add_server (fs, g_value_get_object (value));
      break;
    case PROP_RELEASE_MEDIA:
      release_media (fs, g_value_get_object (value));
      break;
    case PROP_DETACH:
      if (g_value_get_boolean (value))
        detach_all (fs);
      break;
    case PROP_MAX_GOPS:
      fs->max_gops = g_value_get_uint (value);
      break;
    case PROP_MIN_HISTORY_MS:
      fs->min_history_ms = g_value_get_uint (value);
      break;
    case PROP_MAX_PRIME_BYTES:
      fs->max_prime_bytes = g_value_get_uint64 (value);
      break;
    case PROP_MAX_LOG_BYTES:
      fs->max_log_bytes = g_value_get_uint64 (value);
      break;
    case PROP_MAX_CONCURRENT:
      fs->max_concurrent = g_value_get_uint (value);
      break;
    case PROP_CHUNK_PACKETS:
      fs->chunk_packets = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
pg_fast_start_get_property (GObject * object, guint id, GValue * value, GParamSpec * pspec)
{
  PgFastStart *fs = PG_FAST_START (object);

  switch (id) {
    case PROP_SERVER:
      g_mutex_lock (&fs->lock);
      g_value_set_object (value, fs->servers->len > 0 ? g_ptr_array_index (fs->servers, 0) : NULL);
      g_mutex_unlock (&fs->lock);
      break;
    case PROP_MAX_GOPS:
      g_value_set_uint (value, fs->max_gops);
      break;
    case PROP_MIN_HISTORY_MS:
      g_value_set_uint (value, fs->min_history_ms);
      break;
    case PROP_MAX_PRIME_BYTES:
      g_value_set_uint64 (value, fs->max_prime_bytes);
      break;
    case PROP_MAX_LOG_BYTES:
      g_value_set_uint64 (value, fs->max_log_bytes);
      break;
    case PROP_MAX_CONCURRENT:
      g_value_set_uint (value, fs->max_concurrent);
      break;
    case PROP_CHUNK_PACKETS:
      g_value_set_uint (value, fs->chunk_packets);
      break;
    case PROP_PRIMED_JOINS:
      g_value_set_uint (value, g_atomic_int_get (&fs->primed_joins));
      break;
    case PROP_LIVE_JOINS:
      g_value_set_uint (value, g_atomic_int_get (&fs->live_joins));
      break;
    case PROP_FALLBACKS:
      g_value_set_uint (value, g_atomic_int_get (&fs->fallbacks));
      break;
    case PROP_COMPLETED:
      g_value_set_uint (value, g_atomic_int_get (&fs->completed));
      break;
    case PROP_ACTIVE:
      g_value_set_uint (value, g_atomic_int_get (&fs->active));
      break;
    case PROP_LOG_BYTES:
      g_value_set_uint64 (value, total_log_bytes (fs));
      break;
    case PROP_WARMED:
      g_value_set_uint (value, g_atomic_int_get (&fs->warmed));
      break;
    case PROP_WARM_FAILURES:
      g_value_set_uint (value, g_atomic_int_get (&fs->warm_failures));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
pg_fast_start_dispose (GObject * object)
{
  detach_all (PG_FAST_START (object));
  G_OBJECT_CLASS (pg_fast_start_parent_class)->dispose (object);
}

static void
pg_fast_start_finalize (GObject * object)
{
  PgFastStart *fs = PG_FAST_START (object);

  g_hash_table_unref (fs->medias);
  g_ptr_array_unref (fs->servers);
  g_mutex_clear (&fs->lock);
  G_OBJECT_CLASS (pg_fast_start_parent_class)->finalize (object);
}

static void
pg_fast_start_init (PgFastStart * fs)
{
  g_mutex_init (&fs->lock);
  fs->medias = g_hash_table_new (g_direct_hash, g_direct_equal);
  fs->servers = g_ptr_array_new_with_free_func (g_object_unref);
  fs->max_gops = 3;
  fs->min_history_ms = 700;
  fs->max_prime_bytes = 4 * 1024 * 1024;
  fs->max_log_bytes = 12 * 1024 * 1024;
  fs->max_concurrent = 64;
  fs->chunk_packets = 64;
}

static void
pg_fast_start_class_init (PgFastStartClass * klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  oc->set_property = pg_fast_start_set_property;
  oc->get_property = pg_fast_start_get_property;
  oc->dispose = pg_fast_start_dispose;
  oc->finalize = pg_fast_start_finalize;

  g_object_class_install_property (oc, PROP_SERVER,
      g_param_spec_object ("server", "Server", "RTSP server whose TCP readers get fast start "
          "(replaces any others)", GST_TYPE_RTSP_SERVER, rw));
  g_object_class_install_property (oc, PROP_ADD_SERVER,
      g_param_spec_object ("add-server", "Add server",
          "One more RTSP server, sharing the mount points (and medias) of the others, whose TCP "
          "readers get fast start", GST_TYPE_RTSP_SERVER, G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_RELEASE_MEDIA,
      g_param_spec_object ("release-media", "Release media",
          "Write a media to drop its log and the prepare count fast start holds on it",
          GST_TYPE_RTSP_MEDIA, G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS));
  /* node-gtk cannot write NULL to an object property: this is how it lets go of the servers. */
  g_object_class_install_property (oc, PROP_DETACH,
      g_param_spec_boolean ("detach", "Detach",
          "Write TRUE to leave the servers and release every media", FALSE,
          G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_MAX_GOPS,
      g_param_spec_uint ("max-gops", "Max GOPs", "GOPs kept per video stream", 1, 16, 3, rw));
  g_object_class_install_property (oc, PROP_MIN_HISTORY_MS,
      g_param_spec_uint ("min-history-ms", "Min history",
          "Prime from the previous keyframe when the current GOP is younger than this",
          0, 60000, 700, rw));
  g_object_class_install_property (oc, PROP_MAX_PRIME_BYTES,
      g_param_spec_uint64 ("max-prime-bytes", "Max prime bytes",
          "Most bytes sent to one reader from the log", 0, G_MAXUINT64,
          4 * 1024 * 1024, rw));
  g_object_class_install_property (oc, PROP_MAX_LOG_BYTES,
      g_param_spec_uint64 ("max-log-bytes", "Max log bytes",
          "Most bytes of packets one stream's log holds", 0, G_MAXUINT64,
          12 * 1024 * 1024, rw));
  g_object_class_install_property (oc, PROP_MAX_CONCURRENT,
      g_param_spec_uint ("max-concurrent", "Max concurrent primes",
          "Readers primed at the same time; later ones join live", 0, 100000, 64, rw));
  g_object_class_install_property (oc, PROP_CHUNK_PACKETS,
      g_param_spec_uint ("chunk-packets", "Chunk packets",
          "Packets per send while priming", 1, 4096, 64, rw));
  g_object_class_install_property (oc, PROP_PRIMED_JOINS,
      g_param_spec_uint ("primed-joins", "Primed joins", "PLAYs primed from the log", 0,
          G_MAXUINT, 0, ro));
  g_object_class_install_property (oc, PROP_LIVE_JOINS,
      g_param_spec_uint ("live-joins", "Live joins",
          "PLAYs that joined live (UDP, no keyframe yet, cap, re-PLAY)", 0, G_MAXUINT, 0, ro));
  g_object_class_install_property (oc, PROP_FALLBACKS,
      g_param_spec_uint ("fallbacks", "Fallbacks",
          "Primes that ended live early (timeouts, slow reader, send failure)", 0,
          G_MAXUINT, 0, ro));
  g_object_class_install_property (oc, PROP_COMPLETED,
      g_param_spec_uint ("completed-primes", "Completed primes",
          "Primed streams (video, audio) handed over to live at exactly the next packet", 0,
          G_MAXUINT, 0, ro));
  g_object_class_install_property (oc, PROP_ACTIVE,
      g_param_spec_uint ("active-primes", "Active primes", "Primes in progress", 0,
          G_MAXUINT, 0, ro));
  g_object_class_install_property (oc, PROP_LOG_BYTES,
      g_param_spec_uint64 ("log-bytes", "Log bytes", "Bytes of packets held by all logs", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (oc, PROP_WARMED,
      g_param_spec_uint ("warmed-medias", "Warmed medias",
          "Medias prepared and held from go-live (warm)", 0, G_MAXUINT, 0, ro));
  g_object_class_install_property (oc, PROP_WARM_FAILURES,
      g_param_spec_uint ("warm-failures", "Warm failures",
          "Warm-ups whose media did not prepare, or was released first", 0, G_MAXUINT, 0, ro));

  /* warm (factory, path) -> gboolean: see warm(). */
  signals[SIGNAL_WARM] = g_signal_new_class_handler ("warm", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION, G_CALLBACK (warm), NULL, NULL, NULL,
      G_TYPE_BOOLEAN, 2, GST_TYPE_RTSP_MEDIA_FACTORY, G_TYPE_STRING);

  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass),
      "pushgate fast start", "Generic",
      "Primes late RTSP/TCP readers of shared gst-rtsp-server media from a GOP log",
      "pushgate");
  unsynced_quark = g_quark_from_static_string ("pgfaststart-unsynced");
  client_quark = g_quark_from_static_string ("pgfaststart-client");
  released_quark = g_quark_from_static_string ("pgfaststart-released");
}

gboolean
pg_faststart_register (GstPlugin * plugin)
{
  GST_DEBUG_CATEGORY_INIT (pgfs_debug, "pgfaststart", 0, "pushgate fast start");
  return gst_element_register (plugin, "pgfaststart", GST_RANK_NONE, pg_fast_start_get_type ());
}
