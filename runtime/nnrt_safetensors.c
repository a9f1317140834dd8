/*
 * nnrt_safetensors.c - strict safetensors parsing and parameter binding.
 *
 * A safetensors file is
 *
 *     u64 little-endian N | N bytes of JSON header | data block
 *
 * and the header is one JSON object mapping tensor names to
 *
 *     {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
 *
 * (offsets relative to the data block) plus an optional "__metadata__"
 * object of string values. Rather than a general JSON library this file
 * holds a small scanner that accepts exactly that grammar: strings with all
 * JSON escapes, integers, and the two levels of objects and arrays above.
 * Anything else is an error naming the byte of the file where it occurred.
 *
 * After parsing, every tensor is checked against the data block: known
 * dtype, at most 8 non-negative dimensions whose byte size does not
 * overflow, offsets in order and inside the block, byte size equal to
 * product(shape) * sizeof(dtype), and no two tensors overlapping. No input,
 * however malformed, makes the parser read outside [buf, buf + len).
 *
 * No malloc and no file I/O: the entries point into the caller's buffer.
 */
#include "nnrt.h"
#include "nnrt_bytes.h"

#include <stdio.h>
#include <string.h>

/* Reading position in the header JSON. */
typedef struct StCur {
    const unsigned char *s; /* header bytes, just after the length field */
    size_t n;               /* header length */
    size_t pos;             /* next byte to read */
    const char *what;       /* file name for messages */
    NnrtError *err;         /* where failures are reported */
} StCur;

/* State of one nnrt_st_parse call. */
typedef struct StParse {
    StCur c;                     /* the header scanner */
    NnrtStEntry *entries;        /* caller's entry array */
    int cap;                     /* its capacity */
    int count;                   /* entries filled so far */
    NnrtStMeta *meta;            /* caller's metadata array, may be NULL */
    int metacap;                 /* its capacity */
    int nmeta;                   /* metadata pairs filled so far */
    int seen_meta;               /* "__metadata__" already parsed */
    const unsigned char *block;  /* start of the data block */
    size_t blocklen;             /* its length */
} StParse;

/* Element sizes of the dtypes the safetensors format defines. */
static const struct {
    const char *name; /* spelling in the header */
    size_t size;      /* bytes per element */
} st_dtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
    {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8},
};

/* Bytes per element of a safetensors dtype, 0 if the name is unknown. */
size_t nnrt_st_dtype_size(const char *dtype)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(st_dtypes[i].name, dtype) == 0)
            return st_dtypes[i].size;
    return 0;
}

/* ---- the JSON scanner ----------------------------------------------------- */

/* Reports a syntax error at the current byte (counted from file start). */
static int st_fail(StCur *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int st_fail(StCur *c, const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return nnrt_errorf(c->err, "%s: malformed header JSON at byte %zu: %s",
                       c->what, c->pos + 8, detail);
}

/* Describes the byte at the cursor for "expected X, found Y" messages. */
static const char *st_found(const StCur *c, char *buf, size_t cap)
{
    if (c->pos >= c->n)
        return "end of header";
    unsigned char ch = c->s[c->pos];
    if (ch >= 0x20 && ch < 0x7f)
        snprintf(buf, cap, "'%c'", ch);
    else
        snprintf(buf, cap, "byte 0x%02x", ch);
    return buf;
}

/* Skips JSON whitespace. */
static void st_ws(StCur *c)
{
    while (c->pos < c->n && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t' ||
                             c->s[c->pos] == '\n' || c->s[c->pos] == '\r'))
        c->pos++;
}

/* Skips whitespace and returns the next byte without consuming it, or -1. */
static int st_peek(StCur *c)
{
    st_ws(c);
    return c->pos < c->n ? c->s[c->pos] : -1;
}

/* Skips whitespace and consumes ch, or fails naming what was found. */
static int st_expect(StCur *c, char ch)
{
    char buf[16];
    if (st_peek(c) != (unsigned char)ch)
        return st_fail(c, "expected '%c', found %s", ch,
                       st_found(c, buf, sizeof buf));
    c->pos++;
    return 0;
}

