/* bench/mesh_train: FlexiCubes training-mode forward + backward timing (a
   benchmark driver, not a test; bench/mesh_train.sh runs it).

     mesh_train sphere|torus N [reps]

   Field on the (N+1)^3 vertices of [-1, 1]^3: sphere |x| - 0.8 or torus
   R = 0.6, r = 0.25 (the reference notes' fields). Random raw weights
   alpha, beta, gamma (normal, sd 0.5) and a random deformation below 0.2
   cells, as in an optimisation step. Per repetition:
     forward  = flexicubes_extract (training mode: 4 triangles per quad);
     backward = zero the 5 gradient arrays + flexicubes_backward for a
                random dL/d(vertices);
     ldev     = flexicubes_ldev with its gradient.
   Prints one JSON object: best and median seconds of each, the counts and
   the best CPU time of forward + backward (the machine may be shared) and
   the peak resident memory of the process (getrusage). Single-threaded. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <deepcd/mesh.h>

static double clock_s(clockid_t id)
{
  struct timespec t;
  clock_gettime(id, &t);
  return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

static double now(void)
{
  return clock_s(CLOCK_MONOTONIC);
}

/* CPU time of the process: on a shared machine it shows how much of the wall time was ours */
static double cpu(void)
{
  return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static double uniform01(uint64_t *state) /* splitmix64 */
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15u);
  z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z          = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  z ^= z >> 31;
  return (double) (z >> 11) * 0x1.0p-53;
}

