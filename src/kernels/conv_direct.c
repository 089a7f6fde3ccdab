/* Direct convolution, forward and backward (see kernels/conv_direct.h).
 *
 * The portable path accumulates one weight at a time over whole output rows,
 * y[f][oy][lo..hi) += w[f][c][ki][kj] * x[c][iy][..], with the valid range of
 * each row worked out once per kernel position so the inner loop has no
 * bounds test and vectorises for stride 1.
 *
 * The AVX2 path copies each image into a zero-padded plane first (unless it
 * has no padding, see padded_input()), so that every read is in bounds and
 * unconditional, then computes tiles of 8 output
 * pixels: up to 3 tiles x 4 output channels = 12 accumulators, which with
 * the input vectors and one broadcast weight just fills the 16 registers.
 * Tiles run along the flattened output plane, so a narrow output (8 wide)
 * still fills 3 tiles from 3 rows. The backward pass of layers with 8 or
 * more input channels is in conv_direct_wide.c. The AVX-512 copy adds
 * 16-lane tiles along the flattened plane (conv_planes_z), with the same
 * bits; everything else it shares with the AVX2 copy. */
#include "kernels/conv_direct.h"

#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/isa.h"

/* The vectorised path needs AVX2 and FMA: the copy of this file compiled
 * for that level (src/kernels/avx2/) has it, the baseline copy does not. */
#if CNN_ISA_LEVEL >= CNN_ISA_AVX2
#define CONV_VEC 1
#include "kernels/conv_direct_wide.h"
#include "kernels/simd_scan.h"
#endif

/* Smallest o >= 0 with o*stride >= a. */
static int first_at(int a, int stride)
{
	return a <= 0 ? 0 : (a + stride - 1) / stride;
}

/* Outputs [*lo, *hi) of n whose input o*stride - pad + kk lies in [0, size). */
static void valid_range(int size, int stride, int pad, int kk, int n, int *lo, int *hi)
{
	int a = first_at(pad - kk, stride), b = first_at(size + pad - kk, stride);

	a = a < n ? a : n;
	b = b < n ? b : n;
	*lo = a;
	*hi = b > a ? b : a;
}

static void generic_forward(const struct conv_geom *g, const float *w, const float *b,
                            const float *x, float *y)
{
	size_t in_plane = (size_t)g->h * g->w, out_plane = (size_t)g->oh * g->ow;

	for (int f = 0; f < g->filters; f++) {
		float *yf = y + f * out_plane;   /* (oh, ow) */
		for (size_t j = 0; j < out_plane; j++)
			yf[j] = b[f];
		for (int c = 0; c < g->c; c++) {
			const float *xc = x + c * in_plane;
			const float *wc = w + ((size_t)f * g->c + c) * g->k * g->k;
			for (int ki = 0; ki < g->k; ki++) {
				int ylo, yhi;
				valid_range(g->h, g->stride, g->pad_top, ki, g->oh, &ylo, &yhi);
				for (int kj = 0; kj < g->k; kj++) {
					float wv = wc[ki * g->k + kj];
					int xlo, xhi;
					valid_range(g->w, g->stride, g->pad_left, kj, g->ow, &xlo, &xhi);
					for (int oy = ylo; oy < yhi; oy++) {
						const float *xr = xc + (size_t)(oy * g->stride - g->pad_top + ki) * g->w
						                  - g->pad_left + kj;
						float *yr = yf + (size_t)oy * g->ow;
						for (int ox = xlo; ox < xhi; ox++)
							yr[ox] += wv * xr[ox * g->stride];
					}
				}
			}
		}
	}
}

static void generic_backward(const struct conv_geom *g, const float *w, const float *x,
                             const float *dy, float *dx, float *dw, float *db)
{
	size_t in_plane = (size_t)g->h * g->w, out_plane = (size_t)g->oh * g->ow;

	if (dx)
		memset(dx, 0, (size_t)g->c * in_plane * sizeof(*dx));
	for (int f = 0; f < g->filters; f++) {
		const float *df = dy + f * out_plane;   /* (oh, ow) */
		float s = 0.0f;
		for (size_t j = 0; j < out_plane; j++)
			s += df[j];
		db[f] += s;
		for (int c = 0; c < g->c; c++) {
			const float *xc = x + c * in_plane;
			float *dxc = dx ? dx + c * in_plane : NULL;
			size_t wo = ((size_t)f * g->c + c) * g->k * g->k;
			for (int ki = 0; ki < g->k; ki++) {
				int ylo, yhi;
				valid_range(g->h, g->stride, g->pad_top, ki, g->oh, &ylo, &yhi);
				for (int kj = 0; kj < g->k; kj++) {
					float wv = w[wo + ki * g->k + kj], acc = 0.0f;
					int xlo, xhi;
					valid_range(g->w, g->stride, g->pad_left, kj, g->ow, &xlo, &xhi);
					for (int oy = ylo; oy < yhi; oy++) {
						size_t at = (size_t)(oy * g->stride - g->pad_top + ki) * g->w
						            - g->pad_left + kj;
						const float *dr = df + (size_t)oy * g->ow;
						for (int ox = xlo; ox < xhi; ox++)
							acc += dr[ox] * xc[at + (size_t)ox * g->stride];
						if (dxc)
							for (int ox = xlo; ox < xhi; ox++)
								dxc[at + (size_t)ox * g->stride] += wv * dr[ox];
					}
					dw[wo + ki * g->k + kj] += acc;
				}
			}
		}
	}
}