/* Appends one byte to a bounded output, noting overflow instead of writing. */
static void st_put(char *out, size_t cap, size_t *len, unsigned char b,
                   int *too_long)
{
    if (*len + 1 < cap)
        out[(*len)++] = (char)b;
    else
        *too_long = 1;
}

/* Appends code point cp as UTF-8. */
static void st_put_utf8(char *out, size_t cap, size_t *len, uint32_t cp,
                        int *too_long)
{
    if (cp < 0x80) {
        st_put(out, cap, len, (unsigned char)cp, too_long);
    } else if (cp < 0x800) {
        st_put(out, cap, len, (unsigned char)(0xC0 | (cp >> 6)), too_long);
        st_put(out, cap, len, (unsigned char)(0x80 | (cp & 0x3F)), too_long);
    } else if (cp < 0x10000) {
        st_put(out, cap, len, (unsigned char)(0xE0 | (cp >> 12)), too_long);
        st_put(out, cap, len, (unsigned char)(0x80 | ((cp >> 6) & 0x3F)), too_long);
        st_put(out, cap, len, (unsigned char)(0x80 | (cp & 0x3F)), too_long);
    } else {
        st_put(out, cap, len, (unsigned char)(0xF0 | (cp >> 18)), too_long);
        st_put(out, cap, len, (unsigned char)(0x80 | ((cp >> 12) & 0x3F)), too_long);
        st_put(out, cap, len, (unsigned char)(0x80 | ((cp >> 6) & 0x3F)), too_long);
        st_put(out, cap, len, (unsigned char)(0x80 | (cp & 0x3F)), too_long);
    }
}

