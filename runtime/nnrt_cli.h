/*
 * nnrt_cli.h — the command line of standalone binaries built by `netc build`.
 */
#ifndef NNRT_CLI_H
#define NNRT_CLI_H

#include "nnrt_model.h"

/* BIN predict|summary ... ; returns the process exit status. */
int nnrt_cli_main(const NnrtModelDesc *d, int argc, char **argv);

#endif