#ifdef CONV_VEC

/* Reads past the end of a padded plane stay inside the buffer. */
#define SLACK 16

static int round4(int v)
{
	return (v + 3) / 4 * 4;
}

/* The padded geometry of the vectorised path (stride 1):
 *   xp  (c, ph, pw)               x with its padding, ph = oh + k - 1
 *   dyp (filters, h + k - 1, w + k - 1)  dy padded for the "full" correlation
 *   wp  (filters/4, c, k, k, 4)   w with 4 filters interleaved
 *   wt  (c/4, filters, k, k, 4)   w flipped and transposed, for dx
 *   dxp (c, ph, pw)               dx with its padding, for the scatter
 *   wr  (filters, c, k, 8)        w with rows padded to 8 lanes, for the scatter
 *   nz_pos, nz_val (filters, oh * ow) + slack  dy's non-zero positions, per filter
 *   nnz (filters)                 how many each list holds
 *   nz_at (oh * ow)               each dy pixel's offset in a padded input plane */
struct plan {
	int ph, pw, dh, dw;
	float *xp, *dyp, *wp, *wt, *dxp, *wr, *nz_val;
	int *nz_pos, *nnz, *nz_at;
};

static size_t plan_floats(const struct conv_geom *g, struct plan *p, float *base)
{
	size_t at = 0, kk = (size_t)g->k * g->k;

	p->ph = g->oh + g->k - 1;
	p->pw = g->ow + g->k - 1;
	p->dh = g->h + g->k - 1;
	p->dw = g->w + g->k - 1;
#define TAKE(field, count) do { if (base) p->field = base + at; at += (count); } while (0)
	TAKE(xp, (size_t)g->c * p->ph * p->pw + SLACK);
	TAKE(dyp, (size_t)g->filters * p->dh * p->dw + SLACK);
	TAKE(wp, (size_t)round4(g->filters) * g->c * kk);
	TAKE(wt, (size_t)round4(g->c) * g->filters * kk);
	TAKE(dxp, (size_t)g->c * p->ph * p->pw + SLACK);
	TAKE(wr, (size_t)g->filters * g->c * g->k * 8);
	TAKE(nz_val, (size_t)g->filters * g->oh * g->ow + FIND_NONZERO_SLACK);
#undef TAKE
	/* ints share the float scratch: same size on every platform we build for */
	_Static_assert(sizeof(int) == sizeof(float), "nz_pos is carved from float scratch");
	if (base)
		p->nz_pos = (int *)(void *)(base + at);
	at += (size_t)g->filters * g->oh * g->ow + FIND_NONZERO_SLACK;
	if (base)
		p->nnz = (int *)(void *)(base + at);
	at += (size_t)g->filters;
	if (base)
		p->nz_at = (int *)(void *)(base + at);
	at += (size_t)g->oh * g->ow;
	return at;
}

/* dst (c, dh, dw) = src (c, sh, sw) placed at (top, left), zero elsewhere;
 * top/left may be negative (src is then cropped). */
static void pad_planes(const float *src, int c, int sh, int sw, int top, int left,
                       float *dst, int dh, int dw)
{
	int x0 = left > 0 ? left : 0, x1 = sw + left < dw ? sw + left : dw;

	if (top == 0 && left == 0 && sh == dh && sw == dw) {
		memcpy(dst, src, (size_t)c * sh * sw * sizeof(*dst));
		return;
	}
	for (int ci = 0; ci < c; ci++) {
		const float *s = src + (size_t)ci * sh * sw;
		float *d = dst + (size_t)ci * dh * dw;
		for (int y = 0; y < dh; y++) {
			float *dr = d + (size_t)y * dw;
			int sy = y - top;
			if (sy < 0 || sy >= sh || x1 <= x0) {
				memset(dr, 0, (size_t)dw * sizeof(*dr));
				continue;
			}
			memset(dr, 0, (size_t)x0 * sizeof(*dr));
			memcpy(dr + x0, s + (size_t)sy * sw + (x0 - left), (size_t)(x1 - x0) * sizeof(*dr));
			memset(dr + x1, 0, (size_t)(dw - x1) * sizeof(*dr));
		}
	}
}