static double normal(uint64_t *state)
{
  const double u = uniform01(state) + 1e-300, v = uniform01(state);
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static int cmp_double(const void *a, const void *b)
{
  const double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double median(double *v, int n)
{
  qsort(v, (size_t) n, sizeof(double), cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double best(const double *v, int n)
{
  double b = v[0];
  for (int i = 1; i < n; i++) b = v[i] < b ? v[i] : b;
  return b;
}

int main(int argc, char **argv)
{
  const char             *shape = argc > 1 ? argv[1] : "";
  const int               n = argc > 2 ? atoi(argv[2]) : 0, reps = argc > 3 ? atoi(argv[3]) : 5;
  mesh_grid               g;
  mesh_flexicubes_options o;
  uint64_t                rng = 2026;
  size_t                  nv, nc;
  double                 *field, *alpha, *beta, *gamma, *deform, *dverts = NULL;
  double                 *gf, *ga, *gb, *gg, *gd, tf[64], tb[64], tl[64], cfb[64], ldev = 0;
  mesh_surface           *s = NULL;
  struct rusage           ru;

  if ((strcmp(shape, "sphere") && strcmp(shape, "torus")) || n < 2 || n > 1024 || reps < 1 || reps > 64) {
    fprintf(stderr, "usage: mesh_train sphere|torus N [reps 1..64]\n");
    return 1;
  }
  for (int a = 0; a < 3; a++) {
    g.dims[a]    = n;
    g.origin[a]  = -1.0;
    g.spacing[a] = 2.0 / n;
  }
  nv     = (size_t) (n + 1) * (size_t) (n + 1) * (size_t) (n + 1);
  nc     = (size_t) n * (size_t) n * (size_t) n;
  field  = malloc(nv * sizeof(double));
  alpha  = malloc(8 * nc * sizeof(double));
  beta   = malloc(12 * nc * sizeof(double));
  gamma  = malloc(nc * sizeof(double));
  deform = malloc(3 * nv * sizeof(double));
  gf     = malloc(nv * sizeof(double));
  ga     = malloc(8 * nc * sizeof(double));
  gb     = malloc(12 * nc * sizeof(double));
  gg     = malloc(nc * sizeof(double));
  gd     = malloc(3 * nv * sizeof(double));
  if (!field || !alpha || !beta || !gamma || !deform || !gf || !ga || !gb || !gg || !gd) {
    fprintf(stderr, "mesh_train: out of memory\n");
    return 1;
  }
  for (size_t v = 0; v < nv; v++) {
    const size_t i = v % (size_t) (n + 1), j = (v / (size_t) (n + 1)) % (size_t) (n + 1), k = v / ((size_t) (n + 1) * (size_t) (n + 1));
    const double x = -1.0 + g.spacing[0] * (double) i, y = -1.0 + g.spacing[1] * (double) j, z = -1.0 + g.spacing[2] * (double) k;
    if (!strcmp(shape, "sphere"))
      field[v] = sqrt(x * x + y * y + z * z) - 0.8;
    else {
      const double q = sqrt(x * x + z * z) - 0.6;
      field[v]       = sqrt(q * q + y * y) - 0.25;
    }
    for (int a = 0; a < 3; a++) deform[3 * v + (size_t) a] = 0.2 * g.spacing[a] * (2.0 * uniform01(&rng) - 1.0);
  }
  for (size_t i = 0; i < 8 * nc; i++) alpha[i] = 0.5 * normal(&rng);
  for (size_t i = 0; i < 12 * nc; i++) beta[i] = 0.5 * normal(&rng);
  for (size_t i = 0; i < nc; i++) gamma[i] = 0.5 * normal(&rng);
  mesh_flexicubes_options_default(&o);
  o.alpha    = alpha;
  o.beta     = beta;
  o.gamma    = gamma;
  o.deform   = deform;
  o.training = 1;
  for (int r = 0; r < reps; r++) {
    mesh_flexicubes_grad gr = { gf, ga, gb, gg, gd };
    double               t0 = now(), c0 = cpu(), t1, t2;
    mesh_surface_destroy(&s);
    if (flexicubes_extract(&g, field, &o, &s)) {
      fprintf(stderr, "mesh_train: %s\n", mesh_error_message());
      return 1;
    }
    tf[r] = now() - t0;
    if (!dverts) { /* the loss gradient: fixed random values (not timed) */
      dverts = malloc(3 * (size_t) s->nverts * sizeof(double));
      if (!dverts) {
        fprintf(stderr, "mesh_train: out of memory\n");
        return 1;
      }
      for (size_t i = 0; i < 3 * (size_t) s->nverts; i++) dverts[i] = 2.0 * uniform01(&rng) - 1.0;
    }
    t1 = now();
    memset(gf, 0, nv * sizeof(double));
    memset(ga, 0, 8 * nc * sizeof(double));
    memset(gb, 0, 12 * nc * sizeof(double));
    memset(gg, 0, nc * sizeof(double));
    memset(gd, 0, 3 * nv * sizeof(double));
    if (flexicubes_backward(&g, field, &o, s, dverts, &gr)) {
      fprintf(stderr, "mesh_train: %s\n", mesh_error_message());
      return 1;
    }
    t2     = now();
    tb[r]  = t2 - t1;
    cfb[r] = cpu() - c0; /* includes the untimed first dL/dverts draw: negligible */
    if (flexicubes_ldev(&g, field, &o, s, 0.5, &ldev, &gr)) {
      fprintf(stderr, "mesh_train: %s\n", mesh_error_message());
      return 1;
    }
    tl[r] = now() - t2;
  }
  getrusage(RUSAGE_SELF, &ru);
  {
    double fb[64];
    for (int r = 0; r < reps; r++) fb[r] = tf[r] + tb[r];
    printf("{\"field\": \"%s\", \"n\": %d, \"reps\": %d, \"verts\": %d, \"tris\": %d, \"quads\": %d, "
           "\"forward_s\": %.5f, \"backward_s\": %.5f, \"fwd_bwd_s\": %.5f, \"ldev_s\": %.5f, "
           "\"forward_median_s\": %.5f, \"backward_median_s\": %.5f, \"fwd_bwd_median_s\": %.5f, \"ldev_median_s\": %.5f, "
           "\"fwd_bwd_cpu_s\": %.5f, \"ldev\": %.6e, \"peak_rss_mb\": %.1f}\n",
           shape, n, reps, s->nverts, s->ntris, s->nquads, best(tf, reps), best(tb, reps), best(fb, reps), best(tl, reps), median(tf, reps), median(tb, reps), median(fb, reps), median(tl, reps), best(cfb, reps), ldev, (double) ru.ru_maxrss / 1024.0);
  }
  mesh_surface_destroy(&s);
  free(field);
  free(alpha);
  free(beta);
  free(gamma);
  free(deform);
  free(gf);
  free(ga);
  free(gb);
  free(gg);
  free(gd);
  free(dverts);
  return 0;
}
