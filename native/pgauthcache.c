/*
 * pgauthcache: remembers, for a short while, which RTSP requests pushgate's access check
 * allowed, so that JavaScript is not asked again and again.
 *
 * pushgate decides RTSP access in JavaScript (an RTSPAuth subclass overriding "check", so the
 * HTTP and RTSP sides share one policy). node-gtk allocates on every call into JavaScript, and
 * gst-rtsp-server calls the check several times per request: measured, 2000 DESCRIBEs with
 * Basic credentials grew the process from 113 to 205 MB of mostly V8 heap. This element patches
 * the check of that subclass ("cache-checks", once, like pgmountkey's key-by-mount patches
 * gen_key) with a C function that
 *  - allows the connection and URL checks at once, as pushgate's check does (it decides on the
 *    media factory checks only);
 *  - answers a media factory check from the cache when the same client address presented the
 *    same Authorization header for the same path, and was allowed, less than ttl-ms ago;
 *  - otherwise asks the JavaScript check, and caches an allow (never a refusal, whose 401 or
 *    403 reply JavaScript sends; never a Digest answer, which is good for one nonce only).
 * Every other check goes to JavaScript unchanged. The cache belongs to its RTSPAuth (plain RTSP
 * and RTSPS each have one) and goes with it; it holds at most MAX_ENTRIES answers.
 */
#include "pushgate.h"
#include <string.h>

#define MAX_ENTRIES 4096

typedef gboolean (*CheckFunc) (GstRTSPAuth * auth, GstRTSPContext * ctx, const gchar * check);

/* The one application class whose check is patched, and its own check (JavaScript). */
static GType patched_type;
static CheckFunc original_check;
static gint hits, misses;
static GQuark cache_quark;

typedef struct
{
  GMutex lock;
  GHashTable *until;            /* "path\nip\nauthorization" -> gint64* monotonic µs */
  gint64 ttl_us;
} Cache;

static void
cache_free (gpointer data)
{
  Cache *cache = data;
  g_hash_table_unref (cache->until);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}

/* NULL when the request cannot be cached. */
static gchar *
cache_key (GstRTSPContext * ctx)
{
  GstRTSPConnection *conn;
  const gchar *ip;
  gchar *header = NULL;

  if (!ctx->client || !ctx->request || !ctx->uri || !ctx->uri->abspath)
    return NULL;
  conn = gst_rtsp_client_get_connection (ctx->client);
  ip = conn ? gst_rtsp_connection_get_ip (conn) : NULL;
  if (!ip)
    return NULL;
  gst_rtsp_message_get_header (ctx->request, GST_RTSP_HDR_AUTHORIZATION, &header, 0);
  if (header && g_ascii_strncasecmp (header + strspn (header, " \t"), "digest", 6) == 0)
    return NULL;
  return g_strdup_printf ("%s\n%s\n%s", ctx->uri->abspath, ip, header ? header : "");
}

static void
cache_put (Cache * cache, gchar * key, gint64 now)
{
  GHashTableIter it;
  gpointer value;
  gint64 *until = g_new (gint64, 1);

  *until = now + cache->ttl_us;
  g_mutex_lock (&cache->lock);
  if (g_hash_table_size (cache->until) >= MAX_ENTRIES) {
    g_hash_table_iter_init (&it, cache->until);
    while (g_hash_table_iter_next (&it, NULL, &value))
      if (*(gint64 *) value <= now)
        g_hash_table_iter_remove (&it);
    if (g_hash_table_size (cache->until) >= MAX_ENTRIES)
      g_hash_table_remove_all (cache->until);
  }
  g_hash_table_replace (cache->until, key, until);
  g_mutex_unlock (&cache->lock);
}

/* On RTSP client threads. */
static gboolean
cached_check (GstRTSPAuth * auth, GstRTSPContext * ctx, const gchar * check)
{
  Cache *cache;
  gchar *key;
  gint64 now, *until;
  gboolean allowed;

  if (G_TYPE_FROM_INSTANCE (auth) != patched_type)
    return original_check (auth, ctx, check);
  if (g_str_equal (check, GST_RTSP_AUTH_CHECK_CONNECT)
      || g_str_equal (check, GST_RTSP_AUTH_CHECK_URL))
    return TRUE;
  if (!g_str_equal (check, GST_RTSP_AUTH_CHECK_MEDIA_FACTORY_ACCESS)
      && !g_str_equal (check, GST_RTSP_AUTH_CHECK_MEDIA_FACTORY_CONSTRUCT))
    return original_check (auth, ctx, check);

  cache = g_object_get_qdata (G_OBJECT (auth), cache_quark);
  key = cache && cache->ttl_us > 0 ? cache_key (ctx) : NULL;
  now = g_get_monotonic_time ();
  if (key) {
    g_mutex_lock (&cache->lock);
    until = g_hash_table_lookup (cache->until, key);
    allowed = until && *until > now;
    g_mutex_unlock (&cache->lock);
    if (allowed) {
      g_atomic_int_inc (&hits);
      g_free (key);
      return TRUE;
    }
  }
  g_atomic_int_inc (&misses);
  allowed = original_check (auth, ctx, check);
  if (allowed && key)
    cache_put (cache, key, now);
  else
    g_free (key);
  return allowed;
}