struct tiles {
	const float *in[3];   /* input at (channel 0, row oy, column ox) of each tile */
	float *out[3];        /* output at (channel 0, oy, ox) */
	int len[3];           /* valid lanes */
};

static void store_tile(const struct tiles *t, int v, int nout, size_t out_plane,
                       __m256 a0, __m256 a1, __m256 a2, __m256 a3)
{
	__m256 acc[4] = { a0, a1, a2, a3 };
	__m256i m = lane_mask(t->len[v]);

	for (int f = 0; f < nout; f++) {
		float *o = t->out[v] + f * out_plane;
		if (t->len[v] == 8)
			_mm256_storeu_ps(o, acc[f]);
		else
			_mm256_maskstore_ps(o, m, acc[f]);
	}
}

/* Three tiles x 4 channels: out[f] = bias[f] + sum_{c,ki,kj} wg[c][ki][kj][f] *
 * in[c][ki][kj + lane]. Written out by hand: with an array of accumulators
 * and a loop over tiles, compilers spill them to the stack. */
static void conv_tiles3(const struct tiles *t, int cin, size_t plane, int iw, int k,
                        const float *wg, const float *bias, int nout, size_t out_plane)
{
	__m256 b0 = _mm256_set1_ps(bias[0]), b1 = _mm256_set1_ps(bias[1]);
	__m256 b2 = _mm256_set1_ps(bias[2]), b3 = _mm256_set1_ps(bias[3]);
	__m256 p0 = b0, p1 = b1, p2 = b2, p3 = b3;   /* tile 0, channels 0..3 */
	__m256 q0 = b0, q1 = b1, q2 = b2, q3 = b3;   /* tile 1 */
	__m256 r0 = b0, r1 = b1, r2 = b2, r3 = b3;   /* tile 2 */

	for (int c = 0; c < cin; c++) {
		for (int ki = 0; ki < k; ki++) {
			size_t off = c * plane + (size_t)ki * iw;
			const float *x0 = t->in[0] + off, *x1 = t->in[1] + off, *x2 = t->in[2] + off;
			const float *wr = wg + ((size_t)c * k + ki) * k * 4;
			for (int kj = 0; kj < k; kj++, wr += 4) {
				__m256 u = _mm256_loadu_ps(x0 + kj), v = _mm256_loadu_ps(x1 + kj);
				__m256 z = _mm256_loadu_ps(x2 + kj), w;
				/* Keep u, v, z in registers: otherwise gcc folds each load
				 * into all four FMAs that use it, and 16 loads per 12 FMAs
				 * (a third of them split across cache lines) made this
				 * loop load-bound. */
				__asm__("" : "+x"(u), "+x"(v), "+x"(z));
				w = _mm256_broadcast_ss(wr);
				p0 = _mm256_fmadd_ps(w, u, p0);
				q0 = _mm256_fmadd_ps(w, v, q0);
				r0 = _mm256_fmadd_ps(w, z, r0);
				w = _mm256_broadcast_ss(wr + 1);
				p1 = _mm256_fmadd_ps(w, u, p1);
				q1 = _mm256_fmadd_ps(w, v, q1);
				r1 = _mm256_fmadd_ps(w, z, r1);
				w = _mm256_broadcast_ss(wr + 2);
				p2 = _mm256_fmadd_ps(w, u, p2);
				q2 = _mm256_fmadd_ps(w, v, q2);
				r2 = _mm256_fmadd_ps(w, z, r2);
				w = _mm256_broadcast_ss(wr + 3);
				p3 = _mm256_fmadd_ps(w, u, p3);
				q3 = _mm256_fmadd_ps(w, v, q3);
				r3 = _mm256_fmadd_ps(w, z, r3);
			}
		}
	}
	store_tile(t, 0, nout, out_plane, p0, p1, p2, p3);
	store_tile(t, 1, nout, out_plane, q0, q1, q2, q3);
	store_tile(t, 2, nout, out_plane, r0, r1, r2, r3);
}

