/*
 * framer.c: cuts Annex-B H.264/H.265 bytes, split any way the network likes, into access units
 * (ITU-T H.264 7.4.1.2.3 / H.265 7.4.2.4.4), as src/ingest/annexb-framer.ts does
 * (test/vectors/annexb-framing.json holds both to it). It does not parse SPS: Node does, for
 * the frame rate, from the parameter sets the element passes on.
 *
 * All positions are stream offsets, so dropping consumed bytes from the front of the buffer
 * moves nothing but `base`. Start codes are found by their final 0x01 (memchr) and a look back
 * for the two zeros, so each search resumes where the previous one stopped, even when a start
 * code straddles pushes.
 */
#include "ingest.h"
#include <string.h>

void
pg_framer_init (PgFramer * f, gboolean h265, gint64 max_unit_bytes, gint64 max_leading_garbage,
    PgUnitFunc on_unit, PgMisframedFunc on_misframed, gpointer user)
{
  memset (f, 0, sizeof *f);
  f->h265 = h265;
  f->max_unit_bytes = max_unit_bytes;
  f->max_leading_garbage = max_leading_garbage;
  f->nal_start = f->nal_start_code = -1;
  f->au_start = f->au_end = -1;
  f->nal_type = -1;
  f->on_unit = on_unit;
  f->on_misframed = on_misframed;
  f->user = user;
}

void
pg_framer_clear (PgFramer * f)
{
  g_clear_pointer (&f->buf, g_free);
  g_clear_pointer (&f->error, g_free);
  f->len = f->cap = 0;
}

static gboolean
fail (PgFramer * f, gchar * error)
{
  g_free (f->error);
  f->error = error;
  return FALSE;
}

static gboolean
is_vcl (PgFramer * f, gint type)
{
  return f->h265 ? type <= 31 : (type >= 1 && type <= 5);
}

static gboolean
has_first_slice_bit (PgFramer * f, gint type)
{
  /* H.264: first_mb_in_slice (ue(v): a leading 1 means 0); partitions B/C never open a
   * picture. H.265: first_slice_segment_in_pic_flag opens every slice segment header. */
  return f->h265 ? type <= 31 : (type == 1 || type == 2 || type == 5);
}

static gboolean
is_keyframe (PgFramer * f, gint type)
{
  return f->h265 ? (type >= 16 && type <= 23) : type == 5;
}

static gboolean
is_parameter_set (PgFramer * f, gint type)
{
  return f->h265 ? (type >= 32 && type <= 34) : (type == 7 || type == 8);
}

static gint
nal_type (PgFramer * f, guint8 h0)
{
  return f->h265 ? (h0 >> 1) & 0x3f : h0 & 0x1f;
}

gboolean
pg_framer_is_sps (PgFramer * f, const guint8 * nal)
{
  gint type = nal_type (f, nal[0]);
  return f->h265 ? type == 33 : type == 7;
}

static gboolean
starts_access_unit (PgFramer * f, gint type)
{
  if (f->h265)
    return (type >= 32 && type <= 35) || type == 39 || (type >= 41 && type <= 44)
        || (type >= 48 && type <= 55);
  return (type >= 6 && type <= 9) || (type >= 14 && type <= 18);
}

static const gchar *
codec_name (PgFramer * f)
{
  return f->h265 ? "H.265" : "H.264";
}

static guint8
byte_at (PgFramer * f, gint64 offset)
{
  return f->buf[offset - f->base];
}

gint64
pg_framer_offset (PgFramer * f)
{
  return f->base + (gint64) f->len;
}

gboolean
pg_framer_has_picture (PgFramer * f)
{
  return f->au_start >= 0 && f->au_has_vcl;
}

/* Zeros before a start code are trailing_zero_8bits of no NAL unit. */
static gint64
trim_trailing_zeros (PgFramer * f, gint64 end)
{
  while (end > f->nal_start && byte_at (f, end - 1) == 0)
    end--;
  return end;
}

/* The unit in progress is complete; `boundary` as in PgAccessUnit. */
static void
emit_unit (PgFramer * f, gint64 boundary)
{
  PgAccessUnit unit = {
    .data = f->buf + (f->au_start - f->base),
    .size = f->au_end - f->au_start,
    .keyframe = f->au_keyframe,
    .ps_count = f->ps_count,
    .boundary = boundary,
  };
  for (gint i = 0; i < f->ps_count; i++) {
    unit.ps[i] = f->buf + (f->ps_start[i] - f->base);
    unit.ps_size[i] = f->ps_end[i] - f->ps_start[i];
  }
  f->on_unit (f->user, &unit);
  f->au_start = f->au_end = -1;
  f->au_has_vcl = f->au_keyframe = FALSE;
  f->ps_count = 0;
}

/* Decides whether the open NAL starts a new access unit (emitting the finished one if so).
 * With `ended` FALSE it may wait for more bytes; with `ended` TRUE, `limit` is the NAL's end
 * and a decision is forced. Returns FALSE on a forbidden bit. */
static gboolean
classify (PgFramer * f, gint64 limit, gboolean ended)
{
  gint header_bytes = f->h265 ? 2 : 1;
  if (f->nal_start + header_bytes > limit) {
    if (ended)
      f->nal_classified = TRUE; /* shorter than its header: nothing to frame */
    return TRUE;
  }
  guint8 h0 = byte_at (f, f->nal_start);
  if (h0 & 0x80)
    return fail (f, g_strdup_printf ("%s NAL unit at byte %" G_GINT64_FORMAT
            " has forbidden_zero_bit set: not an Annex-B %s stream or corrupted data",
            codec_name (f), f->nal_start, codec_name (f)));
  gint type = nal_type (f, h0);
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
    f->on_misframed (f->user, "a chunk ended inside an access unit");
    f->nal_type = type;
    f->nal_classified = TRUE;   /* the rest of the unit already sent: dropped (end_nal) */
    return TRUE;
  }
  f->cut = FALSE;
  if (opens && f->au_has_vcl)
    emit_unit (f, f->nal_start_code);
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
too_large (PgFramer * f, const gchar * what, gint64 size)
{
  return fail (f, g_strdup_printf ("%s %s of more than %" G_GINT64_FORMAT " bytes (%"
          G_GINT64_FORMAT " so far): corrupt stream or missing start codes", codec_name (f),
          what, f->max_unit_bytes, size));
}

