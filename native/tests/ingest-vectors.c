/*
 * ingest-vectors: runs the shared ingest vectors (test/vectors/) through pgingest's
 * socket-free parts (native/ingest/ingest.h), as test/gst/native-ingest-vectors.test.ts asks.
 * It reads scripts on stdin, one command a line, each script ended by "end", and answers each
 * with result lines and then "ok" or "error <message, UTF-8, in hex>" (a message can hold any
 * byte the publisher sent). test/vectors/shared-vectors.ts writes the scripts and reads the
 * answers; the lines are the ones the TypeScript side gives, so the vectors' `expect` holds
 * for both.
 *
 *   body chunked | body length <n>          -> "body <hex> <done 0|1>"
 *   framer <h264|h265> <max unit bytes> <max leading garbage> <emit-at 0|1>
 *                                           -> "<size> key|delta ps=<n> <fnv1a>[ @<push>|@end]"
 *   clock                                   -> "<pts> <duration>" per stamp
 *   pace <declared fps, 0: pts given> <until ms>
 *                                           -> "<arrival> <pts> <release|held>" per unit
 * and in a script: "read <hex>" (bytes), "again <n>" (the last read n more times),
 * "declare <fps>", "stamp <arrival ns>", "offer <offered ns> <bytes> <pts ns>".
 */
#include "ingest/ingest.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000

typedef enum
{
  SCRIPT_NONE, SCRIPT_BODY, SCRIPT_FRAMER, SCRIPT_CLOCK, SCRIPT_PACE
} ScriptKind;

typedef struct
{
  gint64 offered, bytes, pts;
} Offer;

typedef struct
{
  ScriptKind kind;
  gboolean failed;              /* an error was answered: the rest of the script is skipped */
  GByteArray *read;             /* the last read, for "again" */
  /* body */
  PgBody body;
  GByteArray *decoded;
  /* framer */
  PgFramer framer;
  gboolean emit_at;
  gchar *push_name;             /* what "@" says for units out of the current push */
  guint pushes;
  /* clock */
  PgFrameClock clock;
  /* pace */
  gdouble pace_fps;
  gint64 until_ms;
  GArray *offers;
} Script;

static void
answer_error (Script * s, const gchar * message)
{
  GString *hex = g_string_new (NULL);
  for (const guchar * c = (const guchar *) message; *c; c++)
    g_string_append_printf (hex, "%02x", *c);
  printf ("error %s\n", hex->str);
  g_string_free (hex, TRUE);
  s->failed = TRUE;
}

static gchar *
fnv1a (const guint8 * data, gsize size)
{
  guint32 hash = 0x811c9dc5;
  for (gsize i = 0; i < size; i++)
    hash = (hash ^ data[i]) * 0x01000193;
  return g_strdup_printf ("%08x", hash);
}

/* ------------------------------------------------------------------ callbacks */

static gboolean
on_body_data (gpointer user, const guint8 * data, gsize size)
{
  Script *s = user;
  g_byte_array_append (s->decoded, data, size);
  return TRUE;
}

static void
on_unit (gpointer user, const PgAccessUnit * unit)
{
  Script *s = user;
  gchar *hash = fnv1a (unit->data, unit->size);
  printf ("%" G_GSIZE_FORMAT " %s ps=%d %s", unit->size, unit->keyframe ? "key" : "delta",
      unit->ps_count, hash);
  if (s->emit_at)
    printf (" @%s", s->push_name);
  printf ("\n");
  g_free (hash);
}

static void
on_misframed (gpointer user, const gchar * why)
{
  /* Only after a cut, which the vectors do not make: the element's chunk-aligned units. */
}

/* ------------------------------------------------------------------ scripts */

static void
take_read (Script * s)
{
  const guint8 *data = s->read->data;
  gsize size = s->read->len;
  switch (s->kind) {
    case SCRIPT_BODY:
      if (pg_body_decode (&s->body, data, size) != PG_BODY_OK)
        answer_error (s, s->body.error);
      break;
    case SCRIPT_FRAMER:
      g_free (s->push_name);
      s->push_name = g_strdup_printf ("%u", s->pushes++);
      if (!pg_framer_push (&s->framer, data, size))
        answer_error (s, s->framer.error);
      break;
    default:
      answer_error (s, "read outside a body or framer script");
  }
}

