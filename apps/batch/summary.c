/* The summary of a batch: summary.json and summary.csv in the output
   directory (problems in LIST order), and a one-screen summary on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"

#define SUMMARY_FORMAT  "deepcd-batch-summary"
#define SUMMARY_VERSION 1
#define SCREEN_FAILURES 15 /* failures listed on screen */

/* Item indices in LIST order. */
static PetscErrorCode list_order(const DeepCDBatchList *l, PetscInt **idx)
{
  PetscInt *order;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(l->n, idx));
  PetscCall(PetscMalloc1(l->n, &order));
  for (PetscInt i = 0; i < l->n; i++) {
    order[i]  = l->items[i].order;
    (*idx)[i] = i;
  }
  PetscCall(PetscSortIntWithArray(l->n, order, *idx));
  PetscCall(PetscFree(order));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void output_name(const DeepCDBatchItem *it, const DeepCDBatchResult *r, char out[], size_t len)
{
  if (r->status == DEEPCD_BATCH_OK || r->status == DEEPCD_BATCH_RESUMED)
    snprintf(out, len, "%s.h5", it->stem);
  else
    out[0] = 0;
}

static void summary_names(const char dir[], const DeepCDBatchRun *run, const char ext[], char path[], size_t len)
{
  if (run->nshard > 1)
    snprintf(path, len, "%s/summary.shard-%d-of-%d.%s", dir, (int) run->ishard, (int) run->nshard, ext);
  else
    snprintf(path, len, "%s/summary.%s", dir, ext);
}

static void json(DeepCDBatchText *t, const DeepCDBatchRun *run, const DeepCDBatchList *l, const DeepCDBatchResult r[], const PetscInt idx[])
{
  PetscInt count[5];

  DeepCDBatchCount(l->n, r, count);
  DeepCDBatchTextPrintf(t, "{\n  \"format\": \"" SUMMARY_FORMAT "\",\n  \"version\": %d,\n  \"shard\": [%d, %d],\n  \"ranks\": %d,\n  \"groups\": %d,\n  \"group_size\": %d,\n  \"seconds\": ", SUMMARY_VERSION, (int) run->ishard, (int) run->nshard, run->ranks, run->groups, run->group_size);
  DeepCDBatchTextNumber(t, run->seconds);
  DeepCDBatchTextPrintf(t, ",\n  \"interrupted\": %s,\n  \"counts\": {\"total\": %d", run->interrupted ? "true" : "false", (int) l->n);
  for (int s = 0; s < 5; s++) DeepCDBatchTextPrintf(t, ", \"%s\": %d", DeepCDBatchStatusNames[s], (int) count[s]);
  DeepCDBatchTextPrintf(t, "},\n  \"problems\": [");
  for (PetscInt k = 0; k < l->n; k++) {
    const DeepCDBatchItem   *it = &l->items[idx[k]];
    const DeepCDBatchResult *x  = &r[idx[k]];
    char                     out[PETSC_MAX_PATH_LEN];

    output_name(it, x, out, sizeof(out));
    DeepCDBatchTextPrintf(t, "%s\n    {\"problem\": ", k ? "," : "");
    DeepCDBatchTextQuoted(t, it->path, PETSC_FALSE);
    DeepCDBatchTextPrintf(t, ", \"output\": ");
    DeepCDBatchTextQuoted(t, out, PETSC_FALSE);
    DeepCDBatchTextPrintf(t, ", \"status\": \"%s\", \"iterations\": %lld, \"reason\": ", DeepCDBatchStatusNames[x->status], x->iterations);
    DeepCDBatchTextQuoted(t, x->reason, PETSC_FALSE);
    DeepCDBatchTextPrintf(t, ", \"setup_seconds\": ");
    DeepCDBatchTextNumber(t, x->setup_s);
    DeepCDBatchTextPrintf(t, ", \"solve_seconds\": ");
    DeepCDBatchTextNumber(t, x->solve_s);
    DeepCDBatchTextPrintf(t, ", \"ranks\": %d, \"nx\": %lld, \"ny\": %lld, \"nz\": %lld, \"error\": ", x->ranks, it->dims[0], it->dims[1], it->dims[2]);
    DeepCDBatchTextQuoted(t, x->error, PETSC_FALSE);
    DeepCDBatchTextPrintf(t, "}");
  }
  DeepCDBatchTextPrintf(t, "\n  ]\n}\n");
}

