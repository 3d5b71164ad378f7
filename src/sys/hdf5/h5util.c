/* Checked HDF5 reads (see hdf5_util.h). Attribute and dataset reads are done
   independently by every rank on a read-only handle, so no MPI-IO is needed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <deepcd/private/h5util.h>

PetscErrorCode DeepCDH5Open(MPI_Comm comm, const char file[], hid_t *fid)
{
  htri_t ish5;

  PetscFunctionBegin;
  PetscCheck(access(file, R_OK) == 0, comm, PETSC_ERR_FILE_OPEN, "%s: cannot read the file (missing or not readable)", file);
  ish5 = H5Fis_hdf5(file);
  PetscCheck(ish5 > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: not an HDF5 file", file);
  *fid = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
  PetscCheck(*fid >= 0, comm, PETSC_ERR_FILE_OPEN, "%s: HDF5 cannot open the file", file);
  PetscFunctionReturn(0);
}

PetscErrorCode DeepCDH5Close(hid_t fid)
{
  PetscFunctionBegin;
  if (fid >= 0) H5Fclose(fid);
  PetscFunctionReturn(0);
}

PetscErrorCode DeepCDH5AttrExists(MPI_Comm comm, const char file[], hid_t fid, const char name[], PetscBool *exists)
{
  htri_t e = H5Aexists(fid, name);

  PetscFunctionBegin;
  PetscCheck(e >= 0, comm, PETSC_ERR_FILE_READ, "%s: attribute '%s': cannot be queried", file, name);
  *exists = e ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}

/* Opens an attribute that must exist, and checks its type class and that it is a scalar. */
static PetscErrorCode open_attr(MPI_Comm comm, const char file[], hid_t fid, const char name[], H5T_class_t want, const char wantname[], hid_t *aid)
{
  PetscBool   exists;
  hid_t       tid, sid;
  H5T_class_t cls;
  int         ndims;
  hssize_t    npts;

  PetscFunctionBegin;
  PetscCall(DeepCDH5AttrExists(comm, file, fid, name, &exists));
  PetscCheck(exists, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s' is missing", file, name);
  *aid = H5Aopen(fid, name, H5P_DEFAULT);
  PetscCheck(*aid >= 0, comm, PETSC_ERR_FILE_READ, "%s: attribute '%s': cannot be opened", file, name);
  tid   = H5Aget_type(*aid);
  cls   = H5Tget_class(tid);
  sid   = H5Aget_space(*aid);
  ndims = H5Sget_simple_extent_ndims(sid);
  npts  = H5Sget_simple_extent_npoints(sid);
  H5Tclose(tid);
  H5Sclose(sid);
  if (cls != want) H5Aclose(*aid);
  PetscCheck(cls == want, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s' is not %s", file, name, wantname);
  if (npts != 1) H5Aclose(*aid);
  PetscCheck(npts == 1 && ndims <= 1, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s' is not a single value", file, name);
  PetscFunctionReturn(0);
}

PetscErrorCode DeepCDH5ReadAttrString(MPI_Comm comm, const char file[], hid_t fid, const char name[], char buf[], size_t len)
{
  hid_t     aid, tid, mtid;
  herr_t    st   = -1;
  PetscBool fits = PETSC_TRUE;

  PetscFunctionBegin;
  PetscCall(open_attr(comm, file, fid, name, H5T_STRING, "a string", &aid));
  tid = H5Aget_type(aid);
  if (H5Tis_variable_str(tid) > 0) {
    char *s = NULL;

    mtid = H5Tcopy(H5T_C_S1);
    H5Tset_size(mtid, H5T_VARIABLE);
    H5Tset_cset(mtid, H5Tget_cset(tid)); /* h5py writes UTF-8 */
    st = H5Aread(aid, mtid, &s);
    if (st >= 0 && s) {
      fits = strlen(s) < len;
      PetscCall(PetscStrncpy(buf, s, len));
      H5free_memory(s);
    }
  } else {
    size_t sz = H5Tget_size(tid);
    char  *tmp;

    PetscCall(PetscCalloc1(sz + 1, &tmp));
    mtid = H5Tcopy(H5T_C_S1);
    H5Tset_size(mtid, sz + 1);
    H5Tset_strpad(mtid, H5T_STR_NULLTERM);
    H5Tset_cset(mtid, H5Tget_cset(tid));
    st   = H5Aread(aid, mtid, tmp);
    fits = strlen(tmp) < len;
    PetscCall(PetscStrncpy(buf, tmp, len));
    PetscCall(PetscFree(tmp));
  }
  H5Tclose(mtid);
  H5Tclose(tid);
  H5Aclose(aid);
  PetscCheck(st >= 0, comm, PETSC_ERR_FILE_READ, "%s: attribute '%s': cannot be read", file, name);
  PetscCheck(fits, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s' is longer than %zu characters", file, name, len - 1);
  PetscFunctionReturn(0);
}

PetscErrorCode DeepCDH5ReadAttrInt(MPI_Comm comm, const char file[], hid_t fid, const char name[], PetscInt *value)
{
  hid_t     aid;
  long long v = 0;
  herr_t    st;

  PetscFunctionBegin;
  PetscCall(open_attr(comm, file, fid, name, H5T_INTEGER, "an integer", &aid));
  st = H5Aread(aid, H5T_NATIVE_LLONG, &v);
  H5Aclose(aid);
  PetscCheck(st >= 0, comm, PETSC_ERR_FILE_READ, "%s: attribute '%s': cannot be read", file, name);
  PetscCheck(v >= PETSC_MIN_INT && v <= PETSC_MAX_INT, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s' = %lld is out of range", file, name, v);
  *value = (PetscInt) v;
  PetscFunctionReturn(0);
}

PetscErrorCode DeepCDH5ReadAttrReal(MPI_Comm comm, const char file[], hid_t fid, const char name[], PetscReal *value)
{
  hid_t  aid;
  double v = 0;
  herr_t st;

  PetscFunctionBegin;
  PetscCall(open_attr(comm, file, fid, name, H5T_FLOAT, "a floating-point number", &aid));
  st = H5Aread(aid, H5T_NATIVE_DOUBLE, &v);
  H5Aclose(aid);
  PetscCheck(st >= 0, comm, PETSC_ERR_FILE_READ, "%s: attribute '%s': cannot be read", file, name);
  *value = (PetscReal) v;
  PetscFunctionReturn(0);
}

PetscErrorCode DeepCDH5DatasetInfo(MPI_Comm comm, const char file[], hid_t fid, const char name[], DeepCDH5Info *info)
{
  htri_t e;
  hid_t  did, tid, sid;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(info, sizeof(*info)));
  e = H5Lexists(fid, name, H5P_DEFAULT);
  PetscCheck(e >= 0, comm, PETSC_ERR_FILE_READ, "%s: dataset '%s': cannot be queried", file, name);
  if (!e) PetscFunctionReturn(0);
  did = H5Dopen2(fid, name, H5P_DEFAULT);
  PetscCheck(did >= 0, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: '%s' is not a dataset", file, name);
  tid          = H5Dget_type(did);
  sid          = H5Dget_space(did);
  info->exists = PETSC_TRUE;
  info->tclass = H5Tget_class(tid);
  info->tsize  = H5Tget_size(tid);
  info->tsign  = info->tclass == H5T_INTEGER ? H5Tget_sign(tid) : H5T_SGN_ERROR;
  info->rank   = H5Sget_simple_extent_ndims(sid);
  if (info->rank > 0) H5Sget_simple_extent_dims(sid, info->dims, NULL);
  H5Sclose(sid);
  H5Tclose(tid);
  H5Dclose(did);
  PetscFunctionReturn(0);
}

/* Reads the box start..start+count (x, y, z order) of a 3-D dataset. Not
   collective: *ok tells whether the read worked, so that the caller can agree
   on failure across ranks before raising the error. */
PetscErrorCode DeepCDH5ReadBox(const char file[], hid_t fid, const char name[], hid_t memtype, const PetscInt start[3], const PetscInt count[3], void *buf, PetscBool *ok)
{
  hid_t   did, fsid, msid;
  hsize_t off[3], cnt[3];
  herr_t  st;

  PetscFunctionBegin;
  /* (z, y, x) order, x fastest */
  for (int d = 0; d < 3; d++) {
    off[d] = (hsize_t) start[2 - d];
    cnt[d] = (hsize_t) count[2 - d];
  }
  *ok = PETSC_FALSE;
  did = H5Dopen2(fid, name, H5P_DEFAULT);
  if (did < 0) PetscFunctionReturn(0);
  fsid = H5Dget_space(did);
  msid = H5Screate_simple(3, cnt, NULL);
  st   = H5Sselect_hyperslab(fsid, H5S_SELECT_SET, off, NULL, cnt, NULL);
  if (st >= 0) st = H5Dread(did, memtype, msid, fsid, H5P_DEFAULT, buf);
  H5Sclose(msid);
  H5Sclose(fsid);
  H5Dclose(did);
  *ok = st >= 0 ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}

/* Writes an HDF5 file on one process: `write` fills a new file created under
   a temporary name, which is renamed to `path` only when everything worked,
   so a failure never leaves a partial file. HDF5's own error printing is off
   meanwhile and the caller's setting restored. */
PetscErrorCode DeepCDH5WriteAtomic(const char path[], PetscErrorCode (*write)(hid_t, const char[], const void *), const void *ctx)
{
  char           tmp[PETSC_MAX_PATH_LEN + 32];
  hid_t          file;
  H5E_auto2_t    oldfunc   = NULL;
  void          *olddata   = NULL;
  PetscBool      haveauto  = PETSC_FALSE;
  PetscErrorCode ierr      = 0;
  int            saveerrno = 0;

  PetscFunctionBegin;
  PetscCheck(strlen(path) < PETSC_MAX_PATH_LEN, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%s: file name is too long", path);
  PetscCall(PetscSNPrintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long) getpid()));
  if (H5Eget_auto2(H5E_DEFAULT, &oldfunc, &olddata) >= 0) haveauto = PETSC_TRUE;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  errno = 0; /* so that a failure's errno is HDF5's */
  file  = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) {
    saveerrno = errno;
    if (haveauto) H5Eset_auto2(H5E_DEFAULT, oldfunc, olddata);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: cannot create the temporary file %s (%s)", path, tmp, saveerrno ? strerror(saveerrno) : "HDF5 error");
  }
  ierr = (*write)(file, path, ctx);
  if (H5Fclose(file) < 0 && !ierr) ierr = PetscError(PETSC_COMM_SELF, __LINE__, PETSC_FUNCTION_NAME, __FILE__, PETSC_ERR_FILE_WRITE, PETSC_ERROR_INITIAL, "%s: cannot close the temporary file %s", path, tmp);
  if (haveauto) H5Eset_auto2(H5E_DEFAULT, oldfunc, olddata);
  if (ierr) {
    (void) remove(tmp);
    PetscCall(ierr);
  }
  if (rename(tmp, path)) {
    saveerrno = errno;
    (void) remove(tmp);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: cannot rename the temporary file %s to it (%s)", path, tmp, strerror(saveerrno));
  }
  PetscFunctionReturn(0);
}

/* An unsigned 64-bit integer attribute (stored as any integer type). */
PetscErrorCode DeepCDH5ReadAttrU64(MPI_Comm comm, const char file[], hid_t fid, const char name[], uint64_t *value)
{
  hid_t  aid;
  herr_t st;

  PetscFunctionBegin;
  PetscCall(open_attr(comm, file, fid, name, H5T_INTEGER, "an integer", &aid));
  st = H5Aread(aid, H5T_NATIVE_UINT64, value);
  H5Aclose(aid);
  PetscCheck(st >= 0, comm, PETSC_ERR_FILE_READ, "%s: attribute '%s': cannot be read", file, name);
  PetscFunctionReturn(0);
}

/* A whole 1-D dataset of n values of class `tclass`, converted to memtype; `label` names it. */
PetscErrorCode DeepCDH5ReadVector(MPI_Comm comm, const char file[], hid_t loc, const char name[], const char label[], H5T_class_t tclass, hid_t memtype, hsize_t n, void *buf)
{
  DeepCDH5Info info;
  hid_t        did;
  herr_t       st;

  PetscFunctionBegin;
  PetscCall(DeepCDH5DatasetInfo(comm, file, loc, name, &info));
  PetscCheck(info.exists, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s' is missing", file, label);
  PetscCheck(info.rank == 1 && info.dims[0] == n && info.tclass == tclass, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s' must hold %llu %s values in one dimension", file, label, (unsigned long long) n, tclass == H5T_FLOAT ? "floating-point" : "integer");
  did = H5Dopen2(loc, name, H5P_DEFAULT);
  PetscCheck(did >= 0, comm, PETSC_ERR_FILE_READ, "%s: dataset '%s': cannot be opened", file, label);
  st = H5Dread(did, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  H5Dclose(did);
  PetscCheck(st >= 0, comm, PETSC_ERR_FILE_READ, "%s: dataset '%s': cannot be read", file, label);
  PetscFunctionReturn(0);
}
