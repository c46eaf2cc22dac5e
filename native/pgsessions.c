/*
 * pgsessions: the RTSP sessions of pushgate's readers, handled where JavaScript never sees them.
 *
 * node-gtk wraps every GObject handed to JavaScript with a toggle reference that lives until
 * V8 collects the wrapper. A wrapped RTSPSession or RTSPSessionMedia therefore outlives its
 * reader by seconds or minutes, and with it the prepare count it holds on the stream's media:
 * the media is not unprepared when the stream ends, and its pipeline and packet log stay in
 * memory. So this element does what pushgate needs from sessions in C:
 *
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
 * Its neighbours do the rest of what a connection needs: pgconnectionlimit (how many),
 * pgrtsptls (RTSPS), pgmountkey (one media per mount) and pgmediawatch (media unprepared).
 */
#include "pushgate.h"

#define DEFAULT_SESSION_TIMEOUT 60
/* Client data: it has set up a session once; since when it has had none (gint64 µs). */
#define HAD_SESSION "pg-had-session"
#define EMPTY_SINCE "pg-empty-since"

#define PG_TYPE_SESSIONS (pg_sessions_get_type ())
G_DECLARE_FINAL_TYPE (PgSessions, pg_sessions, PG, SESSIONS, PgServerWatcher)

struct _PgSessions
{
  PgServerWatcher parent;
  guint session_timeout;        /* read from client threads: atomic */
};

enum
{
  PROP_0,
  PROP_SESSION_TIMEOUT,
};

enum
{
  SIGNAL_COUNT_SESSIONS,
  SIGNAL_CLOSE_SESSIONS,
  SIGNAL_CLOSE_IDLE_CONNECTIONS,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_TYPE (PgSessions, pg_sessions, PG_TYPE_SERVER_WATCHER);

#define SERVERS(self) pg_server_watcher_servers (PG_SERVER_WATCHER (self))

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
  GPtrArray *servers = SERVERS (self);

  for (guint i = 0; i < servers->len; i++) {
    GstRTSPSessionPool *pool =
        gst_rtsp_server_get_session_pool (g_ptr_array_index (servers, i));
    if (pool && !g_ptr_array_find (pools, pool, NULL))
      g_ptr_array_add (pools, pool);
    else if (pool)
      g_object_unref (pool);
  }
  return pools;
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
  GPtrArray *servers = SERVERS (self);
  GPtrArray *pools;

  if (!prefix)
    return 0;
  for (guint i = 0; i < servers->len; i++)
    gst_rtsp_server_client_filter (g_ptr_array_index (servers, i),
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
  GPtrArray *servers = SERVERS (self);

  for (guint i = 0; i < servers->len; i++)
    gst_rtsp_server_client_filter (g_ptr_array_index (servers, i),
        close_client_if_idle, &data);
  if (data.closed)
    GST_DEBUG_OBJECT (self, "closed %u connections without a session", data.closed);
  return data.closed;
}

static void
pg_sessions_client_connected (PgServerWatcher * self, GstRTSPServer * server,
    GstRTSPClient * client)
{
  g_signal_connect_object (client, "new-session", G_CALLBACK (on_new_session),
      self, 0);
}

static void
pg_sessions_set_property (GObject * object, guint id, const GValue * value,
    GParamSpec * pspec)
{
  PgSessions *self = PG_SESSIONS (object);

  switch (id) {
    case PROP_SESSION_TIMEOUT:
      g_atomic_int_set (&self->session_timeout, g_value_get_uint (value));
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
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
pg_sessions_init (PgSessions * self)
{
  self->session_timeout = DEFAULT_SESSION_TIMEOUT;
}

static void
pg_sessions_class_init (PgSessionsClass * klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);

  oc->set_property = pg_sessions_set_property;
  oc->get_property = pg_sessions_get_property;
  PG_SERVER_WATCHER_CLASS (klass)->client_connected = pg_sessions_client_connected;
  g_object_class_install_property (oc, PROP_SESSION_TIMEOUT,
      g_param_spec_uint ("session-timeout", "Session timeout",
          "Seconds after which a silent reader's session expires (no extra timeout)",
          1, G_MAXUINT, DEFAULT_SESSION_TIMEOUT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

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
