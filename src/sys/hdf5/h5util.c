/* deepcd's one HDF5 layer, PETSc part (see deepcd/private/h5util.h): every
   function is the plain core's (h5.c) with its failure raised as a PETSc
   error. Reads are done independently by every rank on a read-only handle,
   so no MPI-IO is needed. */
#include <sys/statvfs.h>
#include <deepcd/private/h5util.h>
#include <deepcd/private/petsccompat.h>

PetscErrorCode DeepCDH5Raise(MPI_Comm comm, int code, const deepcd_h5_error *e)
{
  PetscErrorCode perr;

  PetscFunctionBegin;
  if (!code) PetscFunctionReturn(PETSC_SUCCESS);
  switch (code) {
  case DEEPCD_H5_EOPEN:
    perr = PETSC_ERR_FILE_OPEN;
    break;
  case DEEPCD_H5_EREAD:
    perr = PETSC_ERR_FILE_READ;
    break;
  case DEEPCD_H5_EWRITE:
    perr = PETSC_ERR_FILE_WRITE;
    break;
  case DEEPCD_H5_EMEM:
    perr = PETSC_ERR_MEM;
    break;
  default:
    perr = PETSC_ERR_FILE_UNEXPECTED;
  }
  SETERRQ(comm, perr, "%s", e->msg);
}

