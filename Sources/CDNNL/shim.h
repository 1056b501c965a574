// oneDNN's C API, from Debian's libdnnl-dev (built on OpenMP), and the one OpenMP call fer-live needs.
#ifndef FERLIVE_CDNNL_SHIM_H
#define FERLIVE_CDNNL_SHIM_H
#include <oneapi/dnnl/dnnl.h>

// libgomp's (oneDNN's threads): how many threads the calling thread's next parallel regions use.
// Declared here because omp.h lives in the compiler's own include directory.
void omp_set_num_threads(int count);
#endif
