/* Winograd F(2x2, 5x5) forward convolution (kernels/conv_winograd.h).
 *
 * A call runs in three steps:
 *  1. the filters, once per call (or once for good, conv_winograd_filters,
 *     where the weights no longer change): U[xi][c][f] = (G g_fc G^T)[xi] in
 *     float, 16 filters across the lanes (G's fractions add about 1e-7 of
 *     relative error, against the 1e-6 the products and the input and
 *     output transforms make); filters padded with zeros to a multiple
 *     of 16;
 *  2. the tiles, in chunks of WINO_TC tiles numbered across the call's
 *     images (tile t: image t / tiles, row and column of t % tiles):
 *     each image is first copied channels-last and zero-padded,
 *     X[row][col][c], so that the input transform V = B^T d B runs with
 *     channels across the vector lanes (16 at a time, every lane in use);
 *     then for each of the 36 points the product M_xi = V_xi x U_xi, with
 *     filters across the lanes, a tile's value broadcast: each element of
 *     M is one chain of FMAs over c = 0, 1, ..., c-1 in order, from zero,
 *     at every level (never split across lanes); then the output
 *     transform A^T M A + b, filters across the lanes, into a
 *     channels-last copy of the image's output, moved to y (NCHW) once
 *     the image's last tile is done.
 * The transforms use plain multiplies, adds and subtracts on GCC vector
 * types, which round each lane as the scalar operation would: the copies
 * of this file for every level compile with -ffp-contract=off (and the
 * baseline has no FMA to contract into), so they give the same bits. */
#include "kernels/conv_winograd.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/isa.h"
#include "kernels/relu.h"
#include "util/error.h"

#if CNN_ISA_LEVEL >= CNN_ISA_AVX2
#include <immintrin.h>
#endif

#define WINO_A 6        /* input tile: 6x6 */
#define WINO_P 36       /* points of the product: 6 x 6 */
#define WINO_L 16       /* channels and filters are padded to this many */
#define WINO_TC 25      /* tiles per chunk: V and M stay in L2; 5 product tiles */

/* Geometry of one call, shared by the three steps. */
struct wino_dims {
	int th, tw, tiles;   /* tiles per image: th x tw, each 2x2 outputs */
	int hp, wp;          /* X's rows and columns: the tiles' 6x6 windows */
	int cp, fp;          /* channels, filters rounded up to WINO_L */
	int slots;           /* images X holds at once: those one chunk reaches */
};

static struct wino_dims wino_dims_of(const struct conv_geom *g)
{
	struct wino_dims d;

	d.th = (g->oh + 1) / 2;
	d.tw = (g->ow + 1) / 2;
	d.tiles = d.th * d.tw;
	d.hp = 2 * d.th + 4;
	d.wp = 2 * d.tw + 4;
	d.cp = (g->c + WINO_L - 1) / WINO_L * WINO_L;
	d.fp = (g->filters + WINO_L - 1) / WINO_L * WINO_L;
	d.slots = WINO_TC / d.tiles + 2;
	return d;
}

/* Scratch, each piece a multiple of 16 floats from a 64-byte boundary. */
struct wino_scratch {
	float *u;      /* (36, c, fp) */
	float *bias;   /* (fp) */
	float *v;      /* (36, WINO_TC, cp) */
	float *m;      /* (36, WINO_TC, fp) */
	float *x;      /* (slots, hp, wp, cp) */
	float *y;      /* (slots, 2*th, 2*tw, fp): outputs, channels last */
	float *wt;     /* (25, fp): one channel's taps, filters last */
};

static size_t wino_pieces(const struct conv_geom *g, const struct wino_dims *d, size_t *sz)
{
	sz[5] = (size_t)d->slots * d->tiles * 4 * d->fp;
	sz[6] = (size_t)25 * d->fp;
	sz[0] = (size_t)WINO_P * g->c * d->fp;
	sz[1] = (size_t)d->fp;
	sz[2] = (size_t)WINO_P * WINO_TC * d->cp;
	sz[3] = (size_t)WINO_P * WINO_TC * d->fp;
	sz[4] = (size_t)d->slots * d->hp * d->wp * d->cp;
	return sz[0] + sz[1] + sz[2] + sz[3] + sz[4] + sz[5] + sz[6] + 16;
}

