/*
 * pgmediawatch: tells Node whether a media has been unprepared ("watch-media", then
 * "media-unprepared"), without waiting.
 *
 * gst_rtsp_media_get_status() blocks while a media is preparing, up to 20 s: called from Node's
 * thread it froze the whole gateway (and the publisher whose next frame would end the
 * preparing) whenever a reader's DESCRIBE waited for a silent publisher.
 */
#include "pushgate.h"

/* Set on a watched media once it has been unprepared. */
#define UNPREPARED_FLAG "pg-unprepared"

#define PG_TYPE_MEDIA_WATCH (pg_media_watch_get_type ())
G_DECLARE_FINAL_TYPE (PgMediaWatch, pg_media_watch, PG, MEDIA_WATCH, GstElement)

struct _PgMediaWatch
{
  GstElement parent;
};

G_DEFINE_TYPE (PgMediaWatch, pg_media_watch, GST_TYPE_ELEMENT);

/* Runs on whatever thread unprepares the media, with its state lock held: a flag, no more. */
static void
on_media_unprepared (GstRTSPMedia * media, gpointer unused)
{
  g_object_set_data (G_OBJECT (media), UNPREPARED_FLAG, GINT_TO_POINTER (1));
}

/* Call when the media is made (media-configure), before anything can unprepare it. */
static void
watch_media (PgMediaWatch * self, GstRTSPMedia * media)
{
  if (GST_IS_RTSP_MEDIA (media))
    g_signal_connect (media, "unprepared", G_CALLBACK (on_media_unprepared),
        NULL);
}

/* Never waits, unlike gst_rtsp_media_get_status(). */
static gboolean
media_unprepared (PgMediaWatch * self, GstRTSPMedia * media)
{
  return G_IS_OBJECT (media)
      && g_object_get_data (G_OBJECT (media), UNPREPARED_FLAG) != NULL;
}

static void
pg_media_watch_class_init (PgMediaWatchClass * klass)
{
  g_signal_new_class_handler ("watch-media", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION, G_CALLBACK (watch_media), NULL, NULL, NULL,
      G_TYPE_NONE, 1, GST_TYPE_RTSP_MEDIA);
  g_signal_new_class_handler ("media-unprepared", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION, G_CALLBACK (media_unprepared), NULL, NULL, NULL,
      G_TYPE_BOOLEAN, 1, GST_TYPE_RTSP_MEDIA);
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass),
      "pushgate RTSP media watch", "Generic",
      "Tells without waiting whether an RTSP media has been unprepared",
      "pushgate");
}

static void
pg_media_watch_init (PgMediaWatch * self)
{
}

gboolean
pg_mediawatch_register (GstPlugin * plugin)
{
  return gst_element_register (plugin, "pgmediawatch", GST_RANK_NONE, PG_TYPE_MEDIA_WATCH);
}
