/* The entry point of the cuda backend module (libdeepcd_nn_cuda.so), loaded
   by the nn library with dlopen: the host's error functions and names come in,
   the backend's ops table goes out. Only the entry point is exported. */
#include <stdarg.h>
#include <stdio.h>
#include <deepcd/private/nnimpl.h>

static const nn_module_host *host;

/* The module's own nn_error_set/nn_error_message write into the host's
   message, so that the host's nn_error_message() reports the module's errors. */
nn_err nn_error_set(nn_err code, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  code = host->verror_set(code, fmt, ap);
  va_end(ap);
  return code;
}

const char *nn_error_message(void)
{
  return host->error_message();
}

/* the module's copy of the names (the same initialiser as the host's) */
const char *const nn_precision_names[] = NN_PRECISION_NAMES_INIT;

__attribute__((visibility("default"))) nn_err nn_cuda_module_load(const nn_module_host *h, const nn_backend_ops **ops)
{
  if (!h || !ops) return NN_ERR_ARG;
  if (h->abi != NN_MODULE_ABI) return h->verror_set ? NN_ERR_UNSUPPORTED : NN_ERR_ARG;
  host = h;
  *ops = &nn_backend_cuda;
  return NN_SUCCESS;
}
