/*
 * pgvideopay: the payloader pushgate names pay0, as one bin with "sink" and "src" pads:
 * rtph264pay or rtph265pay ("codec"), named "pay" (gst-rtsp-server looks for it by that name, for
 * RTP-Info and the MTU), then pgrtpbatch. Built in C so that Node holds one object per media
 * rather than six: node-gtk keeps each object it wrapped alive until V8 collects the wrapper.
 */
#include "pushgate.h"

#define PG_TYPE_VIDEO_PAY (pg_video_pay_get_type ())
G_DECLARE_FINAL_TYPE (PgVideoPay, pg_video_pay, PG, VIDEO_PAY, GstBin)

struct _PgVideoPay
{
  GstBin parent;
  gchar *codec;                 /* "h264" or "h265" */
  GstElement *payloader;        /* not owned: the bin's child */
  GstPad *sink;                 /* the ghost sink pad (owned by the element), aimed at the payloader */
};

enum
{
  PROP_0,
  PROP_CODEC,
};

G_DEFINE_TYPE (PgVideoPay, pg_video_pay, GST_TYPE_BIN);

/* (Re)makes the payloader for the codec: only before the bin is linked or started. */
static void
make_payloader (PgVideoPay * self, GstElement * batcher)
{
  gboolean h265 = g_strcmp0 (self->codec, "h265") == 0;
  GstElement *payloader = gst_element_factory_make (h265 ? "rtph265pay" : "rtph264pay", NULL);
  if (self->payloader) {
    gst_ghost_pad_set_target (GST_GHOST_PAD (self->sink), NULL);
    gst_bin_remove (GST_BIN (self), self->payloader);
    self->payloader = NULL;
  }
  if (!payloader) {
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN, (NULL), ("%s is missing", h265 ? "rtph265pay" : "rtph264pay"));
    return;
  }
  gst_object_set_name (GST_OBJECT (payloader), "pay");
  g_object_set (payloader, "pt", 96, NULL);
  gst_bin_add (GST_BIN (self), payloader);
  self->payloader = payloader;
  gst_element_link (payloader, batcher);
  GstPad *target = gst_element_get_static_pad (payloader, "sink");
  gst_ghost_pad_set_target (GST_GHOST_PAD (self->sink), target);
  gst_object_unref (target);
}

static void
pg_video_pay_set_property (GObject * object, guint id, const GValue * value, GParamSpec * pspec)
{
  PgVideoPay *self = PG_VIDEO_PAY (object);
  if (id != PROP_CODEC) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    return;
  }
  const gchar *codec = g_value_get_string (value);
  if (g_strcmp0 (codec, "h265") != 0)
    codec = "h264";
  if (g_strcmp0 (codec, self->codec) == 0)
    return;
  g_free (self->codec);
  self->codec = g_strdup (codec);
  GstElement *batcher = gst_bin_get_by_name (GST_BIN (self), "batch");
  make_payloader (self, batcher);
  gst_object_unref (batcher);
}

static void
pg_video_pay_get_property (GObject * object, guint id, GValue * value, GParamSpec * pspec)
{
  if (id == PROP_CODEC)
    g_value_set_string (value, PG_VIDEO_PAY (object)->codec);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
pg_video_pay_finalize (GObject * object)
{
  g_free (PG_VIDEO_PAY (object)->codec);
  G_OBJECT_CLASS (pg_video_pay_parent_class)->finalize (object);
}

static void
pg_video_pay_class_init (PgVideoPayClass * klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->set_property = pg_video_pay_set_property;
  object_class->get_property = pg_video_pay_get_property;
  object_class->finalize = pg_video_pay_finalize;
  g_object_class_install_property (object_class, PROP_CODEC,
      g_param_spec_string ("codec", "Codec", "h264 or h265 (set before linking)", "h264",
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "Batched video payloader",
      "Codec/Payloader/Network/RTP", "rtph264pay or rtph265pay (\"pay\") followed by pgrtpbatch",
      "pushgate");
}

static void
pg_video_pay_init (PgVideoPay * self)
{
  GstElement *batcher = g_object_new (PG_TYPE_RTP_BATCH, "name", "batch", NULL);
  gst_bin_add (GST_BIN (self), batcher);
  GstPad *src = gst_element_get_static_pad (batcher, "src");
  gst_element_add_pad (GST_ELEMENT (self), gst_ghost_pad_new ("src", src));
  gst_object_unref (src);
  self->sink = gst_ghost_pad_new_no_target ("sink", GST_PAD_SINK);
  gst_element_add_pad (GST_ELEMENT (self), self->sink);
  self->codec = g_strdup ("h264");
  make_payloader (self, batcher);
}

gboolean
pg_videopay_register (GstPlugin * plugin)
{
  return gst_element_register (plugin, "pgvideopay", GST_RANK_NONE, PG_TYPE_VIDEO_PAY);
}
