/*
 * common.c: helpers that several of pushgate's elements share (declared in pushgate.h).
 */
#include "pushgate.h"

gboolean
pg_servers_add (GPtrArray * servers, GstRTSPServer * server, GCallback on_client_connected,
    gpointer element)
{
  if (!server || g_ptr_array_find (servers, server, NULL))
    return FALSE;
  g_ptr_array_add (servers, g_object_ref (server));
  /* Connected with g_signal_connect_object: the handler goes with the element. */
  g_signal_connect_object (server, "client-connected", on_client_connected, element, 0);
  return TRUE;
}

void
pg_servers_clear (GPtrArray * servers, gpointer element)
{
  for (guint i = 0; i < servers->len; i++)
    g_signal_handlers_disconnect_by_data (g_ptr_array_index (servers, i), element);
  g_ptr_array_set_size (servers, 0);
}

typedef struct
{
  PgGoneFunc gone;
  gpointer data;
} GoneWatch;

static void
on_session_media_gone (gpointer data, GObject * where_it_was)
{
  GoneWatch *watch = data;

  watch->gone (watch->data);
  g_free (watch);
}

gboolean
pg_session_media_on_gone (GstRTSPSessionMedia * sessmedia, GQuark once, PgGoneFunc gone,
    gpointer data)
{
  if (once) {
    if (g_object_get_qdata (G_OBJECT (sessmedia), once))
      return FALSE;
    g_object_set_qdata (G_OBJECT (sessmedia), once, GINT_TO_POINTER (1));
  }
  GoneWatch *watch = g_new (GoneWatch, 1);
  watch->gone = gone;
  watch->data = data;
  /* GObject's dispose notifies weak refs; GstRTSPSessionMedia drops its media and transports
   * only later, in finalize. */
  g_object_weak_ref (G_OBJECT (sessmedia), on_session_media_gone, watch);
  return TRUE;
}
