/* deepcd's one HDF5 layer, plain C part (src/sys/hdf5/h5.c): no PETSc, so
   that examples/mesh-fit can use it too. Every reader and writer of the code
   base goes through it (the PETSc wrappers are in h5util.h).

   Functions that can fail return 0 or a DEEPCD_H5_E* code and, when given a
   deepcd_h5_error, leave a one-line message naming the file and the item in
   it. Symbols are hidden: they are not part of any library's API. */
#ifndef DEEPCD_H5_H
#define DEEPCD_H5_H

#include <stddef.h>
#include <stdint.h>
#include <hdf5.h>

#if defined(__GNUC__)
#define DEEPCD_H5_INTERN __attribute__((visibility("hidden")))
#else
#define DEEPCD_H5_INTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

enum {
  DEEPCD_H5_OK      = 0,
  DEEPCD_H5_EOPEN   = 1, /* a file cannot be opened or created */
  DEEPCD_H5_EREAD   = 2, /* HDF5 failed to read */
  DEEPCD_H5_EFORMAT = 3, /* the content is not what the format says */
  DEEPCD_H5_EWRITE  = 4, /* HDF5 failed to write, close or rename */
  DEEPCD_H5_EMEM    = 5
};

typedef struct {
  int  code;
  char msg[1024];
} deepcd_h5_error;

