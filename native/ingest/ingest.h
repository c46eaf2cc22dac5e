/*
 * ingest.h: the socket-free parts of pgingest (internal to the plugin library), each the C
 * twin of a TypeScript module, so both can be run on the same vectors (test/vectors/, driven
 * in C by native/tests/ingest-vectors.c):
 *  - chunked.c: the request body's framing, chunked (RFC 9112 7.1) or Content-Length
 *    (src/http/body-decoder.ts);
 *  - framer.c: Annex-B bytes to access units (src/ingest/annexb-framer.ts);
 *  - frame-clock.c: a timestamp per unit from its arrival (src/ingest/frame-clock.ts);
 *  - pacer.c: units released in real time, reading paused while too much waits
 *    (src/ingest/pacer.ts).
 * None of them reads a clock or a socket, takes a lock or knows the element: time and bytes
 * come in as arguments, results go out through callbacks. pgingest.c is the element.
 */
#ifndef PG_INGEST_H
#define PG_INGEST_H

#include <glib.h>

/* ------------------------------------------------------------------ chunked.c */

/* A chunk-size or trailer line longer than this is refused, and all trailer lines together
 * longer than PG_BODY_MAX_TRAILERS (within Node's 16 kB limit for a request head, which its
 * own parser applies to trailers too). */
#define PG_BODY_MAX_LINE 4096
#define PG_BODY_MAX_TRAILERS (16 * 1024)
/* Chunk sizes are counted exactly in a JavaScript number up to 2^53; none so large is real. */
#define PG_BODY_MAX_SIZE_DIGITS 13
/* How much of a bad size line the error quotes. */
#define PG_BODY_QUOTED 40

typedef enum
{
  PG_BODY_OK,
  PG_BODY_MALFORMED,            /* broken framing: `error` says how */
  PG_BODY_REFUSED               /* the data callback refused bytes (its own error) */
} PgBodyResult;

/* Body bytes; FALSE stops decoding. */
typedef gboolean (*PgBodyDataFunc) (gpointer user, const guint8 * data, gsize size);
/* A chunk's data has all been handed on (chunked bodies only). */
typedef void (*PgBodyChunkEndFunc) (gpointer user, guint64 chunk_size);

typedef enum
{
  PG_BODY_SIZE, PG_BODY_DATA, PG_BODY_DATA_END, PG_BODY_TRAILERS, PG_BODY_DONE
} PgBodyState;

typedef struct
{
  gboolean chunked;
  PgBodyState state;
  guint64 left;                 /* of the chunk, or of a Content-Length body */
  guint64 chunk_size;
  gboolean cr_seen;             /* after chunk data: its CR */
  /* The line being read (a size line or a trailer), LF excluded. */
  gsize line_len;
  guint8 line_head[PG_BODY_QUOTED];
  gboolean line_cr;             /* its last byte so far is a CR */
  gboolean line_bad;            /* not chunk-size [BWS] [";" chunk-ext] */
  gint line_part;               /* 0 size, 1 whitespace after it, 2 extension */
  gboolean line_has_digit;
  gint significant_digits;
  guint64 line_size;
  gsize trailer_bytes;
  gchar *error;                 /* with PG_BODY_MALFORMED; UTF-8 */
  PgBodyDataFunc on_data;
  PgBodyChunkEndFunc on_chunk_end;
  gpointer user;
} PgBody;

/* content_length -1: chunked. */
void pg_body_init (PgBody * body, gint64 content_length, PgBodyDataFunc on_data,
    PgBodyChunkEndFunc on_chunk_end, gpointer user);
void pg_body_clear (PgBody * body);
PgBodyResult pg_body_decode (PgBody * body, const guint8 * data, gsize size);
/* The body is complete: bytes after it are not the body's. */
#define pg_body_done(body) ((body)->state == PG_BODY_DONE)

/* ------------------------------------------------------------------ framer.c */

/* Parameter sets kept per access unit; more are passed on in the unit but not listed. */
#define PG_MAX_PARAMETER_SETS 32

typedef struct
{
  const guint8 *data;           /* Annex-B, start codes included; valid during the callback */
  gsize size;
  gboolean keyframe;
  gint ps_count;
  const guint8 *ps[PG_MAX_PARAMETER_SETS];    /* the parameter-set NAL units in it, no start code */
  gsize ps_size[PG_MAX_PARAMETER_SETS];
  /* Stream offset of the next unit's start code, which ended this one; -1: ended by the
   * body's end or a cut. */
  gint64 boundary;
} PgAccessUnit;

