/*
 * tcp-prime.c: pgfaststart's prime of one reader's stream, from its PLAY to the hand-over to
 * live, and the TCP sending: one chunk of logged packets per message-sent through the reader's
 * own transport, the last with the gate closed and the log quiescent.
 */
#include "faststart.h"

Prime *
prime_ref (Prime * p)
{
  g_atomic_int_inc (&p->refcount);
  return p;
}

void
prime_unref (gpointer data)
{
  Prime *p = data;

  if (!g_atomic_int_dec_and_test (&p->refcount))
    return;
  g_object_unref (p->trans);
  log_unref (p->log);
  g_clear_object (&p->udp_socket);
  g_clear_object (&p->udp_dest);
  g_free (p->url);
  g_free (p);
}

/* With log->lock: drops our message-sent callback (and the ref it holds). The transport's
 * finalize would not: it only clears the non-"full" callback. */
void
prime_release_msf (Prime * p)
{
  if (p->msf_set) {
    p->msf_set = FALSE;
    gst_rtsp_stream_transport_set_message_sent_full (p->trans, NULL, NULL, NULL);
  }
}

const gint64 prime_time_bounds_us[PRIME_TIME_BUCKETS] = {
  1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
};

/* A video prime went live (handed over, or early): how long after its PLAY. */
static void
prime_time_observe (PgFastStart * fs, gint64 us)
{
  guint i = 0;

  us = MAX (us, 0);
  while (i < PRIME_TIME_BUCKETS && us > prime_time_bounds_us[i])
    i++;
  g_atomic_int_inc (&fs->prime_time_counts[i]);
  __atomic_add_fetch (&fs->prime_time_sum_us, (guint64) us, __ATOMIC_RELAXED);
}

/* With log->lock: the prime no longer counts against the concurrency cap. A video prime that
 * goes live (PRIME_DONE) is timed from its PLAY: one time per primed reader. */
void
prime_finish (Prime * p, PrimeState state)
{
  if (state == PRIME_DONE && (p->state == PRIME_PENDING || p->state == PRIME_PRIMING)
      && p->log->codec != CODEC_AUDIO)
    prime_time_observe (p->log->fs, g_get_monotonic_time () - p->play_us);
  p->state = state;
  if (p->counted) {
    p->counted = FALSE;
    p->log->active_primes--;
    g_atomic_int_add (&p->log->fs->active, -1);
  }
  if (state == PRIME_ABORTED)
    prime_release_msf (p);
}

/* With log->lock: puts the transport back into the stream's live fan-out; the stream
 * installs its own message-sent callback, which releases ours. */
void
prime_go_live (Prime * p)
{
  if (p->out_of_stream && !p->log->detached) {
    gst_rtsp_stream_add_transport (p->log->stream, p->trans);
    p->out_of_stream = FALSE;
    p->msf_set = FALSE;
  }
  prime_release_msf (p);
}

void
prime_message_sent (GstRTSPStreamTransport * trans, gpointer user_data)
{
  prime_pump (user_data);
}

/* With log->lock (dropped around the send): sends entries [p->next, end), at most `max`.
 * FALSE when the client refused them; p->next is then back where it was. The client refuses
 * a send while another data message of the channel is queued, which happens when a
 * message-sent of an RTCP packet (sent before we took the transport out of the fan-out)
 * pumps us while our chunk is still queued: the chunk's own message-sent follows. */
gboolean
send_chunk (Prime * p, guint max)
{
  StreamLog *log = p->log;
  guint64 end = log_end (log);
  GstBufferList *list = gst_buffer_list_new_sized (MIN (max, 64));
  guint n;
  gboolean ok = TRUE;

  while (p->next < end && gst_buffer_list_length (list) < max) {
    gst_buffer_list_add (list, gst_buffer_ref (log_entry (log, p->next)->buf));
    p->next++;
  }
  n = gst_buffer_list_length (list);
  if (n > 0) {
    g_mutex_unlock (&log->lock);
    ok = gst_rtsp_stream_transport_send_rtp_list (p->trans, list);
    g_mutex_lock (&log->lock);
    if (!ok)
      p->next -= n;
  }
  gst_buffer_list_unref (list);
  return ok;
}

/* With log->lock: TRUE when the prime ended here, because the log is gone, or because the reader
 * fell behind it (then it joins live at once, with a gap its jitterbuffer will see). */
gboolean
prime_ended_early (Prime * p)
{
  StreamLog *log = p->log;

  if (log->detached) {
    prime_finish (p, PRIME_ABORTED);
    return TRUE;
  }
  if (p->next < log->base) {
    GST_WARNING ("reader fell behind the log: joining live");
    g_atomic_int_inc (&log->fs->fallbacks);
    prime_go_live (p);
    prime_finish (p, PRIME_DONE);
    return TRUE;
  }
  return FALSE;
}

/* With log->lock (dropped while waiting and sending): the tail. With the gate closed and
 * nothing in flight (to the log, and for UDP to the udpsink), what we send now and the live
 * packets after the transport is back are exactly contiguous. A TCP client that refuses the
 * send leaves the prime as it was: its next message-sent tries again. */
