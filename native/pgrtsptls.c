/*
 * pgrtsptls: puts the RTSPS certificate on each new connection, and refuses RTSPS readers media
 * over anything but the TLS connection itself.
 *
 * GstRTSPAuth would do the first in its default "connect" check, which pushgate's RTSPAuth
 * overrides (in JavaScript, and JavaScript must not run on the client threads anyway).
 */
#include "pushgate.h"

#define PG_TYPE_RTSP_TLS (pg_rtsp_tls_get_type ())
G_DECLARE_FINAL_TYPE (PgRtspTls, pg_rtsp_tls, PG, RTSP_TLS, GstElement)

struct _PgRtspTls
{
  GstElement parent;
  GPtrArray *servers;           /* strong refs; only touched from the thread that adds them */
};

enum
{
  PROP_0,
  PROP_ADD_SERVER,
  PROP_DETACH,
};

G_DEFINE_TYPE (PgRtspTls, pg_rtsp_tls, GST_TYPE_ELEMENT);

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
on_client_connected (GstRTSPServer * server, GstRTSPClient * client, PgRtspTls * self)
{
  if (set_tls_certificate (client))
    g_signal_connect (client, "pre-setup-request", G_CALLBACK (on_tls_pre_setup), NULL);
}

static void
pg_rtsp_tls_set_property (GObject * object, guint id, const GValue * value,
    GParamSpec * pspec)
{
  PgRtspTls *self = PG_RTSP_TLS (object);

  switch (id) {
    case PROP_ADD_SERVER:
      pg_servers_add (self->servers, g_value_get_object (value),
          G_CALLBACK (on_client_connected), self);
      break;
    case PROP_DETACH:
      /* node-gtk cannot write NULL to an object property: detaching is its own property. */
      if (g_value_get_boolean (value))
        pg_servers_clear (self->servers, self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
pg_rtsp_tls_dispose (GObject * object)
{
  pg_servers_clear (PG_RTSP_TLS (object)->servers, object);
  G_OBJECT_CLASS (pg_rtsp_tls_parent_class)->dispose (object);
}

static void
pg_rtsp_tls_finalize (GObject * object)
{
  g_ptr_array_unref (PG_RTSP_TLS (object)->servers);
  G_OBJECT_CLASS (pg_rtsp_tls_parent_class)->finalize (object);
}

static void
pg_rtsp_tls_init (PgRtspTls * self)
{
  self->servers = g_ptr_array_new_with_free_func (g_object_unref);
}

static void
pg_rtsp_tls_class_init (PgRtspTlsClass * klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);

  oc->set_property = pg_rtsp_tls_set_property;
  oc->dispose = pg_rtsp_tls_dispose;
  oc->finalize = pg_rtsp_tls_finalize;
  g_object_class_install_property (oc, PROP_ADD_SERVER,
      g_param_spec_object ("add-server", "Add server",
          "Write an RTSP server whose auth has a TLS certificate: its connections get it",
          GST_TYPE_RTSP_SERVER, G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_DETACH,
      g_param_spec_boolean ("detach", "Detach", "Write TRUE to stop watching every server",
          FALSE, G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS));
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
