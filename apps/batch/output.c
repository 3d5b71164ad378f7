/* The outputs of a batch: written in a staging directory beside them, made
   durable (fsync) and renamed into place, so that a final name only ever
   holds a complete file; validated before -resume trusts them. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <deepcd/solution.h>
#include <deepcd/private/h5.h>
#include "batch.h"

#define STAGING_PREFIX ".deepcd-batch."

PetscErrorCode DeepCDBatchStagingName(const char dir[], char staging[], size_t len)
{
  char host[256] = "localhost";
  int  n;

  PetscFunctionBegin;
  if (gethostname(host, sizeof(host) - 1)) PetscCall(PetscStrncpy(host, "localhost", sizeof(host)));
  host[sizeof(host) - 1] = 0;
  for (char *c = host; *c; c++)
    if (*c == '/' || *c == '.') *c = '_'; /* the name is split at its last '.' */
  n = snprintf(staging, len, "%s/" STAGING_PREFIX "%s.%ld", dir, host, (long) getpid());
  PetscCheck(n > 0 && (size_t) n < len, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "-o %s: the path is too long", dir);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDBatchStagingCreate(const char staging[])
{
  PetscFunctionBegin;
  PetscCheck(!mkdir(staging, 0755) || errno == EEXIST, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: cannot create the staging directory (%s)", staging, strerror(errno));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Removes a flat directory and its files. */
static int remove_tree(const char dir[])
{
  DIR           *d = opendir(dir);
  struct dirent *e;
  char           path[PETSC_MAX_PATH_LEN];
  int            bad = 0;

  if (!d) return errno == ENOENT ? 0 : 1;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    if (unlink(path) && errno != ENOENT) bad = 1;
  }
  closedir(d);
  if (rmdir(dir) && errno != ENOENT) bad = 1;
  return bad;
}

PetscErrorCode DeepCDBatchStagingRemove(const char staging[])
{
  PetscFunctionBegin;
  PetscCheck(!remove_tree(staging), PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: cannot remove the staging directory (%s)", staging, strerror(errno));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Is process pid (of this host) gone? A zombie (its parent killed too, and
   nobody reaped it yet) or a reused pid that is no deepcd counts as gone. */
static int owner_dead(long pid)
{
  char  path[64], buf[512], *paren;
  FILE *f;
  int   dead = 0;

  if (pid == (long) getpid()) return 0;
  if (kill((pid_t) pid, 0) && errno == ESRCH) return 1;
  snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
  if (!(f = fopen(path, "r"))) return 0; /* no /proc: alive as far as we know */
  if (fgets(buf, sizeof(buf), f) && (paren = strrchr(buf, ')')) && paren[1] == ' ') {
    *paren = 0;
    dead   = paren[2] == 'Z' || paren[2] == 'X' || !strstr(buf, "(deepcd");
  }
  fclose(f);
  return dead;
}

PetscErrorCode DeepCDBatchRemoveStale(const char dir[], PetscInt *removed, PetscInt *others)
{
  char           host[256] = "localhost", mine[PETSC_MAX_PATH_LEN], path[PETSC_MAX_PATH_LEN];
  DIR           *d;
  struct dirent *e;

  PetscFunctionBegin;
  *removed = *others = 0;
  PetscCall(DeepCDBatchStagingName(".", mine, sizeof(mine)));
  /* "./.deepcd-batch.HOST.PID" -> "HOST" */
  PetscCall(PetscStrncpy(host, mine + 2 + strlen(STAGING_PREFIX), sizeof(host)));
  *strrchr(host, '.') = 0;
  d                   = opendir(dir);
  PetscCheck(d, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "-o %s: cannot read the directory (%s)", dir, strerror(errno));
  while ((e = readdir(d))) {
    const char *owner = e->d_name + strlen(STAGING_PREFIX), *dot;
    char       *end;
    long        pid;

    if (strncmp(e->d_name, STAGING_PREFIX, strlen(STAGING_PREFIX)) || !(dot = strrchr(owner, '.'))) continue;
    pid = strtol(dot + 1, &end, 10);
    if (*end || pid <= 0) continue;
    if ((size_t) (dot - owner) != strlen(host) || strncmp(owner, host, strlen(host))) {
      (*others)++;
      continue;
    }
    if (!owner_dead(pid)) continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    if (!remove_tree(path)) (*removed)++;
  }
  closedir(d);
  PetscFunctionReturn(PETSC_SUCCESS);
}

int DeepCDBatchSyncDir(const char dir[])
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY), err;

  if (fd < 0) return 1;
  err = fsync(fd) && errno != EINVAL; /* some file systems cannot sync a directory */
  close(fd);
  return err;
}

