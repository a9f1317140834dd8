/*
 * fold.h — folding batchnorm into the preceding conv2d/dense (see fold.c).
 */
#ifndef NETC_FOLD_H
#define NETC_FOLD_H

#include "ir.h"

void fold_run(IrGraph *g, Diag *d);

#endif