/* Sets e (may be NULL) and returns code. */
DEEPCD_H5_INTERN int deepcd_h5_fail(deepcd_h5_error *e, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- HDF5's own error printing: off between push and pop, the caller's setting restored ---- */
typedef struct {
  H5E_auto2_t func;
  void       *data;
  int         saved;
} deepcd_h5_quiet;

DEEPCD_H5_INTERN void deepcd_h5_quiet_push(deepcd_h5_quiet *q);
DEEPCD_H5_INTERN void deepcd_h5_quiet_pop(const deepcd_h5_quiet *q);

/* ---- reading -------------------------------------------------------------------------------- */

/* Read-only, serial driver: "FILE: cannot read the file (missing or not readable)", "not an HDF5 file". */
DEEPCD_H5_INTERN int deepcd_h5_open(const char *file, hid_t *fid, deepcd_h5_error *e);

/* The header of a deepcd file: string attribute `format`, one of formats[0..n-1] (*which, may be
   NULL, gets its index), and integer attribute `version` equal to versions[*which]. `what` names
   the kind of file in "attribute 'format' is missing (not a deepcd WHAT)". */
DEEPCD_H5_INTERN int deepcd_h5_check_header(hid_t fid, const char *file, int n, const char *const formats[], const int versions[], const char *what, int *which, deepcd_h5_error *e);

/* Does attribute `name` of loc exist ("label" names it in messages; NULL: name)? */
DEEPCD_H5_INTERN int deepcd_h5_attr_exists(hid_t loc, const char *file, const char *name, const char *label, int *exists, deepcd_h5_error *e);

/* A string attribute, fixed length (null-terminated, null-padded or space-padded, with or without a
   terminating NUL) or variable length, ASCII or UTF-8, of at most len-1 characters into buf. */
DEEPCD_H5_INTERN int deepcd_h5_read_attr_string(hid_t loc, const char *file, const char *name, const char *label, char *buf, size_t len, deepcd_h5_error *e);

/* n (1..3) integer values of any integer type (an unsigned one must fit long long). A single value
   is a scalar or one element of one dimension. */
DEEPCD_H5_INTERN int deepcd_h5_read_attr_ints(hid_t loc, const char *file, const char *name, const char *label, int n, long long v[], deepcd_h5_error *e);
/* One integer of any integer type as uint64_t; a negative signed value is refused. */
DEEPCD_H5_INTERN int deepcd_h5_read_attr_u64(hid_t loc, const char *file, const char *name, const char *label, uint64_t *v, deepcd_h5_error *e);
/* One floating-point value. */
DEEPCD_H5_INTERN int deepcd_h5_read_attr_double(hid_t loc, const char *file, const char *name, const char *label, double *v, deepcd_h5_error *e);

/* The shape and element type of a dataset (exists = 0 when there is no such link). */
typedef struct {
  int         exists;
  int         rank;
  hsize_t     dims[H5S_MAX_RANK];
  H5T_class_t tclass;
  size_t      tsize;
  H5T_sign_t  tsign;
} deepcd_h5_info;

DEEPCD_H5_INTERN int deepcd_h5_dataset_info(hid_t loc, const char *file, const char *name, deepcd_h5_info *info, deepcd_h5_error *e);
/* "float64", "int32", "uint8", "a string type", "not a number type" */
DEEPCD_H5_INTERN void deepcd_h5_type_name(const deepcd_h5_info *info, char *buf, size_t len);
/* "(a, b, c)" */
DEEPCD_H5_INTERN void deepcd_h5_dims_string(int rank, const hsize_t dims[], char *buf, size_t len);

/* A checked read of a whole dataset: it must exist ("dataset 'LABEL' is missing"), be of class
   tclass, have `rank` dimensions equal to dims[] (rank 0: any shape of prod(dims[0]) values), and
   with check_finite (float or double memtype) hold no NaN/Inf ("NaN or Inf at INDEX"). */
typedef struct {
  const char *name, *label; /* label: NULL = name */
  H5T_class_t tclass;
  size_t      tsize;      /* the element size in the file; 0: any */
  const char *expect;     /* "type is T, expected EXPECT"; NULL: "a floating-point type" or "an integer type" */
  const char *shape_name; /* "shape S, expected SHAPE_NAME = (..)"; may be NULL */
  const char *index_name; /* "NaN or Inf at INDEX_NAME = (..)" when rank > 1; may be NULL */
  hid_t       memtype;
  int         rank;
  hsize_t     dims[H5S_MAX_RANK];
  int         check_finite;
} deepcd_h5_read_spec;

DEEPCD_H5_INTERN int deepcd_h5_read_checked(hid_t loc, const char *file, const deepcd_h5_read_spec *s, void *buf, deepcd_h5_error *e);
/* A whole dataset, unchecked (0 or DEEPCD_H5_EREAD, no message). */
DEEPCD_H5_INTERN int deepcd_h5_read_whole(hid_t loc, const char *name, hid_t memtype, void *buf);
/* The box start..start+count of a rank-dimensional dataset (name NULL: loc is the open dataset), 0 or DEEPCD_H5_EREAD, no message. */
DEEPCD_H5_INTERN int deepcd_h5_read_box(hid_t loc, const char *name, hid_t memtype, int rank, const hsize_t start[], const hsize_t count[], void *buf);
/* The first NaN/Inf among n doubles or floats (n when there is none). */
DEEPCD_H5_INTERN size_t deepcd_h5_first_nonfinite(hid_t memtype, size_t n, const void *buf);

/* ---- writing: no object carries modification times, so the same data gives the same bytes ---- */

/* A scalar attribute (n = 0) or n values in one dimension: ftype is stored, mtype describes val. */
DEEPCD_H5_INTERN int deepcd_h5_write_attr(hid_t loc, const char *name, hid_t ftype, hid_t mtype, size_t n, const void *val);
/* A fixed-length, null-terminated ASCII string of strlen(val) bytes (1 for ""). */
DEEPCD_H5_INTERN int   deepcd_h5_write_attr_string(hid_t loc, const char *name, const char *val);
DEEPCD_H5_INTERN int   deepcd_h5_write_attr_int(hid_t loc, const char *name, long long v); /* int64 */
DEEPCD_H5_INTERN int   deepcd_h5_write_attr_real(hid_t loc, const char *name, double v);   /* float64 */
DEEPCD_H5_INTERN int   deepcd_h5_write_attr_u64(hid_t loc, const char *name, uint64_t v);  /* uint64 */
DEEPCD_H5_INTERN hid_t deepcd_h5_create_group(hid_t loc, const char *name);
/* A dataset; chunked one (1, dims[1..]) slice per chunk when rank 4. */
DEEPCD_H5_INTERN hid_t deepcd_h5_create_dataset(hid_t loc, const char *name, hid_t ftype, int rank, const hsize_t dims[]);
/* Creates and writes a whole dataset (0 elements: an empty dataset). */
DEEPCD_H5_INTERN int deepcd_h5_write_whole(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t dims[], const void *buf);

/* ---- a file written under a temporary name and renamed when complete ---- */

/* "PATH.tmp.HOST.PID" for this host and process (deepcd/private/tmpfile.h); the temporary files of PATH
   left by dead processes of this host are removed. A collective writer calls it on one rank and sends the name. */
DEEPCD_H5_INTERN int deepcd_h5_tmp_name(char *tmp, size_t len, const char *path, deepcd_h5_error *e);
/* A new HDF5 file (replacing one) whose root group carries no modification times:
   "PATH: cannot create the temporary file TMP (reason)". */
DEEPCD_H5_INTERN int deepcd_h5_create(const char *path, const char *tmp, hid_t *fid, deepcd_h5_error *e);
/* ok: renames tmp to path ("PATH: cannot rename the temporary file TMP to it (reason)"); else, or when
   that fails, removes tmp. */
DEEPCD_H5_INTERN int deepcd_h5_commit(const char *tmp, const char *path, int ok, deepcd_h5_error *e);
/* The same for a sidecar and its HDF5 file: the sidecar first, so that when the HDF5 file is in place
   its sidecar is too; on failure nothing is left. */
DEEPCD_H5_INTERN int deepcd_h5_commit_pair(const char *sidetmp, const char *side, const char *tmp, const char *path, int ok, deepcd_h5_error *e);

/* The whole serial write: HDF5 quiet, fill(fid, ctx) on a new temporary file, close, rename; on any
   failure no file is left. fill returns nonzero on failure (and may set e; otherwise the message is
   "PATH: cannot write the HDF5 file"). */
typedef int (*deepcd_h5_fill_fn)(hid_t fid, const char *path, const void *ctx, deepcd_h5_error *e);
DEEPCD_H5_INTERN int deepcd_h5_write_atomic(const char *path, deepcd_h5_fill_fn fill, const void *ctx, deepcd_h5_error *e);

#ifdef __cplusplus
}
#endif
#endif
