/*
 * pgsessions: the RTSP sessions of pushgate's readers, handled where JavaScript never sees them.
 *
 * node-gtk wraps every GObject handed to JavaScript with a toggle reference that lives until
 * V8 collects the wrapper. A wrapped RTSPSession or RTSPSessionMedia therefore outlives its
 * reader by seconds or minutes, and with it the prepare count it holds on the stream's media:
 * the media is not unprepared when the stream ends, and its pipeline and packet log stay in
 * memory. So this element does what pushgate needs from sessions and connections in C:
 *
 * - puts the RTSPS certificate on each new connection (see set_tls_certificate), and refuses
 *   RTSPS readers media over anything but the TLS connection itself (on_tls_pre_setup);
 * - sets each new session's timeout (and no "extra-timeout"), from the client's thread;
 * - closes connections that have had no session for that long ("close-idle-connections",
 *   called by Node once a second): a TCP reader dropped for not reading, whose session was
 *   then reaped, would otherwise keep its connection forever. (gst-rtsp-server's own
 *   "post-session-timeout" does this too, but 1.22 can re-arm its timer on a client whose
 *   connection is already gone, then abort in gst_rtsp_client_finalize: seen after ~125
 *   publish/read cycles.)
 * - counts the sessions playing a media, and
 * - closes the readers of a media,
 *
 * where a media is named by the prefix of its bin's name (pushgate names every media bin
 * "bin-<serial>-<stream>-<n>"), so no object crosses into JavaScript at all. Node adds the
 * servers (plain RTSP and RTSPS share one session pool) and calls the action signals
 * "count-sessions" and "close-sessions", all from its own thread.
 *
 * It also bounds the RTSP connections open at once, over all the servers it was given and per
 * client address ("max-connections", "max-connections-per-address"): a connection beyond either
 * is shut down as it is accepted, before gst-rtsp-server reads from it, so a flood of idle
 * connections cannot use up the process's file descriptors (and with them HTTP and every other
 * accept). "refused-connections" counts the refusals for Node to log.
 *
 * It keys every media of a mount the same way ("key-by-mount"): gst-rtsp-server's default key
 * has the URL's port and query in it, so RTSP and RTSPS readers would get a media each, and the
 * alternative, a key function written in JavaScript, ran on every DESCRIBE and left tens of KB
 * of garbage each time (500 readers joining grew the process by 40 to 80 MB of V8 heap).
 *
 * Last, it tells Node whether a media has been unprepared ("watch-media", then
 * "media-unprepared"), because gst_rtsp_media_get_status() blocks while a media is preparing,
 * up to 20 s: called from Node's thread it froze the whole gateway (and the publisher whose
 * next frame would end the preparing) whenever a reader's DESCRIBE waited for a silent publisher.
 */
#include "pushgate.h"
#include <malloc.h>

#define DEFAULT_SESSION_TIMEOUT 60
/* Client data: it has set up a session once; since when it has had none (gint64 µs). */
#define HAD_SESSION "pg-had-session"
#define EMPTY_SINCE "pg-empty-since"

#define PG_TYPE_SESSIONS (pg_sessions_get_type ())
G_DECLARE_FINAL_TYPE (PgSessions, pg_sessions, PG, SESSIONS, GstElement)

struct _PgSessions
{
  GstElement parent;
  GPtrArray *servers;           /* strong refs; only touched from the thread that adds them */
  guint session_timeout;        /* read from client threads: atomic */
  GMutex lock;                  /* guards the connection counts below */
  guint connections;
  GHashTable *per_address;      /* client IP (owned string) -> GUINT_TO_POINTER (count) */
  guint max_connections;
  guint max_per_address;
  guint refused;                /* atomic */
};

/* Key under which a counted client keeps the address it was counted for. */
#define COUNTED_ADDRESS "pg-counted-address"
/* Set on a watched media once it has been unprepared. */
#define UNPREPARED_FLAG "pg-unprepared"
#define DEFAULT_MAX_CONNECTIONS G_MAXUINT

enum
{
  PROP_0,
  PROP_ADD_SERVER,
  PROP_SESSION_TIMEOUT,
  PROP_MAX_CONNECTIONS,
  PROP_MAX_CONNECTIONS_PER_ADDRESS,
  PROP_CONNECTIONS,
  PROP_REFUSED_CONNECTIONS,
};

