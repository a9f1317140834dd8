/*
 * nnrt_io.h - the file and data layer of the netc runtime.
 *
 * Unlike the embedded core (nnrt.h), this layer may allocate, use stdio,
 * zlib and POSIX. It holds:
 *
 *   - whole-file reading with transparent gzip inflation (nnrt_io.c);
 *   - atomic file writing and safetensors saving (nnrt_io.c);
 *   - typed arrays and their conversion to float batches (nnrt_array.c);
 *   - loaders for .npy (nnrt_npy.c), IDX/MNIST (nnrt_idx.c) and CSV
 *     (nnrt_csv.c), each as an in-memory parser plus a file front end.
 *
 * Arrays keep the element type they were stored with (a uint8 data set
 * stays uint8 in memory) in host byte order; conversion to float happens
 * batch by batch through nnrt_array_get_f32.
 */
#ifndef NNRT_IO_H
#define NNRT_IO_H

#include "nnrt.h"

/* ---- files ---------------------------------------------------------------- */

int nnrt_read_file(const char *path, unsigned char **buf, size_t *len,
                   NnrtError *err);
int nnrt_gunzip(const void *in, size_t inlen, const char *what,
                unsigned char **out, size_t *outlen, NnrtError *err);
int nnrt_write_file_atomic(const char *path, const void *const *parts,
                           const size_t *lens, int nparts, NnrtError *err);
double nnrt_now(void);

/* ---- typed arrays --------------------------------------------------------- */

typedef enum NnrtDtype {
    NNRT_F32,
    NNRT_F64,
    NNRT_I8,
    NNRT_U8,
    NNRT_I16,
    NNRT_U16,
    NNRT_I32,
    NNRT_U32,
    NNRT_I64,
    NNRT_U64,
    NNRT_BOOL
} NnrtDtype;

typedef struct NnrtArray {
    NnrtDtype dtype;              /* element type as stored in the file */
    int ndim;                     /* number of dimensions, 0..8 */
    int64_t shape[NNRT_MAX_DIMS]; /* dimensions, outermost first */
    size_t count;                 /* number of elements, product(shape) */
    void *data;                   /* malloc'd, host byte order, row-major */
} NnrtArray;

size_t nnrt_dtype_size(NnrtDtype t);
const char *nnrt_dtype_name(NnrtDtype t);
void nnrt_array_free(NnrtArray *a);
int nnrt_shape_bytes(int ndim, const int64_t *shape, size_t elsize,
                     size_t *count, size_t *bytes);
int nnrt_array_alloc(NnrtArray *a, NnrtDtype t, int ndim, const int64_t *shape,
                     const char *what, NnrtError *err);
void nnrt_array_prefetch(const NnrtArray *a, size_t first_elem, size_t n);
void nnrt_array_get_f32(const NnrtArray *a, size_t first_elem, size_t n,
                        float scale, float *dst);
int nnrt_array_get_label(const NnrtArray *a, size_t i, int64_t *out,
                         NnrtError *err);

/* ---- data formats --------------------------------------------------------- */

int nnrt_npy_parse(const void *buf, size_t len, const char *what,
                   NnrtArray *out, NnrtError *err);
int nnrt_npy_load(const char *path, NnrtArray *out, NnrtError *err);
int nnrt_npy_save_f32(const char *path, int ndim, const int64_t *shape,
                      const float *data, NnrtError *err);

int nnrt_idx_parse(const void *buf, size_t len, const char *what,
                   NnrtArray *out, NnrtError *err);
int nnrt_idx_load(const char *path, NnrtArray *out, NnrtError *err);

int nnrt_csv_parse(const void *buf, size_t len, const char *what,
                   NnrtArray *out, NnrtError *err);
int nnrt_csv_load(const char *path, NnrtArray *out, NnrtError *err);

/* ---- safetensors files ---------------------------------------------------- */

typedef struct NnrtStOut {
    const char *name;     /* tensor name, 1..127 bytes */
    int ndim;             /* number of dimensions, 0..8 */
    const int64_t *shape; /* dimensions */
    const float *data;    /* product(shape) floats, host order */
} NnrtStOut;

int nnrt_st_save(const char *path, const NnrtStOut *t, int n,
                 const NnrtStMeta *meta, int nmeta, NnrtError *err);
int nnrt_st_load_file(const char *path, unsigned char **buf, size_t *len,
                      NnrtStEntry *entries, int cap, int *count,
                      NnrtStMeta *meta, int metacap, int *nmeta,
                      NnrtError *err);

#endif /* NNRT_IO_H */
