/*
 * emit.c — the indenting C printer shared by every emitter.
 */
#include "emit.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>

void emit_line(Emitter *e, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t n = strlen(buf);
    if (buf[0] == '}' && e->depth > 0)
        e->depth--;
    if (n)
        for (int i = 0; i < e->depth; i++)
            fputs("    ", e->out);
    fputs(buf, e->out);
    fputc('\n', e->out);
    /* a block opens when the line ends in '{', before any trailing comment */
    size_t end = n;
    if (end >= 2 && buf[end - 2] == '*' && buf[end - 1] == '/') {
        char *open = NULL;
        for (char *p = strstr(buf, "/*"); p; p = strstr(p + 2, "/*"))
            open = p;
        end = open ? (size_t)(open - buf) : end;
    }
    while (end > 0 && buf[end - 1] == ' ')
        end--;
    if (end && buf[end - 1] == '{')
        e->depth++;
}

void emit_blocks(Emitter *e, const char *var, int n, int step, int scale, EmitBlockFn *body, const void *ctx)
{
    int main_n = step > 0 ? n / step * step : 0;
    if (main_n > 0) {
        emit_line(e, "for (int %s = 0; %s < %d; %s += %d) {", var, var, main_n * scale, var, step * scale);
        body(e, ctx, step);
        emit_line(e, "}");
    }
    if (main_n < n) {
        emit_line(e, "{");
        emit_line(e, "const int %s = %d;", var, main_n * scale);
        body(e, ctx, n - main_n);
        emit_line(e, "}");
    }
}

void emit_blank(Emitter *e)
{
    fputc('\n', e->out);
}

const char *emit_float(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.9g", v);
    if (!strpbrk(buf, ".eEn"))
        strncat(buf, ".0", cap - strlen(buf) - 1);
    strncat(buf, "f", cap - strlen(buf) - 1);
    return buf;
}

/* s in capitals, for macro names: "lenet5" -> "LENET5". */
const char *emit_upper(Arena *a, const char *s)
{
    char *u = arena_strdup(a, s);
    for (char *p = u; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return u;
}
