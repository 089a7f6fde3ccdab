/* The im2col convolution's backward pass, the parts around its GEMMs
 * (kernels/conv_backward.h says what each computes and why the bits are
 * those of the plain loops). Compiled once per level like im2col.c. */
#include "kernels/conv_backward.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/isa.h"

#if CNN_ISA_LEVEL >= CNN_ISA_AVX2
#include <immintrin.h>

#include "kernels/transpose8.h"
#endif

#define TRANSPOSE_BLOCK 16   /* a 16 x 16 block: 1 KB read and written, in L1 */
#define BIAS_BLOCK 64        /* filters summed at once (their sums in registers) */

/* t's rows [j0, j1) x columns [i0, i1) from a (rows, cols), in L1-sized
 * blocks. */
static void transpose_rect(const float *a, int rows, int cols, int i0, int i1, int j0, int j1,
                           float *t)
{
	for (int ib = i0; ib < i1; ib += TRANSPOSE_BLOCK) {
		int ie = i1 - ib < TRANSPOSE_BLOCK ? i1 : ib + TRANSPOSE_BLOCK;

		for (int jb = j0; jb < j1; jb += TRANSPOSE_BLOCK) {
			int je = j1 - jb < TRANSPOSE_BLOCK ? j1 : jb + TRANSPOSE_BLOCK;

			for (int j = jb; j < je; j++) {
				float *tj = t + (size_t)j * rows;   /* (rows) */
				for (int i = ib; i < ie; i++)
					tj[i] = a[(size_t)i * cols + j];
			}
		}
	}
}

void KERNEL_FN(conv_bwd_transpose)(const float *a, int rows, int cols, float *t)
{
	int i8 = 0, j8 = 0;   /* the rows and columns the 8 x 8 blocks cover */

#if CNN_ISA_LEVEL >= CNN_ISA_AVX2
	i8 = rows / 8 * 8;
	j8 = cols / 8 * 8;
	/* i inside j: each pass writes whole lines of t's rows */
	for (int j0 = 0; j0 < j8; j0 += 8)
		for (int i0 = 0; i0 < i8; i0 += 8)
			transpose_8x8(a + (size_t)i0 * cols + j0, (size_t)cols,
			              t + (size_t)j0 * rows + i0, (size_t)rows);
#endif
	/* the rest (all of it in the portable copy): the rows below the
	 * blocks, then the columns right of them */
	transpose_rect(a, rows, cols, i8, rows, 0, cols, t);
	transpose_rect(a, rows, cols, 0, i8, j8, cols, t);
}

void KERNEL_FN(conv_bwd_bias)(const float *dyT, int ohw, int filters, float *db)
{
	for (int f0 = 0; f0 < filters; f0 += BIAS_BLOCK) {
		int fb = filters - f0 < BIAS_BLOCK ? filters - f0 : BIAS_BLOCK;
		float s[BIAS_BLOCK] = { 0 };   /* (fb): filter f0 + f's sum so far */

		/* j outside f: each s[f] still adds the pixels in order, and the
		 * inner loop runs along a row of dy^T, across the filters. */
		for (int j = 0; j < ohw; j++) {
			const float *row = dyT + (size_t)j * filters + f0;   /* (fb) */
			for (int f = 0; f < fb; f++)
				s[f] += row[f];
		}
		for (int f = 0; f < fb; f++)
			db[f0 + f] += s[f];
	}
}

/* The lanes [lo, hi) of a chunk of dx row starting at ix0 that have a term
 * from kernel column kj: ox = ix + pad_left - kj within [0, ow), ix < w. */
static inline void col2im_lanes(int ix0, int lanes, int w, int ow, int pad_left, int kj,
                                int *lo, int *hi)
{
	int a = kj - pad_left - ix0, b = ow + kj - pad_left - ix0;

	if (b > w - ix0)
		b = w - ix0;
	if (b > lanes)
		b = lanes;
	*lo = a > 0 ? a : 0;
	*hi = b;
}

