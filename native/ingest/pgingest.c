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
#define MAX_PARAMETER_SETS 32
/* Longest chunk extension, and trailer section, accepted (Node's parser refuses long ones too). */
#define MAX_CHUNK_TEXT 4096
/* Pacing (as src/ingest/pacer.ts): units due within LOOKAHEAD go at once; reading pauses
 * while more than MAX_QUEUED_NS of media or MAX_QUEUED_BYTES wait. */
#define LOOKAHEAD_NS (5 * GST_MSECOND)
#define MAX_QUEUED_NS GST_SECOND
#define MAX_QUEUED_BYTES (16 * 1024 * 1024)
/* Chunk-aligned access units (see distrust_chunks): this many units in a row must each have ended
 * exactly where a chunk ended before that is taken as the publisher's framing. */
#define ALIGNED_UNITS_TO_TRUST 60
/* ... and then a unit leaves when nothing more came this long after its chunk: a relay that
 * split a unit (curl -T - reading a pipe mid-write) sends the rest at once. Not for writers
 * known to write whole units ("unit-writer": ffmpeg), which saves a wake-up per frame. */
#define CUT_DELAY_NS (2 * GST_MSECOND)
/* Before Node has taken the start (and the frame rate), units wait unstamped; this many at most. */
#define MAX_WAITING_UNITS 120
/* Frame clock (as src/ingest/frame-clock.ts). */
#define PHASE_GAIN 0.05
#define PERIOD_GAIN 0.01
#define RESYNC_LATE_NS (500.0 * GST_MSECOND)
/* A publisher paced by its own clock (the last PACED_WINDOW arrivals a frame period apart on
 * average, within PACED_TOLERANCE) whose units come early by up to MAX_EARLY_FOLLOW_NS had its
 * first units arrive in a burst: the phase follows it, or they would be held that long for good. */
#define PACED_WINDOW 30
#define PACED_TOLERANCE 0.02
#define MAX_EARLY_FOLLOW_NS (500.0 * GST_MSECOND)
#define MIN_PERIOD_NS (1e9 / 240)
#define MAX_PERIOD_NS 1e9

enum
{
  STATE_RUNNING, STATE_ENDED, STATE_ABORTED, STATE_IDLE, STATE_INVALID, STATE_BAD_BODY,
  STATE_STOPPED
};

typedef struct
{
  GstBuffer *buffer;
  gint64 arrival;
  gint64 pts;
  gint64 duration;
  gboolean stamped;
} Unit;

/* Whether a chunk's end is taken as its unit's end (see distrust_chunks). */
typedef enum
{
  CHUNKS_LEARNING, CHUNKS_TRUSTED, CHUNKS_DISTRUSTED
} ChunkTrust;

/* Body framing: chunked transfer coding (RFC 9112 7.1) or a known length. */
typedef enum
{
  CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER_LINE,
  CH_TRAILER_TEXT, CH_TRAILER_LF, CH_DONE
} ChunkState;