enum
{
  SIGNAL_COUNT_SESSIONS,
  SIGNAL_CLOSE_SESSIONS,
  SIGNAL_CLOSE_IDLE_CONNECTIONS,
  SIGNAL_WATCH_MEDIA,
  SIGNAL_MEDIA_UNPREPARED,
  SIGNAL_TRIM_MEMORY,
  SIGNAL_KEY_BY_MOUNT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_TYPE (PgSessions, pg_sessions, GST_TYPE_ELEMENT);

/* Whether a media's bin is named with `prefix`. */
static gboolean
media_matches (GstRTSPMedia * media, const gchar * prefix)
{
  GstElement *element = media ? gst_rtsp_media_get_element (media) : NULL;
  gboolean matches = FALSE;

  if (element) {
    GST_OBJECT_LOCK (element);
    matches = g_str_has_prefix (GST_OBJECT_NAME (element), prefix);
    GST_OBJECT_UNLOCK (element);
    gst_object_unref (element);
  }
  return matches;
}

typedef struct
{
  const gchar *prefix;
  gboolean uses;
} UsesData;

static GstRTSPFilterResult
session_media_uses (GstRTSPSession * session, GstRTSPSessionMedia * sm,
    gpointer user_data)
{
  UsesData *data = user_data;

  if (!data->uses && media_matches (gst_rtsp_session_media_get_media (sm),
          data->prefix))
    data->uses = TRUE;
  return GST_RTSP_FILTER_KEEP;
}

static gboolean
session_uses (GstRTSPSession * session, const gchar * prefix)
{
  UsesData data = { prefix, FALSE };

  gst_rtsp_session_filter (session, session_media_uses, &data);
  return data.uses;
}

typedef struct
{
  const gchar *prefix;
  guint count;
} CountData;

static GstRTSPFilterResult
count_session (GstRTSPSessionPool * pool, GstRTSPSession * session,
    gpointer user_data)
{
  CountData *data = user_data;

  if (session_uses (session, data->prefix))
    data->count++;
  return GST_RTSP_FILTER_KEEP;
}

static GstRTSPFilterResult
remove_session_using (GstRTSPSessionPool * pool, GstRTSPSession * session,
    gpointer user_data)
{
  CountData *data = user_data;

  if (!session_uses (session, data->prefix))
    return GST_RTSP_FILTER_KEEP;
  data->count++;
  return GST_RTSP_FILTER_REMOVE;
}

static GstRTSPFilterResult
client_session_uses (GstRTSPClient * client, GstRTSPSession * session,
    gpointer user_data)
{
  UsesData *data = user_data;

  if (!data->uses && session_uses (session, data->prefix))
    data->uses = TRUE;
  return GST_RTSP_FILTER_KEEP;
}

static GstRTSPFilterResult
close_client_using (GstRTSPServer * server, GstRTSPClient * client,
    gpointer user_data)
{
  CountData *count = user_data;
  UsesData data = { count->prefix, FALSE };

  gst_rtsp_client_session_filter (client, client_session_uses, &data);
  if (!data.uses)
    return GST_RTSP_FILTER_KEEP;
  count->count++;
  return GST_RTSP_FILTER_REMOVE;
}

/* The servers' session pools, each once (servers may share one). */
static GPtrArray *
session_pools (PgSessions * self)
{
  GPtrArray *pools = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < self->servers->len; i++) {
    GstRTSPSessionPool *pool =
        gst_rtsp_server_get_session_pool (g_ptr_array_index (self->servers, i));
    if (pool && !g_ptr_array_find (pools, pool, NULL))
      g_ptr_array_add (pools, pool);
    else if (pool)
      g_object_unref (pool);
  }
  return pools;
}

/* Runs on whatever thread unprepares the media, with its state lock held: a flag, no more. */
static void
on_media_unprepared (GstRTSPMedia * media, gpointer unused)
{
  g_object_set_data (G_OBJECT (media), UNPREPARED_FLAG, GINT_TO_POINTER (1));
}

/* Call when the media is made (media-configure), before anything can unprepare it. */
static void
watch_media (PgSessions * self, GstRTSPMedia * media)
{
  if (GST_IS_RTSP_MEDIA (media))
    g_signal_connect (media, "unprepared", G_CALLBACK (on_media_unprepared),
        NULL);
}

/* Never waits, unlike gst_rtsp_media_get_status(). */
static gboolean
media_unprepared (PgSessions * self, GstRTSPMedia * media)
{
  return G_IS_OBJECT (media)
      && g_object_get_data (G_OBJECT (media), UNPREPARED_FLAG) != NULL;
}

