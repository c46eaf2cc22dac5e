/*
 * pgrtsptls: puts the RTSPS certificate on each new connection, and refuses RTSPS readers media
 * over anything but the TLS connection itself.
 *
 * GstRTSPAuth would do the first in its default "connect" check, which pushgate's RTSPAuth
 * overrides (in JavaScript, and JavaScript must not run on the client threads anyway).
 */
#include "pushgate.h"

#define PG_TYPE_RTSP_TLS (pg_rtsp_tls_get_type ())
G_DECLARE_FINAL_TYPE (PgRtspTls, pg_rtsp_tls, PG, RTSP_TLS, PgServerWatcher)

struct _PgRtspTls
{
  PgServerWatcher parent;
};

G_DEFINE_TYPE (PgRtspTls, pg_rtsp_tls, PG_TYPE_SERVER_WATCHER);

/* GstRTSPAuth puts its TLS certificate on a new connection in its default "connect" check.
 * pushgate's users are checked by an RTSPAuth whose check JavaScript overrides, so that never
 * runs: the certificate is put on the connection here, before its first read. */
static gboolean
set_tls_certificate (GstRTSPClient * client)
{
  GstRTSPAuth *auth = gst_rtsp_client_get_auth (client);
  GTlsCertificate *certificate = auth ? gst_rtsp_auth_get_tls_certificate (auth) : NULL;
  GstRTSPConnection *connection = gst_rtsp_client_get_connection (client);
  GError *error = NULL;

  if (certificate && connection) {
    GTlsConnection *tls = gst_rtsp_connection_get_tls (connection, &error);
    if (tls)
      g_tls_connection_set_certificate (tls, certificate);
    else
      GST_WARNING ("no TLS on an RTSPS connection: %s", error ? error->message : "?");
    g_clear_error (&error);
  }
  gboolean secure = certificate != NULL;
  g_clear_object (&certificate);
  g_clear_object (&auth);
  return secure;
}

/* On the client's thread, at an RTSPS reader's SETUP (the media locked: C only). Media over
 * UDP would leave the TLS connection unencrypted, and gst-rtsp-server takes the first
 * transport it supports from the client's list: so every alternative must be interleaved TCP. */
static GstRTSPStatusCode
on_tls_pre_setup (GstRTSPClient * client, GstRTSPContext * ctx, gpointer unused)
{
  gchar *header = NULL;
  gboolean tcp_only = TRUE;

  /* The alternatives may come as one header, comma-separated, or as several headers. */
  for (gint i = 0; tcp_only && gst_rtsp_message_get_header (ctx->request,
          GST_RTSP_HDR_TRANSPORT, &header, i) == GST_RTSP_OK; i++) {
    gchar **alternatives = g_strsplit (header, ",", -1);
    for (gchar ** a = alternatives; *a; a++) {
      gchar *spec = g_ascii_strup (g_strstrip (*a), -1);
      if (!g_str_has_prefix (spec, "RTP/AVP/TCP")
          && !g_str_has_prefix (spec, "RTP/AVPF/TCP")
          && !g_str_has_prefix (spec, "RTP/SAVP/TCP")
          && !g_str_has_prefix (spec, "RTP/SAVPF/TCP"))
        tcp_only = FALSE;
      g_free (spec);
    }
    g_strfreev (alternatives);
  }
  if (tcp_only)
    return GST_RTSP_STS_OK;     /* a missing header is answered by gst-rtsp-server itself */
  GST_DEBUG ("refusing a non-TCP transport on RTSPS: %s", header);
  return GST_RTSP_STS_UNSUPPORTED_TRANSPORT;
}

static void
pg_rtsp_tls_client_connected (PgServerWatcher * watcher, GstRTSPServer * server,
    GstRTSPClient * client)
{
  if (set_tls_certificate (client))
    g_signal_connect (client, "pre-setup-request", G_CALLBACK (on_tls_pre_setup), NULL);
}

static void
pg_rtsp_tls_init (PgRtspTls * self)
{
}

/* Its servers ("add-server") are those whose auth has a TLS certificate. */
static void
pg_rtsp_tls_class_init (PgRtspTlsClass * klass)
{
  PG_SERVER_WATCHER_CLASS (klass)->client_connected = pg_rtsp_tls_client_connected;
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass),
      "pushgate RTSPS connections", "Generic",
      "Puts the TLS certificate on RTSPS connections and keeps RTSPS media on them (TCP only)",
      "pushgate");
}

gboolean
pg_rtsptls_register (GstPlugin * plugin)
{
  return gst_element_register (plugin, "pgrtsptls", GST_RANK_NONE, PG_TYPE_RTSP_TLS);
}
