/* Error messages of the mesh library: one line, kept per thread; and the
   growable-array helper. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <deepcd/private/meshimpl.h>

static _Thread_local char mesh_message[512];

mesh_err mesh_error_set(mesh_err code, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(mesh_message, sizeof(mesh_message), fmt, ap);
  va_end(ap);
  return code;
}

const char *mesh_error_message(void)
{
  return mesh_message;
}

mesh_err mesh_reserve(void **p, size_t *cap, size_t need, size_t size)
{
  size_t ncap;
  void  *np;

  MESH_CHECK(p && cap && size, MESH_ERR_ARG, "mesh_reserve: bad argument");
  if (need <= *cap) return MESH_SUCCESS;
  ncap = *cap ? *cap : 1024;
  while (ncap < need) {
    MESH_CHECK(ncap <= ((size_t) -1) / 2 / size, MESH_ERR_MEM, "mesh: array of %zu elements too large", need);
    ncap *= 2;
  }
  np = realloc(*p, ncap * size);
  MESH_CHECK(np, MESH_ERR_MEM, "mesh: out of memory (%zu bytes)", ncap * size);
  *p   = np;
  *cap = ncap;
  return MESH_SUCCESS;
}
