/* Writing a solution file (format v1, docs/formats.md) with PETSc's parallel
   HDF5 viewer, plus an XDMF sidecar for ParaView. The files are written under
   temporary names and renamed, so a crash never leaves a half-written output. */
#include <errno.h>
#include <unistd.h>
#include <petscviewerhdf5.h>
#include <deepcd/solution.h>
#include <deepcd/private/h5util.h>
#include <deepcd/private/petsccompat.h>

static PetscErrorCode write_xdmf(DeepCDProblem p, const char h5path[], const char xmfpath[])
{
  FILE       *f;
  const char *base = strrchr(h5path, '/');

  PetscFunctionBegin;
  base = base ? base + 1 : h5path;
  f    = fopen(xmfpath, "w");
  PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: cannot create the XDMF file", xmfpath);
  fprintf(f, "<?xml version=\"1.0\" ?>\n<Xdmf Version=\"3.0\">\n <Domain>\n  <Grid Name=\"deepcd\" GridType=\"Uniform\">\n");
  fprintf(f, "   <Topology TopologyType=\"3DCoRectMesh\" Dimensions=\"%d %d %d\"/>\n", (int) p->nz + 1, (int) p->ny + 1, (int) p->nx + 1);
  fprintf(f, "   <Geometry GeometryType=\"ORIGIN_DXDYDZ\">\n    <DataItem Dimensions=\"3\" Format=\"XML\">0 0 0</DataItem>\n");
  fprintf(f, "    <DataItem Dimensions=\"3\" Format=\"XML\">%.17g %.17g %.17g</DataItem>\n   </Geometry>\n", (double) p->h, (double) p->h, (double) p->h);
  fprintf(f, "   <Attribute Name=\"x\" AttributeType=\"Scalar\" Center=\"Cell\">\n");
  fprintf(f, "    <DataItem Dimensions=\"%d %d %d\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">%s:/x</DataItem>\n   </Attribute>\n", (int) p->nz, (int) p->ny, (int) p->nx, base);
  fprintf(f, "  </Grid>\n </Domain>\n</Xdmf>\n");
  PetscCheck(fclose(f) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: write failed", xmfpath);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The datasets and attributes of a solution file, into the open viewer v; `hist`
   is a work vector the caller destroys. */
static PetscErrorCode write_h5_contents(DeepCDProblem p, Vec x, const DeepCDSolveInfo *info, PetscViewer v, Vec *hist_out)
{
  MPI_Comm    comm = PetscObjectComm((PetscObject) p->da);
  PetscMPIInt rank;
  Vec         hist;
  const char *oldname;
  PetscInt    version = DEEPCD_SOLUTION_VERSION, nh = info->history ? info->nhistory : 0;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscObjectGetName((PetscObject) x, &oldname));
  {
    char saved[256];

    PetscCall(PetscStrncpy(saved, oldname, sizeof(saved)));
    PetscCall(PetscObjectSetName((PetscObject) x, "x"));
    PetscCall(VecView(x, v));
    PetscCall(PetscObjectSetName((PetscObject) x, saved));
  }
  PetscCall(VecCreateMPI(comm, rank ? 0 : nh, PETSC_DETERMINE, &hist));
  *hist_out = hist;
  if (!rank && nh) {
    PetscScalar *h;

    PetscCall(VecGetArray(hist, &h));
    for (PetscInt i = 0; i < nh; i++) h[i] = info->history[i];
    PetscCall(VecRestoreArray(hist, &h));
  }
  PetscCall(PetscObjectSetName((PetscObject) hist, "residual_history"));
  if (nh) PetscCall(VecView(hist, v));
  if (nh && info->history_seconds) {
    if (!rank) {
      PetscScalar *h;

      PetscCall(VecGetArray(hist, &h));
      for (PetscInt i = 0; i < nh; i++) h[i] = info->history_seconds[i];
      PetscCall(VecRestoreArray(hist, &h));
    }
    PetscCall(PetscObjectSetName((PetscObject) hist, "residual_seconds"));
    PetscCall(VecView(hist, v));
  }
  PetscCall(PetscViewerHDF5WriteAttribute(v, "/", "format", PETSC_STRING, DEEPCD_SOLUTION_FORMAT));
  PetscCall(PetscViewerHDF5WriteAttribute(v, "/", "version", PETSC_INT, &version));
  PetscCall(PetscViewerHDF5WriteAttribute(v, "/", "nx", PETSC_INT, &p->nx));
  PetscCall(PetscViewerHDF5WriteAttribute(v, "/", "ny", PETSC_INT, &p->ny));
  PetscCall(PetscViewerHDF5WriteAttribute(v, "/", "nz", PETSC_INT, &p->nz));
  PetscCall(PetscViewerHDF5WriteAttribute(v, "/", "h", PETSC_REAL, &p->h));
  PetscCall(PetscViewerHDF5WriteAttribute(v, "/", "iterations", PETSC_INT, &info->iterations));
  PetscCall(PetscViewerHDF5WriteAttribute(v, "/", "converged_reason", PETSC_STRING, KSPConvergedReasons[info->reason]));
  PetscCall(PetscViewerHDF5WriteAttribute(v, "/", "residual_norm", PETSC_REAL, &info->residual_norm));
  PetscCall(PetscViewerHDF5WriteAttribute(v, "/", "ksp_type", PETSC_STRING, info->ksp_type));
  PetscCall(PetscViewerHDF5WriteAttribute(v, "/", "pc_type", PETSC_STRING, info->pc_type));
  PetscCall(PetscViewerHDF5WriteAttribute(v, "/", "solve_seconds", PETSC_REAL, &info->solve_seconds));
  PetscCall(PetscViewerHDF5WriteAttribute(v, "/", "setup_seconds", PETSC_REAL, &info->setup_seconds));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The HDF5 part of a solution file, written collectively to `tmp`. Every path
   closes the file (a file left open at MPI_Finalize crashes HDF5's shutdown),
   and HDF5's own error stack stays quiet: a failure is one line. */
static PetscErrorCode write_h5(DeepCDProblem p, Vec x, const DeepCDSolveInfo *info, const char tmp[])
{
  MPI_Comm        comm = PetscObjectComm((PetscObject) p->da);
  PetscViewer     v    = NULL;
  Vec             hist = NULL;
  PetscErrorCode  ierr;
  PetscMPIInt     failed, anyfailed;
  deepcd_h5_quiet q;

  PetscFunctionBegin;
  deepcd_h5_quiet_push(&q);
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = PetscViewerHDF5Open(comm, tmp, FILE_MODE_WRITE, &v);
  if (!ierr) ierr = write_h5_contents(p, x, info, v, &hist);
  /* the file is closed here, whatever happened (but see DeepCDH5CheckRoom() for a close that fails) */
  if (PetscViewerDestroy(&v) && !ierr) ierr = PETSC_ERR_FILE_WRITE;
  (void) VecDestroy(&hist);
  PetscCall(PetscPopErrorHandler());
  deepcd_h5_quiet_pop(&q);
  failed = ierr ? 1 : 0;
  PetscCallMPI(MPI_Allreduce(&failed, &anyfailed, 1, MPI_INT, MPI_MAX, comm));
  PetscCheck(!anyfailed, comm, PETSC_ERR_FILE_WRITE, "%s: writing the solution failed (disk full, quota, or the directory not writable?)", tmp);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDSolutionWrite - Writes the solution file of a solve: dataset `x`
  (nz, ny, nx), dataset `residual_history`, and the run's attributes; and an
  XDMF file beside it (same name with extension .xmf) for ParaView.

  Collective

  Input Parameters:
+ p    - the problem
. x    - the solution (a global vector on the problem's DMDA)
. info - iterations, reason, norms, types and timings
- path - output path

  Level: beginner
@*/
PetscErrorCode DeepCDSolutionWrite(DeepCDProblem p, Vec x, const DeepCDSolveInfo *info, const char path[])
{
  MPI_Comm        comm = PetscObjectComm((PetscObject) p->da);
  PetscMPIInt     rank;
  char            tmp[PETSC_MAX_PATH_LEN + 96], xmf[PETSC_MAX_PATH_LEN], xmftmp[PETSC_MAX_PATH_LEN + 96];
  PetscBool       ok;
  char           *dot;
  deepcd_h5_error e;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(DeepCDH5TmpName(comm, path, tmp, sizeof(tmp)));
  PetscCall(PetscStrncpy(xmf, path, sizeof(xmf)));
  dot = strrchr(xmf, '.');
  if (dot && !strchr(dot, '/')) *dot = 0;
  PetscCall(PetscStrlcat(xmf, ".xmf", sizeof(xmf)));
  PetscCall(DeepCDH5TmpName(comm, xmf, xmftmp, sizeof(xmftmp)));

  {
    /* the datasets, doubled for the other arrays and HDF5's metadata, plus 1 MiB */
    const double need = 2.0 * 8.0 * ((double) p->nx * p->ny * p->nz + 2.0 * (info->history ? info->nhistory : 0)) + 1048576.0;

    PetscCall(DeepCDH5CheckRoom(comm, path, need, "solution"));
  }
  {
    PetscErrorCode ierr = write_h5(p, x, info, tmp);

    if (ierr && !rank) (void) deepcd_h5_commit(tmp, path, 0, NULL); /* no partial output */
    PetscCall(ierr);
  }

  ok     = PETSC_TRUE;
  e.code = 0;
  if (!rank) {
    if (write_xdmf(p, path, xmftmp)) {
      ok = PETSC_FALSE;
      (void) deepcd_h5_fail(&e, DEEPCD_H5_EWRITE, "%s: cannot write its XDMF file %s (%s)", path, xmftmp, strerror(errno));
    }
    /* the .xmf first: when the .h5 is in place, its sidecar is too; a failed rename says why */
    if (deepcd_h5_commit_pair(xmftmp, xmf, tmp, path, ok, &e) || !ok) ok = PETSC_FALSE;
  }
  PetscCallMPI(MPI_Bcast(&ok, 1, DEEPCD_MPI_BOOL, 0, comm));
  if (!rank && !ok) PetscCall(DeepCDH5Raise(PETSC_COMM_SELF, e.code ? e.code : DEEPCD_H5_EWRITE, &e));
  PetscCheck(ok, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: the output could not be written on rank 0", path);
  PetscFunctionReturn(PETSC_SUCCESS);
}