#if CNN_ISA_LEVEL == CNN_ISA_BASELINE
size_t conv_winograd_scratch_floats(const struct conv_geom *g)
{
	struct wino_dims d = wino_dims_of(g);
	size_t sz[7];

	return wino_pieces(g, &d, sz);
}
#endif

static struct wino_scratch wino_scratch_at(const struct conv_geom *g, const struct wino_dims *d,
                                           float *s)
{
	size_t sz[7];
	struct wino_scratch ws;

	wino_pieces(g, d, sz);
	s += (64 - (uintptr_t)s % 64) % 64 / sizeof(float);
	ws.u = s;
	ws.bias = ws.u + sz[0];
	ws.v = ws.bias + sz[1];
	ws.m = ws.v + sz[2];
	ws.x = ws.m + sz[3];
	ws.y = ws.x + sz[4];
	ws.wt = ws.y + sz[5];
	return ws;
}

/* --- moving data between layouts -------------------------------------------------- */

#if CNN_ISA_LEVEL == CNN_ISA_AVX512
/* dst[j][i] = src[i][j] for 16 x 16 floats: rows i < nr of src read in the
 * lanes lm (the rest zero), rows j < nj of dst written in the lanes sm */
static void wino_t16(const float *const *src, int nr, __mmask16 lm, float *const *dst, int nj,
                     __mmask16 sm)
{
	__m512 r[16], t[16];

	for (int i = 0; i < 16; i++)
		r[i] = i < nr ? _mm512_maskz_loadu_ps(lm, src[i]) : _mm512_setzero_ps();
	/* pairs of rows interleaved within each 128-bit lane */
	for (int i = 0; i < 16; i += 2) {
		t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
	}
	/* groups of 4 rows: r[4g + k] holds columns k, k+4, k+8, k+12 of rows 4g.. */
	for (int g = 0; g < 16; g += 4) {
		__m512d a = _mm512_castps_pd(t[g]), b = _mm512_castps_pd(t[g + 1]);
		__m512d c = _mm512_castps_pd(t[g + 2]), d = _mm512_castps_pd(t[g + 3]);

		r[g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
		r[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
		r[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
		r[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
	}
	/* the four groups' 128-bit lanes gathered per column */
	for (int k = 0; k < 4; k++) {
		__m512 v0 = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x44);
		__m512 v1 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x44);
		__m512 v2 = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xee);
		__m512 v3 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xee);

		t[k] = _mm512_shuffle_f32x4(v0, v1, 0x88);
		t[k + 4] = _mm512_shuffle_f32x4(v0, v1, 0xdd);
		t[k + 8] = _mm512_shuffle_f32x4(v2, v3, 0x88);
		t[k + 12] = _mm512_shuffle_f32x4(v2, v3, 0xdd);
	}
	for (int j = 0; j < nj; j++)
		_mm512_mask_storeu_ps(dst[j], sm, t[j]);
}

