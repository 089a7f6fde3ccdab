/* ../conv_winograd.c compiled for AVX2 + FMA (flags: cmake/isa_kernels.cmake). */
#define CNN_ISA_LEVEL 1   /* CNN_ISA_AVX2 */
#include "../conv_winograd.c"
