/*
 * pushgate.h: what every element of pushgate's one GStreamer plugin library shares.
 *
 * scripts/build-native.sh compiles every native/ source into native/build/libgstpushgate.so
 * with -DPUSHGATE_VERSION taken from package.json, so the plugin reports the package's version.
 * plugin.c registers every element; each source file that defines elements declares here the
 * function that registers them.
 */
#ifndef PUSHGATE_H
#define PUSHGATE_H

#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#ifndef PUSHGATE_VERSION
#error "PUSHGATE_VERSION is unset: build with scripts/build-native.sh, which takes it from package.json"
#endif

#define PACKAGE "pushgate"
#define VERSION PUSHGATE_VERSION
#define PUSHGATE_LICENSE "MIT"
#define PUSHGATE_ORIGIN "https://github.com/pushgate"

/* pgvideopay puts a pgrtpbatch after its payloader. */
#define PG_TYPE_RTP_BATCH (pg_rtp_batch_get_type ())
GType pg_rtp_batch_get_type (void);

/*
 * The base of the elements that handle every new client of the RTSP servers Node adds to them
 * ("add-server"; "detach" lets go of all): server-watcher.c.
 */
#define PG_TYPE_SERVER_WATCHER (pg_server_watcher_get_type ())
G_DECLARE_DERIVABLE_TYPE (PgServerWatcher, pg_server_watcher, PG, SERVER_WATCHER, GstElement)

struct _PgServerWatcherClass
{
  GstElementClass parent_class;
  /* A client connected to one of the servers; on the server's main context (Node's thread). */
  void (*client_connected) (PgServerWatcher * self, GstRTSPServer * server,
      GstRTSPClient * client);
};

/* The servers added, in order (strong refs; only touched from the thread that adds them). */
GPtrArray *pg_server_watcher_servers (PgServerWatcher * self);

/*
 * Calls `gone (data)` once, when `sessmedia` goes (TEARDOWN, closed connection, session
 * timeout): from its dispose, on whichever thread drops its last ref, while its media and
 * transports still exist, so what a reader took from them can be given back. If `once` is
 * nonzero, a session media is watched at most once per `once` key: a later call with the same
 * key does nothing and returns FALSE (a SETUP per track of a stream is one reader).
 */
typedef void (*PgGoneFunc) (gpointer data);
gboolean pg_session_media_on_gone (GstRTSPSessionMedia * sessmedia, GQuark once,
    PgGoneFunc gone, gpointer data);

gboolean pg_authcache_register (GstPlugin * plugin);
gboolean pg_busrelay_register (GstPlugin * plugin);
gboolean pg_connectionlimit_register (GstPlugin * plugin);
gboolean pg_faststart_register (GstPlugin * plugin);
gboolean pg_ingest_register (GstPlugin * plugin);
gboolean pg_mediawatch_register (GstPlugin * plugin);
gboolean pg_memorytrim_register (GstPlugin * plugin);
gboolean pg_mountkey_register (GstPlugin * plugin);
gboolean pg_readerlimit_register (GstPlugin * plugin);
gboolean pg_readers_register (GstPlugin * plugin);
gboolean pg_rtpbatch_register (GstPlugin * plugin);
gboolean pg_rtspstats_register (GstPlugin * plugin);
gboolean pg_rtsptls_register (GstPlugin * plugin);
gboolean pg_sessions_register (GstPlugin * plugin);
gboolean pg_videopay_register (GstPlugin * plugin);

#endif /* PUSHGATE_H */
