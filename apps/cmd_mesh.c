/* deepcd mesh: the isosurface of a problem's sdf or of a solution, with
   FlexiCubes (docs/options.md, docs/mesh.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <deepcd.h>
#include <deepcd/mesh.h>
#include <deepcd/mesh_output.h>
#include "cli.h"
#include <deepcd/private/petsccompat.h>
#include <deepcd/private/h5util.h>

static const char help[] = "deepcd mesh: extracts an isosurface (try 'deepcd mesh --help').\n";

static void MeshUsage(FILE *f)
{
  fprintf(f, "usage: deepcd mesh FIELD.h5 [--dataset NAME] [--iso V] [--close] [--tets] [--weights W.h5] -o OUT.{obj,ply,xdmf}\n"
             "\n"
             "Extracts the isosurface field = V of a problem or solution file with\n"
             "FlexiCubes (Dual Marching Cubes) and writes it as a triangle mesh.\n"
             "\n"
             "options:\n"
             "  --dataset NAME       the field: default 'sdf' (corner values) for a problem\n"
             "                       file, 'x' (cell values, meshed on the grid of cell\n"
             "                       centres) for a solution file\n"
             "  --iso V              the isovalue; inside is field < V (default 0 for a\n"
             "                       corner field such as sdf; required for a cell field\n"
             "                       such as x)\n"
             "  --close              close surfaces that reach the grid's boundary with\n"
             "                       caps on the boundary faces (default: left open)\n"
             "  --tets               also fill the inside with tetrahedra (needs .xdmf\n"
             "                       output and a closed surface; with --close the caps\n"
             "                       sit up to half a cell outside the boundary faces)\n"
             "  --weights W.h5       FlexiCubes weights (alpha, beta, gamma) and a grid\n"
             "                       deformation for the field's grid, e.g. from\n"
             "                       examples/mesh-fit --weights-out (docs/formats.md)\n"
             "  -o, --output OUT     .obj (text), .ply (binary) or .xdmf/.xmf (writes\n"
             "                       OUT.xdmf and the HDF5 file OUT.h5 beside it);\n"
             "                       replaced if it exists (required)\n"
             "  -h, --help           prints this message\n");
}

typedef struct {
  const char *input, *dataset, *iso, *output, *weights;
  int         close, tets;
} MeshArgs;

/* Splits argv without PETSc (not started yet). Returns 1 for help; puts a
   syntax error's text in err. */
static int MeshParseArgs(int argc, char **argv, MeshArgs *a, char err[], size_t lerr)
{
  const DeepCDCLIOption opts[] = {
    { "--dataset", &a->dataset, NULL },
    { "--iso", &a->iso, NULL },
    { "-o", &a->output, NULL },
    { "--output", &a->output, NULL },
    { "--close", NULL, &a->close },
    { "--tets", NULL, &a->tets },
    { "--weights", &a->weights, NULL },
  };
  const char *pos[1] = { NULL };
  int         npos;

  *a = (MeshArgs){ NULL };
  if (DeepCDCLIParseArgs(argc, argv, "mesh", opts, (int) (sizeof(opts) / sizeof(opts[0])), pos, 1, &npos, err, lerr)) return 1;
  a->input = pos[0];
  if (err[0]) return 0;
  if (!a->input)
    snprintf(err, lerr, "no input file given (usage: deepcd mesh FIELD.h5 [--dataset NAME] [--iso V] [--close] [--tets] [--weights W.h5] -o OUT.{obj,ply,xdmf})");
  else if (!a->output)
    snprintf(err, lerr, "no output file given (-o OUT.obj, OUT.ply or OUT.xdmf)");
  return 0;
}

typedef enum { MESH_OUT_OBJ,
               MESH_OUT_PLY,
               MESH_OUT_XDMF } MeshOutKind;

typedef struct {
  MeshOutKind kind;
  double      iso;
  PetscBool   has_iso;
  char        h5[PETSC_MAX_PATH_LEN]; /* the HDF5 part of an XDMF output */
} MeshConfig;

