/* Error messages of the nn library: one line, kept per thread. */
#include <stdarg.h>
#include <stdio.h>
#include <deepcd/private/nnimpl.h>

static _Thread_local char nn_message[512];

nn_err nn_error_vset(nn_err code, const char *fmt, va_list ap)
{
  vsnprintf(nn_message, sizeof(nn_message), fmt, ap);
  return code;
}

nn_err nn_error_set(nn_err code, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  nn_error_vset(code, fmt, ap);
  va_end(ap);
  return code;
}

const char *nn_error_message(void)
{
  return nn_message;
}