typedef struct
{
  gboolean h265;
  guint8 *buf;                  /* buf[0 .. len) holds stream offsets [base .. base + len) */
  gsize len, cap;
  gint64 base, scan_pos, garbage_from;
  gboolean seen_start_code;
  gint64 nal_start, nal_start_code;   /* -1: no NAL open */
  gint nal_type;
  gboolean nal_classified;
  gint64 au_start, au_end;      /* -1: no AU open */
  gboolean au_has_vcl, au_keyframe;
  gint64 ps_start[MAX_PARAMETER_SETS], ps_end[MAX_PARAMETER_SETS];
  gint ps_count;
  gboolean cut;                 /* the last unit left at a chunk's end: the next NAL must open one */
} Framer;

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
  Framer framer;
  GQueue queue;                 /* of Unit*, oldest first */
  gsize queued_bytes;
  gint waiting_units;
  gdouble period, next, last;
  gboolean has_next, has_last, declared;
  gdouble arrivals[PACED_WINDOW];   /* ring of the last arrival times */
  guint arrivals_seen;
  gboolean clock_running;       /* Node began the stream: units are stamped as they come */
  ChunkState chunk_state;
  guint64 chunk_left;
  gint chunk_digits;
  gsize chunk_text;             /* bytes of the current extension or trailer section */
  guint64 chunk_size;           /* of the chunk being read */
  guint64 split_size;           /* the size of the chunks seen to end inside units; 0: none */
  gint64 open_chunk_end;        /* where the last chunk since the last unit boundary ended; -1 */
  guint64 open_chunk_size;
  gboolean split_mismatch;      /* a chunk of another size ended inside the current unit */
  guint aligned_units;          /* units in a row that ended where a chunk did */
  ChunkTrust chunk_trust;
  gint64 cut_at;                /* gateway time to end the open unit; 0: none (new bytes clear it) */
  guint64 body_left;            /* Content-Length bodies */
  gboolean body_done;            /* the body's last byte was decoded */
  gboolean body_over;           /* ... and the framer flushed: read no more */
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

static gboolean
is_vcl (Framer * f, gint type)
{
  return f->h265 ? type <= 31 : (type >= 1 && type <= 5);
}

static gboolean
has_first_slice_bit (Framer * f, gint type)
{
  /* H.264: first_mb_in_slice (ue(v): a leading 1 means 0); partitions B/C never open a
   * picture. H.265: first_slice_segment_in_pic_flag opens every slice segment header. */
  return f->h265 ? type <= 31 : (type == 1 || type == 2 || type == 5);
}

static gboolean
is_keyframe (Framer * f, gint type)
{
  return f->h265 ? (type >= 16 && type <= 23) : type == 5;
}

static gboolean
is_parameter_set (Framer * f, gint type)
{
  return f->h265 ? (type >= 32 && type <= 34) : (type == 7 || type == 8);
}

static gboolean
is_sps (Framer * f, gint type)
{
  return f->h265 ? type == 33 : type == 7;
}

static gboolean
starts_access_unit (Framer * f, gint type)
{
  if (f->h265)
    return (type >= 32 && type <= 35) || type == 39 || (type >= 41 && type <= 44)
        || (type >= 48 && type <= 55);
  return (type >= 6 && type <= 9) || (type >= 14 && type <= 18);
}

static const gchar *
codec_name (Framer * f)
{
  return f->h265 ? "H.265" : "H.264";
}

static guint8
byte_at (Framer * f, gint64 offset)
{
  return f->buf[offset - f->base];
}

static void emit_unit (PgIngest * self);

/* Zeros before a start code are trailing_zero_8bits of no NAL unit. */
static gint64
trim_trailing_zeros (Framer * f, gint64 end)
{
  while (end > f->nal_start && byte_at (f, end - 1) == 0)
    end--;
  return end;
}

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

/* Decides whether the open NAL starts a new access unit (emitting the finished one if so).
 * Returns FALSE (with the error set) on a forbidden bit. */
