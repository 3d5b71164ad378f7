/* deepcd's one HDF5 layer, plain C part (see deepcd/private/h5.h): file
   headers, attributes, checked dataset reads, writers without time stamps,
   HDF5's error printing off and on, and files written under a temporary
   name and renamed. No PETSc: examples/mesh-fit links it too. */
#define _POSIX_C_SOURCE 200809L /* getpid() */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <deepcd/private/h5.h>
#include <deepcd/private/tmpfile.h>

int deepcd_h5_fail(deepcd_h5_error *e, int code, const char *fmt, ...)
{
  if (e) {
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    e->code = code;
  }
  return code;
}

void deepcd_h5_quiet_push(deepcd_h5_quiet *q)
{
  q->func  = NULL;
  q->data  = NULL;
  q->saved = H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data) >= 0;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void deepcd_h5_quiet_pop(const deepcd_h5_quiet *q)
{
  if (q->saved) H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

/* ---- reading -------------------------------------------------------------------------------- */

int deepcd_h5_open(const char *file, hid_t *fid, deepcd_h5_error *e)
{
  *fid = H5I_INVALID_HID;
  if (access(file, R_OK) != 0) return deepcd_h5_fail(e, DEEPCD_H5_EOPEN, "%s: cannot read the file (missing or not readable)", file);
  if (H5Fis_hdf5(file) <= 0) return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: not an HDF5 file", file);
  *fid = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (*fid < 0) return deepcd_h5_fail(e, DEEPCD_H5_EOPEN, "%s: HDF5 cannot open the file", file);
  return 0;
}

int deepcd_h5_attr_exists(hid_t loc, const char *file, const char *name, const char *label, int *exists, deepcd_h5_error *e)
{
  htri_t x = H5Aexists(loc, name);

  *exists = x > 0;
  if (x < 0) return deepcd_h5_fail(e, DEEPCD_H5_EREAD, "%s: attribute '%s': cannot be queried", file, label ? label : name);
  return 0;
}

/* Opens attribute `name`, which must exist, be of class `want` and hold npts values (1: a scalar or one
   element of one dimension). */
static int open_attr(hid_t loc, const char *file, const char *name, const char *label, H5T_class_t want, const char *wantname, hssize_t npts, hid_t *aid, deepcd_h5_error *e)
{
  int         exists, err, ndims;
  hid_t       tid, sid;
  H5T_class_t cls;
  hssize_t    n;

  *aid = H5I_INVALID_HID;
  if ((err = deepcd_h5_attr_exists(loc, file, name, label, &exists, e))) return err;
  if (!exists) return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: attribute '%s' is missing", file, label);
  *aid = H5Aopen(loc, name, H5P_DEFAULT);
  if (*aid < 0) return deepcd_h5_fail(e, DEEPCD_H5_EREAD, "%s: attribute '%s': cannot be opened", file, label);
  tid   = H5Aget_type(*aid);
  cls   = H5Tget_class(tid);
  sid   = H5Aget_space(*aid);
  ndims = H5Sget_simple_extent_ndims(sid);
  n     = H5Sget_simple_extent_npoints(sid);
  H5Tclose(tid);
  H5Sclose(sid);
  if (cls == want && n == npts && ndims <= 1 && (npts == 1 || ndims == 1)) return 0;
  H5Aclose(*aid);
  *aid = H5I_INVALID_HID;
  if (cls != want) return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: attribute '%s' is not %s", file, label, wantname);
  if (npts == 1) return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: attribute '%s' is not a single value", file, label);
  return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: attribute '%s' is not %lld values", file, label, (long long) npts);
}

int deepcd_h5_read_attr_string(hid_t loc, const char *file, const char *name, const char *label, char *buf, size_t len, deepcd_h5_error *e)
{
  hid_t  aid, tid, mtid;
  herr_t st   = -1;
  int    fits = 1, err;
  char  *s    = NULL;

  if (!label) label = name;
  if ((err = open_attr(loc, file, name, label, H5T_STRING, "a string", 1, &aid, e))) return err;
  tid  = H5Aget_type(aid);
  mtid = H5Tcopy(H5T_C_S1);
  H5Tset_cset(mtid, H5Tget_cset(tid)); /* h5py writes UTF-8 */
  if (H5Tis_variable_str(tid) > 0) {
    H5Tset_size(mtid, H5T_VARIABLE);
    st = H5Aread(aid, mtid, &s);
    if (st >= 0) {
      fits = (s ? strlen(s) : 0) < len;
      if (fits) snprintf(buf, len, "%s", s ? s : "");
      if (s) H5free_memory(s);
    }
  } else {
    /* one byte more than stored, null-terminated: a string of exactly the stored length keeps its last character */
    size_t sz = H5Tget_size(tid);

    s = calloc(sz + 1, 1);
    if (!s)
      st = -1;
    else {
      H5Tset_size(mtid, sz + 1);
      H5Tset_strpad(mtid, H5T_STR_NULLTERM);
      st = H5Aread(aid, mtid, s);
      if (st >= 0) {
        fits = strlen(s) < len;
        if (fits) snprintf(buf, len, "%s", s);
      }
      free(s);
    }
  }
  H5Tclose(mtid);
  H5Tclose(tid);
  H5Aclose(aid);
  if (st < 0) return deepcd_h5_fail(e, DEEPCD_H5_EREAD, "%s: attribute '%s': cannot be read", file, label);
  if (!fits) return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: attribute '%s' is longer than %zu characters", file, label, len - 1);
  return 0;
}

/* n integers as long long (unsigned ones as unsigned long long in u) */
static int read_ints(hid_t loc, const char *file, const char *name, const char *label, int n, long long v[], unsigned long long u[], H5T_sign_t *sign, deepcd_h5_error *e)
{
  hid_t  aid, tid;
  herr_t st;
  int    err;

  if (n < 1 || n > 3) return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: attribute '%s': %d values asked for", file, label, n);
  if ((err = open_attr(loc, file, name, label, H5T_INTEGER, n == 1 ? "an integer" : "integers", n, &aid, e))) return err;
  tid   = H5Aget_type(aid);
  *sign = H5Tget_sign(tid);
  H5Tclose(tid);
  st = *sign == H5T_SGN_NONE ? H5Aread(aid, H5T_NATIVE_ULLONG, u) : H5Aread(aid, H5T_NATIVE_LLONG, v);
  H5Aclose(aid);
  if (st < 0) return deepcd_h5_fail(e, DEEPCD_H5_EREAD, "%s: attribute '%s': cannot be read", file, label);
  return 0;
}

int deepcd_h5_read_attr_ints(hid_t loc, const char *file, const char *name, const char *label, int n, long long v[], deepcd_h5_error *e)
{
  unsigned long long u[3] = { 0, 0, 0 };
  H5T_sign_t         sign;
  int                err;

  if (!label) label = name;
  if ((err = read_ints(loc, file, name, label, n, v, u, &sign, e))) return err;
  for (int i = 0; sign == H5T_SGN_NONE && i < n; i++) {
    if (u[i] > (unsigned long long) LLONG_MAX) return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: attribute '%s' = %llu is out of range", file, label, u[i]);
    v[i] = (long long) u[i];
  }
  return 0;
}

int deepcd_h5_read_attr_u64(hid_t loc, const char *file, const char *name, const char *label, uint64_t *v, deepcd_h5_error *e)
{
  unsigned long long u = 0;
  long long          s = 0;
  H5T_sign_t         sign;
  int                err;

  if (!label) label = name;
  if ((err = read_ints(loc, file, name, label, 1, &s, &u, &sign, e))) return err;
  if (sign != H5T_SGN_NONE) {
    if (s < 0) return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: attribute '%s' = %lld is negative", file, label, s);
    u = (unsigned long long) s;
  }
  *v = (uint64_t) u;
  return 0;
}

int deepcd_h5_read_attr_double(hid_t loc, const char *file, const char *name, const char *label, double *v, deepcd_h5_error *e)
{
  hid_t  aid;
  herr_t st;
  int    err;

  if (!label) label = name;
  if ((err = open_attr(loc, file, name, label, H5T_FLOAT, "a floating-point number", 1, &aid, e))) return err;
  st = H5Aread(aid, H5T_NATIVE_DOUBLE, v);
  H5Aclose(aid);
  if (st < 0) return deepcd_h5_fail(e, DEEPCD_H5_EREAD, "%s: attribute '%s': cannot be read", file, label);
  return 0;
}

int deepcd_h5_check_header(hid_t fid, const char *file, int n, const char *const formats[], const int versions[], const char *what, int *which, deepcd_h5_error *e)
{
  char      format[64];
  long long version;
  int       exists, k, err;

  if ((err = deepcd_h5_attr_exists(fid, file, "format", NULL, &exists, e))) return err;
  if (!exists) return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: attribute 'format' is missing (not a deepcd %s)", file, what);
  if ((err = deepcd_h5_read_attr_string(fid, file, "format", NULL, format, sizeof(format), e))) return err;
  for (k = 0; k < n && strcmp(format, formats[k]); k++) continue;
  if (k == n && n == 2) return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: attribute 'format' is '%s', expected '%s' or '%s'", file, format, formats[0], formats[1]);
  if (k == n) return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: attribute 'format' is '%s', expected '%s'", file, format, formats[0]);
  if ((err = deepcd_h5_read_attr_ints(fid, file, "version", NULL, 1, &version, e))) return err;
  if (version != versions[k]) return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: attribute 'version' is %lld, this deepcd reads version %d", file, version, versions[k]);
  if (which) *which = k;
  return 0;
}

int deepcd_h5_dataset_info(hid_t loc, const char *file, const char *name, deepcd_h5_info *info, deepcd_h5_error *e)
{
  htri_t x;
  hid_t  did, tid, sid;

  memset(info, 0, sizeof(*info));
  x = H5Lexists(loc, name, H5P_DEFAULT);
  if (x < 0) return deepcd_h5_fail(e, DEEPCD_H5_EREAD, "%s: dataset '%s': cannot be queried", file, name);
  if (!x) return 0;
  did = H5Dopen2(loc, name, H5P_DEFAULT);
  if (did < 0) return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: '%s' is not a dataset", file, name);
  tid          = H5Dget_type(did);
  sid          = H5Dget_space(did);
  info->exists = 1;
  info->tclass = H5Tget_class(tid);
  info->tsize  = H5Tget_size(tid);
  info->tsign  = info->tclass == H5T_INTEGER ? H5Tget_sign(tid) : H5T_SGN_ERROR;
  info->rank   = H5Sget_simple_extent_ndims(sid);
  if (info->rank > 0) H5Sget_simple_extent_dims(sid, info->dims, NULL);
  H5Sclose(sid);
  H5Tclose(tid);
  H5Dclose(did);
  return 0;
}

void deepcd_h5_type_name(const deepcd_h5_info *info, char *buf, size_t len)
{
  if (info->tclass == H5T_FLOAT)
    snprintf(buf, len, "float%zu", info->tsize * 8);
  else if (info->tclass == H5T_INTEGER)
    snprintf(buf, len, "%sint%zu", info->tsign == H5T_SGN_NONE ? "u" : "", info->tsize * 8);
  else if (info->tclass == H5T_STRING)
    snprintf(buf, len, "a string type");
  else
    snprintf(buf, len, "not a number type");
}

void deepcd_h5_dims_string(int rank, const hsize_t dims[], char *buf, size_t len)
{
  size_t n = 0;

  if (!len) return;
  buf[0] = 0;
  n += (size_t) snprintf(buf + n, len - n, "(");
  for (int d = 0; d < rank && n < len; d++) n += (size_t) snprintf(buf + n, len - n, "%s%llu", d ? ", " : "", (unsigned long long) dims[d]);
  if (n < len) snprintf(buf + n, len - n, ")");
}

size_t deepcd_h5_first_nonfinite(hid_t memtype, size_t n, const void *buf)
{
  size_t i = 0;

  if (H5Tequal(memtype, H5T_NATIVE_DOUBLE) > 0) {
    for (const double *x = (const double *) buf; i < n && isfinite(x[i]); i++) continue;
  } else if (H5Tequal(memtype, H5T_NATIVE_FLOAT) > 0) {
    for (const float *x = (const float *) buf; i < n && isfinite(x[i]); i++) continue;
  } else
    i = n;
  return i;
}

int deepcd_h5_read_whole(hid_t loc, const char *name, hid_t memtype, void *buf)
{
  hid_t  did = H5Dopen2(loc, name, H5P_DEFAULT);
  herr_t st  = -1;

  if (did >= 0) {
    st = H5Dread(did, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    H5Dclose(did);
  }
  return st < 0 ? DEEPCD_H5_EREAD : 0;
}

int deepcd_h5_read_box(hid_t loc, const char *name, hid_t memtype, int rank, const hsize_t start[], const hsize_t count[], void *buf)
{
  hid_t  did = name ? H5Dopen2(loc, name, H5P_DEFAULT) : loc, fsid = H5I_INVALID_HID, msid = H5I_INVALID_HID;
  herr_t st = -1;

  if (did < 0) return DEEPCD_H5_EREAD;
  fsid = H5Dget_space(did);
  msid = H5Screate_simple(rank, count, NULL);
  if (fsid >= 0 && msid >= 0 && H5Sselect_hyperslab(fsid, H5S_SELECT_SET, start, NULL, count, NULL) >= 0) st = H5Dread(did, memtype, msid, fsid, H5P_DEFAULT, buf);
  if (msid >= 0) H5Sclose(msid);
  if (fsid >= 0) H5Sclose(fsid);
  if (name) H5Dclose(did);
  return st < 0 ? DEEPCD_H5_EREAD : 0;
}

int deepcd_h5_read_checked(hid_t loc, const char *file, const deepcd_h5_read_spec *s, void *buf, deepcd_h5_error *e)
{
  const char    *label = s->label ? s->label : s->name;
  deepcd_h5_info info;
  hsize_t        n = 1, got = 1;
  size_t         bad;
  int            err, same;

  if ((err = deepcd_h5_dataset_info(loc, file, s->name, &info, e))) return err;
  if (!info.exists) return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: dataset '%s' is missing", file, label);
  for (int d = 0; d < info.rank; d++) got *= info.dims[d];
  if (s->rank) {
    same = info.rank == s->rank;
    for (int d = 0; d < s->rank; d++) {
      n *= s->dims[d];
      if (same && info.dims[d] != s->dims[d]) same = 0;
    }
    if (!same) {
      char have[160], want[160];

      deepcd_h5_dims_string(info.rank, info.dims, have, sizeof(have));
      deepcd_h5_dims_string(s->rank, s->dims, want, sizeof(want));
      return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: dataset '%s': shape %s, expected %s%s%s", file, label, have, s->shape_name ? s->shape_name : "", s->shape_name ? " = " : "", want);
    }
  } else {
    n = s->dims[0];
    if (got != n) return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: dataset '%s' has %llu values, expected %llu", file, label, (unsigned long long) got, (unsigned long long) n);
  }
  if (info.tclass != s->tclass || (s->tsize && info.tsize != s->tsize)) {
    char type[32];

    deepcd_h5_type_name(&info, type, sizeof(type));
    return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: dataset '%s': type is %s, expected %s", file, label, type, s->expect ? s->expect : s->tclass == H5T_FLOAT ? "a floating-point type"
                                                                                                                                                               : "an integer type");
  }
  if (n && deepcd_h5_read_whole(loc, s->name, s->memtype, buf)) return deepcd_h5_fail(e, DEEPCD_H5_EREAD, "%s: dataset '%s': read failed (corrupt or truncated data)", file, label);
  if (s->check_finite && (bad = deepcd_h5_first_nonfinite(s->memtype, (size_t) n, buf)) < (size_t) n) {
    char at[160] = "";

    if (s->rank > 1) {
      hsize_t idx[H5S_MAX_RANK];
      size_t  r = bad;

      for (int d = s->rank - 1; d >= 0; d--) {
        idx[d] = r % s->dims[d];
        r /= s->dims[d];
      }
      if (s->index_name) snprintf(at, sizeof(at), "%s = ", s->index_name);
      deepcd_h5_dims_string(s->rank, idx, at + strlen(at), sizeof(at) - strlen(at));
    } else
      snprintf(at, sizeof(at), "%zu", bad);
    return deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: dataset '%s': NaN or Inf at %s", file, label, at);
  }
  return 0;
}

/* ---- writing -------------------------------------------------------------------------------- */

int deepcd_h5_write_attr(hid_t loc, const char *name, hid_t ftype, hid_t mtype, size_t n, const void *val)
{
  hsize_t dim = (hsize_t) n;
  hid_t   sp = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR), a = H5I_INVALID_HID;
  int     err = 1;

  if (sp < 0) return DEEPCD_H5_EWRITE;
  if ((a = H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0 && H5Awrite(a, mtype, val) >= 0) err = 0;
  if (a >= 0 && H5Aclose(a) < 0) err = 1;
  H5Sclose(sp);
  return err ? DEEPCD_H5_EWRITE : 0;
}

int deepcd_h5_write_attr_string(hid_t loc, const char *name, const char *val)
{
  const size_t len = strlen(val);
  hid_t        t   = H5Tcopy(H5T_C_S1);
  int          err = DEEPCD_H5_EWRITE;

  if (t < 0) return err;
  if (H5Tset_size(t, len ? len : 1) >= 0 && H5Tset_strpad(t, H5T_STR_NULLTERM) >= 0) err = deepcd_h5_write_attr(loc, name, t, t, 0, val);
  if (H5Tclose(t) < 0) err = DEEPCD_H5_EWRITE;
  return err;
}

int deepcd_h5_write_attr_int(hid_t loc, const char *name, long long v)
{
  return deepcd_h5_write_attr(loc, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, 0, &v);
}

int deepcd_h5_write_attr_real(hid_t loc, const char *name, double v)
{
  return deepcd_h5_write_attr(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &v);
}

int deepcd_h5_write_attr_u64(hid_t loc, const char *name, uint64_t v)
{
  return deepcd_h5_write_attr(loc, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &v);
}

hid_t deepcd_h5_create_group(hid_t loc, const char *name)
{
  hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE), g = H5I_INVALID_HID;

  if (gcpl < 0) return H5I_INVALID_HID;
  if (H5Pset_obj_track_times(gcpl, 0) >= 0) g = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
  H5Pclose(gcpl);
  return g;
}

