/* bench/infer_bench: from64 CNN inference timing (a benchmark driver, not a
   test; bench/infer.sh runs it). Links only the nn library (and the CUDA
   runtime when the cuda backend is compiled in).

     infer_bench [--backend cpu|cuda|ref] [--precision fp32,bf16|all]
                 [--n 64,128] [--reps R] [--warmup W] [--threads T]
                 [--sgemm 2048,4096] [--sgemm-reps R] [--openblas LIB]
                 [--target F] [--target-n N]
                 [--peak-fp32 T] [--peak-tf32 T] [--peak-fp16 T] [--peak-bf16 T]
                 [--json FILE]

   Per grid N^3 and precision: from64 with He initialisation (the timing
   does not depend on the weights), nn_net_create (timed separately as
   "setup"), W warm-up calls (default 2), then R timed calls (default 10) of
   nn_net_forward; median and best, GFLOP/s = nn_model_flops_per_voxel *
   N^3 / time. A precision the backend does not support here is skipped in
   one line.

   Host backends (cpu, ref): --threads T sets the OpenMP threads of oneDNN
   (omp_set_num_threads when the OpenMP runtime is loaded; set
   OMP_NUM_THREADS=T too). --sgemm sizes measures the ceiling first: OpenBLAS
   (dlopen()ed, default the Debian pthread build), T threads, cblas_sgemm on
   square matrices, best of --sgemm-reps (default 3) per size after one
   warm-up; the ceiling is the best size's GFLOP/s. Each row shows best /
   ceiling, and the fp32 row at --target-n (default 128) is marked PASS or
   MISS against --target (default 0.6). Without the library the ceiling is
   "n/a" (one line says why) and the rows are still timed.

   cuda: without a device (or without the backend) one line "no CUDA device:
   GPU rows skipped" and exit 0. Otherwise per row also the device part
   alone (the executor's layer loop, no transfers) and the roofline floor
   max(flops / peak rate, bytes / bandwidth): bytes from a minimal traffic
   model of the graph (min_bytes below), the bandwidth from the device's
   memory clock and bus width, the peak rates assumed (H100 SXM dense by
   default; --peak-* in TFLOP/s).

   Prints Markdown tables; --json FILE writes the same as one JSON object.
   Exit status 0, or 1 with a one-line error (bad option, a failed run). */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <deepcd/nn.h>
#include <deepcd/private/nnimpl.h>
#include "nn_timing.h"
#ifdef NN_TIMING_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#define MAXLIST          16
#define OPENBLAS_PTHREAD "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0"

typedef struct {
  const char *backend;
  int         prec[4], nprec; /* nn_precision values */
  int         n[MAXLIST], nn;
  int         reps, warmup, threads;
  int         sgemm[MAXLIST], nsgemm, sgemm_reps;
  const char *openblas;
  double      target;
  int         target_n;
  double      peak[4]; /* TFLOP/s, indexed by nn_precision */
  const char *json;
} options;

typedef struct {
  nn_precision prec;
  int          n;
  double       setup, best, median;            /* seconds: nn_net_forward */
  double       dev_best, dev_median;           /* seconds: layer loop alone (cuda) */
  double       flops, bytes, floor_c, floor_m; /* per call; floors in seconds (cuda) */
} row;

typedef struct {
  const char *lib; /* NULL: not loaded */
  char        why[256];
  char        config[256];
  int         threads;
  double      gflops[MAXLIST]; /* best over the runs */
  double      ceiling;         /* GFLOP/s, best over the runs; 0: n/a */
  double      run_ceiling[2];  /* measured before and after the network rows */
  int         runs;
} sgemm_result;

typedef struct {
  char   name[512];
  double bandwidth; /* bytes/s */
} gpu_info;