/* One tile (t->in[v]), for the last one or two of a plane. */
static void conv_tile1(const struct tiles *t, int v, int cin, size_t plane, int iw, int k,
                       const float *wg, const float *bias, int nout, size_t out_plane)
{
	__m256 p0 = _mm256_set1_ps(bias[0]), p1 = _mm256_set1_ps(bias[1]);
	__m256 p2 = _mm256_set1_ps(bias[2]), p3 = _mm256_set1_ps(bias[3]);

	for (int c = 0; c < cin; c++) {
		for (int ki = 0; ki < k; ki++) {
			const float *x0 = t->in[v] + c * plane + (size_t)ki * iw;
			const float *wr = wg + ((size_t)c * k + ki) * k * 4;
			for (int kj = 0; kj < k; kj++, wr += 4) {
				__m256 u = _mm256_loadu_ps(x0 + kj);
				__asm__("" : "+x"(u));   /* one load, not four: see conv_tiles3 */
				p0 = _mm256_fmadd_ps(_mm256_broadcast_ss(wr), u, p0);
				p1 = _mm256_fmadd_ps(_mm256_broadcast_ss(wr + 1), u, p1);
				p2 = _mm256_fmadd_ps(_mm256_broadcast_ss(wr + 2), u, p2);
				p3 = _mm256_fmadd_ps(_mm256_broadcast_ss(wr + 3), u, p3);
			}
		}
	}
	store_tile(t, v, nout, out_plane, p0, p1, p2, p3);
}

/* out (cout, oh, ow) = the stride-1 correlation of in (cin, ih, iw) with the
 * interleaved weights wg (cout/4, cin, k, k, 4), plus bias (NULL: none).
 * in must have SLACK readable floats after its last plane. 8-lane tiles. */
static void conv_planes_y(const float *in, int cin, int ih, int iw, int k, const float *wg,
                          const float *bias, int cout, float *out, int oh, int ow)
{
	size_t plane = (size_t)ih * iw, out_plane = (size_t)oh * ow;
	size_t wgroup = (size_t)cin * k * k * 4;

	for (int g = 0; g < cout; g += 4) {
		int nout = cout - g < 4 ? cout - g : 4;
		float b4[4] = { 0 };
		float *og = out + g * out_plane;
		const float *wq = wg + (size_t)(g / 4) * wgroup;
		struct tiles t;
		int nv = 0;

		for (int f = 0; f < nout && bias; f++)
			b4[f] = bias[g + f];
		for (int oy = 0; oy < oh; oy++) {
			for (int ox = 0; ox < ow; ox += 8) {
				t.in[nv] = in + (size_t)oy * iw + ox;
				t.out[nv] = og + (size_t)oy * ow + ox;
				t.len[nv] = ow - ox < 8 ? ow - ox : 8;
				if (++nv < 3)
					continue;
				conv_tiles3(&t, cin, plane, iw, k, wq, b4, nout, out_plane);
				nv = 0;
			}
		}
		for (int v = 0; v < nv; v++)
			conv_tile1(&t, v, cin, plane, iw, k, wq, b4, nout, out_plane);
	}
}

#if CNN_ISA_LEVEL >= CNN_ISA_AVX512

/* The AVX-512 form of conv_planes: 16 lanes run along the input plane
 * flattened, j = oy * iw + ox, so that every load is one contiguous zmm
 * whatever ow is; the k - 1 lanes per row that fall past ow are computed and
 * never stored. Each output is still its own chain (bias, then c, ki, kj in
 * order, one FMA each), the chain of the 8-lane tiles above: the same bits.
 * A tile's valid lanes are consecutive outputs, so each accumulator goes out
 * as one compress and one masked store. */
struct ztile {
	size_t at;        /* j of lane 0 */
	size_t out;       /* output index of the first valid lane */
	__mmask16 valid;
};

/* Walks the tiles of a plane in order: the next tile's row and column. */
struct zcursor {
	size_t at, end;   /* j of the next tile; the flattened span [0, end) */
	size_t row;       /* row of j = at */
	int col;          /* column of j = at */
};

/* The tile at the cursor, and the cursor moved on by 16 lanes. The lanes
 * cover the rest of one row and the start of the next (up to three rows
 * when iw < 16): each row's [0, ow) is valid. No division per tile. */
static struct ztile ztile_next(struct zcursor *c, int iw, int ow)
{
	struct ztile z = { c->at, c->row * ow + (c->col < ow ? (size_t)c->col : (size_t)ow), 0 };
	unsigned valid = 0;

	for (int start = -c->col; start < 16; start += iw) {
		int lo = start > 0 ? start : 0, hi = start + ow < 16 ? start + ow : 16;
		if (hi > lo)
			valid |= ((1u << hi) - 1) & ~((1u << lo) - 1);
	}
	if (c->end - c->at < 16)
		valid &= (1u << (c->end - c->at)) - 1;
	z.valid = (__mmask16)valid;
	c->at += 16;
	c->col += 16;
	while (c->col >= iw) {
		c->col -= iw;
		c->row++;
	}
	return z;
}

