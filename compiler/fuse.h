/*
 * fuse.h — the fusion pass (see fuse.c).
 */
#ifndef NETC_FUSE_H
#define NETC_FUSE_H

#include "ir.h"

void fuse_run(IrGraph *g, Diag *d);

#endif
