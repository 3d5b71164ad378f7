/* Synthetic problem scenes for `deepcd gen` (docs/formats.md, "Scenes"). */
#include <math.h>
#include <stdint.h>
#include <petsc/private/petscimpl.h> /* PetscAssertPointer() */
#include <deepcd/scene.h>
#include <deepcd/private/petsccompat.h>

const char *const DeepCDSceneTypes[] = { "empty", "spheres", "plume", "random", "plates", "DeepCDSceneType", "DEEPCD_SCENE_", NULL };

#define DEEPCD_NUM_SCENES  5
#define DEEPCD_SCENE_NAMES "empty, spheres, plume, random, plates"

/*@C
  DeepCDSceneTypeFromString - looks up a scene by its name.

  Not Collective

  Input Parameter:
. name - one of "empty", "spheres", "plume", "random", "plates" (case sensitive)

  Output Parameter:
. type - the scene

  Level: developer

.seealso: `DeepCDSceneGenerate()`, `DeepCDSceneTypes`
@*/
PetscErrorCode DeepCDSceneTypeFromString(const char name[], DeepCDSceneType *type)
{
  PetscBool match;
  char      valid[128] = "";

  PetscFunctionBegin;
  PetscAssertPointer(type, 2);
  for (int s = 0; s < DEEPCD_NUM_SCENES; s++) {
    if (name) PetscCall(PetscStrcmp(name, DeepCDSceneTypes[s], &match));
    if (name && match) {
      *type = (DeepCDSceneType) s;
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    PetscCall(PetscStrlcat(valid, s ? ", " : "", sizeof(valid)));
    PetscCall(PetscStrlcat(valid, DeepCDSceneTypes[s], sizeof(valid)));
  }
  PetscCheck(name && name[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "no scene given (valid: %s)", valid);
  SETERRQ(PETSC_COMM_SELF, PETSC_ERR_ARG_UNKNOWN_TYPE, "unknown scene '%s' (valid: %s)", name, valid);
}

/* ---- a small portable PRNG (splitmix64): the same seed gives the same scene everywhere ---- */

typedef struct {
  uint64_t s;
} Rng;

static uint64_t Mix64(uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static uint64_t RngNext(Rng *r)
{
  r->s += 0x9E3779B97F4A7C15ULL;
  return Mix64(r->s);
}

/* Independent streams (obstacles, background, noise) so that changing one
   part of a scene's recipe does not shift the others' random numbers. */
static void RngSeed(Rng *r, unsigned long seed, uint64_t stream)
{
  r->s = Mix64((uint64_t) seed + 0x9E3779B97F4A7C15ULL) ^ Mix64(stream * 0xD1B54A32D192ED03ULL + 1);
}

/* Uniform in [a, b). */
static double RngUniform(Rng *r, double a, double b)
{
  return a + (b - a) * ((double) (RngNext(r) >> 11) * 0x1.0p-53);
}

/* Uniform integer in [lo, hi]. */
static int RngInt(Rng *r, int lo, int hi)
{
  return lo + (int) (RngNext(r) % (uint64_t) (hi - lo + 1));
}

/* ---- obstacles ---- */

typedef enum {
  OBSTACLE_SPHERE,
  OBSTACLE_BOX,
  OBSTACLE_PLATE
} ObstacleKind;

#define MAX_HOLES 4

typedef struct {
  ObstacleKind kind;
  double       c[3];    /* centre */
  double       r;       /* sphere radius */
  double       half[3]; /* box half-sides; a plate: the box spanning the domain, normal to `axis` */
  int          axis;    /* plate: its normal */
  int          nholes;  /* plate: square holes through it (prisms along the normal) */
  double       hole[MAX_HOLES][3], holehalf[MAX_HOLES];
} Obstacle;

#define MAX_OBSTACLES 10

/* exact distance to an axis-aligned box: outside part plus (negative) inside part */
static double BoxSDF(const double c[3], const double half[3], const double p[3])
{
  const double qx = fabs(p[0] - c[0]) - half[0], qy = fabs(p[1] - c[1]) - half[1], qz = fabs(p[2] - c[2]) - half[2];
  const double ox = PetscMax(qx, 0.0), oy = PetscMax(qy, 0.0), oz = PetscMax(qz, 0.0);
  const double in = PetscMin(PetscMax(qx, PetscMax(qy, qz)), 0.0);

  return sqrt(ox * ox + oy * oy + oz * oz) + in;
}

static double ObstacleSDF(const Obstacle *o, const double p[3])
{
  const double dx = p[0] - o->c[0], dy = p[1] - o->c[1], dz = p[2] - o->c[2];

  if (o->kind == OBSTACLE_SPHERE) return sqrt(dx * dx + dy * dy + dz * dz) - o->r;
  if (o->kind == OBSTACLE_BOX) return BoxSDF(o->c, o->half, p);
  {
    /* a plate minus its holes: max(plate, -hole) (a bound, not exact, near the hole edges; exact in sign) */
    double s = BoxSDF(o->c, o->half, p);

    for (int h = 0; h < o->nholes; h++) {
      double half[3];

      for (int d = 0; d < 3; d++) half[d] = d == o->axis ? 1e3 : o->holehalf[h];
      s = PetscMax(s, -BoxSDF(o->hole[h], half, p));
    }
    return s;
  }
}

/* Each random number in its own statement: C leaves the order of evaluation of
   function arguments unspecified, which would make scenes compiler-dependent. */
static void RandomSphere(Rng *r, const double ext[3], double lo, double hi, Obstacle *o)
{
  o->kind = OBSTACLE_SPHERE;
  for (int d = 0; d < 3; d++) o->c[d] = RngUniform(r, 0.1 * ext[d], 0.9 * ext[d]);
  o->r = RngUniform(r, lo, hi);
}

static void RandomBox(Rng *r, const double ext[3], double lo, double hi, Obstacle *o)
{
  o->kind = OBSTACLE_BOX;
  for (int d = 0; d < 3; d++) o->c[d] = RngUniform(r, 0.1 * ext[d], 0.9 * ext[d]);
  for (int d = 0; d < 3; d++) o->half[d] = RngUniform(r, lo, hi);
}

/* A thin plate across the whole domain, normal to `axis`, at a fraction of the
   extent, 0.03 L thick, with 1 to MAX_HOLES square holes (half-side 0.05 L to
   0.12 L) placed in the middle 80% of the plate. */
static void RandomPlate(Rng *r, const double ext[3], double L, int axis, Obstacle *o)
{
  o->kind = OBSTACLE_PLATE;
  o->axis = axis;
  for (int d = 0; d < 3; d++) {
    o->c[d]    = 0.5 * ext[d];
    o->half[d] = ext[d]; /* beyond the walls */
  }
  o->c[axis]    = RngUniform(r, 0.15 * ext[axis], 0.85 * ext[axis]);
  o->half[axis] = 0.015 * L;
  o->nholes     = RngInt(r, 1, MAX_HOLES);
  for (int h = 0; h < o->nholes; h++) {
    for (int d = 0; d < 3; d++) o->hole[h][d] = d == axis ? o->c[axis] : RngUniform(r, 0.1 * ext[d], 0.9 * ext[d]);
    o->holehalf[h] = RngUniform(r, 0.05 * L, 0.12 * L);
  }
}

/* Fraction of the domain inside the obstacles, sampled on a fixed 24^3 lattice
   of the domain (so it depends on the aspect ratio, not on the resolution). */
static double EstimateSolidFraction(const Obstacle obs[], int nobs, const double ext[3])
{
  const int n      = 24;
  long      inside = 0;

  for (int k = 0; k < n; k++) {
    for (int j = 0; j < n; j++) {
      for (int i = 0; i < n; i++) {
        const double p[3] = { (i + 0.5) / n * ext[0], (j + 0.5) / n * ext[1], (k + 0.5) / n * ext[2] };

        for (int o = 0; o < nobs; o++) {
          if (ObstacleSDF(&obs[o], p) < 0) {
            inside++;
            break;
          }
        }
      }
    }
  }
  return (double) inside / ((double) n * n * n);
}

/* ---- right-hand side ---- */

typedef struct {
  double c[3], amplitude, width;
} Bump;

#define MAX_BUMPS 7

static double BumpValue(const Bump *b, const double p[3])
{
  const double dx = p[0] - b->c[0], dy = p[1] - b->c[1], dz = p[2] - b->c[2];

  return b->amplitude * exp(-(dx * dx + dy * dy + dz * dz) / (2 * b->width * b->width));
}

static void RandomBump(Rng *r, const double ext[3], double L, Bump *b)
{
  for (int d = 0; d < 3; d++) b->c[d] = RngUniform(r, 0, ext[d]);
  b->amplitude = RngUniform(r, -1, 1);
  b->width     = RngUniform(r, 0.05 * L, 0.2 * L);
}

/*@C
  DeepCDSceneGenerate - builds a synthetic problem.

  Not Collective

  Input Parameters:
+ type       - the scene: `DEEPCD_SCENE_EMPTY`, `DEEPCD_SCENE_SPHERES`, `DEEPCD_SCENE_PLUME`, `DEEPCD_SCENE_RANDOM` or `DEEPCD_SCENE_PLATES`
. nx, ny, nz - the number of cells (at least 1 each)
- seed       - the seed of the scene's random numbers; the same seed gives the same problem on every machine

  Output Parameter:
. data - the problem, with `rhs`, `solid` and `sdf` set, `coefficient` for `plates` only, no `x0`; free it with `DeepCDProblemDataDestroy()`

  Notes:
  The domain is [0, nx h] x [0, ny h] x [0, nz h] with h = 1/max(nx, ny, nz), so its longest side L is 1; cell (i,j,k)
  has centre ((i+1/2) h, (j+1/2) h, (k+1/2) h) and corners at multiples of h. Obstacles are placed in fractions of the
  domain's extents, so a seed gives the same shapes at every resolution of the same aspect ratio.

  The scenes:
+ empty   - no obstacles, walls "DDDDDD"; the sdf is the distance to the nearest wall (positive everywhere)
. spheres - 3 to 8 spheres of radius 0.06 L to 0.18 L, centres in the middle 80% of each extent, redrawn until they
            cover 7% to 35% of the domain (estimated on a fixed 24^3 lattice); walls "DDDDDD"
. plume   - one sphere in the middle of the domain over a strong Gaussian source near the floor (z = 0.1 of the height);
            walls "NNNNND" (closed floor and sides, open top)
. random  - 2 to 10 spheres and axis-aligned boxes; each wall D or N at random, at least one D
- plates  - high contrast: 2 to 4 thin plates (0.03 L thick) across the domain, normal to z (or, one seed in four,
            to x or y), each with 1 to 4 square holes; a blocky `coefficient` k = 1 or 1e4 on blocks of L/8; each wall
            D or N at random, at least one D

  For all but `empty` the sdf at the (nz+1)(ny+1)(nx+1) corners is the exact signed distance to the union of the
  obstacles (minimum over them; the walls are not solids), negative inside. `solid` is derived from it with
  `DeepCDSolidFromSDF()`, the rule the loader uses. `rhs` is a sum of 3 to 6 Gaussian bumps (amplitude in [-1,1],
  width 0.05 L to 0.2 L) plus uniform noise in [-0.1,0.1] (plus the source for `plume`), and zero on solid cells.

  Level: developer

.seealso: `DeepCDSceneTypeFromString()`, `DeepCDProblemDataWrite()`, `DeepCDSolidFromSDF()`
@*/
PetscErrorCode DeepCDSceneGenerate(DeepCDSceneType type, PetscInt nx, PetscInt ny, PetscInt nz, unsigned long seed, DeepCDProblemData **data)
{
  DeepCDProblemData *d;
  Obstacle           obs[MAX_OBSTACLES];
  Bump               bumps[MAX_BUMPS];
  int                nobs        = 0, nbumps;
  char               boundary[7] = "DDDDDD";
  PetscReal          h;
  double             ext[3], L = 1.0, smin;
  Rng                rng;

  PetscFunctionBegin;
  PetscAssertPointer(data, 6);
  *data = NULL;
  PetscCheck((int) type >= 0 && (int) type < DEEPCD_NUM_SCENES, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "unknown scene type %d", (int) type);
  PetscCheck(nx >= 1 && ny >= 1 && nz >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "grid %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT ": need at least 1 cell in each direction", nx, ny, nz);
  h      = 1.0 / (PetscReal) PetscMax(nx, PetscMax(ny, nz));
  ext[0] = nx * h;
  ext[1] = ny * h;
  ext[2] = nz * h;
  smin   = PetscMin(ext[0], PetscMin(ext[1], ext[2]));

  /* Obstacles and walls (stream 1). */
  RngSeed(&rng, seed, 1);
  switch (type) {
  case DEEPCD_SCENE_EMPTY:
    break;
  case DEEPCD_SCENE_SPHERES:
    /* In a cube, 3-8 such spheres fill only ~5% on average; redraw (from the
       same stream, so still deterministic) until they fill a useful 7-35%. */
    for (int attempt = 0; attempt < 100; attempt++) {
      double f;

      nobs = RngInt(&rng, 3, 8);
      for (int o = 0; o < nobs; o++) RandomSphere(&rng, ext, 0.06 * L, 0.18 * L, &obs[o]);
      f = EstimateSolidFraction(obs, nobs, ext);
      if (f >= 0.07 && f <= 0.35) break;
    }
    break;
  case DEEPCD_SCENE_PLUME: {
    double jx, jy, rf;

    jx = RngUniform(&rng, -0.1, 0.1);
    jy = RngUniform(&rng, -0.1, 0.1);
    rf = RngUniform(&rng, 0.15, 0.25);

    PetscCall(PetscStrcpy(boundary, "NNNNND"));
    nobs        = 1;
    obs[0].kind = OBSTACLE_SPHERE;
    obs[0].c[0] = (0.5 + jx) * ext[0];
    obs[0].c[1] = (0.5 + jy) * ext[1];
    obs[0].c[2] = 0.5 * ext[2];
    obs[0].r    = rf * smin; /* keeps it clear of the source at 0.1 of the height */
  } break;
  case DEEPCD_SCENE_RANDOM: {
    int nd = 0;

    nobs = RngInt(&rng, 2, 10);
    for (int o = 0; o < nobs; o++) {
      if (RngNext(&rng) & 1)
        RandomBox(&rng, ext, 0.04 * L, 0.15 * L, &obs[o]);
      else
        RandomSphere(&rng, ext, 0.06 * L, 0.18 * L, &obs[o]);
    }
    for (int w = 0; w < 6; w++) {
      boundary[w] = (RngNext(&rng) & 1) ? 'D' : 'N';
      nd += boundary[w] == 'D';
    }
    /* all-Neumann would make the problem singular */
    if (!nd) boundary[RngInt(&rng, 0, 5)] = 'D';
  } break;
  case DEEPCD_SCENE_PLATES: {
    int nd = 0, axis;

    /* 2 to 4 plates normal to one axis (mostly z), walls mixed, at least one D */
    axis = (RngNext(&rng) % 4 == 0) ? (int) (RngNext(&rng) % 2) : 2;
    nobs = RngInt(&rng, 2, 4);
    for (int o = 0; o < nobs; o++) RandomPlate(&rng, ext, L, axis, &obs[o]);
    for (int w = 0; w < 6; w++) {
      boundary[w] = (RngNext(&rng) & 1) ? 'D' : 'N';
      nd += boundary[w] == 'D';
    }
    if (!nd) boundary[RngInt(&rng, 0, 5)] = 'D';
  } break;
  }

  PetscCall(DeepCDProblemDataCreate(nx, ny, nz, h, boundary, &d));
  PetscCall(PetscCalloc1((nx + 1) * (ny + 1) * (nz + 1), &d->sdf));
  PetscCall(PetscCalloc1(nx * ny * nz, &d->solid));

  /* Signed distance at the corners. */
  for (PetscInt k = 0; k <= nz; k++) {
    for (PetscInt j = 0; j <= ny; j++) {
      PetscReal *row = d->sdf + (k * (ny + 1) + j) * (nx + 1);

      for (PetscInt i = 0; i <= nx; i++) {
        const double p[3] = { i * h, j * h, k * h };
        double       s;

        if (!nobs) {
          /* empty: distance to the nearest wall, so the sdf is positive inside */
          s = PetscMin(PetscMin(p[0], ext[0] - p[0]), PetscMin(PetscMin(p[1], ext[1] - p[1]), PetscMin(p[2], ext[2] - p[2])));
        } else {
          s = ObstacleSDF(&obs[0], p);
          for (int o = 1; o < nobs; o++) s = PetscMin(s, ObstacleSDF(&obs[o], p));
        }
        row[i] = (PetscReal) s;
      }
    }
  }
  PetscCall(DeepCDSolidFromSDF(nx, ny, nz, d->sdf, d->solid));

  if (type == DEEPCD_SCENE_PLATES) {
    /* blocky coefficient (stream 4): 8 blocks per unit length, each k = 1 or
       1e4, so the contrast is 1e4 and the jumps lie on block faces */
    const int nb = 8;
    double    kb[8 * 8 * 8];

    RngSeed(&rng, seed, 4);
    for (int b = 0; b < nb * nb * nb; b++) kb[b] = (RngNext(&rng) & 1) ? 1e4 : 1.0;
    PetscCall(PetscMalloc1(nx * ny * nz, &d->coefficient));
    for (PetscInt k = 0; k < nz; k++)
      for (PetscInt j = 0; j < ny; j++)
        for (PetscInt i = 0; i < nx; i++) {
          const int bi = PetscMin(nb - 1, (int) ((i + 0.5) * h * nb)), bj = PetscMin(nb - 1, (int) ((j + 0.5) * h * nb)), bk = PetscMin(nb - 1, (int) ((k + 0.5) * h * nb));

          d->coefficient[(k * ny + j) * nx + i] = kb[(bk * nb + bj) * nb + bi];
        }
  }

  /* Smooth background (stream 2) plus noise (stream 3, one number per cell in natural order). */
  RngSeed(&rng, seed, 2);
  nbumps = RngInt(&rng, 3, 6);
  for (int b = 0; b < nbumps; b++) RandomBump(&rng, ext, L, &bumps[b]);
  if (type == DEEPCD_SCENE_PLUME) {
    /* the source: a strong blob near the floor, under the obstacle */
    double jx, jy;

    jx = RngUniform(&rng, -0.05, 0.05);
    jy = RngUniform(&rng, -0.05, 0.05);

    bumps[nbumps].c[0]      = (0.5 + jx) * ext[0];
    bumps[nbumps].c[1]      = (0.5 + jy) * ext[1];
    bumps[nbumps].c[2]      = 0.1 * ext[2];
    bumps[nbumps].amplitude = 10.0;
    bumps[nbumps].width     = PetscMax(0.08 * smin, (double) h); /* at least a cell wide */
    nbumps++;
  }
  RngSeed(&rng, seed, 3);
  for (PetscInt k = 0; k < nz; k++) {
    for (PetscInt j = 0; j < ny; j++) {
      for (PetscInt i = 0; i < nx; i++) {
        const PetscInt c    = (k * ny + j) * nx + i;
        const double   p[3] = { (i + 0.5) * h, (j + 0.5) * h, (k + 0.5) * h };
        double         v    = 0.1 * RngUniform(&rng, -1, 1);

        for (int b = 0; b < nbumps; b++) v += BumpValue(&bumps[b], p);
        d->rhs[c] = d->solid[c] ? 0.0 : (PetscReal) v;
      }
    }
  }
  *data = d;
  PetscFunctionReturn(PETSC_SUCCESS);
}