/* T tiles (1..4) x 4 output channels: 4T zmm accumulators of the 32. */
static inline __attribute__((always_inline)) void conv_ztiles(
	int T, const struct ztile *z, const float *in, int cin, size_t plane, int iw, int k,
	const float *wg, const float *bias, int nout, float *out, size_t out_plane)
{
	__m512 a[4][4];

	for (int t = 0; t < T; t++)
		for (int f = 0; f < 4; f++)
			a[t][f] = _mm512_set1_ps(bias[f]);
	for (int c = 0; c < cin; c++) {
		for (int ki = 0; ki < k; ki++) {
			const float *x = in + c * plane + (size_t)ki * iw;
			const float *wr = wg + ((size_t)c * k + ki) * k * 4;
			for (int kj = 0; kj < k; kj++, wr += 4) {
				__m512 u[4];
				for (int t = 0; t < T; t++) {
					u[t] = _mm512_loadu_ps(x + z[t].at + kj);
					__asm__("" : "+v"(u[t]));   /* one load, not four: see conv_tiles3 */
				}
				for (int f = 0; f < 4; f++) {
					__m512 w = _mm512_set1_ps(wr[f]);
					for (int t = 0; t < T; t++)
						a[t][f] = _mm512_fmadd_ps(w, u[t], a[t][f]);
				}
			}
		}
	}
	for (int t = 0; t < T; t++) {
		__mmask16 n = (__mmask16)((1u << __builtin_popcount(z[t].valid)) - 1);
		for (int f = 0; f < nout; f++)
			_mm512_mask_storeu_ps(out + f * out_plane + z[t].out, n,
			                      _mm512_maskz_compress_ps(z[t].valid, a[t][f]));
	}
}

static void conv_planes_z(const float *in, int cin, int ih, int iw, int k, const float *wg,
                          const float *bias, int cout, float *out, int oh, int ow)
{
	size_t plane = (size_t)ih * iw, out_plane = (size_t)oh * ow;
	size_t wgroup = (size_t)cin * k * k * 4;
	/* the last output's j + 1: lanes past it would read past the plane's
	 * SLACK (the reads stop 15 floats past the last plane) */
	size_t end = (size_t)(oh - 1) * iw + ow, tiles = (end + 15) / 16;

	for (int g = 0; g < cout; g += 4) {
		int nout = cout - g < 4 ? cout - g : 4;
		float b4[4] = { 0 };
		float *og = out + g * out_plane;
		const float *wq = wg + (size_t)(g / 4) * wgroup;
		struct ztile z[4];
		struct zcursor cur = { 0, end, 0, 0 };
		size_t t = 0;

		for (int f = 0; f < nout && bias; f++)
			b4[f] = bias[g + f];
		for (; t + 4 <= tiles; t += 4) {
			for (int i = 0; i < 4; i++)
				z[i] = ztile_next(&cur, iw, ow);
			conv_ztiles(4, z, in, cin, plane, iw, k, wq, b4, nout, og, out_plane);
		}
		for (; t < tiles; t++) {
			z[0] = ztile_next(&cur, iw, ow);
			conv_ztiles(1, z, in, cin, plane, iw, k, wq, b4, nout, og, out_plane);
		}
	}
}

/* The 16-lane tiles where they are much fewer than the 8-lane ones: the
 * junk lanes past each row, the compress and the wider (split) loads cost
 * the rest (bench/kernel_levels.c: the reference network's 24-wide first
 * convolution gains, its 8-wide second one loses). Both give the same bits. */
static void conv_planes(const float *in, int cin, int ih, int iw, int k, const float *wg,
                        const float *bias, int cout, float *out, int oh, int ow)
{
	size_t ztiles = ((size_t)(oh - 1) * iw + ow + 15) / 16;
	size_t ytiles = (size_t)oh * ((ow + 7) / 8);

	if (5 * ztiles <= 3 * ytiles)
		conv_planes_z(in, cin, ih, iw, k, wg, bias, cout, out, oh, ow);
	else
		conv_planes_y(in, cin, ih, iw, k, wg, bias, cout, out, oh, ow);
}

#else

static void conv_planes(const float *in, int cin, int ih, int iw, int k, const float *wg,
                        const float *bias, int cout, float *out, int oh, int ow)
{
	conv_planes_y(in, cin, ih, iw, k, wg, bias, cout, out, oh, ow);
}

#endif

