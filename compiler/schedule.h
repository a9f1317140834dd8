/*
 * schedule.h — the scheduling pass (see schedule.c) and schedule files,
 * which force a route on chosen convolutions (sched_file.c, written by
 * `netc tune`, read with --schedule).
 */
#ifndef NETC_SCHEDULE_H
#define NETC_SCHEDULE_H

#include "ir.h"

/* How a conv2d is computed. */
typedef enum SchedRoute {
    ROUTE_DEFAULT,  /* the schedule pass's own rule */
    ROUTE_DIRECT,   /* the direct kernels (emit_conv_direct.c) */
    ROUTE_GEMM,     /* im2col + the packed GEMM */
} SchedRoute;

/* One `conv2d LAYER ROUTE` line of a schedule file. */
typedef struct SchedEntry {
    const char *layer;  /* layer name, as netc names it */
    SchedRoute route;   /* the route forced on it */
    SrcLoc loc;         /* the layer name in the file */
    SrcLoc rloc;        /* the route in the file */
} SchedEntry;

/* A parsed schedule file. */
typedef struct SchedFile {
    SrcFile src;        /* its path and text, for diagnostics */
    const char *net;    /* `net NAME`: the net it is for, or NULL (any) */
    SrcLoc netloc;      /* that name in the file */
    SchedEntry *e;      /* entries in file order */
    int n, cap;
} SchedFile;

void sched_run(IrGraph *g, Diag *d);

/* NULL if conv2d n can run on the direct kernels, else why not (in g's arena). */
const char *sched_direct_refusal(const IrGraph *g, const IrNode *n);
const char *sched_route_name(SchedRoute r);

/*
 * Parses sf->src (path and text set by the caller) into sf, reporting
 * syntax errors in d at the file's own lines; returns the error count.
 */
int sched_file_parse(SchedFile *sf, Arena *a, Diag *d);

#endif
