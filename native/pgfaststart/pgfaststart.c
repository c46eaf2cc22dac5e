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
#include "faststart.h"
#include <string.h>

GST_DEBUG_CATEGORY (pgfs_debug);

GType pg_fast_start_get_type (void);
G_DEFINE_TYPE (PgFastStart, pg_fast_start, GST_TYPE_ELEMENT);

enum
{
  PROP_0, PROP_SERVER, PROP_ADD_SERVER, PROP_RELEASE_MEDIA, PROP_DETACH, PROP_MAX_GOPS, PROP_MIN_HISTORY_MS,
  PROP_MAX_PRIME_BYTES, PROP_MAX_LOG_BYTES, PROP_MAX_CONCURRENT, PROP_CHUNK_PACKETS,
  PROP_PRIMED_JOINS, PROP_LIVE_JOINS, PROP_FALLBACKS, PROP_COMPLETED, PROP_ACTIVE,
  PROP_LOG_BYTES, PROP_WARMED, PROP_WARM_FAILURES, PROP_PRIME_TIMES
};

enum
{
  SIGNAL_WARM,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static GQuark client_quark, released_quark;
GQuark unsynced_quark;

/* ---------- installing on a media ---------- */

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
    pg_session_media_on_gone (ctx->sessmedia, 0, on_sessmedia_gone, prime_ref (p));
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

/* "prime-times": "1000=3 2500=1 ... inf=0 sum_us=4100", per-bucket counts (not cumulative),
 * each under its upper bound in µs. */
static gchar *
prime_times (PgFastStart * fs)
{
  GString *out = g_string_new ("");
  guint i;

  for (i = 0; i <= PRIME_TIME_BUCKETS; i++) {
    guint n = (guint) g_atomic_int_get (&fs->prime_time_counts[i]);
    if (i < PRIME_TIME_BUCKETS)
      g_string_append_printf (out, "%" G_GINT64_FORMAT "=%u ", prime_time_bounds_us[i], n);
    else
      g_string_append_printf (out, "inf=%u ", n);
  }
  g_string_append_printf (out, "sum_us=%" G_GUINT64_FORMAT,
      __atomic_load_n (&fs->prime_time_sum_us, __ATOMIC_RELAXED));
  return g_string_free (out, FALSE);
}

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
    case PROP_PRIME_TIMES:
      g_value_take_string (value, prime_times (fs));
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
  g_object_class_install_property (oc, PROP_PRIME_TIMES,
      g_param_spec_string ("prime-times", "Prime times",
          "Video primes by the time from PLAY to live: \"<bound µs>=<n> ... inf=<n> sum_us=<µs>\"",
          NULL, ro));

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
