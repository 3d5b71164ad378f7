/* Temporary names of files written atomically (src/sys/tmpfile.c): PATH is written as
   PATH.tmp.HOST.PID and renamed when complete. A process killed during the write
   (SIGKILL, a node failure) leaves its temporary file behind; a later writer of the
   same PATH on the same host removes those whose process is gone. Plain C: every
   writer of the code base (HDF5 files, text files, plots) uses it. */
#ifndef DEEPCD_TMPFILE_H
#define DEEPCD_TMPFILE_H

#include <stddef.h>

#if defined(__GNUC__)
#define DEEPCD_TMP_INTERN __attribute__((visibility("hidden")))
#else
#define DEEPCD_TMP_INTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* "PATH.tmp.HOST.PID" for this host and process into tmp[len]; 0, or -1 when it does not fit. */
DEEPCD_TMP_INTERN int deepcd_tmp_name(char *tmp, size_t len, const char *path);
/* Removes the files PATH.tmp.HOST.PID of this host whose process PID no longer exists
   (kill(PID, 0) fails with ESRCH); others' and live processes' files are kept. Returns
   the number removed. */
DEEPCD_TMP_INTERN int deepcd_tmp_remove_stale(const char *path);

#ifdef __cplusplus
}
#endif
#endif
