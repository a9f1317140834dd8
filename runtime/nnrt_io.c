/*
 * nnrt_io.c - reading and writing whole files, gzip, and safetensors files.
 *
 * Reading: nnrt_read_file slurps a file into one malloc'd buffer (with a
 * spare NUL after the end so text parsers may stop on it) and, when the
 * bytes start with the gzip magic 1f 8b, replaces them by their inflated
 * form. nnrt_gunzip does the inflation on memory, accepting concatenated
 * gzip members and telling a truncated stream from a corrupt one.
 *
 * Writing: nnrt_write_file_atomic writes "<path>.tmp.<pid>" in the target's
 * directory, fsyncs it, renames it over the target and fsyncs the directory,
 * so a crash leaves either the old file or the new one, never a mix.
 * nnrt_st_save builds a safetensors header (padded with spaces to a multiple
 * of 8 bytes, as the reference implementation does) and writes it that way.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  /* clock_gettime, fsync, mkdir, open_memstream */
#endif
#include "nnrt_io.h"
#include "nnrt_bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---- reading -------------------------------------------------------------- */

/* Grows *buf (capacity *cap) so that it holds at least need bytes. */
static int io_reserve(unsigned char **buf, size_t *cap, size_t need,
                      const char *what, NnrtError *err)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    unsigned char *p = realloc(*buf, ncap);
    if (p == NULL)
        return nnrt_errorf(err, "%s: out of memory (%zu bytes)", what, ncap);
    *buf = p;
    *cap = ncap;
    return 0;
}

/* Reads an open stream to its end into a malloc'd, NUL-terminated buffer. */
static int io_slurp(FILE *f, const char *path, unsigned char **buf,
                    size_t *len, NnrtError *err)
{
    size_t cap = 0, n = 0;
    *buf = NULL;
    for (;;) {
        if (io_reserve(buf, &cap, n + 65536 + 1, path, err) < 0)
            return -1;
        size_t got = fread(*buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0 && ferror(f))
            return nnrt_errorf(err, "%s: read error: %s", path, strerror(errno));
        if (got == 0)
            break;
    }
    (*buf)[n] = '\0';
    *len = n;
    return 0;
}

/*
 * Reads a whole file into a malloc'd buffer (*buf, *len; the caller frees
 * it), inflating it first if it is gzip-compressed. A NUL byte follows the
 * data, not counted in *len.
 */
int nnrt_read_file(const char *path, unsigned char **buf, size_t *len,
                   NnrtError *err)
{
    unsigned char *raw = NULL;
    size_t n = 0;
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return nnrt_errorf(err, "%s: cannot open: %s", path, strerror(errno));
    int rc = io_slurp(f, path, &raw, &n, err);
    fclose(f);
    if (rc < 0) {
        free(raw);
        return -1;
    }
    if (n < 2 || raw[0] != 0x1f || raw[1] != 0x8b) {
        *buf = raw;
        *len = n;
        return 0;
    }
    rc = nnrt_gunzip(raw, n, path, buf, len, err);
    free(raw);
    return rc;
}

/* ---- gzip ----------------------------------------------------------------- */

/* One inflation in progress. */
typedef struct IoInflate {
    z_stream z;                /* zlib state */
    const unsigned char *next; /* input not yet handed to zlib */
    size_t left;               /* its length */
    unsigned char *out;        /* output buffer (malloc'd) */
    size_t cap, len;           /* its capacity and fill */
} IoInflate;

/* Hands zlib the next chunk of input (avail_in is only 32 bits wide). */
static void io_feed(IoInflate *s)
{
    if (s->z.avail_in > 0 || s->left == 0)
        return;
    size_t chunk = s->left < UINT_MAX ? s->left : UINT_MAX;
    s->z.next_in = (unsigned char *)s->next;
    s->z.avail_in = (uInt)chunk;
    s->next += chunk;
    s->left -= chunk;
}

/* Input bytes zlib has not consumed yet, counting those not handed over. */
static size_t io_unread(const IoInflate *s)
{
    return s->z.avail_in + s->left;
}

#define IO_NO_ROOM (-1000) /* io_inflate_step: the output could not grow */