static __mmask16 wino_mask(int n)
{
	return (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
}
#endif

/* --- 1. the filters ---------------------------------------------------------- */

/* G (6x5) for the points 0, 1, -1, 2, -2, infinity, on one column of 5
 * values (in[k * st], 16 filters across the lanes), into out[a * so]:
 *   [ 1/4  0     0    0    0   ]   row 0
 *   [-1/6 -1/6  -1/6 -1/6 -1/6 ]   rows 1, 2: -(even +- odd) / 6
 *   [-1/6  1/6  -1/6  1/6 -1/6 ]
 *   [1/24  1/12  1/6  1/3  2/3 ]   rows 3, 4: even part +- odd part
 *   [1/24 -1/12  1/6 -1/3  2/3 ]
 *   [ 0    0     0    0    1   ]   row 5
 * the same operations in the same order at every level. */
static void wino_g_col(float (*in)[16], int st, float (*out)[16], int so)
{
	for (int l = 0; l < 16; l++) {
		float g0 = in[0][l], g1 = in[st][l], g2 = in[2 * st][l], g3 = in[3 * st][l];
		float g4 = in[4 * st][l];
		float ev = (g0 + g2) + g4, od = g1 + g3;
		float e = (g0 * (1.0f / 24) + g2 * (1.0f / 6)) + g4 * (2.0f / 3);
		float o = g1 * (1.0f / 12) + g3 * (1.0f / 3);

		out[0][l] = g0 * 0.25f;
		out[so][l] = (ev + od) * (-1.0f / 6);
		out[2 * so][l] = (ev - od) * (-1.0f / 6);
		out[3 * so][l] = e + o;
		out[4 * so][l] = e - o;
		out[5 * so][l] = g4;
	}
}

/* wt (25, fp) = the taps of channel c, filters across: w[f][c][k] at
 * wt[k][f], zeros past g->filters (vector loads of whole filters' rows,
 * not a scalar gather, where the level has it) */
static void wino_taps(const struct conv_geom *g, const struct wino_dims *d, const float *w, int c,
                      float *wt)
{
#if CNN_ISA_LEVEL == CNN_ISA_AVX512
	for (int f0 = 0; f0 < d->fp; f0 += 16) {
		int nf = g->filters - f0 < 16 ? g->filters - f0 : 16;
		const float *src[16];
		float *dst[16];

		for (int i = 0; i < nf; i++)
			src[i] = w + ((size_t)(f0 + i) * g->c + c) * 25;
		for (int k0 = 0; k0 < 25; k0 += 16) {
			int nk = 25 - k0 < 16 ? 25 - k0 : 16;

			for (int j = 0; j < nk; j++)
				dst[j] = wt + (size_t)(k0 + j) * d->fp + f0;
			wino_t16(src, nf, wino_mask(nk), dst, nk, 0xffff);
			for (int i = 0; i < nf; i++)
				src[i] += 16;
		}
	}
#else
	for (int f = 0; f < d->fp; f++)
		for (int k = 0; k < 25; k++)
			wt[(size_t)k * d->fp + f] =
			        f < g->filters ? w[((size_t)f * g->c + c) * 25 + k] : 0.0f;
#endif
}

/* u[xi][c][f] (rows fp apart, a point's block c*fp) = G g G^T of w[f][c],
 * 16 filters at a time across the lanes;
 * the filters' padding and bias (fp) zero past g->filters; wt: (25, fp) */
static void wino_filters(const struct conv_geom *g, const struct wino_dims *d, const float *w,
                         const float *b, float *u, float *bias, float *wt)
{
	size_t pstride = (size_t)g->c * d->fp;

	for (int f = 0; f < d->fp; f++)
		bias[f] = f < g->filters ? b[f] : 0.0f;
	for (int c = 0; c < g->c; c++) {
		wino_taps(g, d, w, c, wt);
		for (int f0 = 0; f0 < d->fp; f0 += 16) {
			float gw[25][16];         /* g (5, 5) of 16 filters */
			float t[WINO_A * 5][16];  /* G g (6, 5) */
			float v[WINO_P][16];      /* G g G^T (6, 6) */

			for (int k = 0; k < 25; k++)
				for (int l = 0; l < 16; l++)
					gw[k][l] = wt[(size_t)k * d->fp + f0 + l];
			for (int j = 0; j < 5; j++)            /* columns of g */
				wino_g_col(gw + j, 5, t + j, 5);
			for (int a = 0; a < WINO_A; a++)       /* rows of G g */
				wino_g_col(t + a * 5, 1, v + a * WINO_A, 1);
			for (int xi = 0; xi < WINO_P; xi++) {
				float *ub = u + xi * pstride + (size_t)c * d->fp + f0;

				for (int l = 0; l < 16; l++)
					ub[l] = v[xi][l];
			}
		}
	}
}

#if CNN_ISA_LEVEL == CNN_ISA_BASELINE
/* f: u (36, c, fp), bias (fp), then wt (25, fp), wino_filters' room */
size_t conv_winograd_filters_floats(const struct conv_geom *g)
{
	struct wino_dims d = wino_dims_of(g);

	return ((size_t)WINO_P * g->c + 1 + 25) * d.fp;
}

void conv_winograd_filters(const struct conv_geom *g, const float *w, const float *b, float *f)
{
	struct wino_dims d = wino_dims_of(g);
	float *bias = f + (size_t)WINO_P * g->c * d.fp;

	wino_filters(g, &d, w, b, f, bias, bias + d.fp);
}
#endif

/* --- vectors of 16 floats, the transforms' unit -------------------------------- */

typedef float wv __attribute__((vector_size(64), aligned(4), may_alias));
#define WLD(p) (*(const wv *)(const void *)(p))
#define WST(p, v) (*(wv *)(void *)(p) = (v))

/* --- 2a. the input transform ---------------------------------------------------- */

/* X (hp, wp, cp) = image x (c, h, w) at (pad_top, pad_left), zeros around
 * it and in the padded channels */
static void wino_image(const struct conv_geom *g, const struct wino_dims *d, const float *x,
                       float *xt)
{
	size_t rs = (size_t)d->wp * d->cp;   /* X's row stride */

	memset(xt, 0, (size_t)d->hp * rs * sizeof(*xt));
#if CNN_ISA_LEVEL == CNN_ISA_AVX512
	int hw = g->h * g->w;

	for (int p0 = 0; p0 < hw; p0 += 16) {
		int np = hw - p0 < 16 ? hw - p0 : 16;
		float *dst[16];

		for (int j = 0; j < np; j++) {
			int r = (p0 + j) / g->w, col = (p0 + j) % g->w;
			dst[j] = xt + (size_t)(r + g->pad_top) * rs + (size_t)(col + g->pad_left) * d->cp;
		}
		for (int c0 = 0; c0 < g->c; c0 += 16) {
			const float *src[16];
			int nc = g->c - c0 < 16 ? g->c - c0 : 16;

			for (int i = 0; i < nc; i++)
				src[i] = x + (size_t)(c0 + i) * hw + p0;
			wino_t16(src, nc, wino_mask(np), dst, np, 0xffff);
			for (int j = 0; j < np; j++)
				dst[j] += 16;
		}
	}
#else
	for (int r = 0; r < g->h; r++)
		for (int col = 0; col < g->w; col++) {
			float *o = xt + (size_t)(r + g->pad_top) * rs + (size_t)(col + g->pad_left) * d->cp;
			const float *in = x + (size_t)r * g->w + col;

			for (int c = 0; c < g->c; c++)
				o[c] = in[(size_t)c * g->h * g->w];
		}
#endif
}

/* B^T along one axis: six vectors in, six out (d0..d5 in order). The same
 * operations in the same order at every level. */
#define WINO_BT(o0, o1, o2, o3, o4, o5, d0, d1, d2, d3, d4, d5)                        \
	do {                                                                            \
		wv s12 = d1 + d2, m12 = d1 - d2, s34 = d3 - d1, t42 = d4 - d2;          \
		o0 = (4.0f * d0 - 5.0f * d2) + d4;                                      \
		o1 = (d3 + d4) - 4.0f * s12;                                            \
		o2 = (d4 - d3) + 4.0f * m12;                                            \
		o3 = t42 + 2.0f * s34;                                                  \
		o4 = t42 - 2.0f * s34;                                                  \
		o5 = (4.0f * d1 - 5.0f * d3) + d5;                                      \
	} while (0)

/* v[xi] (xi = a*6 + b, vs floats apart) = (B^T d B)[a][b] for 16 channels:
 * d[i][j] at p + i*rs + j*cs */
static void wino_in_tile(const float *p, size_t rs, size_t cs, float *v, size_t vs)
{
	wv t[WINO_A][WINO_A];   /* B^T d: rows a, columns j */

	for (int j = 0; j < WINO_A; j++) {
		const float *q = p + (size_t)j * cs;
		wv d0 = WLD(q), d1 = WLD(q + rs), d2 = WLD(q + 2 * rs), d3 = WLD(q + 3 * rs);
		wv d4 = WLD(q + 4 * rs), d5 = WLD(q + 5 * rs);

		WINO_BT(t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j], d0, d1, d2, d3, d4, d5);
	}
	for (int a = 0; a < WINO_A; a++) {
		wv o0, o1, o2, o3, o4, o5;
		float *va = v + (size_t)a * WINO_A * vs;

		WINO_BT(o0, o1, o2, o3, o4, o5, t[a][0], t[a][1], t[a][2], t[a][3], t[a][4], t[a][5]);
		WST(va, o0);
		WST(va + vs, o1);
		WST(va + 2 * vs, o2);
		WST(va + 3 * vs, o3);
		WST(va + 4 * vs, o4);
		WST(va + 5 * vs, o5);
	}
}

