/* Models read once per process: the cnn direction generator asks for its
   model at every setup, and a batch of problems (deepcd batch) sets up one
   KSP per problem with the same -ksp_deepcd_model. The cache keeps the last
   models read, keyed by path and file identity (device, inode, size,
   modification time), so a rewritten file is read again. */
#define _POSIX_C_SOURCE 200809L /* st_mtim */
#include <string.h>
#include <sys/stat.h>
#include <deepcd/private/modelioimpl.h>
#include <deepcd/private/petsccompat.h>

#define DEEPCD_MODEL_CACHE_SIZE 4

typedef struct {
  char      path[PETSC_MAX_PATH_LEN];
  dev_t     dev;
  ino_t     ino;
  off_t     size;
  long long mtime_ns;
  nn_model *model;
  PetscInt  uses; /* for the least recently used entry */
} CacheEntry;

static CacheEntry cache[DEEPCD_MODEL_CACHE_SIZE];
static PetscInt   cache_clock;

static int identity(const char path[], CacheEntry *e)
{
  struct stat st;

  if (stat(path, &st)) return 1;
  e->dev      = st.st_dev;
  e->ino      = st.st_ino;
  e->size     = st.st_size;
  e->mtime_ns = (long long) st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  return 0;
}

/*@C
  DeepCDModelCacheGet - The model of a file, read (DeepCDModelRead()) only when
  this process has not read that file, unchanged, before.

  Collective

  Input Parameters:
+ comm - the processes that read the model together
- path - the model file

  Output Parameter:
. m - the model, owned by the cache (valid until DeepCDModelCacheClear()); do not modify or destroy it

  Level: developer
@*/
PetscErrorCode DeepCDModelCacheGet(MPI_Comm comm, const char path[], const nn_model **m)
{
  CacheEntry  now;
  PetscMPIInt hit  = -1, all;
  int         slot = 0;

  PetscFunctionBegin;
  *m = NULL;
  PetscCall(PetscMemzero(&now, sizeof(now)));
  if (!identity(path, &now))
    for (int i = 0; i < DEEPCD_MODEL_CACHE_SIZE; i++)
      if (cache[i].model && !strcmp(cache[i].path, path) && cache[i].dev == now.dev && cache[i].ino == now.ino && cache[i].size == now.size && cache[i].mtime_ns == now.mtime_ns) hit = i;
  /* a read is collective: every process uses its copy, or all read */
  {
    PetscMPIInt h = hit >= 0 ? 1 : 0;

    PetscCallMPI(MPI_Allreduce(&h, &all, 1, MPI_INT, MPI_MIN, comm));
  }
  if (all) {
    cache[hit].uses = ++cache_clock;
    *m              = cache[hit].model;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (hit >= 0)
    slot = hit;
  else
    for (int i = 1; i < DEEPCD_MODEL_CACHE_SIZE; i++)
      if (!cache[i].model || (cache[slot].model && cache[i].uses < cache[slot].uses)) slot = i;
  {
    nn_model *read = NULL;

    PetscCall(DeepCDModelRead(comm, path, &read));
    nn_model_destroy(&cache[slot].model);
    cache[slot]       = now;
    cache[slot].model = read;
    cache[slot].uses  = ++cache_clock;
    PetscCall(PetscStrncpy(cache[slot].path, path, sizeof(cache[slot].path)));
  }
  *m = cache[slot].model;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDModelCacheClear - Frees the models of DeepCDModelCacheGet(); called by DeepCDFinalizePackage().

  Not Collective

  Level: developer
@*/
PetscErrorCode DeepCDModelCacheClear(void)
{
  PetscFunctionBegin;
  for (int i = 0; i < DEEPCD_MODEL_CACHE_SIZE; i++) {
    nn_model_destroy(&cache[i].model);
    cache[i].path[0] = 0;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
