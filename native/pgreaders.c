/*
 * pgreaders: every RTSP reader, what it reads, how, and how many bytes it was sent; and the
 * way to close one.
 *
 * A reader is a session media (one session's hold on one stream), from the SETUP that creates
 * it ("setup-request", the first of its tracks) until it goes (pg_session_media_on_gone:
 * TEARDOWN, closed connection, session timeout, kicked). Its record is made and dropped on the
 * RTSP client threads (or wherever the session media's last ref goes), and read by Node's
 * thread through action signals; one mutex, held only for the record work itself (never around
 * a gst-rtsp-server call), guards them. JavaScript never sees a session, a session media or a
 * client (node-gtk's toggle refs would keep them alive: see pgsessions.c).
 *
 * Bytes sent to a reader:
 * - TCP (RTP interleaved on the RTSP connection, RTSPS too): the connection socket's
 *   tcpi_bytes_acked (TCP_INFO) less its value at SETUP: what the reader's kernel acknowledged,
 *   RTSP replies, interleaving headers, RTCP and TLS records included. The fd is only read
 *   while it is still the same socket (its inode is checked after each read), so a closed
 *   connection's number reused by another socket is never read. Read when Node asks (list,
 *   take-events, refresh-bytes, before a kick) and when the reader goes; once the connection
 *   is closed the last reading stands.
 * - UDP: RTP bytes that reached the stream's multiudpsink since the reader's PLAY, counted by a
 *   probe on that sink (one atomic add per buffer or list, shared by every UDP reader of the
 *   stream): what was handed to the socket for each of its clients, IP/UDP headers and RTCP
 *   not included. A fast-start burst is sent past that sink and is not counted.
 *
 * Properties: "add-server" (write). Action signals, from Node's thread:
 * - "list-readers" () -> JSON string: [{"id","stream","address","transport","tls","since",
 *   "bytesSent"}...] ("since": wall clock ms of the SETUP);
 * - "kick-reader" (id) -> gboolean: closes the reader's RTSP connection (which ends its
 *   sessions) or, with no connection left, takes its session media out of its session;
 * - "take-events" () -> JSON string: {"events":[{"event":"join"|"leave",...reader}],"dropped":N},
 *   joins and leaves since the last call, oldest first, at most MAX_EVENTS kept (a leave carries
 *   the final bytesSent);
 * - "refresh-bytes" (): reads every TCP reader's socket now (before Node closes connections).
 */
#include "pushgate.h"

#include <errno.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define MAX_EVENTS 4096

#define PG_TYPE_READERS (pg_readers_get_type ())
G_DECLARE_FINAL_TYPE (PgReaders, pg_readers, PG, READERS, PgServerWatcher)

struct _PgReaders
{
  PgServerWatcher parent;
  GMutex lock;                  /* guards what follows and every Reader */
  GHashTable *readers;          /* id -> Reader*, not owned (the gone callback frees) */
  GQueue events;                /* gchar* JSON objects */
  guint64 dropped;
};

enum
{
  SIGNAL_LIST_READERS,
  SIGNAL_KICK_READER,
  SIGNAL_TAKE_EVENTS,
  SIGNAL_REFRESH_BYTES,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_TYPE (PgReaders, pg_readers, PG_TYPE_SERVER_WATCHER);

GST_DEBUG_CATEGORY_STATIC (pgreaders_debug);
#define GST_CAT_DEFAULT pgreaders_debug

static GQuark watched_quark;    /* on a session media: it has a Reader */
static GQuark reader_quark;     /* on a session media: its Reader (until it goes) */
static GQuark counter_quark;    /* on a multiudpsink: its SinkCounter */
static guint64 next_serial;     /* atomic: ids unique in the process */
static GMutex counters_lock;    /* installing a SinkCounter on a sink */

/* RTP bytes that reached one multiudpsink: shared by its probe and by the readers it serves. */
typedef struct
{
  gint refs;
  guint64 bytes;                /* atomic */
} SinkCounter;

typedef struct
{
  SinkCounter *counter;         /* owned ref */
  guint64 base;                 /* counter->bytes at the reader's PLAY */
} UdpTrack;

typedef struct
{
  PgReaders *self;              /* owned ref */
  gchar id[24];
  gchar *stream;
  gchar *address;
  GstRTSPLowerTrans transport;
  gboolean tls;
  gint64 since_ms;
  gconstpointer sessmedia;      /* compared, never followed */
  GWeakRef client;
  /* TCP: the connection's socket, while it is that socket */
  gint fd;
  ino_t ino;
  guint64 acked_at_setup;
  guint64 tcp_bytes;            /* last reading, less acked_at_setup */
  /* UDP */
  GArray *tracks;               /* UdpTrack */
} Reader;

static SinkCounter *
counter_ref (SinkCounter * counter)
{
  g_atomic_int_inc (&counter->refs);
  return counter;
}

static void
counter_unref (gpointer data)
{
  SinkCounter *counter = data;

  if (g_atomic_int_dec_and_test (&counter->refs))
    g_free (counter);
}

/* On the udpsink's streaming thread, per buffer or list. */
static GstPadProbeReturn
count_probe (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  SinkCounter *counter = data;
  gsize size = 0;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
    size = gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info));
  else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    size = gst_buffer_list_calculate_size (GST_PAD_PROBE_INFO_BUFFER_LIST (info));
  __atomic_fetch_add (&counter->bytes, (guint64) size, __ATOMIC_RELAXED);
  return GST_PAD_PROBE_OK;
}

