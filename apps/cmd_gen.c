/* deepcd gen: writes a synthetic problem file (docs/options.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <deepcd.h>
#include <deepcd/mesh.h>
#include "cli.h"
#include <deepcd/private/petsccompat.h>

static const char help[] = "deepcd gen: writes a synthetic problem file (try 'deepcd gen --help').\n";

static void GenUsage(FILE *f)
{
  fprintf(f, "usage: deepcd gen (--scene S | --sdf-from-mesh M.obj [--scene S])\n"
             "                  (--n N | --nx X --ny Y --nz Z) [--seed K] -o FILE\n"
             "\n"
             "Writes a synthetic problem file (HDF5, docs/formats.md).\n"
             "\n"
             "options:\n"
             "  --scene S            empty, spheres, plume, random or plates (required unless\n"
             "                       --sdf-from-mesh; then its walls and right-hand side\n"
             "                       are kept, default empty)\n"
             "  --sdf-from-mesh M    the obstacles are the closed triangle mesh M (Wavefront\n"
             "                       OBJ, outward faces) placed as given in the domain\n"
             "                       [0, nx h] x [0, ny h] x [0, nz h], h = 1/max(nx,ny,nz);\n"
             "                       it replaces the scene's obstacles\n"
             "  --n N                cells in each direction\n"
             "  --nx X, --ny Y, --nz Z\n"
             "                       cells in one direction (each defaults to N)\n"
             "  --seed K             seed of the scene's random numbers (default 0);\n"
             "                       the same seed gives the same file on every machine\n"
             "  -o, --output FILE    the file to write (required; replaced if it exists)\n"
             "  -h, --help           prints this message\n");
}

typedef struct {
  const char *scene, *n, *nx, *ny, *nz, *seed, *output, *mesh;
} GenArgs;

/* Splits argv into option values without PETSc (it is not started yet).
   Returns 1 when help was asked for; puts a syntax error's text in err. */
static int GenParseArgs(int argc, char **argv, GenArgs *a, char err[], size_t lerr)
{
  const DeepCDCLIOption opts[] = {
    { "--scene", &a->scene, NULL },
    { "--n", &a->n, NULL },
    { "--nx", &a->nx, NULL },
    { "--ny", &a->ny, NULL },
    { "--nz", &a->nz, NULL },
    { "--seed", &a->seed, NULL },
    { "-o", &a->output, NULL },
    { "--output", &a->output, NULL },
    { "--sdf-from-mesh", &a->mesh, NULL },
  };
  int npos;

  *a = (GenArgs){ NULL };
  if (DeepCDCLIParseArgs(argc, argv, "gen", opts, (int) (sizeof(opts) / sizeof(opts[0])), NULL, 0, &npos, err, lerr)) return 1;
  if (err[0]) return 0;
  if (!a->scene && a->mesh) a->scene = "empty";
  if (!a->scene)
    snprintf(err, lerr, "missing --scene S (one of empty, spheres, plume, random, plates)");
  else if (!a->output)
    snprintf(err, lerr, "missing -o FILE (the problem file to write)");
  else if (!a->n && !(a->nx && a->ny && a->nz))
    snprintf(err, lerr, "missing --n N (or all of --nx X --ny Y --nz Z)");
  return 0;
}