static gboolean
classify (PgIngest * self, gint64 limit, gboolean ended)
{
  Framer *f = &self->framer;
  gint header_bytes = f->h265 ? 2 : 1;
  if (f->nal_start + header_bytes > limit) {
    if (ended)
      f->nal_classified = TRUE; /* shorter than its header: nothing to frame */
    return TRUE;
  }
  guint8 h0 = byte_at (f, f->nal_start);
  if (h0 & 0x80) {
    finish (self, STATE_INVALID,
        g_strdup_printf ("%s NAL unit at byte %" G_GINT64_FORMAT
            " has forbidden_zero_bit set: not an Annex-B %s stream or corrupted data",
            codec_name (f), f->nal_start, codec_name (f)));
    return FALSE;
  }
  gint type = f->h265 ? (h0 >> 1) & 0x3f : h0 & 0x1f;
  gboolean base_layer = !f->h265
      || ((((h0 & 1) << 5) | (byte_at (f, f->nal_start + 1) >> 3)) == 0);
  gboolean vcl = is_vcl (f, type);
  gboolean opens;
  if (vcl) {
    gboolean first_slice = FALSE;
    if (has_first_slice_bit (f, type)) {
      if (f->nal_start + header_bytes + 1 > limit) {
        if (!ended)
          return TRUE;          /* the deciding bit has not arrived yet */
      } else {
        first_slice = (byte_at (f, f->nal_start + header_bytes) & 0x80) != 0;
      }
    }
    opens = first_slice && base_layer;
  } else {
    opens = base_layer && starts_access_unit (f, type);
  }
  if (f->cut && !opens) {
    distrust_chunks (self, "a chunk ended inside an access unit");
    f->nal_type = type;
    f->nal_classified = TRUE;   /* the rest of the unit already sent: dropped (end_nal) */
    return TRUE;
  }
  f->cut = FALSE;
  if (opens && f->au_has_vcl) {
    learn_chunk_alignment (self, f->nal_start_code);
    emit_unit (self);
  }
  if (f->au_start < 0) {
    f->au_start = f->nal_start_code;
    f->au_end = f->nal_start_code;
  }
  if (vcl) {
    f->au_has_vcl = TRUE;
    if (is_keyframe (f, type))
      f->au_keyframe = TRUE;
  }
  f->nal_type = type;
  f->nal_classified = TRUE;
  return TRUE;
}

static gboolean
too_large (PgIngest * self, const gchar * what, gint64 size)
{
  finish (self, STATE_INVALID,
      g_strdup_printf ("%s %s of more than %d bytes (%" G_GINT64_FORMAT
          " so far): corrupt stream or missing start codes", codec_name (&self->framer), what,
          MAX_UNIT_BYTES, size));
  return FALSE;
}

/* The open NAL ends at `end` (trailing zeros excluded). */
static gboolean
end_nal (PgIngest * self, gint64 end)
{
  Framer *f = &self->framer;
  if (!f->nal_classified && !classify (self, end, TRUE))
    return FALSE;
  gint header_bytes = f->h265 ? 2 : 1;
  if (end - f->nal_start < header_bytes || f->au_start < 0)
    return TRUE;                /* empty or header-less: dropped */
  f->au_end = end;
  if (end - f->au_start > MAX_UNIT_BYTES)
    return too_large (self, "access unit", end - f->au_start);
  if (is_parameter_set (f, f->nal_type) && f->ps_count < MAX_PARAMETER_SETS) {
    f->ps_start[f->ps_count] = f->nal_start;
    f->ps_end[f->ps_count] = end;
    f->ps_count++;
  }
  return TRUE;
}

static gboolean
check_garbage (PgIngest * self, gint64 garbage)
{
  Framer *f = &self->framer;
  if (garbage <= MAX_LEADING_GARBAGE)
    return TRUE;
  finish (self, STATE_INVALID,
      g_strdup_printf ("no %s start code in the first %d bytes: not an Annex-B %s stream",
          codec_name (f), MAX_LEADING_GARBAGE, codec_name (f)));
  return FALSE;
}

