/* ../conv_winograd.c compiled for AVX-512 (flags: cmake/isa_kernels.cmake). */
#define CNN_ISA_LEVEL 2   /* CNN_ISA_AVX512 */
#include "../conv_winograd.c"
