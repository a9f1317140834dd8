/*
 * lower.h — from AST to graph IR, and file-level checks of the AST.
 */
#ifndef NETC_LOWER_H
#define NETC_LOWER_H

#include "ast.h"
#include "ir.h"

/*
 * Duplicate nets, blocks and block parameters; blocks named like ops.  Also
 * indexes the blocks by name (f->block_index, in arena a) for lower_run.
 */
void lower_check_file(AstFile *f, Arena *a, Diag *d);

/*
 * Lowers one net: resolves names, expands blocks, names layers, types and
 * range-checks every argument, builds loss, optimizer and train settings.
 * Shapes are left for shape_run().  Errors go to d; the graph is still
 * returned (with poisoned parts) so that later checks can report more.
 */
IrGraph *lower_run(const AstFile *f, const Net *net, Arena *a, Diag *d);

#endif