static gchar *
mount_key (GstRTSPMediaFactory * factory, const GstRTSPUrl * url)
{
  return g_strdup ("mount");
}

/* Every factory of the given factory's class (one class per application) then shares one
 * media per mount, whatever host, port or query a reader's URL names. */
static void
key_by_mount (PgSessions * self, GstRTSPMediaFactory * factory)
{
  if (GST_IS_RTSP_MEDIA_FACTORY (factory))
    GST_RTSP_MEDIA_FACTORY_GET_CLASS (factory)->gen_key = mount_key;
}

/*
 * Hands memory freed by a stopped pipeline back to the system. A media's pipeline is built and
 * freed on several threads, so its memory is spread over glibc's per-thread arenas, and free()
 * returns only what sits at the top of the main one: without this, RSS stays at the peak of
 * every pipeline that ever ran at once. Returns whether memory was released.
 */
static gboolean
trim_memory (PgSessions * self)
{
  return malloc_trim (0) != 0;
}

static guint
count_sessions (PgSessions * self, const gchar * prefix)
{
  CountData data = { prefix, 0 };
  GPtrArray *pools;

  if (!prefix)
    return 0;
  pools = session_pools (self);
  for (guint i = 0; i < pools->len; i++)
    gst_rtsp_session_pool_filter (g_ptr_array_index (pools, i), count_session,
        &data);
  g_ptr_array_unref (pools);
  return data.count;
}

/* Closes the connections of the readers of the media, which ends their sessions; then removes
 * sessions whose connection is already gone (UDP readers that vanished). */
static guint
close_sessions (PgSessions * self, const gchar * prefix)
{
  CountData clients = { prefix, 0 }, sessions = { prefix, 0 };
  GPtrArray *pools;

  if (!prefix)
    return 0;
  for (guint i = 0; i < self->servers->len; i++)
    gst_rtsp_server_client_filter (g_ptr_array_index (self->servers, i),
        close_client_using, &clients);
  pools = session_pools (self);
  for (guint i = 0; i < pools->len; i++)
    gst_rtsp_session_pool_filter (g_ptr_array_index (pools, i),
        remove_session_using, &sessions);
  g_ptr_array_unref (pools);
  GST_DEBUG_OBJECT (self, "closed %u clients and removed %u sessions of %s",
      clients.count, sessions.count, prefix);
  return clients.count + sessions.count;
}

/* On the client's thread, at SETUP. */
static void
on_new_session (GstRTSPClient * client, GstRTSPSession * session,
    PgSessions * self)
{
  gst_rtsp_session_set_timeout (session,
      g_atomic_int_get (&self->session_timeout));
  /* gst-rtsp-server adds 5 s by default: the configured timeout is the limit. */
  g_object_set (session, "extra-timeout", 0, NULL);
  g_object_set_data (G_OBJECT (client), HAD_SESSION, GINT_TO_POINTER (1));
}

typedef struct
{
  gint64 now;
  gint64 idle_us;
  guint closed;
} IdleData;

static GstRTSPFilterResult
count_client_session (GstRTSPClient * client, GstRTSPSession * session,
    gpointer user_data)
{
  (*(guint *) user_data)++;
  return GST_RTSP_FILTER_KEEP;
}

/* On Node's thread. Connections that never set up a session are left to gst-rtsp-server's
 * own timer (about 60 s); EMPTY_SINCE is only touched here. */
static GstRTSPFilterResult
close_client_if_idle (GstRTSPServer * server, GstRTSPClient * client,
    gpointer user_data)
{
  IdleData *data = user_data;
  guint sessions = 0;
  gint64 *since;

  if (!g_object_get_data (G_OBJECT (client), HAD_SESSION))
    return GST_RTSP_FILTER_KEEP;
  gst_rtsp_client_session_filter (client, count_client_session, &sessions);
  since = g_object_get_data (G_OBJECT (client), EMPTY_SINCE);
  if (sessions > 0) {
    if (since)
      g_object_set_data (G_OBJECT (client), EMPTY_SINCE, NULL);
    return GST_RTSP_FILTER_KEEP;
  }
  if (!since) {
    since = g_new (gint64, 1);
    *since = data->now;
    g_object_set_data_full (G_OBJECT (client), EMPTY_SINCE, since, g_free);
    return GST_RTSP_FILTER_KEEP;
  }
  if (data->now - *since < data->idle_us)
    return GST_RTSP_FILTER_KEEP;
  data->closed++;
  return GST_RTSP_FILTER_REMOVE;
}

