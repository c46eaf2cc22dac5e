/*
 * udp-prime.c: pgfaststart for unicast UDP readers. They share one multiudpsink per stream: a
 * thread of the prime's own sends the logged packets to the reader's RTP port from the
 * stream's own RTP socket, paced, and the hand-over also waits until the udpsink has taken and
 * sent every packet that went past the gate.
 */
#include "faststart.h"

/* On the udpsink's streaming thread. */
GstPadProbeReturn
udp_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  StreamLog *log = user_data;
  guint16 seq;

  if (!last_seq_of (info, &seq))
    return GST_PAD_PROBE_OK;
  g_mutex_lock (&log->lock);
  log->have_udp_seen = TRUE;
  log->last_udp_seen = seq;
  if (log->waiters)
    g_cond_broadcast (&log->cond);
  g_mutex_unlock (&log->lock);
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn
udp_idle_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  StreamLog *log = user_data;

  g_mutex_lock (&log->lock);
  log->udp_idle_serial++;
  if (log->waiters)
    g_cond_broadcast (&log->cond);
  g_mutex_unlock (&log->lock);
  return GST_PAD_PROBE_REMOVE;
}

/* With log->lock (dropped meanwhile), the gate closed and the log quiescent: waits until the
 * udpsink is out of its chain function too. Seeing a packet (udp_probe) comes before sending
 * it: a reader added to the udpsink before that send is over would get it again, after what
 * we sent it ourselves. The idle probe goes on the pad that pushes into the udpsink (its
 * queue's): on a sink pad GStreamer calls an idle probe at once, chain or not. FALSE after
 * QUIESCE_WAIT_US. */
gboolean
wait_udp_idle (StreamLog * log)
{
  guint serial = log->udp_idle_serial;
  gint64 deadline = g_get_monotonic_time () + QUIESCE_WAIT_US;
  GstPad *pad = log->udp_pad ? gst_pad_get_peer (log->udp_pad) : NULL;
  gboolean ok = TRUE;

  if (!pad)
    return TRUE;                /* unlinked: nothing reaches the udpsink */
  /* Called at once, from here, when the pad is idle now: without our lock. */
  g_mutex_unlock (&log->lock);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_IDLE, udp_idle_probe, log_ref (log), log_unref);
  g_mutex_lock (&log->lock);
  log->waiters++;
  while (log->udp_idle_serial == serial && !log->detached) {
    if (!g_cond_wait_until (&log->cond, &log->lock, deadline)) {
      ok = FALSE;
      break;
    }
  }
  log->waiters--;
  gst_object_unref (pad);
  return ok && !log->detached;
}

/* The elements `factory` made in `media`'s pipeline (gst-rtsp-server's sinks live there, beside
 * the media's element), as a new array of refs; empty without a pipeline. */
GPtrArray *
media_elements (GstRTSPMedia * media, const gchar * factory)
{
  GstElement *element = gst_rtsp_media_get_element (media);
  GstObject *pipeline = element ? gst_object_get_parent (GST_OBJECT (element)) : NULL;
  GPtrArray *found = g_ptr_array_new_with_free_func (gst_object_unref);
  GstIterator *it;
  GValue item = G_VALUE_INIT;

  if (element)
    gst_object_unref (element);
  if (GST_IS_BIN (pipeline)) {
    it = gst_bin_iterate_all_by_element_factory_name (GST_BIN (pipeline), factory);
    while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
      g_ptr_array_add (found, g_value_dup_object (&item));
      g_value_reset (&item);
    }
    g_value_unset (&item);
    gst_iterator_free (it);
  }
  gst_clear_object (&pipeline);
  return found;
}

/* The multiudpsink of `media` that sends from `socket`: udpsink[0] of the stream. */
GstElement *
find_udpsink (GstRTSPMedia * media, GSocket * socket)
{
  GPtrArray *sinks = media_elements (media, "multiudpsink");
  GstElement *found = NULL;
  guint i;

  for (i = 0; i < sinks->len && !found; i++) {
    GstElement *sink = g_ptr_array_index (sinks, i);
    GSocket *v4 = NULL, *v6 = NULL;
    g_object_get (sink, "socket", &v4, "socket-v6", &v6, NULL);
    if (v4 == socket || v6 == socket)
      found = gst_object_ref (sink);
    g_clear_object (&v4);
    g_clear_object (&v6);
  }
  g_ptr_array_unref (sinks);
  return found;
}

/* With log->lock and the gate open: waits until the udpsink has seen a packet. What passed the
 * gate before its branch was linked never reaches it, and what is queued before it (the queue
 * holds a whole frame's list) has not been seen yet: only from a packet the udpsink saw on
 * does every later packet past the gate reach it too, so that quiescence can wait for the
 * last one. FALSE (the reader joins live) when no packet came within UDP_FIRST_SEEN_WAIT_US. */
gboolean
wait_udp_first_seen (StreamLog * log)
{
  gint64 deadline = g_get_monotonic_time () + UDP_FIRST_SEEN_WAIT_US;

  log->waiters++;
  while (!log->have_udp_seen && !log->detached)
    if (!g_cond_wait_until (&log->cond, &log->lock, deadline))
      break;
  log->waiters--;
  return log->have_udp_seen && !log->detached;
}

