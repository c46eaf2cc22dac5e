/*
 * The C limit for pushgate's benchmark: the same RTSP output as pushgate, with no JavaScript.
 *
 * Each mount reads a raw H.264 Annex-B byte stream from a file descriptor (stdin or a FIFO),
 * cuts it into access units on its own thread, and pushes them into the appsrc of one shared
 * gst-rtsp-server media whose pipeline is the one pushgate builds:
 *
 *   appsrc (byte-stream, alignment=au, live, TIME) ! h264parse config-interval=-1 ! pay0
 *
 * where pay0 is, as in pushgate, pushgate's native pgvideopay (rtph264pay pt=96 named "pay", then
 * pgrtpbatch) when --plugin-dir holds it (native/build), else rtph264pay pt=96 alone.
 *
 * Buffers are stamped by appsrc with the pipeline's running time when they are pushed
 * (do-timestamp), which is what pushgate does for a live publisher. Like pushgate, the first
 * access unit pushed into a fresh pipeline carries the latest SPS/PPS so h264parse can start.
 *
 * Usage: limit-server [--host ADDR] [--port N] [--threads N] [--plugin-dir DIR] NAME=PATH [NAME=PATH ...]
 *   PATH "-" is stdin. Port 0 picks a free port. On stdout it prints "listening PORT" once the
 *   server is bound, then "live NAME" once a mount's media is prepared: as pushgate does (with
 *   its default fast start), each mount builds its shared media when its first keyframe has
 *   been read, and holds it prepared from then on, so readers join a running pipeline.
 * It exits on SIGINT/SIGTERM, or when every input has ended.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <glib-unix.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)
/* The appsrc is bounded as pushgate's: 8 MiB, 300 ms, oldest data dropped first. */
#define PIPELINE_DESCRIPTION                                                                        \
  "( appsrc name=src is-live=true format=time do-timestamp=true block=false "                     \
  "max-bytes=8388608 max-time=300000000 leaky-type=downstream "                                   \
  "caps=\"video/x-h264,stream-format=byte-stream,alignment=au\" "                                 \
  "! h264parse name=parse config-interval=-1 )"

typedef struct {
  gchar *name;
  gchar *path;
  GThread *thread;

  /* Guarded by lock: the appsrc of the newest media (NULL before the first). */
  GMutex lock;
  GstElement *appsrc;
  gboolean fresh;     /* no buffer taken yet: the pipeline may still be starting */
  gboolean refusing;  /* it took buffers, and now refuses them */

  /* Owned by the reader thread. */
  GByteArray *pending;     /* bytes read and not yet cut into NAL units */
  gsize scanned;           /* bytes of `pending` already searched for a start code */
  GByteArray *unit;        /* the access unit being assembled, NALs with 4-byte start codes */
  gboolean unit_has_slice; /* a VCL NAL is in `unit`: the next AU-starting NAL ends it */
  gboolean unit_is_key;
  GByteArray *sps;
  GByteArray *pps;
  gboolean announced;

  GstRTSPMediaFactory *factory;
  GstRTSPMedia *held;      /* the media built at go-live, prepared until exit */
} Mount;

static GMainLoop *main_loop;
static gint inputs_running;
static gint bound_port;

static const guint8 START_CODE[4] = { 0, 0, 0, 1 };

/* ---- the media's pipeline ---- */

static gboolean batching;       /* pushgate's pgvideopay (rtph264pay ! pgrtpbatch) was found */

/* A media factory that appends pushgate's payloader to the launch description's bin. */
typedef struct { GstRTSPMediaFactory parent; } LimitFactory;
typedef struct { GstRTSPMediaFactoryClass parent_class; } LimitFactoryClass;
static GType limit_factory_get_type (void);
G_DEFINE_TYPE (LimitFactory, limit_factory, GST_TYPE_RTSP_MEDIA_FACTORY)

static GstElement *
limit_factory_create_element (GstRTSPMediaFactory *factory, const GstRTSPUrl *url)
{
  GstElement *bin = GST_RTSP_MEDIA_FACTORY_CLASS (limit_factory_parent_class)->create_element (factory, url);
  if (!bin)
    return NULL;
  GstElement *pay = gst_element_factory_make (batching ? "pgvideopay" : "rtph264pay", "pay0");
  if (pay && !batching)
    g_object_set (pay, "pt", 96, NULL);
  GstElement *parse = gst_bin_get_by_name (GST_BIN (bin), "parse");
  gboolean linked = pay && parse && gst_bin_add (GST_BIN (bin), pay) && gst_element_link (parse, pay);
  if (parse)
    gst_object_unref (parse);
  if (!linked) {
    g_printerr ("limit-server: cannot build the payloader\n");
    gst_object_unref (bin);
    return NULL;
  }
  return bin;
}

