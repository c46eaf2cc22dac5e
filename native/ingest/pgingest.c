/*
 * pgingest: reads one raw H.264/H.265 push (an HTTP request body) off Node's thread and feeds
 * its stream's appsrc.
 *
 * Read in JavaScript, every network read of a push wakes Node (libuv inside GLib), runs the
 * HTTP parser, promise jobs and the garbage collector, and each frame is wrapped and pushed
 * through node-gtk: about twice what gst-rtsp-server itself spends on a stream (docs/
 * benchmarks.md). Here one thread per push does that work in C:
 *  - reads the request's socket (a dup of Node's fd, taken after the request head; Node stopped
 *    reading it) and decodes the body: chunked, or Content-Length bytes;
 *  - cuts the Annex-B bytes into access units (ITU-T H.264 7.4.1.2.3 / H.265 7.4.2.4.4), as
 *    src/ingest/annexb-framer.ts does, keeping the latest parameter sets; a publisher that has
 *    shown it writes one unit per HTTP chunk gets each unit out at its chunk's end, not when the
 *    next one begins (see distrust_chunks);
 *  - drops what comes before the first keyframe with parameter sets, then gives each unit a
 *    smooth timestamp on the gateway clock (src/ingest/frame-clock.ts);
 *  - releases units in real time (src/ingest/pacer.ts): a publisher sending faster is not read
 *    until there is room again, so TCP slows it down;
 *  - pushes them into the stream's current appsrc ("set-target", changed by Node whenever the
 *    stream's media is rebuilt), the parameter sets first into a fresh one.
 * The socket-free parts are in chunked.c, framer.c, frame-clock.c and pacer.c (ingest.h), so
 * the shared vectors can run them without a socket (native/tests/ingest-vectors.c); this file
 * is the element: socket, thread, appsrc, chunk-aligned units and what Node is told.
 * Node is told about the few events it acts on (started, new SPS, appsrc gone, ended) by the
 * "changed" signal, emitted on the main context (Node's thread) from an idle source; it reads
 * what changed from properties. Node keeps the HTTP exchange: it answers the request when the
 * push ends.
 *
 * States ("state"): 0 running, 1 ended (whole body read and released), 2 aborted (connection
 * closed or failed mid-body), 3 idle (nothing for idle-timeout-ms), 4 invalid media ("error"
 * says why), 5 malformed body framing ("error"), 6 stopped by Node.
 */
#define _GNU_SOURCE
#include "pushgate.h"
#include "ingest.h"
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <gst/gst.h>
#include <gst/app/gstappsrc.h>

#define READ_BYTES (64 * 1024)
#define MAX_UNIT_BYTES (8 * 1024 * 1024)
#define MAX_LEADING_GARBAGE (64 * 1024)
/* Chunk-aligned access units (see distrust_chunks): this many units in a row must each have ended
 * exactly where a chunk ended before that is taken as the publisher's framing. */
#define ALIGNED_UNITS_TO_TRUST 60
/* ... and then a unit leaves when nothing more came this long after its chunk: a relay that
 * split a unit (curl -T - reading a pipe mid-write) sends the rest at once. Not for writers
 * known to write whole units ("unit-writer": ffmpeg), which saves a wake-up per frame. */
#define CUT_DELAY_NS (2 * GST_MSECOND)
/* Before Node has taken the start (and the frame rate), units wait unstamped; this many at most. */
#define MAX_WAITING_UNITS 120

enum
{
  STATE_RUNNING, STATE_ENDED, STATE_ABORTED, STATE_IDLE, STATE_INVALID, STATE_BAD_BODY,
  STATE_STOPPED
};

/* Whether a chunk's end is taken as its unit's end (see distrust_chunks). */
typedef enum
{
  CHUNKS_LEARNING, CHUNKS_TRUSTED, CHUNKS_DISTRUSTED
} ChunkTrust;

#define PG_TYPE_INGEST (pg_ingest_get_type ())
G_DECLARE_FINAL_TYPE (PgIngest, pg_ingest, PG, INGEST, GstElement)

struct _PgIngest
{
  GstElement parent;

  /* Set by Node before "start". */
  gboolean h265;
  gboolean unit_writer;         /* the publisher writes whole units (chunks split only by size) */
  gint idle_timeout_ms;
  guint64 base_time;

