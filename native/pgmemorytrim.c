/*
 * pgmemorytrim: hands memory freed by stopped pipelines and closed connections back to the
 * system ("trim-memory", malloc_trim), when Node asks.
 */
#include "pushgate.h"
#include <malloc.h>

#define PG_TYPE_MEMORY_TRIM (pg_memory_trim_get_type ())
G_DECLARE_FINAL_TYPE (PgMemoryTrim, pg_memory_trim, PG, MEMORY_TRIM, GstElement)

struct _PgMemoryTrim
{
  GstElement parent;
};

G_DEFINE_TYPE (PgMemoryTrim, pg_memory_trim, GST_TYPE_ELEMENT);

/*
 * Hands memory freed by a stopped pipeline back to the system. A media's pipeline is built and
 * freed on several threads, so its memory is spread over glibc's per-thread arenas, and free()
 * returns only what sits at the top of the main one: without this, RSS stays at the peak of
 * every pipeline that ever ran at once. Returns whether memory was released.
 */
static gboolean
trim_memory (PgMemoryTrim * self)
{
  return malloc_trim (0) != 0;
}

static void
pg_memory_trim_class_init (PgMemoryTrimClass * klass)
{
  g_signal_new_class_handler ("trim-memory", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION, G_CALLBACK (trim_memory), NULL, NULL, NULL,
      G_TYPE_BOOLEAN, 0);
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass),
      "pushgate memory trim", "Generic",
      "Returns memory freed on GStreamer's threads to the system (malloc_trim)",
      "pushgate");
}

static void
pg_memory_trim_init (PgMemoryTrim * self)
{
}

gboolean
pg_memorytrim_register (GstPlugin * plugin)
{
  return gst_element_register (plugin, "pgmemorytrim", GST_RANK_NONE, PG_TYPE_MEMORY_TRIM);
}
