/* The convolution's forward product (conv_gemm.h has the contract).
 *
 * A tile is MR filters x NV vectors of pixels: AVX-512 8 x 48 (24 zmm
 * accumulators), AVX2 4 x 24 (12 ymm). Eight and four divide every filter
 * count the configs use (16 to 128), so no tile row is computed for
 * nothing, and the pixels of the whole block of images run across the
 * lanes, so only the block's last vector may be partly empty. Each
 * accumulator starts from its filter's bias and runs through all of k
 * without leaving its register: the chain of gemm_fixed, with neither the
 * pass that fills y with the bias nor a store and reload per block of k.
 * The broadcast operand is W (fma(w, col, acc), as gemm_fixed's tile
 * computes fma(A, B, acc)). col's rows are read in place: ld keeps them
 * 64-byte multiples apart and off 4 KB multiples (conv_gemm_ld). */
#include "conv_gemm.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "gemm_fixed.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CONV_GEMM_X86 1
#include <immintrin.h>
#endif

/* k per block: a panel's block, (CONV_GEMM_KC, 48) floats, is 24 KB */
#ifndef CONV_GEMM_KC
#define CONV_GEMM_KC 128
#endif
#define CONV_GEMM_NR_MAX 48
/* the fused path's panel block: up to CONV_GEMM_KC rows of 48, and the 16
 * floats a masked store's address range may reach past the last row */
#define CONV_GEMM_PACK_FLOATS (CONV_GEMM_KC * CONV_GEMM_NR_MAX + 16)
/* the widest kernel the fused path takes */
#define CONV_GEMM_FUSED_K 32

size_t conv_gemm_acc_floats(int filters)
{
	return (size_t)filters * CONV_GEMM_NR_MAX;
}

size_t conv_gemm_ld(size_t ncol)
{
	size_t ld = (ncol + 15) / 16 * 16;

	return ld % 1024 == 0 ? ld + 16 : ld;
}

void conv_gemm_forward_portable(int filters, int ckk, int ohw, int nb, const float *w,
                                const float *bias, const float *col, size_t ld, float *y,
                            float *acc)
{
	size_t osz = (size_t)filters * ohw;

	(void)acc;
	for (int i = 0; i < nb; i++) {
		for (int f = 0; f < filters; f++) {
			float *yf = y + i * osz + (size_t)f * ohw;   /* (ohw) */
			const float *wf = w + (size_t)f * ckk;       /* (ckk) */

			for (int q = 0; q < ohw; q++)
				yf[q] = bias[f];
			/* p outside q: each yf[q] still sees p = 0, 1, ... in order */
			for (int p = 0; p < ckk; p++) {
				const float *cp = col + (size_t)p * ld + (size_t)i * ohw;   /* (ohw) */

				for (int q = 0; q < ohw; q++)
					yf[q] = fmaf(wf[p], cp[q], yf[q]);
			}
		}
	}
}

#ifdef CONV_GEMM_X86

/* Where a tile's vectors go, worked out once per panel for all its
 * tiles. Column j of the block is pixel j % ohw of image j / ohw, at
 * y + (j / ohw) * osz + f * ohw + j % ohw for filter f; a vector's lanes
 * fall in one image or, across an image's end, in several: a piece each,
 * stored with one masked store per filter. */
struct cg_piece {
	float *y;     /* the piece's first element for filter 0: add f * ohw */
	int shift;    /* lane of the vector that goes there */
	int n;        /* lanes [shift, shift + n) */
};

struct cg_vec {
	int np;                      /* pieces: 1 unless the vector crosses images */
	struct cg_piece pc[16];      /* one per image its lanes reach (lanes <= 16) */
};

struct cg_panel {
	size_t ohw;
	struct cg_vec v[3];          /* the tile's vectors */
};

