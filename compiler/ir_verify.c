/*
 * ir_verify.c — the IR's invariants, checked between passes.
 *
 * A broken invariant is a bug in a pass, not in the user's file, so it
 * dies with the pass's name rather than reporting a diagnostic.
 */
#include "chain.h"
#include "ir.h"

#include <string.h>

#define CHECK(cond, ...)                                                          \
    do {                                                                          \
        if (!(cond))                                                              \
            netc_die("IR invalid after pass '%s': %s", pass, #cond);              \
    } while (0)

static void verify_node(const IrGraph *g, int id, const char *pass)
{
    const IrNode *n = &g->nodes[id];
    CHECK(n->op >= 0 && n->op < IR_NOPS);
    CHECK(n->name != NULL);
    CHECK(n->nin >= 0 && n->nin <= IR_MAXIN);
    for (int i = 0; i < n->nin; i++)
        CHECK(n->in[i] >= 0 && n->in[i] < id);  /* topological order */
    CHECK(n->shape.ndim >= -1 && n->shape.ndim <= IR_MAXDIM);
    for (int i = 0; i < n->shape.ndim; i++)
        CHECK(n->shape.dim[i] >= 1);
    CHECK(n->nparam >= 0 && n->nparam <= IR_MAXPARAM);
    for (int i = 0; i < n->nparam; i++) {
        CHECK(n->param[i] >= 0 && n->param[i] < g->nparams);
        CHECK(g->params[n->param[i]].node == id);
    }
    CHECK(n->inst >= -1 && n->inst < g->ninsts);
    if (n->a.fold) {  /* fold.c: the batchnorm reads this node and names it back */
        CHECK((n->op == IR_CONV2D || n->op == IR_DENSE) && n->a.fold > id && n->a.fold < g->nforward);
        CHECK(g->nodes[n->a.fold].op == IR_BATCHNORM && g->nodes[n->a.fold].a.folded);
        CHECK(g->nodes[n->a.fold].in[0] == id && !n->a.epilogue);
    }
    if (n->a.folded)
        CHECK(n->op == IR_BATCHNORM && g->nodes[n->in[0]].a.fold == id);
    if (n->a.chain) {  /* chain.c: a member of the tree rooted later in the forward pass */
        CHECK(chain_op_ok(g, n->op) && n->a.chain > id && n->a.chain < g->nforward && !n->a.chain_len);
        CHECK(g->nodes[n->a.chain].a.chain_len >= 2 && !n->a.fused && !n->a.epilogue);
    }
    if (n->a.chain_len) {
        CHECK(chain_op_ok(g, n->op) && n->op != IR_DROPOUT && id < g->nforward);
        CHECK(n->a.chain_len <= IR_MAXCHAIN && !n->a.fused && !n->a.epilogue);
    }
    if (n->op == IR_BWD) {
        CHECK(n->a.of >= 0 && n->a.of < id);
        CHECK(n->a.wrt >= -1 && n->a.wrt < g->nodes[n->a.of].nin);
    }
}

/* Every chain root counts its members, and each member is read once in the forward pass, by its tree. */
static void verify_chains(const IrGraph *g, const char *pass)
{
    for (int r = 0; r < g->nforward; r++) {
        if (!g->nodes[r].a.chain_len)
            continue;
        int members = 0;
        for (int i = 0; i < r; i++)
            members += g->nodes[i].a.chain == r;
        CHECK(members + 1 == g->nodes[r].a.chain_len);
    }
    for (int i = 0; i < g->nforward; i++)
        for (int j = 0; j < g->nodes[i].nin; j++) {
            const IrNode *m = &g->nodes[g->nodes[i].in[j]];
            if (m->a.chain)
                CHECK(i == m->a.chain || g->nodes[i].a.chain == m->a.chain);
        }
}

void ir_verify(const IrGraph *g, const char *pass)
{
    for (int i = 0; i < g->nnodes; i++)
        verify_node(g, i, pass);
    for (int i = 0; i < g->nparams; i++)
        for (int j = 0; j < i; j++)
            CHECK(strcmp(g->params[i].name, g->params[j].name) != 0);
    for (int i = 0; i < g->noutputs; i++) {
        CHECK(g->outputs[i].node >= 0 && g->outputs[i].node < g->nnodes);
        CHECK(!g->nodes[g->outputs[i].node].a.chain);
    }
    verify_chains(g, pass);
    CHECK(g->loss >= -1 && g->loss < g->nnodes);
    CHECK(g->loss < 0 || g->nodes[g->loss].op == IR_LOSS_SUM);
}
