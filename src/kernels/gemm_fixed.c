/* cnnrun's own sgemm with CPU-independent bits: the contract is in
 * gemm_fixed.h (each output element is one in-order chain of FMAs).
 *
 * The portable loop states the contract directly. The AVX2 path computes the
 * same chains faster: C is cut into tiles of MR rows x NR columns, each held
 * in 12 ymm accumulators while k runs through a block of KC in order; the
 * next block reloads the tile and carries on, so blocking adds a store and a
 * load (both exact) between two FMAs of a chain, nothing else. A transposed
 * B, and the last columns of any B, are first packed into a contiguous
 * (KC, NR) panel, zero-padded past the last column (the padded lanes are
 * computed and never stored); whole panels of a plain B are read in place.
 * Lanes hold different columns, so the AVX-512 path (tiles of 12 x 32 in 24
 * zmm) gives the same bits as the AVX2 one (6 x 16 in 12 ymm), and both
 * those of the loop. A few rows times a transposed B (a dense layer's
 * forward on a small batch) is computed transposed instead (gemm_swapped):
 * packing the small A^T rather than the large B^T on every call.
 * CNN_GEMM_PATH=portable|avx2|avx512 in the environment picks a path
 * (where the CPU has it), for tests and measurements. */
#include "gemm_fixed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GEMM_FIXED_X86 1
#include <immintrin.h>

#include "kernels/transpose8.h"
#endif

#define GEMM_KC 256     /* k per packed panel: 16 or 32 KB, kept in L1 across the row tiles */
#define GEMM_NR_MAX 32  /* the widest tile: two zmm */

/* Element (i, p) of op(A) and (p, j) of op(B), as the row-major storage has them. */
static inline float a_at(const float *a, bool trans_a, int m, int k, int i, int p)
{
	return trans_a ? a[(size_t)p * m + i] : a[(size_t)i * k + p];
}

static inline float b_at(const float *b, bool trans_b, int n, int k, int p, int j)
{
	return trans_b ? b[(size_t)j * k + p] : b[(size_t)p * n + j];
}

/* The start of every chain: beta * C, with beta 0 never reading C (so a NaN
 * left there does not survive) and beta 1 exact. */
static inline float chain_start(float beta, float c)
{
	if (beta == 0.0f)
		return 0.0f;
	return beta == 1.0f ? c : beta * c;
}

void gemm_fixed_portable(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                         const float *a, const float *b, float beta, float *c)
{
	for (int i = 0; i < m; i++) {
		float *ci = c + (size_t)i * n;   /* (n) */

		for (int j = 0; j < n; j++)
			ci[j] = chain_start(beta, ci[j]);
		/* p outside j: each ci[j] still sees p = 0, 1, ... in order, and
		 * the inner loop runs along a row of B when it is not transposed. */
		for (int p = 0; p < k; p++) {
			float aip = alpha * a_at(a, trans_a, m, k, i, p);

			for (int j = 0; j < n; j++)
				ci[j] = fmaf(aip, b_at(b, trans_b, n, k, p, j), ci[j]);
		}
	}
}

#ifdef GEMM_FIXED_X86

/* One tile: C[0..mr)[0..nr) (row stride ldc) continues its chains through
 * kc more FMAs, reading op(B)'s (kc, NR) block from bp, whose rows are ldb
 * apart (a packed panel, or B itself); zero starts them at 0 instead of
 * loading C (beta 0, first block). a points at op(A)[0][p0]: element (i, p)
 * is a[i*rsa + p*csa]. */
typedef void tile_fn(int nr, int kc, const float *a, size_t rsa, size_t csa, const float *bp,
                     size_t ldb, float *c, size_t ldc, bool zero);

/* A path: its tile's shape and one tile function per row count 1..mr. */
struct tiler {
	int mr, nr;
	tile_fn *const *tiles;   /* [mr + 1], [0] unused */
};

/* The tile bodies are written once per row (macros over row numbers), so
 * that each accumulator is a named variable the compiler keeps in a
 * register; the bodies are inlined with a constant mr, so the rows past mr
 * fold away. */