static void die(const char *fmt, const char *arg)
{
  fprintf(stderr, "infer_bench: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  exit(1);
}

/* ---- options --------------------------------------------------------------------- */

/* "64,128" -> ints in [lo, hi] */
static nn_err parse_ints(const char *s, int lo, int hi, int *v, int *nv)
{
  char *end;

  NN_CHECK(s && v && nv, NN_ERR_ARG, "parse_ints: NULL argument");
  *nv = 0;
  for (;;) {
    long x = strtol(s, &end, 10);

    NN_CHECK(end != s && x >= lo && x <= hi && *nv < MAXLIST && (*end == ',' || *end == '\0'), NN_ERR_ARG, "'%s': want up to %d comma-separated integers in %d..%d", s, MAXLIST, lo, hi);
    v[(*nv)++] = (int) x;
    if (*end == '\0') return NN_SUCCESS;
    s = end + 1;
  }
}

static nn_err parse_precisions(const char *s, options *o)
{
  char buf[64], *tok, *save = NULL;

  NN_CHECK(s && o && strlen(s) < sizeof(buf), NN_ERR_ARG, "--precision '%s': too long or missing", s ? s : "");
  o->nprec = 0;
  if (!strcmp(s, "all")) s = "fp32,tf32,fp16,bf16";
  strcpy(buf, s);
  for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    int p = 0;

    while (p < 4 && strcmp(tok, nn_precision_names[p])) p++;
    NN_CHECK(p < 4 && o->nprec < 4, NN_ERR_ARG, "--precision '%s': want fp32, tf32, bf16, fp16 (comma-separated, each once) or all", s);
    o->prec[o->nprec++] = p;
  }
  NN_CHECK(o->nprec > 0, NN_ERR_ARG, "--precision '%s': empty", s);
  return NN_SUCCESS;
}

static double parse_double(const char *opt, const char *s, double lo, double hi)
{
  char  *end;
  double x = strtod(s, &end);

  if (end == s || *end || !(x >= lo && x <= hi)) {
    fprintf(stderr, "infer_bench: %s '%s': want a number in [%g, %g]\n", opt, s, lo, hi);
    exit(1);
  }
  return x;
}

static void usage(void)
{
  fprintf(stderr, "usage: infer_bench [--backend cpu|cuda|ref] [--precision fp32,bf16|all] [--n 64,128] [--reps R] [--warmup W] [--threads T] [--sgemm 2048,4096] [--sgemm-reps R] [--openblas LIB] [--target F] [--target-n N] [--peak-fp32|--peak-tf32|--peak-fp16|--peak-bf16 TFLOPS] [--json FILE]\n");
  exit(1);
}

static void parse_options(int argc, char **argv, options *o)
{
  memset(o, 0, sizeof(*o));
  o->backend    = "cpu";
  o->nprec      = 1; /* fp32 */
  o->n[0]       = 64;
  o->n[1]       = 128;
  o->nn         = 2;
  o->reps       = 10;
  o->warmup     = 2;
  o->sgemm_reps = 3;
  o->openblas   = OPENBLAS_PTHREAD;
  o->target     = 0.6;
  o->target_n   = 128;
  /* H100 SXM dense: fp32 (no tensor cores), tf32, bf16, fp16 */
  o->peak[NN_FP32] = 67;
  o->peak[NN_TF32] = 495;
  o->peak[NN_BF16] = 989;
  o->peak[NN_FP16] = 989;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    nn_err      err = NN_SUCCESS;

    if (!v) usage();
    i++;
    if (!strcmp(a, "--backend"))
      o->backend = v;
    else if (!strcmp(a, "--precision"))
      err = parse_precisions(v, o);
    else if (!strcmp(a, "--n"))
      err = parse_ints(v, 2, 2048, o->n, &o->nn);
    else if (!strcmp(a, "--reps"))
      o->reps = (int) parse_double(a, v, 1, NN_TIMING_MAX_REPS);
    else if (!strcmp(a, "--warmup"))
      o->warmup = (int) parse_double(a, v, 0, 100);
    else if (!strcmp(a, "--threads"))
      o->threads = (int) parse_double(a, v, 0, 1024);
    else if (!strcmp(a, "--sgemm"))
      err = parse_ints(v, 16, 16384, o->sgemm, &o->nsgemm);
    else if (!strcmp(a, "--sgemm-reps"))
      o->sgemm_reps = (int) parse_double(a, v, 1, 100);
    else if (!strcmp(a, "--openblas"))
      o->openblas = v;
    else if (!strcmp(a, "--target"))
      o->target = parse_double(a, v, 0, 1);
    else if (!strcmp(a, "--target-n"))
      o->target_n = (int) parse_double(a, v, 2, 2048);
    else if (!strncmp(a, "--peak-", 7)) {
      int p = 0;

      while (p < 4 && strcmp(a + 7, nn_precision_names[p])) p++;
      if (p == 4) usage();
      o->peak[p] = parse_double(a, v, 1e-3, 1e6);
    } else if (!strcmp(a, "--json"))
      o->json = v;
    else
      usage();
    if (err) die("%s", nn_error_message());
  }
}