hid_t deepcd_h5_create_dataset(hid_t loc, const char *name, hid_t ftype, int rank, const hsize_t dims[])
{
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), sp = H5I_INVALID_HID, d = H5I_INVALID_HID;

  if (dcpl < 0) return H5I_INVALID_HID;
  if (H5Pset_obj_track_times(dcpl, 0) >= 0) {
    if (rank == 4) {
      hsize_t chunk[4] = { 1, dims[1], dims[2], dims[3] };

      if (H5Pset_chunk(dcpl, 4, chunk) < 0) goto done;
    }
    if ((sp = H5Screate_simple(rank, dims, NULL)) >= 0) d = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  }
done:
  if (sp >= 0) H5Sclose(sp);
  H5Pclose(dcpl);
  return d;
}

int deepcd_h5_write_whole(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t dims[], const void *buf)
{
  hid_t  d   = deepcd_h5_create_dataset(loc, name, ftype, rank, dims);
  size_t n   = 1;
  int    err = 0;

  if (d < 0) return DEEPCD_H5_EWRITE;
  for (int k = 0; k < rank; k++) n *= (size_t) dims[k];
  if (n && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) err = DEEPCD_H5_EWRITE;
  if (H5Dclose(d) < 0) err = DEEPCD_H5_EWRITE;
  return err;
}

