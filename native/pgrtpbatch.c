/*
 * pgrtpbatch: sends each access unit's RTP packets downstream in one push, as a buffer list.
 *
 * rtph264pay and rtph265pay push one access unit in several pushes: each small NAL unit (SEI,
 * AUD, parameter sets) as a buffer of its own, the fragments of a large one as a list. In
 * gst-rtsp-server 1.22 every push becomes a sample of the stream's appsink, and every sample
 * wakes the stream's send thread (which sleeps again before the next one) and costs a send per
 * TCP reader. Placed after the payloader, this element holds the packets of an access unit
 * until its last one (the marker bit, which the payloader sets because its input is
 * alignment=au) and pushes them together: one sample, one wake-up and one write per reader per
 * frame. The packets of one access unit come from one input buffer of the payloader, in one
 * burst on one thread: holding them adds no latency.
 *
 * Should a marker be missing, a packet with another RTP timestamp, a serialized event or
 * MAX_PACKETS held packets push what is held first. Packets go out unchanged and in order.
 */
#include "pushgate.h"

/* More packets than an access unit of any sane stream (a 2 MB keyframe at a 1400-byte MTU). */
#define MAX_PACKETS 1500

G_DECLARE_FINAL_TYPE (PgRtpBatch, pg_rtp_batch, PG, RTP_BATCH, GstElement)

struct _PgRtpBatch
{
  GstElement parent;
  GstPad *sinkpad;
  GstPad *srcpad;
  /* Streaming thread only (and state changes once streaming has stopped). */
  GstBufferList *held;
  guint32 held_rtptime;
};

G_DEFINE_TYPE (PgRtpBatch, pg_rtp_batch, GST_TYPE_ELEMENT);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("application/x-rtp"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("application/x-rtp"));

/* The marker bit and timestamp of an RTP packet; FALSE if it is not one. */
static gboolean
read_rtp_header (GstBuffer * buffer, gboolean * marker, guint32 * rtptime)
{
  guint8 header[8];
  if (gst_buffer_get_size (buffer) < 12 || gst_buffer_extract (buffer, 0, header, 8) != 8
      || (header[0] >> 6) != 2)
    return FALSE;
  *marker = (header[1] & 0x80) != 0;
  *rtptime = GST_READ_UINT32_BE (header + 4);
  return TRUE;
}

/* Pushes what is held: one packet as a buffer, more as a list. */
static GstFlowReturn
push_held (PgRtpBatch * self)
{
  GstBufferList *held = self->held;
  self->held = NULL;
  if (!held)
    return GST_FLOW_OK;
  if (gst_buffer_list_length (held) == 1) {
    GstBuffer *only = gst_buffer_ref (gst_buffer_list_get (held, 0));
    gst_buffer_list_unref (held);
    return gst_pad_push (self->srcpad, only);
  }
  return gst_pad_push_list (self->srcpad, held);
}

/* Takes one packet (owned). */
static GstFlowReturn
take_packet (PgRtpBatch * self, GstBuffer * buffer)
{
  gboolean marker;
  guint32 rtptime;
  GstFlowReturn flow;

  gboolean rtp = read_rtp_header (buffer, &marker, &rtptime);
  /* What is held goes first when this packet cannot join it. */
  if (!rtp || (self->held && rtptime != self->held_rtptime)) {
    flow = push_held (self);
    if (flow != GST_FLOW_OK) {
      gst_buffer_unref (buffer);
      return flow;
    }
  }
  if (!rtp)
    return gst_pad_push (self->srcpad, buffer);
  if (!self->held) {
    self->held = gst_buffer_list_new_sized (16);
    self->held_rtptime = rtptime;
  }
  gst_buffer_list_add (self->held, buffer);
  if (marker || gst_buffer_list_length (self->held) >= MAX_PACKETS)
    return push_held (self);
  return GST_FLOW_OK;
}

static GstFlowReturn
pg_rtp_batch_chain (GstPad * pad, GstObject * parent, GstBuffer * buffer)
{
  return take_packet (PG_RTP_BATCH (parent), buffer);
}

static GstFlowReturn
pg_rtp_batch_chain_list (GstPad * pad, GstObject * parent, GstBufferList * list)
{
  PgRtpBatch *self = PG_RTP_BATCH (parent);
  GstFlowReturn flow = GST_FLOW_OK;
  guint n = gst_buffer_list_length (list);
  for (guint i = 0; i < n && flow == GST_FLOW_OK; i++)
    flow = take_packet (self, gst_buffer_ref (gst_buffer_list_get (list, i)));
  gst_buffer_list_unref (list);
  return flow;
}

static gboolean
pg_rtp_batch_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  PgRtpBatch *self = PG_RTP_BATCH (parent);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_STOP:
      gst_clear_buffer_list (&self->held);
      break;
    case GST_EVENT_FLUSH_START:
      break;                    /* not serialized: the streaming thread may be inside chain */
    default:
      /* What was held belongs before the event (caps, segment, EOS, ...). */
      if (GST_EVENT_IS_SERIALIZED (event))
        push_held (self);
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

static GstStateChangeReturn
pg_rtp_batch_change_state (GstElement * element, GstStateChange transition)
{
  PgRtpBatch *self = PG_RTP_BATCH (element);
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (pg_rtp_batch_parent_class)->change_state (element, transition);
  /* The pads are inactive now: no streaming thread is in here. */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    gst_clear_buffer_list (&self->held);
  return ret;
}

static void
pg_rtp_batch_finalize (GObject * object)
{
  gst_clear_buffer_list (&PG_RTP_BATCH (object)->held);
  G_OBJECT_CLASS (pg_rtp_batch_parent_class)->finalize (object);
}

static void
pg_rtp_batch_class_init (PgRtpBatchClass * klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  object_class->finalize = pg_rtp_batch_finalize;
  element_class->change_state = pg_rtp_batch_change_state;
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "RTP access unit batcher",
      "Filter/Network/RTP", "Pushes the RTP packets of each access unit as one buffer list",
      "pushgate");
}

static void
pg_rtp_batch_init (PgRtpBatch * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, pg_rtp_batch_chain);
  gst_pad_set_chain_list_function (self->sinkpad, pg_rtp_batch_chain_list);
  gst_pad_set_event_function (self->sinkpad, pg_rtp_batch_sink_event);
  GST_PAD_SET_PROXY_CAPS (self->sinkpad);
  GST_PAD_SET_PROXY_ALLOCATION (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  GST_PAD_SET_PROXY_CAPS (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
}

gboolean
pg_rtpbatch_register (GstPlugin * plugin)
{
  return gst_element_register (plugin, "pgrtpbatch", GST_RANK_NONE, PG_TYPE_RTP_BATCH);
}
