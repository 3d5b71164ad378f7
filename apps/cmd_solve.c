/* deepcd solve problem.h5 -o out.h5 [PETSc options] */
#define _XOPEN_SOURCE 700 /* realpath */
#include <stdio.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <deepcd.h>
#include <deepcd/mesh.h>
#include <deepcd/mesh_output.h>
#include "cli.h"
#include <deepcd/private/petsccompat.h>
#include <deepcd/private/tmpfile.h>

static const char help[] = "deepcd solve PROBLEM.h5 -o OUT.h5 [PETSc options]\n"
                           "Solves -div(k grad u) = rhs for a deepcd problem file on a DMDA and writes the solution.\n"
                           "The Krylov method defaults to -ksp_type deepcd; every KSP/PC option applies.\n\n";

/* The output's directory must be writable before any work is done. */
/* The command's own options (listed by -help). */
static PetscErrorCode get_output(char out[], size_t len, PetscBool *has, char geom[], size_t glen, PetscBool *hasgeom, char hist[], size_t hlen, PetscBool *hashist)
{
  PetscFunctionBegin;
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "deepcd solve options", NULL);
  PetscCall(PetscOptionsString("-o", "Output solution file (HDF5; an .xmf file is written beside it)", NULL, out, out, len, has));
  PetscCall(PetscOptionsString("-mesh_geometry", "Also write the obstacle surfaces (FlexiCubes of the problem's sdf) and one XDMF file (.xdmf/.xmf, HDF5 mesh beside it) that opens the solution and the geometry together", NULL, geom, geom, glen, hasgeom));
  PetscCall(PetscOptionsString("-residuals", "Also write the residual history as text: iteration, residual norm, relative residual, seconds since the solve began", NULL, hist, hist, hlen, hashist));
  PetscOptionsEnd();
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The residual history as text (rank 0, temporary name then rename). */
static PetscErrorCode write_history(const char path[], const DeepCDSolveInfo *info, PetscReal bnorm)
{
  char  tmp[PETSC_MAX_PATH_LEN + 96];
  FILE *f;
  int   bad;

  PetscFunctionBegin;
  PetscCheck(!deepcd_tmp_name(tmp, sizeof(tmp), path), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "-residuals %s: the file name is too long", path);
  (void) deepcd_tmp_remove_stale(path);
  f = fopen(tmp, "w");
  PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "-residuals %s: cannot create the file", path);
  fprintf(f, "# deepcd solve: %s/%s, %" PetscInt_FMT " iterations, %s\n# iteration residual relative seconds\n", info->ksp_type, info->pc_type, info->iterations, KSPConvergedReasons[info->reason]);
  for (PetscInt i = 0; i < info->nhistory; i++) fprintf(f, "%" PetscInt_FMT " %.10e %.10e %.6f\n", i, (double) info->history[i], (double) (bnorm > 0 ? info->history[i] / bnorm : 0), info->history_seconds ? (double) info->history_seconds[i] : NAN);
  bad = ferror(f);
  if (fclose(f) || bad || rename(tmp, path)) {
    (void) remove(tmp);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "-residuals %s: cannot write the file", path);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* `path` with its directory resolved (realpath), for comparing names. */
