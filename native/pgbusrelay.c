/*
 * pgbusrelay: hands the bus messages of the pipeline it sits in over to Node's thread.
 *
 * gst-rtsp-server watches the bus of every media pipeline on one of its own threads. A
 * JavaScript handler there would make that thread wait for Node (node-gtk), and deadlock when
 * Node itself waits for the media. So this element, added (unlinked) to a media's bin, copies
 * errors, warnings, end of stream and the pipeline's own state changes into a small queue from
 * the posting thread (the bus's sync-message signal, handled here in C). When news lands in an
 * empty queue, the "pending" signal is emitted on the default main context (Node's thread, from
 * an idle source), and Node drains the queue by reading the "messages" property. So Node wakes
 * up only when a pipeline has something to say, not on a timer per stream.
 *
 * "messages" returns one line per message, tab-separated: kind (error, warning, eos, state),
 * the source element's name, the text (for state: "FROM->TO"), and the debug string.
 */
#include "pushgate.h"
#include <string.h>

/* A stalled reader of the queue must not cost memory: the oldest news is kept, the rest counted. */
#define MAX_QUEUED_BYTES (64 * 1024)

#define PG_TYPE_BUS_RELAY (pg_bus_relay_get_type ())
G_DECLARE_FINAL_TYPE (PgBusRelay, pg_bus_relay, PG, BUS_RELAY, GstElement)

struct _PgBusRelay
{
  GstElement parent;
  GMutex lock;                  /* guards queue and dropped */
  GString *queue;
  guint dropped;
  GstBus *bus;                  /* the top-level pipeline's bus while READY or above */
  GstElement *pipeline;         /* not owned: it owns us */
  gulong handler;
  gboolean pending;             /* a "pending" emission is scheduled and the queue not read since */
};

enum
{
  PROP_0,
  PROP_MESSAGES,
};