void
prime_hand_over (Prime * p)
{
  StreamLog *log = p->log;
  PgFastStart *fs = log->fs;
  gboolean udp = p->udp_socket != NULL, quiet, sent;
  guint overruns;

  gate_close (log);
  overruns = log->gate_overruns;
  quiet = wait_quiescent (log) && (!udp || wait_udp_idle (log)) && !log->gate_forced_open;
  /* The lock was dropped while waiting: the reader may have left meanwhile. */
  if (log->detached || p->state != PRIME_PRIMING) {
    gate_open (log);
    if (p->state == PRIME_PRIMING)
      prime_finish (p, PRIME_ABORTED);
    return;
  }
  sent = udp ? udp_send_chunk (p, G_MAXUINT) : send_chunk (p, G_MAXUINT);
  if ((!sent && !udp) || p->state != PRIME_PRIMING) {
    gate_open (log);
    return;
  }
  if (!sent || log->gate_overruns != overruns)
    quiet = FALSE;
  if (!quiet) {
    /* Something is stuck between the payloader and the senders: go live anyway. */
    GST_WARNING ("no quiescence for the hand-over: joining live, maybe with a gap");
    g_atomic_int_inc (&fs->fallbacks);
  } else {
    g_atomic_int_inc (&fs->completed);
  }
  /* The gate is still closed (we hold it): no packet arrived since the tail was taken. */
  prime_go_live (p);
  prime_finish (p, PRIME_DONE);
  gate_open (log);
}

/* One step: a chunk, or the hand-over to live. With log->lock (dropped around sends).
 * A refused send just waits for the next message-sent; if the client is going away,
 * pg_session_media_on_gone ends the prime. */
void
prime_step (Prime * p)
{
  StreamLog *log = p->log;
  PgFastStart *fs = log->fs;

  if (p->state != PRIME_PRIMING || prime_ended_early (p))
    return;
  if (log_end (log) - p->next >= fs->chunk_packets) {
    send_chunk (p, fs->chunk_packets);
    return;
  }
  prime_hand_over (p);
}

void
prime_pump (Prime * p)
{
  StreamLog *log = p->log;

  prime_ref (p);
  g_mutex_lock (&log->lock);
  if (g_thread_self () == log->send_thread) {
    /* The message-sent of an RTCP packet the stream sent this reader before we took it out of
     * the fan-out. Not ours (ours come from the client's watch or from within our own send),
     * and the hand-over must not wait for quiescence on the very thread that logs. */
    g_mutex_unlock (&log->lock);
    prime_unref (p);
    return;
  }
  if (p->busy) {
    /* A send inside prime_step completed at once and told us so. */
    p->again = TRUE;
    g_mutex_unlock (&log->lock);
    prime_unref (p);
    return;
  }
  p->busy = TRUE;
  do {
    p->again = FALSE;
    prime_step (p);
  } while (p->again && p->state == PRIME_PRIMING);
  p->busy = FALSE;
  g_mutex_unlock (&log->lock);
  prime_unref (p);
}

/* The reader's session media is going away (TEARDOWN, closed connection, timeout). Its
 * finalize will remove the transport from the stream, counting it as active: if we hold it
 * out of the stream, put it back (sending nowhere) so the media's count stays balanced. */
void
on_sessmedia_gone (gpointer data)
{
  Prime *p = data;
  StreamLog *log = p->log;

  g_mutex_lock (&log->lock);
  if (p->state == PRIME_PRIMING) {
    GST_INFO ("reader left while being primed");
    prime_finish (p, PRIME_ABORTED);
  }
  if (p->out_of_stream && !log->detached) {
    /* Its client may be gone already: whatever the stream sends it until the removal
     * goes nowhere. */
    gst_rtsp_stream_transport_set_callbacks (p->trans, discard_send, discard_send, NULL, NULL);
    gst_rtsp_stream_transport_set_list_callbacks (p->trans, discard_send_list,
        discard_send_list, NULL, NULL);
    prime_go_live (p);
  }
  prime_release_msf (p);
  g_mutex_unlock (&log->lock);
  prime_unref (p);
}

/* With log->lock and the gate closed for it: a pending prime of `trans` from `start`. */
Prime *
prime_new (StreamLog * log, GstRTSPStreamTransport * trans, guint64 start)
{
  Prime *p = g_new0 (Prime, 1);
  const GstRTSPUrl *url = gst_rtsp_stream_transport_get_url (trans);

  p->refcount = 1;
  p->log = log_ref (log);
  p->trans = g_object_ref (trans);
  p->state = PRIME_PENDING;
  p->play_us = g_get_monotonic_time ();
  p->next = start;
  p->start_seq = log_entry (log, start)->seq;
  p->start_rtptime = log_entry (log, start)->rtptime;
  p->gate_overruns = log->gate_overruns;
  p->counted = TRUE;
  log->active_primes++;
  g_atomic_int_inc (&log->fs->active);
  if (url)
    p->url = gst_rtsp_url_get_request_uri (url);
  return p;
}