static guint
close_idle_connections (PgSessions * self)
{
  IdleData data = { g_get_monotonic_time (),
    (gint64) g_atomic_int_get (&self->session_timeout) * G_USEC_PER_SEC, 0
  };

  for (guint i = 0; i < self->servers->len; i++)
    gst_rtsp_server_client_filter (g_ptr_array_index (self->servers, i),
        close_client_if_idle, &data);
  if (data.closed)
    GST_DEBUG_OBJECT (self, "closed %u connections without a session", data.closed);
  return data.closed;
}

/* GstRTSPAuth puts its TLS certificate on a new connection in its default "connect" check.
 * pushgate's users are checked by an RTSPAuth whose check JavaScript overrides, so that never
 * runs: the certificate is put on the connection here, before its first read. */
static gboolean
set_tls_certificate (GstRTSPClient * client)
{
  GstRTSPAuth *auth = gst_rtsp_client_get_auth (client);
  GTlsCertificate *certificate = auth ? gst_rtsp_auth_get_tls_certificate (auth) : NULL;
  GstRTSPConnection *connection = gst_rtsp_client_get_connection (client);
  GError *error = NULL;

  if (certificate && connection) {
    GTlsConnection *tls = gst_rtsp_connection_get_tls (connection, &error);
    if (tls)
      g_tls_connection_set_certificate (tls, certificate);
    else
      GST_WARNING ("no TLS on an RTSPS connection: %s", error ? error->message : "?");
    g_clear_error (&error);
  }
  gboolean secure = certificate != NULL;
  g_clear_object (&certificate);
  g_clear_object (&auth);
  return secure;
}

/* On the client's thread, at an RTSPS reader's SETUP (the media locked: C only). Media over
 * UDP would leave the TLS connection unencrypted, and gst-rtsp-server takes the first
 * transport it supports from the client's list: so every alternative must be interleaved TCP. */
static GstRTSPStatusCode
on_tls_pre_setup (GstRTSPClient * client, GstRTSPContext * ctx, gpointer unused)
{
  gchar *header = NULL;
  gboolean tcp_only = TRUE;

  /* The alternatives may come as one header, comma-separated, or as several headers. */
  for (gint i = 0; tcp_only && gst_rtsp_message_get_header (ctx->request,
          GST_RTSP_HDR_TRANSPORT, &header, i) == GST_RTSP_OK; i++) {
    gchar **alternatives = g_strsplit (header, ",", -1);
    for (gchar ** a = alternatives; *a; a++) {
      gchar *spec = g_ascii_strup (g_strstrip (*a), -1);
      if (!g_str_has_prefix (spec, "RTP/AVP/TCP")
          && !g_str_has_prefix (spec, "RTP/AVPF/TCP")
          && !g_str_has_prefix (spec, "RTP/SAVP/TCP")
          && !g_str_has_prefix (spec, "RTP/SAVPF/TCP"))
        tcp_only = FALSE;
      g_free (spec);
    }
    g_strfreev (alternatives);
  }
  if (tcp_only)
    return GST_RTSP_STS_OK;     /* a missing header is answered by gst-rtsp-server itself */
  GST_DEBUG ("refusing a non-TCP transport on RTSPS: %s", header);
  return GST_RTSP_STS_UNSUPPORTED_TRANSPORT;
}

/* On the client's thread, once its connection is gone. */
static void
on_client_closed (GstRTSPClient * client, PgSessions * self)
{
  const gchar *ip = g_object_get_data (G_OBJECT (client), COUNTED_ADDRESS);
  guint count;

  if (!ip)
    return;
  g_mutex_lock (&self->lock);
  self->connections--;
  count = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_address, ip));
  if (count <= 1)
    g_hash_table_remove (self->per_address, ip);
  else
    g_hash_table_insert (self->per_address, g_strdup (ip),
        GUINT_TO_POINTER (count - 1));
  g_mutex_unlock (&self->lock);
  g_object_set_data (G_OBJECT (client), COUNTED_ADDRESS, NULL);
}

/*
 * Counts a new connection, or refuses it. Runs where the server accepts (the main context, on
 * Node's thread) before the client is attached to its thread: closing the connection here
 * would leave gst-rtsp-server a watch on a closed socket, so the socket is only shut down, and
 * the client's watch then sees end of stream and cleans up as for any client that hung up.
 */