  GThread *thread;
  gint fd;                      /* our dup of the socket; the thread closes it */
  gint wake[2];                 /* Node -> thread: stop */
  GBytes *head;                 /* body bytes Node's HTTP parser had already read */
  gint64 content_length;        /* -1: chunked */

  GMutex lock;                  /* guards everything below */
  GstAppSrc *target;
  gboolean target_flowing;
  guint targets_lost;
  gboolean begun;
  gdouble frame_rate;           /* 0: not declared by the bitstream */
  gboolean frame_rate_changed;
  gint state;
  gchar *error;
  gboolean started;
  GBytes *parameter_sets;
  GBytes *last_sps;
  guint sps_serial;
  guint64 bytes, frames, frames_out;
  gboolean notify_pending;

  /* The thread's own. */
  PgBody body;
  PgFramer framer;
  PgFrameClock clock;
  PgPacer pacer;                /* of PgUnit* whose payload is a GstBuffer */
  gint waiting_units;
  gboolean clock_running;       /* Node began the stream: units are stamped as they come */
  guint64 split_size;           /* the size of the chunks seen to end inside units; 0: none */
  gint64 open_chunk_end;        /* where the last chunk since the last unit boundary ended; -1 */
  guint64 open_chunk_size;
  gboolean split_mismatch;      /* a chunk of another size ended inside the current unit */
  guint aligned_units;          /* units in a row that ended where a chunk did */
  ChunkTrust chunk_trust;
  gint64 cut_at;                /* gateway time to end the open unit; 0: none (new bytes clear it) */
  gboolean body_over;           /* the body ended and the framer flushed: read no more */
};

enum
{
  PROP_0, PROP_CODEC, PROP_UNIT_WRITER, PROP_IDLE_TIMEOUT_MS, PROP_BASE_TIME, PROP_FRAME_RATE, PROP_STATE,
  PROP_ERROR, PROP_STARTED, PROP_PARAMETER_SETS, PROP_SPS_SERIAL, PROP_BYTES, PROP_FRAMES,
  PROP_FRAMES_OUT, PROP_TARGETS_LOST, PROP_TARGET_FLOWING, PROP_HAS_TARGET,
};

enum
{
  SIGNAL_CHANGED, SIGNAL_START, SIGNAL_BEGIN, SIGNAL_SET_TARGET, SIGNAL_CLEAR_TARGET,
  SIGNAL_STOP, N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (PgIngest, pg_ingest, GST_TYPE_ELEMENT);

static gint64
gateway_now (PgIngest * self)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * GST_SECOND + ts.tv_nsec - (gint64) self->base_time;
}

/* ------------------------------------------------------------------ Node is told */

static gboolean
emit_changed (gpointer data)
{
  PgIngest *self = data;
  g_mutex_lock (&self->lock);
  self->notify_pending = FALSE;
  g_mutex_unlock (&self->lock);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  return G_SOURCE_REMOVE;
}

/* With the lock held: one pending notification at a time is enough, Node reads the state. */
static void
notify_locked (PgIngest * self)
{
  if (self->notify_pending)
    return;
  self->notify_pending = TRUE;
  g_idle_add_full (G_PRIORITY_DEFAULT, emit_changed, g_object_ref (self), g_object_unref);
}

/* The push is over (first outcome wins). */
static void
finish (PgIngest * self, gint state, gchar * error)
{
  g_mutex_lock (&self->lock);
  if (self->state == STATE_RUNNING) {
    self->state = state;
    g_free (self->error);
    self->error = error;
    error = NULL;
    notify_locked (self);
  }
  g_mutex_unlock (&self->lock);
  g_free (error);
}

/* ------------------------------------------------------------------ access units */

