/* The backend table, chosen at run time by name (libCEED style). */
#include <string.h>
#include <deepcd/private/nnimpl.h>

const char *const nn_precision_names[] = { "fp32", "tf32", "bf16", "fp16" };

static const nn_backend_ops *const backends[] = {
  &nn_backend_ref,
#if defined(DEEPCD_NN_HAVE_DNNL)
  &nn_backend_cpu,
#endif
#if defined(DEEPCD_NN_HAVE_CUDA)
  &nn_backend_cuda,
#endif
};

int nn_backend_count(void)
{
  return (int) (sizeof(backends) / sizeof(backends[0]));
}

const char *nn_backend_name(int i)
{
  return i >= 0 && i < nn_backend_count() ? backends[i]->name : NULL;
}

const nn_backend_ops *nn_backend_find(const char *name)
{
  for (int i = 0; i < nn_backend_count(); i++)
    if (!strcmp(backends[i]->name, name)) return backends[i];
  return NULL;
}

nn_err nn_backend_check(const char *name, nn_precision precision)
{
  const nn_backend_ops *ops;

  NN_CHECK(name, NN_ERR_ARG, "nn_backend_check: NULL name");
  NN_CHECK(precision >= NN_FP32 && precision <= NN_FP16, NN_ERR_ARG, "unknown precision %d", (int) precision);
  ops = nn_backend_find(name);
  if (!ops) {
    if (!strcmp(name, "cpu")) return nn_error_set(NN_ERR_UNSUPPORTED, "backend 'cpu' was not compiled in (oneDNN was not found at build time)");
    if (!strcmp(name, "cuda")) return nn_error_set(NN_ERR_UNSUPPORTED, "backend 'cuda' was not compiled in (CUDA with cuDNN and cuBLAS was not found at build time)");
    return nn_error_set(NN_ERR_ARG, "unknown backend '%s' (known: ref, cpu, cuda)", name);
  }
  return ops->check(precision);
}