static gboolean
admit_connection (PgSessions * self, GstRTSPClient * client)
{
  GstRTSPConnection *conn = gst_rtsp_client_get_connection (client);
  const gchar *ip = conn ? gst_rtsp_connection_get_ip (conn) : NULL;
  guint from_ip;
  gboolean admitted;

  if (!ip)
    return TRUE;
  g_mutex_lock (&self->lock);
  from_ip = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_address, ip));
  admitted = self->connections < self->max_connections
      && from_ip < self->max_per_address;
  if (admitted) {
    self->connections++;
    g_hash_table_insert (self->per_address, g_strdup (ip),
        GUINT_TO_POINTER (from_ip + 1));
  }
  g_mutex_unlock (&self->lock);

  if (admitted) {
    g_object_set_data_full (G_OBJECT (client), COUNTED_ADDRESS, g_strdup (ip),
        g_free);
    g_signal_connect_object (client, "closed", G_CALLBACK (on_client_closed),
        self, 0);
    return TRUE;
  }
  g_atomic_int_inc (&self->refused);
  GST_DEBUG_OBJECT (self, "refusing a connection from %s: %u connections, "
      "%u from that address", ip, self->connections, from_ip);
  g_socket_shutdown (gst_rtsp_connection_get_read_socket (conn), TRUE, TRUE,
      NULL);
  return FALSE;
}

static void
on_client_connected (GstRTSPServer * server, GstRTSPClient * client,
    PgSessions * self)
{
  if (!admit_connection (self, client))
    return;
  if (set_tls_certificate (client))
    g_signal_connect (client, "pre-setup-request", G_CALLBACK (on_tls_pre_setup), NULL);
  g_signal_connect_object (client, "new-session", G_CALLBACK (on_new_session),
      self, 0);
}

static void
add_server (PgSessions * self, GstRTSPServer * server)
{
  if (!server || g_ptr_array_find (self->servers, server, NULL))
    return;
  g_ptr_array_add (self->servers, g_object_ref (server));
  g_signal_connect_object (server, "client-connected",
      G_CALLBACK (on_client_connected), self, 0);
}