/* wp[g][c][ki][kj][l] = w[4g + l][c][ki][kj], 0 past the last filter. */
static void pack_forward(const struct conv_geom *g, const float *w, float *wp)
{
	size_t kk = (size_t)g->k * g->k;

	for (int f = 0; f < round4(g->filters); f++)
		for (int c = 0; c < g->c; c++)
			for (size_t j = 0; j < kk; j++)
				wp[(((size_t)(f / 4) * g->c + c) * kk + j) * 4 + f % 4] =
					f < g->filters ? w[((size_t)f * g->c + c) * kk + j] : 0.0f;
}

/* wt[g][f][a][b][l] = w[f][4g + l][k-1-a][k-1-b]: the input gradient is the
 * correlation of the padded dy with these weights. */
static void pack_backward(const struct conv_geom *g, const float *w, float *wt)
{
	int k = g->k;
	size_t kk = (size_t)k * k;

	for (int c = 0; c < round4(g->c); c++)
		for (int f = 0; f < g->filters; f++)
			for (int a = 0; a < k; a++)
				for (int b = 0; b < k; b++)
					wt[((((size_t)(c / 4) * g->filters + f) * k + a) * k + b) * 4 + c % 4] =
						c < g->c ? w[((size_t)f * g->c + c) * kk +
						             (size_t)(k - 1 - a) * k + (k - 1 - b)] : 0.0f;
}

/* wr[f][c][ki][0..8) = w[f][c][ki][0..k), then zeros. */
static void pack_rows(const struct conv_geom *g, const float *w, float *wr)
{
	size_t rows = (size_t)g->filters * g->c * g->k;

	for (size_t r = 0; r < rows; r++)
		for (int j = 0; j < 8; j++)
			wr[r * 8 + j] = j < g->k ? w[r * g->k + j] : 0.0f;
}

/* Image i of n, padded. Without padding, image i's own memory serves: the
 * reads past its end (under SLACK floats) land in the images after it and
 * only feed lanes that are never stored, so only the chunk's last images,
 * past which the memory is not ours, are copied. */
static const float *padded_input(const struct conv_geom *g, const struct plan *p,
                                 const float *x, int i, int n)
{
	size_t in_size = (size_t)g->c * g->h * g->w;

	if ((size_t)(n - 1 - i) * in_size >= SLACK && p->ph == g->h && p->pw == g->w)
		return x + i * in_size;
	pad_planes(x + i * in_size, g->c, g->h, g->w, g->pad_top, g->pad_left, p->xp, p->ph, p->pw);
	return p->xp;
}

static void vec_forward(const struct conv_geom *g, const float *w, const float *b,
                        const float *x, float *y, int n, float *scratch)
{
	struct plan p;
	size_t out_size = (size_t)g->filters * g->oh * g->ow;

	plan_floats(g, &p, scratch);
	pack_forward(g, w, p.wp);
	memset(p.xp + (size_t)g->c * p.ph * p.pw, 0, SLACK * sizeof(float));
	for (int i = 0; i < n; i++)
		conv_planes(padded_input(g, &p, x, i, n), g->c, p.ph, p.pw, g->k, p.wp, b, g->filters,
		            y + i * out_size, g->oh, g->ow);
}

/* dw's kernel row d[0, k) += the sum of a row's four accumulators. */
static inline void dw_row_add(float *d, int k, __m256 a0, __m256 a1, __m256 a2, __m256 a3)
{
	float lanes[8];

	_mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
	for (int kj = 0; kj < k; kj++)
		d[kj] += lanes[kj];
}

/* Row r's accumulator j += d * that row of the window at x (R rows in all). */
#define DW_ROW(r, j, d, x)                                                                  \
	do {                                                                                \
		if (R > (r))                                                                \
			a##r##j = _mm256_fmadd_ps(d, _mm256_loadu_ps((x) + (size_t)(r) * pw), a##r##j); \
	} while (0)
/* Non-zero `at` into the rows' accumulators j. */
#define DW_STEP(j, at)                                                                      \
	do {                                                                                \
		__m256 d_ = _mm256_broadcast_ss(val + (at));                                \
		const float *x_ = base + pos[at];                                           \
		DW_ROW(0, j, d_, x_);                                                       \
		DW_ROW(1, j, d_, x_);                                                       \
		DW_ROW(2, j, d_, x_);                                                       \
	} while (0)

/* Kernel rows [k0, k0 + R) (R <= 3) of dw (k, k) += sum over the listed
 * positions of val * that row of the input window there: one 8-lane FMA
 * per row and non-zero, into four accumulators per row (round-robin over
 * the non-zeros, to hide the FMA latency). R is a constant at each call
 * and the 4R accumulators are named variables, not an array, so that they
 * stay in registers (gcc kept an array's copy in memory up to date, a
 * store per FMA); each non-zero's value and position are loaded once for
 * the R rows. */