static int sync_file(const char path[])
{
  int fd = open(path, O_RDONLY), err;

  if (fd < 0) return 1;
  err = fsync(fd);
  close(fd);
  return err;
}

PetscErrorCode DeepCDBatchCommit(const char staging[], const char dir[], const char stem[])
{
  char sh5[PETSC_MAX_PATH_LEN], sxmf[PETSC_MAX_PATH_LEN], h5[PETSC_MAX_PATH_LEN], xmf[PETSC_MAX_PATH_LEN];
  int  saved = 0;

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(sh5, sizeof(sh5), "%s/%s.h5", staging, stem));
  PetscCall(PetscSNPrintf(sxmf, sizeof(sxmf), "%s/%s.xmf", staging, stem));
  PetscCall(PetscSNPrintf(h5, sizeof(h5), "%s/%s.h5", dir, stem));
  PetscCall(PetscSNPrintf(xmf, sizeof(xmf), "%s/%s.xmf", dir, stem));
  if (sync_file(sh5) || sync_file(sxmf)) saved = errno ? errno : EIO;
  /* the .xmf first: when the .h5 is in place, its sidecar is too */
  if (!saved && rename(sxmf, xmf)) saved = errno;
  if (!saved && rename(sh5, h5)) {
    saved = errno;
    (void) unlink(xmf);
  }
  if (saved) {
    (void) unlink(sh5);
    (void) unlink(sxmf);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: cannot move the output into place (%s)", h5, strerror(saved));
  }
  PetscCheck(!DeepCDBatchSyncDir(dir), PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "-o %s: cannot sync the directory (%s)", dir, strerror(errno));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDBatchOutputRemove(const char dir[], const char stem[])
{
  char h5[PETSC_MAX_PATH_LEN], xmf[PETSC_MAX_PATH_LEN];

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(h5, sizeof(h5), "%s/%s.h5", dir, stem));
  PetscCall(PetscSNPrintf(xmf, sizeof(xmf), "%s/%s.xmf", dir, stem));
  PetscCheck(!unlink(h5) || errno == ENOENT, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: cannot remove the invalid output (%s)", h5, strerror(errno));
  PetscCheck(!unlink(xmf) || errno == ENOENT, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: cannot remove the invalid output (%s)", xmf, strerror(errno));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The checks of a solution file; 0 when valid, else a message in e. */
static int validate(const char h5[], const long long dims[3], DeepCDBatchResult *r, deepcd_h5_error *e)
{
  static const char *const formats[]  = { DEEPCD_SOLUTION_FORMAT };
  static const int         versions[] = { DEEPCD_SOLUTION_VERSION };
  const char              *names[3]   = { "nx", "ny", "nz" };
  hid_t                    fid;
  long long                v[3], its;
  deepcd_h5_read_spec      spec;
  double                  *x, setup, solve;
  int                      err;

  if ((err = deepcd_h5_open(h5, &fid, e))) return err;
  err = deepcd_h5_check_header(fid, h5, 1, formats, versions, "solution file", NULL, e);
  for (int d = 0; d < 3 && !err; d++)
    if (!(err = deepcd_h5_read_attr_ints(fid, h5, names[d], NULL, 1, &v[d], e)) && v[d] != dims[d]) err = deepcd_h5_fail(e, DEEPCD_H5_EFORMAT, "%s: attribute '%s' = %lld, the problem has %lld", h5, names[d], v[d], dims[d]);
  if (!err) err = deepcd_h5_read_attr_ints(fid, h5, "iterations", NULL, 1, &its, e);
  if (!err) err = deepcd_h5_read_attr_string(fid, h5, "converged_reason", NULL, r->reason, sizeof(r->reason), e);
  if (!err) err = deepcd_h5_read_attr_double(fid, h5, "setup_seconds", NULL, &setup, e);
  if (!err) err = deepcd_h5_read_attr_double(fid, h5, "solve_seconds", NULL, &solve, e);
  if (!err) {
    memset(&spec, 0, sizeof(spec));
    spec.name         = "x";
    spec.tclass       = H5T_FLOAT;
    spec.shape_name   = "(nz, ny, nx)";
    spec.index_name   = "(k, j, i)";
    spec.memtype      = H5T_NATIVE_DOUBLE;
    spec.rank         = 3;
    spec.dims[0]      = (hsize_t) dims[2];
    spec.dims[1]      = (hsize_t) dims[1];
    spec.dims[2]      = (hsize_t) dims[0];
    spec.check_finite = 1;
    if (!(x = malloc(sizeof(double) * (size_t) (dims[0] * dims[1] * dims[2])))) err = deepcd_h5_fail(e, DEEPCD_H5_EMEM, "%s: out of memory", h5);
    if (!err) err = deepcd_h5_read_checked(fid, h5, &spec, x, e);
    free(x);
  }
  H5Fclose(fid);
  if (!err) {
    r->iterations = its;
    r->setup_s    = setup;
    r->solve_s    = solve;
  }
  return err;
}

PetscErrorCode DeepCDBatchOutputValidate(const char dir[], const char stem[], const long long dims[3], PetscBool *valid, DeepCDBatchResult *r, char why[], size_t lwhy)
{
  char            h5[PETSC_MAX_PATH_LEN], xmf[PETSC_MAX_PATH_LEN];
  struct stat     st;
  deepcd_h5_error e;
  deepcd_h5_quiet q;
  int             err;

  PetscFunctionBegin;
  *valid = PETSC_FALSE;
  why[0] = 0;
  PetscCall(PetscSNPrintf(h5, sizeof(h5), "%s/%s.h5", dir, stem));
  PetscCall(PetscSNPrintf(xmf, sizeof(xmf), "%s/%s.xmf", dir, stem));
  if (stat(h5, &st)) {
    snprintf(why, lwhy, "%s: missing", h5);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (!(dims[0] > 0 && dims[1] > 0 && dims[2] > 0)) {
    snprintf(why, lwhy, "%s: its problem's header cannot be read", h5);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  deepcd_h5_quiet_push(&q);
  err = validate(h5, dims, r, &e);
  deepcd_h5_quiet_pop(&q);
  if (err)
    snprintf(why, lwhy, "%s", e.msg);
  else if (stat(xmf, &st))
    snprintf(why, lwhy, "%s: missing (the solution's XDMF file)", xmf);
  else
    *valid = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDBatchWriteText(const char staging[], const char path[], const char text[], size_t len)
{
  const char *base = strrchr(path, '/');
  char        tmp[PETSC_MAX_PATH_LEN], dir[PETSC_MAX_PATH_LEN];
  int         fd, bad;

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(tmp, sizeof(tmp), "%s/%s", staging, base ? base + 1 : path));
  PetscCall(PetscStrncpy(dir, path, sizeof(dir)));
  if (base)
    dir[base - path] = 0;
  else
    PetscCall(PetscStrncpy(dir, ".", sizeof(dir)));
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  PetscCheck(fd >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: cannot create the temporary file %s (%s)", path, tmp, strerror(errno));
  bad = write(fd, text, len) != (ssize_t) len;
  bad = fsync(fd) || bad;
  bad = close(fd) || bad;
  if (bad || rename(tmp, path)) {
    const int saved = errno;

    (void) unlink(tmp);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: cannot write the file (%s)", path, strerror(saved));
  }
  PetscCheck(!DeepCDBatchSyncDir(dir), PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: cannot sync its directory (%s)", path, strerror(errno));
  PetscFunctionReturn(PETSC_SUCCESS);
}
