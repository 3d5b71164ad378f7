/* h5mutate: damages one item of an HDF5 file in place, for tests/malformed-inputs.sh
   (the machines running the tests have no h5py or HDF5 command-line tools).

     h5mutate FILE set DSET INDEX VALUE     element INDEX (flat, C order) of DSET := VALUE (nan, inf allowed)
     h5mutate FILE delete PATH              unlinks a dataset or a group
     h5mutate FILE retype DSET TYPE         DSET rewritten with TYPE (f32 f64 i8 i32 u8 str), same shape
     h5mutate FILE reshape DSET D0,D1,..    DSET replaced by one of the same type and the given shape (zeros)
     h5mutate FILE attr-int OBJ NAME V      attribute NAME of OBJ (a group or dataset path; / the root) := int64 V
     h5mutate FILE attr-real OBJ NAME V     := float64 V
     h5mutate FILE attr-str OBJ NAME V      := fixed-length, null-terminated string V
     h5mutate FILE attr-str-exact OBJ NAME V := fixed-length string of exactly strlen(V) bytes, no NUL
     h5mutate FILE attr-del OBJ NAME        removes the attribute

   Exit status 0 on success, 1 with a message on stderr otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hdf5.h>

static int fail(const char *what, const char *name)
{
  fprintf(stderr, "h5mutate: %s %s failed\n", what, name);
  return 1;
}

static hsize_t npoints(hid_t d)
{
  hid_t    sp = H5Dget_space(d);
  hssize_t n  = H5Sget_simple_extent_npoints(sp);

  H5Sclose(sp);
  return n < 0 ? 0 : (hsize_t) n;
}

static int op_set(hid_t f, const char *dset, const char *sidx, const char *sval)
{
  hid_t   d = H5Dopen2(f, dset, H5P_DEFAULT);
  hsize_t n, idx = strtoull(sidx, NULL, 10);
  double *buf;
  int     err = 0;

  if (d < 0) return fail("open", dset);
  n = npoints(d);
  if (idx >= n || !(buf = malloc(n * sizeof(double)))) {
    H5Dclose(d);
    return fail("index", sidx);
  }
  if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) err = fail("read", dset);
  buf[idx] = strtod(sval, NULL);
  if (!err && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) err = fail("write", dset);
  free(buf);
  H5Dclose(d);
  return err;
}

static hid_t type_of(const char *name)
{
  if (!strcmp(name, "f32")) return H5Tcopy(H5T_IEEE_F32LE);
  if (!strcmp(name, "f64")) return H5Tcopy(H5T_IEEE_F64LE);
  if (!strcmp(name, "i8")) return H5Tcopy(H5T_STD_I8LE);
  if (!strcmp(name, "i32")) return H5Tcopy(H5T_STD_I32LE);
  if (!strcmp(name, "u8")) return H5Tcopy(H5T_STD_U8LE);
  if (!strcmp(name, "str")) {
    hid_t t = H5Tcopy(H5T_C_S1);

    H5Tset_size(t, 8);
    return t;
  }
  return H5I_INVALID_HID;
}

/* Replaces dataset `dset` by one of type `t` (closed here) and rank/dims; `buf` (doubles, may be NULL) is written. */
static int replace(hid_t f, const char *dset, hid_t t, int rank, const hsize_t dims[], const double *buf)
{
  hid_t sp, d;
  int   err = 0;

  if (H5Ldelete(f, dset, H5P_DEFAULT) < 0) {
    H5Tclose(t);
    return fail("delete", dset);
  }
  sp = H5Screate_simple(rank, dims, NULL);
  d  = H5Dcreate2(f, dset, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (d < 0)
    err = fail("create", dset);
  else if (buf && H5Tget_class(t) != H5T_STRING && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    err = fail("write", dset);
  if (d >= 0) H5Dclose(d);
  H5Sclose(sp);
  H5Tclose(t);
  return err;
}

static int op_retype(hid_t f, const char *dset, const char *tname)
{
  hid_t   d = H5Dopen2(f, dset, H5P_DEFAULT), sp, t = type_of(tname);
  hsize_t dims[H5S_MAX_RANK], n;
  int     rank, err;
  double *buf;

  if (d < 0 || t < 0) return fail("retype", dset);
  sp   = H5Dget_space(d);
  rank = H5Sget_simple_extent_dims(sp, dims, NULL);
  H5Sclose(sp);
  n   = npoints(d);
  buf = calloc(n ? n : 1, sizeof(double));
  /* the values survive where the conversion allows; a string dataset is written empty */
  (void) H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  H5Dclose(d);
  err = replace(f, dset, t, rank, dims, buf);
  free(buf);
  return err;
}

static int op_reshape(hid_t f, const char *dset, const char *sdims)
{
  hid_t       d = H5Dopen2(f, dset, H5P_DEFAULT), t;
  hsize_t     dims[H5S_MAX_RANK];
  int         rank = 0;
  const char *p    = sdims;

  if (d < 0) return fail("open", dset);
  t = H5Dget_type(d);
  H5Dclose(d);
  while (*p && rank < H5S_MAX_RANK) {
    char *end;

    dims[rank++] = strtoull(p, &end, 10);
    p            = *end == ',' ? end + 1 : end;
    if (!*end) break;
  }
  return replace(f, dset, t, rank, dims, NULL);
}

static int op_attr(hid_t f, const char *op, const char *obj, const char *name, const char *val)
{
  hid_t o = H5Oopen(f, obj, H5P_DEFAULT), t = H5I_INVALID_HID, sp, a;
  int   err = 0;

  if (o < 0) return fail("open", obj);
  if (H5Aexists(o, name) > 0 && H5Adelete(o, name) < 0) err = fail("attribute delete", name);
  if (err || !strcmp(op, "attr-del")) {
    H5Oclose(o);
    return err;
  }
  if (!strcmp(op, "attr-int"))
    t = H5Tcopy(H5T_STD_I64LE);
  else if (!strcmp(op, "attr-real"))
    t = H5Tcopy(H5T_IEEE_F64LE);
  else {
    const size_t len = strlen(val);

    t = H5Tcopy(H5T_C_S1);
    if (!strcmp(op, "attr-str-exact")) {
      H5Tset_size(t, len ? len : 1);
      H5Tset_strpad(t, H5T_STR_NULLPAD);
    } else
      H5Tset_size(t, len + 1);
  }
  sp = H5Screate(H5S_SCALAR);
  a  = H5Acreate2(o, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0)
    err = fail("attribute create", name);
  else if (!strcmp(op, "attr-int")) {
    long long v = strtoll(val, NULL, 10);

    if (H5Awrite(a, H5T_NATIVE_LLONG, &v) < 0) err = fail("attribute write", name);
  } else if (!strcmp(op, "attr-real")) {
    double v = strtod(val, NULL);

    if (H5Awrite(a, H5T_NATIVE_DOUBLE, &v) < 0) err = fail("attribute write", name);
  } else if (H5Awrite(a, t, val) < 0)
    err = fail("attribute write", name);
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  H5Tclose(t);
  H5Oclose(o);
  return err;
}

int main(int argc, char **argv)
{
  hid_t       f;
  int         err = 1;
  const char *op;

  if (argc < 4) {
    fprintf(stderr, "usage: h5mutate FILE OP ARGS (see tests/h5mutate.c)\n");
    return 1;
  }
  op = argv[2];
  if ((f = H5Fopen(argv[1], H5F_ACC_RDWR, H5P_DEFAULT)) < 0) return fail("open", argv[1]);
  if (!strcmp(op, "set") && argc == 6)
    err = op_set(f, argv[3], argv[4], argv[5]);
  else if (!strcmp(op, "delete") && argc == 4)
    err = H5Ldelete(f, argv[3], H5P_DEFAULT) < 0 ? fail("delete", argv[3]) : 0;
  else if (!strcmp(op, "retype") && argc == 5)
    err = op_retype(f, argv[3], argv[4]);
  else if (!strcmp(op, "reshape") && argc == 5)
    err = op_reshape(f, argv[3], argv[4]);
  else if (!strncmp(op, "attr-", 5) && (argc == 6 || (!strcmp(op, "attr-del") && argc == 5)))
    err = op_attr(f, op, argv[3], argv[4], argc == 6 ? argv[5] : "");
  else
    fprintf(stderr, "h5mutate: bad operation %s or arguments\n", op);
  if (H5Fclose(f) < 0) err = fail("close", argv[1]);
  return err;
}
