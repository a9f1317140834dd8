/*
 * tune.h — `netc tune`: each convolution's route chosen by measurement
 * (see tune.c).
 */
#ifndef NETC_TUNE_H
#define NETC_TUNE_H

#include "bench.h"

/* Measures, prints the table and writes the schedule file (out, or FILE.sched); an exit status. */
int tune_run(const BenchOptions *o, const char *out, const char *rounds);

#endif