/* --- 2b. the products ------------------------------------------------------------ */

/* m[t][f] = sum_c v[t][c] * u[c][f] for nt tiles (rows ldv, ldm apart) and
 * nf filters (u's rows ldu apart): per element, fma over c in order from 0. */
typedef void wino_mm_fn(int nc, const float *u, size_t ldu, const float *v, size_t ldv,
                        float *m, size_t ldm);

#if CNN_ISA_LEVEL == CNN_ISA_AVX512

#define WM_LANES 16
#define WM_NT 5   /* 5 tiles x 4 vectors: 20 accumulators, with the 4 rows of U and
                   * 5 broadcasts within the 32 registers */
#define WM_NV 4
#define WMV __m512
#define WM_ZERO() _mm512_setzero_ps()
#define WM_LOAD(p) _mm512_loadu_ps(p)
#define WM_STORE(p, a) _mm512_storeu_ps(p, a)
#define WM_BCAST(p) _mm512_set1_ps(*(p))
#define WM_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)

#elif CNN_ISA_LEVEL == CNN_ISA_AVX2

#define WM_LANES 8
#define WM_NT 3   /* 3 tiles x 4 vectors: 12 accumulators */
#define WM_NV 4
#define WMV __m256
#define WM_ZERO() _mm256_setzero_ps()
#define WM_LOAD(p) _mm256_loadu_ps(p)
#define WM_STORE(p, a) _mm256_storeu_ps(p, a)
#define WM_BCAST(p) _mm256_broadcast_ss(p)
#define WM_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)