/* Finds start codes in what has arrived; returns FALSE once the input is known to be bad. */
static gboolean
scan (PgIngest * self)
{
  Framer *f = &self->framer;
  gint64 end = f->base + (gint64) f->len;
  for (;;) {
    gint64 one = -1;
    gint64 from = f->scan_pos - f->base;
    while (from < (gint64) f->len) {
      guint8 *hit = memchr (f->buf + from, 1, f->len - from);
      if (!hit)
        break;
      gint64 i = hit - f->buf;
      if (i >= 2 && f->buf[i - 1] == 0 && f->buf[i - 2] == 0) {
        one = i;
        break;
      }
      from = i + 1;
    }
    if (one < 0) {
      f->scan_pos = end;
      /* Decide about the open NAL now, so an access unit leaves as soon as the next begins. */
      if (f->nal_start >= 0 && !f->nal_classified)
        return classify (self, trim_trailing_zeros (f, end), FALSE);
      return TRUE;
    }
    f->scan_pos = f->base + one + 1;
    /* A zero before 00 00 01 is the zero_byte of a 4-byte start code, unless it belongs to
     * the open NAL's own start code. */
    gint64 floor_at = f->nal_start >= 0 ? f->nal_start - f->base : 0;
    gint64 start_code = f->base + ((one - 3 >= floor_at && f->buf[one - 3] == 0) ? one - 3 : one - 2);
    if (f->nal_start >= 0) {
      if (!end_nal (self, trim_trailing_zeros (f, start_code)))
        return FALSE;
    } else if (f->cut && start_code > f->garbage_from) {
      distrust_chunks (self, "bytes without a start code followed a chunk");
    } else if (!f->cut && !check_garbage (self, start_code - f->garbage_from)) {
      return FALSE;
    }
    f->seen_start_code = TRUE;
    f->nal_start_code = start_code;
    f->nal_start = f->base + one + 1;
    f->nal_classified = FALSE;
    f->nal_type = -1;
  }
}

/* The earliest stream offset a future unit, NAL or start code can still need. */
static gint64
first_needed (Framer * f)
{
  if (f->au_start >= 0)
    return f->au_start;
  if (f->nal_start >= 0)
    return f->nal_start_code;
  return MAX (f->base, f->base + (gint64) f->len - 3);
}

static void
append (Framer * f, const guint8 * data, gsize size)
{
  gint64 keep_from = first_needed (f);
  gsize drop = keep_from - f->base;
  if (drop > 0) {
    memmove (f->buf, f->buf + drop, f->len - drop);
    f->len -= drop;
    f->base = keep_from;
  }
  if (f->len + size > f->cap) {
    f->cap = MAX (f->cap * 2, f->len + size);
    f->buf = g_realloc (f->buf, f->cap);
  }
  memcpy (f->buf + f->len, data, size);
  f->len += size;
}

static gboolean
check_pending (PgIngest * self)
{
  Framer *f = &self->framer;
  gint64 end = f->base + (gint64) f->len;
  if (f->nal_start >= 0) {
    if (end - f->nal_start_code > MAX_UNIT_BYTES)
      return too_large (self, "NAL unit", end - f->nal_start_code);
    if (f->au_start >= 0 && end - f->au_start > MAX_UNIT_BYTES)
      return too_large (self, "access unit", end - f->au_start);
    return TRUE;
  }
  if (f->cut) {
    if (end - 3 > f->garbage_from)
      distrust_chunks (self, "bytes without a start code followed a chunk");
    return TRUE;
  }
  return check_garbage (self, end - 3 - f->garbage_from);
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
  append (&self->framer, data, size);
  /* A shrinking buffer after an unusually large unit is not worth the copy: it is reused. */
  return scan (self) && check_pending (self);
}

/* The current chunk's data has all gone to the framer. */
static void
chunk_ended (PgIngest * self)
{
  Framer *f = &self->framer;
  gint64 end = f->base + (gint64) f->len;

  /* Another chunk ended since, and no unit boundary: the one before ended inside a unit. */
  chunk_ended_inside (self);
  self->open_chunk_end = end;
  self->open_chunk_size = self->chunk_size;
  if (self->chunk_trust == CHUNKS_TRUSTED && self->chunk_size != self->split_size
      && f->au_start >= 0 && f->au_has_vcl)
    self->cut_at = gateway_now (self) + (self->unit_writer ? 0 : CUT_DELAY_NS);
}

/* The bytes so far end the open NAL and the unit in progress: the unit leaves. */
static gboolean
end_unit_here (PgIngest * self)
{
  Framer *f = &self->framer;
  if (f->nal_start >= 0
      && !end_nal (self, trim_trailing_zeros (f, f->base + (gint64) f->len)))
    return FALSE;
  f->nal_start = f->nal_start_code = -1;
  f->nal_type = -1;
  f->nal_classified = FALSE;
  if (f->au_start >= 0 && f->au_has_vcl)
    emit_unit (self);
  return TRUE;
}

