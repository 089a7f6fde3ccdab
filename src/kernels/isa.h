/* Which instruction-set level a kernel source is being compiled for.
 *
 * Every source in src/kernels/ that has a vectorised path is compiled once
 * per level: as itself for the x86-64 baseline (or any other CPU), and
 * through a two-line wrapper in src/kernels/<level>/ that defines
 * CNN_ISA_LEVEL and includes it, with that level's compiler flags
 * (cmake/isa_kernels.cmake). KERNEL_FN gives each copy's functions the
 * level's suffix, so the copies link side by side and dispatch.c picks one
 * set at run time. Paths test the level, not __AVX2__: a -march=native
 * build still has a true baseline copy. */
#ifndef CNN_KERNELS_ISA_H
#define CNN_KERNELS_ISA_H

#define CNN_ISA_BASELINE 0   /* x86-64 (SSE2) or any other CPU: portable C */
#define CNN_ISA_AVX2 1       /* AVX2 + FMA (Haswell, Zen and later) */
#define CNN_ISA_AVX512 2     /* AVX2 + AVX-512 F/BW/DQ/VL (Skylake-X, Zen 4 and later) */

#ifndef CNN_ISA_LEVEL
#define CNN_ISA_LEVEL CNN_ISA_BASELINE
#endif

#if CNN_ISA_LEVEL == CNN_ISA_BASELINE
#define KERNEL_FN(name) name##_baseline
#elif CNN_ISA_LEVEL == CNN_ISA_AVX2
#if !defined(__AVX2__) || !defined(__FMA__)
#error "the AVX2 kernels need -mavx2 -mfma (see cmake/isa_kernels.cmake)"
#endif
#define KERNEL_FN(name) name##_avx2
#elif CNN_ISA_LEVEL == CNN_ISA_AVX512
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512DQ__) || \
    !defined(__AVX512VL__) || !defined(__FMA__)
#error "the AVX-512 kernels need -mavx512f/bw/dq/vl (see cmake/isa_kernels.cmake)"
#endif
#define KERNEL_FN(name) name##_avx512
#else
#error "unknown CNN_ISA_LEVEL"
#endif

#endif