/* Runs one inflate() call into the free end of the output buffer. */
static int io_inflate_step(IoInflate *s, const char *what, NnrtError *err)
{
    if (io_reserve(&s->out, &s->cap, s->len + 65536 + 1, what, err) < 0)
        return IO_NO_ROOM;
    size_t room = s->cap - s->len - 1;
    room = room < UINT_MAX ? room : UINT_MAX;
    io_feed(s);
    s->z.next_out = s->out + s->len;
    s->z.avail_out = (uInt)room;
    int rc = inflate(&s->z, Z_NO_FLUSH);
    s->len += room - s->z.avail_out;
    return rc;
}

/*
 * After the end of one gzip member: another member may follow (returns 1),
 * the input may be done (0), or anything else is an error (-1).
 */
static int io_next_member(IoInflate *s, const char *what, NnrtError *err)
{
    size_t rest = io_unread(s);
    if (rest == 0)
        return 0;
    io_feed(s);
    if (rest >= 2 && s->z.avail_in >= 2 && s->z.next_in[0] == 0x1f &&
        s->z.next_in[1] == 0x8b) {
        inflateReset(&s->z);
        return 1;
    }
    return nnrt_errorf(err, "%s: %zu unexpected bytes after the end of the"
                       " gzip stream", what, rest);
}

/* Drives inflate() to the end of the input; 0 ok, -1 error. */
static int io_inflate_all(IoInflate *s, size_t inlen, const char *what,
                          NnrtError *err)
{
    for (;;) {
        int rc = io_inflate_step(s, what, err);
        if (rc == Z_STREAM_END) {
            int more = io_next_member(s, what, err);
            if (more <= 0)
                return more;
        } else if (rc == Z_BUF_ERROR && io_unread(s) == 0) {
            return nnrt_errorf(err, "%s: gzip stream is truncated (input ended"
                               " after %zu bytes, %zu inflated)", what, inlen,
                               s->len);
        } else if (rc == IO_NO_ROOM) {
            return -1;
        } else if (rc == Z_MEM_ERROR) {
            return nnrt_errorf(err, "%s: out of memory inflating", what);
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return nnrt_errorf(err, "%s: corrupt gzip data near input byte %zu:"
                               " %s", what, inlen - io_unread(s),
                               s->z.msg ? s->z.msg : "inflate failed");
        }
    }
}

/*
 * Inflates a gzip (or zlib) stream held in memory into a malloc'd buffer
 * (*out, *outlen; NUL-terminated like nnrt_read_file's). Concatenated gzip
 * members are joined; trailing garbage, truncation and corruption are errors.
 */
int nnrt_gunzip(const void *in, size_t inlen, const char *what,
                unsigned char **out, size_t *outlen, NnrtError *err)
{
    IoInflate s;
    memset(&s, 0, sizeof s);
    what = what ? what : "<memory>";
    *out = NULL;
    *outlen = 0;
    s.next = (const unsigned char *)in;
    s.left = inlen;
    if (inflateInit2(&s.z, 15 + 32) != Z_OK)
        return nnrt_errorf(err, "%s: cannot initialise zlib", what);
    int rc = io_inflate_all(&s, inlen, what, err);
    inflateEnd(&s.z);
    if (rc < 0) {
        free(s.out);
        return -1;
    }
    s.out[s.len] = '\0';
    *out = s.out;
    *outlen = s.len;
    return 0;
}

/* ---- atomic writing ------------------------------------------------------- */

/* write(2) until all n bytes are out, retrying on EINTR. */
static int io_write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    while (n > 0) {
        ssize_t k = write(fd, b, n > (size_t)1 << 30 ? (size_t)1 << 30 : n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

/* fsyncs the directory holding path, so a rename into it is durable. */
static int io_sync_dir(const char *path, NnrtError *err)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL    ? strdup(".")
                : slash == path ? strdup("/")
                                : strndup(path, (size_t)(slash - path));
    if (dir == NULL)
        return nnrt_errorf(err, "%s: out of memory", path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    int rc = fd < 0 || (fsync(fd) < 0 && errno != EINVAL) ? -1 : 0;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        nnrt_errorf(err, "%s: cannot sync directory '%s': %s", path, dir,
                    strerror(saved));
    free(dir);
    return rc;
}

/* Writes all parts into the already-named temporary file tmp. */
static int io_write_tmp(const char *path, const char *tmp,
                        const void *const *parts, const size_t *lens,
                        int nparts, NnrtError *err)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0)
        return nnrt_errorf(err, "%s: cannot create '%s': %s", path, tmp,
                           strerror(errno));
    int rc = 0;
    for (int i = 0; i < nparts && rc == 0; i++)
        rc = io_write_all(fd, parts[i], lens[i]);
    if (rc == 0)
        rc = fsync(fd);
    int saved = errno;
    if (close(fd) < 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc < 0)
        return nnrt_errorf(err, "%s: cannot write '%s': %s", path, tmp,
                           strerror(saved));
    return 0;
}

