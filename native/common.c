/*
 * common.c: helpers that several of pushgate's elements share (declared in pushgate.h).
 */
#include "pushgate.h"

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
