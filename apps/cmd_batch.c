/* deepcd batch LIST -o DIR [-batch_group_size g] [-resume] [-batch_shard i/n] [PETSc options] */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <deepcd.h>
#include "cli.h"
#include "progress.h"
#include "batch/batch.h"
#include <deepcd/private/petsccompat.h>

static const char help[] = "deepcd batch LIST -o DIR [-batch_group_size G] [-resume] [-batch_shard I/N] [PETSc options]\n"
                           "Solves every problem of LIST (a file with one path a line, a directory, or a glob) into DIR,\n"
                           "on groups of G ranks, largest problems first; DIR/summary.json and DIR/summary.csv say what happened.\n"
                           "Every KSP/PC option of deepcd solve applies to each solve.\n\n";

typedef struct {
  MPI_Comm            world, group;
  PetscMPIInt         wrank, wsize, grank, gsize, color, ngroups;
  PetscInt            gsize_opt, ishard, nshard;
  char                dir[PETSC_MAX_PATH_LEN], staging[PETSC_MAX_PATH_LEN], journal[PETSC_MAX_PATH_LEN];
  PetscBool           resume, plain, solved_here;
  DeepCDBatchList     list;
  DeepCDBatchResult  *results;
  PetscInt           *todo, ntodo, nresumed;
  DeepCDBatchDispatch disp;
  DeepCDProgress      progress;
} Batch;