/*
 * Writes the concatenation of parts[0..nparts) to path atomically: via
 * "path.tmp.<pid>", fsync, rename, and fsync of the directory. On failure
 * the temporary file is removed and path is left as it was.
 */
int nnrt_write_file_atomic(const char *path, const void *const *parts,
                           const size_t *lens, int nparts, NnrtError *err)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (tmp == NULL)
        return nnrt_errorf(err, "%s: out of memory", path);
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    int rc = io_write_tmp(path, tmp, parts, lens, nparts, err);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = nnrt_errorf(err, "%s: cannot rename '%s' over it: %s", path, tmp,
                         strerror(errno));
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    return rc < 0 ? -1 : io_sync_dir(path, err);
}

/* Seconds on the monotonic clock, for timing. */
double nnrt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- safetensors writing -------------------------------------------------- */

/* A growing text buffer for the JSON header. */
typedef struct IoText {
    char *p;    /* malloc'd bytes */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
    int oom;    /* an allocation failed; the text is incomplete */
} IoText;

/* Appends n bytes. */
static void io_text_put(IoText *t, const char *s, size_t n)
{
    if (t->oom)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *p = realloc(t->p, cap);
        if (p == NULL) {
            t->oom = 1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

/* Appends s as a JSON string literal, escaping quotes and control bytes. */
static void io_text_json(IoText *t, const char *s)
{
    char esc[8];
    io_text_put(t, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            io_text_put(t, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            io_text_put(t, esc, 6);
        } else {
            io_text_put(t, s, 1);
        }
    }
    io_text_put(t, "\"", 1);
}

/* Appends an integer. */
static void io_text_int(IoText *t, unsigned long long v)
{
    char num[24];
    int k = snprintf(num, sizeof num, "%llu", v);
    io_text_put(t, num, (size_t)k);
}

/* Checks one output tensor and computes its byte size. */
static int io_st_check(const char *path, const NnrtStOut *t, int i,
                       size_t *bytes, NnrtError *err)
{
    size_t count;
    if (t[i].name == NULL || t[i].name[0] == '\0' || strlen(t[i].name) > 127)
        return nnrt_errorf(err, "%s: tensor %d: name must be 1 to 127 bytes",
                           path, i);
    if (strcmp(t[i].name, "__metadata__") == 0)
        return nnrt_errorf(err, "%s: '__metadata__' cannot name a tensor", path);
    for (int j = 0; j < i; j++)
        if (strcmp(t[j].name, t[i].name) == 0)
            return nnrt_errorf(err, "%s: tensor '%s' given twice", path,
                               t[i].name);
    if (nnrt_shape_bytes(t[i].ndim, t[i].shape, 4, &count, bytes) < 0)
        return nnrt_errorf(err, "%s: tensor '%s': invalid shape (%d dims)",
                           path, t[i].name, t[i].ndim);
    if (*bytes > 0 && t[i].data == NULL)
        return nnrt_errorf(err, "%s: tensor '%s': no data", path, t[i].name);
    return 0;
}

/* Appends one tensor's header entry "name":{...} at data offset *off. */
static void io_st_entry(IoText *h, const NnrtStOut *t, size_t bytes, size_t *off)
{
    io_text_json(h, t->name);
    io_text_put(h, ":{\"dtype\":\"F32\",\"shape\":[", 25);
    for (int d = 0; d < t->ndim; d++) {
        if (d)
            io_text_put(h, ",", 1);
        io_text_int(h, (unsigned long long)t->shape[d]);
    }
    io_text_put(h, "],\"data_offsets\":[", 18);
    io_text_int(h, *off);
    io_text_put(h, ",", 1);
    io_text_int(h, *off + bytes);
    io_text_put(h, "]}", 2);
    *off += bytes;
}

/* Appends the "__metadata__" object, if there is any metadata. */
static void io_st_meta(IoText *h, const NnrtStMeta *meta, int nmeta)
{
    if (nmeta <= 0)
        return;
    io_text_put(h, "\"__metadata__\":{", 16);
    for (int i = 0; i < nmeta; i++) {
        if (i)
            io_text_put(h, ",", 1);
        io_text_json(h, meta[i].key);
        io_text_put(h, ":", 1);
        io_text_json(h, meta[i].value);
    }
    io_text_put(h, "}", 1);
}

/* Builds the full header, padded with spaces to a multiple of 8 bytes. */
static int io_st_header(const char *path, const NnrtStOut *t, int n,
                        const NnrtStMeta *meta, int nmeta, size_t *sizes,
                        IoText *h, NnrtError *err)
{
    size_t off = 0;
    io_text_put(h, "{", 1);
    io_st_meta(h, meta, nmeta);
    for (int i = 0; i < n; i++) {
        if (io_st_check(path, t, i, &sizes[i], err) < 0)
            return -1;
        if (i || nmeta > 0)
            io_text_put(h, ",", 1);
        io_st_entry(h, &t[i], sizes[i], &off);
    }
    io_text_put(h, "}", 1);
    while (!h->oom && h->len % 8 != 0)
        io_text_put(h, " ", 1);
    return h->oom ? nnrt_errorf(err, "%s: out of memory", path) : 0;
}

/* Makes little-endian copies of the tensors on big-endian hosts. */
static int io_st_swapped(const NnrtStOut *t, int n, const size_t *sizes,
                         const void **parts, void **owned)
{
    for (int i = 0; i < n; i++) {
        parts[i] = t[i].data;
        if (nnrt_host_is_le() || sizes[i] == 0)
            continue;
        owned[i] = malloc(sizes[i]);
        if (owned[i] == NULL)
            return -1;
        memcpy(owned[i], t[i].data, sizes[i]);
        nnrt_bswap_inplace(owned[i], sizes[i] / 4, 4);
        parts[i] = owned[i];
    }
    return 0;
}

/* Writes the header and the tensor data of a checked save. */
static int io_st_write(const char *path, const NnrtStOut *t, int n,
                       const IoText *h, size_t *sizes, NnrtError *err)
{
    unsigned char lenfield[8];
    const void **parts = calloc((size_t)n + 2, sizeof *parts);
    void **owned = calloc((size_t)n + 1, sizeof *owned);
    size_t *lens = calloc((size_t)n + 2, sizeof *lens);
    int rc = -1;
    nnrt_wr_le(lenfield, h->len, 8);
    if (parts && owned && lens && io_st_swapped(t, n, sizes, parts + 2, owned) == 0) {
        parts[0] = lenfield, lens[0] = 8;
        parts[1] = h->p, lens[1] = h->len;
        memcpy(lens + 2, sizes, (size_t)n * sizeof *sizes);
        rc = nnrt_write_file_atomic(path, parts, lens, n + 2, err);
    } else {
        nnrt_errorf(err, "%s: out of memory", path);
    }
    for (int i = 0; owned && i < n; i++)
        free(owned[i]);
    free(parts);
    free(owned);
    free(lens);
    return rc;
}

/*
 * Saves F32 tensors (and optional string metadata) as a safetensors file,
 * atomically (see nnrt_write_file_atomic).
 */
int nnrt_st_save(const char *path, const NnrtStOut *t, int n,
                 const NnrtStMeta *meta, int nmeta, NnrtError *err)
{
    IoText h = {NULL, 0, 0, 0};
    size_t *sizes = calloc((size_t)(n > 0 ? n : 1), sizeof *sizes);
    int rc = -1;
    if (sizes == NULL)
        return nnrt_errorf(err, "%s: out of memory", path);
    if (io_st_header(path, t, n, meta, nmeta, sizes, &h, err) == 0)
        rc = io_st_write(path, t, n, &h, sizes, err);
    free(h.p);
    free(sizes);
    return rc;
}

/*
 * Reads a safetensors file (gzip allowed) and parses it. On success the
 * caller owns *buf, which the entries point into, and frees it after use.
 */
int nnrt_st_load_file(const char *path, unsigned char **buf, size_t *len,
                      NnrtStEntry *entries, int cap, int *count,
                      NnrtStMeta *meta, int metacap, int *nmeta,
                      NnrtError *err)
{
    *count = 0;
    if (nmeta)
        *nmeta = 0;
    if (nnrt_read_file(path, buf, len, err) < 0)
        return -1;
    if (nnrt_st_parse(*buf, *len, path, entries, cap, count, meta, metacap,
                      nmeta, err) == 0)
        return 0;
    free(*buf);
    *buf = NULL;
    *len = 0;
    return -1;
}
