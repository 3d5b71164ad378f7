/* The backend table, chosen at run time by name (libCEED style). */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <deepcd/private/nnimpl.h>

const char *const nn_precision_names[] = NN_PRECISION_NAMES_INIT;

/* Backends linked into the library; "cuda" is a module (see nnimpl.h). */
static const nn_backend_ops *const builtin[] = {
  &nn_backend_ref,
#if defined(DEEPCD_NN_HAVE_DNNL)
  &nn_backend_cpu,
#endif
};
#define NBUILTIN ((int) (sizeof(builtin) / sizeof(builtin[0])))

#if defined(DEEPCD_NN_HAVE_CUDA)
static const nn_backend_ops *cuda_ops;
static char                  cuda_error[400];
static pthread_once_t        cuda_once = PTHREAD_ONCE_INIT;

/* Tries DEEPCD_NN_CUDA_MODULE alone when it is set; otherwise the module beside the file holding this
   code (libdeepcd.so, or an executable in bin/ with the module in ../lib),
   then the plain name (RUNPATH, LD_LIBRARY_PATH). */
static void cuda_load(void)
{
  static const nn_module_host host = { NN_MODULE_ABI, nn_error_vset, nn_error_message };
  char                        cand[3][PATH_MAX + 64];
  int                         ncand = 0;
  const char                 *env   = getenv("DEEPCD_NN_CUDA_MODULE");
  Dl_info                     info;
  void                       *h = NULL;
  nn_module_load_fn           load;
  const nn_backend_ops       *ops = NULL;

  if (env && env[0])
    snprintf(cand[ncand++], sizeof(cand[0]), "%s", env); /* the only candidate */
  else if (dladdr((void *) &cuda_load, &info) && info.dli_fname && strchr(info.dli_fname, '/')) {
    const char *slash = strrchr(info.dli_fname, '/');
    int         dir   = (int) (slash - info.dli_fname);

    snprintf(cand[ncand++], sizeof(cand[0]), "%.*s/%s", dir, info.dli_fname, NN_CUDA_MODULE_FILE);
    snprintf(cand[ncand++], sizeof(cand[0]), "%.*s/../lib/%s", dir, info.dli_fname, NN_CUDA_MODULE_FILE);
  }
  for (int i = 0; i < ncand && !h; i++)
    if (access(cand[i], F_OK) == 0) {
      h = dlopen(cand[i], RTLD_NOW | RTLD_LOCAL);
      if (!h) snprintf(cuda_error, sizeof(cuda_error), "backend 'cuda': cannot load the module: %.300s", dlerror()); /* dlerror names the file */
    }
  if (!h && !cuda_error[0] && env && env[0]) snprintf(cuda_error, sizeof(cuda_error), "backend 'cuda': DEEPCD_NN_CUDA_MODULE=%.300s: no such file", env);
  if (!h && !cuda_error[0]) {
    h = dlopen(NN_CUDA_MODULE_FILE, RTLD_NOW | RTLD_LOCAL);
    if (!h) snprintf(cuda_error, sizeof(cuda_error), "backend 'cuda': cannot load the module: %.300s", dlerror());
  }
  if (!h) return;
  *(void **) &load = dlsym(h, NN_CUDA_MODULE_ENTRY);
  if (!load || load(&host, &ops) || !ops) {
    snprintf(cuda_error, sizeof(cuda_error), "backend 'cuda': %s is not a deepcd cuda module of this version", NN_CUDA_MODULE_FILE);
    dlclose(h);
    return;
  }
  cuda_ops = ops; /* the module stays loaded for the life of the process */
}
#endif

int nn_backend_count(void)
{
#if defined(DEEPCD_NN_HAVE_CUDA)
  return NBUILTIN + 1;
#else
  return NBUILTIN;
#endif
}

const char *nn_backend_name(int i)
{
  if (i >= 0 && i < NBUILTIN) return builtin[i]->name;
#if defined(DEEPCD_NN_HAVE_CUDA)
  if (i == NBUILTIN) return "cuda";
#endif
  return NULL;
}

const nn_backend_ops *nn_backend_find(const char *name)
{
  for (int i = 0; i < NBUILTIN; i++)
    if (!strcmp(builtin[i]->name, name)) return builtin[i];
#if defined(DEEPCD_NN_HAVE_CUDA)
  if (!strcmp(name, "cuda")) {
    pthread_once(&cuda_once, cuda_load);
    return cuda_ops;
  }
#endif
  return NULL;
}

nn_err nn_backend_check(const char *name, nn_precision precision)
{
  const nn_backend_ops *ops;

  NN_CHECK(name, NN_ERR_ARG, "nn_backend_check: NULL name");
  NN_CHECK(precision >= NN_FP32 && precision <= NN_FP16, NN_ERR_ARG, "unknown precision %d", (int) precision);
  ops = nn_backend_find(name);
  if (!ops) {
#if defined(DEEPCD_NN_HAVE_CUDA)
    if (!strcmp(name, "cuda")) return nn_error_set(NN_ERR_UNSUPPORTED, "%s", cuda_error);
#endif
    if (!strcmp(name, "cpu")) return nn_error_set(NN_ERR_UNSUPPORTED, "backend 'cpu' was not compiled in (oneDNN was not found at build time)");
    if (!strcmp(name, "cuda")) return nn_error_set(NN_ERR_UNSUPPORTED, "backend 'cuda' was not compiled in (CUDA with cuDNN and cuBLAS was not found at build time)");
    return nn_error_set(NN_ERR_ARG, "unknown backend '%s' (known: ref, cpu, cuda)", name);
  }
  return ops->check(precision);
}