static inline __attribute__((always_inline)) void dw_rows(
	int R, const float *xc, int pw, int k, int k0, const int *pos, const float *val, int nnz,
	float *dw)
{
	const float *base = xc + (size_t)k0 * pw;
	__m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a03 = a00;
	__m256 a10 = a00, a11 = a00, a12 = a00, a13 = a00;
	__m256 a20 = a00, a21 = a00, a22 = a00, a23 = a00;
	int i = 0;

	for (; i + 4 <= nnz; i += 4) {
		DW_STEP(0, i);
		DW_STEP(1, i + 1);
		DW_STEP(2, i + 2);
		DW_STEP(3, i + 3);
	}
	for (; i < nnz; i++)
		DW_STEP(0, i);
	dw_row_add(dw + (size_t)k0 * k, k, a00, a01, a02, a03);
	if (R > 1)
		dw_row_add(dw + (size_t)(k0 + 1) * k, k, a10, a11, a12, a13);
	if (R > 2)
		dw_row_add(dw + (size_t)(k0 + 2) * k, k, a20, a21, a22, a23);
}

#undef DW_STEP
#undef DW_ROW

/* dw (k, k) += sum over the listed positions of val * the k x k input window
 * there, three kernel rows at a time (12 accumulators). */
static void dw_sparse(const float *xc, int pw, int k, const int *pos, const float *val,
                      int nnz, float *dw)
{
	int k0 = 0;

	for (; k0 + 3 <= k; k0 += 3)
		dw_rows(3, xc, pw, k, k0, pos, val, nnz, dw);
	if (k - k0 == 2)
		dw_rows(2, xc, pw, k, k0, pos, val, nnz, dw);
	else if (k - k0 == 1)
		dw_rows(1, xc, pw, k, k0, pos, val, nnz, dw);
}

/* dx by scattering each non-zero dy through its k x k window of weights,
 * one 8-lane weight row per (channel, kernel row), into the padded dxp; then
 * dxp without its padding is dx. Lanes past k add 0 to the next pixels. */
static void dx_scatter(const struct conv_geom *g, const struct plan *p, const int *nnz,
                       float *dx)
{
	size_t xplane = (size_t)p->ph * p->pw, out_plane = (size_t)g->oh * g->ow;
	int k = g->k;

	memset(p->dxp, 0, (size_t)g->c * xplane * sizeof(float));
	for (int f = 0; f < g->filters; f++) {
		const int *pos = p->nz_pos + f * out_plane;
		const float *val = p->nz_val + f * out_plane;
		const float *wf = p->wr + (size_t)f * g->c * k * 8;
		for (int i = 0; i < nnz[f]; i++) {
			__m256 d = _mm256_broadcast_ss(val + i);
			float *base = p->dxp + pos[i];
			for (int c = 0; c < g->c; c++) {
				for (int ki = 0; ki < k; ki++) {
					float *r = base + c * xplane + (size_t)ki * p->pw;
					__m256 wv = _mm256_loadu_ps(wf + ((size_t)c * k + ki) * 8);
					_mm256_storeu_ps(r, _mm256_fmadd_ps(d, wv, _mm256_loadu_ps(r)));
				}
			}
		}
	}
	for (int c = 0; c < g->c; c++)
		for (int iy = 0; iy < g->h; iy++)
			memcpy(dx + ((size_t)c * g->h + iy) * g->w,
			       p->dxp + c * xplane + (size_t)(iy + g->pad_top) * p->pw + g->pad_left,
			       (size_t)g->w * sizeof(float));
}