/* Simulated time on a 1 ms grid, as tsPace: at each step the pacer releases what is due, then
 * the publisher delivers what it has offered while the pacer has room. */
static void
run_pace (Script * s)
{
  guint n = s->offers->len;
  gint64 *arrival = g_new0 (gint64, n), *pts = g_new0 (gint64, n), *release = g_new0 (gint64, n);
  gboolean *released = g_new0 (gboolean, n);
  PgPacer pacer;
  PgFrameClock clock;
  guint next = 0, delivered = 0;

  pg_pacer_init (&pacer);
  pg_frame_clock_init (&clock);
  if (s->pace_fps > 0)
    pg_frame_clock_declare (&clock, s->pace_fps);
  for (gint64 step = 0; step <= s->until_ms; step++) {
    gint64 now = step * MS, next_due;
    PgUnit *unit;
    for (;;) {
      while ((unit = pg_pacer_pop_due (&pacer, now, &next_due))) {
        guint i = GPOINTER_TO_UINT (unit->payload) - 1;
        release[i] = now;
        released[i] = TRUE;
        g_free (unit);
      }
      Offer *offer = next < n ? &g_array_index (s->offers, Offer, next) : NULL;
      if (!offer || offer->offered > now || pg_pacer_full (&pacer, now))
        break;
      unit = g_new0 (PgUnit, 1);
      unit->payload = GUINT_TO_POINTER (next + 1);
      unit->size = offer->bytes;
      unit->arrival = now;
      if (s->pace_fps > 0)
        pg_frame_clock_stamp (&clock, now, &unit->pts, &unit->duration);
      else
        unit->pts = offer->pts;
      unit->stamped = TRUE;
      arrival[next] = now;
      pts[next] = unit->pts;
      pg_pacer_push (&pacer, unit);
      delivered = ++next;
    }
  }
  for (guint i = 0; i < delivered; i++) {
    if (released[i])
      printf ("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", arrival[i],
          pts[i], release[i]);
    else
      printf ("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT " held\n", arrival[i], pts[i]);
  }
  pg_pacer_clear (&pacer, g_free);
  g_free (arrival);
  g_free (pts);
  g_free (release);
  g_free (released);
}

static void
end_script (Script * s)
{
  if (!s->failed) {
    switch (s->kind) {
      case SCRIPT_BODY:{
        GString *hex = g_string_new (NULL);
        for (guint i = 0; i < s->decoded->len; i++)
          g_string_append_printf (hex, "%02x", s->decoded->data[i]);
        printf ("body %s %d\n", hex->str, pg_body_done (&s->body) ? 1 : 0);
        g_string_free (hex, TRUE);
        break;
      }
      case SCRIPT_FRAMER:
        g_free (s->push_name);
        s->push_name = g_strdup ("end");
        if (!pg_framer_end_unit (&s->framer))
          answer_error (s, s->framer.error);
        break;
      case SCRIPT_PACE:
        run_pace (s);
        break;
      default:
        break;
    }
  }
  if (!s->failed)
    printf ("ok\n");
  pg_body_clear (&s->body);
  pg_framer_clear (&s->framer);
  g_clear_pointer (&s->decoded, g_byte_array_unref);
  g_clear_pointer (&s->offers, g_array_unref);
  g_clear_pointer (&s->push_name, g_free);
  g_byte_array_set_size (s->read, 0);
  s->kind = SCRIPT_NONE;
  s->failed = FALSE;
  fflush (stdout);
}

static gboolean
hex_bytes (const gchar * hex, GByteArray * out)
{
  gsize len = strlen (hex);
  g_byte_array_set_size (out, 0);
  if (len % 2)
    return FALSE;
  for (gsize i = 0; i < len; i += 2) {
    gint hi = g_ascii_xdigit_value (hex[i]), lo = g_ascii_xdigit_value (hex[i + 1]);
    if (hi < 0 || lo < 0)
      return FALSE;
    guint8 byte = hi * 16 + lo;
    g_byte_array_append (out, &byte, 1);
  }
  return TRUE;
}

/* One command; FALSE for a line the driver does not understand (a bug in the test). */
static gboolean
command (Script * s, gchar * line)
{
  gchar **words = g_strsplit (line, " ", -1);
  guint count = g_strv_length (words);
  const gchar *verb = count > 0 ? words[0] : "";
  gboolean ok = TRUE;

  if (g_str_equal (verb, "end")) {
    end_script (s);
  } else if (s->failed) {
    /* skipped until the script's end */
  } else if (g_str_equal (verb, "body") && count >= 2) {
    s->kind = SCRIPT_BODY;
    s->decoded = g_byte_array_new ();
    pg_body_init (&s->body, g_str_equal (words[1], "chunked") ? -1
        : g_ascii_strtoll (words[2], NULL, 10), on_body_data, NULL, s);
  } else if (g_str_equal (verb, "framer") && count == 5) {
    s->kind = SCRIPT_FRAMER;
    s->emit_at = g_str_equal (words[4], "1");
    s->pushes = 0;
    pg_framer_init (&s->framer, g_str_equal (words[1], "h265"),
        g_ascii_strtoll (words[2], NULL, 10), g_ascii_strtoll (words[3], NULL, 10), on_unit,
        on_misframed, s);
  } else if (g_str_equal (verb, "clock")) {
    s->kind = SCRIPT_CLOCK;
    pg_frame_clock_init (&s->clock);
  } else if (g_str_equal (verb, "pace") && count == 3) {
    s->kind = SCRIPT_PACE;
    s->pace_fps = g_ascii_strtod (words[1], NULL);
    s->until_ms = g_ascii_strtoll (words[2], NULL, 10);
    s->offers = g_array_new (FALSE, FALSE, sizeof (Offer));
  } else if (g_str_equal (verb, "read") && count == 2) {
    ok = hex_bytes (words[1], s->read);
    if (ok)
      take_read (s);
  } else if (g_str_equal (verb, "again") && count == 2) {
    for (gint64 n = g_ascii_strtoll (words[1], NULL, 10); n > 0 && !s->failed; n--)
      take_read (s);
  } else if (g_str_equal (verb, "declare") && count == 2 && s->kind == SCRIPT_CLOCK) {
    pg_frame_clock_declare (&s->clock, g_ascii_strtod (words[1], NULL));
  } else if (g_str_equal (verb, "stamp") && count == 2 && s->kind == SCRIPT_CLOCK) {
    gint64 pts, duration;
    pg_frame_clock_stamp (&s->clock, g_ascii_strtoll (words[1], NULL, 10), &pts, &duration);
    printf ("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", pts, duration);
  } else if (g_str_equal (verb, "offer") && count == 4 && s->kind == SCRIPT_PACE) {
    Offer offer = { g_ascii_strtoll (words[1], NULL, 10), g_ascii_strtoll (words[2], NULL, 10),
      g_ascii_strtoll (words[3], NULL, 10)
    };
    g_array_append_val (s->offers, offer);
  } else {
    ok = FALSE;
  }
  g_strfreev (words);
  return ok;
}

int
main (void)
{
  Script script = { 0 };
  gchar *line = NULL;
  gsize cap = 0;
  gssize len;

  script.read = g_byte_array_new ();
  while ((len = getline (&line, &cap, stdin)) >= 0) {
    if (len > 0 && line[len - 1] == '\n')
      line[len - 1] = '\0';
    if (line[0] == '\0')
      continue;
    if (!command (&script, line)) {
      fprintf (stderr, "ingest-vectors: bad command: %.80s\n", line);
      return 2;
    }
  }
  free (line);
  g_byte_array_unref (script.read);
  return 0;
}