/* The counter of `sink`, installed on its first use (a new ref). */
static SinkCounter *
sink_counter (GstElement * sink)
{
  SinkCounter *counter;

  g_mutex_lock (&counters_lock);
  counter = g_object_get_qdata (G_OBJECT (sink), counter_quark);
  if (!counter) {
    GstPad *pad = gst_element_get_static_pad (sink, "sink");
    counter = g_new0 (SinkCounter, 1);
    counter->refs = 1;          /* the sink's qdata */
    g_object_set_qdata_full (G_OBJECT (sink), counter_quark, counter, counter_unref);
    if (pad) {
      gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
          count_probe, counter_ref (counter), counter_unref);
      gst_object_unref (pad);
    }
  }
  counter_ref (counter);
  g_mutex_unlock (&counters_lock);
  return counter;
}

/* The multiudpsink of `media`'s pipeline (gst-rtsp-server puts its sinks there, beside the
 * media's element) that sends from `socket`; a new ref, or NULL. */
static GstElement *
udpsink_of (GstRTSPMedia * media, GSocket * socket)
{
  GstElement *element = gst_rtsp_media_get_element (media);
  GstObject *pipeline = element ? gst_object_get_parent (GST_OBJECT (element)) : NULL;
  GstElement *found = NULL;
  GValue item = G_VALUE_INIT;

  gst_clear_object (&element);
  if (GST_IS_BIN (pipeline)) {
    GstIterator *it = gst_bin_iterate_all_by_element_factory_name (GST_BIN (pipeline),
        "multiudpsink");
    while (!found && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
      GstElement *sink = g_value_get_object (&item);
      GSocket *v4 = NULL, *v6 = NULL;
      g_object_get (sink, "socket", &v4, "socket-v6", &v6, NULL);
      if (socket && (v4 == socket || v6 == socket))
        found = gst_object_ref (sink);
      g_clear_object (&v4);
      g_clear_object (&v6);
      g_value_reset (&item);
    }
    g_value_unset (&item);
    gst_iterator_free (it);
  }
  gst_clear_object (&pipeline);
  return found;
}

/* tcpi_bytes_acked of `fd` if it is still the socket of inode `ino`. The inode is checked after
 * the read: if it matches then, the fd was that socket during the read too (a socket's fd
 * cannot change files while it is open, and a closed socket never comes back). */