enum
{
  SIGNAL_PENDING,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_TYPE (PgBusRelay, pg_bus_relay, GST_TYPE_ELEMENT);

/* Tabs and newlines separate fields and lines: keep them out of the fields. */
static void
append_field (GString * out, const gchar * text)
{
  g_string_append_c (out, '\t');
  for (const gchar * c = text ? text : ""; *c; c++)
    g_string_append_c (out, (*c == '\t' || *c == '\n' || *c == '\r') ? ' ' : *c);
}

static gboolean
emit_pending (gpointer data)
{
  g_signal_emit (data, signals[SIGNAL_PENDING], 0);
  return G_SOURCE_REMOVE;
}

static void
on_sync_message (GstBus * bus, GstMessage * message, PgBusRelay * self)
{
  const gchar *kind = NULL;
  gchar *text = NULL, *debug = NULL;
  GError *error = NULL;

  switch (GST_MESSAGE_TYPE (message)) {
    case GST_MESSAGE_ERROR:
      kind = "error";
      gst_message_parse_error (message, &error, &debug);
      break;
    case GST_MESSAGE_WARNING:
      kind = "warning";
      gst_message_parse_warning (message, &error, &debug);
      break;
    case GST_MESSAGE_EOS:
      kind = "eos";
      break;
    case GST_MESSAGE_STATE_CHANGED:{
      GstState from, to;
      if (GST_MESSAGE_SRC (message) != GST_OBJECT (self->pipeline))
        return;
      kind = "state";
      gst_message_parse_state_changed (message, &from, &to, NULL);
      text = g_strdup_printf ("%s->%s", gst_element_state_get_name (from),
          gst_element_state_get_name (to));
      break;
    }
    default:
      return;
  }
  if (error)
    text = g_strdup (error->message);

  g_mutex_lock (&self->lock);
  if (!self->pending) {
    self->pending = TRUE;
    g_idle_add_full (G_PRIORITY_DEFAULT, emit_pending, g_object_ref (self), g_object_unref);
  }
  if (self->queue->len < MAX_QUEUED_BYTES) {
    g_string_append (self->queue, kind);
    append_field (self->queue, GST_MESSAGE_SRC_NAME (message));
    append_field (self->queue, text);
    append_field (self->queue, debug);
    g_string_append_c (self->queue, '\n');
  } else {
    self->dropped++;
  }
  g_mutex_unlock (&self->lock);

  g_clear_error (&error);
  g_free (text);
  g_free (debug);
}

static void
attach (PgBusRelay * self)
{
  GstObject *top = gst_object_ref (GST_OBJECT (self)), *parent;
  while ((parent = gst_object_get_parent (top))) {
    gst_object_unref (top);
    top = parent;
  }
  if (top != GST_OBJECT (self)) {
    self->pipeline = GST_ELEMENT (top);
    self->bus = gst_element_get_bus (self->pipeline);
  }
  gst_object_unref (top);       /* the pipeline outlives its children */
  if (!self->bus)
    return;
  gst_bus_enable_sync_message_emission (self->bus);
  self->handler = g_signal_connect (self->bus, "sync-message",
      G_CALLBACK (on_sync_message), self);
}

static void
detach (PgBusRelay * self)
{
  if (!self->bus)
    return;
  g_signal_handler_disconnect (self->bus, self->handler);
  gst_bus_disable_sync_message_emission (self->bus);
  gst_clear_object (&self->bus);
  self->pipeline = NULL;
  self->handler = 0;
}

static GstStateChangeReturn
pg_bus_relay_change_state (GstElement * element, GstStateChange transition)
{
  PgBusRelay *self = PG_BUS_RELAY (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_NULL_TO_READY)
    attach (self);
  ret = GST_ELEMENT_CLASS (pg_bus_relay_parent_class)->change_state (element,
      transition);
  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    detach (self);
  return ret;
}

static void
pg_bus_relay_get_property (GObject * object, guint id, GValue * value,
    GParamSpec * pspec)
{
  PgBusRelay *self = PG_BUS_RELAY (object);

  if (id != PROP_MESSAGES) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    return;
  }
  /* Reading drains: each message is handed over once. */
  g_mutex_lock (&self->lock);
  if (self->dropped) {
    g_string_append_printf (self->queue,
        "warning\t%s\t%u bus messages dropped: the queue was full\t\n",
        GST_OBJECT_NAME (self), self->dropped);
    self->dropped = 0;
  }
  g_value_set_string (value, self->queue->str);
  g_string_truncate (self->queue, 0);
  self->pending = FALSE;
  g_mutex_unlock (&self->lock);
}

static void
pg_bus_relay_finalize (GObject * object)
{
  PgBusRelay *self = PG_BUS_RELAY (object);

  detach (self);
  g_string_free (self->queue, TRUE);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (pg_bus_relay_parent_class)->finalize (object);
}

static void
pg_bus_relay_class_init (PgBusRelayClass * klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  object_class->get_property = pg_bus_relay_get_property;
  object_class->finalize = pg_bus_relay_finalize;
  element_class->change_state = pg_bus_relay_change_state;

  g_object_class_install_property (object_class, PROP_MESSAGES,
      g_param_spec_string ("messages", "Messages",
          "Bus messages since the last read, one per line, tab-separated (reading drains them)",
          "", G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  signals[SIGNAL_PENDING] = g_signal_new ("pending", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  gst_element_class_set_static_metadata (element_class, "Bus relay",
      "Generic", "Queues a pipeline's bus messages for another thread to read",
      "pushgate");
}

static void
pg_bus_relay_init (PgBusRelay * self)
{
  g_mutex_init (&self->lock);
  self->queue = g_string_new ("");
}

gboolean
pg_busrelay_register (GstPlugin * plugin)
{
  return gst_element_register (plugin, "pgbusrelay", GST_RANK_NONE,
      PG_TYPE_BUS_RELAY);
}
