/* Models read once per process: the cnn direction generator and the neuralmg
   PC ask for their model at every setup, and a batch of problems (deepcd
   batch) sets up one KSP per problem with the same -ksp_deepcd_model or
   -pc_neuralmg_model. The cache keeps the last objects read, keyed by reader,
   path and file identity (device, inode, size, modification time), so a
   rewritten file is read again. */
#define _POSIX_C_SOURCE 200809L /* st_mtim */
#include <string.h>
#include <sys/stat.h>
#include <deepcd/private/modelioimpl.h>
#include <deepcd/private/petsccompat.h>

#define DEEPCD_MODEL_CACHE_SIZE 4

typedef struct {
  char                path[PETSC_MAX_PATH_LEN];
  dev_t               dev;
  ino_t               ino;
  off_t               size;
  long long           mtime_ns;
  DeepCDFileCacheRead read; /* the kind of object: one entry per reader and file */
  DeepCDFileCacheFree destroy;
  void               *obj;
  PetscInt            uses; /* for the least recently used entry */
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

static void entry_free(CacheEntry *e)
{
  if (e->obj && e->destroy) e->destroy(&e->obj);
  e->obj     = NULL;
  e->path[0] = 0;
}

/*@C
  DeepCDFileCacheGet - The object read from a file by `read`, read only when
  this process has not read that file, unchanged, with the same reader before.

  Collective

  Input Parameters:
+ comm    - the processes that read the file together
. path    - the file
. read    - reads the file (collective on comm) into a new object; its errors are the caller's
- destroy - frees an object made by read

  Output Parameter:
. obj - the object, owned by the cache (valid until DeepCDModelCacheClear()); do not modify or destroy it

  Level: developer
@*/
PetscErrorCode DeepCDFileCacheGet(MPI_Comm comm, const char path[], DeepCDFileCacheRead read, DeepCDFileCacheFree destroy, const void **obj)
{
  CacheEntry  now;
  PetscMPIInt hit  = -1, all;
  int         slot = 0;

  PetscFunctionBegin;
  PetscCheck(obj && path && read, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "DeepCDFileCacheGet: NULL argument");
  *obj = NULL;
  PetscCall(PetscMemzero(&now, sizeof(now)));
  if (!identity(path, &now))
    for (int i = 0; i < DEEPCD_MODEL_CACHE_SIZE; i++)
      if (cache[i].obj && cache[i].read == read && !strcmp(cache[i].path, path) && cache[i].dev == now.dev && cache[i].ino == now.ino && cache[i].size == now.size && cache[i].mtime_ns == now.mtime_ns) hit = i;
  /* a read is collective: every process uses its copy, or all read */
  {
    PetscMPIInt h = hit >= 0 ? 1 : 0;

    PetscCallMPI(MPI_Allreduce(&h, &all, 1, MPI_INT, MPI_MIN, comm));
  }
  if (all) {
    cache[hit].uses = ++cache_clock;
    *obj            = cache[hit].obj;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (hit >= 0)
    slot = hit;
  else
    for (int i = 1; i < DEEPCD_MODEL_CACHE_SIZE; i++)
      if (!cache[i].obj || (cache[slot].obj && cache[i].uses < cache[slot].uses)) slot = i;
  {
    void *made = NULL;

    PetscCall(read(comm, path, &made));
    entry_free(&cache[slot]);
    cache[slot]         = now;
    cache[slot].read    = read;
    cache[slot].destroy = destroy;
    cache[slot].obj     = made;
    cache[slot].uses    = ++cache_clock;
    PetscCall(PetscStrncpy(cache[slot].path, path, sizeof(cache[slot].path)));
  }
  *obj = cache[slot].obj;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode model_read(MPI_Comm comm, const char path[], void **obj)
{
  nn_model *m = NULL;

  PetscFunctionBegin;
  PetscCall(DeepCDModelRead(comm, path, &m));
  *obj = m;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void model_free(void **obj)
{
  nn_model *m = (nn_model *) *obj;

  nn_model_destroy(&m);
  *obj = NULL;
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
  const void *obj;

  PetscFunctionBegin;
  PetscCheck(m && path, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "DeepCDModelCacheGet: NULL argument");
  PetscCall(DeepCDFileCacheGet(comm, path, model_read, model_free, &obj));
  *m = (const nn_model *) obj;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDModelCacheClear - Frees the objects of DeepCDFileCacheGet() (the models of DeepCDModelCacheGet() among them); called by DeepCDFinalizePackage().

  Not Collective

  Level: developer
@*/
PetscErrorCode DeepCDModelCacheClear(void)
{
  PetscFunctionBegin;
  for (int i = 0; i < DEEPCD_MODEL_CACHE_SIZE; i++) entry_free(&cache[i]);
  PetscFunctionReturn(PETSC_SUCCESS);
}
