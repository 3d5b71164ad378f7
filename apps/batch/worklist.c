/* The problems of a batch: LIST read, sharded, probed and ordered largest first. */
#define _XOPEN_SOURCE 700
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <deepcd/problem.h>
#include <deepcd/private/h5.h>
#include "batch.h"

/* A growing buffer of NUL-terminated strings. */
typedef struct {
  char  *s;
  size_t len, cap;
  long   n;
} StrBuf;

static int strbuf_add(StrBuf *b, const char *str, size_t l)
{
  if (b->len + l + 1 > b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 4096;
    char  *s;

    while (cap < b->len + l + 1) cap *= 2;
    if (!(s = realloc(b->s, cap))) return 1;
    b->s   = s;
    b->cap = cap;
  }
  memcpy(b->s + b->len, str, l);
  b->s[b->len + l] = 0;
  b->len += l + 1;
  b->n++;
  return 0;
}

static int is_hdf5(const char path[])
{
  static const unsigned char sig[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };
  unsigned char              head[8];
  FILE                      *f = fopen(path, "rb");
  int                        yes;

  if (!f) return 0;
  yes = fread(head, 1, 8, f) == 8 && !memcmp(head, sig, 8);
  fclose(f);
  return yes;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The *.h5 files of a directory, sorted by name. */
static PetscErrorCode read_directory(const char list[], StrBuf *b)
{
  DIR           *d = opendir(list);
  struct dirent *e;
  char         **names = NULL, full[PETSC_MAX_PATH_LEN];
  size_t         n = 0, cap = 0;
  int            bad = 0;

  PetscFunctionBegin;
  PetscCheck(d, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: cannot read the directory (%s)", list, strerror(errno));
  while (!bad && (e = readdir(d))) {
    size_t l = strlen(e->d_name);

    if (l < 4 || strcmp(e->d_name + l - 3, ".h5") || e->d_name[0] == '.') continue;
    if (n == cap) {
      char **t = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof(char *));

      if (!t) {
        bad = 1;
        break;
      }
      names = t;
    }
    if (!(names[n] = strdup(e->d_name)))
      bad = 1;
    else
      n++;
  }
  closedir(d);
  if (!bad) qsort(names, n, sizeof(char *), cmp_str);
  for (size_t i = 0; i < n; i++) {
    int len = snprintf(full, sizeof(full), "%s%s%s", list, list[strlen(list) - 1] == '/' ? "" : "/", names[i]);

    if (!bad && (len < 0 || (size_t) len >= sizeof(full) || strbuf_add(b, full, (size_t) len))) bad = 1;
    free(names[i]);
  }
  free(names);
  PetscCheck(!bad, PETSC_COMM_SELF, PETSC_ERR_MEM, "%s: out of memory reading the directory", list);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode read_glob(const char list[], StrBuf *b)
{
  glob_t g;
  int    err = glob(list, 0, NULL, &g), bad = 0;

  PetscFunctionBegin;
  PetscCheck(err != GLOB_NOMATCH, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: no file matches the pattern", list);
  PetscCheck(!err, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: cannot expand the pattern", list);
  for (size_t i = 0; i < g.gl_pathc && !bad; i++) bad = strbuf_add(b, g.gl_pathv[i], strlen(g.gl_pathv[i]));
  globfree(&g);
  PetscCheck(!bad, PETSC_COMM_SELF, PETSC_ERR_MEM, "%s: out of memory expanding the pattern", list);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One path a line; blank lines and '#' comments skipped, spaces around trimmed. */
static PetscErrorCode read_file(const char list[], StrBuf *b)
{
  FILE *f = fopen(list, "r");
  char  line[PETSC_MAX_PATH_LEN + 2];
  long  lineno = 0;
  int   bad    = 0;

  PetscFunctionBegin;
  PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: cannot read the list of problems (%s)", list, strerror(errno));
  while (!bad && fgets(line, sizeof(line), f)) {
    size_t l = strlen(line);
    char  *s = line, *e;

    lineno++;
    if (l == sizeof(line) - 1 && line[l - 1] != '\n' && !feof(f)) {
      fclose(f);
      SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s:%ld: the line is longer than a path may be (%d characters)", list, lineno, PETSC_MAX_PATH_LEN - 1);
    }
    while (*s && isspace((unsigned char) *s)) s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char) e[-1])) *--e = 0;
    if (!*s || *s == '#') continue;
    for (const char *c = s; *c && !bad; c++)
      if (iscntrl((unsigned char) *c)) bad = 2;
    if (bad == 2) {
      fclose(f);
      SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s:%ld: the line holds control characters; is this a list of problem paths (one per line)?", list, lineno);
    }
    bad = strbuf_add(b, s, strlen(s));
  }
  bad = bad || ferror(f);
  fclose(f);
  PetscCheck(!bad, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot read the list of problems", list);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDBatchParseShard(const char text[], PetscInt *ishard, PetscInt *nshard)
{
  long long i, n;
  char      extra;

  PetscFunctionBegin;
  PetscCheck(sscanf(text, "%lld/%lld%c", &i, &n, &extra) == 2, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "-batch_shard %s: expected I/N (shard I of N, 0 <= I < N), e.g. 0/4 or $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT", text);
  PetscCheck(n >= 1 && n <= PETSC_MAX_INT && i >= 0 && i < n, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-batch_shard %s: need 0 <= I < N", text);
  *ishard = (PetscInt) i;
  *nshard = (PetscInt) n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Items over the text: path, then stem, for each of n problems. */
static PetscErrorCode index_items(DeepCDBatchList *l)
{
  const char *s = l->text;

  PetscFunctionBegin;
  PetscCall(PetscCalloc1(l->n, &l->items));
  for (PetscInt i = 0; i < l->n; i++) {
    l->items[i].path = s;
    s += strlen(s) + 1;
    l->items[i].stem = s;
    s += strlen(s) + 1;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  const char *stem, *path;
} StemRef;

static int cmp_stem(const void *a, const void *b)
{
  return strcmp(((const StemRef *) a)->stem, ((const StemRef *) b)->stem);
}

/* Rank 0: the shard's paths and their stems into l->text. */
static PetscErrorCode build(const char list[], PetscInt ishard, PetscInt nshard, DeepCDBatchList *l, PetscInt **order)
{
  StrBuf      in = { 0 }, out = { 0 };
  struct stat st;
  const char *p;
  int         bad = 0;

  PetscFunctionBegin;
  if (!stat(list, &st) && S_ISDIR(st.st_mode))
    PetscCall(read_directory(list, &in));
  else if (!stat(list, &st) && is_hdf5(list))
    bad = strbuf_add(&in, list, strlen(list));
  else if (stat(list, &st) && strpbrk(list, "*?["))
    PetscCall(read_glob(list, &in));
  else
    PetscCall(read_file(list, &in));
  PetscCheck(!bad, PETSC_COMM_SELF, PETSC_ERR_MEM, "%s: out of memory", list);
  PetscCheck(in.n > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: no problems listed", list);
  PetscCall(PetscMalloc1(in.n, order));
  l->n = 0;
  p    = in.s;
  for (long i = 0; i < in.n; i++, p += strlen(p) + 1) {
    const char *base = strrchr(p, '/');
    size_t      lb;

    if (i % nshard != ishard) continue;
    base = base ? base + 1 : p;
    lb   = strlen(base);
    if (lb > 3 && !strcmp(base + lb - 3, ".h5")) lb -= 3;
    if (!lb || !base[0]) {
      free(in.s);
      free(out.s);
      PetscCall(PetscFree(*order));
      SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: entry %ld '%s' names no file", list, i + 1, p);
    }
    if (!bad) bad = strbuf_add(&out, p, strlen(p)) || strbuf_add(&out, base, lb);
    (*order)[l->n++] = (PetscInt) i;
  }
  free(in.s);
  if (bad) {
    free(out.s);
    PetscCall(PetscFree(*order));
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_MEM, "%s: out of memory", list);
  }
  l->text  = out.s;
  l->ltext = out.len;
  PetscCheck(l->n > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%s: shard %" PetscInt_FMT "/%" PetscInt_FMT " holds no problem (the list has %ld)", list, ishard, nshard, in.n);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Two problems may not write the same output. */
static PetscErrorCode check_stems(const char list[], const DeepCDBatchList *l)
{
  StemRef       *s;
  PetscErrorCode ierr = PETSC_SUCCESS;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(l->n, &s));
  for (PetscInt i = 0; i < l->n; i++) {
    s[i].stem = l->items[i].stem;
    s[i].path = l->items[i].path;
  }
  qsort(s, (size_t) l->n, sizeof(*s), cmp_stem);
  for (PetscInt i = 1; i < l->n && !ierr; i++)
    if (!strcmp(s[i].stem, s[i - 1].stem)) ierr = PetscError(PETSC_COMM_SELF, __LINE__, PETSC_FUNCTION_NAME, __FILE__, PETSC_ERR_ARG_WRONG, PETSC_ERROR_INITIAL, "%s: problems %s and %s would both write %s.h5; give the files distinct names", list, s[i - 1].path, s[i].path, s[i].stem);
  PetscCall(PetscFree(s));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDBatchListRead(MPI_Comm comm, const char list[], PetscInt ishard, PetscInt nshard, DeepCDBatchList *l)
{
  PetscMPIInt    rank;
  PetscErrorCode ierr  = PETSC_SUCCESS;
  PetscInt      *order = NULL;
  long long      meta[2];

  PetscFunctionBegin;
  PetscCall(PetscMemzero(l, sizeof(*l)));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    ierr = build(list, ishard, nshard, l, &order);
    if (!ierr) ierr = index_items(l);
    if (!ierr) ierr = check_stems(list, l);
  }
  {
    int code = (int) ierr;

    PetscCallMPI(MPI_Bcast(&code, 1, MPI_INT, 0, comm));
    if (code) {
      if (!rank) {
        free(l->text);
        PetscCall(PetscFree(l->items));
        PetscCall(PetscFree(order));
        PetscCall(ierr);
      }
      SETERRQ(comm, (PetscErrorCode) code, "%s: the list of problems is not usable (see rank 0)", list);
    }
  }
  meta[0] = (long long) l->n;
  meta[1] = (long long) l->ltext;
  PetscCallMPI(MPI_Bcast(meta, 2, MPI_LONG_LONG, 0, comm));
  if (rank) {
    l->n     = (PetscInt) meta[0];
    l->ltext = (size_t) meta[1];
    l->text  = malloc(l->ltext);
    PetscCheck(l->text, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory for the list of problems");
    PetscCall(PetscMalloc1(l->n, &order));
  }
  for (size_t off = 0; off < l->ltext; off += 1 << 30) {
    size_t chunk = l->ltext - off < (size_t) 1 << 30 ? l->ltext - off : (size_t) 1 << 30;

    PetscCallMPI(MPI_Bcast(l->text + off, (int) chunk, MPI_CHAR, 0, comm));
  }
  PetscCallMPI(MPI_Bcast(order, (PetscMPIInt) l->n, MPIU_INT, 0, comm));
  if (rank) PetscCall(index_items(l));
  for (PetscInt i = 0; i < l->n; i++) l->items[i].order = order[i];
  PetscCall(PetscFree(order));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* nx, ny, nz of a problem file (0 when it cannot be read: the solve reports why). */
static void probe_one(DeepCDBatchItem *it)
{
  hid_t           fid;
  deepcd_h5_quiet q;
  long long       v[3];
  const char     *names[3] = { "nx", "ny", "nz" };
  int             ok       = 1;

  deepcd_h5_quiet_push(&q);
  if (!deepcd_h5_open(it->path, &fid, NULL)) {
    for (int d = 0; d < 3 && ok; d++) ok = !deepcd_h5_read_attr_ints(fid, it->path, names[d], NULL, 1, &v[d], NULL) && v[d] >= 1;
    if (ok)
      for (int d = 0; d < 3; d++) it->dims[d] = v[d];
    H5Fclose(fid);
  }
  deepcd_h5_quiet_pop(&q);
}

static int cmp_items(const void *a, const void *b)
{
  const DeepCDBatchItem *x = a, *y = b;
  const double           sx = (double) x->dims[0] * x->dims[1] * x->dims[2], sy = (double) y->dims[0] * y->dims[1] * y->dims[2];

  if (sx != sy) return sx > sy ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

PetscErrorCode DeepCDBatchListProbe(MPI_Comm comm, DeepCDBatchList *l)
{
  PetscMPIInt rank, size;
  long long  *dims;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscCalloc1(3 * l->n, &dims));
  for (PetscInt i = rank; i < l->n; i += size) {
    probe_one(&l->items[i]);
    for (int d = 0; d < 3; d++) dims[3 * i + d] = l->items[i].dims[d];
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, dims, (PetscMPIInt) (3 * l->n), MPI_LONG_LONG, MPI_MAX, comm));
  for (PetscInt i = 0; i < l->n; i++)
    for (int d = 0; d < 3; d++) l->items[i].dims[d] = dims[3 * i + d];
  PetscCall(PetscFree(dims));
  qsort(l->items, (size_t) l->n, sizeof(*l->items), cmp_items);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDBatchListDestroy(DeepCDBatchList *l)
{
  PetscFunctionBegin;
  free(l->text);
  l->text = NULL;
  PetscCall(PetscFree(l->items));
  l->n = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}
