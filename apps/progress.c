/* Progress lines and gnuplot line plots (apps/progress.h). */
#define _POSIX_C_SOURCE 200809L
#include "progress.h"
#include <deepcd/private/tmpfile.h>
#include <petsc/private/petscimpl.h>
#include <petsctime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <deepcd/private/petsccompat.h>

struct _p_DeepCDProgress {
  MPI_Comm       comm;
  PetscMPIInt    rank;
  char           prefix[256];
  PetscInt       total, start, last_done;
  PetscLogDouble t0, last_print;
  double         interval, rate_scale;
  char           rate_unit[32];
  PetscBool      tty, drawn;
};

/*@C
  DeepCDProgressFormatSeconds - Formats a duration as "42s", "4m48s" or "3h07m".

  Not Collective

  Input Parameters:
+ seconds - the duration (negative or not finite: "?")
- len     - size of buf

  Output Parameter:
. buf - the text

  Level: developer
@*/
PetscErrorCode DeepCDProgressFormatSeconds(double seconds, char buf[], size_t len)
{
  PetscFunctionBegin;
  if (!(seconds >= 0) || !isfinite(seconds))
    snprintf(buf, len, "?");
  else if (seconds < 60)
    snprintf(buf, len, "%.0fs", seconds);
  else if (seconds < 3600)
    snprintf(buf, len, "%dm%02ds", (int) (seconds / 60), (int) fmod(seconds, 60));
  else
    snprintf(buf, len, "%dh%02dm", (int) (seconds / 3600), (int) fmod(seconds / 60, 60));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDProgressCreate - Starts a progress display for `total` steps.

  Collective

  Input Parameters:
+ comm   - the communicator; only its rank 0 prints
. prefix - text at the start of every line, e.g. "deepcd train"
- total  - the number of steps (>= 0)

  Output Parameter:
. p - the progress display

  Notes:
  On a terminal one line is redrawn in place; elsewhere a plain line is printed
  every 10 seconds (environment DEEPCD_PROGRESS_INTERVAL, seconds) and at the
  last step. DEEPCD_PROGRESS=plain forces plain lines.

  Level: intermediate

.seealso: `DeepCDProgressUpdate()`, `DeepCDProgressEnd()`
@*/
PetscErrorCode DeepCDProgressCreate(MPI_Comm comm, const char prefix[], PetscInt total, DeepCDProgress *p)
{
  DeepCDProgress q;
  const char    *env;

  PetscFunctionBegin;
  PetscAssertPointer(p, 4);
  PetscCheck(total >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "progress: negative total %" PetscInt_FMT, total);
  PetscCall(PetscNew(&q));
  q->comm = comm;
  PetscCallMPI(MPI_Comm_rank(comm, &q->rank));
  PetscCall(PetscStrncpy(q->prefix, prefix ? prefix : "", sizeof(q->prefix)));
  q->total      = total;
  q->interval   = 10;
  q->rate_scale = 1;
  PetscCall(PetscStrncpy(q->rate_unit, "it/s", sizeof(q->rate_unit)));
  env = getenv("DEEPCD_PROGRESS_INTERVAL");
  if (env && atof(env) >= 0) q->interval = atof(env);
  env    = getenv("DEEPCD_PROGRESS");
  q->tty = (q->rank == 0 && isatty(fileno(stdout)) && !(env && !strcmp(env, "plain"))) ? PETSC_TRUE : PETSC_FALSE;
  PetscCall(PetscTime(&q->t0));
  q->last_print = q->t0;
  *p            = q;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDProgressSetStart - Declares that the work resumes at step `start`, so
  the rate and ETA count only the steps done in this run.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDProgressSetStart(DeepCDProgress p, PetscInt start)
{
  PetscFunctionBegin;
  PetscAssertPointer(p, 1);
  p->start = p->last_done = start;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDProgressSetRateUnit - Shows the rate as steps per `seconds` seconds
  under the name `unit` ("problems/min", 60) instead of "it/s".

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDProgressSetRateUnit(DeepCDProgress p, const char unit[], double seconds)
{
  PetscFunctionBegin;
  PetscAssertPointer(p, 1);
  PetscCheck(seconds > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "progress: the rate's time unit must be positive");
  PetscCall(PetscStrncpy(p->rate_unit, unit, sizeof(p->rate_unit)));
  p->rate_scale = seconds;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode progress_print(DeepCDProgress p, PetscInt done, const char fields[], PetscBool final)
{
  PetscLogDouble now;
  double         el, rate, pct;
  char           eta[32], line[1024], bar[41];
  const int      width = 24;

  PetscFunctionBegin;
  PetscCall(PetscTime(&now));
  el   = now - p->t0;
  rate = (el > 0 && done > p->start) ? (done - p->start) / el : NAN;
  pct  = p->total > 0 ? 100.0 * (double) done / (double) p->total : 100.0;
  PetscCall(DeepCDProgressFormatSeconds(final ? el : (p->total - done) / rate, eta, sizeof(eta)));
  if (p->tty) {
    int fill = p->total > 0 ? (int) (width * (double) done / (double) p->total) : width;
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    snprintf(line, sizeof(line), "\r\033[K%s [%s] %" PetscInt_FMT "/%" PetscInt_FMT " %3.0f%%%s%s | %.3g %s | %s %s", p->prefix, bar, done, p->total, pct, fields && fields[0] ? " | " : "", fields ? fields : "", rate * p->rate_scale, p->rate_unit, final ? "in" : "ETA", eta);
    fputs(line, stdout);
    p->drawn = PETSC_TRUE;
  } else {
    snprintf(line, sizeof(line), "%s: %" PetscInt_FMT "/%" PetscInt_FMT " (%.0f%%)%s%s, %.3g %s, %s %s\n", p->prefix, done, p->total, pct, fields && fields[0] ? " " : "", fields ? fields : "", rate * p->rate_scale, p->rate_unit, final ? "in" : "ETA", eta);
    fputs(line, stdout);
  }
  fflush(stdout);
  p->last_print = now;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDProgressUpdate - Reports that `done` of the steps are complete.

  Not Collective (only rank 0 prints; other ranks may call it or not)

  Input Parameters:
+ p      - the progress display
. done   - steps complete
- fields - caller's text for the line (loss, samples/s, ...), may be NULL

  Level: intermediate

.seealso: `DeepCDProgressCreate()`, `DeepCDProgressEnd()`
@*/
PetscErrorCode DeepCDProgressUpdate(DeepCDProgress p, PetscInt done, const char fields[])
{
  PetscLogDouble now;

  PetscFunctionBegin;
  PetscAssertPointer(p, 1);
  p->last_done = done;
  if (p->rank) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscTime(&now));
  if (done >= p->total || now - p->last_print >= (p->tty ? 0.1 : p->interval)) PetscCall(progress_print(p, done, fields, PETSC_FALSE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDProgressEnd - Ends the display: the in-place line is replaced by a
  plain final line "PREFIX: done N/N in 4m48s SUMMARY", and p is freed.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDProgressDestroy(DeepCDProgress *p)
{
  PetscFunctionBegin;
  if (!p || !*p) PetscFunctionReturn(PETSC_SUCCESS);
  if (!(*p)->rank && (*p)->drawn) {
    fputs("\r\033[K", stdout);
    fflush(stdout);
  }
  PetscCall(PetscFree(*p));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDProgressEnd(DeepCDProgress *p, const char summary[])
{
  PetscLogDouble now;
  char           el[32];

  PetscFunctionBegin;
  if (!p || !*p) PetscFunctionReturn(PETSC_SUCCESS);
  if (!(*p)->rank) {
    PetscCall(PetscTime(&now));
    PetscCall(DeepCDProgressFormatSeconds(now - (*p)->t0, el, sizeof(el)));
    if ((*p)->drawn) fputs("\r\033[K", stdout);
    printf("%s: done %" PetscInt_FMT "/%" PetscInt_FMT " in %s%s%s\n", (*p)->prefix, (*p)->last_done, (*p)->total, el, summary && summary[0] ? ", " : "", summary ? summary : "");
    fflush(stdout);
  }
  PetscCall(PetscFree(*p));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDPlotLines - Writes a PNG line plot of several series through gnuplot.

  Collective (rank 0 plots; the others wait for its status)

  Input Parameters:
+ comm    - the communicator
. png     - output file; written under a temporary name and renamed
. title, xlabel, ylabel - texts
. logy    - logarithmic y axis (non-positive values are skipped)
. nseries - number of series
. names   - their legend names
. n       - points per series
. x       - abscissae (n)
- y       - y[s][i]; NAN skips a point

  Notes:
  Fails with a one-line error when gnuplot is not installed or fails.

  Level: intermediate
@*/
PetscErrorCode DeepCDPlotLines(MPI_Comm comm, const char png[], const char title[], const char xlabel[], const char ylabel[], PetscBool logy, PetscInt nseries, const char *const names[], PetscInt n, const PetscReal x[], const PetscReal *const y[])
{
  PetscMPIInt rank;
  int         err      = 0;
  char        msg[512] = "";

  PetscFunctionBegin;
  PetscAssertPointer(png, 2);
  PetscCheck(nseries >= 1 && n >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "plot %s: needs at least one series", png);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    char  dat[] = "/tmp/deepcd-plot-XXXXXX", tmp[PETSC_MAX_PATH_LEN + 96], cmd[PETSC_MAX_PATH_LEN + 64];
    int   fd    = mkstemp(dat);
    FILE *f     = fd >= 0 ? fdopen(fd, "w") : NULL;

    if (deepcd_tmp_name(tmp, sizeof(tmp), png)) {
      if (f) {
        fclose(f);
        remove(dat);
      }
      f = NULL;
      snprintf(msg, sizeof(msg), "plot %s: the file name is too long", png);
    } else
      (void) deepcd_tmp_remove_stale(png);
    if (!f) {
      err = 1;
      if (!msg[0]) snprintf(msg, sizeof(msg), "plot %s: cannot create a temporary data file", png);
    } else {
      for (PetscInt i = 0; i < n; i++) {
        fprintf(f, "%.10g", (double) x[i]);
        for (PetscInt s = 0; s < nseries; s++) {
          double v = (double) y[s][i];
          if (isfinite(v) && (!logy || v > 0))
            fprintf(f, " %.10g", v);
          else
            fprintf(f, " ?");
        }
        fputc('\n', f);
      }
      fclose(f);
      snprintf(cmd, sizeof(cmd), "gnuplot > /dev/null 2>&1");
      FILE *g = popen(cmd, "w");
      if (!g) {
        err = 1;
        snprintf(msg, sizeof(msg), "plot %s: cannot run gnuplot", png);
      } else {
        fprintf(g, "set terminal pngcairo size 900,600\nset output '%s'\nset datafile missing '?'\nset grid\nset key top right\n", tmp);
        fprintf(g, "set title '%s' noenhanced\nset xlabel '%s' noenhanced\nset ylabel '%s' noenhanced\n", title ? title : "", xlabel ? xlabel : "", ylabel ? ylabel : "");
        if (logy) fprintf(g, "set logscale y\nset format y '%%.0e'\n");
        fprintf(g, "plot ");
        for (PetscInt s = 0; s < nseries; s++) fprintf(g, "%s'%s' using 1:%d with lines lw 2 title '%s' noenhanced", s ? ", " : "", dat, (int) s + 2, names && names[s] ? names[s] : "");
        fprintf(g, "\n");
        int st = pclose(g);
        if (st != 0) {
          err = 1;
          snprintf(msg, sizeof(msg), "plot %s: gnuplot failed (exit status %d; is gnuplot with the pngcairo terminal installed?)", png, st == -1 ? -1 : WEXITSTATUS(st));
          remove(tmp);
        } else if (rename(tmp, png)) {
          err = 1;
          snprintf(msg, sizeof(msg), "plot %s: cannot rename the plot into place", png);
          remove(tmp);
        }
      }
      remove(dat);
    }
  }
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  PetscCallMPI(MPI_Bcast(msg, sizeof(msg), MPI_CHAR, 0, comm));
  PetscCheck(!err, comm, PETSC_ERR_LIB, "%s", msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}
