/* `deepcd batch` (apps/cmd_batch.c): the parts that are not the command
   itself, one concept per file:
     worklist.c  the problems: LIST (file, directory or glob), shard, sizes, order
     output.c    outputs: staging directory, atomic commit, validation, stale temporaries
     results.c   the per-problem results: status names, counts, the merge over ranks
     json.c      the JSON text of journal and summary (escaping, the journal's reader)
     journal.c   the journal of finished problems (append + fsync; read on -resume)
     summary.c   summary.json, summary.csv and the one-screen summary
     dispatch.c  the handout of problems to groups (MPI one-sided counter on world rank 0)
     signals.c   SIGTERM/SIGINT: stop taking problems, abandon on a second signal
   docs/formats.md describes the files, docs/options.md the options. */
#ifndef DEEPCD_BATCH_H
#define DEEPCD_BATCH_H

#include <signal.h>
#include <petscsys.h>
#include <deepcd/private/petsccompat.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One problem of the batch. Paths point into the list's text buffer. */
typedef struct {
  const char *path;    /* the problem file as listed */
  const char *stem;    /* the output's name in DIR without ".h5" */
  PetscInt    order;   /* position in LIST (before sharding) */
  long long   dims[3]; /* nx, ny, nz from the problem's header; 0 when unreadable */
} DeepCDBatchItem;

typedef struct {
  char            *text; /* NUL-separated path and stem of every item */
  size_t           ltext;
  PetscInt         n;
  DeepCDBatchItem *items;
} DeepCDBatchList;

/* ---- worklist.c ---- */
/* Rank 0 reads LIST (one path a line, '#' comments and blank lines skipped;
   or a directory: its *.h5 files; or a glob pattern; or one HDF5 problem
   file), keeps shard `ishard` of `nshard` (every nshard-th problem of LIST)
   and broadcasts. One-line errors name LIST and the line. Output stems are the
   problems' base names without ".h5"; two problems with the same stem are refused. */
PetscErrorCode DeepCDBatchListRead(MPI_Comm, const char list[], PetscInt ishard, PetscInt nshard, DeepCDBatchList *);
/* Every rank reads the headers of its share of the problems (dims; 0 when
   unreadable), the results are merged, and the items are sorted largest first
   (ties: LIST order). */
PetscErrorCode DeepCDBatchListProbe(MPI_Comm, DeepCDBatchList *);
PetscErrorCode DeepCDBatchListDestroy(DeepCDBatchList *);
/* "-batch_shard i/n" */
PetscErrorCode DeepCDBatchParseShard(const char text[], PetscInt *ishard, PetscInt *nshard);

/* ---- results ---- */
typedef enum {
  DEEPCD_BATCH_NOT_RUN = 0, /* not reached (interrupted) */
  DEEPCD_BATCH_OK,          /* solved by this run */
  DEEPCD_BATCH_RESUMED,     /* a valid output from an earlier run (-resume) */
  DEEPCD_BATCH_FAILED,      /* unreadable, invalid, diverged, out of memory, write failed */
  DEEPCD_BATCH_INTERRUPTED  /* its solve was abandoned on a second signal */
} DeepCDBatchStatus;

extern const char *const DeepCDBatchStatusNames[];

/* Fixed size, so that results travel as bytes (merged with MPI_BOR over zeros). */
typedef struct {
  int       status; /* DeepCDBatchStatus */
  int       ranks;
  long long iterations;
  double    setup_s, solve_s;
  char      reason[48];
  char      error[512];
} DeepCDBatchResult;

/* Counts by status. */
void DeepCDBatchCount(PetscInt n, const DeepCDBatchResult[], PetscInt count[5]);
/* Merges results[n] of every rank into rank 0's (entries zero on all ranks but one). */
PetscErrorCode DeepCDBatchResultsMerge(MPI_Comm, PetscInt n, DeepCDBatchResult results[]);

/* ---- output.c ---- */
/* DIR/.deepcd-batch.HOST.PID: the group leader's staging directory, on the
   same file system as the outputs; every temporary file lives there. */
PetscErrorCode DeepCDBatchStagingName(const char dir[], char staging[], size_t len);
PetscErrorCode DeepCDBatchStagingCreate(const char staging[]);
PetscErrorCode DeepCDBatchStagingRemove(const char staging[]);
/* Removes the staging directories in DIR whose owner (same host, process
   gone) is dead; *others counts those of other hosts, left alone. */
PetscErrorCode DeepCDBatchRemoveStale(const char dir[], PetscInt *removed, PetscInt *others);
/* fsync()s STAGING/STEM.h5 and STAGING/STEM.xmf, renames them (the .xmf
   first) to DIR/STEM.h5 and DIR/STEM.xmf and fsync()s DIR. On failure nothing
   is left under the final names; a one-line error. */
PetscErrorCode DeepCDBatchCommit(const char staging[], const char dir[], const char stem[]);
/* Is DIR/STEM.h5 a complete solution of a problem of size dims (format,
   version, nx ny nz, dataset x of that shape, all finite; its .xmf present)?
   When it is, *r gets its iterations, reason and timings; otherwise why[] says
   why not. */
