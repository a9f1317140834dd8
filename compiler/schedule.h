/*
 * schedule.h — the scheduling pass (see schedule.c).
 */
#ifndef NETC_SCHEDULE_H
#define NETC_SCHEDULE_H

#include "ir.h"

void sched_run(IrGraph *g, Diag *d);

#endif