/* ---- the SGEMM ceiling (OpenBLAS, dlopen) ---------------------------------------- */

typedef void (*sgemm_fn)(int order, int transa, int transb, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef char *(*get_config_fn)(void);

/* Best GFLOP/s of C = A B on n x n matrices (row major, no transposes). */
static nn_err sgemm_time(sgemm_fn sgemm, int n, int reps, double *gflops)
{
  const size_t nn = (size_t) n * n;
  float       *a = malloc(nn * sizeof(float)), *b = malloc(nn * sizeof(float)), *c = malloc(nn * sizeof(float));
  double       best = HUGE_VAL;

  if (!a || !b || !c) {
    free(a);
    free(b);
    free(c);
    return nn_error_set(NN_ERR_MEM, "sgemm %d: out of memory", n);
  }
  for (size_t i = 0; i < nn; i++) {
    a[i] = (float) ((i % 17) + 1) / 17.0f;
    b[i] = (float) ((i % 13) + 1) / 13.0f;
  }
  for (int r = 0; r <= reps; r++) { /* r = 0: warm-up */
    double t0 = nn_timing_now(), t;

    sgemm(101 /* CblasRowMajor */, 111 /* CblasNoTrans */, 111, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    t = nn_timing_now() - t0;
    if (r > 0 && t < best) best = t;
  }
  *gflops = 2.0 * (double) n * n * n / best * 1e-9;
  free(a);
  free(b);
  free(c);
  return NN_SUCCESS;
}

/* Measures the ceiling (again: keeps the best of the runs, at most 2); a
   missing library is not an error (ceiling 0, why set). */
static nn_err sgemm_ceiling(const options *o, sgemm_result *s)
{
  void          *h;
  sgemm_fn       sgemm;
  set_threads_fn set_threads;
  get_threads_fn get_threads;
  get_config_fn  get_config;
  nn_err         err = NN_SUCCESS;

  NN_CHECK(o && s && s->runs < 2, NN_ERR_ARG, "sgemm_ceiling: bad argument");
  if (!(h = dlopen(o->openblas, RTLD_NOW | RTLD_LOCAL))) {
    snprintf(s->why, sizeof(s->why), "no OpenBLAS (%s): SGEMM ceiling n/a (Debian: apt-get install libopenblas0-pthread, or scripts/install-deps.sh --bench)", dlerror());
    return NN_SUCCESS;
  }
  *(void **) &sgemm       = dlsym(h, "cblas_sgemm");
  *(void **) &set_threads = dlsym(h, "openblas_set_num_threads");
  *(void **) &get_threads = dlsym(h, "openblas_get_num_threads");
  *(void **) &get_config  = dlsym(h, "openblas_get_config");
  if (!sgemm || !set_threads || !get_threads) {
    snprintf(s->why, sizeof(s->why), "%s has no cblas_sgemm/openblas_set_num_threads: SGEMM ceiling n/a", o->openblas);
    dlclose(h);
    return NN_SUCCESS;
  }
  if (o->threads > 0) set_threads(o->threads);
  s->lib     = o->openblas;
  s->threads = get_threads();
  if (get_config) snprintf(s->config, sizeof(s->config), "%s", get_config());
  for (int i = 0; i < o->nsgemm && !err; i++) {
    double g = 0;

    err                     = sgemm_time(sgemm, o->sgemm[i], o->sgemm_reps, &g);
    s->gflops[i]            = fmax(s->gflops[i], g);
    s->ceiling              = fmax(s->ceiling, g);
    s->run_ceiling[s->runs] = fmax(s->run_ceiling[s->runs], g);
  }
  s->runs++;
  dlclose(h); /* OpenBLAS stops its threads: they would compete with the network's */
  return err;
}

/* ---- the roofline floor (cuda) ------------------------------------------------------- */

/* Minimal memory traffic of one forward, bytes: per layer every input
   tensor read once, the output written once, the weights and biases read
   once, each element `elem` bytes (the padding copies, workspaces and the
   host transfers are not counted). dims: the level-0 grid. */
static nn_err min_bytes(const nn_model *m, const int dims[3], int elem, double *bytes)
{
  NN_CHECK(m && dims && bytes && elem > 0, NN_ERR_ARG, "min_bytes: bad argument");
  *bytes = 0;
  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer *L     = &m->layers[l];
    const int       ts[3] = { L->in, L->in2, L->out };
    double          elems = 0;

    for (int i = 0; i < 3; i++) {
      const nn_tensor *t;
      double           vox = 1;

      if (ts[i] < 0) continue;
      NN_CHECK(ts[i] < m->ntensors, NN_ERR_MODEL, "min_bytes: layer %d names tensor %d of %d", l, ts[i], m->ntensors);
      t = &m->tensors[ts[i]];
      for (int d = 0; d < 3; d++) vox *= (double) (dims[d] >> t->level);
      elems += vox * t->channels;
    }
    if (L->op == NN_OP_CONV) elems += (double) L->cout * L->cin * L->k * L->k * L->k + L->cout;
    *bytes += elems * elem;
  }
  return NN_SUCCESS;
}

static int elem_bytes(nn_precision p)
{
  return p == NN_BF16 || p == NN_FP16 ? 2 : 4;
}

#ifdef NN_TIMING_HAVE_CUDA
static nn_err gpu_query(gpu_info *g)
{
  int                   dev, khz = 0, bits = 0;
  struct cudaDeviceProp prop;

  NN_CHECK(g, NN_ERR_ARG, "gpu_query: NULL argument");
  NN_CHECK(cudaGetDevice(&dev) == cudaSuccess && cudaGetDeviceProperties(&prop, dev) == cudaSuccess, NN_ERR_BACKEND, "cudaGetDeviceProperties failed");
  /* memoryClockRate left cudaDeviceProp in CUDA 13: the attributes stay */
  NN_CHECK(cudaDeviceGetAttribute(&khz, cudaDevAttrMemoryClockRate, dev) == cudaSuccess && cudaDeviceGetAttribute(&bits, cudaDevAttrGlobalMemoryBusWidth, dev) == cudaSuccess, NN_ERR_BACKEND, "cudaDeviceGetAttribute (memory clock, bus width) failed");
  snprintf(g->name, sizeof(g->name), "%.255s, compute capability %d.%d, %.1f GiB, memory clock %d MHz, bus %d bits", prop.name, prop.major, prop.minor, (double) prop.totalGlobalMem / (1 << 30), khz / 1000, bits);
  g->bandwidth = 2.0 * khz * 1e3 * bits / 8.0; /* double data rate */
  return NN_SUCCESS;
}
#else
static nn_err gpu_query(gpu_info *g)
{
  return nn_error_set(NN_ERR_UNSUPPORTED, "infer_bench was built without CUDA");
}
#endif

/* ---- the network ---------------------------------------------------------------------- */

static void set_omp_threads(int threads)
{
  void          *self = dlopen(NULL, RTLD_NOW);
  set_threads_fn set  = NULL;

  if (!self || threads <= 0) return;
  *(void **) &set = dlsym(self, "omp_set_num_threads"); /* oneDNN's OpenMP runtime, when loaded */
  if (set) set(threads);
  dlclose(self);
}

static nn_err time_row(const options *o, const nn_model *m, int gpu, row *r)
{
  const int         dims[3] = { r->n, r->n, r->n };
  const size_t      n       = (size_t) r->n * r->n * r->n;
  float            *in = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float));
  nn_net           *net  = NULL;
  nn_timing_sync_fn sync = NULL;
  nn_err            err  = NN_SUCCESS;
  double            t0;

