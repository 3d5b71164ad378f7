/* The journal of a batch: one JSON line per finished problem, appended and
   fsync()ed by the group's rank 0 when the problem is done (after its output
   is in place), read by -resume. A kill can cut only the last line, which the
   reader ignores. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "batch.h"

#define JOURNAL_FORMAT  "deepcd-batch-journal"
#define JOURNAL_VERSION 1

PetscErrorCode DeepCDBatchJournalName(const char dir[], PetscInt ishard, PetscInt nshard, PetscMPIInt group, char path[], size_t len)
{
  PetscFunctionBegin;
  if (nshard > 1)
    PetscCall(PetscSNPrintf(path, len, "%s/journal.shard-%" PetscInt_FMT "-of-%" PetscInt_FMT ".g%d.jsonl", dir, ishard, nshard, (int) group));
  else
    PetscCall(PetscSNPrintf(path, len, "%s/journal.g%d.jsonl", dir, (int) group));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDBatchJournalAppend(const char journal[], const char problem[], const char stem[], const DeepCDBatchResult *r)
{
  DeepCDBatchText t         = { 0 };
  char            host[256] = "", out[PETSC_MAX_PATH_LEN];
  struct stat     st;
  int             fd, bad, created;

  PetscFunctionBegin;
  (void) gethostname(host, sizeof(host) - 1);
  PetscCall(PetscSNPrintf(out, sizeof(out), "%s.h5", stem));
  DeepCDBatchTextPrintf(&t, "{\"journal\":\"" JOURNAL_FORMAT "\",\"version\":%d,\"problem\":", JOURNAL_VERSION);
  DeepCDBatchTextQuoted(&t, problem, PETSC_FALSE);
  DeepCDBatchTextPrintf(&t, ",\"output\":");
  DeepCDBatchTextQuoted(&t, r->status == DEEPCD_BATCH_OK ? out : "", PETSC_FALSE);
  DeepCDBatchTextPrintf(&t, ",\"status\":\"%s\",\"iterations\":%lld,\"reason\":", DeepCDBatchStatusNames[r->status], r->iterations);
  DeepCDBatchTextQuoted(&t, r->reason, PETSC_FALSE);
  DeepCDBatchTextPrintf(&t, ",\"setup_seconds\":");
  DeepCDBatchTextNumber(&t, r->setup_s);
  DeepCDBatchTextPrintf(&t, ",\"solve_seconds\":");
  DeepCDBatchTextNumber(&t, r->solve_s);
  DeepCDBatchTextPrintf(&t, ",\"ranks\":%d,\"error\":", r->ranks);
  DeepCDBatchTextQuoted(&t, r->error, PETSC_FALSE);
  DeepCDBatchTextPrintf(&t, ",\"host\":");
  DeepCDBatchTextQuoted(&t, host, PETSC_FALSE);
  DeepCDBatchTextPrintf(&t, ",\"pid\":%ld,\"time\":%lld}\n", (long) getpid(), (long long) time(NULL));
  if (t.bad) {
    DeepCDBatchTextFree(&t);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_MEM, "%s: out of memory for a journal line", journal);
  }
  created = stat(journal, &st) != 0;
  fd      = open(journal, O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0) {
    const int saved = errno;

    DeepCDBatchTextFree(&t);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: cannot open the journal (%s)", journal, strerror(saved));
  }
  /* one write of the whole line: a kill leaves at most a cut last line */
  bad = write(fd, t.s, t.len) != (ssize_t) t.len;
  bad = fsync(fd) || bad;
  bad = close(fd) || bad;
  DeepCDBatchTextFree(&t);
  if (!bad && created) {
    char dir[PETSC_MAX_PATH_LEN], *slash;

    PetscCall(PetscStrncpy(dir, journal, sizeof(dir)));
    if ((slash = strrchr(dir, '/'))) *slash = 0;
    bad = DeepCDBatchSyncDir(slash ? dir : ".");
  }
  PetscCheck(!bad, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: cannot append to the journal (%s)", journal, strerror(errno));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int is_journal(const char name[])
{
  size_t l = strlen(name);

  return !strncmp(name, "journal.", 8) && l > 14 && !strcmp(name + l - 6, ".jsonl");
}

PetscErrorCode DeepCDBatchJournalExists(const char dir[], PetscBool *exists)
{
  DIR           *d = opendir(dir);
  struct dirent *e;

  PetscFunctionBegin;
  *exists = PETSC_FALSE;
  if (!d) PetscFunctionReturn(PETSC_SUCCESS);
  while ((e = readdir(d)) && !*exists)
    if (is_journal(e->d_name)) *exists = PETSC_TRUE;
  closedir(d);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One parsed line. */
typedef struct {
  char              format[32], problem[PETSC_MAX_PATH_LEN];
  double            version;
  int               has_status, has_problem;
  DeepCDBatchResult r;
} Record;

static void record_field(const char key[], const char *str, double num, void *ctx)
{
  Record *rec = (Record *) ctx;

  if (!strcmp(key, "journal") && str)
    snprintf(rec->format, sizeof(rec->format), "%s", str);
  else if (!strcmp(key, "version") && !str)
    rec->version = num;
  else if (!strcmp(key, "problem") && str) {
    snprintf(rec->problem, sizeof(rec->problem), "%s", str);
    rec->has_problem = 1;
  } else if (!strcmp(key, "status") && str) {
    for (int s = 0; s < 5; s++)
      if (!strcmp(str, DeepCDBatchStatusNames[s])) {
        rec->r.status   = s;
        rec->has_status = 1;
      }
  } else if (!strcmp(key, "iterations") && !str)
    rec->r.iterations = isfinite(num) ? (long long) num : 0;
  else if (!strcmp(key, "reason") && str)
    snprintf(rec->r.reason, sizeof(rec->r.reason), "%s", str);
  else if (!strcmp(key, "setup_seconds") && !str)
    rec->r.setup_s = num;
  else if (!strcmp(key, "solve_seconds") && !str)
    rec->r.solve_s = num;
  else if (!strcmp(key, "ranks") && !str)
    rec->r.ranks = isfinite(num) ? (int) num : 0;
  else if (!strcmp(key, "error") && str)
    snprintf(rec->r.error, sizeof(rec->r.error), "%s", str);
}

typedef struct {
  const char *path;
  PetscInt    index;
} PathRef;

static int cmp_path(const void *a, const void *b)
{
  return strcmp(((const PathRef *) a)->path, ((const PathRef *) b)->path);
}

/* Records of one journal file, in order: a later line overrides an earlier one. */
static PetscErrorCode read_one(const char file[], const PathRef *refs, PetscInt n, PetscBool found[], DeepCDBatchResult last[], PetscInt *bad)
{
  FILE   *f    = fopen(file, "r");
  char   *line = NULL;
  size_t  cap  = 0;
  ssize_t len;
  Record *rec;

  PetscFunctionBegin;
  PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: cannot read the journal (%s)", file, strerror(errno));
  PetscCall(PetscNew(&rec));
  while ((len = getline(&line, &cap, f)) > 0) {
    PathRef key, *hit;

    memset(rec, 0, sizeof(*rec));
    if (line[len - 1] != '\n' || DeepCDBatchJSONParseObject(line, record_field, rec) || strcmp(rec->format, JOURNAL_FORMAT) || rec->version != JOURNAL_VERSION || !rec->has_problem || !rec->has_status) {
      (*bad)++;
      continue;
    }
    key.path = rec->problem;
    hit      = bsearch(&key, refs, (size_t) n, sizeof(*refs), cmp_path);
    if (!hit) continue; /* another shard's, or a problem no longer listed */
    found[hit->index] = PETSC_TRUE;
    last[hit->index]  = rec->r;
  }
  free(line);
  fclose(f);
  PetscCall(PetscFree(rec));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDBatchJournalRead(const char dir[], const DeepCDBatchList *l, PetscBool found[], DeepCDBatchResult last[], PetscInt *bad)
{
  DIR           *d;
  struct dirent *e;
  PathRef       *refs;
  char           file[PETSC_MAX_PATH_LEN];

  PetscFunctionBegin;
  *bad = 0;
  PetscCall(PetscMalloc1(l->n, &refs));
  for (PetscInt i = 0; i < l->n; i++) {
    refs[i].path  = l->items[i].path;
    refs[i].index = i;
    found[i]      = PETSC_FALSE;
  }
  qsort(refs, (size_t) l->n, sizeof(*refs), cmp_path);
  d = opendir(dir);
  if (d) {
    PetscErrorCode ierr = PETSC_SUCCESS;

    while (!ierr && (e = readdir(d))) {
      if (!is_journal(e->d_name)) continue;
      snprintf(file, sizeof(file), "%s/%s", dir, e->d_name);
      ierr = read_one(file, refs, l->n, found, last, bad);
    }
    closedir(d);
    if (ierr) PetscCall(PetscFree(refs));
    PetscCall(ierr);
  }
  PetscCall(PetscFree(refs));
  PetscFunctionReturn(PETSC_SUCCESS);
}