/* Without log->lock: from now on, what reaches the stream's udpsink counts for quiescence.
 * FALSE (the reader joins live) when there is no udpsink or no packet reached it. */
gboolean
udp_watch (StreamLog * log, GstRTSPMedia * media, GstRTSPStreamTransport * trans,
    GSocket * socket)
{
  GstElement *sink;
  GstPad *pad;
  gboolean watched;

  g_mutex_lock (&log->lock);
  watched = log->udp_pad != NULL && wait_udp_first_seen (log);
  g_mutex_unlock (&log->lock);
  if (watched)
    return TRUE;
  /* A stream's first UDP reader: its udpsink is made when the PLAY completes the pipeline,
   * after pre-play-request. Complete it now (the same call, which does nothing twice). */
  if (!(sink = find_udpsink (media, socket))
      && gst_rtsp_stream_complete_stream (log->stream,
          gst_rtsp_stream_transport_get_transport (trans)))
    sink = find_udpsink (media, socket);
  if (!sink)
    return FALSE;
  pad = gst_element_get_static_pad (sink, "sink");
  gst_object_unref (sink);
  if (!pad)
    return FALSE;
  g_mutex_lock (&log->lock);
  if (!log->udp_pad && !log->detached) {
    log->udp_pad = gst_object_ref (pad);
    log->have_udp_seen = FALSE;
    log->udp_probe_id = gst_pad_add_probe (pad,
        GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, udp_probe, log_ref (log),
        log_unref);
  }
  watched = log->udp_pad != NULL && wait_udp_first_seen (log);
  g_mutex_unlock (&log->lock);
  gst_object_unref (pad);
  return watched;
}

/* Where a UDP reader's RTP goes and the stream socket it goes from; FALSE if unknown. */
gboolean
udp_route (GstRTSPStreamTransport * trans, GSocket ** socket, GSocketAddress ** dest)
{
  const GstRTSPTransport *tr = gst_rtsp_stream_transport_get_transport (trans);
  GInetAddress *address;

  if (!tr->destination || tr->client_port.min <= 0)
    return FALSE;
  address = g_inet_address_new_from_string (tr->destination);
  if (!address)
    return FALSE;
  *socket = gst_rtsp_stream_get_rtp_socket (gst_rtsp_stream_transport_get_stream (trans),
      g_inet_address_get_family (address));
  *dest = *socket ? g_inet_socket_address_new (address, tr->client_port.min) : NULL;
  g_object_unref (address);
  return *socket != NULL;
}

/* With log->lock (dropped around the sends): sends entries [p->next, end) to a UDP reader,
 * at most `max`. FALSE when the socket would block or failed: p->next is then the first entry
 * not sent. */
gboolean
udp_send_chunk (Prime * p, guint max)
{
  StreamLog *log = p->log;
  guint64 end = MIN (log_end (log), p->next + max), first = p->next, i;
  GPtrArray *bufs = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  gboolean ok = TRUE;

  for (i = first; i < end; i++)
    g_ptr_array_add (bufs, gst_buffer_ref (log_entry (log, i)->buf));
  g_mutex_unlock (&log->lock);
  for (i = 0; i < bufs->len && ok; i++) {
    GstBuffer *buf = g_ptr_array_index (bufs, i);
    GstMapInfo map;
    GOutputVector vector;
    gsize written = 0;
    GError *error = NULL;

    if (!gst_buffer_map (buf, &map, GST_MAP_READ))
      continue;
    vector.buffer = map.data;
    vector.size = map.size;
    if (g_socket_send_message_with_timeout (p->udp_socket, p->udp_dest, &vector, 1, NULL, 0,
            0, 0, &written, NULL, &error) != G_POLLABLE_RETURN_OK) {
      if (error)
        GST_INFO ("UDP prime: %s", error->message);
      g_clear_error (&error);
      ok = FALSE;
    }
    gst_buffer_unmap (buf, &map);
  }
  g_mutex_lock (&log->lock);
  p->next = first + (ok ? bufs->len : i - 1);
  g_ptr_array_unref (bufs);
  return ok;
}

/* The thread of one UDP prime: paced chunks, then the hand-over to live as for TCP. */
gpointer
udp_prime_run (gpointer data)
{
  Prime *p = data;
  StreamLog *log = p->log;

  g_mutex_lock (&log->lock);
  while (p->state == PRIME_PRIMING && !prime_ended_early (p)) {
    if (log_end (log) - p->next >= UDP_CHUNK_PACKETS) {
      udp_send_chunk (p, UDP_CHUNK_PACKETS);
      g_mutex_unlock (&log->lock);
      g_usleep (UDP_PACE_US);
      g_mutex_lock (&log->lock);
    } else {
      prime_hand_over (p);     /* ends the prime one way or the other */
    }
  }
  g_mutex_unlock (&log->lock);
  prime_unref (p);
  return NULL;
}