static void csv(DeepCDBatchText *t, const DeepCDBatchList *l, const DeepCDBatchResult r[], const PetscInt idx[])
{
  DeepCDBatchTextPrintf(t, "problem,output,status,iterations,reason,setup_seconds,solve_seconds,ranks,nx,ny,nz,error\n");
  for (PetscInt k = 0; k < l->n; k++) {
    const DeepCDBatchItem   *it = &l->items[idx[k]];
    const DeepCDBatchResult *x  = &r[idx[k]];
    char                     out[PETSC_MAX_PATH_LEN];

    output_name(it, x, out, sizeof(out));
    DeepCDBatchTextQuoted(t, it->path, PETSC_TRUE);
    DeepCDBatchTextPrintf(t, ",");
    DeepCDBatchTextQuoted(t, out, PETSC_TRUE);
    DeepCDBatchTextPrintf(t, ",%s,%lld,%s,%.6f,%.6f,%d,%lld,%lld,%lld,", DeepCDBatchStatusNames[x->status], x->iterations, x->reason, x->setup_s, x->solve_s, x->ranks, it->dims[0], it->dims[1], it->dims[2]);
    DeepCDBatchTextQuoted(t, x->error, PETSC_TRUE);
    DeepCDBatchTextPrintf(t, "\n");
  }
}

PetscErrorCode DeepCDBatchSummaryWrite(const char staging[], const char dir[], const DeepCDBatchRun *run, const DeepCDBatchList *l, const DeepCDBatchResult r[])
{
  DeepCDBatchText tj = { 0 }, tc = { 0 };
  PetscInt       *idx;
  char            pj[PETSC_MAX_PATH_LEN], pc[PETSC_MAX_PATH_LEN];
  PetscErrorCode  ierr;

  PetscFunctionBegin;
  PetscCall(list_order(l, &idx));
  json(&tj, run, l, r, idx);
  csv(&tc, l, r, idx);
  PetscCall(PetscFree(idx));
  summary_names(dir, run, "json", pj, sizeof(pj));
  summary_names(dir, run, "csv", pc, sizeof(pc));
  ierr = (tj.bad || tc.bad) ? PETSC_ERR_MEM : PETSC_SUCCESS;
  if (!ierr) ierr = DeepCDBatchWriteText(staging, pj, tj.s, tj.len);
  if (!ierr) ierr = DeepCDBatchWriteText(staging, pc, tc.s, tc.len);
  DeepCDBatchTextFree(&tj);
  DeepCDBatchTextFree(&tc);
  PetscCheck(ierr != PETSC_ERR_MEM, PETSC_COMM_SELF, PETSC_ERR_MEM, "%s: out of memory for the summary", pj);
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDBatchSummaryPrint(const char dir[], const DeepCDBatchRun *run, const DeepCDBatchList *l, const DeepCDBatchResult r[])
{
  PetscInt count[5], *idx, shown = 0;
  char     el[32], pj[PETSC_MAX_PATH_LEN], pc[PETSC_MAX_PATH_LEN];

  PetscFunctionBegin;
  DeepCDBatchCount(l->n, r, count);
  snprintf(el, sizeof(el), "%.1f s", run->seconds);
  printf("deepcd batch: %d problems%s: %d ok, %d resumed, %d failed, %d not run%s in %s on %d rank%s (%d group%s of %d)\n", (int) l->n, run->nshard > 1 ? " in this shard" : "", (int) count[DEEPCD_BATCH_OK], (int) count[DEEPCD_BATCH_RESUMED], (int) count[DEEPCD_BATCH_FAILED], (int) (count[DEEPCD_BATCH_NOT_RUN] + count[DEEPCD_BATCH_INTERRUPTED]), run->interrupted ? " (interrupted by a signal)" : "", el, run->ranks, run->ranks == 1 ? "" : "s", run->groups, run->groups == 1 ? "" : "s", run->group_size);
  PetscCall(list_order(l, &idx));
  for (PetscInt k = 0; k < l->n; k++) {
    const DeepCDBatchResult *x = &r[idx[k]];

    if (x->status != DEEPCD_BATCH_FAILED) continue;
    if (shown++ == 0) printf("failed:\n");
    if (shown <= SCREEN_FAILURES) printf("  %s\n", x->error);
  }
  PetscCall(PetscFree(idx));
  if (shown > SCREEN_FAILURES) printf("  ... and %d more\n", (int) (shown - SCREEN_FAILURES));
  summary_names(dir, run, "json", pj, sizeof(pj));
  summary_names(dir, run, "csv", pc, sizeof(pc));
  printf("summary: %s, %s\n", pj, pc);
  if (run->interrupted || count[DEEPCD_BATCH_NOT_RUN] + count[DEEPCD_BATCH_INTERRUPTED]) printf("to finish: run the same command with -resume\n");
  fflush(stdout);
  PetscFunctionReturn(PETSC_SUCCESS);
}