#endif

#ifdef WM_LANES

#define WM_T(X, t) X(t, 0) X(t, 1) X(t, 2) X(t, 3)
#define WM_ALL(X) WM_T(X, 0) WM_T(X, 1) WM_T(X, 2) WM_T(X, 3) WM_T(X, 4)
#define WM_INIT(t, f) WMV acc##t##f = WM_ZERO();
#define WM_STEP(t, f)                                                     \
	if (t < nt && f < nv)                                              \
		acc##t##f = WM_FMA(vb##t, u##f, acc##t##f);
#define WM_BC(t) WMV vb##t = t < nt ? WM_BCAST(vp + (size_t)t * ldv) : WM_ZERO();
#define WM_OUT(t, f)                                                      \
	if (t < nt && f < nv)                                              \
		WM_STORE(m + (size_t)t * ldm + f * WM_LANES, acc##t##f);

static inline __attribute__((always_inline)) void
wino_mm_tile(int nt, int nv, int nc, const float *u, size_t ldu, const float *v, size_t ldv,
             float *m, size_t ldm)
{
	WM_ALL(WM_INIT)
	for (int c = 0; c < nc; c++) {
		const float *up = u + (size_t)c * ldu, *vp = v + c;
		WMV u0 = WM_LOAD(up);
		WMV u1 = nv > 1 ? WM_LOAD(up + WM_LANES) : u0;
		WMV u2 = nv > 2 ? WM_LOAD(up + 2 * WM_LANES) : u0;
		WMV u3 = nv > 3 ? WM_LOAD(up + 3 * WM_LANES) : u0;

		WM_BC(0) WM_BC(1) WM_BC(2) WM_BC(3) WM_BC(4)
		WM_ALL(WM_STEP)
	}
	WM_ALL(WM_OUT)
}

#define WM_FN(NT, NV)                                                                   \
	static void wino_mm_##NT##_##NV(int nc, const float *u, size_t ldu, const float *v, \
	                                size_t ldv, float *m, size_t ldm)                  \
	{                                                                                   \
		wino_mm_tile(NT, NV, nc, u, ldu, v, ldv, m, ldm);                           \
	}
