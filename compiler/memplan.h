/*
 * memplan.h — the memory plan pass (see memplan.c).
 */
#ifndef NETC_MEMPLAN_H
#define NETC_MEMPLAN_H

#include "ir.h"

void mp_run(IrGraph *g, Diag *d);

#endif