typedef void (*PgUnitFunc) (gpointer user, const PgAccessUnit * unit);
/* After a cut, bytes came that do not open a unit (see pg_framer_cut): they are dropped. */
typedef void (*PgMisframedFunc) (gpointer user, const gchar * why);

typedef struct
{
  gboolean h265;
  gint64 max_unit_bytes, max_leading_garbage;
  guint8 *buf;                  /* buf[0 .. len) holds stream offsets [base .. base + len) */
  gsize len, cap;
  gint64 base, scan_pos, garbage_from;
  gint64 nal_start, nal_start_code;   /* -1: no NAL open */
  gint nal_type;
  gboolean nal_classified;
  gint64 au_start, au_end;      /* -1: no AU open */
  gboolean au_has_vcl, au_keyframe;
  gint64 ps_start[PG_MAX_PARAMETER_SETS], ps_end[PG_MAX_PARAMETER_SETS];
  gint ps_count;
  gboolean cut;                 /* the last unit left at a cut: the next NAL must open one */
  gchar *error;                 /* once push/end/cut returned FALSE */
  PgUnitFunc on_unit;
  PgMisframedFunc on_misframed;
  gpointer user;
} PgFramer;

void pg_framer_init (PgFramer * f, gboolean h265, gint64 max_unit_bytes,
    gint64 max_leading_garbage, PgUnitFunc on_unit, PgMisframedFunc on_misframed,
    gpointer user);
void pg_framer_clear (PgFramer * f);
/* Returns FALSE, with `error` set, once the input is known not to be Annex-B video. */
gboolean pg_framer_push (PgFramer * f, const guint8 * data, gsize size);
/* The bytes so far end the open NAL and the unit in progress (the body ended). */
gboolean pg_framer_end_unit (PgFramer * f);
/* Ends the unit here as the publisher's chunk did; the next NAL must open a new unit. */
gboolean pg_framer_cut (PgFramer * f);
/* Stream offset after the last byte pushed. */
gint64 pg_framer_offset (PgFramer * f);
/* A unit with a picture is open. */
gboolean pg_framer_has_picture (PgFramer * f);
gboolean pg_framer_is_sps (PgFramer * f, const guint8 * nal);

/* ------------------------------------------------------------------ frame-clock.c */

#define PG_CLOCK_PACED_WINDOW 30

typedef struct
{
  gdouble period, next, last;
  gboolean has_next, has_last, declared;
  gdouble arrivals[PG_CLOCK_PACED_WINDOW];    /* ring of the last arrival times */
  guint arrivals_seen;
} PgFrameClock;

void pg_frame_clock_init (PgFrameClock * clock);
/* The bitstream declared its frame rate (clamped to 1..240 fps). */
void pg_frame_clock_declare (PgFrameClock * clock, gdouble fps);
/* Timing for the next frame, which finished arriving at `arrival` (gateway ns). */
void pg_frame_clock_stamp (PgFrameClock * clock, gint64 arrival, gint64 * pts,
    gint64 * duration);

/* ------------------------------------------------------------------ pacer.c */

typedef struct
{
  gpointer payload;             /* the element's GstBuffer */
  gsize size;
  gint64 arrival;
  gint64 pts;
  gint64 duration;
  gboolean stamped;             /* unstamped units wait, and hold back those after them */
} PgUnit;

typedef struct
{
  GQueue queue;                 /* of PgUnit*, oldest first */
  gsize queued_bytes;
} PgPacer;

void pg_pacer_init (PgPacer * pacer);
void pg_pacer_push (PgPacer * pacer, PgUnit * unit);
/* The oldest unit if it is due at `now`, taken out; else NULL and `next_due` says when it
 * will be (G_MAXINT64: not known yet). */
PgUnit *pg_pacer_pop_due (PgPacer * pacer, gint64 now, gint64 * next_due);
/* Too much waits: stop reading. */
gboolean pg_pacer_full (PgPacer * pacer, gint64 now);
void pg_pacer_clear (PgPacer * pacer, GDestroyNotify free_unit);

#endif /* PG_INGEST_H */