#ifdef NN_TIMING_HAVE_CUDA
  if (gpu) sync = nn_timing_cuda_sync;
#endif
  if (!in || !out) {
    free(in);
    free(out);
    return nn_error_set(NN_ERR_MEM, "%d^3: out of memory", r->n);
  }
  for (size_t i = 0; i < n; i++) in[i] = (float) sin(0.001 * (double) i);
  r->flops = nn_model_flops_per_voxel(m) * (double) n;
  t0       = nn_timing_now();
  err      = nn_net_create(m, o->backend, r->prec, dims, &net);
  r->setup = nn_timing_now() - t0;
  if (!err) err = nn_timing_forward(net, in, out, 0, o->warmup, o->reps, sync, &r->best, &r->median);
  if (!err && gpu) err = nn_timing_forward(net, in, out, 1, o->warmup, o->reps, sync, &r->dev_best, &r->dev_median);
  if (!err && gpu) err = min_bytes(m, dims, elem_bytes(r->prec), &r->bytes);
  nn_net_destroy(&net);
  free(in);
  free(out);
  return err;
}

/* ---- output ---------------------------------------------------------------------------- */

static const char *target_verdict(const options *o, const sgemm_result *s, const row *r)
{
  if (r->prec != NN_FP32 || r->n != o->target_n) return "";
  if (s->ceiling <= 0) return " n/a";
  return r->flops / r->best * 1e-9 >= o->target * s->ceiling ? " PASS" : " MISS";
}