static void vec_backward(const struct conv_geom *g, const float *w, const float *x,
                         const float *dy, float *dx, float *dw, float *db, int n,
                         float *scratch)
{
	struct plan p;
	size_t in_size = (size_t)g->c * g->h * g->w, out_plane = (size_t)g->oh * g->ow;
	size_t out_size = (size_t)g->filters * out_plane, kk = (size_t)g->k * g->k, xplane;

	int *nnz;              /* (filters): non-zeros of each dy plane */
	double gather_cost;
	float *val;

	if (KERNEL_FN(conv_wide_applies)(g)) {
		KERNEL_FN(conv_wide_backward)(g, w, x, dy, dx, dw, db, n, scratch);
		return;
	}
	plan_floats(g, &p, scratch);
	xplane = (size_t)p.ph * p.pw;
	nnz = p.nnz;
	find_nonzero_offsets(g->oh, g->ow, p.pw, p.nz_at);
	gather_cost = (double)g->h * ((g->w + 7) / 8) * round4(g->c) * g->filters * kk / 2;
	memset(p.xp + (size_t)g->c * xplane, 0, SLACK * sizeof(float));
	if (dx) {
		pack_backward(g, w, p.wt);
		pack_rows(g, w, p.wr);
		memset(p.dyp + (size_t)g->filters * p.dh * p.dw, 0, SLACK * sizeof(float));
	}
	for (int i = 0; i < n; i++) {
		const float *dyi = dy + i * out_size;
		const float *xp = padded_input(g, &p, x, i, n);
		size_t total = 0;
		for (int f = 0; f < g->filters; f++) {
			int *pos = p.nz_pos + f * out_plane;
			val = p.nz_val + f * out_plane;
#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
			nnz[f] = find_nonzero_z(dyi + f * out_plane, (int)out_plane, p.nz_at, pos, val);
#else
			nnz[f] = find_nonzero(dyi + f * out_plane, g->oh, g->ow, p.pw, pos, val, NULL);
#endif
			total += (size_t)nnz[f];
		}
		sum_lists(p.nz_val, out_plane, nnz, g->filters, db);
		for (int f = 0; f < g->filters; f++) {
			const int *pos = p.nz_pos + f * out_plane;
			val = p.nz_val + f * out_plane;
			for (int c = 0; nnz[f] && c < g->c; c++)
				dw_sparse(xp + c * xplane, p.pw, g->k, pos, val, nnz[f],
				          dw + ((size_t)f * g->c + c) * kk);
		}
		if (!dx)
			continue;
		/* Scatter costs about one cycle per (non-zero, channel, kernel row),
		 * the gather half a cycle per FMA of its dense tiles: take the
		 * cheaper. After ReLU and 2x2 max-pooling the scatter wins by 4-5x. */
		if ((double)total * g->c * g->k < gather_cost) {
			dx_scatter(g, &p, nnz, dx + i * in_size);
			continue;
		}
		pad_planes(dyi, g->filters, g->oh, g->ow, g->k - 1 - g->pad_top, g->k - 1 - g->pad_left,
		           p.dyp, p.dh, p.dw);
		conv_planes(p.dyp, g->filters, p.dh, p.dw, g->k, p.wt, NULL, g->c, dx + i * in_size,
		            g->h, g->w);
	}
}

bool KERNEL_FN(conv_direct_vectorised)(const struct conv_geom *g)
{
	return g->stride == 1 && g->k <= 8;
}

size_t KERNEL_FN(conv_direct_scratch_floats)(const struct conv_geom *g)
{
	struct plan p;

	if (!KERNEL_FN(conv_direct_vectorised)(g))
		return 0;
	size_t planar = plan_floats(g, &p, NULL);
	size_t wide = KERNEL_FN(conv_wide_applies)(g) ? KERNEL_FN(conv_wide_scratch_floats)(g) : 0;
	return planar > wide ? planar : wide;
}

#else /* no AVX2 and FMA: the portable path only */

bool KERNEL_FN(conv_direct_vectorised)(const struct conv_geom *g)
{
	(void)g;
	return false;
}

size_t KERNEL_FN(conv_direct_scratch_floats)(const struct conv_geom *g)
{
	(void)g;
	return 0;
}

#endif

void KERNEL_FN(conv_direct_forward)(const struct conv_geom *g, const float *w, const float *b,
                                    const float *x, float *y, int n, float *scratch)
{
	size_t in_size = (size_t)g->c * g->h * g->w, out_size = (size_t)g->filters * g->oh * g->ow;

#ifdef CONV_VEC
	if (KERNEL_FN(conv_direct_vectorised)(g)) {
		vec_forward(g, w, b, x, y, n, scratch);
		return;
	}
#endif
	(void)scratch;
	for (int i = 0; i < n; i++)
		generic_forward(g, w, b, x + i * in_size, y + i * out_size);
}

void KERNEL_FN(conv_direct_backward)(const struct conv_geom *g, const float *w, const float *x,
                                     const float *dy, float *dx, float *dw, float *db, int n,
                                     float *scratch)
{
	size_t in_size = (size_t)g->c * g->h * g->w, out_size = (size_t)g->filters * g->oh * g->ow;

#ifdef CONV_VEC
	if (KERNEL_FN(conv_direct_vectorised)(g)) {
		vec_backward(g, w, x, dy, dx, dw, db, n, scratch);
		return;
	}
#endif
	(void)scratch;
	for (int i = 0; i < n; i++)
		generic_backward(g, w, x + i * in_size, dy + i * out_size,
		                 dx ? dx + i * in_size : NULL, dw, db);
}