#define WM_FN_ROW(NT) WM_FN(NT, 1) WM_FN(NT, 2) WM_FN(NT, 3) WM_FN(NT, 4)
#define WM_ENTRY(NT) wino_mm_##NT##_1, wino_mm_##NT##_2, wino_mm_##NT##_3, wino_mm_##NT##_4,
WM_FN_ROW(1) WM_FN_ROW(2) WM_FN_ROW(3)
#if WM_NT > 3
WM_FN_ROW(4) WM_FN_ROW(5)
#endif
static wino_mm_fn *const wino_mm_fns[] = {   /* [(nt - 1) * 4 + nv - 1] */
	WM_ENTRY(1) WM_ENTRY(2) WM_ENTRY(3)
#if WM_NT > 3
	WM_ENTRY(4) WM_ENTRY(5)
#endif
};

/* M_xi (nt, fp) = V_xi (nt, c) x U_xi (c, fp), in register tiles */
static void wino_mm(int nt_all, int nc, int fp, const float *u, const float *v, size_t ldv,
                    float *m, size_t ldm)
{
	for (int t0 = 0; t0 < nt_all; t0 += WM_NT) {
		int nt = nt_all - t0 < WM_NT ? nt_all - t0 : WM_NT;

		for (int f0 = 0; f0 < fp; f0 += WM_NV * WM_LANES) {
			int nv = (fp - f0) / WM_LANES < WM_NV ? (fp - f0) / WM_LANES : WM_NV;

			wino_mm_fns[(nt - 1) * WM_NV + nv - 1](nc, u + f0, (size_t)fp,
			                                       v + (size_t)t0 * ldv, ldv,
			                                       m + (size_t)t0 * ldm + f0, ldm);
		}
	}
}

#else

static void wino_mm(int nt_all, int nc, int fp, const float *u, const float *v, size_t ldv,
                    float *m, size_t ldm)
{
	for (int t = 0; t < nt_all; t++) {
		float *mt = m + (size_t)t * ldm;   /* (fp) */

		for (int f = 0; f < fp; f++)
			mt[f] = 0.0f;
		/* c outside f: each mt[f] still sees c = 0, 1, ... in order */
		for (int c = 0; c < nc; c++) {
			float vc = v[(size_t)t * ldv + c];
			const float *uc = u + (size_t)c * fp;

			for (int f = 0; f < fp; f++)
				mt[f] = fmaf(vc, uc[f], mt[f]);
		}
	}
}

#endif

/* --- 2c. the output transform ----------------------------------------------------- */

/* A^T along one axis: six vectors in, two out */
#define WINO_AT(o0, o1, m0, m1, m2, m3, m4, m5)                     \
	do {                                                         \
		o0 = (((m0 + m1) + m2) + m3) + m4;                   \
		o1 = ((m1 - m2) + 2.0f * (m3 - m4)) + m5;            \
	} while (0)

/* yt's 2x2 pixels (rows ldr floats apart, pixels fp) = (A^T M A) + bias
 * for 16 filters: M[xi] at m + xi*ms */
static void wino_out_tile(const float *m, size_t ms, const float *bias, float *yt, size_t ldr,
                          size_t fp)
{
	wv s0[WINO_A], s1[WINO_A];   /* A^T M: rows 0, 1, columns b */
	wv bv = WLD(bias);

	for (int b = 0; b < WINO_A; b++) {
		const float *q = m + (size_t)b * ms;

		WINO_AT(s0[b], s1[b], WLD(q), WLD(q + 6 * ms), WLD(q + 12 * ms), WLD(q + 18 * ms),
		        WLD(q + 24 * ms), WLD(q + 30 * ms));
	}
	wv o00, o01, o10, o11;
	WINO_AT(o00, o01, s0[0], s0[1], s0[2], s0[3], s0[4], s0[5]);
	WINO_AT(o10, o11, s1[0], s1[1], s1[2], s1[3], s1[4], s1[5]);
	WST(yt, o00 + bv);
	WST(yt + fp, o01 + bv);
	WST(yt + ldr, o10 + bv);
	WST(yt + ldr + fp, o11 + bv);
}

