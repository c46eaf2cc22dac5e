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