static PetscErrorCode resolved(const char path[], char res[], size_t len)
{
  char        dir[PETSC_MAX_PATH_LEN], real[PETSC_MAX_PATH_LEN > 4096 ? PETSC_MAX_PATH_LEN : 4096];
  const char *slash = strrchr(path, '/');

  PetscFunctionBegin;
  PetscCall(PetscStrncpy(dir, path, sizeof(dir)));
  if (!realpath(dirname(dir), real)) PetscCall(PetscStrncpy(real, ".", sizeof(real)));
  PetscCall(PetscSNPrintf(res, len, "%s/%s", real, slash ? slash + 1 : path));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The .xmf beside a solution file, as DeepCDSolutionWrite names it. */
static PetscErrorCode solution_xmf(const char out[], char xmf[], size_t len)
{
  char *dot;

  PetscFunctionBegin;
  PetscCall(PetscStrncpy(xmf, out, len));
  dot = strrchr(xmf, '.');
  if (dot && !strchr(dot, '/')) *dot = 0;
  PetscCall(PetscStrlcat(xmf, ".xmf", len));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -mesh_geometry GEOM.xdmf: the geometry's HDF5 file (GEOM.h5), and the
   solution file as the XDMF file names it. Checked on every process before
   any work, so all fail the same way. */
typedef struct {
  char xmf[PETSC_MAX_PATH_LEN], h5[PETSC_MAX_PATH_LEN], solref[PETSC_MAX_PATH_LEN];
} GeometryOutput;

static PetscErrorCode check_geometry(const char problemfile[], const char out[], const char geom[], GeometryOutput *g)
{
  const char *dot = strrchr(geom, '.'), *slash = strrchr(geom, '/');
  char        names[5][PETSC_MAX_PATH_LEN + 8], sxmf[PETSC_MAX_PATH_LEN];
  const char *what[] = { "the problem file", "the solution file (-o)", "the solution's .xmf file" };

  PetscFunctionBegin;
  if (dot && slash && dot < slash) dot = NULL;
  PetscCheck(dot && (!strcasecmp(dot, ".xdmf") || !strcasecmp(dot, ".xmf")), PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "-mesh_geometry %s: the extension must be .xdmf or .xmf", geom);
  PetscCheck((size_t) (dot - geom) + 4 < sizeof(g->h5), PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "-mesh_geometry %s: path too long", geom);
  PetscCall(PetscStrncpy(g->xmf, geom, sizeof(g->xmf)));
  memcpy(g->h5, geom, (size_t) (dot - geom));
  strcpy(g->h5 + (dot - geom), ".h5");
  PetscCall(DeepCDCLICheckOutputDir(PETSC_COMM_WORLD, "-mesh_geometry", geom));
  /* none of the two geometry files may replace an input or the solution's files */
  PetscCall(solution_xmf(out, sxmf, sizeof(sxmf)));
  PetscCall(resolved(problemfile, names[0], sizeof(names[0])));
  PetscCall(resolved(out, names[1], sizeof(names[1])));
  PetscCall(resolved(sxmf, names[2], sizeof(names[2])));
  PetscCall(resolved(g->xmf, names[3], sizeof(names[3])));
  PetscCall(resolved(g->h5, names[4], sizeof(names[4])));
  for (int i = 3; i < 5; i++)
    for (int j = 0; j < 3; j++) PetscCheck(strcmp(names[i], names[j]), PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "-mesh_geometry %s: %s would be %s; choose another name", geom, i == 3 ? g->xmf : g->h5, what[j]);
  /* the XDMF file names the solution relative to its own directory when they share it */
  {
    char        gdir[PETSC_MAX_PATH_LEN], odir[PETSC_MAX_PATH_LEN], *s;
    const char *obase = strrchr(names[1], '/') + 1;

    PetscCall(PetscStrncpy(gdir, names[3], sizeof(gdir)));
    PetscCall(PetscStrncpy(odir, names[1], sizeof(odir)));
    s  = strrchr(gdir, '/');
    *s = 0;
    s  = strrchr(odir, '/');
    *s = 0;
    PetscCall(PetscStrncpy(g->solref, strcmp(gdir, odir) ? names[1] : obase, sizeof(g->solref)));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rank 0: the closed surfaces sdf = 0 of the problem file (before the solve:
   a missing sdf or an empty surface costs no solve). */
static PetscErrorCode extract_geometry(const char problemfile[], mesh_surface **surf)
{
  DeepCDMeshField         field;
  mesh_flexicubes_options opt;
  PetscErrorCode          ierr;
  mesh_err                e;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&field, sizeof(field)));
  ierr = DeepCDMeshFieldLoad(problemfile, "sdf", &field);
  if (!ierr) {
    e = mesh_flexicubes_options_default(&opt);
    if (!e) {
      opt.iso   = 0;
      opt.close = 1;
      e         = flexicubes_extract(&field.grid, field.field, &opt, surf);
    }
    if (e)
      ierr = PetscError(PETSC_COMM_SELF, __LINE__, PETSC_FUNCTION_NAME, __FILE__, e == MESH_ERR_MEM ? PETSC_ERR_MEM : PETSC_ERR_LIB, PETSC_ERROR_INITIAL, "%s: -mesh_geometry: %s", problemfile, mesh_error_message());
    else if (!(*surf)->ntris) {
      char lo[64], hi[64];

      snprintf(lo, sizeof(lo), "%g", field.min);
      snprintf(hi, sizeof(hi), "%g", field.max);
      ierr = PetscError(PETSC_COMM_SELF, __LINE__, PETSC_FUNCTION_NAME, __FILE__, PETSC_ERR_ARG_OUTOFRANGE, PETSC_ERROR_INITIAL, "%s: -mesh_geometry: the sdf has no surface at 0 (its values range from %s to %s)", problemfile, lo, hi);
    }
  }
  PetscCall(DeepCDMeshFieldDestroy(&field));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rank 0 runs `ierr`'s work; every process returns its result. */
static PetscErrorCode share_result(PetscErrorCode ierr)
{
  int code = (int) ierr;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Bcast(&code, 1, MPI_INT, 0, PETSC_COMM_WORLD));
  PetscFunctionReturn((PetscErrorCode) code);
}

/* What a solve holds: freed by solve_cleanup() whatever happened. */
typedef struct {
  DeepCDProblem  p;
  DeepCDCLISolve s;
  mesh_surface  *surf;
} SolveRun;

static PetscErrorCode solve_cleanup(SolveRun *r)
{
  PetscFunctionBegin;
  mesh_surface_destroy(&r->surf);
  PetscCall(DeepCDCLISolveDestroy(&r->s));
  PetscCall(DeepCDProblemDestroy(&r->p));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode run_body(const char problemfile[], SolveRun *r, PetscBool *failed)
{
  char            out[PETSC_MAX_PATH_LEN] = "", geom[PETSC_MAX_PATH_LEN] = "", hist[PETSC_MAX_PATH_LEN] = "";
  PetscBool       hasout, hasgeom, hashist;
  GeometryOutput  g;
  PetscMPIInt     rank;
  DeepCDSolveInfo info;
  PetscInt        nfluid;
  PetscReal       bnorm;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCall(DeepCDCLICheckIntegerOptions(PETSC_COMM_WORLD, NULL, 0));
  PetscCall(DeepCDCLICheckToleranceOptions());
  PetscCall(get_output(out, sizeof(out), &hasout, geom, sizeof(geom), &hasgeom, hist, sizeof(hist), &hashist));
  PetscCheck(!hashist || hist[0], PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "-residuals needs a file name");
  if (hashist) PetscCall(DeepCDCLICheckOutputDir(PETSC_COMM_WORLD, "-residuals", hist));
  PetscCheck(problemfile, PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "no problem file given (usage: deepcd solve PROBLEM.h5 -o OUT.h5 [PETSc options])");
  PetscCheck(hasout && out[0], PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "no output file given (-o OUT.h5)");
  PetscCheck(!hasgeom || geom[0], PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "-mesh_geometry needs a file name (GEOMETRY.xdmf)");
  PetscCall(DeepCDCLICheckOutputDir(PETSC_COMM_WORLD, "-o", out));
  {
    char sxmf[PETSC_MAX_PATH_LEN];

    /* neither the solution nor its .xmf may replace the problem file */
    PetscCall(solution_xmf(out, sxmf, sizeof(sxmf)));
    PetscCheck(strcmp(out, sxmf), PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "-o %s: the solution and its XDMF file would be the same file; name it .h5", out);
    PetscCall(DeepCDCLICheckNotInput(PETSC_COMM_WORLD, "-o", out, out, 1, &problemfile, "problem file"));
    PetscCall(DeepCDCLICheckNotInput(PETSC_COMM_WORLD, "-o", out, sxmf, 1, &problemfile, "problem file"));
    if (hashist) PetscCall(DeepCDCLICheckNotInput(PETSC_COMM_WORLD, "-residuals", hist, hist, 1, &problemfile, "problem file"));
  }
  if (hasgeom) PetscCall(check_geometry(problemfile, out, geom, &g));

  PetscCall(DeepCDProblemLoad(PETSC_COMM_WORLD, problemfile, &r->p));
  if (hasgeom) {
    PetscErrorCode ierr = 0;

    PetscCheck(r->p->has_sdf, PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "%s: -mesh_geometry needs an sdf dataset in the problem file, and it has none", problemfile);
    if (!rank) ierr = extract_geometry(problemfile, &r->surf);
    ierr = share_result(ierr);
    PetscCall(ierr);
  }
  PetscCall(DeepCDCLISolveRun(r->p, NULL, NULL, &r->s, &info));
  PetscCall(DeepCDSolutionWrite(r->p, r->s.x, &info, out));
  if (hasgeom) {
    PetscErrorCode ierr = 0;

    if (!rank) {
      const char *base = strrchr(problemfile, '/');

      ierr = DeepCDMeshWriteSolutionXDMF(r->surf, g.xmf, g.h5, base ? base + 1 : problemfile, "sdf", 0.0, g.solref, r->p->nx, r->p->ny, r->p->nz, r->p->h);
      if (ierr) { /* no partial output: the solution goes too */
        char sxmf[PETSC_MAX_PATH_LEN];

        unlink(out);
        if (!solution_xmf(out, sxmf, sizeof(sxmf))) unlink(sxmf);
      }
    }
    mesh_surface_destroy(&r->surf);
    PetscCall(share_result(ierr));
  }

  {
    PetscScalar nsolid;

    PetscCall(VecSum(r->p->solid, &nsolid));
    nfluid = r->p->nx * r->p->ny * r->p->nz - (PetscInt) PetscRealPart(nsolid);
    PetscCall(VecNorm(r->s.b, NORM_2, &bnorm));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "deepcd solve: %s %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " (%" PetscInt_FMT " fluid cells): %s/%s %s in %" PetscInt_FMT " iterations, residual %.3e (relative %.3e), setup %.3f s, solve %.3f s -> %s\n", problemfile, r->p->nx, r->p->ny, r->p->nz,
                        nfluid, info.ksp_type, info.pc_type, KSPConvergedReasons[info.reason], info.iterations, (double) info.residual_norm, (double) (bnorm > 0 ? info.residual_norm / bnorm : 0), info.setup_seconds, info.solve_seconds, out));
  if (hashist) {
    PetscErrorCode ierr = 0;

    if (!rank) ierr = write_history(hist, &info, bnorm);
    PetscCall(share_result(ierr));
  }
  if (hasgeom) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "deepcd solve: wrote %s and %s (the solution and the obstacle surfaces sdf = 0)\n", g.xmf, g.h5));
  *failed = info.reason < 0 ? PETSC_TRUE : PETSC_FALSE;

  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode run(const char problemfile[], PetscBool *failed)
{
  SolveRun       r;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&r, sizeof(r)));
  ierr = run_body(problemfile, &r, failed);
  PetscCall(solve_cleanup(&r)); /* on every path */
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