static void
limit_factory_class_init (LimitFactoryClass *klass)
{
  GST_RTSP_MEDIA_FACTORY_CLASS (klass)->create_element = limit_factory_create_element;
}

static void
limit_factory_init (LimitFactory *self)
{
  (void) self;
}

/* ---- pushing into the shared media ---- */

static void
on_media_configure (GstRTSPMediaFactory *factory, GstRTSPMedia *media, gpointer user_data)
{
  Mount *mount = user_data;
  GstElement *bin = gst_rtsp_media_get_element (media);
  GstElement *appsrc = gst_bin_get_by_name (GST_BIN (bin), "src");
  gst_object_unref (bin);
  (void) factory;

  g_mutex_lock (&mount->lock);
  if (mount->appsrc)
    gst_object_unref (mount->appsrc);
  mount->appsrc = appsrc;
  mount->fresh = TRUE;
  mount->refusing = FALSE;
  g_mutex_unlock (&mount->lock);
  g_printerr ("limit-server: %s: new media\n", mount->name);
}

static void
push_unit (Mount *mount)
{
  GstElement *appsrc;
  gboolean fresh;

  g_mutex_lock (&mount->lock);
  appsrc = mount->appsrc ? gst_object_ref (mount->appsrc) : NULL;
  fresh = mount->fresh;
  g_mutex_unlock (&mount->lock);
  if (!appsrc)
    return;

  gsize prefix = 0;
  if (fresh && mount->sps && mount->pps)
    prefix = mount->sps->len + mount->pps->len;
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, prefix + mount->unit->len, NULL);
  if (prefix) {
    gst_buffer_fill (buffer, 0, mount->sps->data, mount->sps->len);
    gst_buffer_fill (buffer, mount->sps->len, mount->pps->data, mount->pps->len);
  }
  gst_buffer_fill (buffer, prefix, mount->unit->data, mount->unit->len);
  if (!mount->unit_is_key)
    GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT);

  GstFlowReturn flow = gst_app_src_push_buffer (GST_APP_SRC (appsrc), buffer);

  g_mutex_lock (&mount->lock);
  if (mount->appsrc == appsrc) {
    /* The media is held from go-live, so it refusing data is a fault worth a line; the appsrc
     * is kept, not dropped: should the same media take data again, its readers must get it. */
    if (flow == GST_FLOW_OK && mount->refusing)
      g_printerr ("limit-server: %s: media takes data again\n", mount->name);
    else if (flow != GST_FLOW_OK && !mount->fresh && !mount->refusing)
      g_printerr ("limit-server: %s: media refuses data (%s)\n", mount->name, gst_flow_get_name (flow));
    if (flow == GST_FLOW_OK)
      mount->fresh = FALSE;
    mount->refusing = flow != GST_FLOW_OK && !mount->fresh;
  }
  g_mutex_unlock (&mount->lock);
  gst_object_unref (appsrc);
}

/* ---- go-live: the shared media is built and prepared before any reader comes ---- */

/* On a thread of its own: preparing waits for data, which this mount's input thread pushes. */
static gpointer
go_live (gpointer user_data)
{
  Mount *mount = user_data;
  GstRTSPUrl *url = NULL;
  /* The factory's cache key is port and path: the readers' URLs give the same. */
  gchar *text = g_strdup_printf ("rtsp://127.0.0.1:%d/%s", bound_port, mount->name);
  if (gst_rtsp_url_parse (text, &url) == GST_RTSP_OK)
    mount->held = gst_rtsp_media_factory_construct (mount->factory, url);
  if (mount->held && gst_rtsp_media_prepare (mount->held, NULL)) {
    printf ("live %s\n", mount->name);
    fflush (stdout);
  } else {
    g_printerr ("limit-server: %s: cannot prepare its media\n", mount->name);
  }
  if (url)
    gst_rtsp_url_free (url);
  g_free (text);
  return NULL;
}

/* ---- cutting the byte stream into access units ---- */