/* Every process checks the options, so all of them fail the same way. */
static PetscErrorCode MeshConfigure(const MeshArgs *a, const char syntax[], MeshConfig *cfg)
{
  const char *dot, *slash;

  PetscFunctionBegin;
  PetscCheck(!syntax[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "%s", syntax);
  cfg->has_iso = PETSC_FALSE;
  cfg->iso     = 0;
  if (a->iso) {
    char *end = NULL;

    errno    = 0;
    cfg->iso = strtod(a->iso, &end);
    PetscCheck(end != a->iso && !*end && !errno && isfinite(cfg->iso), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option --iso: '%s' is not a finite number", a->iso);
    cfg->has_iso = PETSC_TRUE;
  }
  PetscCheck(!a->dataset || a->dataset[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option --dataset: empty name");
  PetscCheck(!a->weights || a->weights[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option --weights: empty file name");
  dot   = strrchr(a->output, '.');
  slash = strrchr(a->output, '/');
  if (dot && slash && dot < slash) dot = NULL;
  PetscCheck(dot && dot[1], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "-o %s: no file extension (use .obj, .ply, .xdmf or .xmf)", a->output);
  if (!strcasecmp(dot, ".obj"))
    cfg->kind = MESH_OUT_OBJ;
  else if (!strcasecmp(dot, ".ply"))
    cfg->kind = MESH_OUT_PLY;
  else if (!strcasecmp(dot, ".xdmf") || !strcasecmp(dot, ".xmf"))
    cfg->kind = MESH_OUT_XDMF;
  else
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "-o %s: unknown extension '%s' (use .obj, .ply, .xdmf or .xmf)", a->output, dot);
  PetscCheck(!a->tets || cfg->kind == MESH_OUT_XDMF, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "--tets: -o %s: OBJ and PLY files hold surfaces only; write the tetrahedra with -o OUT.xdmf", a->output);
  cfg->h5[0] = 0;
  if (cfg->kind == MESH_OUT_XDMF) {
    size_t stem = (size_t) (dot - a->output);

    PetscCheck(stem + 4 < sizeof(cfg->h5), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "-o %s: path too long", a->output);
    memcpy(cfg->h5, a->output, stem);
    strcpy(cfg->h5 + stem, ".h5");
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Refuses an output path that names the input file (it would be replaced). */
static PetscErrorCode MeshCheckNotInput(const char input[], const char out[])
{
  struct stat si, so;

  PetscFunctionBegin;
  if (stat(input, &si) || stat(out, &so)) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(si.st_dev != so.st_dev || si.st_ino != so.st_ino, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "output %s is the input file (it would be replaced); choose another -o", out);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode MeshCheckLib(mesh_err e, const char what[])
{
  PetscFunctionBegin;
  PetscCheck(!e, PETSC_COMM_SELF, e == MESH_ERR_MEM ? PETSC_ERR_MEM : (e == MESH_ERR_IO ? PETSC_ERR_FILE_WRITE : PETSC_ERR_LIB), "%s: %s", what, mesh_error_message());
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Refuses, in one line, an output for which the file system lacks the room: 3 float64 per vertex and
   3 int32 per triangle (a tet counts as two), doubled for the text of OBJ and HDF5's metadata, plus 1 MiB. */
static PetscErrorCode MeshCheckRoom(const char out[], double nverts, double ntris)
{
  PetscFunctionBegin;
  PetscCall(DeepCDH5CheckRoom(PETSC_COMM_SELF, out, 2.0 * (24.0 * nverts + 12.0 * ntris) + 1048576.0, "mesh"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The tets of the extracted surface, written with their boundary. */
static PetscErrorCode MeshWriteTets(const MeshArgs *a, const MeshConfig *cfg, const DeepCDMeshField *field, const mesh_flexicubes_options *opt, const mesh_surface *surf, mesh_tets **tets)
{
  const char *base = strrchr(a->input, '/');
  mesh_stats  st;

  PetscFunctionBegin;
  PetscCall(MeshCheckLib(mesh_stats_compute(surf->nverts, surf->verts, surf->ntris, surf->tris, 0.0, &st), "mesh statistics"));
  PetscCheck(st.closed_manifold, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "%s: the surface reaches the grid's boundary and is open there: --tets needs --close", a->input);
  PetscCall(MeshCheckLib(mesh_tets_build(&field->grid, field->field, opt, surf, tets), a->input));
  PetscCall(MeshCheckLib(mesh_stats_compute((*tets)->nverts, (*tets)->verts, (*tets)->ntris, (*tets)->tris, 0.0, &st), "mesh statistics"));
  PetscCall(MeshCheckRoom(a->output, (*tets)->nverts, (*tets)->ntris + 2.0 * (*tets)->ntets));
  PetscCall(DeepCDMeshWriteTetsXDMF(*tets, a->output, cfg->h5, base ? base + 1 : a->input, field->dataset, opt->iso));
  printf("deepcd mesh: wrote %s (%d vertices, %d tetrahedra, %d boundary triangles, closed: %s, Euler characteristic %lld)\n", a->output, (int) (*tets)->nverts, (int) (*tets)->ntets, (int) (*tets)->ntris, st.closed_manifold ? "yes" : "no",
         (long long) st.euler);
  if ((*tets)->nonpositive) {
    char v[64];

    snprintf(v, sizeof(v), "%g", (*tets)->min_volume);
    fprintf(stderr, "deepcd mesh: warning: %lld of %d tetrahedra have a non-positive volume (smallest %s)\n", (long long) (*tets)->nonpositive, (int) (*tets)->ntets, v);
  }
  fflush(stdout);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode MeshRunInner(const MeshArgs *a, const MeshConfig *cfg, DeepCDMeshField *field, DeepCDMeshWeights *w, mesh_surface **surf, mesh_tets **tets)
{
  mesh_flexicubes_options opt;
  mesh_stats              st;
  char                    isos[64], lo[64], hi[64];
  double                  iso;
  mesh_err                e;

  PetscFunctionBegin;
  PetscCall(DeepCDCLICheckOutputDir(PETSC_COMM_SELF, "-o", a->output));
  if (cfg->kind == MESH_OUT_XDMF) PetscCall(DeepCDCLICheckOutputDir(PETSC_COMM_SELF, "-o", cfg->h5));
  PetscCall(MeshCheckNotInput(a->input, a->output));
  if (cfg->kind == MESH_OUT_XDMF) PetscCall(MeshCheckNotInput(a->input, cfg->h5));
  if (a->weights) {
    PetscCall(MeshCheckNotInput(a->weights, a->output));
    if (cfg->kind == MESH_OUT_XDMF) PetscCall(MeshCheckNotInput(a->weights, cfg->h5));
  }
  PetscCall(DeepCDMeshFieldLoad(a->input, a->dataset, field));
  PetscCheck(!field->cell || cfg->has_iso, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "%s: dataset '%s' holds cell values: give the isovalue with --iso V", a->input, field->dataset);
  iso = cfg->iso;
  PetscCall(MeshCheckLib(mesh_flexicubes_options_default(&opt), "flexicubes"));
  opt.iso   = iso;
  opt.close = a->close;
  if (a->weights) {
    PetscCall(DeepCDMeshWeightsLoad(a->weights, &field->grid, w));
    opt.alpha        = w->alpha;
    opt.beta         = w->beta;
    opt.gamma        = w->gamma;
    opt.deform       = w->deform;
    opt.weight_scale = w->weight_scale;
  }
  /* caps exactly on the boundary faces would lie flat on the boundary
     vertices and flatten the tets there: put the padding at the largest
     |field - iso|, so the caps sit up to half a cell outside */
  if (a->tets && a->close) opt.close_value = PetscMax(PetscMax(PetscAbsReal(field->max - iso), PetscAbsReal(field->min - iso)), 1e-300);
  /* the dimensions fit an int: checked against PetscInt (32-bit) in the loader */
  e = flexicubes_extract(&field->grid, field->field, &opt, surf);
  PetscCall(MeshCheckLib(e, a->input));
  /* plain C formatting: PETSc's %g prints "0." */
  snprintf(isos, sizeof(isos), "%g", iso);
  snprintf(lo, sizeof(lo), "%g", field->min);
  snprintf(hi, sizeof(hi), "%g", field->max);
  /* every value inside (below V): the only surface is the grid's boundary, which --close caps */
  PetscCheck((*surf)->ntris > 0 || a->close || !(field->max < iso), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%s: no surface at iso %s in dataset '%s' inside the grid: all its values (%s to %s) are below %s, so the surface lies on the grid's boundary, which is open; give --close to get it", a->input, isos, field->dataset, lo, hi, isos);
  PetscCheck((*surf)->ntris > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%s: no surface at iso %s in dataset '%s' (its values range from %s to %s)", a->input, isos, field->dataset, lo, hi);
  if (a->tets) {
    PetscCall(MeshWriteTets(a, cfg, field, &opt, *surf, tets));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(MeshCheckLib(mesh_stats_compute((*surf)->nverts, (*surf)->verts, (*surf)->ntris, (*surf)->tris, 0.0, &st), "mesh statistics"));
  PetscCall(MeshCheckRoom(a->output, (*surf)->nverts, (*surf)->ntris));
  switch (cfg->kind) {
  case MESH_OUT_OBJ:
    PetscCall(MeshCheckLib(mesh_write_obj(a->output, (*surf)->nverts, (*surf)->verts, (*surf)->ntris, (*surf)->tris), a->output));
    break;
  case MESH_OUT_PLY:
    PetscCall(MeshCheckLib(mesh_write_ply(a->output, (*surf)->nverts, (*surf)->verts, (*surf)->ntris, (*surf)->tris), a->output));
    break;
  case MESH_OUT_XDMF: {
    const char *base = strrchr(a->input, '/');

    PetscCall(DeepCDMeshWriteXDMF(*surf, a->output, cfg->h5, base ? base + 1 : a->input, field->dataset, iso));
    break;
  }
  }
  printf("deepcd mesh: wrote %s (%d vertices, %d triangles, closed: %s, Euler characteristic %lld)\n", a->output, (int) (*surf)->nverts, (int) (*surf)->ntris, st.closed_manifold ? "yes" : "no", (long long) st.euler);
  fflush(stdout);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode MeshRun(const MeshArgs *a, const MeshConfig *cfg)
{
  DeepCDMeshField   field;
  DeepCDMeshWeights w;
  mesh_surface     *surf = NULL;
  mesh_tets        *tets = NULL;
  PetscErrorCode    ierr;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&field, sizeof(field)));
  PetscCall(PetscMemzero(&w, sizeof(w)));
  ierr = MeshRunInner(a, cfg, &field, &w, &surf, &tets);
  mesh_tets_destroy(&tets);
  mesh_surface_destroy(&surf);
  PetscCall(DeepCDMeshWeightsDestroy(&w));
  PetscCall(DeepCDMeshFieldDestroy(&field));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

int DeepCDCmdMesh(int argc, char **argv)
{
  MeshArgs       args;
  MeshConfig     cfg;
  char           syntax[PETSC_MAX_PATH_LEN + 256];
  char          *pargvbuf[2] = { argv[0], NULL };
  char         **pargv       = pargvbuf;
  int            pargc = 1, status = 0;
  PetscMPIInt    rank = 0;
  PetscErrorCode ierr;

  if (MeshParseArgs(argc, argv, &args, syntax, sizeof(syntax))) {
    MeshUsage(stdout);
    return 0;
  }
  /* PETSc sees none of our --options (it would complain about them). */
  ierr = DeepCDCLIInitialize(&pargc, &pargv, help);
  if (ierr) return DeepCDCLIFinalize(DeepCDCLIFail("mesh", ierr));
  ierr = MeshConfigure(&args, syntax, &cfg);
  if (!ierr) {
    /* one process reads and writes; the others learn how it went */
    if (MPI_Comm_rank(PETSC_COMM_WORLD, &rank) == MPI_SUCCESS && !rank) ierr = MeshRun(&args, &cfg);
    ierr = DeepCDCLIShareStatus(ierr);
  }
  if (ierr) status = DeepCDCLIFail("mesh", ierr);
  return DeepCDCLIFinalize(status);
}