/* ---- chunk-aligned access units ----
 * A unit only ends where the next one begins, so the framer holds each unit until the next
 * one's first bytes arrive: one frame period of latency. Publishers that write one unit per
 * HTTP chunk (ffmpeg, the bench's probe, most scripts) say where it ends, except that a writer
 * with a buffer splits larger units into chunks of the buffer's size and the rest (ffmpeg: 32 kB).
 * Once ALIGNED_UNITS_TO_TRUST units in a row each ended exactly where a chunk ended, and every
 * chunk that ended inside one had that same split size, a unit leaves CUT_DELAY_NS (0 for a
 * "unit-writer") after a chunk of any other size ended it.
 * If the next NAL then does not open a unit, the publisher's framing changed: the cut unit
 * went out incomplete (once), the rest of it is dropped, and the push goes back to waiting. */
static void
distrust_chunks (PgIngest * self, const gchar * why)
{
  if (self->chunk_trust == CHUNKS_TRUSTED)
    GST_WARNING_OBJECT (self, "%s after chunk-aligned units: one unit was cut short; "
        "waiting for each next unit from now on", why);
  self->chunk_trust = CHUNKS_DISTRUSTED;
}

/* The last chunk that ended did so inside a unit: its size is the publisher's split size. */
static void
chunk_ended_inside (PgIngest * self)
{
  if (self->open_chunk_end < 0)
    return;
  if (!self->split_size)
    self->split_size = self->open_chunk_size;
  else if (self->open_chunk_size != self->split_size)
    self->split_mismatch = TRUE;
  self->open_chunk_end = -1;
}

/* A unit ends where the next unit's start code (at `boundary`) begins. */
static void
learn_chunk_alignment (PgIngest * self, gint64 boundary)
{
  /* It ended where a chunk ended, and every chunk that ended inside it had the split size. */
  gboolean aligned;

  if (self->open_chunk_end != boundary)
    chunk_ended_inside (self);
  aligned = self->open_chunk_end == boundary && !self->split_mismatch;
  self->open_chunk_end = -1;
  self->split_mismatch = FALSE;

  if (self->chunk_trust != CHUNKS_LEARNING)
    return;
  self->aligned_units = aligned ? self->aligned_units + 1 : 0;
  if (self->aligned_units >= ALIGNED_UNITS_TO_TRUST) {
    self->chunk_trust = CHUNKS_TRUSTED;
    GST_INFO_OBJECT (self, "%u units in a row ended with a chunk: a unit leaves at its "
        "chunk's end from now on", self->aligned_units);
  }
}

/* The framer's error ends the push as invalid media. */
static gboolean
framer_failed (PgIngest * self)
{
  finish (self, STATE_INVALID, g_strdup (self->framer.error));
  return FALSE;
}

/* The framer cut a unit at a chunk's end, and what came next did not open one. */
static void
on_misframed (gpointer data, const gchar * why)
{
  distrust_chunks (data, why);
}

static gboolean
frame_bytes (PgIngest * self, const guint8 * data, gsize size)
{
  if (size == 0)
    return TRUE;
  g_mutex_lock (&self->lock);
  self->bytes += size;
  g_mutex_unlock (&self->lock);
  self->cut_at = 0;             /* more bytes: the framer decides */
  return pg_framer_push (&self->framer, data, size) || framer_failed (self);
}

/* The current chunk's data has all gone to the framer. */
static void
chunk_ended (PgIngest * self, guint64 chunk_size)
{
  /* Another chunk ended since, and no unit boundary: the one before ended inside a unit. */
  chunk_ended_inside (self);
  self->open_chunk_end = pg_framer_offset (&self->framer);
  self->open_chunk_size = chunk_size;
  if (self->chunk_trust == CHUNKS_TRUSTED && chunk_size != self->split_size
      && pg_framer_has_picture (&self->framer))
    self->cut_at = gateway_now (self) + (self->unit_writer ? 0 : CUT_DELAY_NS);
}

/* CUT_DELAY_NS after a chunk (not of the split size) ended a unit, with no byte since (a byte
 * clears cut_at): the unit leaves, and the next NAL must open one. */
static gboolean
cut_if_due (PgIngest * self, gint64 now)
{
  if (!self->cut_at || now < self->cut_at)
    return TRUE;
  self->cut_at = 0;
  if (!pg_framer_cut (&self->framer))
    return framer_failed (self);
  self->open_chunk_end = -1;    /* a unit boundary, not a split */
  return TRUE;
}

/* ------------------------------------------------------------------ timing and release */

