/*
 * shape.h — shape inference and checking.
 */
#ifndef NETC_SHAPE_H
#define NETC_SHAPE_H

#include "ir.h"

/*
 * Infers the per-sample shape of every node, checks each op against the
 * shapes it receives, resolves `pad = same` and pool strides, and creates
 * the parameter tensors with their PyTorch shapes.
 */
void shape_run(IrGraph *g, Diag *d);

#endif
