/*
 * build.h — `netc emit` and `netc build`: writing generated C to disk and
 * compiling it into a standalone binary.
 */
#ifndef NETC_BUILD_H
#define NETC_BUILD_H

#include "emit.h"

typedef struct BuildOptions {
    const char *cc;         /* C compiler: --cc, else $CC, else "cc" */
    const char *opt;        /* optimization flag: "-O2" */
    bool native;            /* --target native: -march=native */
    bool libm;              /* --libm: nnrt_vmath.c written with NNRT_LIBM defined; no -lsleef */
    const char *cflags;     /* extra compiler flags, space-separated ("-DNNRT_PROFILE"), or NULL */
    bool runtime;           /* also write the runtime sources */
    bool main;              /* also write <net>_main.c */
    const char *cmdline;    /* for the front matter */
} BuildOptions;

/* Writes DIR/<net>.h, DIR/<net>.c (and runtime, main).  0, or -1 with a message. */
int build_emit(const IrGraph *g, const char *dir, const BuildOptions *o);

/* Emits into a temporary directory (or keep_dir) and compiles to out.  0, or -1. */
int build_binary(const IrGraph *g, const char *out, const char *keep_dir, const BuildOptions *o);

IrTarget build_host_target(bool native);

#endif
