/*
 * pgreaderlimit: caps the RTSP readers of each stream and of the whole server.
 *
 * gst-rtsp-server has no reader cap of its own. The check has to run at SETUP, on the
 * client's thread, while gst-rtsp-server holds the media's lock: a JavaScript handler there
 * would make that thread wait for Node (node-gtk) while Node may itself wait for the same
 * lock (closing a stream's readers), a deadlock. So the counting and the check are here, in C.
 *
 * A reader is a session media (one session's hold on one stream), counted from the SETUP that
 * creates it ("setup-request") until it is disposed, however it ends (TEARDOWN, connection
 * closed, session timeout). "pre-setup-request" answers 453 Not Enough Bandwidth to a SETUP
 * that would create one more reader than max-per-stream or max-total. A SETUP within a session
 * that already holds a reader (its second track, or another stream) is checked against the
 * per-stream count only; the session pool's max-sessions bounds the sessions themselves.
 *
 * Properties: its servers ("add-server", "detach": PgServerWatcher; plain RTSP and RTSPS
 * alike), "max-per-stream", "max-total",
 * "readers" (read), "refused" (read: SETUPs answered 453 so far).
 */
#include "pushgate.h"

#define PG_TYPE_READER_LIMIT (pg_reader_limit_get_type ())
G_DECLARE_FINAL_TYPE (PgReaderLimit, pg_reader_limit, PG, READER_LIMIT, PgServerWatcher)

struct _PgReaderLimit
{
  PgServerWatcher parent;
  GMutex lock;                  /* guards everything below and every media's count */
  guint max_per_stream;
  guint max_total;
  guint total;
  guint64 refused;
};

enum
{
  PROP_0,
  PROP_MAX_PER_STREAM,
  PROP_MAX_TOTAL,
  PROP_READERS,
  PROP_REFUSED,
};

G_DEFINE_TYPE (PgReaderLimit, pg_reader_limit, PG_TYPE_SERVER_WATCHER);

GST_DEBUG_CATEGORY_STATIC (pgrl_debug);
#define GST_CAT_DEFAULT pgrl_debug

static GQuark media_count_quark;
static GQuark counted_quark;
static GQuark session_medias_quark;

/* Readers of one media, kept on the media itself so it lives exactly as long. */
typedef struct
{
  guint readers;
} MediaCount;

/* What a counted session media needs to give its count back when it goes. */
typedef struct
{
  PgReaderLimit *self;          /* owned ref */
  GstRTSPMedia *media;          /* not owned: the session media holds it until after us */
} Counted;

static MediaCount *
media_count (GstRTSPMedia * media)
{
  MediaCount *count = g_object_get_qdata (G_OBJECT (media), media_count_quark);

  if (!count) {
    count = g_new0 (MediaCount, 1);
    g_object_set_qdata_full (G_OBJECT (media), media_count_quark, count, g_free);
  }
  return count;
}

static void
on_session_media_gone (gpointer data)
{
  Counted *counted = data;
  PgReaderLimit *self = counted->self;

  g_mutex_lock (&self->lock);
  MediaCount *count = media_count (counted->media);
  if (count->readers > 0)
    count->readers--;
  if (self->total > 0)
    self->total--;
  g_mutex_unlock (&self->lock);
  gst_object_unref (self);
  g_free (counted);
}

/* After a successful SETUP: count the session media once. */
static void
on_setup (GstRTSPClient * client, GstRTSPContext * ctx, PgReaderLimit * self)
{
  GstRTSPSessionMedia *sessmedia = ctx->sessmedia;
  GstRTSPMedia *media;

  if (!sessmedia)
    return;
  media = gst_rtsp_session_media_get_media (sessmedia);
  if (!media)
    return;
  Counted *counted = g_new0 (Counted, 1);
  counted->self = gst_object_ref (self);
  counted->media = media;
  if (!pg_session_media_on_gone (sessmedia, counted_quark, on_session_media_gone, counted)) {
    gst_object_unref (self);
    g_free (counted);
    return;
  }
  g_mutex_lock (&self->lock);
  media_count (media)->readers++;
  self->total++;
  if (ctx->session) {
    GHashTable *medias = g_object_get_qdata (G_OBJECT (ctx->session), session_medias_quark);
    if (!medias) {
      /* Pointers only compared, never followed. */
      medias = g_hash_table_new (g_direct_hash, g_direct_equal);
      g_object_set_qdata_full (G_OBJECT (ctx->session), session_medias_quark, medias,
          (GDestroyNotify) g_hash_table_unref);
    }
    g_hash_table_add (medias, media);
  }
  g_mutex_unlock (&self->lock);
}