/* The panel of columns [j0, j0 + cols) in vectors of lanes: y (nb, filters, ohw). */
static void cg_panel_at(struct cg_panel *pn, float *y, int ohw, size_t osz, int j0, int cols,
                        int lanes)
{
	pn->ohw = (size_t)ohw;
	for (int v = 0; v < 3 && v * lanes < cols; v++) {
		int j = j0 + v * lanes, n = cols - v * lanes < lanes ? cols - v * lanes : lanes;
		int img = j / ohw, q = j - img * ohw, np = 0;

		for (int t = 0; t < n; img++, q = 0) {
			int m = ohw - q < n - t ? ohw - q : n - t;

			pn->v[v].pc[np++] = (struct cg_piece){ y + (size_t)img * osz + q, t, m };
			t += m;
		}
		pn->v[v].np = np;
	}
}

/* A tile continues its chains through kc more FMAs: from the bias when
 * first, else from acc (its rows nr floats apart); into y when last
 * (filters f0 on, where pn says), else back into acc. w: W[f0][p0] (rows
 * ldw apart); b: col[p0][j0]. */
typedef void cg_tile_fn(int kc, const float *w, size_t ldw, const float *bias, const float *b,
                        size_t ld, float *acc, bool first, bool last, const struct cg_panel *pn,
                        int f0);

struct cg_tiler {
	int mr, lanes, nv;          /* tile: mr filters x nv vectors of lanes pixels */
	cg_tile_fn *const *tiles;   /* [(mr - 1) * nv + (nv used - 1)] */
};

#define CG_ROWS_4(X) X(0) X(1) X(2) X(3)
#define CG_ROWS_8(X) CG_ROWS_4(X) X(4) X(5) X(6) X(7)

/* --- AVX-512: 8 x 48 --------------------------------------------------------- */

#define CG512_INIT(i)                                                          \
	__m512 acc##i##0 = _mm512_setzero_ps(), acc##i##1 = acc##i##0,         \
	       acc##i##2 = acc##i##0;                                          \
	if (i < mr && first) {                                                 \
		acc##i##0 = acc##i##1 = acc##i##2 = _mm512_set1_ps(bias[i]);   \
	} else if (i < mr) {                                                   \
		acc##i##0 = _mm512_loadu_ps(acc + i * 48);                      \
		acc##i##1 = _mm512_loadu_ps(acc + i * 48 + 16);                 \
		acc##i##2 = _mm512_loadu_ps(acc + i * 48 + 32);                 \
	}
#define CG512_FMA(i)                                                           \
	if (i < mr) {                                                          \
		__m512 wi = _mm512_set1_ps(wp[(size_t)i * ldw]);               \
		acc##i##0 = _mm512_fmadd_ps(wi, b0, acc##i##0);                \
		if (nv > 1)                                                    \
			acc##i##1 = _mm512_fmadd_ps(wi, b1, acc##i##1);        \
		if (nv > 2)                                                    \
			acc##i##2 = _mm512_fmadd_ps(wi, b2, acc##i##2);        \
	}
