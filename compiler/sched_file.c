/*
 * sched_file.c — reading schedule files: which route each named
 * convolution takes.
 *
 *   # lenet5.sched — written by netc tune
 *   net lenet5
 *   conv2d conv2d_1 direct   # train step: 485 us direct, 910 us gemm
 *   conv2d conv2d_2 gemm
 *
 * One entry per line; `#` starts a comment that runs to the end of the
 * line; blank lines are ignored.  Words are separated by spaces or tabs.
 *
 *   net NAME               optional, at most once, before the conv2d lines:
 *                          the net the file is for (others refuse it)
 *   conv2d LAYER ROUTE     LAYER is a layer name as netc gives it
 *                          (`conv_bn_relu_1.conv2d_1`), ROUTE is `direct`
 *                          or `gemm`; each layer at most once
 *
 * This file checks the syntax only; whether the layer exists, is a conv2d
 * and can take the route is the schedule pass's business (schedule.c), which
 * reports at the same places.
 */
#include "schedule.h"

#include <string.h>

/* One line being parsed: the file, and the current position in it. */
typedef struct Line {
    SchedFile *sf;  /* the file */
    Arena *a;       /* for names */
    Diag *d;        /* errors */
    uint32_t pos;   /* next byte */
    uint32_t end;   /* end of the line, before any comment */
} Line;

static const char *const ROUTES[] = {"direct", "gemm"};
static const char *const KEYWORDS[] = {"net", "conv2d"};

const char *sched_route_name(SchedRoute r)
{
    switch (r) {
    case ROUTE_DIRECT: return "direct";
    case ROUTE_GEMM: return "gemm";
    case ROUTE_DEFAULT: break;
    }
    return "default";
}

static void err(Line *l, SrcLoc loc, const char *fmt, const char *arg)
{
    diag_error_in(l->d, &l->sf->src, loc, fmt, arg);
}

/* The next word of the line (loc.len 0 at the end of the line). */
static SrcLoc next_word(Line *l)
{
    const char *t = l->sf->src.text;
    while (l->pos < l->end && (t[l->pos] == ' ' || t[l->pos] == '\t' || t[l->pos] == '\r'))
        l->pos++;
    uint32_t start = l->pos;
    while (l->pos < l->end && t[l->pos] != ' ' && t[l->pos] != '\t' && t[l->pos] != '\r')
        l->pos++;
    return (SrcLoc){start, l->pos - start};
}

static char *word_str(Line *l, SrcLoc w)
{
    return arena_strndup(l->a, l->sf->src.text + w.off, w.len);
}

/* Whether w is a name: letters, digits, '_' and '.' (block prefixes). */
static bool is_name(Line *l, SrcLoc w)
{
    const char *ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.";
    for (uint32_t i = 0; i < w.len; i++)
        if (!strchr(ok, l->sf->src.text[w.off + i]))
            return false;
    return w.len > 0;
}

/* Reads a name after `what`; false (reported) if it is missing or malformed. */
static bool expect_name(Line *l, const char *what, SrcLoc *out)
{
    *out = next_word(l);
    if (out->len == 0) {
        err(l, *out, "expected %s here", what);
        return false;
    }
    if (!is_name(l, *out)) {
        err(l, *out, "'%s' is not a name: names hold only letters, digits, '_' and '.'", word_str(l, *out));
        return false;
    }
    return true;
}

/* The line must end here (only a comment may follow). */
static void expect_end(Line *l)
{
    SrcLoc w = next_word(l);
    if (w.len)
        err(l, w, "unexpected '%s' at the end of the line (a comment starts with '#')", word_str(l, w));
}

static SchedRoute route_of(Line *l, SrcLoc w)
{
    const char *s = word_str(l, w);
    for (int i = 0; i < 2; i++)
        if (strcmp(s, ROUTES[i]) == 0)
            return i == 0 ? ROUTE_DIRECT : ROUTE_GEMM;
    const char *near = diag_nearest(s, ROUTES, 2);
    diag_error_in(l->d, &l->sf->src, w, "unknown route '%s'; %s%s%s", s, near ? "did you mean '" : "routes are direct and gemm",
                  near ? near : "", near ? "'?" : "");
    return ROUTE_DEFAULT;
}

/* conv2d LAYER ROUTE */
static void parse_conv2d(Line *l)
{
    SrcLoc name, rw;
    if (!expect_name(l, "a layer name after 'conv2d'", &name))
        return;
    rw = next_word(l);
    if (rw.len == 0) {
        err(l, rw, "expected a route after '%s' (direct or gemm)", word_str(l, name));
        return;
    }
    SchedRoute r = route_of(l, rw);
    if (r == ROUTE_DEFAULT)
        return;
    expect_end(l);
    const char *layer = word_str(l, name);
    SchedFile *sf = l->sf;
    for (int i = 0; i < sf->n; i++)
        if (strcmp(sf->e[i].layer, layer) == 0) {
            int line, col;
            diag_line_col(&sf->src, sf->e[i].loc.off, &line, &col);
            diag_error_in(l->d, &sf->src, name, "layer '%s' is scheduled twice (first on line %d)", layer, line);
            return;
        }
    ARENA_PUSH(l->a, sf->e, sf->n, sf->cap);
    sf->e[sf->n++] = (SchedEntry){layer, r, name, rw};
}

/* net NAME */
static void parse_net(Line *l, SrcLoc kw)
{
    SchedFile *sf = l->sf;
    if (sf->net || sf->n) {
        err(l, kw, "%s", sf->net ? "'net' given twice" : "'net' must come before the conv2d lines");
        return;
    }
    SrcLoc name;
    if (!expect_name(l, "a net name after 'net'", &name))
        return;
    expect_end(l);
    sf->net = word_str(l, name);
    sf->netloc = name;
}

static void parse_line(Line *l)
{
    SrcLoc kw = next_word(l);
    if (kw.len == 0)
        return;
    const char *s = word_str(l, kw);
    if (strcmp(s, "conv2d") == 0) {
        parse_conv2d(l);
    } else if (strcmp(s, "net") == 0) {
        parse_net(l, kw);
    } else {
        const char *near = diag_nearest(s, KEYWORDS, 2);
        diag_error_in(l->d, &l->sf->src, kw, "unknown entry '%s'; %s%s%s", s,
                      near ? "did you mean '" : "a line is 'conv2d LAYER ROUTE' or 'net NAME'", near ? near : "",
                      near ? "'?" : "");
    }
}

int sched_file_parse(SchedFile *sf, Arena *a, Diag *d)
{
    int before = d->nerrors;
    const char *t = sf->src.text;
    for (uint32_t pos = 0; pos < sf->src.len;) {
        uint32_t eol = pos;
        while (eol < sf->src.len && t[eol] != '\n')
            eol++;
        uint32_t end = pos;
        while (end < eol && t[end] != '#')
            end++;
        Line l = {sf, a, d, pos, end};
        parse_line(&l);
        pos = eol + 1;
    }
    return d->nerrors - before;
}
