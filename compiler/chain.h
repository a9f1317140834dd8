/*
 * chain.h — the chain pass: trees of elementwise ops in one kernel (see chain.c).
 */
#ifndef NETC_CHAIN_H
#define NETC_CHAIN_H

#include "ir.h"

void chain_run(IrGraph *g, Diag *d);

/* Whether op can be computed inside a chain kernel in graph g (emit_chain.c agrees). */
bool chain_op_ok(const IrGraph *g, IrOp op);

#endif
