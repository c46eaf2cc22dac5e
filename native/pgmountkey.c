/*
 * pgmountkey: keys every media of a mount the same way ("key-by-mount").
 *
 * gst-rtsp-server's default key has the URL's port and query in it, so RTSP and RTSPS readers
 * would get a media each, and the alternative, a key function written in JavaScript, ran on
 * every DESCRIBE and left tens of KB of garbage each time (500 readers joining grew the process
 * by 40 to 80 MB of V8 heap).
 */
#include "pushgate.h"

#define PG_TYPE_MOUNT_KEY (pg_mount_key_get_type ())
G_DECLARE_FINAL_TYPE (PgMountKey, pg_mount_key, PG, MOUNT_KEY, GstElement)

struct _PgMountKey
{
  GstElement parent;
};

G_DEFINE_TYPE (PgMountKey, pg_mount_key, GST_TYPE_ELEMENT);

static gchar *
mount_key (GstRTSPMediaFactory * factory, const GstRTSPUrl * url)
{
  return g_strdup ("mount");
}

/* Every factory of the given factory's class (one class per application) then shares one
 * media per mount, whatever host, port or query a reader's URL names. */
static void
key_by_mount (PgMountKey * self, GstRTSPMediaFactory * factory)
{
  if (GST_IS_RTSP_MEDIA_FACTORY (factory))
    GST_RTSP_MEDIA_FACTORY_GET_CLASS (factory)->gen_key = mount_key;
}

static void
pg_mount_key_class_init (PgMountKeyClass * klass)
{
  g_signal_new_class_handler ("key-by-mount", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION, G_CALLBACK (key_by_mount), NULL, NULL, NULL,
      G_TYPE_NONE, 1, GST_TYPE_RTSP_MEDIA_FACTORY);
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass),
      "pushgate RTSP mount key", "Generic",
      "Makes a media factory class share one media per mount, whatever URL a reader names",
      "pushgate");
}

static void
pg_mount_key_init (PgMountKey * self)
{
}

gboolean
pg_mountkey_register (GstPlugin * plugin)
{
  return gst_element_register (plugin, "pgmountkey", GST_RANK_NONE, PG_TYPE_MOUNT_KEY);
}