/* The open NAL ends at `end` (trailing zeros excluded). */
static gboolean
end_nal (PgFramer * f, gint64 end)
{
  if (!f->nal_classified && !classify (f, end, TRUE))
    return FALSE;
  gint header_bytes = f->h265 ? 2 : 1;
  if (end - f->nal_start < header_bytes || f->au_start < 0)
    return TRUE;                /* empty or header-less: dropped */
  f->au_end = end;
  if (end - f->au_start > f->max_unit_bytes)
    return too_large (f, "access unit", end - f->au_start);
  if (is_parameter_set (f, f->nal_type) && f->ps_count < PG_MAX_PARAMETER_SETS) {
    f->ps_start[f->ps_count] = f->nal_start;
    f->ps_end[f->ps_count] = end;
    f->ps_count++;
  }
  return TRUE;
}

static gboolean
check_garbage (PgFramer * f, gint64 garbage)
{
  if (garbage <= f->max_leading_garbage)
    return TRUE;
  return fail (f, g_strdup_printf ("no %s start code in the first %" G_GINT64_FORMAT
          " bytes: not an Annex-B %s stream", codec_name (f), f->max_leading_garbage,
          codec_name (f)));
}

/* Finds start codes in what has arrived; returns FALSE once the input is known to be bad. */
static gboolean
scan (PgFramer * f)
{
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
        return classify (f, trim_trailing_zeros (f, end), FALSE);
      return TRUE;
    }
    f->scan_pos = f->base + one + 1;
    /* A zero before 00 00 01 is the zero_byte of a 4-byte start code, unless it belongs to
     * the open NAL's own start code. */
    gint64 floor_at = f->nal_start >= 0 ? f->nal_start - f->base : 0;
    gint64 start_code = f->base + ((one - 3 >= floor_at && f->buf[one - 3] == 0) ? one - 3 : one - 2);
    if (f->nal_start >= 0) {
      if (!end_nal (f, trim_trailing_zeros (f, start_code)))
        return FALSE;
    } else if (f->cut && start_code > f->garbage_from) {
      f->on_misframed (f->user, "bytes without a start code followed a chunk");
    } else if (!f->cut && !check_garbage (f, start_code - f->garbage_from)) {
      return FALSE;
    }
    f->nal_start_code = start_code;
    f->nal_start = f->base + one + 1;
    f->nal_classified = FALSE;
    f->nal_type = -1;
  }
}

/* The earliest stream offset a future unit, NAL or start code can still need. */
static gint64
first_needed (PgFramer * f)
{
  if (f->au_start >= 0)
    return f->au_start;
  if (f->nal_start >= 0)
    return f->nal_start_code;
  return MAX (f->base, f->base + (gint64) f->len - 3);
}

static void
append (PgFramer * f, const guint8 * data, gsize size)
{
  gint64 keep_from = first_needed (f);
  gsize drop = keep_from - f->base;
  if (drop > 0) {
    memmove (f->buf, f->buf + drop, f->len - drop);
    f->len -= drop;
    f->base = keep_from;
  }
  /* A buffer grown for an unusually large unit is reused, not shrunk: not worth the copy. */
  if (f->len + size > f->cap) {
    f->cap = MAX (f->cap * 2, f->len + size);
    f->buf = g_realloc (f->buf, f->cap);
  }
  memcpy (f->buf + f->len, data, size);
  f->len += size;
}

/* After a push: bound what is buffered, whether inside a unit or before any start code. */
static gboolean
check_pending (PgFramer * f)
{
  gint64 end = f->base + (gint64) f->len;
  if (f->nal_start >= 0) {
    if (end - f->nal_start_code > f->max_unit_bytes)
      return too_large (f, "NAL unit", end - f->nal_start_code);
    if (f->au_start >= 0 && end - f->au_start > f->max_unit_bytes)
      return too_large (f, "access unit", end - f->au_start);
    return TRUE;
  }
  if (f->cut) {
    if (end - 3 > f->garbage_from)
      f->on_misframed (f->user, "bytes without a start code followed a chunk");
    return TRUE;
  }
  /* The last 3 bytes may still become the zeros of a start code. */
  return check_garbage (f, end - 3 - f->garbage_from);
}

gboolean
pg_framer_push (PgFramer * f, const guint8 * data, gsize size)
{
  if (f->error)
    return FALSE;
  if (size == 0)
    return TRUE;
  append (f, data, size);
  return scan (f) && check_pending (f);
}

gboolean
pg_framer_end_unit (PgFramer * f)
{
  if (f->error)
    return FALSE;
  if (f->nal_start >= 0 && !end_nal (f, trim_trailing_zeros (f, f->base + (gint64) f->len)))
    return FALSE;
  f->nal_start = f->nal_start_code = -1;
  f->nal_type = -1;
  f->nal_classified = FALSE;
  if (f->au_start >= 0 && f->au_has_vcl)
    emit_unit (f, -1);
  return TRUE;
}

gboolean
pg_framer_cut (PgFramer * f)
{
  if (!pg_framer_end_unit (f))
    return FALSE;
  f->garbage_from = f->base + (gint64) f->len;
  f->cut = TRUE;
  return TRUE;
}