static void
stamp (PgIngest * self, PgUnit * unit)
{
  pg_frame_clock_stamp (&self->clock, unit->arrival, &unit->pts, &unit->duration);
  unit->stamped = TRUE;
}

/* Takes the frame rate Node found in an SPS, and stamps what waited for it. Thread only. */
static void
take_clock_settings (PgIngest * self)
{
  g_mutex_lock (&self->lock);
  gboolean begun = self->begun;
  gboolean changed = self->frame_rate_changed;
  gdouble rate = self->frame_rate;
  self->frame_rate_changed = FALSE;
  g_mutex_unlock (&self->lock);
  if (changed && rate > 0)
    pg_frame_clock_declare (&self->clock, rate);
  if (!begun || self->clock_running)
    return;
  self->clock_running = TRUE;
  for (GList * l = self->pacer.queue.head; l; l = l->next) {
    PgUnit *unit = l->data;
    if (!unit->stamped)
      stamp (self, unit);
  }
  self->waiting_units = 0;
}

static void
free_unit (gpointer data)
{
  PgUnit *unit = data;
  if (unit->payload)
    gst_buffer_unref (unit->payload);
  g_free (unit);
}

/* Pushes one unit into the current appsrc, if any (with the lock held). */
static void
push_locked (PgIngest * self, PgUnit * unit)
{
  GstBuffer *buffer = unit->payload;
  unit->payload = NULL;
  self->frames_out++;
  if (!self->target) {
    gst_buffer_unref (buffer);
    return;
  }
  /* A fresh pipeline starts decoding mid-GOP: describe the stream to it at once. */
  if (!self->target_flowing && self->parameter_sets)
    buffer = gst_buffer_append (gst_buffer_new_wrapped_bytes (self->parameter_sets), buffer);
  GST_BUFFER_PTS (buffer) = unit->pts;
  GST_BUFFER_DTS (buffer) = unit->pts;
  GST_BUFFER_DURATION (buffer) = unit->duration;
  GstFlowReturn flow = gst_app_src_push_buffer (self->target, buffer);
  if (flow == GST_FLOW_OK) {
    self->target_flowing = TRUE;
  } else if (self->target_flowing) {
    /* The media stopped (its last reader left, or it failed): Node builds the next one. */
    gst_clear_object (&self->target);
    self->target_flowing = FALSE;
    self->targets_lost++;
    notify_locked (self);
  }
}

/* Releases the units that are due; returns when the next one is (G_MAXINT64: none). */
static gint64
release_due (PgIngest * self, gint64 now)
{
  gint64 next_due;
  PgUnit *unit;
  while ((unit = pg_pacer_pop_due (&self->pacer, now, &next_due))) {
    g_mutex_lock (&self->lock);
    push_locked (self, unit);
    g_mutex_unlock (&self->lock);
    free_unit (unit);
  }
  return next_due;
}

static gboolean
queue_full (PgIngest * self, gint64 now)
{
  return self->waiting_units >= MAX_WAITING_UNITS || pg_pacer_full (&self->pacer, now);
}

/* An access unit is complete: keep its parameter sets, and queue it once the stream started. */
static void
on_unit (gpointer data, const PgAccessUnit * au)
{
  PgIngest *self = data;
  if (au->boundary >= 0)
    learn_chunk_alignment (self, au->boundary);

  g_mutex_lock (&self->lock);
  self->frames++;
  if (au->ps_count > 0) {
    GByteArray *sets = g_byte_array_new ();
    static const guint8 start_code[4] = { 0, 0, 0, 1 };
    for (gint i = 0; i < au->ps_count; i++) {
      const guint8 *nal = au->ps[i];
      gsize nal_size = au->ps_size[i];
      g_byte_array_append (sets, start_code, 4);
      g_byte_array_append (sets, nal, nal_size);
      if (pg_framer_is_sps (&self->framer, nal) && (!self->last_sps
              || g_bytes_get_size (self->last_sps) != nal_size
              || memcmp (g_bytes_get_data (self->last_sps, NULL), nal, nal_size) != 0)) {
        g_clear_pointer (&self->last_sps, g_bytes_unref);
        self->last_sps = g_bytes_new (nal, nal_size);
        self->sps_serial++;
        if (self->started)
          notify_locked (self);
      }
    }
    g_clear_pointer (&self->parameter_sets, g_bytes_unref);
    self->parameter_sets = g_byte_array_free_to_bytes (sets);
  }
  /* Readers can only start from a keyframe with known parameters: drop what comes before. */
  gboolean take = self->started;
  if (!take && au->keyframe && self->last_sps) {
    self->started = take = TRUE;
    notify_locked (self);
  }
  g_mutex_unlock (&self->lock);

  if (!take)
    return;
  PgUnit *unit = g_new0 (PgUnit, 1);
  unit->payload = gst_buffer_new_memdup (au->data, au->size);
  unit->size = au->size;
  unit->arrival = gateway_now (self);
  pg_pacer_push (&self->pacer, unit);
  take_clock_settings (self);   /* may stamp what waited, this unit included */
  if (!unit->stamped) {
    if (self->clock_running)
      stamp (self, unit);
    else
      self->waiting_units++;
  }
}