#if CNN_ISA_LEVEL >= CNN_ISA_AVX2
#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
#define VL 16
typedef __m512 vec;
typedef __mmask16 vmask;
static inline vmask lanes_mask(int lo, int hi)
{
	return (vmask)(((1u << hi) - 1) & ~((1u << lo) - 1));
}
#define DW_MR 12   /* rows of dW^T per tile: 24 zmm accumulators at 32 filters */
#define DW_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define VZERO() _mm512_setzero_ps()
#define VSET1(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VLOADU(p) _mm512_loadu_ps(p)
#define VADD(a, b) _mm512_add_ps(a, b)
#define VLOADM(p, m) _mm512_maskz_loadu_ps(m, p)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VSTOREM(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#else
#define VL 8
typedef __m256 vec;
typedef __m256i vmask;
static inline vmask lanes_mask(int lo, int hi)
{
	__m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);

	return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(lo), lane),
	                           _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), lane));
}
#define DW_MR 6    /* rows of dW^T per tile: 12 ymm accumulators at 16 filters */
#define DW_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define VZERO() _mm256_setzero_ps()
#define VSET1(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VLOADU(p) _mm256_loadu_ps(p)
#define VADD(a, b) _mm256_add_ps(a, b)
#define VLOADM(p, m) _mm256_maskload_ps(p, m)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VSTOREM(p, m, v) _mm256_maskstore_ps(p, m, v)
#endif

/* One tile of dW^T: rows r0 .. r0+mr (their col rows start at rows[i]),
 * nv vectors of filters from dwT's column f0 (c, dy point there), the last
 * vector's lanes [0, nlast) in use. The accumulators carry each chain from
 * dW^T through every pixel in order, and back. */
#define DW_DECL(i)                                                             \
	vec acc##i##0 = VZERO(), acc##i##1 = VZERO();                          \
	const float *p##i = k3 ? rows[(i < mr ? i : 0) / 3 * 3] + (i < mr ? i : 0) % 3 \
	                       : rows[i < mr ? i : 0];
#define DW_LOAD(i)                                                             \
	if (i < mr) {                                                          \
		acc##i##0 = nv == 2 || full ? VLOADU(c + i * ldc) : VLOADM(c + i * ldc, m); \
		if (nv == 2)                                                   \
			acc##i##1 = full ? VLOADU(c + i * ldc + VL) : VLOADM(c + i * ldc + VL, m); \
	}
