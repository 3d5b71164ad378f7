/* deepcd mesh: reading the field to mesh from a problem or solution file, and
   the HDF5 + XDMF surface writer (docs/formats.md, "Mesh output").

   Serial: these functions work on one process (PETSC_COMM_SELF errors, plain
   HDF5); `deepcd mesh` calls them on rank 0 only. */
#ifndef DEEPCD_MESH_OUTPUT_H
#define DEEPCD_MESH_OUTPUT_H

#include <petscsys.h>
#include <deepcd/mesh.h>

#define DEEPCD_MESH_FORMAT  "deepcd-mesh"
#define DEEPCD_MESH_VERSION 1

/* A scalar field ready for flexicubes_extract(). */
typedef struct {
  char      format[64];   /* the file's `format`: deepcd-problem or deepcd-solution */
  char      dataset[256]; /* the dataset read */
  PetscInt  nx, ny, nz;   /* the file's cells */
  PetscReal h;            /* the file's cell size */
  PetscBool cell;         /* PETSC_TRUE: a cell field, meshed on the grid of cell centres */
  mesh_grid grid;         /* the extraction grid */
  double   *field;        /* (grid.dims + 1) values per axis, x fastest (PetscMalloc) */
  double    min, max;     /* range of the values */
} DeepCDMeshField;

/* Reads `dataset` (NULL: `sdf` from a problem file, `x` from a solution file)
   of `file`. A dataset of shape (nz+1, ny+1, nx+1) is a corner field on the
   problem's grid (origin 0, spacing h); one of shape (nz, ny, nx) is a cell
   field, whose isosurface is taken on the grid of cell centres (origin h/2,
   spacing h, (nx-1)(ny-1)(nz-1) cubes). Errors (one line, naming the file):
   missing or unreadable file, not a deepcd problem/solution file, missing
   dataset, wrong shape or type, NaN or Inf values. */
PETSC_EXTERN PetscErrorCode DeepCDMeshFieldLoad(const char file[], const char dataset[], DeepCDMeshField *);
PETSC_EXTERN PetscErrorCode DeepCDMeshFieldDestroy(DeepCDMeshField *);

/* Writes `surface` as HDF5 (`h5path`: datasets `vertices` (nv, 3) float64 and
   `triangles` (nt, 3) int32; root attributes format = "deepcd-mesh",
   version = 1, source, dataset, iso) plus an XDMF file (`xmfpath`, Topology
   Triangle, Geometry XYZ) that refers to the HDF5 file by its base name, so
   keep both in one directory. `source` and `dataset` may be NULL (written as
   ""). Both files are written under temporary names and renamed (the XDMF
   file first); on failure neither final name is created or replaced. */
PETSC_EXTERN PetscErrorCode DeepCDMeshWriteXDMF(const mesh_surface *surface, const char xmfpath[], const char h5path[], const char source[], const char dataset[], double iso);

/* A tet mesh (mesh_tets_build) as HDF5 (`h5path`: `vertices` (nv, 3)
   float64, `triangles` (nt, 3) int32 = the tets' boundary, `tetrahedra`
   (ntet, 4) int32, each with det(b-a, c-a, d-a) > 0; the root attributes of
   DeepCDMeshWriteXDMF) plus an XDMF file whose spatial collection holds two
   grids on the one vertex array: "tetrahedra" (Topology Tetrahedron) and
   "surface" (Topology Triangle). Same temporary names and renames. */
PETSC_EXTERN PetscErrorCode DeepCDMeshWriteTetsXDMF(const mesh_tets *tets, const char xmfpath[], const char h5path[], const char source[], const char dataset[], double iso);

/* As DeepCDMeshWriteXDMF (same HDF5 file, same temporary names and renames),
   but the XDMF file is a spatial collection (GridType="Collection"
   CollectionType="Spatial") of the solution grid (cell attribute x from
   `solution_ref`:/x on nx x ny x nz cells of size h, as the solution's own
   .xmf; `solution_ref` is written as given: relative to the XDMF file's
   directory, or absolute) and the surface: one file opens the field and the
   geometry together (`deepcd solve -mesh_geometry`). */
PETSC_EXTERN PetscErrorCode DeepCDMeshWriteSolutionXDMF(const mesh_surface *surface, const char xmfpath[], const char h5path[], const char source[], const char dataset[], double iso, const char solution_ref[], PetscInt nx, PetscInt ny, PetscInt nz, PetscReal h);

#define DEEPCD_MESH_WEIGHTS_FORMAT  "deepcd-mesh-weights"
#define DEEPCD_MESH_WEIGHTS_VERSION 1

/* FlexiCubes inputs besides the field (docs/formats.md "Mesh weights"): raw
   per-cube weights in the library's ordering and a per-vertex displacement;
   NULL where the file has no such dataset. */
typedef struct {
  double *alpha;        /* ncubes x 8 */
  double *beta;         /* ncubes x 12 */
  double *gamma;        /* ncubes */
  double *deform;       /* nverts x 3 */
  double  weight_scale; /* the file's `weight_scale`, default 0.99 */
} DeepCDMeshWeights;

/* Reads `file` for the extraction grid `grid` (DeepCDMeshField.grid): root
   attributes format = "deepcd-mesh-weights", version = 1, nx, ny, nz (the
   grid's cubes), optional weight_scale in [0, 1); optional datasets alpha
   (ncubes, 8), beta (ncubes, 12), gamma (ncubes), deform (nverts, 3),
   float32 or float64, finite. Errors (one line, naming the file and the
   item): missing or unreadable file, wrong format or version, dimensions
   that do not match the grid, wrong shape or type, NaN or Inf. */
PETSC_EXTERN PetscErrorCode DeepCDMeshWeightsLoad(const char file[], const mesh_grid *grid, DeepCDMeshWeights *);
PETSC_EXTERN PetscErrorCode DeepCDMeshWeightsDestroy(DeepCDMeshWeights *);

#endif
