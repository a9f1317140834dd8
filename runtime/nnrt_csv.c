/*
 * nnrt_csv.c - numeric CSV files as float32 [rows, cols] arrays.
 *
 * Fields are separated by commas, lines by "\n" or "\r\n"; spaces and tabs
 * around a field are ignored, as are blank lines and a UTF-8 byte-order
 * mark. The first non-blank line is a header, and skipped, when any of its
 * fields is non-empty text that is not a number. Every other line must hold as many numbers as the
 * first data line; errors give the line and the 1-based column. Quoted
 * fields are not supported in data rows; a header is only checked for
 * holding a non-number, so quoted names there are fine, and its column
 * count is not compared with the data's.
 *
 * The text is scanned twice: once to validate and count, once to fill the
 * array, so the array is allocated at its exact size.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  /* clock_gettime, fsync, mkdir, open_memstream */
#endif
#include "nnrt_io.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One pass over the text. */
typedef struct CsvScan {
    const char *s;    /* the text */
    size_t n;         /* its length */
    const char *what; /* file name for messages */
    NnrtError *err;   /* where failures are reported */
    float *dst;       /* output [rows, cols], NULL in the counting pass */
    size_t rows;      /* data rows seen so far */
    size_t cols;      /* columns per row, 0 before the first data row */
    size_t cols_line; /* line number of the first data row */
    int seen_first;   /* the first non-blank line has been handled */
} CsvScan;

/* Trims spaces and tabs from both ends of s[0..*len). */
static const char *csv_trim(const char *s, size_t *len)
{
    while (*len > 0 && (*s == ' ' || *s == '\t'))
        s++, (*len)--;
    while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
        (*len)--;
    return s;
}

/* Parses one trimmed field as a float32; -1 if it is not a number. */
static int csv_number(const char *f, size_t len, float *v)
{
    char buf[64], *end;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, f, len);
    buf[len] = '\0';
    errno = 0;
    *v = strtof(buf, &end);
    if (end != buf + len || (errno == ERANGE && isinf(*v)))
        return -1;
    return 0;
}

/* Number of comma-separated fields in a line. */
static size_t csv_count_fields(const char *line, size_t len)
{
    size_t k = 1;
    for (size_t i = 0; i < len; i++)
        k += line[i] == ',';
    return k;
}

/* Returns field j (0-based) of a line, trimmed, with its length in *flen. */
static const char *csv_field(const char *line, size_t len, size_t *pos,
                             size_t *flen)
{
    const char *start = line + *pos;
    const char *comma = memchr(start, ',', len - *pos);
    size_t n = comma ? (size_t)(comma - start) : len - *pos;
    *pos += n + (comma != NULL);
    *flen = n;
    return csv_trim(start, flen);
}

/*
 * 1 if the line is a header: some field is text that is not a number. An
 * empty field alone does not make a header (pandas writes ",a,b" headers,
 * but "1,,3" is a data row with a hole).
 */
static int csv_is_header(const char *line, size_t len)
{
    size_t pos = 0, flen;
    float v;
    for (size_t j = 0, k = csv_count_fields(line, len); j < k; j++) {
        const char *f = csv_field(line, len, &pos, &flen);
        if (flen > 0 && csv_number(f, flen, &v) < 0)
            return 1;
    }
    return 0;
}

/* Parses the numbers of one data row, storing them if there is a dst. */
static int csv_row(CsvScan *c, const char *line, size_t len, size_t lineno)
{
    size_t pos = 0, flen;
    float v;
    for (size_t j = 0; j < c->cols; j++) {
        const char *f = csv_field(line, len, &pos, &flen);
        if (flen == 0)
            return nnrt_errorf(c->err, "%s: line %zu, column %zu: empty field",
                               c->what, lineno, j + 1);
        if (csv_number(f, flen, &v) < 0)
            return nnrt_errorf(c->err, "%s: line %zu, column %zu: bad number"
                               " '%.*s%s'", c->what, lineno, j + 1,
                               (int)(flen > 40 ? 40 : flen), f,
                               flen > 40 ? "..." : "");
        if (c->dst)
            c->dst[c->rows * c->cols + j] = v;
    }
    c->rows++;
    return 0;
}

/* Handles one line (without its newline): blank, header or data. */
static int csv_line(CsvScan *c, const char *line, size_t len, size_t lineno)
{
    size_t tlen = len;
    if (len > 0 && line[len - 1] == '\r')
        len--, tlen--;
    csv_trim(line, &tlen);
    if (tlen == 0)
        return 0;
    int first = !c->seen_first;
    c->seen_first = 1;
    if (first && csv_is_header(line, len))
        return 0;
    size_t k = csv_count_fields(line, len);
    if (c->cols == 0) {
        c->cols = k;
        c->cols_line = lineno;
    }
    if (k != c->cols)
        return nnrt_errorf(c->err, "%s: line %zu has %zu columns, expected %zu"
                           " (as in line %zu)", c->what, lineno, k, c->cols,
                           c->cols_line);
    return csv_row(c, line, len, lineno);
}

/* Runs over every line of the text. */
static int csv_pass(CsvScan *c)
{
    size_t pos = 0, lineno = 1;
    if (c->n >= 3 && memcmp(c->s, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    while (pos < c->n) {
        const char *nl = memchr(c->s + pos, '\n', c->n - pos);
        size_t len = nl ? (size_t)(nl - (c->s + pos)) : c->n - pos;
        if (csv_line(c, c->s + pos, len, lineno) < 0)
            return -1;
        pos += len + 1;
        lineno++;
    }
    return 0;
}

/*
 * Parses CSV text held in memory into a float32 [rows, cols] array (free it
 * with nnrt_array_free). what names the file in messages.
 */
int nnrt_csv_parse(const void *buf, size_t len, const char *what,
                   NnrtArray *out, NnrtError *err)
{
    CsvScan c = {(const char *)buf, buf ? len : 0, what ? what : "<memory>",
                 err, NULL, 0, 0, 0, 0};
    memset(out, 0, sizeof *out);
    if (csv_pass(&c) < 0)
        return -1;
    if (c.rows == 0)
        return nnrt_errorf(err, "%s: no data rows", c.what);
    int64_t shape[2] = {(int64_t)c.rows, (int64_t)c.cols};
    if (nnrt_array_alloc(out, NNRT_F32, 2, shape, c.what, err) < 0)
        return -1;
    CsvScan fill = {c.s, c.n, c.what, err, (float *)out->data, 0, 0, 0, 0};
    if (csv_pass(&fill) < 0) {
        nnrt_array_free(out);
        return -1;
    }
    return 0;
}

/* Reads and parses a CSV file (gzip-compressed allowed). */
int nnrt_csv_load(const char *path, NnrtArray *out, NnrtError *err)
{
    unsigned char *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    if (nnrt_read_file(path, &buf, &len, err) < 0)
        return -1;
    int rc = nnrt_csv_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}
