// CBLAS and the OpenBLAS thread controls, from Debian's libopenblas-dev (pkg-config openblas).
#ifndef FERLIVE_COPENBLAS_SHIM_H
#define FERLIVE_COPENBLAS_SHIM_H
#include <cblas.h>
#endif
