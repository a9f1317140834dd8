/*
 * fuzz_frontend.c — libFuzzer target for the whole front end.
 *
 * Each input is taken as the text of a .net file: it is parsed, checked,
 * and every net in it is lowered and shaped (the front end's passes; build
 * with -DFUZZ_ALL_PASSES to run the whole pipeline of passes.c), with the
 * AST, the IR and the summary printed to /dev/null so that the printers run
 * too.  The passes run even after syntax errors (netc itself stops there),
 * to exercise lowering on every AST that error recovery can build.  Whatever
 * the input, the front end must not crash, hang, leak or trip a sanitizer.
 *
 * Build (after `make`, which generates build/net.tab.c and build/runtime_blob.c;
 * passes.c names every pass, and the schedule pass reads runtime constants,
 * so everything but main.c is linked):
 *   clang -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=all -Icompiler -Iruntime -Ibuild -o build/fuzz/fuzz_frontend \
 *     fuzz/fuzz_frontend.c $(ls compiler/[a-z]*.c | grep -v main.c) build/net.tab.c \
 *     build/net.lex.c build/runtime_blob.c runtime/[a-z]*.c -lz -lsleef -lm
 * Run:
 *   build/fuzz/fuzz_frontend -dict=fuzz/frontend.dict fuzz/corpus-frontend fuzz/seeds/frontend
 */
#include "passes.h"
#include "summary.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef FUZZ_ALL_PASSES
#define LAST_PASS NULL
#else
#define LAST_PASS "shape"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    if (!sink)
        return 0;
    Compilation c;
    passes_load_text(&c, "fuzz.net", (const char *)data, size, sink);
    ast_print(sink, c.ast);
    for (const Net *n = c.ast->nets; n; n = n->next) {
        IrGraph *g = passes_run(&c, n, LAST_PASS);
        if (g) {
            ir_print(sink, g);
            summary_print(sink, g);
        }
    }
    passes_free(&c);
    return 0;
}
