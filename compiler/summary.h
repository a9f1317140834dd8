/*
 * summary.h — `netc summary`: the Keras-style table of a net.
 */
#ifndef NETC_SUMMARY_H
#define NETC_SUMMARY_H

#include "ir.h"

#include <stdio.h>

typedef struct SummaryTotals {
    int64_t trainable;        /* trainable parameter elements */
    int64_t frozen;           /* batchnorm running statistics */
    int64_t fwd_flops;        /* per sample */
    int64_t train_flops;      /* per sample: forward + backward */
    int64_t act_bytes;        /* activations per sample, no reuse */
} SummaryTotals;

void summary_totals(const IrGraph *g, SummaryTotals *t);
void summary_print(FILE *out, const IrGraph *g);

#endif
