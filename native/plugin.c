/*
 * plugin.c: pushgate's one GStreamer plugin, "pushgate", which registers every element built
 * from native/ (one library, so one version, one licence, and no two plugins that could be
 * loaded side by side registering the same element names).
 */
#include "pushgate.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  return pg_authcache_register (plugin)
      && pg_busrelay_register (plugin)
      && pg_connectionlimit_register (plugin)
      && pg_faststart_register (plugin)
      && pg_ingest_register (plugin)
      && pg_mediawatch_register (plugin)
      && pg_memorytrim_register (plugin)
      && pg_mountkey_register (plugin)
      && pg_readerlimit_register (plugin)
      && pg_readers_register (plugin)
      && pg_rtpbatch_register (plugin)
      && pg_rtspstats_register (plugin)
      && pg_rtsptls_register (plugin)
      && pg_sessions_register (plugin)
      && pg_videopay_register (plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, pushgate,
    "pushgate's elements: RTSP fast start, sessions, readers, limits, payloading, ingest and bus relay",
    plugin_init, VERSION, PUSHGATE_LICENSE, PACKAGE, PUSHGATE_ORIGIN)