static PetscErrorCode GenParseSize(const char opt[], const char text[], PetscInt *value)
{
  PetscFunctionBegin;
  PetscCall(DeepCDCLIParseInt("gen", opt, text, value));
  PetscCheck(*value >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option %s: '%s' must be at least 1", opt, text);
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  DeepCDSceneType scene;
  PetscInt        nx, ny, nz, seed;
} GenConfig;

/* Every process checks the options, so all of them fail the same way. */
static PetscErrorCode GenConfigure(const GenArgs *a, const char syntax[], GenConfig *cfg)
{
  PetscInt n = 0;

  PetscFunctionBegin;
  PetscCheck(!syntax[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "%s", syntax);
  PetscCall(DeepCDSceneTypeFromString(a->scene, &cfg->scene));
  if (a->n) PetscCall(GenParseSize("--n", a->n, &n));
  cfg->nx = cfg->ny = cfg->nz = n;
  if (a->nx) PetscCall(GenParseSize("--nx", a->nx, &cfg->nx));
  if (a->ny) PetscCall(GenParseSize("--ny", a->ny, &cfg->ny));
  if (a->nz) PetscCall(GenParseSize("--nz", a->nz, &cfg->nz));
  cfg->seed = 0;
  if (a->seed) PetscCall(DeepCDCLIParseInt("gen", "--seed", a->seed, &cfg->seed));
  if (a->mesh) PetscCall(DeepCDCLICheckNotInput(PETSC_COMM_SELF, "-o", a->output, a->output, 1, &a->mesh, "mesh file"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The obstacles from a closed triangle mesh: the sdf is the mesh's signed
   distance alone, solid follows from it, and the scene's rhs is zeroed on
   the new solid cells (the scene's walls are kept). */
static PetscErrorCode GenSDFFromMesh(DeepCDProblemData *data, const char mesh[])
{
  int32_t   nverts = 0, ntris = 0;
  double   *verts = NULL, *sdf = NULL;
  int32_t  *tris = NULL;
  mesh_err  merr;
  mesh_grid grid;
  PetscInt  nvert = (data->nx + 1) * (data->ny + 1) * (data->nz + 1), ncells = data->nx * data->ny * data->nz;

  PetscFunctionBegin;
  merr = mesh_read_obj(mesh, &nverts, &verts, &ntris, &tris);
  PetscCheck(!merr, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s", mesh_error_message());
  {
    /* an open or degenerate mesh has no well-defined inside: say so (the sdf is still its distance) */
    mesh_stats st;

    if (!mesh_stats_compute(nverts, verts, ntris, tris, 0.0, &st)) {
      if (st.degenerate_triangles) fprintf(stderr, "deepcd gen: warning: %s: %lld of %d triangles are degenerate (zero area or a repeated vertex)\n", mesh, (long long) st.degenerate_triangles, (int) ntris);
      if (!st.closed_manifold)
        fprintf(stderr, "deepcd gen: warning: %s: the mesh is not closed (%lld boundary, %lld non-manifold, %lld misoriented edges, %lld non-manifold vertices): its inside is ill-defined\n", mesh, (long long) st.boundary_edges, (long long) st.nonmanifold_edges, (long long) st.misoriented_edges, (long long) st.nonmanifold_vertices);
    }
  }
  grid.dims[0] = (int) data->nx;
  grid.dims[1] = (int) data->ny;
  grid.dims[2] = (int) data->nz;
  for (int k = 0; k < 3; k++) {
    grid.origin[k]  = 0;
    grid.spacing[k] = (double) data->h;
  }
  sdf = (double *) malloc((size_t) nvert * sizeof(double));
  if (!sdf)
    merr = MESH_ERR_MEM;
  else
    merr = sdf_from_mesh(&grid, nverts, verts, ntris, tris, sdf);
  free(verts);
  free(tris);
  if (merr) free(sdf);
  PetscCheck(merr != MESH_ERR_MEM || sdf, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory for the sdf of %s", mesh);
  PetscCheck(!merr, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "%s: %s", mesh, mesh_error_message());
  for (PetscInt v = 0; v < nvert; v++) data->sdf[v] = (PetscReal) sdf[v];
  free(sdf);
  PetscCall(DeepCDSolidFromSDF(data->nx, data->ny, data->nz, data->sdf, data->solid));
  {
    PetscInt nsolid = 0;

    for (PetscInt c = 0; c < ncells; c++)
      if (data->solid[c]) data->rhs[c] = 0.0, nsolid++;
    if (!nsolid) fprintf(stderr, "deepcd gen: warning: %s: no cell of the grid is inside the mesh: the problem has no solid\n", mesh);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode GenWrite(const GenConfig *cfg, const char output[], const char mesh[])
{
  DeepCDProblemData *data  = NULL;
  PetscInt           solid = 0, ncells;

  PetscFunctionBegin;
  PetscCall(DeepCDSceneGenerate(cfg->scene, cfg->nx, cfg->ny, cfg->nz, (unsigned long) cfg->seed, &data));
  if (mesh) {
    /* free the problem before reporting a mesh failure */
    PetscErrorCode ierr = GenSDFFromMesh(data, mesh);

    if (ierr) PetscCall(DeepCDProblemDataDestroy(&data));
    PetscCall(ierr);
  }
  {
    /* free the problem before reporting a write failure */
    PetscErrorCode ierr = DeepCDProblemDataWrite(data, output);

    if (ierr) PetscCall(DeepCDProblemDataDestroy(&data));
    PetscCall(ierr);
  }
  ncells = data->nx * data->ny * data->nz;
  for (PetscInt c = 0; c < ncells; c++) solid += data->solid[c];
  printf("deepcd gen: wrote %s (scene %s%s%s, %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " cells, %" PetscInt_FMT " solid, boundary %s)\n", output, DeepCDSceneTypes[cfg->scene], mesh ? ", obstacles from " : "", mesh ? mesh : "", data->nx, data->ny, data->nz, solid, data->boundary);
  fflush(stdout);
  PetscCall(DeepCDProblemDataDestroy(&data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int DeepCDCmdGen(int argc, char **argv)
{
  GenArgs        args;
  GenConfig      cfg;
  char           syntax[PETSC_MAX_PATH_LEN + 128];
  char          *pargvbuf[2] = { argv[0], NULL };
  char         **pargv       = pargvbuf;
  int            pargc = 1, status = 0;
  PetscMPIInt    rank = 0;
  PetscErrorCode ierr;

  if (GenParseArgs(argc, argv, &args, syntax, sizeof(syntax))) {
    GenUsage(stdout);
    return 0;
  }
  /* PETSc sees none of our --options (it would complain about them). */
  ierr = DeepCDCLIInitialize(&pargc, &pargv, help);
  if (ierr) {
    return DeepCDCLIFinalize(DeepCDCLIFail("gen", ierr));
  }
  ierr = GenConfigure(&args, syntax, &cfg);
  if (!ierr) {
    /* one process writes the file; the others learn how it went */
    if (MPI_Comm_rank(PETSC_COMM_WORLD, &rank) == MPI_SUCCESS && !rank) ierr = GenWrite(&cfg, args.output, args.mesh);
    ierr = DeepCDCLIShareStatus(ierr);
  }
  if (ierr) status = DeepCDCLIFail("gen", ierr);
  return DeepCDCLIFinalize(status);
}
