/* NumPy .npy files (format versions 1-3), C order, little-endian. */
#ifndef ATTNBENCH_NPY_H
#define ATTNBENCH_NPY_H

#include <stddef.h>
#include <stdint.h>

#define NPY_MAX_DIMS 8

typedef struct npy_array {
  char descr[16]; /* e.g. "<f4" */
  int ndim;
  int64_t shape[NPY_MAX_DIMS];
  int64_t count; /* elements */
  void *data;
} npy_array;

/* Reads a whole file; a header other than the dict NumPy writes (exactly
 * descr, fortran_order and shape, once each), Fortran order, or a size that
 * disagrees with the header is an error with a one-line message. */
int npy_read(const char *path, npy_array *a, char *err, size_t n);
void npy_free(npy_array *a);
/* "(2, 3, 4)" */
void npy_shape_str(const int64_t *shape, int ndim, char *buf, size_t n);
/* Writes float32 data atomically (temporary file, then rename). */
int npy_write_f32(const char *path, const float *data, const int64_t *shape, int ndim, char *err, size_t n);

#endif
