/*
 * pgrtspstats: counts the RTSP requests gst-rtsp-server answers, by method, and its answers,
 * by status code, for pushgate's /metrics.
 *
 * Both are counted where each answer is sent, in the clients' "send-message" signal: it runs
 * on the client's thread (and, for the 401/403/404 replies of pushgate's access check, on the
 * thread that check runs on), so the counting is here, in C, and Node reads the totals on its
 * own thread when /metrics is scraped. A request is counted once its answer is sent, under the
 * method of the request being answered (ctx->method; "other" for a request whose method could
 * not be read, or an answer sent outside any request's context). Server-sent requests (none in
 * pushgate) are not counted.
 *
 * Its servers ("add-server", "detach": PgServerWatcher) are plain RTSP and RTSPS alike.
 * Action signal "counts" () -> gchar*: the totals so far, two lines:
 *   "requests DESCRIBE=2 SETUP=4 PLAY=2\nresponses 200=8 404=1"
 * (only nonzero counts; methods as gst_rtsp_method_as_text names them, or "other").
 */
#include "pushgate.h"

#define PG_TYPE_RTSP_STATS (pg_rtsp_stats_get_type ())
G_DECLARE_FINAL_TYPE (PgRtspStats, pg_rtsp_stats, PG, RTSP_STATS, PgServerWatcher)

/* Slot 0: "other"; slot 1 + n: the method whose flag is 1 << n (GstRTSPMethod is a bit set). */
#define N_METHOD_BITS 13
#define N_METHODS (1 + N_METHOD_BITS)
#define MIN_STATUS 100
#define MAX_STATUS 599

struct _PgRtspStats
{
  PgServerWatcher parent;
  /* All counted with relaxed atomics: any thread may count, Node reads them. */
  guint64 requests[N_METHODS];
  guint64 responses[MAX_STATUS - MIN_STATUS + 1];
  guint64 odd_responses;        /* a status outside 100..599 */
};

enum
{
  SIGNAL_COUNTS,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_TYPE (PgRtspStats, pg_rtsp_stats, PG_TYPE_SERVER_WATCHER);

static inline void
count (guint64 * counter)
{
  __atomic_add_fetch (counter, 1, __ATOMIC_RELAXED);
}

static inline guint64
read_count (const guint64 * counter)
{
  return __atomic_load_n (counter, __ATOMIC_RELAXED);
}

static guint
method_slot (GstRTSPMethod method)
{
  guint bit;

  if (method == GST_RTSP_INVALID || (method & (method - 1)) != 0)
    return 0;
  bit = (guint) __builtin_ctz ((guint) method);
  return bit < N_METHOD_BITS ? 1 + bit : 0;
}

/* On the thread that sends the message (see the top). */
static void
on_send_message (GstRTSPClient * client, GstRTSPContext * ctx, GstRTSPMessage * msg,
    PgRtspStats * self)
{
  GstRTSPStatusCode code;

  if (!msg || gst_rtsp_message_get_type (msg) != GST_RTSP_MESSAGE_RESPONSE)
    return;
  count (&self->requests[ctx && ctx->request ? method_slot (ctx->method) : 0]);
  if (gst_rtsp_message_parse_response (msg, &code, NULL, NULL) == GST_RTSP_OK
      && code >= MIN_STATUS && code <= MAX_STATUS)
    count (&self->responses[code - MIN_STATUS]);
  else
    count (&self->odd_responses);
}

/* On the server's main context (Node's thread in pushgate): C, not JavaScript. */
static void
pg_rtsp_stats_client_connected (PgServerWatcher * self, GstRTSPServer * server,
    GstRTSPClient * client)
{
  g_signal_connect_object (client, "send-message", G_CALLBACK (on_send_message), self, 0);
}

static gchar *
counts (PgRtspStats * self)
{
  GString *out = g_string_new ("requests");
  guint i;

  for (i = 0; i < N_METHODS; i++) {
    guint64 n = read_count (&self->requests[i]);
    const gchar *name = i == 0 ? NULL : gst_rtsp_method_as_text ((GstRTSPMethod) (1u << (i - 1)));
    if (n > 0)
      g_string_append_printf (out, " %s=%" G_GUINT64_FORMAT, name ? name : "other", n);
  }
  g_string_append (out, "\nresponses");
  for (i = 0; i <= MAX_STATUS - MIN_STATUS; i++) {
    guint64 n = read_count (&self->responses[i]);
    if (n > 0)
      g_string_append_printf (out, " %u=%" G_GUINT64_FORMAT, MIN_STATUS + i, n);
  }
  if (read_count (&self->odd_responses) > 0)
    g_string_append_printf (out, " other=%" G_GUINT64_FORMAT, read_count (&self->odd_responses));
  return g_string_free (out, FALSE);
}

static void
pg_rtsp_stats_class_init (PgRtspStatsClass * klass)
{
  PG_SERVER_WATCHER_CLASS (klass)->client_connected = pg_rtsp_stats_client_connected;

  /* counts () -> gchar*: see the top. */
  signals[SIGNAL_COUNTS] = g_signal_new_class_handler ("counts", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION, G_CALLBACK (counts), NULL, NULL, NULL,
      G_TYPE_STRING, 0);

  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "RTSP request stats",
      "Generic", "Counts the RTSP requests of gst-rtsp-server clients by method and their "
      "answers by status", "pushgate");
}

static void
pg_rtsp_stats_init (PgRtspStats * self)
{
}

gboolean
pg_rtspstats_register (GstPlugin * plugin)
{
  return gst_element_register (plugin, "pgrtspstats", GST_RANK_NONE, PG_TYPE_RTSP_STATS);
}
