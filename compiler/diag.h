/*
 * diag.h — source files, locations and diagnostics.
 *
 * Locations are byte offsets into the source text (as jq stores them);
 * line and column are computed only when a message is printed.
 */
#ifndef NETC_DIAG_H
#define NETC_DIAG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct SrcFile {
    const char *path;  /* as given on the command line */
    const char *text;  /* whole file, NUL-terminated */
    uint32_t len;      /* bytes in text */
} SrcFile;

typedef struct SrcLoc {
    uint32_t off;  /* byte offset of the first character */
    uint32_t len;  /* bytes covered (0: a point) */
} SrcLoc;

typedef struct Diag {
    const SrcFile *file;  /* file the locations refer to */
    FILE *out;            /* where messages go (stderr) */
    int nerrors;          /* errors reported so far */
    int max_errors;       /* stop printing after this many */
    bool muted;           /* last error was over the limit: drop its notes */
} Diag;

enum { DIAG_MAX_ERRORS = 20 };

void diag_init(Diag *d, const SrcFile *file, FILE *out);
void diag_error(Diag *d, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_note(Diag *d, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An error at loc in another file than d's (a schedule file), counted in d. */
void diag_error_in(Diag *d, const SrcFile *file, SrcLoc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_line_col(const SrcFile *f, uint32_t off, int *line, int *col);
SrcLoc loc_span(SrcLoc a, SrcLoc b);  /* smallest span covering both */

/* The candidate nearest to word by edit distance, or NULL if none is close. */
const char *diag_nearest(const char *word, const char *const *cands, int n);

#endif