#define CG512_KEEP(i)                                                          \
	if (i < mr) {                                                          \
		_mm512_storeu_ps(acc + i * 48, acc##i##0);                      \
		_mm512_storeu_ps(acc + i * 48 + 16, acc##i##1);                 \
		_mm512_storeu_ps(acc + i * 48 + 32, acc##i##2);                 \
	}
#define CG512_STORE(i)                                                         \
	if (i < mr) {                                                          \
		cg512_store(acc##i##0, &pn->v[0], pn->ohw, f0 + i);            \
		if (nv > 1)                                                    \
			cg512_store(acc##i##1, &pn->v[1], pn->ohw, f0 + i);    \
		if (nv > 2)                                                    \
			cg512_store(acc##i##2, &pn->v[2], pn->ohw, f0 + i);    \
	}

static inline __attribute__((always_inline, target("avx512f"))) void
cg512_store(__m512 a, const struct cg_vec *v, size_t ohw, int f)
{
	if (v->np == 1) {   /* one image: its first piece starts at lane 0 */
		_mm512_mask_storeu_ps(v->pc[0].y + (size_t)f * ohw, (__mmask16)((1u << v->pc[0].n) - 1), a);
		return;
	}
	for (int i = 0; i < v->np; i++) {
		const struct cg_piece *pc = &v->pc[i];
		/* lanes [shift, shift + n) to the piece's first n */
		__m512 b = pc->shift ? _mm512_permutexvar_ps(
		                               _mm512_add_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8,
		                                                                 7, 6, 5, 4, 3, 2, 1, 0),
		                                                _mm512_set1_epi32(pc->shift)),
		                               a)
		                     : a;

		_mm512_mask_storeu_ps(pc->y + (size_t)f * ohw, (__mmask16)((1u << pc->n) - 1), b);
	}
}

static inline __attribute__((always_inline, target("avx512f"))) void
cg512_tile(int mr, int nv, int kc, const float *w, size_t ldw, const float *bias, const float *b,
           size_t ld, float *acc, bool first, bool last, const struct cg_panel *pn, int f0)
{
	CG_ROWS_8(CG512_INIT)
	for (int p = 0; p < kc; p++) {
		const float *bp = b + (size_t)p * ld;
		const float *wp = w + p;
		__m512 b0 = _mm512_loadu_ps(bp);
		__m512 b1 = nv > 1 ? _mm512_loadu_ps(bp + 16) : b0;
		__m512 b2 = nv > 2 ? _mm512_loadu_ps(bp + 32) : b0;

		CG_ROWS_8(CG512_FMA)
	}
	if (!last) {
		CG_ROWS_8(CG512_KEEP)
		return;
	}
	CG_ROWS_8(CG512_STORE)
}

/* --- AVX2: 4 x 24 ------------------------------------------------------------ */

#define CG256_INIT(i)                                                          \
	__m256 acc##i##0 = _mm256_setzero_ps(), acc##i##1 = acc##i##0,         \
	       acc##i##2 = acc##i##0;                                          \
	if (i < mr && first) {                                                 \
		acc##i##0 = acc##i##1 = acc##i##2 = _mm256_set1_ps(bias[i]);   \
	} else if (i < mr) {                                                   \
		acc##i##0 = _mm256_loadu_ps(acc + i * 24);                      \
		acc##i##1 = _mm256_loadu_ps(acc + i * 24 + 8);                  \
		acc##i##2 = _mm256_loadu_ps(acc + i * 24 + 16);                 \
	}
#define CG256_FMA(i)                                                           \
	if (i < mr) {                                                          \
		__m256 wi = _mm256_broadcast_ss(wp + (size_t)i * ldw);         \
		acc##i##0 = _mm256_fmadd_ps(wi, b0, acc##i##0);                \
		if (nv > 1)                                                    \
			acc##i##1 = _mm256_fmadd_ps(wi, b1, acc##i##1);        \
		if (nv > 2)                                                    \
			acc##i##2 = _mm256_fmadd_ps(wi, b2, acc##i##2);        \
	}
#define CG256_KEEP(i)                                                          \
	if (i < mr) {                                                          \
		_mm256_storeu_ps(acc + i * 24, acc##i##0);                      \
		_mm256_storeu_ps(acc + i * 24 + 8, acc##i##1);                  \
		_mm256_storeu_ps(acc + i * 24 + 16, acc##i##2);                 \
	}
#define CG256_STORE(i)                                                         \
	if (i < mr) {                                                          \
		cg256_store(acc##i##0, &pn->v[0], pn->ohw, f0 + i);            \
		if (nv > 1)                                                    \
			cg256_store(acc##i##1, &pn->v[1], pn->ohw, f0 + i);    \
		if (nv > 2)                                                    \
			cg256_store(acc##i##2, &pn->v[2], pn->ohw, f0 + i);    \
	}

static inline __attribute__((always_inline, target("avx2,fma"))) void
cg256_store(__m256 a, const struct cg_vec *v, size_t ohw, int f)
{
	const __m256i lane = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);

	/* plain stores for whole vectors: masked ones are slow on AMD */
	if (v->np == 1 && v->pc[0].n == 8) {
		_mm256_storeu_ps(v->pc[0].y + (size_t)f * ohw, a);
		return;
	}
	for (int i = 0; i < v->np; i++) {
		const struct cg_piece *pc = &v->pc[i];
		__m256 b = pc->shift ? _mm256_permutevar8x32_ps(
		                               a, _mm256_add_epi32(lane, _mm256_set1_epi32(pc->shift)))
		                     : a;

		_mm256_maskstore_ps(pc->y + (size_t)f * ohw,
		                    _mm256_cmpgt_epi32(_mm256_set1_epi32(pc->n), lane), b);
	}
}

static inline __attribute__((always_inline, target("avx2,fma"))) void
cg256_tile(int mr, int nv, int kc, const float *w, size_t ldw, const float *bias, const float *b,
           size_t ld, float *acc, bool first, bool last, const struct cg_panel *pn, int f0)
{
	CG_ROWS_4(CG256_INIT)
	for (int p = 0; p < kc; p++) {
		const float *bp = b + (size_t)p * ld;
		const float *wp = w + p;
		__m256 b0 = _mm256_loadu_ps(bp);
		__m256 b1 = nv > 1 ? _mm256_loadu_ps(bp + 8) : b0;
		__m256 b2 = nv > 2 ? _mm256_loadu_ps(bp + 16) : b0;

		CG_ROWS_4(CG256_FMA)
	}
	if (!last) {
		CG_ROWS_4(CG256_KEEP)
		return;
	}
	CG_ROWS_4(CG256_STORE)
}

/* One function per (rows, vectors), each inlining the tile with constants. */
#define CG_TILE_FN(ISA, TARGET, MR, NV)                                                    \
	static __attribute__((target(TARGET))) void cg_##ISA##_##MR##_##NV(                \
		int kc, const float *w, size_t ldw, const float *bias, const float *b,     \
		size_t ld, float *acc, bool first, bool last, const struct cg_panel *pn,   \
		int f0)                                                                    \
	{                                                                                  \
		ISA##_tile(MR, NV, kc, w, ldw, bias, b, ld, acc, first, last, pn, f0);     \
	}
#define CG_TILE_ROW(ISA, TARGET, MR) \
	CG_TILE_FN(ISA, TARGET, MR, 1) CG_TILE_FN(ISA, TARGET, MR, 2) CG_TILE_FN(ISA, TARGET, MR, 3)
#define CG512(MR) CG_TILE_ROW(cg512, "avx512f", MR)
#define CG256(MR) CG_TILE_ROW(cg256, "avx2,fma", MR)
CG512(1) CG512(2) CG512(3) CG512(4) CG512(5) CG512(6) CG512(7) CG512(8)
CG256(1) CG256(2) CG256(3) CG256(4)

#define CG_ENTRY(ISA, MR) cg_##ISA##_##MR##_1, cg_##ISA##_##MR##_2, cg_##ISA##_##MR##_3,
static cg_tile_fn *const cg512_tiles[] = {
	CG_ENTRY(cg512, 1) CG_ENTRY(cg512, 2) CG_ENTRY(cg512, 3) CG_ENTRY(cg512, 4)
	CG_ENTRY(cg512, 5) CG_ENTRY(cg512, 6) CG_ENTRY(cg512, 7) CG_ENTRY(cg512, 8)
};
static cg_tile_fn *const cg256_tiles[] = {
	CG_ENTRY(cg256, 1) CG_ENTRY(cg256, 2) CG_ENTRY(cg256, 3) CG_ENTRY(cg256, 4)
};
static const struct cg_tiler cg512_tiler = { 8, 16, 3, cg512_tiles };
static const struct cg_tiler cg256_tiler = { 4, 8, 3, cg256_tiles };

/* The size of the fewest blocks of at most max that cover total, as even
 * as they come: no short last block, whose tiles would mostly load and
 * store their accumulators. */
static int cg_even_block(int total, int max)
{
	int blocks = (total + max - 1) / max;

	return blocks > 1 ? (total + blocks - 1) / blocks : max;
}

/* Panels of nv*lanes columns outside, then blocks of k, then the filters'
 * tiles: a panel's block of at most (CONV_GEMM_KC, 48) stays in L1 while
 * every tile reads it, and the tiles' partial chains wait in acc between
 * blocks (a store and a load, both exact, between two FMAs of a chain). */
static void cg_run(const struct cg_tiler *t, int filters, int ckk, int ohw, int nb,
                   const float *w, const float *bias, const float *col, size_t ld, float *y,
                   float *acc)
{
	int ncol = nb * ohw, nr = t->nv * t->lanes;
	int per_block = cg_even_block(ckk, CONV_GEMM_KC);
	struct cg_panel pn;

	for (int j0 = 0; j0 < ncol; j0 += nr) {
		int cols = ncol - j0 < nr ? ncol - j0 : nr;
		int nv = (cols + t->lanes - 1) / t->lanes;

		cg_panel_at(&pn, y, ohw, (size_t)filters * ohw, j0, cols, t->lanes);
		for (int p0 = 0; p0 < ckk; p0 += per_block) {
			int kc = ckk - p0 < per_block ? ckk - p0 : per_block;
			bool first = p0 == 0, last = p0 + kc == ckk;

			for (int f0 = 0; f0 < filters; f0 += t->mr) {
				int mr = filters - f0 < t->mr ? filters - f0 : t->mr;

				t->tiles[(mr - 1) * t->nv + nv - 1](
					kc, w + (size_t)f0 * ckk + p0, (size_t)ckk, bias + f0,
					col + (size_t)p0 * ld + j0, ld, acc + (size_t)f0 * nr, first,
					last, &pn, f0);
			}
		}
	}
}

/* --- the fused source: narrow images' im2col built panel by panel -------------- */

/* A run of at most 16 of a panel's columns, len consecutive pixels of one
 * image from (oy0, ox0), over few enough output rows that the input rows
 * any window row reads for them fit in two registers (32 floats): a 4x4
 * image's 16 pixels, 2 rows of a 14x14 or 7x7 one, part of a row of a
 * 28x28 one. */
struct cg_seg {
	const float *x;   /* the image, (c, h, w) */
	int oy0, ox0;     /* the first pixel's output row and column */
	int len;          /* pixels */
	int off;          /* where the run starts in the panel's row */
};

/* The (kc, 48) block of the panel's col rows for the groups [g0, g1) of
 * k rows each (g = ci*k + ki; row g*k + kj), from the images themselves:
 * for each run, the input rows its window row ki reads are two registers,
 * and each window column kj one two-register permute of them (lane t
 * reading row oy_t * stride - pad_top + ki, column ox_t * stride -
 * pad_left + kj), zeros where the window leaves the image. Lanes past the
 * panel's columns keep what they held (zeros or earlier panels' floats:
 * finite). */
static inline __attribute__((always_inline, target("avx512f"))) void
cg_build_k(const struct conv_gemm_image *im, const struct cg_seg *segs, int ns, int g0, int g1,
           float *pack, int k)
{
	const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
	const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
	const __m512i ow = _mm512_set1_epi32(im->ow), width = _mm512_set1_epi32(im->w);
	const __m512i stride = _mm512_set1_epi32(im->stride);
	int w = im->w, s = im->stride;
	size_t hw = (size_t)im->h * w;
	/* per window row ki: the first input row loaded, the masks of the two
	 * loads, each lane's offset from that row, which lanes' rows lie in the
	 * image; per window column kj: each lane's input column, which lie in
	 * the image */
	int r0[CONV_GEMM_FUSED_K];
	__mmask16 load0[CONV_GEMM_FUSED_K], load1[CONV_GEMM_FUSED_K];
	__m512i rel[CONV_GEMM_FUSED_K], col[CONV_GEMM_FUSED_K];
	__mmask16 rowin[CONV_GEMM_FUSED_K], colin[CONV_GEMM_FUSED_K];

	for (int sg = 0; sg < ns; sg++) {
		const struct cg_seg *sp = &segs[sg];
		__mmask16 m = (__mmask16)(sp->len >= 16 ? 0xffff : (1u << sp->len) - 1);
		/* each lane's output column, and row less oy0: the run's few rows
		 * peeled off one at a time */
		__m512i ox = _mm512_add_epi32(lane, _mm512_set1_epi32(sp->ox0)), dy = zero;

		for (__mmask16 past; (past = m & _mm512_cmpge_epi32_mask(ox, ow));) {
			ox = _mm512_mask_sub_epi32(ox, past, ox, ow);
			dy = _mm512_mask_add_epi32(dy, past, dy, one);
		}
		__m512i dys = _mm512_mullo_epi32(dy, stride);   /* input rows below the first */
		__m512i rows = _mm512_mullo_epi32(dys, width);   /* floats below the first row */
		__m512i oxs = _mm512_mullo_epi32(ox, stride);
		for (int ki = 0; ki < k; ki++) {
			/* the run's first input row for ki, perhaps above the image */
			int first = sp->oy0 * s - im->pad_top + ki, n;

			r0[ki] = first < 0 ? 0 : first;
			n = r0[ki] >= im->h ? 0 : (im->h - r0[ki]) * w < 32 ? (im->h - r0[ki]) * w : 32;
			if (n == 0)   /* below the image: every lane zero */
				r0[ki] = 0;
			load0[ki] = (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
			load1[ki] = (__mmask16)(n >= 32 ? 0xffff : n > 16 ? (1u << (n - 16)) - 1 : 0);
			rowin[ki] = m & _mm512_cmpge_epi32_mask(dys, _mm512_set1_epi32(-first)) &
			            _mm512_cmplt_epi32_mask(dys, _mm512_set1_epi32(im->h - first));
			rel[ki] = _mm512_add_epi32(rows, _mm512_set1_epi32((first - r0[ki]) * w));
		}
		for (int kj = 0; kj < k; kj++) {
			col[kj] = _mm512_add_epi32(oxs, _mm512_set1_epi32(kj - im->pad_left));
			colin[kj] = _mm512_cmpge_epi32_mask(col[kj], zero) &
			            _mm512_cmplt_epi32_mask(col[kj], width);
		}
		/* k rows of 48 per group, from this run's column */
		float *out = pack + sp->off;
		for (int g = g0, ci = g0 / k, ki = g0 % k; g < g1; g++, out += (size_t)k * CONV_GEMM_NR_MAX) {
			const float *xr = sp->x + (size_t)ci * hw + (size_t)r0[ki] * w;   /* (n) */
			/* (no address past the input where nothing is loaded) */
			__m512 v0 = load0[ki] ? _mm512_maskz_loadu_ps(load0[ki], xr) : _mm512_setzero_ps();
			__m512 v1 = load1[ki] ? _mm512_maskz_loadu_ps(load1[ki], xr + 16) : _mm512_setzero_ps();

			for (int kj = 0; kj < k; kj++)
				_mm512_mask_storeu_ps(out + (size_t)kj * CONV_GEMM_NR_MAX, m,
				                      _mm512_maskz_permutex2var_ps(
				                              rowin[ki] & colin[kj], v0,
				                              _mm512_add_epi32(rel[ki], col[kj]), v1));
			if (++ki == k) {
				ki = 0;
				ci++;
			}
		}
	}
}

/* cg_build_k with the configs' kernel sizes constant, its loops over the
 * window unrolled */
static __attribute__((target("avx512f"))) void cg_build(const struct conv_gemm_image *im,
                                                        const struct cg_seg *segs, int ns,
                                                        int g0, int g1, float *pack)
{
	switch (im->k) {
	case 1: cg_build_k(im, segs, ns, g0, g1, pack, 1); break;
	case 3: cg_build_k(im, segs, ns, g0, g1, pack, 3); break;
	case 5: cg_build_k(im, segs, ns, g0, g1, pack, 5); break;
	default: cg_build_k(im, segs, ns, g0, g1, pack, im->k); break;
	}
}

/* The panel's runs: columns [j0, j0 + cols) of the block, cut where an
 * image ends, at 16 pixels, and where the input rows would pass 32 floats:
 * a run spans at most rows + 1 output rows. */
static int cg_segments(const struct conv_gemm_image *im, size_t in_size, int j0, int cols,
                       struct cg_seg *segs)
{
	int ohw = im->oh * im->ow, ow = im->ow, rows = (32 - im->w) / (im->stride * im->w);
	int img = j0 / ohw, q = j0 - img * ohw, oy = q / ow, ox = q - oy * ow, ns = 0;

	for (int j = j0; j < j0 + cols;) {
		int len = 16;

		len = j0 + cols - j < len ? j0 + cols - j : len;
		len = ohw - q < len ? ohw - q : len;
		len = (rows + 1) * ow - ox < len ? (rows + 1) * ow - ox : len;
		segs[ns++] = (struct cg_seg){ im->x + (size_t)img * in_size, oy, ox, len, j - j0 };
		j += len;
		q += len;
		for (ox += len; ox >= ow; ox -= ow)
			oy++;
		if (q == ohw) {
			img++;
			q = oy = ox = 0;
		}
	}
	return ns;
}

/* cg_run with the panel's blocks built from the images: blocks of whole
 * (ci, ki) groups, about CONV_GEMM_KC rows. */
static void cg_run_fused(int filters, const struct conv_gemm_image *im, int nb, const float *w,
                         const float *bias, float *y, float *acc, float *pack)
{
	const struct cg_tiler *t = &cg512_tiler;
	int k = im->k, ohw = im->oh * im->ow, ncol = nb * ohw, ckk = im->c * k * k;
	/* blocks of at most CONV_GEMM_KC rows, as even as whole groups make them */
	int groups = im->c * k, per_block = cg_even_block(groups, CONV_GEMM_KC / k);
	size_t in_size = (size_t)im->c * im->h * im->w;
	struct cg_panel pn;
	struct cg_seg segs[CONV_GEMM_NR_MAX];

	memset(pack, 0, CONV_GEMM_PACK_FLOATS * sizeof(*pack));
	for (int j0 = 0; j0 < ncol; j0 += CONV_GEMM_NR_MAX) {
		int cols = ncol - j0 < CONV_GEMM_NR_MAX ? ncol - j0 : CONV_GEMM_NR_MAX;
		int nv = (cols + t->lanes - 1) / t->lanes;
		int ns = cg_segments(im, in_size, j0, cols, segs);

		cg_panel_at(&pn, y, ohw, (size_t)filters * ohw, j0, cols, t->lanes);
		for (int g0 = 0; g0 < groups; g0 += per_block) {
			int g1 = groups - g0 < per_block ? groups : g0 + per_block;
			int kc = (g1 - g0) * k, p0 = g0 * k;

			cg_build(im, segs, ns, g0, g1, pack);
			for (int f0 = 0; f0 < filters; f0 += t->mr) {
				int mr = filters - f0 < t->mr ? filters - f0 : t->mr;

				t->tiles[(mr - 1) * t->nv + nv - 1](
					kc, w + (size_t)f0 * ckk + p0, (size_t)ckk, bias + f0, pack,
					CONV_GEMM_NR_MAX, acc + (size_t)f0 * CONV_GEMM_NR_MAX, g0 == 0,
					g1 == groups, &pn, f0);
			}
		}
	}
}

static bool cg_cpu_avx2(void)
{
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static bool cg_cpu_avx512(void)
{
	return __builtin_cpu_supports("avx512f");
}

bool conv_gemm_forward_avx2(int filters, int ckk, int ohw, int nb, const float *w,
                            const float *bias, const float *col, size_t ld, float *y,
                            float *acc)
{
	if (!cg_cpu_avx2())
		return false;
	if (filters > 0 && ohw > 0 && nb > 0)
		cg_run(&cg256_tiler, filters, ckk, ohw, nb, w, bias, col, ld, y, acc);
	return true;
}

bool conv_gemm_forward_avx512(int filters, int ckk, int ohw, int nb, const float *w,
                              const float *bias, const float *col, size_t ld, float *y,
                            float *acc)
{
	if (!cg_cpu_avx512())
		return false;
	if (filters > 0 && ohw > 0 && nb > 0)
		cg_run(&cg512_tiler, filters, ckk, ohw, nb, w, bias, col, ld, y, acc);
	return true;
}

#else

bool conv_gemm_forward_avx2(int filters, int ckk, int ohw, int nb, const float *w,
                            const float *bias, const float *col, size_t ld, float *y,
                            float *acc)
{
	(void)filters, (void)ckk, (void)ohw, (void)nb, (void)w, (void)bias, (void)col, (void)ld;
	(void)y, (void)acc;
	return false;
}

bool conv_gemm_forward_avx512(int filters, int ckk, int ohw, int nb, const float *w,
                              const float *bias, const float *col, size_t ld, float *y,
                            float *acc)
{
	return conv_gemm_forward_avx2(filters, ckk, ohw, nb, w, bias, col, ld, y, acc);
}

#endif

/* gemm_fixed's choice, read once it has been made (before main). */
static _Atomic int cg_path = -1;   /* 0 portable, 1 avx2, 2 avx512 */

static int cg_path_now(void)
{
	int path = atomic_load_explicit(&cg_path, memory_order_relaxed);

	if (path < 0) {
		const char *name = gemm_fixed_path();

		path = !strcmp(name, "avx512") ? 2 : !strcmp(name, "avx2") ? 1 : 0;
		atomic_store_explicit(&cg_path, path, memory_order_relaxed);
	}
	return path;
}

void conv_gemm_forward(int filters, int ckk, int ohw, int nb, const float *w, const float *bias,
                       const float *col, size_t ld, float *y, float *acc)
{
	int path = cg_path_now();

	if (path == 2 && conv_gemm_forward_avx512(filters, ckk, ohw, nb, w, bias, col, ld, y, acc))
		return;
	if (path == 1 && conv_gemm_forward_avx2(filters, ckk, ohw, nb, w, bias, col, ld, y, acc))
		return;
	conv_gemm_forward_portable(filters, ckk, ohw, nb, w, bias, col, ld, y, acc);
}

bool conv_gemm_fused_applies(const struct conv_gemm_image *im)
{
	/* an input row in two registers; a group of k rows within a block */
	return im->w <= 32 && im->k <= CONV_GEMM_FUSED_K && im->stride >= 1 && cg_path_now() == 2;
}

/* the block, then acc, from scratch's first 64-byte boundary: the tiles'
 * loads of the block's rows (192 bytes apart) then never cross a cache
 * line, whatever scratch's alignment (calloc's is 16) */
size_t conv_gemm_fused_floats(int filters)
{
	return CONV_GEMM_PACK_FLOATS + conv_gemm_acc_floats(filters) + 15;
}

void conv_gemm_forward_fused(int filters, const struct conv_gemm_image *im, int nb,
                             const float *w, const float *bias, float *y, float *scratch)
{
#ifdef CONV_GEMM_X86
	float *pack = scratch + (64 - (uintptr_t)scratch % 64) % 64 / sizeof(float);

	if (filters > 0 && nb > 0)
		cg_run_fused(filters, im, nb, w, bias, y, pack + CONV_GEMM_PACK_FLOATS, pack);
#else
	(void)filters, (void)im, (void)nb, (void)w, (void)bias, (void)y, (void)scratch;
#endif
}
