/* Shared by the plain-C GPU tests (tests/gpu): their result lines,
   "[ PASS ] ..." or "[ FAIL ] ...", flushed at once and counted (a test
   ends with "N passed, M failed" from the counts), and their options. */
#ifndef DEEPCD_GPU_TEST_H
#define DEEPCD_GPU_TEST_H

extern int gpu_test_npass, gpu_test_nfail;

void gpu_test_result(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The options of the GPU tests, "[--no-timing] [--max-n N]": timing = 0
   with --no-timing, maxn = N (the largest timed grid); *timing and *maxn
   keep their values otherwise. Returns 0, or 2 after the usage line on
   stderr (the exit status). */
int gpu_test_options(int argc, char **argv, int *timing, int *maxn);

#endif