PetscErrorCode DeepCDBatchOutputValidate(const char dir[], const char stem[], const long long dims[3], PetscBool *valid, DeepCDBatchResult *r, char why[], size_t lwhy);
/* Removes DIR/STEM.h5 and DIR/STEM.xmf (an output that failed validation). */
PetscErrorCode DeepCDBatchOutputRemove(const char dir[], const char stem[]);
/* Writes a text file atomically: staged, fsync()ed, renamed, DIR fsync()ed. */
PetscErrorCode DeepCDBatchWriteText(const char staging[], const char path[], const char text[], size_t len);
/* fsync() of a directory (after a rename in it). */
int DeepCDBatchSyncDir(const char dir[]);

/* ---- json.c ---- */
/* A growing text. */
typedef struct {
  char  *s;
  size_t len, cap;
  int    bad; /* out of memory: later appends do nothing */
} DeepCDBatchText;

void DeepCDBatchTextPrintf(DeepCDBatchText *, const char fmt[], ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* s as a JSON string (quoted, escaped) or, with csv, as a CSV field. */
void DeepCDBatchTextQuoted(DeepCDBatchText *, const char s[], PetscBool csv);
/* A JSON number (null when not finite). */
void DeepCDBatchTextNumber(DeepCDBatchText *, double);
void DeepCDBatchTextFree(DeepCDBatchText *);
/* One flat JSON object of strings and numbers: calls field(key, string, number, ctx)
   for each member (string NULL for a number). 0, or 1 when the text is not such an object. */
int DeepCDBatchJSONParseObject(const char text[], void (*field)(const char key[], const char *str, double num, void *ctx), void *ctx);

/* ---- journal.c ---- */
/* DIR/journal[.shard-I-of-N].gG.jsonl: one JSON object a line, one line per
   finished problem, appended and fsync()ed by the group's rank 0. */
PetscErrorCode DeepCDBatchJournalName(const char dir[], PetscInt ishard, PetscInt nshard, PetscMPIInt group, char path[], size_t len);
PetscErrorCode DeepCDBatchJournalAppend(const char journal[], const char problem[], const char stem[], const DeepCDBatchResult *);
/* Every journal*.jsonl in DIR: for each item, its last record (found[i]
   says whether there is one); *bad counts lines that are not complete records
   (a kill during a write), which are ignored. */
PetscErrorCode DeepCDBatchJournalRead(const char dir[], const DeepCDBatchList *, PetscBool found[], DeepCDBatchResult last[], PetscInt *bad);
/* Does DIR hold a journal? */
PetscErrorCode DeepCDBatchJournalExists(const char dir[], PetscBool *);

/* ---- summary.c ---- */
typedef struct {
  PetscInt    ishard, nshard;
  PetscMPIInt ranks, groups, group_size;
  double      seconds;
  PetscBool   interrupted;
} DeepCDBatchRun;

/* DIR/summary[.shard-I-of-N].{json,csv}, written atomically (rank 0). */
PetscErrorCode DeepCDBatchSummaryWrite(const char staging[], const char dir[], const DeepCDBatchRun *, const DeepCDBatchList *, const DeepCDBatchResult[]);
/* The one-screen summary on stdout. */
PetscErrorCode DeepCDBatchSummaryPrint(const char dir[], const DeepCDBatchRun *, const DeepCDBatchList *, const DeepCDBatchResult[]);

/* ---- dispatch.c ---- */
typedef struct _n_DeepCDBatchDispatch *DeepCDBatchDispatch;
/* Collective on the world communicator. */
PetscErrorCode DeepCDBatchDispatchCreate(MPI_Comm, PetscInt n, DeepCDBatchDispatch *);
/* Group leaders: the next problem's index, or -1 when none is left or the batch stops. */
PetscErrorCode DeepCDBatchDispatchNext(DeepCDBatchDispatch, PetscInt *);
/* Any rank: no problem is handed out any more. */
PetscErrorCode DeepCDBatchDispatchStop(DeepCDBatchDispatch);
/* Counts a finished problem; *done gets the number finished so far (this run, all groups). */
PetscErrorCode DeepCDBatchDispatchCount(DeepCDBatchDispatch, PetscBool failed, PetscInt *done);
/* Problems finished and failed so far, over all groups. */
PetscErrorCode DeepCDBatchDispatchProgress(DeepCDBatchDispatch, PetscInt *done, PetscInt *failed, PetscBool *stopped);
PetscErrorCode DeepCDBatchDispatchDestroy(DeepCDBatchDispatch *);

/* ---- signals.c ---- */
/* SIGTERM and SIGINT are counted (the first one stops the batch taking
   problems, the second abandons the solves under way). */
PetscErrorCode DeepCDBatchSignalsInstall(void);
int            DeepCDBatchSignalsCount(void);

#ifdef __cplusplus
}
#endif
#endif
