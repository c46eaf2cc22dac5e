/*
 * frame-clock.c: timestamps for raw Annex-B, which carries none, as src/ingest/frame-clock.ts
 * gives them (test/vectors/frame-clock.json holds both to it). Each unit is one frame period
 * after the previous one; a slow phase correction keeps them near the arrival times (a live
 * source's clock drifts from ours) without copying the publisher's send jitter into them.
 */
#include "ingest.h"
#include <string.h>

#define PHASE_GAIN 0.05
#define PERIOD_GAIN 0.01
/* Late by more than this: the publisher stalled, so start over from the arrival time. */
#define RESYNC_LATE_NS 500e6
/* A publisher paced by its own clock (the last PG_CLOCK_PACED_WINDOW arrivals a frame period
 * apart on average, within PACED_TOLERANCE) whose units come early by up to
 * MAX_EARLY_FOLLOW_NS had its first units arrive in a burst: the phase follows it, or they
 * would be held that long for good. */
#define PACED_TOLERANCE 0.02
#define MAX_EARLY_FOLLOW_NS 500e6
#define MIN_PERIOD_NS (1e9 / 240)
#define MAX_PERIOD_NS 1e9

void
pg_frame_clock_init (PgFrameClock * clock)
{
  memset (clock, 0, sizeof *clock);
  clock->period = 1e9 / 30;
}

void
pg_frame_clock_declare (PgFrameClock * clock, gdouble fps)
{
  clock->period = CLAMP (1e9 / fps, MIN_PERIOD_NS, MAX_PERIOD_NS);
  clock->declared = TRUE;
}

/* Records an arrival; whether the window's arrivals came a frame period apart on average. */
static gboolean
arrivals_paced (PgFrameClock * clock, gdouble arrival)
{
  guint slot = clock->arrivals_seen % PG_CLOCK_PACED_WINDOW;
  gdouble oldest = clock->arrivals[slot];   /* PG_CLOCK_PACED_WINDOW arrivals ago, once full */
  clock->arrivals[slot] = arrival;
  if (++clock->arrivals_seen <= PG_CLOCK_PACED_WINDOW)
    return FALSE;
  gdouble interval = (arrival - oldest) / PG_CLOCK_PACED_WINDOW;
  return ABS (interval - clock->period) <= PACED_TOLERANCE * clock->period;
}

/* As JavaScript's Math.round (floor of x + 0.5), negative times included; without libm. */
static gint64
round_ns (gdouble ns)
{
  gdouble x = ns + 0.5;
  gint64 t = (gint64) x;
  return (gdouble) t > x ? t - 1 : t;
}

void
pg_frame_clock_stamp (PgFrameClock * clock, gint64 arrival_ns, gint64 * pts_out,
    gint64 * duration_out)
{
  gdouble arrival = arrival_ns, pts;
  gboolean paced = arrivals_paced (clock, arrival);
  if (!clock->has_next || arrival - clock->next > RESYNC_LATE_NS) {
    pts = arrival;
  } else {
    /* Early units keep the frame cadence (the pacer holds them: a file sent faster than real
     * time); near ones, and early ones of a paced publisher, nudge the phase. */
    gdouble error = arrival - clock->next;
    gboolean near = ABS (error) < clock->period;
    gboolean follow = near || (paced && error < 0 && -error < MAX_EARLY_FOLLOW_NS);
    pts = follow ? clock->next + error * PHASE_GAIN : clock->next;
    if (near && !clock->declared)
      clock->period = CLAMP (clock->period + error * PERIOD_GAIN, MIN_PERIOD_NS, MAX_PERIOD_NS);
  }
  if (clock->has_last && pts <= clock->last)
    pts = clock->last + 1;
  clock->last = pts;
  clock->has_last = TRUE;
  clock->next = pts + clock->period;
  clock->has_next = TRUE;
  *pts_out = round_ns (pts);
  *duration_out = round_ns (clock->period);
}