/* The command's own options (listed by -help). */
static PetscErrorCode get_options(Batch *b, PetscBool *hasdir, char shard[], size_t lshard, PetscBool *hasshard)
{
  PetscFunctionBegin;
  b->gsize_opt = 1;
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "deepcd batch options", NULL);
  PetscCall(PetscOptionsString("-o", "Output directory (created if missing): one solution file per problem, the journal and the summary", NULL, b->dir, b->dir, sizeof(b->dir), hasdir));
  PetscCall(PetscOptionsInt("-batch_group_size", "Ranks per group: each group solves one problem at a time on a DMDA over its ranks", NULL, b->gsize_opt, &b->gsize_opt, NULL));
  PetscCall(PetscOptionsBool("-resume", "Continue a batch in DIR: skip problems whose output is valid, solve the others again", NULL, b->resume, &b->resume, NULL));
  PetscCall(PetscOptionsString("-batch_shard", "I/N: solve only shard I (0 <= I < N) of LIST, every N-th problem (Slurm job arrays)", NULL, shard, shard, lshard, hasshard));
  PetscOptionsEnd();
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* DIR exists (made if missing), is a writable directory, and holds no problem of the list. */
static PetscErrorCode check_dir(Batch *b)
{
  PetscErrorCode ierr = PETSC_SUCCESS;
  struct stat    st;

  PetscFunctionBegin;
  if (!b->wrank) {
    size_t l = strlen(b->dir);

    while (l > 1 && b->dir[l - 1] == '/') b->dir[--l] = 0;
    if (stat(b->dir, &st) && mkdir(b->dir, 0755) && errno != EEXIST)
      ierr = PetscError(PETSC_COMM_SELF, __LINE__, PETSC_FUNCTION_NAME, __FILE__, PETSC_ERR_FILE_OPEN, PETSC_ERROR_INITIAL, "-o %s: cannot create the output directory (%s)", b->dir, strerror(errno));
    else if (stat(b->dir, &st) || !S_ISDIR(st.st_mode))
      ierr = PetscError(PETSC_COMM_SELF, __LINE__, PETSC_FUNCTION_NAME, __FILE__, PETSC_ERR_FILE_OPEN, PETSC_ERROR_INITIAL, "-o %s: not a directory", b->dir);
    else if (access(b->dir, W_OK | X_OK))
      ierr = PetscError(PETSC_COMM_SELF, __LINE__, PETSC_FUNCTION_NAME, __FILE__, PETSC_ERR_FILE_OPEN, PETSC_ERROR_INITIAL, "-o %s: the directory is not writable", b->dir);
  }
  PetscCall(DeepCDCLIShareStatus(ierr));
  PetscCallMPI(MPI_Bcast(b->dir, sizeof(b->dir), MPI_CHAR, 0, b->world));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rank 0: DIR may not be the directory of a listed problem (an output could
   replace an input), and without -resume it may not hold an earlier batch. */
static PetscErrorCode check_outputs(Batch *b)
{
  char        real[PATH_MAX], pdir[PETSC_MAX_PATH_LEN], preal[PATH_MAX], h5[PETSC_MAX_PATH_LEN];
  struct stat st;
  PetscBool   journal;

  PetscFunctionBegin;
  PetscCheck(realpath(b->dir, real), PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "-o %s: cannot resolve the directory (%s)", b->dir, strerror(errno));
  for (PetscInt i = 0; i < b->list.n; i++) {
    PetscCall(PetscStrncpy(pdir, b->list.items[i].path, sizeof(pdir)));
    if (!realpath(dirname(pdir), preal)) continue; /* the solve reports a missing problem */
    PetscCheck(strcmp(real, preal), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "-o %s: it holds the problem %s of the list (an output could replace an input); choose a separate output directory", b->dir, b->list.items[i].path);
  }
  if (b->resume) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(DeepCDBatchJournalExists(b->dir, &journal));
  PetscCheck(!journal, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "-o %s: the directory holds an earlier batch (a journal.*.jsonl); give -resume to continue it, or choose another directory", b->dir);
  for (PetscInt i = 0; i < b->list.n; i++) {
    PetscCall(PetscSNPrintf(h5, sizeof(h5), "%s/%s.h5", b->dir, b->list.items[i].stem));
    PetscCheck(stat(h5, &st), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "-o %s: %s exists already; give -resume to keep the valid outputs, or choose another directory", b->dir, h5);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A failure that one process meets alone (a file it could not remove or
   append to) must not end the batch on that process only: one warning line. */
static void warn_error(PetscErrorCode ierr, const char consequence[])
{
  char msg[1024];

  if (!ierr) return;
  DeepCDCLIErrorText(ierr, msg, sizeof(msg));
  fprintf(stderr, "deepcd batch: WARNING: %s (%s)\n", msg, consequence);
}

/* -resume: the problems whose output is valid are done (status resumed);
   invalid outputs are removed and their problems solved again. */
static PetscErrorCode plan(Batch *b)
{
  PetscInt           n = b->list.n, bad = 0;
  int               *valid, *jranks;
  PetscBool         *found = NULL;
  DeepCDBatchResult *last  = NULL;

  PetscFunctionBegin;
  PetscCall(PetscCalloc1(n, &b->results));
  PetscCall(PetscCalloc2(n, &valid, n, &jranks));
  if (b->resume) {
    if (!b->wrank) {
      PetscErrorCode ierr;

      PetscCall(PetscCalloc2(n, &found, n, &last));
      ierr = DeepCDBatchJournalRead(b->dir, &b->list, found, last, &bad);
      for (PetscInt i = 0; i < n && !ierr; i++) jranks[i] = found[i] && last[i].status == DEEPCD_BATCH_OK ? (last[i].ranks > 0 ? last[i].ranks : 1) : 0;
      PetscCall(PetscFree2(found, last));
      if (bad) fprintf(stderr, "deepcd batch: %s: %d journal line(s) are incomplete (a kill during a write) and were ignored\n", b->dir, (int) bad);
      PetscCall(DeepCDCLIShareStatus(ierr));
    } else
      PetscCall(DeepCDCLIShareStatus(PETSC_SUCCESS));
    PetscCallMPI(MPI_Bcast(jranks, (PetscMPIInt) n, MPI_INT, 0, b->world));
    for (PetscInt i = b->wrank; i < n; i += b->wsize) {
      const DeepCDBatchItem *it = &b->list.items[i];
      PetscBool              ok;
      char                   why[1024], h5[PETSC_MAX_PATH_LEN];
      struct stat            st;

      PetscCall(PetscSNPrintf(h5, sizeof(h5), "%s/%s.h5", b->dir, it->stem));
      PetscCall(DeepCDBatchOutputValidate(b->dir, it->stem, it->dims, &ok, &b->results[i], why, sizeof(why)));
      if (ok) {
        valid[i]               = 1;
        b->results[i].status   = DEEPCD_BATCH_RESUMED;
        b->results[i].ranks    = jranks[i];
        b->results[i].error[0] = 0;
        continue;
      }
      if (!stat(h5, &st)) {
        fprintf(stderr, "deepcd batch: %s: not a valid output (%s); it is removed and the problem solved again\n", h5, why);
        warn_error(DeepCDBatchOutputRemove(b->dir, it->stem), "the problem is solved again; its new output replaces it");
      } else if (jranks[i])
        fprintf(stderr, "deepcd batch: %s: the journal says done but the output is missing; the problem is solved again\n", it->path);
      PetscCall(PetscMemzero(&b->results[i], sizeof(b->results[i])));
    }
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, valid, (PetscMPIInt) n, MPI_INT, MPI_MAX, b->world));
  }
  PetscCall(PetscMalloc1(n, &b->todo));
  b->ntodo = b->nresumed = 0;
  for (PetscInt i = 0; i < n; i++) {
    if (valid[i])
      b->nresumed++;
    else
      b->todo[b->ntodo++] = i;
  }
  PetscCall(PetscFree2(valid, jranks));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Every iteration of every solve: a second signal abandons the solve (all
   ranks of the group agree, at every 8th iteration), and world rank 0 lets
   MPI progress the handout. */
static PetscErrorCode batch_monitor(KSP ksp, PetscInt its, PetscReal rnorm, void *ctx)
{
  Batch *b   = (Batch *) ctx;
  int    sig = DeepCDBatchSignalsCount();

  PetscFunctionBegin;
  if (!b->wrank && b->wsize > 1) {
    int flag;

    PetscCallMPI(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, b->world, &flag, MPI_STATUS_IGNORE));
  }
  /* every 8th iteration, the same on all ranks of the group: one more reduction per 8 */
  if (b->gsize > 1) {
    if (its % 8) PetscFunctionReturn(PETSC_SUCCESS);
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &sig, 1, MPI_INT, MPI_MAX, b->group));
  }
  PetscCheck(sig < 2, PetscObjectComm((PetscObject) ksp), PETSC_ERR_SIG, "interrupted: a second SIGTERM/SIGINT abandoned the solve at iteration %" PetscInt_FMT, its);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode configure(KSP ksp, void *ctx)
{
  PetscFunctionBegin;
  PetscCall(KSPMonitorSet(ksp, batch_monitor, ctx, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One problem on the group (collective on it): loaded, solved, written to
   the staging directory; the leader moves it into place. No PETSc error
   escapes: it becomes the problem's result. */
static PetscErrorCode solve_one(Batch *b, PetscInt i, DeepCDBatchResult *r)
{
  const DeepCDBatchItem *it = &b->list.items[i];
  DeepCDProblem          p  = NULL;
  DeepCDCLISolve         s  = { 0 };
  DeepCDSolveInfo        info;
  char                   sh5[PETSC_MAX_PATH_LEN];
  PetscErrorCode         ierr;
  int                    failed, anyfailed, diverged = 0;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(r, sizeof(*r)));
  PetscCall(PetscMemzero(&info, sizeof(info)));
  r->ranks       = b->gsize;
  b->solved_here = PETSC_TRUE;
  PetscCall(PetscSNPrintf(sh5, sizeof(sh5), "%s/%s.h5", b->staging, it->stem));
  ierr = DeepCDProblemLoad(b->group, it->path, &p);
  if (!ierr) ierr = DeepCDCLISolveRun(p, configure, b, &s, &info);
  if (!ierr) {
    r->iterations = info.iterations;
    r->setup_s    = info.setup_seconds;
    r->solve_s    = info.solve_seconds;
    snprintf(r->reason, sizeof(r->reason), "%s", KSPConvergedReasons[info.reason]);
    if (info.reason < 0) {
      diverged = 1;
      snprintf(r->error, sizeof(r->error), "%s: did not converge: %s after %lld iterations (residual %.3e); no output written", it->path, r->reason, r->iterations, (double) info.residual_norm);
    } else
      ierr = DeepCDSolutionWrite(p, s.x, &info, sh5);
  }
  if (ierr) DeepCDCLIErrorText(ierr, r->error, sizeof(r->error));
  if (DeepCDCLISolveDestroy(&s) && !ierr) ierr = PETSC_ERR_MEM;
  if (DeepCDProblemDestroy(&p) && !ierr) ierr = PETSC_ERR_MEM;
  failed = ierr ? 1 : 0;
  PetscCallMPI(MPI_Allreduce(&failed, &anyfailed, 1, MPI_INT, MPI_MAX, b->group));
  if (anyfailed && !failed) snprintf(r->error, sizeof(r->error), "%s: the solve failed on another rank of its group", it->path);
  if (!anyfailed && !diverged && !b->grank) {
    ierr = DeepCDBatchCommit(b->staging, b->dir, it->stem);
    if (ierr) {
      anyfailed = 1;
      DeepCDCLIErrorText(ierr, r->error, sizeof(r->error));
    }
  }
  if (anyfailed && strstr(r->error, "interrupted: a second"))
    r->status = DEEPCD_BATCH_INTERRUPTED;
  else
    r->status = (anyfailed || diverged) ? DEEPCD_BATCH_FAILED : DEEPCD_BATCH_OK;
  /* one line: the error text may carry a newline from a library */
  for (char *c = r->error; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The leader's record of a finished problem: journal, count, log line. */
static PetscErrorCode finish_one(Batch *b, PetscInt i, const DeepCDBatchResult *r)
{
  const DeepCDBatchItem *it = &b->list.items[i];
  PetscInt               done;

  PetscFunctionBegin;
  if (r->status == DEEPCD_BATCH_INTERRUPTED) PetscFunctionReturn(PETSC_SUCCESS); /* solved again by -resume */
  warn_error(DeepCDBatchJournalAppend(b->journal, it->path, it->stem, r), "-resume checks the outputs themselves");
  PetscCall(DeepCDBatchDispatchCount(b->disp, r->status == DEEPCD_BATCH_FAILED, &done));
  done += b->nresumed;
  if (r->status == DEEPCD_BATCH_FAILED) {
    fprintf(stderr, "deepcd batch: [%d/%d] FAILED %s\n", (int) done, (int) b->list.n, r->error);
    fflush(stderr);
  } else if (b->plain) {
    printf("deepcd batch: [%d/%d] %s (%lldx%lldx%lld, %d rank%s): %s in %lld iterations, setup %.3f s, solve %.3f s -> %s/%s.h5\n", (int) done, (int) b->list.n, it->path, it->dims[0], it->dims[1], it->dims[2], r->ranks, r->ranks == 1 ? "" : "s", r->reason, r->iterations, r->setup_s, r->solve_s, b->dir, it->stem);
    fflush(stdout);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode update_progress(Batch *b)
{
  PetscInt  done, failed;
  PetscBool stopped;
  char      fields[64];

  PetscFunctionBegin;
  if (!b->progress) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(DeepCDBatchDispatchProgress(b->disp, &done, &failed, &stopped));
  PetscCall(PetscSNPrintf(fields, sizeof(fields), "%d failed%s", (int) failed, stopped ? ", stopping" : ""));
  PetscCall(DeepCDProgressUpdate(b->progress, b->nresumed + done, fields));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The groups take problems until none is left or a signal stops the batch. */
static PetscErrorCode work(Batch *b)
{
  PetscFunctionBegin;
  for (;;) {
    int      stop = DeepCDBatchSignalsCount() > 0;
    PetscInt next = -1;

    if (b->gsize > 1) PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &stop, 1, MPI_INT, MPI_MAX, b->group));
    if (!b->grank) {
      if (stop)
        PetscCall(DeepCDBatchDispatchStop(b->disp));
      else
        PetscCall(DeepCDBatchDispatchNext(b->disp, &next));
    }
    PetscCallMPI(MPI_Bcast(&next, 1, MPIU_INT, 0, b->group));
    if (next < 0) break;
    {
      const PetscInt    i = b->todo[next];
      DeepCDBatchResult r;

      PetscCall(solve_one(b, i, &r));
      if (!b->grank) {
        b->results[i] = r;
        PetscCall(finish_one(b, i, &r));
      }
    }
    PetscCall(update_progress(b));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode setup_groups(Batch *b)
{
  PetscFunctionBegin;
  b->color   = (PetscMPIInt) (b->wrank / b->gsize_opt);
  b->ngroups = (PetscMPIInt) ((b->wsize + b->gsize_opt - 1) / b->gsize_opt);
  PetscCallMPI(MPI_Comm_split(b->world, b->color, b->wrank, &b->group));
  PetscCallMPI(MPI_Comm_rank(b->group, &b->grank));
  PetscCallMPI(MPI_Comm_size(b->group, &b->gsize));
  /* the leader's staging directory and journal */
  if (!b->grank) PetscCall(DeepCDBatchStagingName(b->dir, b->staging, sizeof(b->staging)));
  PetscCallMPI(MPI_Bcast(b->staging, sizeof(b->staging), MPI_CHAR, 0, b->group));
  PetscCall(DeepCDBatchJournalName(b->dir, b->ishard, b->nshard, b->color, b->journal, sizeof(b->journal)));
  {
    PetscErrorCode ierr = b->grank ? PETSC_SUCCESS : DeepCDBatchStagingCreate(b->staging);
    int            code = (int) ierr;

    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &code, 1, MPI_INT, MPI_MAX, b->world));
    if (ierr) PetscCall(ierr);
    PetscCheck(!code, b->world, PETSC_ERR_FILE_OPEN, "-o %s: a group could not create its staging directory", b->dir);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode run(const char list[], int *status)
{
  Batch          b;
  PetscBool      hasdir, hasshard;
  char           shard[64] = "";
  PetscLogDouble t0, t1;
  PetscInt       count[5];
  int            sig, code = 0;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&b, sizeof(b)));
  PetscCall(PetscTime(&t0));
  b.world  = PETSC_COMM_WORLD;
  b.nshard = 1;
  b.group  = MPI_COMM_NULL;
  PetscCallMPI(MPI_Comm_rank(b.world, &b.wrank));
  PetscCallMPI(MPI_Comm_size(b.world, &b.wsize));
  PetscCall(DeepCDCLICheckIntegerOptions(b.world, (const char *const[]){ "batch_group_size" }, 1));
  PetscCall(DeepCDCLICheckToleranceOptions());
  PetscCall(get_options(&b, &hasdir, shard, sizeof(shard), &hasshard));
  PetscCheck(list, b.world, PETSC_ERR_ARG_WRONG, "no list of problems given (usage: deepcd batch LIST -o DIR [PETSc options])");
  PetscCheck(hasdir && b.dir[0], b.world, PETSC_ERR_ARG_WRONG, "no output directory given (-o DIR)");
  if (hasshard) PetscCall(DeepCDBatchParseShard(shard, &b.ishard, &b.nshard));
  PetscCheck(b.gsize_opt >= 1 && b.gsize_opt <= b.wsize, b.world, PETSC_ERR_ARG_OUTOFRANGE, "-batch_group_size %" PetscInt_FMT ": must be between 1 and the number of ranks, %d", b.gsize_opt, (int) b.wsize);
  PetscCall(DeepCDBatchListRead(b.world, list, b.ishard, b.nshard, &b.list));
  PetscCall(check_dir(&b)); /* made only once the list is known good */
  PetscCall(DeepCDBatchSignalsInstall());
  PetscCall(DeepCDBatchListProbe(b.world, &b.list));
  {
    PetscErrorCode ierr    = PETSC_SUCCESS;
    PetscInt       removed = 0, others = 0;

    if (!b.wrank) {
      ierr = check_outputs(&b);
      if (!ierr) ierr = DeepCDBatchRemoveStale(b.dir, &removed, &others);
      if (!ierr && removed) printf("deepcd batch: removed %d staging director%s of dead processes in %s\n", (int) removed, removed == 1 ? "y" : "ies", b.dir);
      if (!ierr && others) fprintf(stderr, "deepcd batch: WARNING: %s holds %d staging director%s (.deepcd-batch.HOST.PID) of other hosts; remove them when no batch runs there\n", b.dir, (int) others, others == 1 ? "y" : "ies");
    }
    PetscCall(DeepCDCLIShareStatus(ierr));
  }
  PetscCall(plan(&b));
  PetscCall(DeepCDBatchDispatchCreate(b.world, b.ntodo, &b.disp));
  PetscCall(setup_groups(&b));
  {
    const char *env = getenv("DEEPCD_PROGRESS");

    b.plain = (!isatty(fileno(stdout)) || (env && !strcmp(env, "plain"))) ? PETSC_TRUE : PETSC_FALSE;
  }
  if (!b.wrank) {
    PetscCall(PetscPrintf(PETSC_COMM_SELF, "deepcd batch: %d problems%s (%d to solve, %d done earlier) on %d rank%s in %d group%s of %d -> %s\n", (int) b.list.n, b.nshard > 1 ? " in this shard" : "", (int) b.ntodo, (int) b.nresumed, (int) b.wsize, b.wsize == 1 ? "" : "s", (int) b.ngroups, b.ngroups == 1 ? "" : "s", (int) b.gsize_opt, b.dir));
    PetscCall(DeepCDProgressCreate(PETSC_COMM_SELF, "deepcd batch", b.list.n, &b.progress));
    PetscCall(DeepCDProgressSetRateUnit(b.progress, "problems/min", 60.0));
    PetscCall(DeepCDProgressSetStart(b.progress, b.nresumed));
  }

  PetscCall(work(&b));

  /* everyone is out of the loop: the results go to rank 0 */
  PetscCall(DeepCDBatchResultsMerge(b.world, b.list.n, b.results));
  sig = DeepCDBatchSignalsCount();
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &sig, 1, MPI_INT, MPI_MAX, b.world));
  PetscCall(PetscTime(&t1));
  if (!b.wrank) {
    DeepCDBatchRun run = { b.ishard, b.nshard, b.wsize, b.ngroups, (PetscMPIInt) b.gsize_opt, t1 - t0, sig ? PETSC_TRUE : PETSC_FALSE };
    PetscErrorCode ierr;

    DeepCDBatchCount(b.list.n, b.results, count);
    PetscCall(update_progress(&b));
    PetscCall(DeepCDProgressEnd(&b.progress, NULL));
    ierr = DeepCDBatchSummaryWrite(b.staging, b.dir, &run, &b.list, b.results);
    PetscCall(DeepCDBatchSummaryPrint(b.dir, &run, &b.list, b.results));
    if (ierr) {
      char msg[1024];

      DeepCDCLIErrorText(ierr, msg, sizeof(msg));
      fprintf(stderr, "deepcd batch: error: %s\n", msg);
      code = 1;
    } else if (sig || count[DEEPCD_BATCH_NOT_RUN] || count[DEEPCD_BATCH_INTERRUPTED])
      code = 4;
    else if (count[DEEPCD_BATCH_FAILED])
      code = 3;
  }
  PetscCallMPI(MPI_Bcast(&code, 1, MPI_INT, 0, b.world));
  *status = code;

  if (!b.grank) warn_error(DeepCDBatchStagingRemove(b.staging), "the next run removes it");
  PetscCall(DeepCDBatchDispatchDestroy(&b.disp));
  PetscCallMPI(MPI_Comm_free(&b.group));
  {
    PetscBool any = b.solved_here;

    PetscCallMPI(MPI_Bcast(&any, 1, DEEPCD_MPI_BOOL, 0, b.world));
    if (any) PetscCall(DeepCDCLIWarnUnusedOptions("batch"));
  }
  PetscCall(PetscFree(b.todo));
  PetscCall(PetscFree(b.results));
  PetscCall(DeepCDBatchListDestroy(&b.list));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int DeepCDCmdBatch(int argc, char **argv)
{
  const char    *list = NULL;
  char         **pargv;
  int            pargc = 0, status = 0;
  PetscErrorCode ierr;
  PetscBool      helpflg = PETSC_FALSE;

  /* LIST is the first argument after "batch"; PETSc sees the rest. */
  if (DeepCDCLISplitFirst(argc, argv, &list, &pargc, &pargv)) return 1;
  ierr = DeepCDCLIInitialize(&pargc, &pargv, help);
  if (ierr) {
    fprintf(stderr, "deepcd batch: error: PETSc failed to start\n");
    free(pargv);
    return 1;
  }
  ierr = PetscOptionsHasHelp(NULL, &helpflg);
  if (!ierr && helpflg && !list) {
    Batch     b;
    char      shard[64] = "";
    PetscBool hasdir, hasshard;

    /* list the options without a batch */
    memset(&b, 0, sizeof(b));
    ierr = get_options(&b, &hasdir, shard, sizeof(shard), &hasshard);
    if (!ierr) ierr = DeepCDCLISolveHelp();
  } else if (!ierr)
    ierr = run(list, &status);
  status = DeepCDCLIFinalize(ierr ? DeepCDCLIFail("batch", ierr) : status);
  free(pargv);
  return status;
}
