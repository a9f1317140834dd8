/*
 * autodiff.h — reverse-mode differentiation of the graph (see autodiff.c).
 */
#ifndef NETC_AUTODIFF_H
#define NETC_AUTODIFF_H

#include "ir.h"

void ad_run(IrGraph *g, Diag *d);

/* Which forward tensors the backward of node `of` w.r.t. `wrt` reads. */
int ad_saved(const IrGraph *g, int of, int wrt, int *saved);

#endif