static void print_host_row(const options *o, const sgemm_result *s, const row *r)
{
  const double g_med = r->flops / r->median * 1e-9, g_best = r->flops / r->best * 1e-9;
  char         ceil[32] = "n/a", ratio[48] = "n/a";

  if (s->ceiling > 0) {
    snprintf(ceil, sizeof(ceil), "%.0f", s->ceiling);
    snprintf(ratio, sizeof(ratio), "%.0f%%%s", 100 * g_best / s->ceiling, target_verdict(o, s, r));
  }
  printf("| %s | %s | %d^3 | %.2f | %.1f | %.1f | %.1f | %.1f | %s | %s |\n", o->backend, nn_precision_names[r->prec], r->n, r->setup, 1e3 * r->median, 1e3 * r->best, g_med, g_best, ceil, ratio);
  fflush(stdout);
}

static void print_gpu_row(const options *o, const row *r)
{
  const double floor = fmax(r->floor_c, r->floor_m);

  printf("| %s | %s | %d^3 | %.2f | %.3f | %.3f | %.1f | %.3f | %.3f | %.3f | %.0f%% |\n", o->backend, nn_precision_names[r->prec], r->n, r->setup, 1e3 * r->median, 1e3 * r->dev_median, r->flops / r->dev_median * 1e-12, 1e3 * floor, 1e3 * r->floor_c, 1e3 * r->floor_m, 100 * floor / r->dev_median);
  fflush(stdout);
}