/* ------------------------------------------------------------------ the body */

static gboolean
on_body_data (gpointer data, const guint8 * bytes, gsize size)
{
  return frame_bytes (data, bytes, size);
}

static void
on_chunk_end (gpointer data, guint64 chunk_size)
{
  chunk_ended (data, chunk_size);
}

/* Decodes what was read; framed media goes on to the framer. */
static gboolean
take_body_bytes (PgIngest * self, const guint8 * data, gsize size)
{
  switch (pg_body_decode (&self->body, data, size)) {
    case PG_BODY_OK:
      return TRUE;
    case PG_BODY_MALFORMED:
      finish (self, STATE_BAD_BODY, g_strdup (self->body.error));
      return FALSE;
    default:
      return FALSE;             /* the framer's error is the push's */
  }
}

/* ------------------------------------------------------------------ the thread */

static gboolean
stopping (PgIngest * self)
{
  g_mutex_lock (&self->lock);
  gboolean over = self->state != STATE_RUNNING;
  g_mutex_unlock (&self->lock);
  return over;
}

static gpointer
run (gpointer data)
{
  PgIngest *self = data;
  guint8 *chunk = g_malloc (READ_BYTES);
  gint64 last_data = gateway_now (self);
  gboolean was_reading = TRUE;
  gint64 idle_ns = (gint64) self->idle_timeout_ms * GST_MSECOND;

  gsize head_size;
  const guint8 *head = g_bytes_get_data (self->head, &head_size);
  if (head_size > 0 && !take_body_bytes (self, head, head_size))
    goto out;

  while (!stopping (self)) {
    gint64 now = gateway_now (self);
    take_clock_settings (self);
    if (!cut_if_due (self, now))
      break;
    gint64 next_due = release_due (self, now);
    if (pg_body_done (&self->body) && !self->body_over) {
      if (!pg_framer_end_unit (&self->framer)) {   /* the end of the body ends the last unit */
        framer_failed (self);
        break;
      }
      self->body_over = TRUE;
    }
    gboolean body_over = self->body_over;
    g_mutex_lock (&self->lock);
    gboolean started = self->started, begun = self->begun;
    g_mutex_unlock (&self->lock);
    if (body_over && g_queue_is_empty (&self->pacer.queue) && (!started || begun)) {
      finish (self, STATE_ENDED, NULL);
      break;
    }
    gboolean reading = !body_over && !queue_full (self, now);
    /* Silence counts only while the push wants data, not while the pacer holds it. */
    if (reading && !was_reading)
      last_data = now;
    was_reading = reading;
    if (reading && idle_ns > 0 && now - last_data >= idle_ns) {
      finish (self, STATE_IDLE, NULL);
      break;
    }

    gint64 wait_ns = G_MAXINT64;
    if (next_due != G_MAXINT64)
      wait_ns = MAX (0, next_due - now);
    if (reading && idle_ns > 0)
      wait_ns = MIN (wait_ns, last_data + idle_ns - now);
    if (self->cut_at)
      wait_ns = MIN (wait_ns, self->cut_at - now);
    /* Waiting units need Node's start: look again soon. */
    if (self->waiting_units > 0)
      wait_ns = MIN (wait_ns, 10 * GST_MSECOND);
    wait_ns = MAX (0, wait_ns);
    gint timeout_ms = wait_ns == G_MAXINT64 ? 1000 : (gint) MIN (1000, (wait_ns + 999999) / GST_MSECOND);

    /* Not reading: leave the socket out, or a closed one would wake poll at once, again and again. */
    struct pollfd fds[2] = { {self->wake[0], POLLIN, 0}, {reading ? self->fd : -1, POLLIN, 0} };
    gint n = poll (fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) {
      finish (self, STATE_ABORTED, g_strdup_printf ("poll failed: %s", g_strerror (errno)));
      break;
    }
    if (n <= 0 || (fds[0].revents & POLLIN))
      continue;                 /* a stop is seen at the top */
    if (!reading)
      continue;
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t got = read (self->fd, chunk, READ_BYTES);
      if (got > 0) {
        last_data = gateway_now (self);
        if (!take_body_bytes (self, chunk, got))
          break;
      } else if (got == 0) {
        finish (self, STATE_ABORTED, g_strdup ("the publisher closed the connection"));
        break;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        finish (self, STATE_ABORTED, g_strdup_printf ("reading the request failed: %s",
                g_strerror (errno)));
        break;
      }
    }
  }