#define ROWS_6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define ROWS_12(X) ROWS_6(X) X(6) X(7) X(8) X(9) X(10) X(11)

#define AVX2_LOAD(i)                                                           \
	__m256 acc##i##0 = _mm256_setzero_ps(), acc##i##1 = acc##i##0;         \
	if (i < mr && !zero && full) {                                         \
		acc##i##0 = _mm256_loadu_ps(c + i * ldc);                      \
		acc##i##1 = _mm256_loadu_ps(c + i * ldc + 8);                  \
	} else if (i < mr && !zero) {                                          \
		acc##i##0 = _mm256_maskload_ps(c + i * ldc, mask0);            \
		acc##i##1 = _mm256_maskload_ps(c + i * ldc + 8, mask1);        \
	}
#define AVX2_FMA(i)                                                            \
	if (i < mr) {                                                          \
		__m256 ai = _mm256_broadcast_ss(ap + i * rsa);                 \
		acc##i##0 = _mm256_fmadd_ps(ai, b0, acc##i##0);                \
		acc##i##1 = _mm256_fmadd_ps(ai, b1, acc##i##1);                \
	}
#define AVX2_STORE(i)                                                          \
	if (i < mr && full) {                                                  \
		_mm256_storeu_ps(c + i * ldc, acc##i##0);                      \
		_mm256_storeu_ps(c + i * ldc + 8, acc##i##1);                  \
	} else if (i < mr) {                                                   \
		_mm256_maskstore_ps(c + i * ldc, mask0, acc##i##0);            \
		_mm256_maskstore_ps(c + i * ldc + 8, mask1, acc##i##1);        \
	}

static inline __attribute__((always_inline, target("avx2,fma"))) void
tile_avx2(int mr, int nr, int kc, const float *a, size_t rsa, size_t csa, const float *bp,
          size_t ldb, float *c, size_t ldc, bool zero)
{
	__m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	__m256i mask0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), lane);
	__m256i mask1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8), lane);
	bool full = nr == 16;   /* plain loads and stores: masked ones are slow on AMD */

	ROWS_6(AVX2_LOAD)
	for (int p = 0; p < kc; p++) {
		__m256 b0 = _mm256_loadu_ps(bp + (size_t)p * ldb);
		__m256 b1 = _mm256_loadu_ps(bp + (size_t)p * ldb + 8);
		const float *ap = a + (size_t)p * csa;

		ROWS_6(AVX2_FMA)
	}
	ROWS_6(AVX2_STORE)
}

#define AVX512_LOAD(i)                                                         \
	__m512 acc##i##0 = _mm512_setzero_ps(), acc##i##1 = acc##i##0;         \
	if (i < mr && !zero) {                                                 \
		acc##i##0 = _mm512_maskz_loadu_ps(mask0, c + i * ldc);         \
		acc##i##1 = _mm512_maskz_loadu_ps(mask1, c + i * ldc + 16);    \
	}
#define AVX512_FMA(i)                                                          \
	if (i < mr) {                                                          \
		__m512 ai = _mm512_set1_ps(ap[i * rsa]);                       \
		acc##i##0 = _mm512_fmadd_ps(ai, b0, acc##i##0);                \
		acc##i##1 = _mm512_fmadd_ps(ai, b1, acc##i##1);                \
	}
