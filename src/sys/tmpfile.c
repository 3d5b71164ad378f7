/* Temporary names PATH.tmp.HOST.PID and the removal of those whose writer died
   (deepcd/private/tmpfile.h). */
#define _POSIX_C_SOURCE 200809L /* kill(), gethostname() */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <deepcd/private/tmpfile.h>

/* this host's name (at most 64 characters; "localhost" if it has none) */
static void host_name(char host[65])
{
  if (gethostname(host, 65) != 0 || !host[0]) snprintf(host, 65, "localhost");
  host[64] = 0;
}

int deepcd_tmp_name(char *tmp, size_t len, const char *path)
{
  char host[65];
  int  n;

  host_name(host);
  n = snprintf(tmp, len, "%s.tmp.%s.%ld", path, host, (long) getpid());
  return (n < 0 || (size_t) n >= len) ? -1 : 0;
}

int deepcd_tmp_remove_stale(const char *path)
{
  const char    *slash = strrchr(path, '/');
  const char    *base  = slash ? slash + 1 : path;
  char           host[65], *dir, *prefix, *full;
  size_t         ldir = slash ? (size_t) (slash - path) : 0, lprefix;
  DIR           *d;
  struct dirent *ent;
  int            removed = 0;

  host_name(host);
  lprefix = strlen(base) + strlen(host) + 7;
  dir     = malloc(ldir + 2);
  prefix  = malloc(lprefix);
  if (!dir || !prefix) goto done;
  if (slash) {
    memcpy(dir, path, ldir ? ldir : 1); /* "/x": the root */
    dir[ldir ? ldir : 1] = 0;
  } else
    snprintf(dir, 2, ".");
  snprintf(prefix, lprefix, "%s.tmp.%s.", base, host);
  if (!(d = opendir(dir))) goto done;
  while ((ent = readdir(d))) {
    const char *p = ent->d_name;
    char       *end;
    long        pid;

    if (strncmp(p, prefix, lprefix - 1)) continue;
    p += lprefix - 1;
    errno = 0;
    pid   = strtol(p, &end, 10);
    if (end == p || *end || errno || pid <= 0 || pid == (long) getpid()) continue;
    if (kill((pid_t) pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to probe (EPERM): keep */
    if (!(full = malloc(strlen(dir) + strlen(ent->d_name) + 2))) break;
    sprintf(full, "%s/%s", dir, ent->d_name);
    if (remove(full) == 0) removed++;
    free(full);
  }
  closedir(d);
done:
  free(dir);
  free(prefix);
  return removed;
}
