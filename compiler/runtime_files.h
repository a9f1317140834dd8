/*
 * runtime_files.h — the runtime sources built into netc (build/runtime_blob.c,
 * made by scripts/embed-runtime.sh), written out by `netc emit` and `netc build`.
 */
#ifndef NETC_RUNTIME_FILES_H
#define NETC_RUNTIME_FILES_H

typedef struct RuntimeFile {
    const char *name;  /* file name, e.g. "nnrt_core.c" */
    const char *text;  /* contents */
} RuntimeFile;

extern const RuntimeFile runtime_files[];
extern const int nruntime_files;

#endif