static void
remember (GByteArray **slot, const guint8 *nal, gsize size)
{
  if (!*slot)
    *slot = g_byte_array_new ();
  g_byte_array_set_size (*slot, 0);
  g_byte_array_append (*slot, START_CODE, sizeof START_CODE);
  g_byte_array_append (*slot, nal, size);
}

static void
finish_unit (Mount *mount)
{
  if (mount->unit_has_slice) {
    push_unit (mount);
    if (mount->unit_is_key && !mount->announced) {
      mount->announced = TRUE;
      g_thread_unref (g_thread_new ("go-live", go_live, mount));
    }
  }
  g_byte_array_set_size (mount->unit, 0);
  mount->unit_has_slice = FALSE;
  mount->unit_is_key = FALSE;
}

/* One whole NAL unit (without start code). */
static void
on_nal (Mount *mount, const guint8 *nal, gsize size)
{
  if (size < 1)
    return;
  guint type = nal[0] & 0x1f;
  gboolean vcl = type >= 1 && type <= 5;
  /* A new access unit starts at an AUD, SEI, SPS, PPS or prefix NAL, or at a slice whose
   * first_mb_in_slice is 0 (its ue(v) code is the single bit 1), once the current one has a slice. */
  gboolean starts_unit = (type >= 6 && type <= 9) || (type >= 14 && type <= 18)
      || (vcl && size > 1 && (nal[1] & 0x80));
  if (starts_unit && mount->unit_has_slice)
    finish_unit (mount);

  if (type == 7)
    remember (&mount->sps, nal, size);
  else if (type == 8)
    remember (&mount->pps, nal, size);
  if (vcl)
    mount->unit_has_slice = TRUE;
  if (type == 5)
    mount->unit_is_key = TRUE;
  g_byte_array_append (mount->unit, START_CODE, sizeof START_CODE);
  g_byte_array_append (mount->unit, nal, size);
}

/* Offset of the next 00 00 01 at or after `from`, or -1. */
static gssize
find_start_code (const guint8 *data, gsize size, gsize from)
{
  for (gsize i = from; i + 2 < size; i++) {
    if (data[i + 2] > 1) {
      i += 2;
    } else if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1) {
      return (gssize) i;
    }
  }
  return -1;
}

/* Emits every NAL unit that is followed by another start code; keeps the rest pending. */
static void
cut_nals (Mount *mount)
{
  const guint8 *data = mount->pending->data;
  gsize size = mount->pending->len;
  gssize start = find_start_code (data, size, 0);
  if (start < 0) {
    /* No start code yet: keep only a possible partial one. */
    if (size > 2)
      g_byte_array_remove_range (mount->pending, 0, size - 2);
    mount->scanned = 0;
    return;
  }
  gsize nal = (gsize) start + 3;
  for (;;) {
    /* Resume the search where the last one stopped: a large NAL arrives over several reads. */
    gsize from = MAX (nal, mount->scanned);
    gssize next = find_start_code (data, size, from);
    if (next < 0) {
      mount->scanned = size > 2 ? size - 2 : 0;
      break;
    }
    mount->scanned = 0;
    gsize end = (gsize) next;
    /* The zero before 00 00 01 of a 4-byte start code belongs to the next start code. */
    while (end > nal && data[end - 1] == 0)
      end--;
    on_nal (mount, data + nal, end - nal);
    nal = (gsize) next + 3;
  }
  /* Keep the last, unfinished NAL unit with its start code. */
  g_byte_array_remove_range (mount->pending, 0, nal - 3);
  mount->scanned -= MIN (mount->scanned, nal - 3);
}