/* CUT_DELAY_NS after a chunk (not of the split size) ended a unit, with no byte since (a byte
 * clears cut_at): the unit leaves, and the next NAL must open one. */
static gboolean
cut_if_due (PgIngest * self, gint64 now)
{
  Framer *f = &self->framer;

  if (!self->cut_at || now < self->cut_at)
    return TRUE;
  self->cut_at = 0;
  if (!end_unit_here (self))
    return FALSE;
  f->garbage_from = f->base + (gint64) f->len;
  self->open_chunk_end = -1;    /* a unit boundary, not a split */
  f->cut = TRUE;
  return TRUE;
}

/* ------------------------------------------------------------------ timing and release */

/* Records an arrival; whether the window's arrivals came a frame period apart on average. */
static gboolean
arrivals_paced (PgIngest * self, gdouble arrival)
{
  guint slot = self->arrivals_seen % PACED_WINDOW;
  gdouble oldest = self->arrivals[slot];    /* PACED_WINDOW arrivals ago, once the ring is full */
  self->arrivals[slot] = arrival;
  if (++self->arrivals_seen <= PACED_WINDOW)
    return FALSE;
  gdouble interval = (arrival - oldest) / PACED_WINDOW;
  return ABS (interval - self->period) <= PACED_TOLERANCE * self->period;
}

static void
stamp (PgIngest * self, Unit * unit)
{
  gdouble arrival = unit->arrival, pts;
  gboolean paced = arrivals_paced (self, arrival);
  if (!self->has_next || arrival - self->next > RESYNC_LATE_NS) {
    pts = arrival;
  } else {
    /* Early units keep the frame cadence (the pacer holds them: a file sent faster than real
     * time); near ones, and early ones of a paced publisher, nudge the phase. */
    gdouble error = arrival - self->next;
    gboolean near = ABS (error) < self->period;
    gboolean follow = near || (paced && error < 0 && -error < MAX_EARLY_FOLLOW_NS);
    pts = follow ? self->next + error * PHASE_GAIN : self->next;
    if (near && !self->declared)
      self->period = CLAMP (self->period + error * PERIOD_GAIN, MIN_PERIOD_NS, MAX_PERIOD_NS);
  }
  if (self->has_last && pts <= self->last)
    pts = self->last + 1;
  self->last = pts;
  self->has_last = TRUE;
  self->next = pts + self->period;
  self->has_next = TRUE;
  unit->pts = (gint64) (pts + 0.5);
  unit->duration = (gint64) (self->period + 0.5);
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
  if (changed && rate > 0) {
    self->period = CLAMP (1e9 / rate, MIN_PERIOD_NS, MAX_PERIOD_NS);
    self->declared = TRUE;
  }
  if (!begun || self->clock_running)
    return;
  self->clock_running = TRUE;
  for (GList * l = self->queue.head; l; l = l->next) {
    Unit *unit = l->data;
    if (!unit->stamped)
      stamp (self, unit);
  }
  self->waiting_units = 0;
}

static void
free_unit (Unit * unit)
{
  if (unit->buffer)
    gst_buffer_unref (unit->buffer);
  g_free (unit);
}

/* Pushes one unit into the current appsrc, if any (with the lock held). */
static void
push_locked (PgIngest * self, Unit * unit)
{
  GstBuffer *buffer = unit->buffer;
  unit->buffer = NULL;
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
  for (;;) {
    Unit *unit = g_queue_peek_head (&self->queue);
    if (!unit || !unit->stamped)
      return G_MAXINT64;
    if (unit->pts > now + LOOKAHEAD_NS)
      return unit->pts - LOOKAHEAD_NS;
    g_queue_pop_head (&self->queue);
    self->queued_bytes -= gst_buffer_get_size (unit->buffer);
    g_mutex_lock (&self->lock);
    push_locked (self, unit);
    g_mutex_unlock (&self->lock);
    free_unit (unit);
  }
}