PetscErrorCode DeepCDH5Quietly(PetscErrorCode (*body)(void *), void *ctx)
{
  deepcd_h5_quiet q;
  PetscErrorCode  ierr;

  PetscFunctionBegin;
  deepcd_h5_quiet_push(&q);
  ierr = (*body)(ctx);
  deepcd_h5_quiet_pop(&q);
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDH5Open(MPI_Comm comm, const char file[], hid_t *fid)
{
  deepcd_h5_error e;

  PetscFunctionBegin;
  PetscCall(DeepCDH5Raise(comm, deepcd_h5_open(file, fid, &e), &e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDH5WithFile(MPI_Comm comm, const char file[], PetscErrorCode (*body)(hid_t, void *), void *ctx)
{
  deepcd_h5_quiet q;
  hid_t           fid = H5I_INVALID_HID;
  PetscErrorCode  ierr;

  PetscFunctionBegin;
  deepcd_h5_quiet_push(&q);
  ierr = DeepCDH5Open(comm, file, &fid);
  if (!ierr) ierr = (*body)(fid, ctx);
  if (fid >= 0) H5Fclose(fid);
  deepcd_h5_quiet_pop(&q);
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDH5Close(hid_t fid)
{
  PetscFunctionBegin;
  if (fid >= 0) H5Fclose(fid);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDH5CheckHeader(MPI_Comm comm, const char file[], hid_t fid, int n, const char *const formats[], const int versions[], const char what[], int *which)
{
  deepcd_h5_error e;

  PetscFunctionBegin;
  PetscCall(DeepCDH5Raise(comm, deepcd_h5_check_header(fid, file, n, formats, versions, what, which, &e), &e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDH5AttrExists(MPI_Comm comm, const char file[], hid_t loc, const char name[], PetscBool *exists)
{
  deepcd_h5_error e;
  int             x = 0;

  PetscFunctionBegin;
  PetscCall(DeepCDH5Raise(comm, deepcd_h5_attr_exists(loc, file, name, NULL, &x, &e), &e));
  *exists = x ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDH5ReadAttrString(MPI_Comm comm, const char file[], hid_t loc, const char name[], char buf[], size_t len)
{
  deepcd_h5_error e;

  PetscFunctionBegin;
  PetscCall(DeepCDH5Raise(comm, deepcd_h5_read_attr_string(loc, file, name, NULL, buf, len, &e), &e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDH5ReadAttrInt(MPI_Comm comm, const char file[], hid_t loc, const char name[], PetscInt *value)
{
  deepcd_h5_error e;
  long long       v = 0;

  PetscFunctionBegin;
  PetscCall(DeepCDH5Raise(comm, deepcd_h5_read_attr_ints(loc, file, name, NULL, 1, &v, &e), &e));
  PetscCheck(v >= PETSC_MIN_INT && v <= PETSC_MAX_INT, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s' = %lld is out of range", file, name, v);
  *value = (PetscInt) v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDH5ReadAttrReal(MPI_Comm comm, const char file[], hid_t loc, const char name[], PetscReal *value)
{
  deepcd_h5_error e;
  double          v = 0;

  PetscFunctionBegin;
  PetscCall(DeepCDH5Raise(comm, deepcd_h5_read_attr_double(loc, file, name, NULL, &v, &e), &e));
  *value = (PetscReal) v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDH5ReadAttrU64(MPI_Comm comm, const char file[], hid_t loc, const char name[], uint64_t *value)
{
  deepcd_h5_error e;

  PetscFunctionBegin;
  PetscCall(DeepCDH5Raise(comm, deepcd_h5_read_attr_u64(loc, file, name, NULL, value, &e), &e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDH5DatasetInfo(MPI_Comm comm, const char file[], hid_t loc, const char name[], DeepCDH5Info *info)
{
  deepcd_h5_error e;

  PetscFunctionBegin;
  PetscCall(DeepCDH5Raise(comm, deepcd_h5_dataset_info(loc, file, name, info, &e), &e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Reads the box start..start+count (x, y, z order) of a 3-D dataset. Not
   collective: *ok tells whether the read worked, so that the caller can agree
   on failure across ranks before raising the error. */
PetscErrorCode DeepCDH5ReadBox(const char file[], hid_t loc, const char name[], hid_t memtype, const PetscInt start[3], const PetscInt count[3], void *buf, PetscBool *ok)
{
  hsize_t off[3], cnt[3];

  PetscFunctionBegin;
  /* (z, y, x) order, x fastest */
  for (int d = 0; d < 3; d++) {
    off[d] = (hsize_t) start[2 - d];
    cnt[d] = (hsize_t) count[2 - d];
  }
  *ok = deepcd_h5_read_box(loc, name, memtype, 3, off, cnt, buf) ? PETSC_FALSE : PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDH5ReadChecked(MPI_Comm comm, const char file[], hid_t loc, const deepcd_h5_read_spec *s, void *buf)
{
  deepcd_h5_error e;

  PetscFunctionBegin;
  PetscCall(DeepCDH5Raise(comm, deepcd_h5_read_checked(loc, file, s, buf, &e), &e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDH5ReadVector(MPI_Comm comm, const char file[], hid_t loc, const char name[], const char label[], H5T_class_t tclass, hid_t memtype, hsize_t n, void *buf)
{
  deepcd_h5_read_spec s;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&s, sizeof(s)));
  s.name    = name;
  s.label   = label;
  s.tclass  = tclass;
  s.memtype = memtype;
  s.rank    = 1;
  s.dims[0] = n;
  PetscCall(DeepCDH5ReadChecked(comm, file, loc, &s, buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDH5Wrote(int err, const char path[], const char kind[], const char name[])
{
  PetscFunctionBegin;
  PetscCheck(!err, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: cannot write %s '%s'", path, kind, name);
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  PetscErrorCode (*write)(hid_t, const char[], const void *);
  const void    *ctx;
  PetscErrorCode ierr;
} AtomicCtx;

static int atomic_fill(hid_t fid, const char *path, const void *ctx, deepcd_h5_error *e)
{
  AtomicCtx *c = (AtomicCtx *) ctx;

  c->ierr = (*c->write)(fid, path, c->ctx);
  if (c->ierr) return deepcd_h5_fail(e, DEEPCD_H5_EWRITE, "%s: writing failed", path); /* PETSc's message is on its stack */
  return 0;
}

PetscErrorCode DeepCDH5WriteAtomic(const char path[], const char what[], double bytes, PetscErrorCode (*write)(hid_t, const char[], const void *), const void *ctx)
{
  AtomicCtx       c = { write, ctx, 0 };
  deepcd_h5_error e;
  int             err;

  PetscFunctionBegin;
  PetscCall(DeepCDH5CheckRoom(PETSC_COMM_SELF, path, bytes, what));
  err = deepcd_h5_write_atomic(path, atomic_fill, &c, &e);
  PetscCall(c.ierr);
  PetscCall(DeepCDH5Raise(PETSC_COMM_SELF, err, &e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Refuses (collectively, one line) an output whose file system has less than
   `bytes` free (statvfs on rank 0; nothing is refused when it cannot tell).
   HDF5 1.10 cannot close a file whose last flush failed: the file stays open
   inside HDF5 and HDF5's shutdown at exit crashes on it (H5F__close_cb), so a
   full disk must be refused before the write. */
PetscErrorCode DeepCDH5CheckRoom(MPI_Comm comm, const char path[], double bytes, const char what[])
{
  PetscMPIInt rank;
  PetscBool   room = PETSC_TRUE;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    char           dir[PETSC_MAX_PATH_LEN];
    char          *slash;
    struct statvfs st;

    PetscCall(PetscStrncpy(dir, path, sizeof(dir)));
    slash = strrchr(dir, '/');
    if (!slash)
      PetscCall(PetscStrncpy(dir, ".", sizeof(dir)));
    else if (slash == dir)
      dir[1] = 0;
    else
      *slash = 0;
    if (!statvfs(dir, &st) && (double) st.f_bavail * (double) st.f_frsize < bytes) room = PETSC_FALSE;
  }
  PetscCallMPI(MPI_Bcast(&room, 1, DEEPCD_MPI_BOOL, 0, comm));
  PetscCheck(room, comm, PETSC_ERR_FILE_WRITE, "%s: not enough free space to write the %s (about %.0f MiB needed)", path, what, bytes / 1048576.0);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDH5TmpName(MPI_Comm comm, const char path[], char tmp[], size_t len)
{
  PetscMPIInt     rank;
  int             code = 0;
  deepcd_h5_error e;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) code = deepcd_h5_tmp_name(tmp, len, path, &e);
  PetscCallMPI(MPI_Bcast(&code, 1, MPI_INT, 0, comm));
  if (code && rank) (void) deepcd_h5_fail(&e, code, "%s: file name is too long", path);
  PetscCall(DeepCDH5Raise(comm, code, &e));
  PetscCallMPI(MPI_Bcast(tmp, (PetscMPIInt) len, MPI_CHAR, 0, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}