/* Reads the 4 hex digits of a \u escape (cursor just after the 'u'). */
static int st_hex4(StCur *c, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++, c->pos++) {
        int ch = c->pos < c->n ? c->s[c->pos] : -1;
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (d < 0)
            return st_fail(c, "bad hex digit in \\u escape");
        v = v * 16 + (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* Reads a \uXXXX escape, joining a UTF-16 surrogate pair (cursor at 'u'). */
static int st_unicode_escape(StCur *c, uint32_t *cp)
{
    c->pos++;
    if (st_hex4(c, cp) < 0)
        return -1;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF)
        return st_fail(c, "lone low surrogate \\u%04X", (unsigned)*cp);
    if (*cp >= 0xD800 && *cp <= 0xDBFF) {
        uint32_t low = 0;
        if (c->pos + 2 > c->n || c->s[c->pos] != '\\' || c->s[c->pos + 1] != 'u')
            return st_fail(c, "high surrogate \\u%04X not followed by a low one",
                           (unsigned)*cp);
        c->pos += 2;
        if (st_hex4(c, &low) < 0)
            return -1;
        if (low < 0xDC00 || low > 0xDFFF)
            return st_fail(c, "high surrogate \\u%04X followed by \\u%04X",
                           (unsigned)*cp, (unsigned)low);
        *cp = 0x10000 + ((*cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (*cp == 0)
        return st_fail(c, "\\u0000 is not allowed in names");
    return 0;
}

/* Decodes one escape sequence (cursor at the byte after the backslash). */
static int st_escape(StCur *c, uint32_t *cp)
{
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    int ch = c->pos < c->n ? c->s[c->pos] : -1;
    if (ch == 'u')
        return st_unicode_escape(c, cp);
    const char *hit = ch > 0 ? strchr(from, ch) : NULL;
    if (hit == NULL)
        return st_fail(c, "bad escape sequence in string");
    *cp = (unsigned char)to[hit - from];
    c->pos++;
    return 0;
}

/*
 * Reads a JSON string into out (cap bytes, NUL-terminated). The whole
 * string is always consumed; *too_long says whether it was cut short.
 */
static int st_string(StCur *c, char *out, size_t cap, int *too_long)
{
    size_t len = 0;
    *too_long = 0;
    if (st_expect(c, '"') < 0)
        return -1;
    for (;;) {
        if (c->pos >= c->n)
            return st_fail(c, "unterminated string");
        unsigned char ch = c->s[c->pos];
        if (ch == '"')
            break;
        if (ch < 0x20)
            return st_fail(c, "control byte 0x%02x inside a string", ch);
        c->pos++;
        if (ch != '\\') {
            st_put(out, cap, &len, ch, too_long);
            continue;
        }
        uint32_t cp = 0;
        if (st_escape(c, &cp) < 0)
            return -1;
        st_put_utf8(out, cap, &len, cp, too_long);
    }
    c->pos++;
    out[len] = '\0';
    return 0;
}

/* Reads a JSON integer (no fraction, no exponent) that fits in int64_t. */
static int st_int(StCur *c, int64_t *out)
{
    char buf[16];
    int neg = 0;
    uint64_t v = 0;
    st_ws(c);
    if (c->pos < c->n && c->s[c->pos] == '-') {
        neg = 1;
        c->pos++;
    }
    size_t start = c->pos;
    while (c->pos < c->n && c->s[c->pos] >= '0' && c->s[c->pos] <= '9') {
        unsigned d = c->s[c->pos] - '0';
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return st_fail(c, "integer does not fit in 64 bits");
        v = v * 10 + d;
        c->pos++;
    }
    if (c->pos == start)
        return st_fail(c, "expected an integer, found %s",
                       st_found(c, buf, sizeof buf));
    if (c->s[start] == '0' && c->pos - start > 1)
        return st_fail(c, "integer with a leading zero");
    if (c->pos < c->n && (c->s[c->pos] == '.' || c->s[c->pos] == 'e' ||
                          c->s[c->pos] == 'E'))
        return st_fail(c, "expected an integer, found a fraction or exponent");
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

/*
 * Reads an array of integers, storing the first cap of them in vals;
 * *total gets how many there were, so callers can report an excess.
 */
static int st_int_array(StCur *c, int64_t *vals, int cap, int *total)
{
    *total = 0;
    if (st_expect(c, '[') < 0)
        return -1;
    if (st_peek(c) == ']') {
        c->pos++;
        return 0;
    }
    for (;;) {
        int64_t v = 0;
        if (st_int(c, &v) < 0)
            return -1;
        if (*total < cap)
            vals[*total] = v;
        if (*total < 1000000)
            (*total)++;
        if (st_peek(c) == ']') {
            c->pos++;
            return 0;
        }
        if (st_expect(c, ',') < 0)
            return -1;
    }
}

/*
 * After a member of an object: consumes ',' (returns 1: another member
 * follows) or '}' (returns 0: the object ended), else fails (-1).
 */
static int st_next_member(StCur *c)
{
    char buf[16];
    int ch = st_peek(c);
    c->pos++;
    if (ch == ',')
        return 1;
    if (ch == '}')
        return 0;
    c->pos--;
    return st_fail(c, "expected ',' or '}', found %s",
                   st_found(c, buf, sizeof buf));
}

/* Consumes '{' and reports whether the object is empty ('}' consumed too). */
static int st_open_object(StCur *c, int *empty)
{
    if (st_expect(c, '{') < 0)
        return -1;
    *empty = st_peek(c) == '}';
    if (*empty)
        c->pos++;
    return 0;
}

/* ---- tensor entries ------------------------------------------------------- */

/* Fields of a tensor object seen so far, for the checks after it. */
typedef struct StFields {
    int has_dtype;    /* "dtype" seen */
    int has_shape;    /* "shape" seen */
    int noffs;        /* number of values in "data_offsets", -1 if absent */
    int64_t offs[2];  /* data_offsets [begin, end] */
} StFields;

/* Parses the value of "dtype": a known dtype name. */
static int st_field_dtype(StCur *c, NnrtStEntry *e)
{
    char name[64];
    int too_long;
    if (st_string(c, name, sizeof name, &too_long) < 0)
        return -1;
    if (too_long || strlen(name) >= sizeof e->dtype || nnrt_st_dtype_size(name) == 0)
        return nnrt_errorf(c->err, "%s: tensor '%s': unknown dtype \"%s%s\"",
                           c->what, e->name, name, too_long ? "..." : "");
    strcpy(e->dtype, name);
    return 0;
}

/* Parses the value of "shape": at most NNRT_MAX_DIMS integers. */
static int st_field_shape(StCur *c, NnrtStEntry *e)
{
    int total;
    if (st_int_array(c, e->shape, NNRT_MAX_DIMS, &total) < 0)
        return -1;
    if (total > NNRT_MAX_DIMS)
        return nnrt_errorf(c->err, "%s: tensor '%s': shape has %s%d dimensions,"
                           " at most %d are supported", c->what, e->name,
                           total >= 1000000 ? "over " : "", total, NNRT_MAX_DIMS);
    e->ndim = total;
    return 0;
}

/* Parses one "key": value member of a tensor object. */
static int st_tensor_member(StCur *c, NnrtStEntry *e, StFields *f)
{
    char key[32];
    int too_long;
    st_ws(c);
    size_t at = c->pos + 8;
    if (st_string(c, key, sizeof key, &too_long) < 0 || st_expect(c, ':') < 0)
        return -1;
    int which = too_long                          ? -1
                : strcmp(key, "dtype") == 0        ? 0
                : strcmp(key, "shape") == 0        ? 1
                : strcmp(key, "data_offsets") == 0 ? 2
                                                   : -1;
    int seen = which == 0 ? f->has_dtype : which == 1 ? f->has_shape : f->noffs >= 0;
    if (which < 0 || seen)
        return nnrt_errorf(c->err, "%s: tensor '%s': %s key \"%s%s\" at byte %zu",
                           c->what, e->name, which < 0 ? "unknown" : "duplicate",
                           key, too_long ? "..." : "", at);
    if (which == 0) {
        f->has_dtype = 1;
        return st_field_dtype(c, e);
    }
    if (which == 1) {
        f->has_shape = 1;
        return st_field_shape(c, e);
    }
    return st_int_array(c, f->offs, 2, &f->noffs);
}

/* Parses a tensor's object {"dtype": .., "shape": .., "data_offsets": ..}. */
static int st_tensor_object(StCur *c, NnrtStEntry *e, StFields *f)
{
    int empty, more = 1;
    f->has_dtype = f->has_shape = 0;
    f->noffs = -1;
    if (st_open_object(c, &empty) < 0)
        return -1;
    while (!empty && more) {
        if (st_tensor_member(c, e, f) < 0 || (more = st_next_member(c)) < 0)
            return -1;
    }
    const char *missing = !f->has_dtype ? "dtype"
                          : !f->has_shape ? "shape"
                          : f->noffs < 0 ? "data_offsets" : NULL;
    if (missing)
        return nnrt_errorf(c->err, "%s: tensor '%s': header has no \"%s\"",
                           c->what, e->name, missing);
    if (f->noffs != 2)
        return nnrt_errorf(c->err, "%s: tensor '%s': data_offsets has %d values,"
                           " expected 2", c->what, e->name, f->noffs);
    return 0;
}

/* Byte size of product(shape) * elsize, or -1 when a dim is bad. */
static int st_tensor_bytes(StParse *p, const NnrtStEntry *e, size_t elsize,
                           uint64_t *bytes)
{
    char shp[160];
    uint64_t total = elsize;
    int overflow = 0, zero = 0;
    nnrt_format_shape(shp, sizeof shp, e->ndim, e->shape);
    for (int i = 0; i < e->ndim; i++) {
        if (e->shape[i] < 0)
            return nnrt_errorf(p->c.err, "%s: tensor '%s': negative dimension"
                               " %lld in shape %s", p->c.what, e->name,
                               (long long)e->shape[i], shp);
        uint64_t d = (uint64_t)e->shape[i];
        zero |= d == 0;
        overflow |= d != 0 && total > UINT64_MAX / d;
        total = overflow ? total : total * d;
    }
    if (overflow && !zero)
        return nnrt_errorf(p->c.err, "%s: tensor '%s': shape %s is too large",
                           p->c.what, e->name, shp);
    *bytes = zero ? 0 : total;
    return 0;
}

/* Checks a tensor's offsets and size against the data block; sets data. */
static int st_check_tensor(StParse *p, NnrtStEntry *e, const StFields *f)
{
    char shp[160];
    uint64_t need = 0;
    long long b = (long long)f->offs[0], end = (long long)f->offs[1];
    if (st_tensor_bytes(p, e, nnrt_st_dtype_size(e->dtype), &need) < 0)
        return -1;
    if (b < 0 || end < 0)
        return nnrt_errorf(p->c.err, "%s: tensor '%s': negative data_offsets"
                           " [%lld, %lld]", p->c.what, e->name, b, end);
    if (b > end)
        return nnrt_errorf(p->c.err, "%s: tensor '%s': data_offsets [%lld, %lld]"
                           " are reversed", p->c.what, e->name, b, end);
    if ((uint64_t)end > p->blocklen)
        return nnrt_errorf(p->c.err, "%s: tensor '%s': data_offsets [%lld, %lld]"
                           " run past the end of the %zu-byte data block",
                           p->c.what, e->name, b, end, p->blocklen);
    nnrt_format_shape(shp, sizeof shp, e->ndim, e->shape);
    if ((uint64_t)(end - b) != need)
        return nnrt_errorf(p->c.err, "%s: tensor '%s': data_offsets [%lld, %lld]"
                           " hold %lld bytes, but shape %s of %s needs %llu",
                           p->c.what, e->name, b, end, end - b, shp, e->dtype,
                           (unsigned long long)need);
    e->data = p->block + b;
    e->nbytes = (size_t)(end - b);
    return 0;
}

/* Parses "name": {...} for a tensor into the next entry. */
static int st_tensor(StParse *p, const char *name)
{
    StFields f;
    if (p->count >= p->cap)
        return nnrt_errorf(p->c.err, "%s: more than %d tensors in file (at"
                           " tensor '%s'); raise the capacity", p->c.what,
                           p->cap, name);
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->entries[i].name, name) == 0)
            return nnrt_errorf(p->c.err, "%s: tensor '%s' appears twice in"
                               " the header", p->c.what, name);
    NnrtStEntry *e = &p->entries[p->count];
    memset(e, 0, sizeof *e);
    strcpy(e->name, name);
    if (st_tensor_object(&p->c, e, &f) < 0 || st_check_tensor(p, e, &f) < 0)
        return -1;
    p->count++;
    return 0;
}

/* ---- metadata ------------------------------------------------------------- */

/* Parses one "key": "value" member of "__metadata__". */
static int st_meta_member(StParse *p)
{
    NnrtStMeta scratch, *m = &scratch;
    int too_long;
    st_ws(&p->c);
    size_t at = p->c.pos;
    if (p->meta && p->nmeta >= p->metacap)
        return nnrt_errorf(p->c.err, "%s: more than %d __metadata__ entries;"
                           " raise the capacity", p->c.what, p->metacap);
    if (p->meta)
        m = &p->meta[p->nmeta];
    if (st_string(&p->c, m->key, sizeof m->key, &too_long) < 0)
        return -1;
    if (too_long) {
        p->c.pos = at;
        return st_fail(&p->c, "__metadata__ key \"%s...\" is longer than %zu bytes",
                       m->key, sizeof m->key - 1);
    }
    if (st_expect(&p->c, ':') < 0)
        return -1;
    if (st_peek(&p->c) != '"')
        return st_fail(&p->c, "__metadata__ value of \"%s\" is not a string", m->key);
    at = p->c.pos;  /* st_peek skipped the whitespace */
    if (st_string(&p->c, m->value, sizeof m->value, &too_long) < 0)
        return -1;
    if (too_long) {
        p->c.pos = at;
        return st_fail(&p->c, "__metadata__ value of \"%s\" is longer than %zu bytes",
                       m->key, sizeof m->value - 1);
    }
    p->nmeta += p->meta != NULL;
    return 0;
}

/* Parses the "__metadata__" object (stored only if the caller gave room). */
static int st_metadata(StParse *p)
{
    int empty, more = 1;
    if (p->seen_meta)
        return nnrt_errorf(p->c.err, "%s: \"__metadata__\" appears twice in the"
                           " header", p->c.what);
    p->seen_meta = 1;
    if (st_open_object(&p->c, &empty) < 0)
        return -1;
    while (!empty && more)
        if (st_meta_member(p) < 0 || (more = st_next_member(&p->c)) < 0)
            return -1;
    return 0;
}

/* ---- the header as a whole ------------------------------------------------ */

/* Parses one top-level member: a tensor or the metadata. */
static int st_member(StParse *p)
{
    char name[sizeof p->entries[0].name];
    int too_long;
    st_ws(&p->c);
    size_t at = p->c.pos;
    if (st_string(&p->c, name, sizeof name, &too_long) < 0)
        return -1;
    if (too_long) {
        p->c.pos = at;
        return st_fail(&p->c, "tensor name \"%.40s...\" is longer than %zu bytes",
                       name, sizeof name - 1);
    }
    if (st_expect(&p->c, ':') < 0)
        return -1;
    return strcmp(name, "__metadata__") == 0 ? st_metadata(p) : st_tensor(p, name);
}

/* Parses the whole header object and checks nothing follows it. */
static int st_header(StParse *p)
{
    int empty, more = 1;
    char buf[16];
    if (st_open_object(&p->c, &empty) < 0)
        return -1;
    while (!empty && more)
        if (st_member(p) < 0 || (more = st_next_member(&p->c)) < 0)
            return -1;
    st_ws(&p->c);
    if (p->c.pos < p->c.n)
        return st_fail(&p->c, "unexpected %s after the header object",
                       st_found(&p->c, buf, sizeof buf));
    return 0;
}

/* Fails if any two non-empty tensors share bytes of the data block. */
static int st_check_overlaps(StParse *p)
{
    for (int i = 0; i < p->count; i++) {
        const NnrtStEntry *a = &p->entries[i];
        size_t ab = (size_t)(a->data - p->block), ae = ab + a->nbytes;
        for (int j = i + 1; j < p->count && a->nbytes > 0; j++) {
            const NnrtStEntry *b = &p->entries[j];
            size_t bb = (size_t)(b->data - p->block), be = bb + b->nbytes;
            if (b->nbytes > 0 && ab < be && bb < ae)
                return nnrt_errorf(p->c.err, "%s: tensors '%s' [%zu, %zu] and"
                                   " '%s' [%zu, %zu] overlap in the data block",
                                   p->c.what, a->name, ab, ae, b->name, bb, be);
        }
    }
    return 0;
}

/*
 * Parses a safetensors file held in buf[0..len). Fills entries[0..*count)
 * (pointing into buf) and, if meta is non-NULL, meta[0..*nmeta); metadata
 * is still validated when meta is NULL. what names the file in messages.
 */
int nnrt_st_parse(const void *buf, size_t len, const char *what,
                  NnrtStEntry *entries, int cap, int *count,
                  NnrtStMeta *meta, int metacap, int *nmeta, NnrtError *err)
{
    const unsigned char *b = (const unsigned char *)buf;
    StParse p = {{0}, entries, cap, 0, meta, metacap, 0, 0, NULL, 0};
    what = what ? what : "<memory>";
    *count = 0;
    if (nmeta)
        *nmeta = 0;
    if (b == NULL || len < 8)
        return nnrt_errorf(err, "%s: file is %zu bytes, too short for the"
                           " 8-byte header length", what, b ? len : 0);
    uint64_t hlen = nnrt_rd_le(b, 8);
    if (hlen > len - 8)
        return nnrt_errorf(err, "%s: header length %llu exceeds the %zu bytes"
                           " that follow it", what, (unsigned long long)hlen,
                           len - 8);
    p.c = (StCur){b + 8, (size_t)hlen, 0, what, err};
    p.block = b + 8 + hlen;
    p.blocklen = len - 8 - (size_t)hlen;
    if (st_header(&p) < 0 || st_check_overlaps(&p) < 0)
        return -1;
    *count = p.count;
    if (nmeta)
        *nmeta = p.nmeta;
    return 0;
}

/* ---- binding to parameters ------------------------------------------------ */

/* Levenshtein distance of two names (each cut at 127 bytes). */
static int st_edit_distance(const char *a, const char *b)
{
    int row[128], prev;
    size_t la = strlen(a), lb = strlen(b);
    la = la > 127 ? 127 : la;
    lb = lb > 127 ? 127 : lb;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        prev = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev + (a[i - 1] != b[j - 1]);
            int del = row[j] + 1, ins = row[j - 1] + 1;
            prev = row[j];
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    }
    return row[lb];
}

/* Index of the entry named name, or -1. */
static int st_find(const NnrtStEntry *e, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(e[i].name, name) == 0)
            return i;
    return -1;
}

/* Reports a missing tensor, suggesting the closest name in the file. */
static int st_missing(const NnrtStEntry *e, int n, const char *what,
                      const char *name, NnrtError *err)
{
    int best = -1, bestd = 0;
    for (int i = 0; i < n; i++) {
        int d = st_edit_distance(name, e[i].name);
        if (best < 0 || d < bestd)
            best = i, bestd = d;
    }
    if (best < 0)
        return nnrt_errorf(err, "%s: missing tensor '%s' (the file holds no"
                           " tensors)", what, name);
    return nnrt_errorf(err, "%s: missing tensor '%s' (nearest name in the"
                       " file: '%s')", what, name, e[best].name);
}

/* 1 if a name ends in ".num_batches_tracked" (ignored PyTorch counters). */
static int st_ignorable(const char *name)
{
    static const char suffix[] = ".num_batches_tracked";
    size_t n = strlen(name), k = sizeof suffix - 1;
    return n >= k && strcmp(name + n - k, suffix) == 0;
}

/* Checks one spec against its entry: present, F32, same shape. */
static int st_check_spec(const NnrtStEntry *e, int n, const char *what,
                         const NnrtParamSpec *s, NnrtError *err)
{
    char have[160], want[160];
    int i = st_find(e, n, s->name);
    if (i < 0)
        return st_missing(e, n, what, s->name, err);
    if (strcmp(e[i].dtype, "F32") != 0)
        return nnrt_errorf(err, "%s: tensor '%s': dtype %s in file, expected F32",
                           what, s->name, e[i].dtype);
    int same = e[i].ndim == s->ndim;
    for (int d = 0; same && d < s->ndim; d++)
        same = e[i].shape[d] == s->shape[d];
    if (same)
        return 0;
    nnrt_format_shape(have, sizeof have, e[i].ndim, e[i].shape);
    nnrt_format_shape(want, sizeof want, s->ndim, s->shape);
    return nnrt_errorf(err, "%s: tensor '%s': shape %s in file, expected %s",
                       what, s->name, have, want);
}

/* Copies an F32 tensor to dst, swapping from little-endian if needed. */
static void st_copy_f32(const NnrtStEntry *e, float *dst)
{
    if (e->nbytes == 0)
        return;
    memcpy(dst, e->data, e->nbytes);
    if (!nnrt_host_is_le())
        nnrt_bswap_inplace(dst, e->nbytes / 4, 4);
}

/*
 * Binds parsed tensors to a model's parameters: every spec must have an
 * F32 tensor of exactly its shape, and every tensor in the file must be a
 * spec (except "*.num_batches_tracked"). Nothing is copied unless all the
 * checks pass.
 */
int nnrt_st_bind(const NnrtStEntry *e, int n, const char *what,
                 const NnrtParamSpec *specs, int nspecs, NnrtError *err)
{
    what = what ? what : "<memory>";
    for (int s = 0; s < nspecs; s++)
        if (st_check_spec(e, n, what, &specs[s], err) < 0)
            return -1;
    for (int i = 0; i < n; i++) {
        int known = st_ignorable(e[i].name);
        for (int s = 0; s < nspecs && !known; s++)
            known = strcmp(specs[s].name, e[i].name) == 0;
        if (!known)
            return nnrt_errorf(err, "%s: unexpected tensor '%s' in file (the"
                               " model has no parameter of that name)", what,
                               e[i].name);
    }
    for (int s = 0; s < nspecs; s++)
        st_copy_f32(&e[st_find(e, n, specs[s].name)], specs[s].dst);
    return 0;
}