out:
  g_free (chunk);
  close (self->fd);
  self->fd = -1;
  pg_pacer_clear (&self->pacer, free_unit);
  return NULL;
}

/* ------------------------------------------------------------------ Node's side */

static gboolean
start (PgIngest * self, gint fd, const gchar * head_base64, gint64 content_length)
{
  if (self->thread || fd < 0)
    return FALSE;
  self->fd = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  if (self->fd < 0)
    return FALSE;
  if (pipe2 (self->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    close (self->fd);
    self->fd = -1;
    return FALSE;
  }
  gsize head_size = 0;
  guchar *head = g_base64_decode (head_base64 ? head_base64 : "", &head_size);
  self->head = g_bytes_new_take (head, head_size);
  self->content_length = content_length;
  pg_body_init (&self->body, content_length, on_body_data, on_chunk_end, self);
  pg_framer_init (&self->framer, self->h265, MAX_UNIT_BYTES, MAX_LEADING_GARBAGE, on_unit,
      on_misframed, self);
  self->thread = g_thread_new ("pgingest", run, self);
  return TRUE;
}

static void
begin (PgIngest * self, gdouble frame_rate)
{
  g_mutex_lock (&self->lock);
  self->begun = TRUE;
  if (frame_rate > 0) {
    self->frame_rate = frame_rate;
    self->frame_rate_changed = TRUE;
  }
  g_mutex_unlock (&self->lock);
}

static void
set_target (PgIngest * self, GstElement * appsrc, gboolean flowing)
{
  g_mutex_lock (&self->lock);
  gst_clear_object (&self->target);
  if (GST_IS_APP_SRC (appsrc))
    self->target = GST_APP_SRC (gst_object_ref (appsrc));
  self->target_flowing = self->target && flowing;
  g_mutex_unlock (&self->lock);
}

static void
clear_target (PgIngest * self)
{
  g_mutex_lock (&self->lock);
  gst_clear_object (&self->target);
  self->target_flowing = FALSE;
  g_mutex_unlock (&self->lock);
}

/* Ends the push now (if it is still running) and waits for the thread. Idempotent. */
static void
stop (PgIngest * self)
{
  if (!self->thread)
    return;
  finish (self, STATE_STOPPED, NULL);
  if (write (self->wake[1], "x", 1) < 0) {
    /* the pipe is non-blocking and the thread reads the state first: a full pipe is fine */
  }
  g_thread_join (self->thread);
  self->thread = NULL;
  close (self->wake[0]);
  close (self->wake[1]);
  /* The target stays until Node clears it: whether it had data still matters to its output. */
}

static void
pg_ingest_set_property (GObject * object, guint id, const GValue * value, GParamSpec * pspec)
{
  PgIngest *self = PG_INGEST (object);
  switch (id) {
    case PROP_CODEC:
      self->h265 = g_strcmp0 (g_value_get_string (value), "h265") == 0;
      break;
    case PROP_UNIT_WRITER:
      self->unit_writer = g_value_get_boolean (value);
      break;
    case PROP_IDLE_TIMEOUT_MS:
      self->idle_timeout_ms = g_value_get_int (value);
      break;
    case PROP_BASE_TIME:
      self->base_time = g_value_get_uint64 (value);
      break;
    case PROP_FRAME_RATE:
      g_mutex_lock (&self->lock);
      self->frame_rate = g_value_get_double (value);
      self->frame_rate_changed = TRUE;
      g_mutex_unlock (&self->lock);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static gchar *
parameter_sets_base64 (PgIngest * self)
{
  if (!self->parameter_sets)
    return g_strdup ("");
  gsize size;
  const guint8 *data = g_bytes_get_data (self->parameter_sets, &size);
  return g_base64_encode (data, size);
}

static void
pg_ingest_get_property (GObject * object, guint id, GValue * value, GParamSpec * pspec)
{
  PgIngest *self = PG_INGEST (object);
  g_mutex_lock (&self->lock);
  switch (id) {
    case PROP_CODEC:
      g_value_set_string (value, self->h265 ? "h265" : "h264");
      break;
    case PROP_UNIT_WRITER:
      g_value_set_boolean (value, self->unit_writer);
      break;
    case PROP_IDLE_TIMEOUT_MS:
      g_value_set_int (value, self->idle_timeout_ms);
      break;
    case PROP_BASE_TIME:
      g_value_set_uint64 (value, self->base_time);
      break;
    case PROP_FRAME_RATE:
      g_value_set_double (value, self->frame_rate);
      break;
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;
    case PROP_ERROR:
      g_value_set_string (value, self->error ? self->error : "");
      break;
    case PROP_STARTED:
      g_value_set_boolean (value, self->started);
      break;
    case PROP_PARAMETER_SETS:
      g_value_take_string (value, parameter_sets_base64 (self));
      break;
    case PROP_SPS_SERIAL:
      g_value_set_uint (value, self->sps_serial);
      break;
    case PROP_BYTES:
      g_value_set_uint64 (value, self->bytes);
      break;
    case PROP_FRAMES:
      g_value_set_uint64 (value, self->frames);
      break;
    case PROP_FRAMES_OUT:
      g_value_set_uint64 (value, self->frames_out);
      break;
    case PROP_TARGETS_LOST:
      g_value_set_uint (value, self->targets_lost);
      break;
    case PROP_TARGET_FLOWING:
      g_value_set_boolean (value, self->target_flowing);
      break;
    case PROP_HAS_TARGET:
      g_value_set_boolean (value, self->target != NULL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
  g_mutex_unlock (&self->lock);
}

static void
pg_ingest_finalize (GObject * object)
{
  PgIngest *self = PG_INGEST (object);
  stop (self);
  clear_target (self);
  g_clear_pointer (&self->head, g_bytes_unref);
  g_clear_pointer (&self->parameter_sets, g_bytes_unref);
  g_clear_pointer (&self->last_sps, g_bytes_unref);
  g_free (self->error);
  pg_body_clear (&self->body);
  pg_framer_clear (&self->framer);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (pg_ingest_parent_class)->finalize (object);
}

static void
pg_ingest_init (PgIngest * self)
{
  g_mutex_init (&self->lock);
  pg_pacer_init (&self->pacer);
  pg_frame_clock_init (&self->clock);
  self->fd = -1;
  self->idle_timeout_ms = 10000;
  self->open_chunk_end = -1;
}

static void
pg_ingest_class_init (PgIngestClass * klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->set_property = pg_ingest_set_property;
  object_class->get_property = pg_ingest_get_property;
  object_class->finalize = pg_ingest_finalize;

  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
  g_object_class_install_property (object_class, PROP_CODEC,
      g_param_spec_string ("codec", "Codec", "h264 or h265 (set before start)", "h264", rw));
  g_object_class_install_property (object_class, PROP_UNIT_WRITER,
      g_param_spec_boolean ("unit-writer", "Unit writer",
          "The publisher writes whole access units (its chunks split them only at a fixed size): "
          "once learned, a unit leaves at its chunk's end without waiting for more", FALSE, rw));
  g_object_class_install_property (object_class, PROP_IDLE_TIMEOUT_MS,
      g_param_spec_int ("idle-timeout-ms", "Idle timeout",
          "A publisher silent this long while data is wanted is closed (0: never)", 0,
          G_MAXINT, 10000, rw));
  g_object_class_install_property (object_class, PROP_BASE_TIME,
      g_param_spec_uint64 ("base-time", "Base time",
          "CLOCK_MONOTONIC ns of the gateway clock's zero (the media pipelines' base time)",
          0, G_MAXUINT64, 0, rw));
  g_object_class_install_property (object_class, PROP_FRAME_RATE,
      g_param_spec_double ("frame-rate", "Frame rate",
          "Frame rate declared by the stream's SPS (0: none)", 0, 1000, 0, rw));
  g_object_class_install_property (object_class, PROP_STATE,
      g_param_spec_int ("state", "State", "0 running, 1 ended, 2 aborted, 3 idle, "
          "4 invalid media, 5 malformed body, 6 stopped", 0, 6, 0, ro));
  g_object_class_install_property (object_class, PROP_ERROR,
      g_param_spec_string ("error", "Error", "Why the push failed", "", ro));
  g_object_class_install_property (object_class, PROP_STARTED,
      g_param_spec_boolean ("started", "Started",
          "A keyframe with parameter sets arrived: the stream can go live", FALSE, ro));
  g_object_class_install_property (object_class, PROP_PARAMETER_SETS,
      g_param_spec_string ("parameter-sets", "Parameter sets",
          "The latest SPS/PPS(/VPS), Annex-B, base64", "", ro));
  g_object_class_install_property (object_class, PROP_SPS_SERIAL,
      g_param_spec_uint ("sps-serial", "SPS serial", "Counts SPS changes", 0, G_MAXUINT, 0, ro));
  g_object_class_install_property (object_class, PROP_BYTES,
      g_param_spec_uint64 ("bytes", "Bytes", "Body bytes read (chunk framing excluded)", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (object_class, PROP_FRAMES,
      g_param_spec_uint64 ("frames", "Frames", "Access units framed", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (object_class, PROP_FRAMES_OUT,
      g_param_spec_uint64 ("frames-out", "Frames out", "Access units released to readers", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (object_class, PROP_TARGETS_LOST,
      g_param_spec_uint ("targets-lost", "Targets lost",
          "Times the appsrc refused data after accepting some (its media stopped)", 0,
          G_MAXUINT, 0, ro));
  g_object_class_install_property (object_class, PROP_TARGET_FLOWING,
      g_param_spec_boolean ("target-flowing", "Target flowing",
          "The current appsrc accepted data", FALSE, ro));
  g_object_class_install_property (object_class, PROP_HAS_TARGET,
      g_param_spec_boolean ("has-target", "Has target", "An appsrc is set", FALSE, ro));

  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_START] = g_signal_new_class_handler ("start", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION, G_CALLBACK (start), NULL, NULL, NULL,
      G_TYPE_BOOLEAN, 3, G_TYPE_INT, G_TYPE_STRING, G_TYPE_INT64);
  signals[SIGNAL_BEGIN] = g_signal_new_class_handler ("begin", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION, G_CALLBACK (begin), NULL, NULL, NULL,
      G_TYPE_NONE, 1, G_TYPE_DOUBLE);
  signals[SIGNAL_SET_TARGET] = g_signal_new_class_handler ("set-target",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION, G_CALLBACK (set_target),
      NULL, NULL, NULL, G_TYPE_NONE, 2, GST_TYPE_ELEMENT, G_TYPE_BOOLEAN);
  signals[SIGNAL_CLEAR_TARGET] = g_signal_new_class_handler ("clear-target",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (clear_target), NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_STOP] = g_signal_new_class_handler ("stop", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION, G_CALLBACK (stop), NULL, NULL, NULL,
      G_TYPE_NONE, 0);

  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass),
      "pushgate native ingest", "Source",
      "Reads a raw H.264/H.265 HTTP push body on a thread of its own and feeds an appsrc",
      "pushgate");
}

gboolean
pg_ingest_register (GstPlugin * plugin)
{
  return gst_element_register (plugin, "pgingest", GST_RANK_NONE, PG_TYPE_INGEST);
}