static gboolean
tcp_bytes_acked (gint fd, ino_t ino, guint64 * acked)
{
  struct tcp_info info;
  socklen_t len = sizeof info;
  struct stat st;

  if (fd < 0)
    return FALSE;
  memset (&info, 0, sizeof info);
  if (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
    return FALSE;
  if (fstat (fd, &st) != 0 || !S_ISSOCK (st.st_mode) || st.st_ino != ino)
    return FALSE;
  if (len < offsetof (struct tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked)
    return FALSE;
  *acked = info.tcpi_bytes_acked;
  return TRUE;
}

/* With the lock. */
static void
refresh_tcp_locked (Reader * r)
{
  guint64 acked;

  if (r->fd >= 0 && tcp_bytes_acked (r->fd, r->ino, &acked)) {
    if (acked >= r->acked_at_setup)
      r->tcp_bytes = acked - r->acked_at_setup;
  } else {
    r->fd = -1;                 /* closed: the last reading stands */
  }
}

/* With the lock. */
static guint64
bytes_sent_locked (Reader * r)
{
  guint64 bytes = r->tcp_bytes;

  for (guint i = 0; i < r->tracks->len; i++) {
    UdpTrack *t = &g_array_index (r->tracks, UdpTrack, i);
    guint64 now = __atomic_load_n (&t->counter->bytes, __ATOMIC_RELAXED);
    bytes += now - t->base;
  }
  return bytes;
}

static const gchar *
transport_name (GstRTSPLowerTrans transport)
{
  if (transport & GST_RTSP_LOWER_TRANS_TCP)
    return "tcp";
  if (transport & GST_RTSP_LOWER_TRANS_UDP_MCAST)
    return "udp-multicast";
  return "udp";
}

static void
append_json_string (GString * out, const gchar * s)
{
  g_string_append_c (out, '"');
  for (; s && *s; s++) {
    guchar c = *s;
    if (c == '"' || c == '\\')
      g_string_append_printf (out, "\\%c", c);
    else if (c < 0x20)
      g_string_append_printf (out, "\\u%04x", c);
    else
      g_string_append_c (out, c);
  }
  g_string_append_c (out, '"');
}

/* With the lock: `r` as a JSON object, with `event` ("join", "leave") if not NULL. */
static void
append_reader_locked (GString * out, Reader * r, const gchar * event, guint64 bytes)
{
  g_string_append_c (out, '{');
  if (event)
    g_string_append_printf (out, "\"event\":\"%s\",", event);
  g_string_append (out, "\"id\":");
  append_json_string (out, r->id);
  g_string_append (out, ",\"stream\":");
  append_json_string (out, r->stream);
  g_string_append (out, ",\"address\":");
  append_json_string (out, r->address);
  g_string_append_printf (out, ",\"transport\":\"%s\",\"tls\":%s,\"since\":%"
      G_GINT64_FORMAT ",\"bytesSent\":%" G_GUINT64_FORMAT "}",
      transport_name (r->transport), r->tls ? "true" : "false", r->since_ms, bytes);
}

/* With the lock. */
static void
push_event_locked (PgReaders * self, Reader * r, const gchar * event, guint64 bytes)
{
  GString *out;

  if (self->events.length >= MAX_EVENTS) {
    self->dropped++;
    return;
  }
  out = g_string_new (NULL);
  append_reader_locked (out, r, event, bytes);
  g_queue_push_tail (&self->events, g_string_free (out, FALSE));
}

static void
reader_free (Reader * r)
{
  for (guint i = 0; i < r->tracks->len; i++)
    counter_unref (g_array_index (r->tracks, UdpTrack, i).counter);
  g_array_unref (r->tracks);
  g_weak_ref_clear (&r->client);
  g_free (r->stream);
  g_free (r->address);
  gst_object_unref (r->self);
  g_free (r);
}

/* From the session media's dispose, on whichever thread drops its last ref. */
static void
on_reader_gone (gpointer data)
{
  Reader *r = data;
  PgReaders *self = r->self;

  g_mutex_lock (&self->lock);
  refresh_tcp_locked (r);
  push_event_locked (self, r, "leave", bytes_sent_locked (r));
  g_hash_table_remove (self->readers, r->id);
  g_mutex_unlock (&self->lock);
  GST_DEBUG_OBJECT (self, "reader %s of %s left", r->id, r->stream);
  reader_free (r);
}

/* The stream a SETUP is for: its URL's mount path without the leading '/'. */
static gchar *
stream_of (GstRTSPClient * client, GstRTSPContext * ctx)
{
  GstRTSPMountPoints *mounts = gst_rtsp_client_get_mount_points (client);
  GstRTSPMediaFactory *factory;
  gchar *name = NULL;
  gint matched = 0;

  if (!mounts || !ctx->uri || !ctx->uri->abspath) {
    g_clear_object (&mounts);
    return g_strdup ("");
  }
  factory = gst_rtsp_mount_points_match (mounts, ctx->uri->abspath, &matched);
  if (factory && matched > 0) {
    const gchar *path = ctx->uri->abspath;
    name = path[0] == '/' ? g_strndup (path + 1, matched - 1) : g_strndup (path, matched);
  }
  g_clear_object (&factory);
  g_object_unref (mounts);
  return name ? name : g_strdup ("");
}

static gboolean
client_is_tls (GstRTSPClient * client)
{
  GstRTSPAuth *auth = gst_rtsp_client_get_auth (client);
  GTlsCertificate *certificate = auth ? gst_rtsp_auth_get_tls_certificate (auth) : NULL;
  gboolean tls = certificate != NULL;

  g_clear_object (&certificate);
  g_clear_object (&auth);
  return tls;
}

/* On the client's thread, after a successful SETUP: a record for a new session media. */
static void
on_setup (GstRTSPClient * client, GstRTSPContext * ctx, PgReaders * self)
{
  GstRTSPSessionMedia *sessmedia = ctx->sessmedia;
  GstRTSPConnection *conn = gst_rtsp_client_get_connection (client);
  const GstRTSPTransport *tr = ctx->trans ? gst_rtsp_stream_transport_get_transport (ctx->trans)
      : NULL;
  Reader *r;

  if (!sessmedia || g_object_get_qdata (G_OBJECT (sessmedia), watched_quark))
    return;
  if (!tr && ctx->stream) {
    GstRTSPStreamTransport *trans = gst_rtsp_session_media_get_transport (sessmedia,
        gst_rtsp_stream_get_index (ctx->stream));
    tr = trans ? gst_rtsp_stream_transport_get_transport (trans) : NULL;
  }
  r = g_new0 (Reader, 1);
  r->self = gst_object_ref (self);
  g_snprintf (r->id, sizeof r->id, "r%" G_GUINT64_FORMAT,
      __atomic_add_fetch (&next_serial, 1, __ATOMIC_RELAXED));
  r->stream = stream_of (client, ctx);
  r->address = g_strdup (conn ? gst_rtsp_connection_get_ip (conn) : "");
  r->transport = tr ? tr->lower_transport : GST_RTSP_LOWER_TRANS_UNKNOWN;
  r->tls = client_is_tls (client);
  r->since_ms = g_get_real_time () / 1000;
  r->sessmedia = sessmedia;
  g_weak_ref_init (&r->client, client);
  r->fd = -1;
  r->tracks = g_array_new (FALSE, TRUE, sizeof (UdpTrack));
  if ((r->transport & GST_RTSP_LOWER_TRANS_TCP) && conn) {
    GSocket *socket = gst_rtsp_connection_get_write_socket (conn);
    struct stat st;
    gint fd = socket ? g_socket_get_fd (socket) : -1;
    if (fd >= 0 && fstat (fd, &st) == 0 && S_ISSOCK (st.st_mode)) {
      r->ino = st.st_ino;
      if (tcp_bytes_acked (fd, r->ino, &r->acked_at_setup))
        r->fd = fd;
    }
  }
  if (!pg_session_media_on_gone (sessmedia, watched_quark, on_reader_gone, r)) {
    reader_free (r);
    return;
  }
  g_object_set_qdata (G_OBJECT (sessmedia), reader_quark, r);
  g_mutex_lock (&self->lock);
  g_hash_table_insert (self->readers, r->id, r);
  push_event_locked (self, r, "join", 0);
  g_mutex_unlock (&self->lock);
  GST_DEBUG_OBJECT (self, "reader %s of %s from %s (%s)", r->id, r->stream, r->address,
      transport_name (r->transport));
}

typedef struct
{
  gconstpointer sessmedia;
  gboolean found;
} FindData;

/* On the client's thread, after PLAY: UDP readers are counted at their streams' udpsinks from
 * now on (the PLAY completed the pipeline, so the sinks exist). */
static void
on_play (GstRTSPClient * client, GstRTSPContext * ctx, PgReaders * self)
{
  GstRTSPSessionMedia *sessmedia = ctx->sessmedia;
  GstRTSPMedia *media = sessmedia ? gst_rtsp_session_media_get_media (sessmedia) : NULL;
  /* Valid while the session media lives, which this PLAY holds. */
  Reader *r = sessmedia ? g_object_get_qdata (G_OBJECT (sessmedia), reader_quark) : NULL;
  GArray *tracks;
  gboolean counted;
  guint n;

  if (!media || !r)
    return;
  g_mutex_lock (&self->lock);
  counted = r->tracks->len > 0 || (r->transport & GST_RTSP_LOWER_TRANS_TCP);
  g_mutex_unlock (&self->lock);
  if (counted)
    return;

  tracks = g_array_new (FALSE, TRUE, sizeof (UdpTrack));
  n = gst_rtsp_media_n_streams (media);
  for (guint i = 0; i < n; i++) {
    GstRTSPStreamTransport *trans = gst_rtsp_session_media_get_transport (sessmedia, i);
    const GstRTSPTransport *tr = trans ? gst_rtsp_stream_transport_get_transport (trans) : NULL;
    GstRTSPStream *stream = trans ? gst_rtsp_stream_transport_get_stream (trans) : NULL;
    GInetAddress *address;
    GSocket *socket = NULL;
    GstElement *sink;

    if (!tr || !stream || !tr->destination || (tr->lower_transport & GST_RTSP_LOWER_TRANS_TCP))
      continue;
    address = g_inet_address_new_from_string (tr->destination);
    if (!address)
      continue;
    if (tr->lower_transport & GST_RTSP_LOWER_TRANS_UDP_MCAST)
      socket = gst_rtsp_stream_get_rtp_multicast_socket (stream,
          g_inet_address_get_family (address));
    else
      socket = gst_rtsp_stream_get_rtp_socket (stream, g_inet_address_get_family (address));
    g_object_unref (address);
    sink = udpsink_of (media, socket);
    g_clear_object (&socket);
    if (sink) {
      UdpTrack track;
      track.counter = sink_counter (sink);
      track.base = __atomic_load_n (&track.counter->bytes, __ATOMIC_RELAXED);
      g_array_append_val (tracks, track);
      gst_object_unref (sink);
    }
  }

  g_mutex_lock (&self->lock);
  if (r->tracks->len == 0) {
    g_array_unref (r->tracks);
    r->tracks = tracks;
    tracks = NULL;
  }
  g_mutex_unlock (&self->lock);
  if (tracks) {
    for (guint i = 0; i < tracks->len; i++)
      counter_unref (g_array_index (tracks, UdpTrack, i).counter);
    g_array_unref (tracks);
  }
}

static void
pg_readers_client_connected (PgServerWatcher * self, GstRTSPServer * server,
    GstRTSPClient * client)
{
  g_signal_connect_object (client, "setup-request", G_CALLBACK (on_setup), self, 0);
  g_signal_connect_object (client, "play-request", G_CALLBACK (on_play), self, 0);
}

/* Node's thread. */
static gchar *
list_readers (PgReaders * self)
{
  GString *out = g_string_new ("[");
  GHashTableIter iter;
  gpointer value;
  gboolean first = TRUE;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->readers);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    Reader *r = value;
    refresh_tcp_locked (r);
    if (!first)
      g_string_append_c (out, ',');
    first = FALSE;
    append_reader_locked (out, r, NULL, bytes_sent_locked (r));
  }
  g_mutex_unlock (&self->lock);
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

static void
refresh_bytes (PgReaders * self)
{
  GHashTableIter iter;
  gpointer value;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->readers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    refresh_tcp_locked (value);
  g_mutex_unlock (&self->lock);
}

/* Node's thread. TCP readers are read first, so that the leaves of readers whose connections
 * closed since the last call carry bytes at most a call old. */
static gchar *
take_events (PgReaders * self)
{
  GString *out = g_string_new ("{\"events\":[");
  gchar *event;
  gboolean first = TRUE;
  guint64 dropped;

  refresh_bytes (self);
  g_mutex_lock (&self->lock);
  while ((event = g_queue_pop_head (&self->events))) {
    if (!first)
      g_string_append_c (out, ',');
    first = FALSE;
    g_string_append (out, event);
    g_free (event);
  }
  dropped = self->dropped;
  self->dropped = 0;
  g_mutex_unlock (&self->lock);
  g_string_append_printf (out, "],\"dropped\":%" G_GUINT64_FORMAT "}", dropped);
  return g_string_free (out, FALSE);
}

static GstRTSPFilterResult
close_client_if (GstRTSPServer * server, GstRTSPClient * client, gpointer user_data)
{
  return client == user_data ? GST_RTSP_FILTER_REMOVE : GST_RTSP_FILTER_KEEP;
}

static GstRTSPFilterResult
stop_session_media_if (GstRTSPSession * session, GstRTSPSessionMedia * sm, gpointer user_data)
{
  if ((gconstpointer) sm != user_data)
    return GST_RTSP_FILTER_KEEP;
  /* As gst-rtsp-server does when a connection closes: unlinked now, not when it is finalized. */
  gst_rtsp_session_media_set_state (sm, GST_STATE_NULL);
  return GST_RTSP_FILTER_REMOVE;
}

static GstRTSPFilterResult
session_holds (GstRTSPSession * session, GstRTSPSessionMedia * sm, gpointer user_data)
{
  FindData *data = user_data;
  if ((gconstpointer) sm == data->sessmedia)
    data->found = TRUE;
  return GST_RTSP_FILTER_KEEP;
}

static GstRTSPFilterResult
ref_session_holding (GstRTSPSessionPool * pool, GstRTSPSession * session, gpointer user_data)
{
  FindData data = { user_data, FALSE };

  gst_rtsp_session_filter (session, session_holds, &data);
  return data.found ? GST_RTSP_FILTER_REF : GST_RTSP_FILTER_KEEP;
}

/* Node's thread. Closes the reader's connection, which ends its sessions (gst-rtsp-server stops
 * a closed connection's TCP and UDP session medias alike); a reader without a connection (a UDP
 * reader whose connection went) loses its session media here. */
static gboolean
kick_reader (PgReaders * self, const gchar * id)
{
  Reader *r;
  GstRTSPClient *client = NULL;
  gconstpointer sessmedia = NULL;
  GPtrArray *servers;

  if (!id)
    return FALSE;
  g_mutex_lock (&self->lock);
  r = g_hash_table_lookup (self->readers, id);
  if (r) {
    refresh_tcp_locked (r);     /* the last reading before the connection closes */
    client = g_weak_ref_get (&r->client);
    sessmedia = r->sessmedia;
  }
  g_mutex_unlock (&self->lock);
  if (!r)
    return FALSE;
  GST_INFO_OBJECT (self, "kicking reader %s", id);
  servers = pg_server_watcher_servers (PG_SERVER_WATCHER (self));
  if (client) {
    for (guint i = 0; i < servers->len; i++)
      gst_rtsp_server_client_filter (g_ptr_array_index (servers, i), close_client_if, client);
    g_object_unref (client);
    return TRUE;
  }
  for (guint i = 0; i < servers->len; i++) {
    GstRTSPSessionPool *pool = gst_rtsp_server_get_session_pool (g_ptr_array_index (servers, i));
    GList *sessions = pool ? gst_rtsp_session_pool_filter (pool, ref_session_holding,
        (gpointer) sessmedia) : NULL;
    for (GList * l = sessions; l; l = l->next)
      gst_rtsp_session_filter (l->data, stop_session_media_if, (gpointer) sessmedia);
    g_list_free_full (sessions, g_object_unref);
    g_clear_object (&pool);
    if (sessions)
      break;                    /* the servers share one pool */
  }
  return TRUE;
}

static void
pg_readers_finalize (GObject * object)
{
  PgReaders *self = PG_READERS (object);

  /* Every Reader holds a ref on us: none is left. */
  g_hash_table_unref (self->readers);
  g_queue_clear_full (&self->events, g_free);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (pg_readers_parent_class)->finalize (object);
}

static void
pg_readers_init (PgReaders * self)
{
  g_mutex_init (&self->lock);
  self->readers = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&self->events);
}

