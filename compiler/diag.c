/*
 * diag.c — printing diagnostics in the form
 *
 *     file.net:3:17: error: message
 *         3 |     y = x -> dense(10, bais = true);
 *           |                        ^~~~
 *     file.net:1:5: note: ...
 *
 * and the "did you mean" helper used by every pass that looks up a name.
 */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void diag_init(Diag *d, const SrcFile *file, FILE *out)
{
    memset(d, 0, sizeof *d);
    d->file = file;
    d->out = out;
    d->max_errors = DIAG_MAX_ERRORS;
}

void diag_line_col(const SrcFile *f, uint32_t off, int *line, int *col)
{
    int ln = 1, c = 1;
    if (off > f->len)
        off = f->len;
    for (uint32_t i = 0; i < off; i++) {
        if (f->text[i] == '\n') {
            ln++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = ln;
    *col = c;
}

SrcLoc loc_span(SrcLoc a, SrcLoc b)
{
    uint32_t lo = a.off < b.off ? a.off : b.off;
    uint32_t ea = a.off + a.len, eb = b.off + b.len;
    uint32_t hi = ea > eb ? ea : eb;
    return (SrcLoc){lo, hi - lo};
}

/* Prints the source line holding loc with a caret and underline below it. */
static void show_line(const Diag *d, SrcLoc loc, int line)
{
    const SrcFile *f = d->file;
    uint32_t off = loc.off > f->len ? f->len : loc.off;
    uint32_t start = off, end = off;
    while (start > 0 && f->text[start - 1] != '\n')
        start--;
    while (end < f->len && f->text[end] != '\n')
        end++;
    fprintf(d->out, "%5d | ", line);
    for (uint32_t i = start; i < end; i++)
        fputc(f->text[i] == '\t' ? ' ' : f->text[i], d->out);
    fprintf(d->out, "\n      | ");
    for (uint32_t i = start; i < off; i++)
        fputc(' ', d->out);
    uint32_t n = loc.len;
    if (off + n > end)
        n = end > off ? end - off : 0;
    fputc('^', d->out);
    for (uint32_t i = 1; i < n; i++)
        fputc('~', d->out);
    fputc('\n', d->out);
}

static void report(Diag *d, const char *kind, SrcLoc loc, const char *fmt, va_list ap)
{
    int line, col;
    diag_line_col(d->file, loc.off, &line, &col);
    fprintf(d->out, "%s:%d:%d: %s: ", d->file->path, line, col, kind);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    show_line(d, loc, line);
}

void diag_error(Diag *d, SrcLoc loc, const char *fmt, ...)
{
    d->nerrors++;
    d->muted = d->nerrors > d->max_errors;
    if (d->muted) {
        if (d->nerrors == d->max_errors + 1)
            fprintf(d->out, "%s: too many errors (%d); stopping here\n", d->file->path,
                    d->max_errors);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    report(d, "error", loc, fmt, ap);
    va_end(ap);
}

void diag_error_in(Diag *d, const SrcFile *file, SrcLoc loc, const char *fmt, ...)
{
    const SrcFile *own = d->file;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    d->file = file;
    diag_error(d, loc, "%s", msg);
    d->file = own;
}

void diag_note(Diag *d, SrcLoc loc, const char *fmt, ...)
{
    if (d->muted)
        return;
    va_list ap;
    va_start(ap, fmt);
    report(d, "note", loc, fmt, ap);
    va_end(ap);
}

/* Levenshtein distance, bounded to short identifiers. */
static int edit_distance(const char *a, const char *b)
{
    enum { MAX = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la >= MAX || lb >= MAX)
        return MAX;
    int prev[MAX + 1], cur[MAX + 1];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (lb + 1));
    }
    return prev[lb];
}

const char *diag_nearest(const char *word, const char *const *cands, int n)
{
    const char *best = NULL;
    int bestd = 1 << 30;
    int limit = (int)strlen(word) / 3 + 1;  /* about a third of the word may differ */
    if (limit > 3)
        limit = 3;
    for (int i = 0; i < n; i++) {
        int dist = edit_distance(word, cands[i]);
        if (dist < bestd && dist <= limit && strcmp(word, cands[i]) != 0) {
            best = cands[i];
            bestd = dist;
        }
    }
    return best;
}