static nn_err write_json(const options *o, const nn_model *m, int gpu, const gpu_info *g, const sgemm_result *s, const row *rows, int nrows, const char *skipped)
{
  FILE *f;

  NN_CHECK(o && m && rows, NN_ERR_ARG, "write_json: NULL argument");
  if (!o->json) return NN_SUCCESS;
  NN_CHECK(f = fopen(o->json, "w"), NN_ERR_ARG, "%s: cannot write", o->json);
  fprintf(f, "{\"model\": \"%s\", \"params\": %zu, \"flops_per_voxel\": %.6g, \"backend\": \"%s\", \"threads\": %d, \"warmup\": %d, \"reps\": %d", m->arch, m->nparams, nn_model_flops_per_voxel(m), o->backend, o->threads, o->warmup, o->reps);
  if (skipped) fprintf(f, ", \"skipped\": \"%s\"", skipped);
  if (!gpu && o->nsgemm) {
    fprintf(f, ",\n \"sgemm\": {\"library\": ");
    if (s->lib)
      fprintf(f, "\"%s\", \"config\": \"%s\", \"threads\": %d, \"ceiling_before_gflops\": %.2f, \"ceiling_after_gflops\": %.2f, \"sizes\": [", s->lib, s->config, s->threads, s->run_ceiling[0], s->run_ceiling[1]);
    else
      fprintf(f, "null, \"note\": \"%s\", \"sizes\": [", s->why);
    for (int i = 0; s->lib && i < o->nsgemm; i++) fprintf(f, "%s{\"n\": %d, \"gflops\": %.2f}", i ? ", " : "", o->sgemm[i], s->gflops[i]);
    fprintf(f, "], \"ceiling_gflops\": ");
    if (s->ceiling > 0)
      fprintf(f, "%.2f}", s->ceiling);
    else
      fprintf(f, "null}");
  }
  if (gpu) {
    fprintf(f, ",\n \"gpu\": {\"device\": \"%s\", \"bandwidth_gbs\": %.1f, \"peak_tflops_assumed\": {", g->name, g->bandwidth * 1e-9);
    for (int p = 0; p < 4; p++) fprintf(f, "%s\"%s\": %g", p ? ", " : "", nn_precision_names[p], o->peak[p]);
    fprintf(f, "}}");
  }
  fprintf(f, ",\n \"rows\": [");
  for (int i = 0; i < nrows; i++) {
    const row *r = &rows[i];

    fprintf(f, "%s\n  {\"precision\": \"%s\", \"n\": %d, \"setup_s\": %.4f, \"median_s\": %.6f, \"best_s\": %.6f, \"gflops_median\": %.2f, \"gflops_best\": %.2f", i ? "," : "", nn_precision_names[r->prec], r->n, r->setup, r->median, r->best, r->flops / r->median * 1e-9, r->flops / r->best * 1e-9);
    if (gpu)
      fprintf(f, ", \"device_median_s\": %.6f, \"device_best_s\": %.6f, \"bytes\": %.6g, \"floor_compute_s\": %.6g, \"floor_memory_s\": %.6g, \"floor_s\": %.6g", r->dev_median, r->dev_best, r->bytes, r->floor_c, r->floor_m, fmax(r->floor_c, r->floor_m));
    else if (s->ceiling > 0)
      fprintf(f, ", \"best_over_ceiling\": %.4f", r->flops / r->best * 1e-9 / s->ceiling);
    if (!gpu && r->prec == NN_FP32 && r->n == o->target_n) fprintf(f, ", \"target\": %g, \"target_result\": \"%s\"", o->target, target_verdict(o, s, r) + 1);
    fprintf(f, "}");
  }
  fprintf(f, "\n ]}\n");
  NN_CHECK(fclose(f) == 0, NN_ERR_ARG, "%s: write failed", o->json);
  return NN_SUCCESS;
}

