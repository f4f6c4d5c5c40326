// OpenBLAS's CBLAS interface (Debian package libopenblas-dev).
#include <cblas.h>

// LAPACK's symmetric eigensolver, which OpenBLAS also exports. The two
// trailing lengths are the hidden lengths of the character arguments that
// Fortran compilers pass.
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_length, size_t uplo_length);
