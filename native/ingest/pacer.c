/*
 * pacer.c: releases timed units when their time comes and says when to stop reading, as
 * src/ingest/pacer.ts does. A live publisher's units are due as they arrive and pass straight
 * through; a file sent as fast as TCP allows is held here and its reading paused, so TCP slows
 * the publisher to real time and memory stays bounded whatever it does.
 */
#include "ingest.h"

/* Units due within LOOKAHEAD_NS go at once (GStreamer syncs the rest precisely); reading
 * pauses while more than MAX_QUEUED_NS of media or MAX_QUEUED_BYTES wait. */
#define LOOKAHEAD_NS (5 * 1000 * 1000)
#define MAX_QUEUED_NS (1000 * 1000 * 1000)
#define MAX_QUEUED_BYTES (16 * 1024 * 1024)

void
pg_pacer_init (PgPacer * pacer)
{
  g_queue_init (&pacer->queue);
  pacer->queued_bytes = 0;
}

void
pg_pacer_push (PgPacer * pacer, PgUnit * unit)
{
  g_queue_push_tail (&pacer->queue, unit);
  pacer->queued_bytes += unit->size;
}

PgUnit *
pg_pacer_pop_due (PgPacer * pacer, gint64 now, gint64 * next_due)
{
  PgUnit *unit = g_queue_peek_head (&pacer->queue);
  *next_due = G_MAXINT64;
  if (!unit || !unit->stamped)
    return NULL;
  if (unit->pts > now + LOOKAHEAD_NS) {
    *next_due = unit->pts - LOOKAHEAD_NS;
    return NULL;
  }
  g_queue_pop_head (&pacer->queue);
  pacer->queued_bytes -= unit->size;
  return unit;
}

gboolean
pg_pacer_full (PgPacer * pacer, gint64 now)
{
  if (pacer->queued_bytes > MAX_QUEUED_BYTES)
    return TRUE;
  PgUnit *last = g_queue_peek_tail (&pacer->queue);
  return last && last->stamped && last->pts - now > MAX_QUEUED_NS;
}

void
pg_pacer_clear (PgPacer * pacer, GDestroyNotify free_unit)
{
  while (!g_queue_is_empty (&pacer->queue))
    free_unit (g_queue_pop_head (&pacer->queue));
  pacer->queued_bytes = 0;
}