static void
pg_sessions_set_property (GObject * object, guint id, const GValue * value,
    GParamSpec * pspec)
{
  PgSessions *self = PG_SESSIONS (object);

  switch (id) {
    case PROP_ADD_SERVER:
      add_server (self, g_value_get_object (value));
      break;
    case PROP_SESSION_TIMEOUT:
      g_atomic_int_set (&self->session_timeout, g_value_get_uint (value));
      break;
    case PROP_MAX_CONNECTIONS:
      g_mutex_lock (&self->lock);
      self->max_connections = g_value_get_uint (value);
      g_mutex_unlock (&self->lock);
      break;
    case PROP_MAX_CONNECTIONS_PER_ADDRESS:
      g_mutex_lock (&self->lock);
      self->max_per_address = g_value_get_uint (value);
      g_mutex_unlock (&self->lock);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
pg_sessions_get_property (GObject * object, guint id, GValue * value,
    GParamSpec * pspec)
{
  PgSessions *self = PG_SESSIONS (object);

  switch (id) {
    case PROP_SESSION_TIMEOUT:
      g_value_set_uint (value, g_atomic_int_get (&self->session_timeout));
      break;
    case PROP_MAX_CONNECTIONS:
      g_mutex_lock (&self->lock);
      g_value_set_uint (value, self->max_connections);
      g_mutex_unlock (&self->lock);
      break;
    case PROP_MAX_CONNECTIONS_PER_ADDRESS:
      g_mutex_lock (&self->lock);
      g_value_set_uint (value, self->max_per_address);
      g_mutex_unlock (&self->lock);
      break;
    case PROP_CONNECTIONS:
      g_mutex_lock (&self->lock);
      g_value_set_uint (value, self->connections);
      g_mutex_unlock (&self->lock);
      break;
    case PROP_REFUSED_CONNECTIONS:
      g_value_set_uint (value, g_atomic_int_get (&self->refused));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
pg_sessions_dispose (GObject * object)
{
  PgSessions *self = PG_SESSIONS (object);

  /* The handlers were connected with g_signal_connect_object: they go with this object. */
  g_ptr_array_set_size (self->servers, 0);
  G_OBJECT_CLASS (pg_sessions_parent_class)->dispose (object);
}

static void
pg_sessions_init (PgSessions * self)
{
  self->session_timeout = DEFAULT_SESSION_TIMEOUT;
  self->servers = g_ptr_array_new_with_free_func (g_object_unref);
  g_mutex_init (&self->lock);
  self->per_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  self->max_connections = DEFAULT_MAX_CONNECTIONS;
  self->max_per_address = DEFAULT_MAX_CONNECTIONS;
}

static void
pg_sessions_finalize (GObject * object)
{
  PgSessions *self = PG_SESSIONS (object);

  g_ptr_array_unref (self->servers);
  g_hash_table_unref (self->per_address);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (pg_sessions_parent_class)->finalize (object);
}

static void
pg_sessions_class_init (PgSessionsClass * klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);

  oc->set_property = pg_sessions_set_property;
  oc->get_property = pg_sessions_get_property;
  oc->dispose = pg_sessions_dispose;
  oc->finalize = pg_sessions_finalize;

  g_object_class_install_property (oc, PROP_ADD_SERVER,
      g_param_spec_object ("add-server", "Add server",
          "Write an RTSP server to handle its sessions too",
          GST_TYPE_RTSP_SERVER, G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_SESSION_TIMEOUT,
      g_param_spec_uint ("session-timeout", "Session timeout",
          "Seconds after which a silent reader's session expires (no extra timeout)",
          1, G_MAXUINT, DEFAULT_SESSION_TIMEOUT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_MAX_CONNECTIONS,
      g_param_spec_uint ("max-connections", "Max connections",
          "RTSP connections open at once over every server; more are shut down",
          1, G_MAXUINT, DEFAULT_MAX_CONNECTIONS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_MAX_CONNECTIONS_PER_ADDRESS,
      g_param_spec_uint ("max-connections-per-address",
          "Max connections per address",
          "RTSP connections open at once from one client address",
          1, G_MAXUINT, DEFAULT_MAX_CONNECTIONS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_CONNECTIONS,
      g_param_spec_uint ("connections", "Connections",
          "RTSP connections counted now", 0, G_MAXUINT, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_REFUSED_CONNECTIONS,
      g_param_spec_uint ("refused-connections", "Refused connections",
          "RTSP connections refused for a limit so far", 0, G_MAXUINT, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /* Action signals take the media's bin-name prefix and return a count. */
  signals[SIGNAL_COUNT_SESSIONS] = g_signal_new_class_handler ("count-sessions",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (count_sessions), NULL, NULL, NULL, G_TYPE_UINT, 1,
      G_TYPE_STRING);
  signals[SIGNAL_CLOSE_SESSIONS] = g_signal_new_class_handler ("close-sessions",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (close_sessions), NULL, NULL, NULL, G_TYPE_UINT, 1,
      G_TYPE_STRING);
  signals[SIGNAL_CLOSE_IDLE_CONNECTIONS] =
      g_signal_new_class_handler ("close-idle-connections",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (close_idle_connections), NULL, NULL, NULL, G_TYPE_UINT, 0);
  signals[SIGNAL_WATCH_MEDIA] = g_signal_new_class_handler ("watch-media",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (watch_media), NULL, NULL, NULL, G_TYPE_NONE, 1,
      GST_TYPE_RTSP_MEDIA);
  signals[SIGNAL_TRIM_MEMORY] = g_signal_new_class_handler ("trim-memory",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (trim_memory), NULL, NULL, NULL, G_TYPE_BOOLEAN, 0);
  signals[SIGNAL_KEY_BY_MOUNT] = g_signal_new_class_handler ("key-by-mount",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (key_by_mount), NULL, NULL, NULL, G_TYPE_NONE, 1,
      GST_TYPE_RTSP_MEDIA_FACTORY);
  signals[SIGNAL_MEDIA_UNPREPARED] =
      g_signal_new_class_handler ("media-unprepared",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (media_unprepared), NULL, NULL, NULL, G_TYPE_BOOLEAN, 1,
      GST_TYPE_RTSP_MEDIA);

  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass),
      "pushgate RTSP sessions", "Generic",
      "Sets session timeouts, counts and closes the RTSP sessions of a media, "
      "without handing session objects to JavaScript",
      "pushgate");
}

gboolean
pg_sessions_register (GstPlugin * plugin)
{
  return gst_element_register (plugin, "pgsessions", GST_RANK_NONE,
      PG_TYPE_SESSIONS);
}