/* ---- temporary file plus rename --------------------------------------------------------------- */

int deepcd_h5_tmp_name(char *tmp, size_t len, const char *path, deepcd_h5_error *e)
{
  if (deepcd_tmp_name(tmp, len, path)) return deepcd_h5_fail(e, DEEPCD_H5_EOPEN, "%s: file name is too long", path);
  (void) deepcd_tmp_remove_stale(path); /* left by a writer of PATH that was killed */
  return 0;
}

int deepcd_h5_create(const char *path, const char *tmp, hid_t *fid, deepcd_h5_error *e)
{
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);

  *fid  = H5I_INVALID_HID;
  errno = 0; /* so that a failure's errno is HDF5's */
  if (fcpl >= 0 && H5Pset_obj_track_times(fcpl, 0) >= 0) *fid = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
  if (*fid < 0) {
    const int saved = errno;

    if (fcpl >= 0) H5Pclose(fcpl);
    return deepcd_h5_fail(e, DEEPCD_H5_EOPEN, "%s: cannot create the temporary file %s (%s)", path, tmp, saved ? strerror(saved) : "HDF5 error");
  }
  H5Pclose(fcpl);
  return 0;
}

int deepcd_h5_commit(const char *tmp, const char *path, int ok, deepcd_h5_error *e)
{
  if (ok && rename(tmp, path) == 0) return 0;
  if (ok) {
    const int saved = errno;

    (void) remove(tmp);
    return deepcd_h5_fail(e, DEEPCD_H5_EWRITE, "%s: cannot rename the temporary file %s to it (%s)", path, tmp, strerror(saved));
  }
  (void) remove(tmp);
  return 0;
}