static gboolean
queue_full (PgIngest * self, gint64 now)
{
  if (self->queued_bytes > MAX_QUEUED_BYTES || self->waiting_units >= MAX_WAITING_UNITS)
    return TRUE;
  Unit *last = g_queue_peek_tail (&self->queue);
  return last && last->stamped && last->pts - now > MAX_QUEUED_NS;
}

/* An access unit is complete: keep its parameter sets, and queue it once the stream started. */
static void
emit_unit (PgIngest * self)
{
  Framer *f = &self->framer;
  gsize size = f->au_end - f->au_start;
  gboolean keyframe = f->au_keyframe;

  g_mutex_lock (&self->lock);
  self->frames++;
  if (f->ps_count > 0) {
    GByteArray *sets = g_byte_array_new ();
    static const guint8 start_code[4] = { 0, 0, 0, 1 };
    for (gint i = 0; i < f->ps_count; i++) {
      const guint8 *nal = f->buf + (f->ps_start[i] - f->base);
      gsize nal_size = f->ps_end[i] - f->ps_start[i];
      g_byte_array_append (sets, start_code, 4);
      g_byte_array_append (sets, nal, nal_size);
      gint type = f->h265 ? (nal[0] >> 1) & 0x3f : nal[0] & 0x1f;
      if (is_sps (f, type) && (!self->last_sps || g_bytes_get_size (self->last_sps) != nal_size
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
  if (!take && keyframe && self->last_sps) {
    self->started = take = TRUE;
    notify_locked (self);
  }
  g_mutex_unlock (&self->lock);

  if (take) {
    Unit *unit = g_new0 (Unit, 1);
    unit->buffer = gst_buffer_new_memdup (f->buf + (f->au_start - f->base), size);
    unit->arrival = gateway_now (self);
    g_queue_push_tail (&self->queue, unit);
    self->queued_bytes += size;
    take_clock_settings (self);   /* may stamp what waited, this unit included */
    if (!unit->stamped) {
      if (self->clock_running)
        stamp (self, unit);
      else
        self->waiting_units++;
    }
  }
  f->au_start = f->au_end = -1;
  f->au_has_vcl = f->au_keyframe = FALSE;
  f->ps_count = 0;
}

/* ------------------------------------------------------------------ the body */

static gboolean
bad_body (PgIngest * self, const gchar * why)
{
  finish (self, STATE_BAD_BODY, g_strdup_printf ("malformed chunked request body: %s", why));
  return FALSE;
}

/* After a chunk's size line: its data, or the trailer after the last (empty) chunk. */
static void
begin_chunk_data (PgIngest * self)
{
  self->chunk_size = self->chunk_left;
  self->chunk_state = self->chunk_left ? CH_DATA : CH_TRAILER_LINE;
}

/* Decodes what was read; framed media goes on to the framer. */
static gboolean
take_body_bytes (PgIngest * self, const guint8 * data, gsize size)
{
  if (self->content_length >= 0) {
    gsize take = MIN (size, self->body_left);
    self->body_left -= take;
    if (self->body_left == 0)
      self->body_done = TRUE;
    return frame_bytes (self, data, take);
  }
  gsize i = 0;
  while (i < size && self->chunk_state != CH_DONE) {
    guint8 c = data[i];
    switch (self->chunk_state) {
      case CH_SIZE:{
        gint digit = g_ascii_xdigit_value (c);
        if (digit >= 0) {
          if (++self->chunk_digits > 15)
            return bad_body (self, "chunk size too long");
          self->chunk_left = self->chunk_left * 16 + digit;
        } else if (self->chunk_digits == 0) {
          return bad_body (self, "chunk size expected");
        } else if (c == ';' || c == ' ' || c == '\t') {
          self->chunk_state = CH_EXT;
          self->chunk_text = 0;
        } else if (c == '\r') {
          self->chunk_state = CH_SIZE_LF;
        } else if (c == '\n') {
          begin_chunk_data (self);
        } else {
          return bad_body (self, "invalid character in chunk size");
        }
        i++;
        break;
      }
      case CH_EXT:
        if (c == '\n')
          begin_chunk_data (self);
        else if (++self->chunk_text > MAX_CHUNK_TEXT)
          return bad_body (self, "chunk extension too long");
        i++;
        break;
      case CH_SIZE_LF:
        if (c != '\n')
          return bad_body (self, "CRLF expected after chunk size");
        begin_chunk_data (self);
        i++;
        break;
      case CH_DATA:{
        gsize take = MIN (size - i, self->chunk_left);
        if (!frame_bytes (self, data + i, take))
          return FALSE;
        i += take;
        self->chunk_left -= take;
        if (self->chunk_left == 0) {
          self->chunk_state = CH_DATA_CR;
          chunk_ended (self);
        }
        break;
      }
      case CH_DATA_CR:
        if (c == '\n') {
          self->chunk_state = CH_SIZE;
        } else if (c == '\r') {
          self->chunk_state = CH_DATA_LF;
        } else {
          return bad_body (self, "CRLF expected after chunk data");
        }
        self->chunk_digits = 0;
        self->chunk_text = 0;
        i++;
        break;
      case CH_DATA_LF:
        if (c != '\n')
          return bad_body (self, "CRLF expected after chunk data");
        self->chunk_state = CH_SIZE;
        i++;
        break;
      case CH_TRAILER_LINE:
        /* An empty line ends the body; anything else is a trailer field, skipped. */
        if (c == '\r') {
          self->chunk_state = CH_TRAILER_LF;
        } else if (c == '\n') {
          self->chunk_state = CH_DONE;
        } else {
          self->chunk_state = CH_TRAILER_TEXT;
        }
        i++;
        break;
      case CH_TRAILER_TEXT:
        if (c == '\n')
          self->chunk_state = CH_TRAILER_LINE;
        if (++self->chunk_text > MAX_CHUNK_TEXT)
          return bad_body (self, "trailer section too long");
        i++;
        break;
      case CH_TRAILER_LF:
        if (c != '\n')
          return bad_body (self, "CRLF expected after the last chunk");
        self->chunk_state = CH_DONE;
        i++;
        break;
      case CH_DONE:
        break;
    }
  }
  if (self->chunk_state == CH_DONE)
    self->body_done = TRUE;
  return TRUE;
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
    if (self->body_done && !self->body_over) {
      if (!end_unit_here (self))   /* the end of the body ends the last unit */
        break;
      self->body_over = TRUE;
    }
    gboolean body_over = self->body_over;
    g_mutex_lock (&self->lock);
    gboolean started = self->started, begun = self->begun;
    g_mutex_unlock (&self->lock);
    if (body_over && g_queue_is_empty (&self->queue) && (!started || begun)) {
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
  while (!g_queue_is_empty (&self->queue))
    free_unit (g_queue_pop_head (&self->queue));
  self->queued_bytes = 0;
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
  self->body_left = content_length > 0 ? content_length : 0;
  self->chunk_state = CH_SIZE;
  if (content_length == 0)
    self->body_done = TRUE;
  self->framer.h265 = self->h265;
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
  g_free (self->framer.buf);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (pg_ingest_parent_class)->finalize (object);
}

static void
pg_ingest_init (PgIngest * self)
{
  g_mutex_init (&self->lock);
  g_queue_init (&self->queue);
  self->fd = -1;
  self->idle_timeout_ms = 10000;
  self->period = 1e9 / 30;
  self->framer.nal_start = self->framer.nal_start_code = -1;
  self->framer.au_start = self->framer.au_end = -1;
  self->framer.nal_type = -1;
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