/* pool2's rule (kernels/pool2.c, max2 and relu_if): b > a ? b : a, a NaN
 * first element staying */
static inline float wino_max2(float a, float b)
{
	return b > a ? b : a;
}

/* *yp (16 filters) = the 2x2/2 max-pooling of one tile's outputs for 16
 * filters (ReLU first when relu): the values wino_out_tile stores, then
 * pool2's window, lane by lane */
static void wino_out_tile_pooled(const float *m, size_t ms, const float *bias, float *yp, bool relu)
{
	_Alignas(64) float t[4][16];   /* the tile's 2x2 outputs, as wino_out_tile stores them */

	wino_out_tile(m, ms, bias, t[0], 32, 16);
	for (int l = 0; l < 16; l++) {
		float y00 = relu_if(t[0][l], relu), y01 = relu_if(t[1][l], relu);
		float y10 = relu_if(t[2][l], relu), y11 = relu_if(t[3][l], relu);

		yp[l] = wino_max2(wino_max2(wino_max2(y00, y01), y10), y11);
	}
}

/* y (filters, oh, ow) = the image's channels-last outputs yt (rows of
 * row_px pixels of fp floats), channels first, cut to oh x ow: Y (2*th,
 * 2*tw, fp) cut to the output, or the pooled (th, tw, fp) whole */
static void wino_store(const struct conv_geom *g, const struct wino_dims *d, const float *yt,
                       int oh, int ow, int row_px, float *y)
{
	size_t ohw = (size_t)oh * ow;
#if CNN_ISA_LEVEL == CNN_ISA_AVX512
	for (int p0 = 0; p0 < (int)ohw; p0 += 16) {
		int np = (int)ohw - p0 < 16 ? (int)ohw - p0 : 16;
		const float *src[16];
		float *dst[16];

		for (int i = 0; i < np; i++) {
			int oy = (p0 + i) / ow, ox = (p0 + i) % ow;
			src[i] = yt + ((size_t)oy * row_px + ox) * d->fp;
		}
		for (int f0 = 0; f0 < g->filters; f0 += 16) {
			int nf = g->filters - f0 < 16 ? g->filters - f0 : 16;

			for (int j = 0; j < nf; j++)
				dst[j] = y + (size_t)(f0 + j) * ohw + p0;
			wino_t16(src, np, 0xffff, dst, nf, wino_mask(np));
			for (int i = 0; i < np; i++)
				src[i] += 16;
		}
	}
#else
	for (int oy = 0; oy < oh; oy++)
		for (int ox = 0; ox < ow; ox++) {
			const float *p = yt + ((size_t)oy * row_px + ox) * d->fp;   /* (fp) */
			float *o = y + (size_t)oy * ow + ox;

			for (int f = 0; f < g->filters; f++)
				o[(size_t)f * ohw] = p[f];
		}
#endif
}

/* --- the call ------------------------------------------------------------------------ */

/* Tiles [t0, t0 + nt) of the call: input transform, products, output.
 * V (nt, 36, cp) and M (nt, 36, fp) keep a tile's 36 points together. */
