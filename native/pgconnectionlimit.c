/*
 * pgconnectionlimit: bounds the RTSP connections open at once, over all the servers it was
 * given and per client address ("max-connections", "max-connections-per-address").
 *
 * A connection beyond either is shut down as it is accepted, before gst-rtsp-server reads from
 * it, so a flood of idle connections cannot use up the process's file descriptors (and with
 * them HTTP and every other accept). "refused-connections" counts the refusals for Node to log.
 * Add it to the servers before pushgate's other elements: a refused connection is then shut
 * down before they see it.
 */
#include "pushgate.h"

/* Key under which a counted client keeps the address it was counted for. */
#define COUNTED_ADDRESS "pg-counted-address"
#define DEFAULT_MAX_CONNECTIONS G_MAXUINT

#define PG_TYPE_CONNECTION_LIMIT (pg_connection_limit_get_type ())
G_DECLARE_FINAL_TYPE (PgConnectionLimit, pg_connection_limit, PG, CONNECTION_LIMIT, PgServerWatcher)

struct _PgConnectionLimit
{
  PgServerWatcher parent;
  GMutex lock;                  /* guards the connection counts below */
  guint connections;
  GHashTable *per_address;      /* client IP (owned string) -> GUINT_TO_POINTER (count) */
  guint max_connections;
  guint max_per_address;
  guint refused;                /* atomic */
};

enum
{
  PROP_0,
  PROP_MAX_CONNECTIONS,
  PROP_MAX_CONNECTIONS_PER_ADDRESS,
  PROP_CONNECTIONS,
  PROP_REFUSED_CONNECTIONS,
};

G_DEFINE_TYPE (PgConnectionLimit, pg_connection_limit, PG_TYPE_SERVER_WATCHER);

/* On the client's thread, once its connection is gone. */
static void
on_client_closed (GstRTSPClient * client, PgConnectionLimit * self)
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
admit_connection (PgConnectionLimit * self, GstRTSPClient * client)
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
pg_connection_limit_client_connected (PgServerWatcher * self, GstRTSPServer * server,
    GstRTSPClient * client)
{
  admit_connection (PG_CONNECTION_LIMIT (self), client);
}

static void
pg_connection_limit_set_property (GObject * object, guint id, const GValue * value,
    GParamSpec * pspec)
{
  PgConnectionLimit *self = PG_CONNECTION_LIMIT (object);

  switch (id) {
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
pg_connection_limit_get_property (GObject * object, guint id, GValue * value,
    GParamSpec * pspec)
{
  PgConnectionLimit *self = PG_CONNECTION_LIMIT (object);

  switch (id) {
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
pg_connection_limit_finalize (GObject * object)
{
  PgConnectionLimit *self = PG_CONNECTION_LIMIT (object);

  g_hash_table_unref (self->per_address);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (pg_connection_limit_parent_class)->finalize (object);
}

static void
pg_connection_limit_init (PgConnectionLimit * self)
{
  g_mutex_init (&self->lock);
  self->per_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  self->max_connections = DEFAULT_MAX_CONNECTIONS;
  self->max_per_address = DEFAULT_MAX_CONNECTIONS;
}

static void
pg_connection_limit_class_init (PgConnectionLimitClass * klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);

  oc->set_property = pg_connection_limit_set_property;
  oc->get_property = pg_connection_limit_get_property;
  oc->finalize = pg_connection_limit_finalize;
  PG_SERVER_WATCHER_CLASS (klass)->client_connected = pg_connection_limit_client_connected;
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

  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass),
      "pushgate RTSP connection limit", "Generic",
      "Shuts down RTSP connections beyond a limit in total or per client address as they are accepted",
      "pushgate");
}

gboolean
pg_connectionlimit_register (GstPlugin * plugin)
{
  return gst_element_register (plugin, "pgconnectionlimit", GST_RANK_NONE,
      PG_TYPE_CONNECTION_LIMIT);
}
