/* Timing driver of bench/mesh.sh (not a test): FlexiCubes extraction
   (inference mode, default weights) and tets on an analytic field.

   usage: mesh_bench sphere|torus N [--repeat R] [--tets] [--field-out FILE]

   The field is sampled at the (N+1)^3 vertices of [-1, 1]^3, x fastest:
   sphere |x| - 0.8, torus R = 0.6, r = 0.25 about the y axis (the fields of
   ../shared/reference/flexicubes.md section 12). --field-out writes it as raw
   float64 (for the VTK and scikit-image anchors, which then mesh the very
   same values). Prints one JSON object: best and all extraction times
   (wall clock, field already in memory), vertex and triangle counts, and
   with --tets the tet build time and counts. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <deepcd/mesh.h>

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

static int fail(const char *what)
{
  fprintf(stderr, "mesh_bench: %s: %s\n", what, mesh_error_message());
  return 1;
}

static int usage(void)
{
  fprintf(stderr, "usage: mesh_bench sphere|torus N [--repeat R] [--tets] [--field-out FILE]\n");
  return 2;
}

int main(int argc, char **argv)
{
  const char   *shape, *field_out = NULL;
  int           n, repeat = 3, tets = 0;
  mesh_grid     g;
  double       *f, best = INFINITY, *times;
  size_t        nv;
  mesh_surface *s = NULL;

  if (argc < 3) return usage();
  shape = argv[1];
  n     = atoi(argv[2]);
  if ((strcmp(shape, "sphere") && strcmp(shape, "torus")) || n < 1 || n > 2000) return usage();
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
      repeat = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--tets"))
      tets = 1;
    else if (!strcmp(argv[i], "--field-out") && i + 1 < argc)
      field_out = argv[++i];
    else
      return usage();
  }
  if (repeat < 1) return usage();
  for (int a = 0; a < 3; a++) {
    g.dims[a]    = n;
    g.origin[a]  = -1.0;
    g.spacing[a] = 2.0 / n;
  }
  nv    = (size_t) (n + 1) * (size_t) (n + 1) * (size_t) (n + 1);
  f     = malloc(nv * sizeof(double));
  times = malloc((size_t) repeat * sizeof(double));
  if (!f || !times) {
    fprintf(stderr, "mesh_bench: out of memory (%zu values)\n", nv);
    return 1;
  }
  for (int k = 0; k <= n; k++)
    for (int j = 0; j <= n; j++)
      for (int i = 0; i <= n; i++) {
        const double x = -1.0 + g.spacing[0] * i, y = -1.0 + g.spacing[1] * j, z = -1.0 + g.spacing[2] * k;
        double       v;
        if (shape[0] == 's')
          v = sqrt(x * x + y * y + z * z) - 0.8;
        else {
          const double q = sqrt(x * x + z * z) - 0.6;
          v              = sqrt(q * q + y * y) - 0.25;
        }
        f[((size_t) k * (size_t) (n + 1) + (size_t) j) * (size_t) (n + 1) + (size_t) i] = v;
      }
  if (field_out) {
    FILE *o = fopen(field_out, "wb");
    if (!o || fwrite(f, sizeof(double), nv, o) != nv || fclose(o)) {
      fprintf(stderr, "mesh_bench: cannot write %s\n", field_out);
      return 1;
    }
  }
  for (int r = 0; r < repeat; r++) {
    double t0;
    mesh_surface_destroy(&s); /* the previous call's output, outside the timed region */
    t0 = now();
    if (flexicubes_extract(&g, f, NULL, &s)) return fail("flexicubes_extract");
    times[r] = now() - t0;
    if (times[r] < best) best = times[r];
  }
  printf("{\"tool\": \"deepcd\", \"shape\": \"%s\", \"n\": %d, \"extract_s\": %.6f, \"extract_all_s\": [", shape, n, best);
  for (int r = 0; r < repeat; r++) printf("%s%.6f", r ? ", " : "", times[r]);
  printf("], \"verts\": %d, \"tris\": %d", s->nverts, s->ntris);
  if (tets) {
    mesh_tets *t  = NULL;
    double     t0 = now(), dt;
    if (mesh_tets_build(&g, f, NULL, s, &t)) return fail("mesh_tets_build");
    dt = now() - t0;
    printf(", \"tets_s\": %.6f, \"tets\": %d, \"tet_verts\": %d, \"nonpositive_tets\": %lld, \"resplit_quads\": %d, \"min_tet_volume_h3\": %.3e", dt, t->ntets, t->nverts, (long long) t->nonpositive, t->nresplit,
           t->min_volume / (g.spacing[0] * g.spacing[1] * g.spacing[2]));
    mesh_tets_destroy(&t);
  }
  printf("}\n");
  mesh_surface_destroy(&s);
  free(f);
  free(times);
  return 0;
}