static GstRTSPStatusCode
on_pre_setup (GstRTSPClient * client, GstRTSPContext * ctx,
    PgReaderLimit * self)
{
  GstRTSPStatusCode code = GST_RTSP_STS_OK;
  guint readers, total;

  if (!ctx->media)
    return GST_RTSP_STS_OK;
  g_mutex_lock (&self->lock);
  /* A further track of a stream this session already reads is not a new reader. The session
   * remembers its streams in its own data: taking the session's lock here, under the media's,
   * could deadlock against a thread that closes the session. */
  if (ctx->session) {
    GHashTable *medias = g_object_get_qdata (G_OBJECT (ctx->session), session_medias_quark);
    if (medias && g_hash_table_contains (medias, ctx->media)) {
      g_mutex_unlock (&self->lock);
      return GST_RTSP_STS_OK;
    }
  }
  readers = media_count (ctx->media)->readers;
  total = self->total;
  /* The media's lock is held for the whole SETUP, so its count cannot move under us. */
  if (readers >= self->max_per_stream)
    code = GST_RTSP_STS_NOT_ENOUGH_BANDWIDTH;
  else if (!ctx->session && total >= self->max_total)
    code = GST_RTSP_STS_NOT_ENOUGH_BANDWIDTH;
  if (code != GST_RTSP_STS_OK)
    self->refused++;
  g_mutex_unlock (&self->lock);

  if (code != GST_RTSP_STS_OK)
    GST_INFO_OBJECT (self, "refusing SETUP: %u readers of this stream, %u in total"
        " (limits %u, %u)", readers, total, self->max_per_stream, self->max_total);
  return code;
}

static void
pg_reader_limit_client_connected (PgServerWatcher * self, GstRTSPServer * server,
    GstRTSPClient * client)
{
  g_signal_connect_object (client, "pre-setup-request",
      G_CALLBACK (on_pre_setup), self, 0);
  g_signal_connect_object (client, "setup-request", G_CALLBACK (on_setup),
      self, 0);
}

static void
pg_reader_limit_set_property (GObject * object, guint id, const GValue * value,
    GParamSpec * pspec)
{
  PgReaderLimit *self = PG_READER_LIMIT (object);

  switch (id) {
    case PROP_MAX_PER_STREAM:
      g_mutex_lock (&self->lock);
      self->max_per_stream = g_value_get_uint (value);
      g_mutex_unlock (&self->lock);
      break;
    case PROP_MAX_TOTAL:
      g_mutex_lock (&self->lock);
      self->max_total = g_value_get_uint (value);
      g_mutex_unlock (&self->lock);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
pg_reader_limit_get_property (GObject * object, guint id, GValue * value,
    GParamSpec * pspec)
{
  PgReaderLimit *self = PG_READER_LIMIT (object);

  g_mutex_lock (&self->lock);
  switch (id) {
    case PROP_MAX_PER_STREAM:
      g_value_set_uint (value, self->max_per_stream);
      break;
    case PROP_MAX_TOTAL:
      g_value_set_uint (value, self->max_total);
      break;
    case PROP_READERS:
      g_value_set_uint (value, self->total);
      break;
    case PROP_REFUSED:
      g_value_set_uint64 (value, self->refused);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
  g_mutex_unlock (&self->lock);
}

static void
pg_reader_limit_finalize (GObject * object)
{
  g_mutex_clear (&PG_READER_LIMIT (object)->lock);
  G_OBJECT_CLASS (pg_reader_limit_parent_class)->finalize (object);
}

static void
pg_reader_limit_class_init (PgReaderLimitClass * klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->set_property = pg_reader_limit_set_property;
  object_class->get_property = pg_reader_limit_get_property;
  object_class->finalize = pg_reader_limit_finalize;
  PG_SERVER_WATCHER_CLASS (klass)->client_connected = pg_reader_limit_client_connected;
  g_object_class_install_property (object_class, PROP_MAX_PER_STREAM,
      g_param_spec_uint ("max-per-stream", "Max per stream", "Readers of one stream (media)",
          0, G_MAXUINT, G_MAXUINT, rw));
  g_object_class_install_property (object_class, PROP_MAX_TOTAL,
      g_param_spec_uint ("max-total", "Max total", "Readers of all streams together",
          0, G_MAXUINT, G_MAXUINT, rw));
  g_object_class_install_property (object_class, PROP_READERS,
      g_param_spec_uint ("readers", "Readers", "Readers now", 0, G_MAXUINT, 0, ro));
  g_object_class_install_property (object_class, PROP_REFUSED,
      g_param_spec_uint64 ("refused", "Refused", "SETUPs refused so far",
          0, G_MAXUINT64, 0, ro));

  gst_element_class_set_static_metadata (element_class, "RTSP reader limit",
      "Generic", "Caps the readers of a gst-rtsp-server per stream and in total",
      "pushgate");
}

static void
pg_reader_limit_init (PgReaderLimit * self)
{
  g_mutex_init (&self->lock);
  self->max_per_stream = G_MAXUINT;
  self->max_total = G_MAXUINT;
}

gboolean
pg_readerlimit_register (GstPlugin * plugin)
{
  GST_DEBUG_CATEGORY_INIT (pgrl_debug, "pgreaderlimit", 0,
      "pushgate RTSP reader limit");
  media_count_quark = g_quark_from_static_string ("pg-reader-count");
  counted_quark = g_quark_from_static_string ("pg-reader-counted");
  session_medias_quark = g_quark_from_static_string ("pg-reader-session-medias");
  return gst_element_register (plugin, "pgreaderlimit", GST_RANK_NONE,
      PG_TYPE_READER_LIMIT);
}
