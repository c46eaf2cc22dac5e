/*
 * chunked.c: the request body's framing (RFC 9112 6-7), chunked or as long as its
 * Content-Length; bytes in, body bytes out through a callback. The same rules and the same
 * error messages as src/http/body-decoder.ts (test/vectors/chunked-body.json holds both to
 * them): a size line is judged whole, at its LF, so the error can quote it as Node does.
 */
#include "ingest.h"
#include <string.h>

void
pg_body_init (PgBody * body, gint64 content_length, PgBodyDataFunc on_data,
    PgBodyChunkEndFunc on_chunk_end, gpointer user)
{
  memset (body, 0, sizeof *body);
  body->chunked = content_length < 0;
  body->left = content_length > 0 ? content_length : 0;
  body->state = body->chunked ? PG_BODY_SIZE : content_length == 0 ? PG_BODY_DONE : PG_BODY_DATA;
  body->on_data = on_data;
  body->on_chunk_end = on_chunk_end;
  body->user = user;
}

void
pg_body_clear (PgBody * body)
{
  g_clear_pointer (&body->error, g_free);
}

static PgBodyResult
malformed (PgBody * body, gchar * why)
{
  g_free (body->error);
  body->error = g_strdup_printf ("malformed chunked request body: %s", why);
  g_free (why);
  return PG_BODY_MALFORMED;
}

static void
reset_line (PgBody * body)
{
  body->line_len = 0;
  body->line_cr = body->line_bad = body->line_has_digit = FALSE;
  body->line_part = 0;
  body->significant_digits = 0;
  body->line_size = 0;
}

/* Takes a byte of a line (not its LF); FALSE once the line is too long. */
static gboolean
line_byte (PgBody * body, guint8 c)
{
  if (++body->line_len > PG_BODY_MAX_LINE)
    return FALSE;
  if (body->line_len <= PG_BODY_QUOTED)
    body->line_head[body->line_len - 1] = c;
  /* A CR ends a line only right before its LF. */
  if (body->line_cr)
    body->line_bad = TRUE;
  body->line_cr = c == '\r';
  return TRUE;
}

/* chunk-size [BWS] [";" chunk-ext], read a byte at a time; extensions mean nothing here. */
static void
parse_size_byte (PgBody * body, guint8 c)
{
  gint digit = g_ascii_xdigit_value (c);
  if (c == '\r' || body->line_bad)
    return;
  switch (body->line_part) {
    case 0:
      if (digit >= 0) {
        body->line_has_digit = TRUE;
        /* Leading zeros do not count toward the limit. */
        if (body->significant_digits > 0 || digit > 0) {
          if (++body->significant_digits > PG_BODY_MAX_SIZE_DIGITS)
            body->line_bad = TRUE;
          else
            body->line_size = body->line_size * 16 + digit;
        }
        break;
      }
      if (!body->line_has_digit)
        body->line_bad = TRUE;
      else if (c == ' ' || c == '\t')
        body->line_part = 1;
      else if (c == ';')
        body->line_part = 2;
      else
        body->line_bad = TRUE;
      break;
    case 1:
      if (c == ';')
        body->line_part = 2;
      else if (c != ' ' && c != '\t')
        body->line_bad = TRUE;  /* "3 x": chunk-ext begins with ";" */
      break;
    default:
      break;
  }
}

/* The line quoted as Node does: its bytes as Latin-1 (in UTF-8), a trailing CR left out. */
static gchar *
quoted_line (PgBody * body)
{
  gsize len = body->line_len - (body->line_cr ? 1 : 0);
  gchar *quoted = g_convert ((const gchar *) body->line_head, MIN (len, PG_BODY_QUOTED),
      "UTF-8", "ISO-8859-1", NULL, NULL, NULL);
  return quoted ? quoted : g_strdup ("");
}

static PgBodyResult
bad_size_line (PgBody * body)
{
  gchar *quoted = quoted_line (body);
  PgBodyResult result = malformed (body, g_strdup_printf ("bad chunk size line \"%s\"", quoted));
  g_free (quoted);
  return result;
}

/* A size line ended at its LF. */
static PgBodyResult
end_size_line (PgBody * body)
{
  if (body->line_bad || !body->line_has_digit)
    return bad_size_line (body);
  body->left = body->chunk_size = body->line_size;
  body->state = body->left ? PG_BODY_DATA : PG_BODY_TRAILERS;
  reset_line (body);
  return PG_BODY_OK;
}

/* A trailer line ended at its LF: an empty one ends the body, the others are skipped. */
static PgBodyResult
end_trailer_line (PgBody * body)
{
  gsize len = body->line_len - (body->line_cr ? 1 : 0);
  body->trailer_bytes += len + 2;
  if (body->trailer_bytes > PG_BODY_MAX_TRAILERS)
    return malformed (body, g_strdup_printf ("trailers longer than %d bytes",
            PG_BODY_MAX_TRAILERS));
  if (len == 0)
    body->state = PG_BODY_DONE;
  reset_line (body);
  return PG_BODY_OK;
}

PgBodyResult
pg_body_decode (PgBody * body, const guint8 * data, gsize size)
{
  gsize i = 0;
  while (i < size && body->state != PG_BODY_DONE) {
    guint8 c = data[i];
    switch (body->state) {
      case PG_BODY_DATA:{
        gsize take = MIN (size - i, body->left);
        if (!body->on_data (body->user, data + i, take))
          return PG_BODY_REFUSED;
        i += take;
        body->left -= take;
        if (body->left > 0)
          break;
        if (!body->chunked) {
          body->state = PG_BODY_DONE;
          break;
        }
        body->state = PG_BODY_DATA_END;
        if (body->on_chunk_end)
          body->on_chunk_end (body->user, body->chunk_size);
        break;
      }
      case PG_BODY_DATA_END:
        /* CRLF, or a bare LF (as Node's parser accepts). */
        if (c == '\r' && !body->cr_seen) {
          body->cr_seen = TRUE;
        } else if (c == '\n') {
          body->cr_seen = FALSE;
          body->state = PG_BODY_SIZE;
        } else {
          return malformed (body, g_strdup ("CRLF expected after chunk data"));
        }
        i++;
        break;
      case PG_BODY_SIZE:
        i++;
        if (c == '\n') {
          if (end_size_line (body) != PG_BODY_OK)
            return PG_BODY_MALFORMED;
        } else if (!line_byte (body, c)) {
          return malformed (body, g_strdup_printf ("chunk size line longer than %d bytes",
                  PG_BODY_MAX_LINE));
        } else {
          parse_size_byte (body, c);
          /* A longer line that is bad so far cannot become good, and its quote is known: no
           * need to wait for its LF (a publisher sending garbage may never send one). */
          if (body->line_bad && body->line_len > PG_BODY_QUOTED)
            return bad_size_line (body);
        }
        break;
      case PG_BODY_TRAILERS:
        i++;
        if (c == '\n') {
          if (end_trailer_line (body) != PG_BODY_OK)
            return PG_BODY_MALFORMED;
          break;
        }
        /* A line that begins with a CR can only be the empty line that ends the body: no
         * need to wait for an LF that would not make it valid. */
        if (body->line_len == 1 && body->line_head[0] == '\r')
          return malformed (body, g_strdup ("CRLF expected after the last chunk"));
        if (!line_byte (body, c))
          return malformed (body, g_strdup_printf ("trailer line longer than %d bytes",
                  PG_BODY_MAX_LINE));
        break;
      case PG_BODY_DONE:
        break;
    }
  }
  return PG_BODY_OK;
}