int deepcd_h5_commit_pair(const char *sidetmp, const char *side, const char *tmp, const char *path, int ok, deepcd_h5_error *e)
{
  int err;

  if (!ok) {
    (void) remove(sidetmp);
    (void) remove(tmp);
    return 0;
  }
  if ((err = deepcd_h5_commit(sidetmp, side, 1, e))) {
    (void) remove(tmp);
    return err;
  }
  if ((err = deepcd_h5_commit(tmp, path, 1, e))) (void) remove(side);
  return err;
}

int deepcd_h5_write_atomic(const char *path, deepcd_h5_fill_fn fill, const void *ctx, deepcd_h5_error *e)
{
  char            stack[4096], *tmp = stack;
  const size_t    len = strlen(path) + 96; /* .tmp.HOST.PID */
  deepcd_h5_quiet q;
  hid_t           fid;
  int             err;

  if (len > sizeof(stack) && !(tmp = malloc(len))) return deepcd_h5_fail(e, DEEPCD_H5_EMEM, "%s: out of memory", path);
  deepcd_h5_quiet_push(&q);
  err = deepcd_h5_tmp_name(tmp, len, path, e);
  if (!err) err = deepcd_h5_create(path, tmp, &fid, e);
  if (!err) {
    if (e) e->code = 0;
    err = fill(fid, path, ctx, e);
    if (err && (!e || !e->code)) err = deepcd_h5_fail(e, DEEPCD_H5_EWRITE, "%s: cannot write the HDF5 file", path);
    if (H5Fclose(fid) < 0 && !err) err = deepcd_h5_fail(e, DEEPCD_H5_EWRITE, "%s: cannot close the temporary file %s", path, tmp);
    if (!err)
      err = deepcd_h5_commit(tmp, path, 1, e);
    else
      (void) deepcd_h5_commit(tmp, path, 0, NULL);
  }
  deepcd_h5_quiet_pop(&q);
  if (tmp != stack) free(tmp);
  return err;
}