int DeepCDCmdSolve(int argc, char **argv)
{
  const char    *problemfile = NULL;
  char         **pargv;
  int            pargc = 0;
  PetscErrorCode ierr;
  PetscBool      failed = PETSC_FALSE, helpflg = PETSC_FALSE;
  int            status;

  /* The problem file is the first argument after "solve"; PETSc sees the rest. */
  if (DeepCDCLISplitFirst(argc, argv, &problemfile, &pargc, &pargv)) return 1;
  ierr = DeepCDCLIInitialize(&pargc, &pargv, help);
  if (ierr) {
    fprintf(stderr, "deepcd solve: error: PETSc failed to start\n");
    free(pargv);
    return 1;
  }
  ierr = PetscOptionsHasHelp(NULL, &helpflg);
  if (!ierr && helpflg && !problemfile) {
    char      out[PETSC_MAX_PATH_LEN] = "", geom[PETSC_MAX_PATH_LEN] = "", hist[PETSC_MAX_PATH_LEN] = "";
    PetscBool hasout, hasgeom, hashist;

    /* list the options without a problem */
    ierr = get_output(out, sizeof(out), &hasout, geom, sizeof(geom), &hasgeom, hist, sizeof(hist), &hashist);
    if (!ierr) ierr = DeepCDCLISolveHelp();
  } else if (!ierr)
    ierr = run(problemfile, &failed);
  if (!ierr && !helpflg) ierr = DeepCDCLIWarnUnusedOptions("solve");
  status = DeepCDCLIFinalize(ierr ? DeepCDCLIFail("solve", ierr) : (failed ? 3 : 0));
  free(pargv);
  return status;
}