static gpointer
read_input (gpointer user_data)
{
  Mount *mount = user_data;
  int fd = strcmp (mount->path, "-") == 0 ? STDIN_FILENO : open (mount->path, O_RDONLY);
  if (fd < 0) {
    g_printerr ("limit-server: cannot open %s: %s\n", mount->path, g_strerror (errno));
  } else {
    guint8 chunk[READ_CHUNK];
    for (;;) {
      ssize_t got = read (fd, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        break;
      g_byte_array_append (mount->pending, chunk, (guint) got);
      cut_nals (mount);
    }
    if (fd != STDIN_FILENO)
      close (fd);
  }
  g_printerr ("limit-server: input of %s ended\n", mount->name);
  if (g_atomic_int_dec_and_test (&inputs_running))
    g_main_loop_quit (main_loop);
  return NULL;
}

/* ---- the server ---- */

static gboolean
cleanup_sessions (gpointer user_data)
{
  gst_rtsp_session_pool_cleanup (GST_RTSP_SESSION_POOL (user_data));
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer user_data)
{
  (void) user_data;
  g_main_loop_quit (main_loop);
  return G_SOURCE_REMOVE;
}

static Mount *
mount_new (GstRTSPMountPoints *mounts, const gchar *spec)
{
  const gchar *equals = strchr (spec, '=');
  if (!equals || equals == spec || equals[1] == '\0') {
    g_printerr ("limit-server: expected NAME=PATH, got '%s'\n", spec);
    exit (2);
  }
  Mount *mount = g_new0 (Mount, 1);
  mount->name = g_strndup (spec, (gsize) (equals - spec));
  mount->path = g_strdup (equals + 1);
  g_mutex_init (&mount->lock);
  mount->pending = g_byte_array_sized_new (2 * READ_CHUNK);
  mount->unit = g_byte_array_sized_new (READ_CHUNK);

  GstRTSPMediaFactory *factory = g_object_new (limit_factory_get_type (), NULL);
  gst_rtsp_media_factory_set_launch (factory, PIPELINE_DESCRIPTION);
  gst_rtsp_media_factory_set_shared (factory, TRUE);
  gst_rtsp_media_factory_set_eos_shutdown (factory, FALSE);
  g_signal_connect (factory, "media-configure", G_CALLBACK (on_media_configure), mount);
  mount->factory = factory;
  gchar *path = g_strdup_printf ("/%s", mount->name);
  gst_rtsp_mount_points_add_factory (mounts, path, factory);
  g_free (path);
  return mount;
}

int
main (int argc, char **argv)
{
  const gchar *host = "127.0.0.1";
  const gchar *port = "8554";
  gint threads = 16;
  GPtrArray *mount_list = g_ptr_array_new ();

  gst_init (&argc, &argv);
  main_loop = g_main_loop_new (NULL, FALSE);
  GstRTSPServer *server = gst_rtsp_server_new ();
  GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points (server);

  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--host") == 0 && i + 1 < argc)
      host = argv[++i];
    else if (strcmp (argv[i], "--port") == 0 && i + 1 < argc)
      port = argv[++i];
    else if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
      threads = atoi (argv[++i]);
    else if (strcmp (argv[i], "--plugin-dir") == 0 && i + 1 < argc)
      gst_registry_scan_path (gst_registry_get (), argv[++i]);
    else
      g_ptr_array_add (mount_list, mount_new (mounts, argv[i]));
  }
  if (mount_list->len == 0) {
    g_printerr ("usage: limit-server [--host ADDR] [--port N] [--threads N] [--plugin-dir DIR] NAME=PATH...\n");
    return 2;
  }

  GstElementFactory *batcher = gst_element_factory_find ("pgvideopay");
  batching = batcher != NULL;
  if (batcher)
    gst_object_unref (batcher);
  g_printerr ("limit-server: payloader %s\n", batching ? "pgvideopay (rtph264pay ! pgrtpbatch)" : "rtph264pay");

  /* The same server settings as pushgate's. */
  gst_rtsp_server_set_address (server, host);
  gst_rtsp_server_set_service (server, port);
  gst_rtsp_server_set_backlog (server, 1024);
  GstRTSPThreadPool *pool = gst_rtsp_server_get_thread_pool (server);
  gst_rtsp_thread_pool_set_max_threads (pool, threads);
  g_object_unref (pool);
  g_object_unref (mounts);

  if (gst_rtsp_server_attach (server, NULL) == 0) {
    g_printerr ("limit-server: cannot listen on %s:%s\n", host, port);
    return 1;
  }
  GstRTSPSessionPool *sessions = gst_rtsp_server_get_session_pool (server);
  g_timeout_add_seconds (1, cleanup_sessions, sessions);
  g_unix_signal_add (SIGINT, on_signal, NULL);
  g_unix_signal_add (SIGTERM, on_signal, NULL);
  bound_port = gst_rtsp_server_get_bound_port (server);
  printf ("listening %d\n", bound_port);
  fflush (stdout);

  inputs_running = (gint) mount_list->len;
  for (guint i = 0; i < mount_list->len; i++) {
    Mount *mount = g_ptr_array_index (mount_list, i);
    mount->thread = g_thread_new (mount->name, read_input, mount);
  }

  g_main_loop_run (main_loop);
  /* Exit without joining the input threads: they may be blocked in read(). */
  return 0;
}