#define PG_TYPE_AUTH_CACHE (pg_auth_cache_get_type ())
G_DECLARE_FINAL_TYPE (PgAuthCache, pg_auth_cache, PG, AUTH_CACHE, GstElement)

struct _PgAuthCache
{
  GstElement parent;
};

G_DEFINE_TYPE (PgAuthCache, pg_auth_cache, GST_TYPE_ELEMENT);

enum
{
  PROP_0, PROP_HITS, PROP_MISSES
};

/*
 * cache-checks (auth, ttl-ms) -> gboolean. From Node's thread, before the auth serves a request.
 * FALSE if @auth is of another class than the one patched first (one per application), or is
 * a plain GstRTSPAuth, whose class every auth shares.
 */
static gboolean
cache_checks (PgAuthCache * self, GstRTSPAuth * auth, guint ttl_ms)
{
  GstRTSPAuthClass *klass;
  Cache *cache;

  if (!GST_IS_RTSP_AUTH (auth) || G_TYPE_FROM_INSTANCE (auth) == GST_TYPE_RTSP_AUTH)
    return FALSE;
  klass = GST_RTSP_AUTH_GET_CLASS (auth);
  if (!patched_type) {
    patched_type = G_TYPE_FROM_INSTANCE (auth);
    original_check = klass->check;
    klass->check = cached_check;
  }
  if (patched_type != G_TYPE_FROM_INSTANCE (auth) || !original_check)
    return FALSE;
  cache = g_new0 (Cache, 1);
  g_mutex_init (&cache->lock);
  cache->until = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  cache->ttl_us = (gint64) ttl_ms * G_TIME_SPAN_MILLISECOND;
  g_object_set_qdata_full (G_OBJECT (auth), cache_quark, cache, cache_free);
  return TRUE;
}

/* The access policy changed (a reloaded config): no allow given before may be reused. */
static void
forget_checks (PgAuthCache * self, GstRTSPAuth * auth)
{
  Cache *cache = GST_IS_RTSP_AUTH (auth) ? g_object_get_qdata (G_OBJECT (auth), cache_quark) : NULL;

  if (!cache)
    return;
  g_mutex_lock (&cache->lock);
  g_hash_table_remove_all (cache->until);
  g_mutex_unlock (&cache->lock);
}

static void
pg_auth_cache_get_property (GObject * object, guint id, GValue * value, GParamSpec * pspec)
{
  switch (id) {
    case PROP_HITS:
      g_value_set_uint (value, g_atomic_int_get (&hits));
      break;
    case PROP_MISSES:
      g_value_set_uint (value, g_atomic_int_get (&misses));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
pg_auth_cache_init (PgAuthCache * self)
{
}

static void
pg_auth_cache_class_init (PgAuthCacheClass * klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  oc->get_property = pg_auth_cache_get_property;
  g_object_class_install_property (oc, PROP_HITS,
      g_param_spec_uint ("hits", "Hits", "Media factory checks answered from the cache", 0,
          G_MAXUINT, 0, ro));
  g_object_class_install_property (oc, PROP_MISSES,
      g_param_spec_uint ("misses", "Misses", "Media factory checks asked of JavaScript", 0,
          G_MAXUINT, 0, ro));
  g_signal_new_class_handler ("cache-checks", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION, G_CALLBACK (cache_checks), NULL, NULL, NULL,
      G_TYPE_BOOLEAN, 2, GST_TYPE_RTSP_AUTH, G_TYPE_UINT);
  g_signal_new_class_handler ("forget-checks", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION, G_CALLBACK (forget_checks), NULL, NULL, NULL,
      G_TYPE_NONE, 1, GST_TYPE_RTSP_AUTH);
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass),
      "pushgate RTSP auth cache", "Generic",
      "Answers repeated RTSP access checks that were allowed without asking JavaScript",
      "pushgate");
  cache_quark = g_quark_from_static_string ("pgauthcache-cache");
}

gboolean
pg_authcache_register (GstPlugin * plugin)
{
  return gst_element_register (plugin, "pgauthcache", GST_RANK_NONE, PG_TYPE_AUTH_CACHE);
}
