/* deepcd mesh: the field to mesh (from a problem or solution file) and the
   HDF5 + XDMF surface writer (include/deepcd/mesh_output.h,
   docs/formats.md "Mesh output"). Serial, plain HDF5. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <deepcd/mesh_output.h>
#include <deepcd/problem.h>
#include <deepcd/solution.h>
#include <deepcd/private/h5util.h>
#include <deepcd/private/petsccompat.h>

typedef struct {
  const char      *file, *dataset;
  DeepCDMeshField *f;
} FieldRead;

/* Reads the header, checks the dataset and reads it (the body of DeepCDH5WithFile). */
static PetscErrorCode field_read(hid_t fid, void *ctx)
{
  const char      *file = ((FieldRead *) ctx)->file, *dataset = ((FieldRead *) ctx)->dataset;
  DeepCDMeshField *f    = ((FieldRead *) ctx)->f;
  MPI_Comm         comm = PETSC_COMM_SELF;
  PetscBool        isproblem;
  DeepCDH5Info     info;
  PetscInt         nx, ny, nz, count[3], start[3] = { 0, 0, 0 };
  size_t           n;
  PetscBool        ok;

  PetscFunctionBegin;
  {
    const char *const formats[2]  = { DEEPCD_PROBLEM_FORMAT, DEEPCD_SOLUTION_FORMAT };
    const int         versions[2] = { DEEPCD_PROBLEM_VERSION, DEEPCD_SOLUTION_VERSION };
    int               which;

    PetscCall(DeepCDH5CheckHeader(comm, file, fid, 2, formats, versions, "problem or solution file", &which));
    PetscCall(PetscStrncpy(f->format, formats[which], sizeof(f->format)));
    isproblem = which == 0 ? PETSC_TRUE : PETSC_FALSE;
  }
  PetscCall(DeepCDH5ReadAttrInt(comm, file, fid, "nx", &f->nx));
  PetscCall(DeepCDH5ReadAttrInt(comm, file, fid, "ny", &f->ny));
  PetscCall(DeepCDH5ReadAttrInt(comm, file, fid, "nz", &f->nz));
  nx = f->nx;
  ny = f->ny;
  nz = f->nz;
  PetscCheck(nx >= 1 && ny >= 1 && nz >= 1, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attributes 'nx', 'ny', 'nz' = %" PetscInt_FMT ", %" PetscInt_FMT ", %" PetscInt_FMT ": each must be >= 1", file, nx, ny, nz);
  PetscCheck(nx < PETSC_MAX_INT && ny < PETSC_MAX_INT && nz < PETSC_MAX_INT, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attributes 'nx', 'ny', 'nz' are too large", file);
  PetscCall(DeepCDH5ReadAttrReal(comm, file, fid, "h", &f->h));
  if (!(f->h > 0 && isfinite((double) f->h))) {
    char hs[64];

    snprintf(hs, sizeof(hs), "%g", (double) f->h);
    SETERRQ(comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute 'h' = %s must be a positive finite number", file, hs);
  }

  if (!dataset || !dataset[0]) dataset = isproblem ? "sdf" : "x";
  PetscCall(PetscStrncpy(f->dataset, dataset, sizeof(f->dataset)));
  PetscCall(DeepCDH5DatasetInfo(comm, file, fid, dataset, &info));
  PetscCheck(info.exists, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s' is missing", file, dataset);
  PetscCheck(info.tclass == H5T_FLOAT && (info.tsize == 4 || info.tsize == 8), comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': type is not float64 or float32", file, dataset);
  PetscCheck(info.rank == 3, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': has %d dimensions, expected 3", file, dataset, info.rank);
  if (info.dims[0] == (hsize_t) nz + 1 && info.dims[1] == (hsize_t) ny + 1 && info.dims[2] == (hsize_t) nx + 1) {
    f->cell  = PETSC_FALSE;
    count[0] = nx + 1;
    count[1] = ny + 1;
    count[2] = nz + 1;
  } else if (info.dims[0] == (hsize_t) nz && info.dims[1] == (hsize_t) ny && info.dims[2] == (hsize_t) nx) {
    f->cell = PETSC_TRUE;
    PetscCheck(nx >= 2 && ny >= 2 && nz >= 2, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s' is a cell field on %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " cells: an isosurface of cell values needs at least 2 cells along each axis", file, dataset, nx, ny, nz);
    count[0] = nx;
    count[1] = ny;
    count[2] = nz;
  } else {
    SETERRQ(comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': shape (%llu, %llu, %llu) is neither the corners (nz+1, ny+1, nx+1) = (%" PetscInt_FMT ", %" PetscInt_FMT ", %" PetscInt_FMT ") nor the cells (nz, ny, nx) = (%" PetscInt_FMT ", %" PetscInt_FMT ", %" PetscInt_FMT ")", file, dataset,
            (unsigned long long) info.dims[0], (unsigned long long) info.dims[1], (unsigned long long) info.dims[2], nz + 1, ny + 1, nx + 1, nz, ny, nx);
  }
  n = (size_t) count[0] * (size_t) count[1] * (size_t) count[2];
  PetscCall(PetscMalloc1(n, &f->field));
  PetscCall(DeepCDH5ReadBox(file, fid, dataset, H5T_NATIVE_DOUBLE, start, count, f->field, &ok));
  PetscCheck(ok, comm, PETSC_ERR_FILE_READ, "%s: dataset '%s': read failed (corrupt or truncated data)", file, dataset);
  f->min = INFINITY;
  f->max = -INFINITY;
  for (size_t c = 0; c < n; c++) {
    double v = f->field[c];

    if (!isfinite(v)) {
      size_t i = c % (size_t) count[0], j = (c / (size_t) count[0]) % (size_t) count[1], k = c / ((size_t) count[0] * (size_t) count[1]);

      SETERRQ(comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': %s at %s (x, y, z) = (%zu, %zu, %zu)", file, dataset, isnan(v) ? "NaN" : "Inf", f->cell ? "cell" : "corner", i, j, k);
    }
    if (v < f->min) f->min = v;
    if (v > f->max) f->max = v;
  }
  for (int d = 0; d < 3; d++) {
    f->grid.dims[d]    = (int) count[d] - 1;
    f->grid.origin[d]  = f->cell ? 0.5 * (double) f->h : 0.0;
    f->grid.spacing[d] = (double) f->h;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMeshFieldLoad - Reads the scalar field to mesh from a problem or
  solution file (serial). See include/deepcd/mesh_output.h.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMeshFieldLoad(const char file[], const char dataset[], DeepCDMeshField *f)
{
  FieldRead      c = { file, dataset, f };
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(f, sizeof(*f)));
  /* HDF5's own error stack would print pages; the checks give one line */
  ierr = DeepCDH5WithFile(PETSC_COMM_SELF, file, field_read, &c);
  if (ierr) {
    const PetscBool bare = DeepCDErrorIsBare(ierr);

    PetscCall(PetscFree(f->field));
    /* PETSc's own message for a failed allocation is only the name of the function */
    PetscCheck(ierr != PETSC_ERR_MEM && !bare, PETSC_COMM_SELF, PETSC_ERR_MEM, "%s: dataset '%s' on the grid %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " does not fit in memory (out of memory); mesh a smaller field", file, f->dataset, f->nx, f->ny, f->nz);
    PetscCall(ierr);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDMeshFieldDestroy(DeepCDMeshField *f)
{
  PetscFunctionBegin;
  if (f) PetscCall(PetscFree(f->field));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- writer ------------------------------------------------------------------ */

/* What the writers write: a triangle surface, optionally with tets on the
   same vertices (ntets < 0: none). */
typedef struct {
  int32_t        nverts, ntris, ntets;
  const double  *verts;
  const int32_t *tris, *tets;
} mesh_arrays;

/* The HDF5 file: the arrays and the attributes. */
typedef struct {
  const mesh_arrays *s;
  const char        *source, *dataset;
  double             iso;
} mesh_h5;

/* Fills the HDF5 file (deepcd_h5_fill_fn); nonzero on failure. */
static int fill_h5(hid_t fid, const char *path, const void *ctx, deepcd_h5_error *e)
{
  const mesh_h5     *h       = (const mesh_h5 *) ctx;
  const mesh_arrays *s       = h->s;
  const int          version = DEEPCD_MESH_VERSION;
  const hsize_t      dv[2] = { (hsize_t) s->nverts, 3 }, dt[2] = { (hsize_t) s->ntris, 3 }, dT[2] = { (hsize_t) (s->ntets > 0 ? s->ntets : 0), 4 };

  return deepcd_h5_write_whole(fid, "vertices", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dv, s->verts) || deepcd_h5_write_whole(fid, "triangles", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, dt, s->tris) ||
         (s->ntets >= 0 && deepcd_h5_write_whole(fid, "tetrahedra", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, dT, s->tets)) || deepcd_h5_write_attr_string(fid, "format", DEEPCD_MESH_FORMAT) ||
         deepcd_h5_write_attr(fid, "version", H5T_STD_I32LE, H5T_NATIVE_INT, 0, &version) || deepcd_h5_write_attr_string(fid, "source", h->source ? h->source : "") ||
         deepcd_h5_write_attr_string(fid, "dataset", h->dataset ? h->dataset : "") || deepcd_h5_write_attr_real(fid, "iso", h->iso);
}

static void xml_escaped(FILE *f, const char *s)
{
  for (; *s; s++) {
    switch (*s) {
    case '&':
      fputs("&amp;", f);
      break;
    case '<':
      fputs("&lt;", f);
      break;
    case '>':
      fputs("&gt;", f);
      break;
    case '"':
      fputs("&quot;", f);
      break;
    default:
      fputc(*s, f);
    }
  }
}

/* One unstructured grid of the HDF5 file: `topology` Triangle (dataset
   triangles) or Tetrahedron (tetrahedra) on the vertices. */
static void xmf_mesh_grid(FILE *f, const char indent[], const char name[], const char topology[], const char cells[], long ncells, int per_cell, long nv, const char h5base[])
{
  fprintf(f, "%s<Grid Name=\"%s\" GridType=\"Uniform\">\n", indent, name);
  fprintf(f, "%s <Topology TopologyType=\"%s\" NumberOfElements=\"%ld\">\n", indent, topology, ncells);
  fprintf(f, "%s  <DataItem Dimensions=\"%ld %d\" NumberType=\"Int\" Precision=\"4\" Format=\"HDF\">", indent, ncells, per_cell);
  xml_escaped(f, h5base);
  fprintf(f, ":/%s</DataItem>\n%s </Topology>\n", cells, indent);
  fprintf(f, "%s <Geometry GeometryType=\"XYZ\">\n", indent);
  fprintf(f, "%s  <DataItem Dimensions=\"%ld 3\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">", indent, nv);
  xml_escaped(f, h5base);
  fprintf(f, ":/vertices</DataItem>\n%s </Geometry>\n%s</Grid>\n", indent, indent);
}

/* Returns nonzero on failure. `h5base` is the HDF5 file's final base name.
   The surface alone, or a spatial collection of the tets and their
   boundary triangles. */
static int write_xmf(const mesh_arrays *s, const char path[], const char h5base[])
{
  FILE *f  = fopen(path, "w");
  long  nv = (long) s->nverts, nt = (long) s->ntris;

  if (!f) return 1;
  fprintf(f, "<?xml version=\"1.0\" ?>\n<Xdmf Version=\"3.0\">\n <Domain>\n");
  if (s->ntets < 0)
    xmf_mesh_grid(f, "  ", "deepcd-mesh", "Triangle", "triangles", nt, 3, nv, h5base);
  else {
    fprintf(f, "  <Grid Name=\"deepcd-mesh\" GridType=\"Collection\" CollectionType=\"Spatial\">\n");
    xmf_mesh_grid(f, "   ", "tetrahedra", "Tetrahedron", "tetrahedra", (long) s->ntets, 4, nv, h5base);
    xmf_mesh_grid(f, "   ", "surface", "Triangle", "triangles", nt, 3, nv, h5base);
    fprintf(f, "  </Grid>\n");
  }
  fprintf(f, " </Domain>\n</Xdmf>\n");
  if (ferror(f)) {
    fclose(f);
    return 1;
  }
  return fclose(f) != 0;
}

/* The solution grid of DeepCDMeshWriteSolutionXDMF (NULL: the surface alone). */
typedef struct {
  PetscInt    nx, ny, nz;
  PetscReal   h;
  const char *h5ref;
} solution_grid;

/* Returns nonzero on failure. A spatial collection of the solution grid (as in
   the solution's own .xmf) and the triangle mesh. */
static int write_xmf_with_solution(const mesh_arrays *s, const char path[], const char h5base[], const solution_grid *g)
{
  FILE *f  = fopen(path, "w");
  long  nv = (long) s->nverts, nt = (long) s->ntris;

  if (!f) return 1;
  fprintf(f, "<?xml version=\"1.0\" ?>\n<Xdmf Version=\"3.0\">\n <Domain>\n  <Grid Name=\"deepcd\" GridType=\"Collection\" CollectionType=\"Spatial\">\n");
  fprintf(f, "   <Grid Name=\"solution\" GridType=\"Uniform\">\n");
  fprintf(f, "    <Topology TopologyType=\"3DCoRectMesh\" Dimensions=\"%d %d %d\"/>\n", (int) g->nz + 1, (int) g->ny + 1, (int) g->nx + 1);
  fprintf(f, "    <Geometry GeometryType=\"ORIGIN_DXDYDZ\">\n     <DataItem Dimensions=\"3\" Format=\"XML\">0 0 0</DataItem>\n");
  fprintf(f, "     <DataItem Dimensions=\"3\" Format=\"XML\">%.17g %.17g %.17g</DataItem>\n    </Geometry>\n", (double) g->h, (double) g->h, (double) g->h);
  fprintf(f, "    <Attribute Name=\"x\" AttributeType=\"Scalar\" Center=\"Cell\">\n");
  fprintf(f, "     <DataItem Dimensions=\"%d %d %d\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">", (int) g->nz, (int) g->ny, (int) g->nx);
  xml_escaped(f, g->h5ref);
  fprintf(f, ":/x</DataItem>\n    </Attribute>\n   </Grid>\n");
  xmf_mesh_grid(f, "   ", "geometry", "Triangle", "triangles", nt, 3, nv, h5base);
  fprintf(f, "  </Grid>\n </Domain>\n</Xdmf>\n");
  if (ferror(f)) {
    fclose(f);
    return 1;
  }
  return fclose(f) != 0;
}

static PetscErrorCode mesh_arrays_of_surface(const mesh_surface *surface, mesh_arrays *m)
{
  PetscFunctionBegin;
  PetscCheck(surface, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "DeepCDMeshWriteXDMF: NULL surface");
  m->nverts = surface->nverts;
  m->verts  = surface->verts;
  m->ntris  = surface->ntris;
  m->tris   = surface->tris;
  m->ntets  = -1;
  m->tets   = NULL;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Both files under temporary names, then renamed (the XDMF file first). */
static PetscErrorCode write_pair(const mesh_arrays *surface, const char xmfpath[], const char h5path[], const char source[], const char dataset[], double iso, const solution_grid *g)
{
  char            h5tmp[PETSC_MAX_PATH_LEN + 96], xmftmp[PETSC_MAX_PATH_LEN + 96];
  const char     *base;
  const mesh_h5   h = { surface, source, dataset, iso };
  deepcd_h5_error e;
  deepcd_h5_quiet q;
  hid_t           fid;
  int             bad;

  PetscFunctionBegin;
  PetscCheck(surface && xmfpath && h5path, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "DeepCDMeshWriteXDMF: NULL argument");
  PetscCheck(surface->nverts >= 0 && surface->ntris >= 0 && (surface->verts || !surface->nverts) && (surface->tris || !surface->ntris) && (surface->tets || surface->ntets <= 0), PETSC_COMM_SELF, PETSC_ERR_ARG_CORRUPT, "DeepCDMeshWriteXDMF: inconsistent mesh");
  PetscCheck(strcmp(xmfpath, h5path), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "%s: the XDMF and HDF5 files must have different names", xmfpath);
  PetscCall(DeepCDH5Raise(PETSC_COMM_SELF, deepcd_h5_tmp_name(h5tmp, sizeof(h5tmp), h5path, &e), &e));
  PetscCall(DeepCDH5Raise(PETSC_COMM_SELF, deepcd_h5_tmp_name(xmftmp, sizeof(xmftmp), xmfpath, &e), &e));
  base = strrchr(h5path, '/');
  base = base ? base + 1 : h5path;

  deepcd_h5_quiet_push(&q);
  bad = deepcd_h5_create(h5path, h5tmp, &fid, &e) != 0;
  if (!bad) {
    bad = fill_h5(fid, h5path, &h, &e);
    if (H5Fclose(fid) < 0) bad = 1;
  }
  deepcd_h5_quiet_pop(&q);
  if (bad) {
    (void) deepcd_h5_commit(h5tmp, h5path, 0, NULL);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: cannot write the file (directory missing or not writable?)", h5path);
  }
  if (g ? write_xmf_with_solution(surface, xmftmp, base, g) : write_xmf(surface, xmftmp, base)) {
    (void) deepcd_h5_commit_pair(xmftmp, xmfpath, h5tmp, h5path, 0, NULL);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: cannot write the file (directory missing or not writable?)", xmfpath);
  }
  /* the XDMF file first: when the HDF5 file is in place, its sidecar is too */
  PetscCall(DeepCDH5Raise(PETSC_COMM_SELF, deepcd_h5_commit_pair(xmftmp, xmfpath, h5tmp, h5path, 1, &e), &e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMeshWriteXDMF - Writes a surface as HDF5 (`vertices`, `triangles`,
  attributes format, version, source, dataset, iso) plus an XDMF file for
  ParaView. Both are written under temporary names and renamed.

  Not Collective

  Input Parameters:
+ surface - the mesh
. xmfpath - the XDMF file
. h5path  - the HDF5 file (in the same directory: the XDMF file refers to its base name)
. source  - the file the field came from (may be NULL)
. dataset - the dataset meshed (may be NULL)
- iso     - the isovalue

  Level: intermediate
@*/
PetscErrorCode DeepCDMeshWriteXDMF(const mesh_surface *surface, const char xmfpath[], const char h5path[], const char source[], const char dataset[], double iso)
{
  mesh_arrays m;

  PetscFunctionBegin;
  PetscCall(mesh_arrays_of_surface(surface, &m));
  PetscCall(write_pair(&m, xmfpath, h5path, source, dataset, iso, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMeshWriteTetsXDMF - Writes a tet mesh as HDF5 (`vertices`,
  `triangles` = its boundary, `tetrahedra`, and the attributes of
  DeepCDMeshWriteXDMF) plus an XDMF file whose spatial collection holds the
  tets (Topology Tetrahedron) and the boundary triangles (Topology
  Triangle), both on the one vertex array. Both files are written under
  temporary names and renamed.

  Not Collective

  Input Parameters:
+ tets    - the mesh (mesh_tets_build)
. xmfpath - the XDMF file
. h5path  - the HDF5 file (in the same directory: the XDMF file refers to its base name)
. source  - the file the field came from (may be NULL)
. dataset - the dataset meshed (may be NULL)
- iso     - the isovalue

  Level: intermediate
@*/
PetscErrorCode DeepCDMeshWriteTetsXDMF(const mesh_tets *tets, const char xmfpath[], const char h5path[], const char source[], const char dataset[], double iso)
{
  mesh_arrays m;

  PetscFunctionBegin;
  PetscCheck(tets, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "DeepCDMeshWriteTetsXDMF: NULL tets");
  PetscCheck(tets->ntets >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_CORRUPT, "DeepCDMeshWriteTetsXDMF: inconsistent mesh");
  m.nverts = tets->nverts;
  m.verts  = tets->verts;
  m.ntris  = tets->ntris;
  m.tris   = tets->tris;
  m.ntets  = tets->ntets;
  m.tets   = tets->tets;
  PetscCall(write_pair(&m, xmfpath, h5path, source, dataset, iso, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMeshWriteSolutionXDMF - As DeepCDMeshWriteXDMF, but the XDMF file is a
  spatial collection of two grids: the solution (cell attribute `x` of
  `solution_ref`:/x on the nx x ny x nz grid of cell size h, as in the
  solution's own .xmf) and the surface, so that one file opens both.

  Not Collective

  Input Parameters:
+ surface      - the mesh
. xmfpath      - the XDMF file
. h5path       - the surface's HDF5 file (same directory as xmfpath)
. source       - the file the field came from (may be NULL)
. dataset      - the dataset meshed (may be NULL)
. iso          - the isovalue
. solution_ref - the solution's HDF5 file as the XDMF file names it (relative to its directory, or absolute)
. nx, ny, nz   - the solution's cells
- h            - the cell size

  Level: intermediate
@*/
PetscErrorCode DeepCDMeshWriteSolutionXDMF(const mesh_surface *surface, const char xmfpath[], const char h5path[], const char source[], const char dataset[], double iso, const char solution_ref[], PetscInt nx, PetscInt ny, PetscInt nz, PetscReal h)
{
  solution_grid g;
  mesh_arrays   m;

  PetscFunctionBegin;
  PetscCheck(solution_ref, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "DeepCDMeshWriteSolutionXDMF: NULL solution file");
  PetscCheck(nx >= 1 && ny >= 1 && nz >= 1 && h > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "DeepCDMeshWriteSolutionXDMF: bad grid");
  g.nx    = nx;
  g.ny    = ny;
  g.nz    = nz;
  g.h     = h;
  g.h5ref = solution_ref;
  PetscCall(mesh_arrays_of_surface(surface, &m));
  PetscCall(write_pair(&m, xmfpath, h5path, source, dataset, iso, &g));
  PetscFunctionReturn(PETSC_SUCCESS);
}
