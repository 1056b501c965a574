// glibc's CPU affinity calls, which Swift's Glibc module leaves out (sched.h declares them only for
// _GNU_SOURCE). Declared here with the set as plain bytes: a cpu_set_t is a bit mask, CPU n at bit n.
#ifndef FERLIVE_CSCHEDULER_SHIM_H
#define FERLIVE_CSCHEDULER_SHIM_H
#include <stddef.h>

// pid 0: the calling thread. Return 0, or -1 with errno set.
int sched_getaffinity(int pid, size_t maskSize, void *mask);
int sched_setaffinity(int pid, size_t maskSize, const void *mask);
#endif
