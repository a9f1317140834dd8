/*
 * describe.c — generic code over NnrtModelDesc, with two nets in one program.
 *
 * Every symbol netc generates carries the net's name, so fashion_mlp.c and
 * xor.c link side by side against one copy of the runtime.  describe()
 * knows neither net: it reads the descriptor, lists the parameters the
 * weights file must hold, and runs the model once on zeros through the
 * descriptor's function pointers.  (Host-side code like this may use
 * malloc; the model still lives in the one arena it is given.)
 */
#include "fashion_mlp.h"
#include "xor.h"

#include <stdio.h>
#include <stdlib.h>

enum { MAX_IO = 8 };

/* The parameter table: what a weights file for this net holds. */
static void list_params(const NnrtModelDesc *d)
{
    printf("%s (from %s, netc %s): %lld parameter floats\n", d->name, d->source, d->netc_version,
           (long long)d->param_floats);
    for (int i = 0; i < d->nparams; i++) {
        char shape[64];
        nnrt_format_shape(shape, sizeof shape, d->params[i].ndim, d->params[i].shape);
        printf("  %-16s %s%s\n", d->params[i].name, shape, d->params[i].trainable ? "" : " (not trained)");
    }
    if (d->trainable)
        printf("  trains with %s, lr %g, batch %d, %d state tensor(s) per parameter\n", d->train.optimizer,
               d->train.lr, d->train.batch, d->nstate);
}

/* One sample of zeros through d->forward; prints the first element of each output. */
static int run_zeros(const NnrtModelDesc *d)
{
    NnrtError err;
    const float *in[MAX_IO] = {0};
    float *out[MAX_IO] = {0};
    size_t bytes = d->arena_bytes(1);
    void *arena = malloc(bytes);
    void *m = arena ? d->create(arena, bytes, 1, &err) : NULL;
    int rc = m && d->ninputs <= MAX_IO && d->noutputs <= MAX_IO ? 0 : -1;
    for (int i = 0; rc == 0 && i < d->ninputs; i++)
        rc = (in[i] = calloc((size_t)d->inputs[i].size, sizeof(float))) ? 0 : -1;
    for (int i = 0; rc == 0 && i < d->noutputs; i++)
        rc = (out[i] = calloc((size_t)d->outputs[i].size, sizeof(float))) ? 0 : -1;
    if (rc == 0)
        rc = d->forward(m, 1, in, out);
    for (int i = 0; rc == 0 && i < d->noutputs; i++)
        printf("  %s[0] on zeros: %.6f\n", d->outputs[i].name, out[i][0]);
    for (int i = 0; i < MAX_IO; i++) {
        free((void *)in[i]);
        free(out[i]);
    }
    free(arena);
    return rc;
}

int main(void)
{
    const NnrtModelDesc *nets[] = {&fashion_mlp_desc, &xor_desc};
    for (int i = 0; i < 2; i++) {
        list_params(nets[i]);
        if (run_zeros(nets[i]) != 0)
            return 1;
    }
    return 0;
}
