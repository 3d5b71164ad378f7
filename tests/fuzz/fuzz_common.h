/* Shared part of the libFuzzer harnesses of deepcd's file readers (tests/fuzz/README.md): PETSc is
   started once, with errors returned (not printed) and its signal handler off so that libFuzzer sees
   crashes; each input's bytes go to a temporary file that the reader opens by name. */
#ifndef DEEPCD_FUZZ_COMMON_H
#define DEEPCD_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <deepcd.h>

/* the reader under test: 0 when it accepted the file, an error code when it refused it */
static PetscErrorCode fuzz_read(const char path[]);

static char fuzz_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  int    pargc   = 1;
  char  *name    = (*argv)[0];
  char **pargv   = &name;
  char  *options = getenv("DEEPCD_FUZZ_PETSC_OPTIONS");

  (void) argc;
  if (PetscInitialize(&pargc, &pargv, NULL, NULL)) abort();
  if (options && PetscOptionsInsertString(NULL, options)) abort();
  /* errors come back as codes; crashes reach libFuzzer */
  if (PetscPushErrorHandler(PetscReturnErrorHandler, NULL) || PetscPopSignalHandler()) abort();
  if (DeepCDInitializePackage()) abort();
  snprintf(fuzz_path, sizeof(fuzz_path), "/tmp/deepcd-fuzz-%ld.h5", (long) getpid());
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  FILE *f = fopen(fuzz_path, "wb");

  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  if (fclose(f)) abort();
  (void) fuzz_read(fuzz_path);
  (void) remove(fuzz_path);
  return 0;
}

#endif
