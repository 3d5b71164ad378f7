/* Result lines and options of the plain-C GPU tests (gpu_test.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gpu_test.h"

int gpu_test_npass, gpu_test_nfail;

void gpu_test_result(int ok, const char *fmt, ...)
{
  va_list ap;

  printf("%s ", ok ? "[ PASS ]" : "[ FAIL ]");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
  if (ok)
    gpu_test_npass++;
  else
    gpu_test_nfail++;
}

int gpu_test_options(int argc, char **argv, int *timing, int *maxn)
{
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--no-timing"))
      *timing = 0;
    else if (!strcmp(argv[i], "--max-n") && i + 1 < argc)
      *maxn = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--no-timing] [--max-n N]\n", argv[0]);
      return 2;
    }
  }
  return 0;
}