#define DW_FMA(i)                                                              \
	if (i < mr) {                                                          \
		vec a = VSET1(p##i[pix]);                                      \
		acc##i##0 = VFMA(a, d0, acc##i##0);                            \
		if (nv == 2)                                                   \
			acc##i##1 = VFMA(a, d1, acc##i##1);                    \
	}
#define DW_STORE(i)                                                            \
	if (i < mr) {                                                          \
		if (nv == 2 || full)                                           \
			VSTORE(c + i * ldc, acc##i##0);                        \
		else                                                           \
			VSTOREM(c + i * ldc, m, acc##i##0);                    \
		if (nv == 2 && full)                                           \
			VSTORE(c + i * ldc + VL, acc##i##1);                   \
		else if (nv == 2)                                              \
			VSTOREM(c + i * ldc + VL, m, acc##i##1);               \
	}

/* k3: the tile's rows come in threes of one (ci, ki) with kj = 0, 1, 2
 * (3x3 kernels, the tile starting at a multiple of 3), whose pointers are
 * one float apart: written as one pointer plus 0, 1, 2, so that the
 * compiler keeps a register per three rows rather than spilling twelve. */
static inline __attribute__((always_inline)) void
dw_tile(int mr, int nv, bool k3, const struct conv_bwd_geom *g, const float *const *rows,
        const float *dy, float *c, int nlast)
{
	size_t ldc = (size_t)g->filters, ldd = (size_t)g->filters;
	bool full = nlast == VL;
	vmask m = lanes_mask(0, nlast);

	DW_ROWS(DW_DECL)
	DW_ROWS(DW_LOAD)
	/* the block's output rows q = (image, oy), in order */
	for (int q = 0; q < g->n * g->oh; q++) {
		size_t pix = (size_t)(q / g->oh) * g->is +
		             (size_t)(q % g->oh) * g->stride * g->wp;   /* col's column (q, 0) */
		const float *d = dy + (size_t)q * g->ow * ldd;

		for (int ox = 0; ox < g->ow; ox++, pix += (size_t)g->stride, d += ldd) {
			vec d0 = nv == 2 || full ? VLOADU(d) : VLOADM(d, m), d1 = d0;

			if (nv == 2)
				d1 = full ? VLOADU(d + VL) : VLOADM(d + VL, m);
			DW_ROWS(DW_FMA)
		}
	}
	DW_ROWS(DW_STORE)
}

typedef void dw_tile_fn(const struct conv_bwd_geom *g, const float *const *rows,
                        const float *dy, float *c, int nlast);
#define DW_TILE(NV, MR)                                                        \
	static void dw_tile_##NV##_##MR(const struct conv_bwd_geom *g,         \
	                                const float *const *rows, const float *dy, \
	                                float *c, int nlast)                   \
	{                                                                      \
		dw_tile(MR, NV, false, g, rows, dy, c, nlast);                 \
	}
#define DW_TILES(NV)                                                                   \
	DW_TILE(NV, 1) DW_TILE(NV, 2) DW_TILE(NV, 3) DW_TILE(NV, 4) DW_TILE(NV, 5)     \
	DW_TILE(NV, 6) DW_TILE_WIDE(NV)
#if DW_MR == 12
#define DW_TILE_WIDE(NV)                                                               \
	DW_TILE(NV, 7) DW_TILE(NV, 8) DW_TILE(NV, 9) DW_TILE(NV, 10) DW_TILE(NV, 11)   \
	DW_TILE(NV, 12)
#define DW_LIST(NV)                                                                    \
	{ NULL, dw_tile_##NV##_1, dw_tile_##NV##_2, dw_tile_##NV##_3, dw_tile_##NV##_4, \
	  dw_tile_##NV##_5, dw_tile_##NV##_6, dw_tile_##NV##_7, dw_tile_##NV##_8,      \
	  dw_tile_##NV##_9, dw_tile_##NV##_10, dw_tile_##NV##_11, dw_tile_##NV##_12 }
#else
#define DW_TILE_WIDE(NV)
#define DW_LIST(NV)                                                                    \
	{ NULL, dw_tile_##NV##_1, dw_tile_##NV##_2, dw_tile_##NV##_3, dw_tile_##NV##_4, \
	  dw_tile_##NV##_5, dw_tile_##NV##_6 }
#endif
DW_TILES(1)
DW_TILES(2)
static dw_tile_fn *const dw_tiles[2][DW_MR + 1] = { DW_LIST(1), DW_LIST(2) };
#define DW_TILE_K3(NV)                                                         \
	static void dw_tile_k3_##NV(const struct conv_bwd_geom *g,             \
	                            const float *const *rows, const float *dy, \
	                            float *c, int nlast)                       \
	{                                                                      \
		dw_tile(DW_MR, NV, true, g, rows, dy, c, nlast);               \
	}
DW_TILE_K3(1)
DW_TILE_K3(2)
static dw_tile_fn *const dw_tiles_k3[2] = { dw_tile_k3_1, dw_tile_k3_2 };

void KERNEL_FN(conv_bwd_dw)(const struct conv_bwd_geom *g, const float *xp, const float *dyT,
                            float *dwT)
{
	int kk = g->k * g->k, ckk = g->c * kk;
	const float *rows[DW_MR];

	for (int r0 = 0; r0 < ckk; r0 += DW_MR) {
		int mr = ckk - r0 < DW_MR ? ckk - r0 : DW_MR;

		for (int i = 0; i < mr; i++) {
			int r = r0 + i, ci = r / kk, ki = r % kk / g->k, kj = r % g->k;
			rows[i] = xp + ci * g->cs + (size_t)ki * g->wp + kj;
		}
		for (int f0 = 0; f0 < g->filters; f0 += 2 * VL) {
			int nf = g->filters - f0 < 2 * VL ? g->filters - f0 : 2 * VL;
			int nv = nf > VL ? 2 : 1;
			dw_tile_fn *tile = g->k == 3 && mr == DW_MR ? dw_tiles_k3[nv - 1]
			                                            : dw_tiles[nv - 1][mr];

			tile(g, rows, dyT + f0, dwT + (size_t)r0 * g->filters + f0, nf - (nv - 1) * VL);
		}
	}
}

/* dx straight from dy (conv_backward.h). dyp holds dy zero-padded so that
 * every (ki, kj) term of a vector of dx pixels is one unmasked load:
 * dyp[f][oy + k-1 - pad_top][ox + k-1 - pad_left], (hq, wq) per filter. */
struct dx_plan {
	const struct conv_bwd_dx_geom *g;
	size_t hq, wq;
};

static void dx_pad_dy(const struct dx_plan *p, const float *dy, float *dyp)
{
	const struct conv_bwd_dx_geom *g = p->g;
	int r0 = g->k - 1 - g->pad_top, c0 = g->k - 1 - g->pad_left;

	memset(dyp, 0, (size_t)g->filters * p->hq * p->wq * sizeof(*dyp));
	for (int f = 0; f < g->filters; f++) {
		for (int oy = 0; oy < g->oh; oy++) {
			int r = oy + r0, lo = c0 < 0 ? -c0 : 0;   /* the first ox inside dyp */
			int hi = (int)p->wq - c0 < g->ow ? (int)p->wq - c0 : g->ow;

			if (r < 0 || r >= (int)p->hq || hi <= lo)
				continue;
			memcpy(dyp + ((size_t)f * p->hq + r) * p->wq + c0 + lo,
			       dy + ((size_t)f * g->oh + oy) * g->ow + lo, (size_t)(hi - lo) * sizeof(*dy));
		}
	}
}

#if VL == 16
#define DX_CB 12   /* channels per tile: 24 zmm of chains */
#define DX_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#else
#define DX_CB 6    /* 12 ymm of chains */
#define DX_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#endif

/* W packed for the tiles (wp, conv_bwd_dx_scratch): for each block of
 * DX_CB channels, each kernel position r = ki*k + kj and each filter, the
 * block's DX_CB weights side by side (0 past the last channel), so that a
 * tile's broadcasts for one filter are neighbours and the next filter's
 * follow: wp[((ci0 / DX_CB * kk + r) * filters + f) * DX_CB + i] =
 * W[f][ci0 + i][r]. Exact copies: the same products. */
static void dx_pack_w(const struct conv_bwd_dx_geom *g, const float *w, float *wp)
{
	int kk = g->k * g->k;
	size_t ckk = (size_t)g->c * kk;

	for (int ci0 = 0; ci0 < g->c; ci0 += DX_CB)
		for (int r = 0; r < kk; r++)
			for (int f = 0; f < g->filters; f++)
				for (int i = 0; i < DX_CB; i++)
					*wp++ = ci0 + i < g->c ? w[f * ckk + (size_t)(ci0 + i) * kk + r] : 0.0f;
}

/* The packed weights of channel block ci0's kernel position r, filter 0 */
static inline const float *dx_packed(const struct conv_bwd_dx_geom *g, const float *wp, int ci0,
                                     int r)
{
	return wp + ((size_t)(ci0 / DX_CB) * g->k * g->k + r) * g->filters * DX_CB;
}

/* Two vectors of dx pixels, both in channel ci0 + i for each i: vector v
 * starts at row iy[v], column ix[v], and has n[v] pixels of the image
 * (n[1] may be 0: one vector alone, the other computed for nothing). */
struct dx_pix {
	int iy[2], ix[2], n[2];
};

/* cb channels from ci0 (their weights packed in wt: dx_packed) x the two
 * vectors: for each (ki, kj) in order, the terms'
 * chains over the filters from +0 in registers (t), then added to the
 * sums (s, in L1), which start at +0. */
#define DX_ZERO(i) vec t##i##0 = VZERO(), t##i##1 = VZERO();
#define DX_FMA(i)                                                              \
	if (i < cb) {                                                          \
		vec a = VSET1(wf[i]);                                          \
		t##i##0 = VFMA(a, d0, t##i##0);                                \
		t##i##1 = VFMA(a, d1, t##i##1);                                \
	}
#define DX_ADD(i)                                                              \
	if (i < cb) {                                                          \
		VSTORE(s[i][0], VADD(VLOADU(s[i][0]), t##i##0));               \
		VSTORE(s[i][1], VADD(VLOADU(s[i][1]), t##i##1));               \
	}

static inline __attribute__((always_inline)) void
dx_tile(int cb, const struct dx_plan *p, const float *wt, const float *dyp, float *dx, int ci0,
        const struct dx_pix *px)
{
	const struct conv_bwd_dx_geom *g = p->g;
	int k = g->k;
	size_t fstride = p->hq * p->wq, cs = (size_t)g->h * g->w;
	_Alignas(64) float s[DX_CB][2][VL];   /* the sums: channel, vector, lane */

	for (int i = 0; i < cb; i++) {
		VSTORE(s[i][0], VZERO());
		VSTORE(s[i][1], VZERO());
	}
	for (int ki = 0; ki < k; ki++) {
		int oy0 = px->iy[0] + g->pad_top - ki, oy1 = px->iy[1] + g->pad_top - ki;

		/* a row outside the output has no terms; where only one of the
		 * two is outside, its chains run over dyp's zero rows */
		if ((oy0 < 0 || oy0 >= g->oh) && (oy1 < 0 || oy1 >= g->oh))
			continue;
		for (int kj = 0; kj < k; kj++) {
			const float *wf = dx_packed(g, wt, ci0, ki * k + kj);
			const float *dp0 = dyp + (size_t)(px->iy[0] + k - 1 - ki) * p->wq + px->ix[0] + k - 1 - kj;
			const float *dp1 = dyp + (size_t)(px->iy[1] + k - 1 - ki) * p->wq + px->ix[1] + k - 1 - kj;

			DX_ROWS(DX_ZERO)
			for (int f = 0; f < g->filters; f++, wf += DX_CB, dp0 += fstride, dp1 += fstride) {
				vec d0 = VLOADU(dp0), d1 = VLOADU(dp1);

				DX_ROWS(DX_FMA)
			}
			DX_ROWS(DX_ADD)
		}
	}
	for (int i = 0; i < cb; i++) {
		for (int v = 0; v < 2; v++) {
			float *d = dx + (size_t)(ci0 + i) * cs + (size_t)px->iy[v] * g->w + px->ix[v];
			if (px->n[v])
				VSTOREM(d, lanes_mask(0, px->n[v]), VLOADU(s[i][v]));
		}
	}
}

typedef void dx_tile_fn(const struct dx_plan *p, const float *wt, const float *dyp, float *dx,
                        int ci0, const struct dx_pix *px);
#define DX_TILE(CB)                                                            \
	static void dx_tile_##CB(const struct dx_plan *p, const float *wt,     \
	                         const float *dyp, float *dx, int ci0,         \
	                         const struct dx_pix *px)                      \
	{                                                                      \
		dx_tile(CB, p, wt, dyp, dx, ci0, px);                          \
	}
/* X(cb) for every channel count a tile may have, 1 .. DX_CB */
#if VL == 16
#define DX_CBS(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12)
#else
#define DX_CBS(X) X(1) X(2) X(3) X(4) X(5) X(6)
#endif
#define DX_TILE_ENTRY(CB) dx_tile_##CB,
DX_CBS(DX_TILE)
static dx_tile_fn *const dx_tiles[DX_CB + 1] = { NULL, DX_CBS(DX_TILE_ENTRY) };

/* Vector u of the pair from vector t of nvec, `per` vectors to a run of
 * len values (a row, or an image): its run, its first value, and the values
 * it has, 0 past the last vector (which it then repeats, for nothing). */
static int pair_vec(int t, int u, int nvec, int per, int len, int *run, int *start)
{
	int tu = t + u < nvec ? t + u : t;

	*run = tu / per;
	*start = tu % per * VL;
	return t + u < nvec ? (len - *start < VL ? len - *start : VL) : 0;
}

/* The pixel-order layout (conv_bwd_dx_flat): a vector is VL pixels of one
 * image in memory order from p0, across rows; its term (ki, kj) reads dy at
 * a constant shift, (pad_top - ki) * w + pad_left - kj, since the output
 * has the input's row length. Lanes whose output column falls outside
 * [0, ow) would read the next or previous row: their mask (per kj) loads
 * +0 instead, as dyp's zero columns do in the row layout; rows outside the
 * output read the zeros around each plane. */
#define DX_FLAT_KMAX 11   /* kernel columns a pair keeps masks for */

struct dx_fvec {
	int b[2], p0[2], n[2];        /* image, first pixel, pixels in the image */
	vmask m[2][DX_FLAT_KMAX];     /* lanes with a term from kernel column kj */
};

static inline vmask mask_of_bits(unsigned bits)
{
#if VL == 16
	return (vmask)bits;
#else
	__m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);

	return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), bit), bit);
#endif
}

static void dx_flat_masks(const struct conv_bwd_dx_geom *g, struct dx_fvec *v, int u)
{
	int hw = g->h * g->w, lanes = hw - v->p0[u] < VL ? hw - v->p0[u] : VL;
	int ix0 = v->p0[u] % g->w;   /* lane 0's column */

	for (int kj = 0; kj < g->k; kj++) {
		unsigned bits = 0;
		/* lane l's output column: its column + pad_left - kj */
		for (int l = 0, ix = ix0; l < lanes; l++, ix = ix + 1 == g->w ? 0 : ix + 1) {
			int ox = ix + g->pad_left - kj;
			bits |= (unsigned)(ox >= 0 && ox < g->ow) << l;
		}
		v->m[u][kj] = mask_of_bits(bits);
	}
}

/* dyp (filters, n, plane) = each image's dy planes between zeros. */
static void dx_flat_pad_dy(const struct conv_bwd_dx_geom *g, size_t before, size_t plane,
                           const float *dy, float *dyp)
{
	size_t hw = (size_t)g->oh * g->ow;

	for (int f = 0; f < g->filters; f++) {
		for (int b = 0; b < g->n; b++) {
			float *d = dyp + ((size_t)f * g->n + b) * plane;   /* (plane) */
			memset(d, 0, before * sizeof(*d));
			memcpy(d + before, dy + ((size_t)b * g->filters + f) * hw, hw * sizeof(*d));
			memset(d + before + hw, 0, (plane - before - hw) * sizeof(*d));
		}
	}
}

static inline __attribute__((always_inline)) void
dx_flat_tile(int cb, const struct conv_bwd_dx_geom *g, size_t before, size_t plane,
             const float *wt, const float *dyp, float *dx, int ci0, const struct dx_fvec *v)
{
	int k = g->k;
	size_t fstride = (size_t)g->n * plane, cs = (size_t)g->h * g->w;
	_Alignas(64) float s[DX_CB][2][VL];   /* the sums: channel, vector, lane */
	/* the rows each vector spans */
	int y0[2] = { v->p0[0] / g->w, v->p0[1] / g->w };
	int y1[2] = { (v->p0[0] + VL - 1) / g->w, (v->p0[1] + VL - 1) / g->w };

	for (int i = 0; i < cb; i++) {
		VSTORE(s[i][0], VZERO());
		VSTORE(s[i][1], VZERO());
	}
	for (int ki = 0; ki < k; ki++) {
		int d = g->pad_top - ki;

		/* no output row for either vector: no terms */
		if ((y1[0] + d < 0 || y0[0] + d >= g->oh) && (y1[1] + d < 0 || y0[1] + d >= g->oh))
			continue;
		for (int kj = 0; kj < k; kj++) {
			ptrdiff_t shift = (ptrdiff_t)d * g->w + g->pad_left - kj;
			const float *wf = dx_packed(g, wt, ci0, ki * k + kj);
			const float *dp0 = dyp + (size_t)v->b[0] * plane + before + v->p0[0] + shift;
			const float *dp1 = dyp + (size_t)v->b[1] * plane + before + v->p0[1] + shift;
			vmask m0 = v->m[0][kj], m1 = v->m[1][kj];

			DX_ROWS(DX_ZERO)
			for (int f = 0; f < g->filters; f++, wf += DX_CB, dp0 += fstride, dp1 += fstride) {
				vec d0 = VLOADM(dp0, m0), d1 = VLOADM(dp1, m1);

				DX_ROWS(DX_FMA)
			}
			DX_ROWS(DX_ADD)
		}
	}
	for (int i = 0; i < cb; i++) {
		for (int u = 0; u < 2; u++) {
			float *d = dx + (size_t)v->b[u] * g->c * cs + (size_t)(ci0 + i) * cs + v->p0[u];
			if (v->n[u])
				VSTOREM(d, lanes_mask(0, v->n[u]), VLOADU(s[i][u]));
		}
	}
}

typedef void dx_flat_fn(const struct conv_bwd_dx_geom *g, size_t before, size_t plane,
                        const float *wt, const float *dyp, float *dx, int ci0,
                        const struct dx_fvec *v);
#define DX_FLAT(CB)                                                            \
	static void dx_flat_##CB(const struct conv_bwd_dx_geom *g, size_t before, \
	                         size_t plane, const float *wt, const float *dyp, \
	                         float *dx, int ci0, const struct dx_fvec *v)  \
	{                                                                      \
		dx_flat_tile(CB, g, before, plane, wt, dyp, dx, ci0, v);       \
	}
#define DX_FLAT_ENTRY(CB) dx_flat_##CB,
DX_CBS(DX_FLAT)
static dx_flat_fn *const dx_flats[DX_CB + 1] = { NULL, DX_CBS(DX_FLAT_ENTRY) };

/* The block's vectors (image by image, VL pixels each), two at a time. */
static void dx_flat(const struct conv_bwd_dx_geom *g, const float *w, const float *dy, float *dx,
                    float *dyp)
{
	int hw = g->h * g->w, per_image = (hw + VL - 1) / VL, nvec = g->n * per_image;
	size_t before, plane;

	conv_bwd_dx_flat_pad(g, &before, &plane);
	dx_flat_pad_dy(g, before, plane, dy, dyp);
	for (int t = 0; t < nvec; t += 2) {
		struct dx_fvec v;

		for (int u = 0; u < 2; u++) {
			v.n[u] = pair_vec(t, u, nvec, per_image, hw, &v.b[u], &v.p0[u]);
			dx_flat_masks(g, &v, u);
		}
		for (int ci0 = 0; ci0 < g->c; ci0 += DX_CB) {
			int cb = g->c - ci0 < DX_CB ? g->c - ci0 : DX_CB;
			dx_flats[cb](g, before, plane, w, dyp, dx, ci0, &v);
		}
	}
}

bool KERNEL_FN(conv_bwd_dx_s1)(const struct conv_bwd_dx_geom *g, const float *w, const float *dy,
                               float *dx, float *scratch)
{
	int per_row = (g->w + VL - 1) / VL, nvec = g->h * per_row;
	size_t wv = (size_t)per_row * VL;   /* a row in whole vectors */
	struct dx_plan p = { g, (size_t)(g->h + g->k - 1), wv + (size_t)g->k - 1 };
	size_t in_size = (size_t)g->c * g->h * g->w, out_size = (size_t)g->filters * g->oh * g->ow;

	/* Rows under 3/4 of their vectors: the pixel-order layout where it
	 * applies (rows that fill their vectors run faster in the row layout,
	 * whose loads need no masks), else dcol's GEMM and col2im, which use
	 * the lanes better. */
	float *wp = scratch;                                      /* W packed for the tiles */
	float *dyp = scratch + conv_bwd_dx_packed_floats(g);      /* dy padded */
	bool flat = conv_bwd_dx_flat(g) && g->k <= DX_FLAT_KMAX;

	if (4 * (size_t)g->w < 3 * wv && !flat)
		return false;
	if (!g->packed)
		dx_pack_w(g, w, wp);
	if (4 * (size_t)g->w < 3 * wv) {
		dx_flat(g, wp, dy, dx, dyp);
		return true;
	}
	for (int b = 0; b < g->n; b++, dy += out_size, dx += in_size) {
		dx_pad_dy(&p, dy, dyp);
		/* the image's vectors in row-major order, two at a time */
		for (int v = 0; v < nvec; v += 2) {
			struct dx_pix px;

			for (int u = 0; u < 2; u++)
				px.n[u] = pair_vec(v, u, nvec, per_row, g->w, &px.iy[u], &px.ix[u]);
			for (int ci0 = 0; ci0 < g->c; ci0 += DX_CB) {
				int cb = g->c - ci0 < DX_CB ? g->c - ci0 : DX_CB;
				dx_tiles[cb](&p, wp, dyp, dx, ci0, &px);
			}
		}
	}
	return true;
}

/* VL pixels of dx's row iy of channel ci from ix0 (nx <= VL of them in the
 * image): from +0, each term in col2im's order; lanes without a term add
 * +0, which leaves a sum that started at +0 unchanged (it is never -0). */
static inline vec col2im_chunk(const float *dc, size_t ld, int k, int pad_top, int pad_left,
                               int oh, int ow, int w, int iy, int ix0, int nx)
{
	vec acc = VZERO();

	for (int ki = 0; ki < k; ki++) {
		int oy = iy + pad_top - ki;

		if (oy < 0 || oy >= oh)
			continue;
		for (int kj = 0; kj < k; kj++) {
			const float *src = dc + ((size_t)ki * k + kj) * ld + (size_t)oy * ow;
			int lo, hi;

			col2im_lanes(ix0, nx, w, ow, pad_left, kj, &lo, &hi);
			if (lo >= hi)
				continue;
			/* lane l reads src[ix0 + l + pad_left - kj]; the masked-off
			 * lanes (l < lo may point before src) are not read */
			acc = VADD(acc, VLOADM(src + ix0 + pad_left - kj, lanes_mask(lo, hi)));
		}
	}
	return acc;
}

void KERNEL_FN(conv_bwd_col2im_s1)(const float *dcol, size_t ld, int c, int h, int w, int k,
                                   int pad_top, int pad_left, int oh, int ow, float *dx)
{
	for (int ci = 0; ci < c; ci++) {
		const float *dc = dcol + (size_t)ci * k * k * ld;   /* (k*k, ld) */
		for (int iy = 0; iy < h; iy++) {
			float *d = dx + ((size_t)ci * h + iy) * w;   /* (w) */

			if (w < VL) {
				vec v = col2im_chunk(dc, ld, k, pad_top, pad_left, oh, ow, w, iy, 0, w);
				VSTOREM(d, lanes_mask(0, w), v);
				continue;
			}
			/* Whole vectors; the last one overlaps the one before
			 * rather than being masked (its pixels come out the same). */
			for (int ix0 = 0;; ix0 += VL) {
				if (ix0 > w - VL)
					ix0 = w - VL;
				VSTORE(d + ix0, col2im_chunk(dc, ld, k, pad_top, pad_left, oh, ow, w,
				                             iy, ix0, VL));
				if (ix0 == w - VL)
					break;
			}
		}
	}
}

#else

/* The portable copy has no such kernel: dcol's GEMM and col2im. */
bool KERNEL_FN(conv_bwd_dx_s1)(const struct conv_bwd_dx_geom *g, const float *w, const float *dy,
                               float *dx, float *scratch)
{
	(void)g;
	(void)w;
	(void)dy;
	(void)dx;
	(void)scratch;
	return false;
}

void KERNEL_FN(conv_bwd_dw)(const struct conv_bwd_geom *g, const float *xp, const float *dyT,
                            float *dwT)
{
	int kk = g->k * g->k, ckk = g->c * kk;

	for (int r = 0; r < ckk; r++) {
		int ci = r / kk, ki = r % kk / g->k, kj = r % g->k;
		const float *p = xp + ci * g->cs + (size_t)ki * g->wp + kj;   /* col's row r */
		float *cr = dwT + (size_t)r * g->filters;                      /* (filters) */
		const float *d = dyT;                                           /* (filters) */

		for (int q = 0; q < g->n * g->oh; q++) {   /* (image, oy) in order */
			size_t pix = (size_t)(q / g->oh) * g->is + (size_t)(q % g->oh) * g->stride * g->wp;
			for (int ox = 0; ox < g->ow; ox++, pix += (size_t)g->stride, d += g->filters) {
				float a = p[pix];
				for (int f = 0; f < g->filters; f++)
					cr[f] = fmaf(a, d[f], cr[f]);
			}
		}
	}
}

void KERNEL_FN(conv_bwd_col2im_s1)(const float *dcol, size_t ld, int c, int h, int w, int k,
                                   int pad_top, int pad_left, int oh, int ow, float *dx)
{
	for (int ci = 0; ci < c; ci++) {
		const float *dc = dcol + (size_t)ci * k * k * ld;   /* (k*k, ld) */
		for (int iy = 0; iy < h; iy++) {
			float *d = dx + ((size_t)ci * h + iy) * w;   /* (w) */

			memset(d, 0, (size_t)w * sizeof(*d));
			/* A row at a time, its terms in col2im's order. */
			for (int ki = 0; ki < k; ki++) {
				int oy = iy + pad_top - ki;

				if (oy < 0 || oy >= oh)
					continue;
				for (int kj = 0; kj < k; kj++) {
					const float *src = dc + ((size_t)ki * k + kj) * ld +
					                   (size_t)oy * ow;
					int lo, hi;

					col2im_lanes(0, w, w, ow, pad_left, kj, &lo, &hi);
					for (int ix = lo; ix < hi; ix++)
						d[ix] += src[ix + pad_left - kj];
				}
			}
		}
	}
}

#endif
