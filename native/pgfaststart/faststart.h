/*
 * faststart.h: what the parts of pgfaststart share (internal to the plugin library):
 *  - packet-log.c: the packet log of a stream (its sentinel transport, keyframe marks) and the
 *    gate on the stream's src pad;
 *  - tcp-prime.c: a prime, from a reader's PLAY to its hand-over to live, and its TCP sending;
 *  - udp-prime.c: what UDP readers need besides (the udpsink watched, paced sends);
 *  - pgfaststart.c: the element: media held and warmed, client signals, properties.
 * See pgfaststart.c for the mechanism and the lock order.
 */
#ifndef PG_FASTSTART_H
#define PG_FASTSTART_H

#include "pushgate.h"

GST_DEBUG_CATEGORY_EXTERN (pgfs_debug);
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

/* Fixed buckets of the time from a reader's PLAY to the end of its video prime, for /metrics
 * ("prime-times"): upper bounds in µs, in tcp-prime.c. */
#define PRIME_TIME_BUCKETS 12
G_GNUC_INTERNAL extern const gint64 prime_time_bounds_us[PRIME_TIME_BUCKETS];

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
  gint64 play_us;               /* monotonic time of the PLAY (pre-play-request) */
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
  /* How long video primes took, PLAY to live (see prime_finish): counts per bucket (the last
   * one: beyond every bound), and their sum, both atomic. */
  gint prime_time_counts[PRIME_TIME_BUCKETS + 1];
  guint64 prime_time_sum_us;
};

typedef struct
{
  GstElementClass parent_class;
} PgFastStartClass;

#define PG_FAST_START(o) ((PgFastStart *) (o))

/* Set on an appsink once media_send_unsynced has seen it. */
extern GQuark unsynced_quark;

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

G_GNUC_INTERNAL gboolean h264_nal_is_key (guint8 type);
G_GNUC_INTERNAL gboolean h265_nal_is_key (guint8 type);
G_GNUC_INTERNAL gboolean payload_is_key (Codec codec, const guint8 * p, gsize n);
G_GNUC_INTERNAL gboolean packet_info (Codec codec, GstBuffer * buf, guint16 * seq, guint32 * ts, gboolean * marker, gboolean * key);
G_GNUC_INTERNAL void log_drop_before (StreamLog * log, guint64 serial);
G_GNUC_INTERNAL void log_clear (StreamLog * log);
G_GNUC_INTERNAL void log_trim (StreamLog * log);
G_GNUC_INTERNAL void log_append (StreamLog * log, GstBuffer * buf);
G_GNUC_INTERNAL void sentinel_sent (StreamLog * log);
G_GNUC_INTERNAL gboolean sentinel_send (GstBuffer * buf, guint8 channel, gpointer user_data);
G_GNUC_INTERNAL gboolean sentinel_send_list (GstBufferList * list, guint8 channel, gpointer user_data);
G_GNUC_INTERNAL gboolean discard_send (GstBuffer * buf, guint8 channel, gpointer user_data);
G_GNUC_INTERNAL gboolean discard_send_list (GstBufferList * list, guint8 channel, gpointer user_data);
G_GNUC_INTERNAL gboolean last_seq_of (GstPadProbeInfo * info, guint16 * seq);
G_GNUC_INTERNAL GstPadProbeReturn gate_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data);
G_GNUC_INTERNAL gboolean is_quiescent (StreamLog * log);
G_GNUC_INTERNAL gboolean wait_quiescent (StreamLog * log);
G_GNUC_INTERNAL void gate_close (StreamLog * log);
G_GNUC_INTERNAL void gate_open (StreamLog * log);
G_GNUC_INTERNAL GstPadProbeReturn udp_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data);
G_GNUC_INTERNAL GstPadProbeReturn udp_idle_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data);
G_GNUC_INTERNAL gboolean wait_udp_idle (StreamLog * log);
G_GNUC_INTERNAL GPtrArray * media_elements (GstRTSPMedia * media, const gchar * factory);
G_GNUC_INTERNAL GstElement * find_udpsink (GstRTSPMedia * media, GSocket * socket);
G_GNUC_INTERNAL gboolean wait_udp_first_seen (StreamLog * log);
G_GNUC_INTERNAL gboolean udp_watch (StreamLog * log, GstRTSPMedia * media, GstRTSPStreamTransport * trans, GSocket * socket);
G_GNUC_INTERNAL gboolean udp_route (GstRTSPStreamTransport * trans, GSocket ** socket, GSocketAddress ** dest);
G_GNUC_INTERNAL StreamLog * log_ref (StreamLog * log);
G_GNUC_INTERNAL void log_unref (gpointer data);
G_GNUC_INTERNAL Prime * prime_ref (Prime * p);
G_GNUC_INTERNAL void prime_unref (gpointer data);
G_GNUC_INTERNAL void prime_release_msf (Prime * p);
G_GNUC_INTERNAL void prime_finish (Prime * p, PrimeState state);
G_GNUC_INTERNAL void prime_go_live (Prime * p);
G_GNUC_INTERNAL gboolean stream_codec (GstRTSPStream * stream, Codec * codec, guint * clock_rate);
G_GNUC_INTERNAL StreamLog * log_install (PgFastStart * fs, GstRTSPStream * stream);
G_GNUC_INTERNAL void log_detach (StreamLog * log);
G_GNUC_INTERNAL StreamLog * find_log (GPtrArray * logs, GstRTSPStream * stream);
G_GNUC_INTERNAL gboolean choose_start (StreamLog * log, guint64 * start);
G_GNUC_INTERNAL void prime_message_sent (GstRTSPStreamTransport * trans, gpointer user_data);
G_GNUC_INTERNAL gboolean send_chunk (Prime * p, guint max);
G_GNUC_INTERNAL gboolean prime_ended_early (Prime * p);
G_GNUC_INTERNAL void prime_hand_over (Prime * p);
G_GNUC_INTERNAL void prime_step (Prime * p);
G_GNUC_INTERNAL void prime_pump (Prime * p);
G_GNUC_INTERNAL gboolean udp_send_chunk (Prime * p, guint max);
G_GNUC_INTERNAL gpointer udp_prime_run (gpointer data);
G_GNUC_INTERNAL void on_sessmedia_gone (gpointer data);
G_GNUC_INTERNAL gboolean choose_audio_start (StreamLog * log, GstClockTime pts, guint64 * start);
G_GNUC_INTERNAL Prime * prime_new (StreamLog * log, GstRTSPStreamTransport * trans, guint64 start);
G_GNUC_INTERNAL gboolean gate_close_quiet (StreamLog * log);

#endif /* PG_FASTSTART_H */