int main(int argc, char **argv)
{
  options      o;
  nn_model    *m = NULL;
  sgemm_result s;
  gpu_info     g;
  row          rows[4 * MAXLIST];
  int          nrows = 0, gpu;
  nn_err       err;

  parse_options(argc, argv, &o);
  memset(&s, 0, sizeof(s));
  memset(&g, 0, sizeof(g));
  gpu = !strcmp(o.backend, "cuda");
  if ((err = nn_model_create_arch("from64", &m)) || (err = nn_model_init_he(m, 1))) die("%s", nn_error_message());
  if (gpu && nn_backend_check("cuda", NN_FP32)) {
    char why[300];

    snprintf(why, sizeof(why), "no CUDA device: GPU rows skipped (%s)", nn_error_message());
    printf("%s\n", why);
    if ((err = write_json(&o, m, 0, &g, &s, rows, 0, why))) die("%s", nn_error_message());
    nn_model_destroy(&m);
    return 0;
  }
  if (gpu && (err = gpu_query(&g))) die("%s", nn_error_message());
  if (!gpu && o.nsgemm) {
    if ((err = sgemm_ceiling(&o, &s))) die("%s", nn_error_message());
    if (!s.lib) printf("%s\n", s.why);
  }
  if (!gpu) set_omp_threads(o.threads);
  for (int p = 0; p < o.nprec; p++) {
    const nn_precision prec = (nn_precision) o.prec[p];

    if (nn_backend_check(o.backend, prec)) {
      printf("(%s %s skipped: %s)\n", o.backend, nn_precision_names[prec], nn_error_message());
      continue;
    }
    for (int i = 0; i < o.nn; i++) {
      row *r = &rows[nrows];

      memset(r, 0, sizeof(*r));
      r->prec = prec;
      r->n    = o.n[i];
      fprintf(stderr, "infer_bench: %s %s %d^3 ...\n", o.backend, nn_precision_names[prec], r->n);
      if ((err = time_row(&o, m, gpu, r))) {
        fprintf(stderr, "infer_bench: %s %s %d^3: %s\n", o.backend, nn_precision_names[prec], r->n, nn_error_message());
        nn_model_destroy(&m);
        return 1;
      }
      if (gpu) {
        r->floor_c = r->flops / (o.peak[prec] * 1e12);
        r->floor_m = r->bytes / g.bandwidth;
      }
      nrows++;
    }
  }
  /* the machine may be shared: the ceiling again, the best of both stands */
  if (s.lib && (err = sgemm_ceiling(&o, &s))) die("%s", nn_error_message());
  printf("%s: %zu parameters, %.4g FLOP per voxel; backend %s; %d warm-up + %d timed calls per row (median and best)\n\n", m->arch, m->nparams, nn_model_flops_per_voxel(m), o.backend, o.warmup, o.reps);
  if (s.lib) {
    printf("SGEMM ceiling: %.1f GFLOP/s (%s, %d threads, cblas_sgemm best of %d, measured before and after the network rows: %.1f and %.1f; best per size:", s.ceiling, s.config, s.threads, o.sgemm_reps, s.run_ceiling[0], s.run_ceiling[1]);
    for (int i = 0; i < o.nsgemm; i++) printf(" %d^2 %.1f", o.sgemm[i], s.gflops[i]);
    printf(")\n\n");
  }
  if (gpu) {
    printf("device: %s; bandwidth %.0f GB/s (2 x memory clock x bus width)\n\n", g.name, g.bandwidth * 1e-9);
    printf("peak rates (assumed; --peak-*): fp32 %g, tf32 %g, fp16 %g, bf16 %g TFLOP/s; floor = max(flops / peak, minimal bytes / bandwidth)\n\n", o.peak[NN_FP32], o.peak[NN_TF32], o.peak[NN_FP16], o.peak[NN_BF16]);
    printf("| backend | precision | grid | setup s | all ms (median) | device ms (median) | device TFLOP/s | floor ms | compute floor ms | memory floor ms | floor / device |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  } else {
    printf("threads: %d (OpenMP for oneDNN, OpenBLAS for SGEMM)\n\n", o.threads);
    printf("| backend | precision | grid | setup s | median ms | best ms | GFLOP/s (median) | GFLOP/s (best) | SGEMM ceiling GFLOP/s | best / ceiling |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
  }
  for (int i = 0; i < nrows; i++) {
    if (gpu)
      print_gpu_row(&o, &rows[i]);
    else
      print_host_row(&o, &s, &rows[i]);
  }
  for (int i = 0; !gpu && i < nrows; i++)
    if (rows[i].prec == NN_FP32 && rows[i].n == o.target_n) {
      if (s.ceiling > 0)
        printf("\ntarget: fp32 at %d^3 reaches %.0f%% of the SGEMM ceiling (best vs best; target %.0f%%):%s\n", o.target_n, 100 * rows[i].flops / rows[i].best * 1e-9 / s.ceiling, 100 * o.target, target_verdict(&o, &s, &rows[i]));
      else
        printf("\ntarget: fp32 at %d^3 against the SGEMM ceiling: n/a (no ceiling)\n", o.target_n);
    }
  err = write_json(&o, m, gpu, &g, &s, rows, nrows, NULL);
  nn_model_destroy(&m);
  if (err) die("%s", nn_error_message());
  return 0;
}
