/*
 * server-watcher.c: PgServerWatcher, the base of pushgate's elements that act on every client
 * of the RTSP servers Node hands them (plain RTSP and RTSPS alike). It owns the list of
 * servers and their "client-connected" hook, so that an element only says what it does with
 * a new client (its class's client_connected).
 *
 * Properties: "add-server" (write: one more server; each once) and "detach" (write TRUE: stop
 * watching every server; node-gtk cannot write NULL to an object property).
 */
#include "pushgate.h"

typedef struct
{
  GPtrArray *servers;           /* strong refs; only touched from the thread that adds them */
} PgServerWatcherPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (PgServerWatcher, pg_server_watcher, GST_TYPE_ELEMENT);

enum
{
  PROP_0,
  PROP_ADD_SERVER,
  PROP_DETACH,
};

GPtrArray *
pg_server_watcher_servers (PgServerWatcher * self)
{
  PgServerWatcherPrivate *priv = pg_server_watcher_get_instance_private (self);

  return priv->servers;
}

/* On the server's main context (Node's thread in pushgate). */
static void
on_client_connected (GstRTSPServer * server, GstRTSPClient * client, PgServerWatcher * self)
{
  PgServerWatcherClass *klass = PG_SERVER_WATCHER_GET_CLASS (self);

  if (klass->client_connected)
    klass->client_connected (self, server, client);
}

static void
add_server (PgServerWatcher * self, GstRTSPServer * server)
{
  GPtrArray *servers = pg_server_watcher_servers (self);

  if (!server || g_ptr_array_find (servers, server, NULL))
    return;
  g_ptr_array_add (servers, g_object_ref (server));
  /* Connected with g_signal_connect_object: the handler goes with the element. */
  g_signal_connect_object (server, "client-connected", G_CALLBACK (on_client_connected), self, 0);
}

static void
detach (PgServerWatcher * self)
{
  GPtrArray *servers = pg_server_watcher_servers (self);

  for (guint i = 0; i < servers->len; i++)
    g_signal_handlers_disconnect_by_data (g_ptr_array_index (servers, i), self);
  g_ptr_array_set_size (servers, 0);
}

static void
pg_server_watcher_set_property (GObject * object, guint id, const GValue * value,
    GParamSpec * pspec)
{
  PgServerWatcher *self = PG_SERVER_WATCHER (object);

  switch (id) {
    case PROP_ADD_SERVER:
      add_server (self, g_value_get_object (value));
      break;
    case PROP_DETACH:
      if (g_value_get_boolean (value))
        detach (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
pg_server_watcher_dispose (GObject * object)
{
  detach (PG_SERVER_WATCHER (object));
  G_OBJECT_CLASS (pg_server_watcher_parent_class)->dispose (object);
}

static void
pg_server_watcher_finalize (GObject * object)
{
  g_ptr_array_unref (pg_server_watcher_servers (PG_SERVER_WATCHER (object)));
  G_OBJECT_CLASS (pg_server_watcher_parent_class)->finalize (object);
}

static void
pg_server_watcher_init (PgServerWatcher * self)
{
  PgServerWatcherPrivate *priv = pg_server_watcher_get_instance_private (self);

  priv->servers = g_ptr_array_new_with_free_func (g_object_unref);
}

static void
pg_server_watcher_class_init (PgServerWatcherClass * klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  GParamFlags wo = G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS;

  oc->set_property = pg_server_watcher_set_property;
  oc->dispose = pg_server_watcher_dispose;
  oc->finalize = pg_server_watcher_finalize;
  g_object_class_install_property (oc, PROP_ADD_SERVER,
      g_param_spec_object ("add-server", "Add server",
          "Write an RTSP server whose new clients this element handles too",
          GST_TYPE_RTSP_SERVER, wo));
  g_object_class_install_property (oc, PROP_DETACH,
      g_param_spec_boolean ("detach", "Detach", "Write TRUE to stop watching every server",
          FALSE, wo));
}