static void wino_chunk(const struct conv_geom *g, const struct wino_dims *d,
                       const struct wino_scratch *ws, const float *u, const float *bias, int *held,
                       const float *x, float *y, int t0, int nt, unsigned fold)
{
	size_t in_size = (size_t)g->c * g->h * g->w, rs = (size_t)d->wp * d->cp;
	size_t slot = (size_t)d->hp * rs, yslot = (size_t)d->tiles * 4 * d->fp;
	size_t out_size = (size_t)g->filters * g->oh * g->ow, ldr = (size_t)2 * d->tw * d->fp;
	bool pool = fold & CONV_WINOGRAD_POOL2, relu = fold & CONV_WINOGRAD_RELU;

	for (int tl = 0; tl < nt; tl++) {
		int t = t0 + tl, img = t / d->tiles, q = t % d->tiles, s = img % d->slots;
		const float *xt = ws->x + (size_t)s * slot;   /* (hp, wp, cp) */

		if (held[s] != img) {
			wino_image(g, d, x + (size_t)img * in_size, ws->x + (size_t)s * slot);
			held[s] = img;
		}
		xt += (size_t)(2 * (q / d->tw)) * rs + (size_t)(2 * (q % d->tw)) * d->cp;
		for (int c0 = 0; c0 < d->cp; c0 += WINO_L)
			wino_in_tile(xt + c0, rs, (size_t)d->cp,
			             ws->v + (size_t)tl * WINO_P * d->cp + c0, (size_t)d->cp);
	}
	for (int xi = 0; xi < WINO_P; xi++)
		wino_mm(nt, g->c, d->fp, u + (size_t)xi * g->c * d->fp,
		        ws->v + (size_t)xi * d->cp, (size_t)WINO_P * d->cp,
		        ws->m + (size_t)xi * d->fp, (size_t)WINO_P * d->fp);
	for (int tl = 0; tl < nt; tl++) {
		int t = t0 + tl, img = t / d->tiles, q = t % d->tiles;
		float *yt = ws->y + (size_t)(img % d->slots) * yslot;   /* (2*th, 2*tw, fp) */
		float *yq = yt + (size_t)(2 * (q / d->tw)) * ldr + (size_t)(2 * (q % d->tw)) * d->fp;
		const float *mt = ws->m + (size_t)tl * WINO_P * d->fp;   /* (36, fp) */

		if (pool) {   /* yt as (th, tw, fp): one pooled pixel per tile */
			for (int f0 = 0; f0 < d->fp; f0 += WINO_L)
				wino_out_tile_pooled(mt + f0, (size_t)d->fp, bias + f0,
				                     yt + (size_t)q * d->fp + f0, relu);
			if (q == d->tiles - 1)
				wino_store(g, d, yt, d->th, d->tw, d->tw, y + (size_t)img * (out_size / 4));
			continue;
		}
		for (int f0 = 0; f0 < d->fp; f0 += WINO_L)
			wino_out_tile(mt + f0, (size_t)d->fp, bias + f0, yq + f0, ldr, (size_t)d->fp);
		if (q == d->tiles - 1)   /* the image's last tile */
			wino_store(g, d, yt, g->oh, g->ow, 2 * d->tw, y + (size_t)img * out_size);
	}
}

void KERNEL_FN(conv_winograd_forward)(const struct conv_geom *g, const float *w, const float *b,
                                      const float *x, float *y, int n, float *scratch,
                                      const float *filters, unsigned fold)
{
	struct wino_dims d = wino_dims_of(g);
	struct wino_scratch ws = wino_scratch_at(g, &d, scratch);
	int held[WINO_TC + 2];   /* the image in each slot of X (-1: none) */
	long total = (long)n * d.tiles;
	const float *u = ws.u, *bias = ws.bias;   /* (36, c, fp), (fp) */

	if (n <= 0 || g->filters <= 0)
		return;
	CNN_ASSERT(!(fold & CONV_WINOGRAD_POOL2) || (g->oh % 2 == 0 && g->ow % 2 == 0));
	for (int s = 0; s < d.slots; s++)
		held[s] = -1;
	if (filters) {
		u = filters;
		bias = filters + (size_t)WINO_P * g->c * d.fp;
	} else {
		wino_filters(g, &d, w, b, ws.u, ws.bias, ws.wt);
	}
	for (long t0 = 0; t0 < total; t0 += WINO_TC)
		wino_chunk(g, &d, &ws, u, bias, held, x, y, (int)t0,
		           total - t0 < WINO_TC ? (int)(total - t0) : WINO_TC, fold);
}