#define AVX512_STORE(i)                                                        \
	if (i < mr) {                                                          \
		_mm512_mask_storeu_ps(c + i * ldc, mask0, acc##i##0);          \
		_mm512_mask_storeu_ps(c + i * ldc + 16, mask1, acc##i##1);     \
	}

static inline __attribute__((always_inline, target("avx512f"))) void
tile_avx512(int mr, int nr, int kc, const float *a, size_t rsa, size_t csa, const float *bp,
            size_t ldb, float *c, size_t ldc, bool zero)
{
	__mmask16 mask0 = (__mmask16)(nr >= 16 ? 0xffff : (1u << nr) - 1);
	__mmask16 mask1 = (__mmask16)(nr >= 32 ? 0xffff : nr <= 16 ? 0 : (1u << (nr - 16)) - 1);

	ROWS_12(AVX512_LOAD)
	for (int p = 0; p < kc; p++) {
		__m512 b0 = _mm512_loadu_ps(bp + (size_t)p * ldb);
		__m512 b1 = _mm512_loadu_ps(bp + (size_t)p * ldb + 16);
		const float *ap = a + (size_t)p * csa;

		ROWS_12(AVX512_FMA)
	}
	ROWS_12(AVX512_STORE)
}

/* The narrow tile of the swapped product (gemm_swapped): 12 rows x 8
 * columns in 12 ymm, always all 8 columns (its C is a padded buffer). */
#define NARROW_LOAD(i)                                                         \
	__m256 acc##i = _mm256_setzero_ps();                                   \
	if (i < mr && !zero)                                                   \
		acc##i = _mm256_loadu_ps(c + i * ldc);
#define NARROW_FMA(i)                                                          \
	if (i < mr)                                                            \
		acc##i = _mm256_fmadd_ps(_mm256_broadcast_ss(ap + i * rsa), b0, acc##i);
#define NARROW_STORE(i)                                                        \
	if (i < mr)                                                            \
		_mm256_storeu_ps(c + i * ldc, acc##i);

static inline __attribute__((always_inline, target("avx2,fma"))) void
tile_narrow(int mr, int nr, int kc, const float *a, size_t rsa, size_t csa, const float *bp,
            size_t ldb, float *c, size_t ldc, bool zero)
{
	(void)nr;
	ROWS_12(NARROW_LOAD)
	for (int p = 0; p < kc; p++) {
		__m256 b0 = _mm256_loadu_ps(bp + (size_t)p * ldb);
		const float *ap = a + (size_t)p * csa;

		ROWS_12(NARROW_FMA)
	}
	ROWS_12(NARROW_STORE)
}

#define TILE_FN(ISA, TARGET, MR)                                                         \
	static __attribute__((target(TARGET))) void tile_##ISA##_##MR(                   \
		int nr, int kc, const float *a, size_t rsa, size_t csa, const float *bp,   \
		size_t ldb, float *c, size_t ldc, bool zero)                               \
	{                                                                                \
		tile_##ISA(MR, nr, kc, a, rsa, csa, bp, ldb, c, ldc, zero);                \
	}
#define AVX2_TILE(MR) TILE_FN(avx2, "avx2,fma", MR)
#define AVX512_TILE(MR) TILE_FN(avx512, "avx512f", MR)
AVX2_TILE(1) AVX2_TILE(2) AVX2_TILE(3) AVX2_TILE(4) AVX2_TILE(5) AVX2_TILE(6)
AVX512_TILE(1) AVX512_TILE(2) AVX512_TILE(3) AVX512_TILE(4) AVX512_TILE(5) AVX512_TILE(6)
AVX512_TILE(7) AVX512_TILE(8) AVX512_TILE(9) AVX512_TILE(10) AVX512_TILE(11) AVX512_TILE(12)
#define NARROW_TILE(MR) TILE_FN(narrow, "avx2,fma", MR)
NARROW_TILE(1) NARROW_TILE(2) NARROW_TILE(3) NARROW_TILE(4) NARROW_TILE(5) NARROW_TILE(6)
NARROW_TILE(7) NARROW_TILE(8) NARROW_TILE(9) NARROW_TILE(10) NARROW_TILE(11) NARROW_TILE(12)

static tile_fn *const avx2_tiles[] = {
	NULL, tile_avx2_1, tile_avx2_2, tile_avx2_3, tile_avx2_4, tile_avx2_5, tile_avx2_6,
};
static tile_fn *const avx512_tiles[] = {
	NULL, tile_avx512_1, tile_avx512_2, tile_avx512_3, tile_avx512_4,
	tile_avx512_5, tile_avx512_6, tile_avx512_7, tile_avx512_8,
	tile_avx512_9, tile_avx512_10, tile_avx512_11, tile_avx512_12,
};
static tile_fn *const narrow_tiles[] = {
	NULL, tile_narrow_1, tile_narrow_2, tile_narrow_3, tile_narrow_4,
	tile_narrow_5, tile_narrow_6, tile_narrow_7, tile_narrow_8,
	tile_narrow_9, tile_narrow_10, tile_narrow_11, tile_narrow_12,
};
static const struct tiler avx2_tiler = { 6, 16, avx2_tiles };
static const struct tiler narrow_tiler = { 12, 8, narrow_tiles };   /* gemm_swapped's only */
static const struct tiler avx512_tiler = { 12, 32, avx512_tiles };

/* bp (kc, nrmax) = B^T's block for a transposed B (n, k): whole 8 x 8
 * blocks by shuffles, the edges one float at a time. Only the vector paths
 * pack, so the CPU has AVX2. */
static __attribute__((target("avx2"))) void pack_bt(const float *b, int k, int p0, int kc,
                                                    int j0, int nr, int nrmax, float *bp)
{
	int j8 = nr / 8 * 8, p8 = kc / 8 * 8;

	for (int j = 0; j < j8; j += 8) {
		const float *bj = b + (size_t)(j0 + j) * k + p0;   /* 8 rows of B, k apart */

		for (int p = 0; p < p8; p += 8)
			transpose_8x8(bj + p, (size_t)k, bp + (size_t)p * nrmax + j, (size_t)nrmax);
		for (int jj = j; jj < j + 8; jj++)
			for (int p = p8; p < kc; p++)
				bp[(size_t)p * nrmax + jj] = b[(size_t)(j0 + jj) * k + p0 + p];
	}
	for (int j = j8; j < nr; j++) {
		const float *bj = b + (size_t)(j0 + j) * k + p0;

		for (int p = 0; p < kc; p++)
			bp[(size_t)p * nrmax + j] = bj[p];
	}
}

/* bp (kc, nrmax) = op(B)[p0 .. p0+kc)[j0 .. j0+nr), zeros past nr. */
static void pack_b(const float *b, bool trans_b, int n, int k, int p0, int kc, int j0, int nr,
                   int nrmax, float *bp)
{
	for (int p = 0; p < kc; p++) {
		float *row = bp + (size_t)p * nrmax;

		for (int j = 0; !trans_b && j < nr; j++)
			row[j] = b[(size_t)(p0 + p) * n + j0 + j];
		for (int j = nr; j < nrmax; j++)
			row[j] = 0.0f;
	}
	if (trans_b)
		pack_bt(b, k, p0, kc, j0, nr, nrmax, bp);
}

#define SWAP_CT 4096   /* floats of C^T per chunk: 512, 256 or 128 of its rows */
/* Fewer rows than this keep the tiled path: the narrow tile makes one FMA
 * per element of B whatever m, which costs more than packing B^T and
 * running one to three rows of full-width tiles over it. */
#define SWAP_M_MIN 4

/* C (m, n) = A (m, k) B^T + C for a few rows (m <= t->nr), computed as
 * C^T (n, m) = B (n, k) A^T + C^T: t's tiles broadcast B's elements where
 * they lie and run the m rows of A across their lanes, so only A^T (m x k,
 * small) is packed instead of B^T (n x k). Every chain is the same:
 * fma(b, a, c) rounds the exact product b * a as fma(a, b, c) does, and each
 * chain still runs p = 0 .. k-1 in order, blocks carried through ct. C is
 * transposed into ct and back, a chunk of columns at a time; beta is 0
 * (zero_c) or 1 here (gemm_tiled has applied any other). */
static void gemm_swapped(const struct tiler *t, int m, int n, int k, const float *a,
                         const float *b, bool zero_c, float *c)
{
	_Alignas(64) float ap[GEMM_KC * GEMM_NR_MAX];   /* (kcmax, t->nr): A^T's block */
	_Alignas(64) float ct[SWAP_CT];                 /* (jcmax, t->nr): C^T's chunk */
	int w = t->nr, kcmax = GEMM_KC * GEMM_NR_MAX / w, jcmax = SWAP_CT / w;

	for (int j0 = 0; j0 < n; j0 += jcmax) {
		int jc = n - j0 < jcmax ? n - j0 : jcmax;

		for (int jj = 0; jj < jc; jj++) {
			for (int i = 0; i < w; i++)
				ct[jj * w + i] = i < m && !zero_c ? c[(size_t)i * n + j0 + jj] : 0.0f;
		}
		for (int p0 = 0; p0 < k; p0 += kcmax) {
			int kc = k - p0 < kcmax ? k - p0 : kcmax;

			pack_b(a, true, m, k, p0, kc, 0, m, w, ap);
			for (int u0 = 0; u0 < jc; u0 += t->mr) {
				int mr = jc - u0 < t->mr ? jc - u0 : t->mr;

				t->tiles[mr](w, kc, b + (size_t)(j0 + u0) * k + p0, (size_t)k, 1, ap,
				             (size_t)w, ct + u0 * w, (size_t)w, zero_c && p0 == 0);
			}
		}
		for (int i = 0; i < m; i++) {
			for (int jj = 0; jj < jc; jj++)
				c[(size_t)i * n + j0 + jj] = ct[jj * w + i];
		}
	}
}

/* The tiler gemm_swapped takes for m rows on path t, NULL for none: the
 * narrowest that holds m, never wider than t. */
static const struct tiler *swap_tiler(const struct tiler *t, int m)
{
	if (m <= narrow_tiler.nr)
		return &narrow_tiler;
	if (m <= avx2_tiler.nr)
		return &avx2_tiler;
	return m <= t->nr ? t : NULL;
}

/* C (m, n) = op(A) B + C (beta 0 or 1) for an untransposed B in whole
 * panels of t->nr columns, read where they lie, when C is the larger
 * operand (k <= m: dense1's dW = dy^T x): row tiles outermost, each
 * sweeping its rows of C across all the panels while B stays in cache, so
 * C is read front to back once. Panel by panel (gemm_tiled's order) a
 * panel's hundred-odd rows of C lie n floats apart, a page or more on a
 * dense layer, and the hardware prefetchers do not follow that many rows.
 * Each chain is one tile's k steps in order, so the order of the tiles
 * changes no bits. (B the larger, dx = dy W, read a block of rows at a
 * time was no faster: the panel order stays.) */
static void gemm_rows_first(const struct tiler *t, int m, int n, int k, const float *a,
                            size_t rsa, size_t csa, const float *b, float beta, float *c)
{
	for (int i0 = 0; i0 < m; i0 += t->mr) {
		int mr = m - i0 < t->mr ? m - i0 : t->mr;

		for (int j0 = 0; j0 < n; j0 += t->nr)
			t->tiles[mr](t->nr, k, a + i0 * rsa, rsa, csa, b + j0, (size_t)n,
			             c + (size_t)i0 * n + j0, (size_t)n, beta == 0.0f);
	}
}

static void gemm_tiled(const struct tiler *t, bool trans_a, bool trans_b, int m, int n, int k,
                       float alpha, const float *a, const float *b, float beta, float *c)
{
	_Alignas(64) float bp[GEMM_KC * GEMM_NR_MAX];   /* (GEMM_KC, t->nr) */
	size_t rsa = trans_a ? 1 : (size_t)k;           /* op(A)'s row stride */
	size_t csa = trans_a ? (size_t)m : 1;           /* op(A)'s column stride */

	/* A scaled A (no caller has one) and an empty k take the loop that
	 * defines the bits, rather than one more kernel variant. */
	if (alpha != 1.0f || k <= 0) {
		gemm_fixed_portable(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
		return;
	}
	if (beta != 0.0f && beta != 1.0f) {
		for (size_t e = 0; e < (size_t)m * n; e++)
			c[e] = chain_start(beta, c[e]);
	}
	if (trans_b && !trans_a && m >= SWAP_M_MIN && n > m && swap_tiler(t, m)) {
		gemm_swapped(swap_tiler(t, m), m, n, k, a, b, beta == 0.0f, c);
		return;
	}
	if (!trans_b && n % t->nr == 0 && k <= m && k <= GEMM_KC) {
		gemm_rows_first(t, m, n, k, a, rsa, csa, b, beta, c);
		return;
	}
	for (int j0 = 0; j0 < n; j0 += t->nr) {
		int nr = n - j0 < t->nr ? n - j0 : t->nr;

		/* k's blocks in order: each chain carries on where the last stopped. */
		for (int p0 = 0; p0 < k; p0 += GEMM_KC) {
			int kc = k - p0 < GEMM_KC ? k - p0 : GEMM_KC;

			/* A whole panel of an untransposed B is read where it is. */
			const float *panel = b + (size_t)p0 * n + j0;
			size_t ldb = (size_t)n;

			if (trans_b || nr < t->nr) {
				pack_b(b, trans_b, n, k, p0, kc, j0, nr, t->nr, bp);
				panel = bp;
				ldb = (size_t)t->nr;
			}
			for (int i0 = 0; i0 < m; i0 += t->mr) {
				int mr = m - i0 < t->mr ? m - i0 : t->mr;

				t->tiles[mr](nr, kc, a + i0 * rsa + p0 * csa, rsa, csa, panel, ldb,
				             c + (size_t)i0 * n + j0, (size_t)n,
				             beta == 0.0f && p0 == 0);
			}
		}
	}
}

static bool cpu_avx2(void)
{
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static bool cpu_avx512(void)
{
	return __builtin_cpu_supports("avx512f");
}

#else

struct tiler {
	int unused;
};
static const struct tiler avx2_tiler, avx512_tiler;

static bool cpu_avx2(void)
{
	return false;
}

static bool cpu_avx512(void)
{
	return false;
}

static void gemm_tiled(const struct tiler *t, bool trans_a, bool trans_b, int m, int n, int k,
                       float alpha, const float *a, const float *b, float beta, float *c)
{
	(void)t;
	gemm_fixed_portable(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
}

#endif

bool gemm_fixed_avx2(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                     const float *a, const float *b, float beta, float *c)
{
	if (!cpu_avx2())
		return false;
	if (m > 0 && n > 0)
		gemm_tiled(&avx2_tiler, trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
	return true;
}

bool gemm_fixed_avx512(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                       const float *a, const float *b, float beta, float *c)
{
	if (!cpu_avx512())
		return false;
	if (m > 0 && n > 0)
		gemm_tiled(&avx512_tiler, trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
	return true;
}

enum gemm_path { PATH_PORTABLE, PATH_AVX2, PATH_AVX512 };
static const char *const path_names[] = { "portable", "avx2", "avx512" };

/* Settled before main: the widest path the CPU has, or the one
 * CNN_GEMM_PATH names if the CPU has it (an unknown name or a path the CPU
 * lacks leaves the default: see gemm_fixed_path). */
static enum gemm_path chosen_path = PATH_PORTABLE;

__attribute__((constructor)) static void choose_path(void)
{
	const char *want = getenv("CNN_GEMM_PATH");
	bool has[] = { true, cpu_avx2(), cpu_avx512() };

	chosen_path = has[PATH_AVX512] ? PATH_AVX512 : has[PATH_AVX2] ? PATH_AVX2 : PATH_PORTABLE;
	for (int p = 0; want && p <= PATH_AVX512; p++) {
		if (strcmp(want, path_names[p]) == 0 && has[p])
			chosen_path = (enum gemm_path)p;
	}
}

void gemm_fixed(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                const float *a, const float *b, float beta, float *c)
{
	if (m <= 0 || n <= 0)
		return;
	switch (chosen_path) {
	case PATH_AVX512:
		/* Up to 16 columns, the 32-wide panel would be half padding:
		 * the AVX2 tile (same bits) packs and computes less. */
		gemm_tiled(n <= 16 ? &avx2_tiler : &avx512_tiler, trans_a, trans_b, m, n, k, alpha,
		           a, b, beta, c);
		break;
	case PATH_AVX2:
		gemm_tiled(&avx2_tiler, trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
		break;
	case PATH_PORTABLE:
		gemm_fixed_portable(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
		break;
	}
}

const char *gemm_fixed_path(void)
{
	return path_names[chosen_path];
}