static void
pg_readers_class_init (PgReadersClass * klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);

  oc->finalize = pg_readers_finalize;
  PG_SERVER_WATCHER_CLASS (klass)->client_connected = pg_readers_client_connected;

  signals[SIGNAL_LIST_READERS] = g_signal_new_class_handler ("list-readers",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (list_readers), NULL, NULL, NULL, G_TYPE_STRING, 0);
  signals[SIGNAL_KICK_READER] = g_signal_new_class_handler ("kick-reader",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (kick_reader), NULL, NULL, NULL, G_TYPE_BOOLEAN, 1, G_TYPE_STRING);
  signals[SIGNAL_TAKE_EVENTS] = g_signal_new_class_handler ("take-events",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (take_events), NULL, NULL, NULL, G_TYPE_STRING, 0);
  signals[SIGNAL_REFRESH_BYTES] = g_signal_new_class_handler ("refresh-bytes",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (refresh_bytes), NULL, NULL, NULL, G_TYPE_NONE, 0);
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass),
      "pushgate RTSP readers", "Generic",
      "Follows every RTSP reader (stream, address, transport, bytes sent), reports joins and "
      "leaves, and closes a reader on request, without handing session objects to JavaScript",
      "pushgate");
}

gboolean
pg_readers_register (GstPlugin * plugin)
{
  GST_DEBUG_CATEGORY_INIT (pgreaders_debug, "pgreaders", 0, "pushgate RTSP readers");
  watched_quark = g_quark_from_static_string ("pg-readers-watched");
  reader_quark = g_quark_from_static_string ("pg-readers-reader");
  counter_quark = g_quark_from_static_string ("pg-readers-counter");
  return gst_element_register (plugin, "pgreaders", GST_RANK_NONE, PG_TYPE_READERS);
}
