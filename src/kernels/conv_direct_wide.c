/* The sparse backward pass of a wide direct convolution, channels-last.
 *
 * After ReLU and 2x2 max-pooling at most 1 in 4 of a convolution's output
 * gradients dy is non-zero, and each non-zero at output pixel (oy, ox) of
 * filter f touches one k x k window:
 *   dw[f][c][ki][kj] += dy * x[c][oy + ki][ox + kj]
 *   dx[c][oy + ki][ox + kj] += dy * w[f][c][ki][kj]     (x, dx padded)
 * The planar kernel (conv_direct.c) does this one channel plane at a time:
 * 8-lane rows of which only k lanes count, and a scatter whose overlapping
 * unaligned rows defeat store forwarding. With many channels it pays to
 * turn the image around first. Stored channels-last, (y, x, c) with c
 * rounded up to 8, one kernel row of a window is k * c8 contiguous floats,
 * in x and in the weights alike, so every FMA uses all 8 lanes (16 in the
 * AVX-512 copy, which gives the same bits: each lane's chain of FMAs is
 * the same):
 *   dw: per filter, over its non-zeros, a block of up to 8 registers (12
 *       of 16 lanes) of dw's row accumulates dy * (the row of x at that
 *       window); written back once per image.
 *   dx: per output pixel, over the filters non-zero there, a block of
 *       registers accumulates dy * (the filter's weight row); added to dx's
 *       row once, one kernel row of every pixel after another. Non-zeros
 *       are listed per filter and, by a counting sort, per pixel; both
 *       lists keep a fixed order, so results are the same run after run.
 * Where it pays against the planar kernel (lenet's second convolution,
 * 32 -> 64 channels, 5x5, 14x14) is measured in docs/performance.md. */
#include "kernels/conv_direct_wide.h"

#if CNN_ISA_LEVEL >= CNN_ISA_AVX2

#include <string.h>

#include "kernels/simd_scan.h"
#include "kernels/transpose8.h"

/* Registers per accumulation block: 8 leave room for the broadcast value and
 * the loads, and 8 independent FMA chains cover the FMA latency. */
#define BLOCK_VECTORS 8

static int round8(int v)
{
	return (v + 7) / 8 * 8;
}

/* Scratch layout, per call:
 *   xh, dxh  (ph, pw, c8)           x and dx padded, channels-last
 *   wrow     (k, filters, k, c8)    w channels-last, kernel row first
 *   dwacc    (filters, k, k, c8)    dw channels-last, summed over the chunk
 *   nz_val, nz_pos  (filters, oh*ow)  each filter's non-zeros
 *   nnz      (filters)
 *   at_start (oh*ow + 1)            each pixel's non-zeros: [at_start[p],
 *   at_filter, at_val (filters*oh*ow)  at_start[p + 1]) of at_filter/at_val
 *   corner   (oh*ow)                each output pixel's window_corner */
struct wide_plan {
	int ph, pw, c8, ohw;
	size_t row;       /* k * c8: one kernel row of a window, in floats */
	float *xh, *dxh, *wrow, *dwacc, *nz_val, *at_val;
	int *nz_pos, *nnz, *at_start, *at_filter, *corner;
};

static size_t wide_plan_floats(const struct conv_geom *g, struct wide_plan *p, float *base)
{
	size_t at = 0;

	p->ph = g->oh + g->k - 1;
	p->pw = g->ow + g->k - 1;
	p->c8 = round8(g->c);
	p->ohw = g->oh * g->ow;
	p->row = (size_t)g->k * p->c8;
	size_t image = (size_t)p->ph * p->pw * p->c8;
	size_t weights = (size_t)g->filters * g->k * p->row;
	size_t lists = (size_t)g->filters * p->ohw;
	_Static_assert(sizeof(int) == sizeof(float), "int lists are carved from float scratch");
#define TAKE(field, type, count) do { if (base) p->field = (type *)(void *)(base + at); at += (count); } while (0)
	TAKE(xh, float, image);
	TAKE(dxh, float, image);
	TAKE(wrow, float, weights);
	TAKE(dwacc, float, weights);
	TAKE(nz_val, float, lists + FIND_NONZERO_SLACK);
	TAKE(nz_pos, int, lists + FIND_NONZERO_SLACK);
	TAKE(nnz, int, (size_t)g->filters);
	TAKE(at_start, int, (size_t)p->ohw + 1);
	TAKE(at_filter, int, lists);
	TAKE(at_val, float, lists);
	TAKE(corner, int, (size_t)p->ohw);
#undef TAKE
	return at;
}

bool KERNEL_FN(conv_wide_applies)(const struct conv_geom *g)
{
	return g->c >= CONV_WIDE_MIN_CHANNELS;
}

size_t KERNEL_FN(conv_wide_scratch_floats)(const struct conv_geom *g)
{
	struct wide_plan p = { 0 };

	return wide_plan_floats(g, &p, NULL);
}

/* The start of each block of 8 in [0, n), n >= 8: the last one moved back
 * to end at n (overlapping the one before), so that every block is whole. */
static int block8(int at, int n)
{
	return at + 8 <= n ? at : n - 8;
}

/* Between a planar image (c, h, w) and the interior of a padded
 * channels-last one (ph, pw, c8): hwc's interior = chw when to_hwc (its
 * padding and channels past c untouched), else chw = hwc's interior.
 * 8 channels by 8 pixels of a row at a time, transposed in registers
 * (c >= 8 here; a row narrower than 8 is copied a float at a time). A
 * block moved back rewrites some floats with the same values. */
static void copy_interior(const struct conv_geom *g, const struct wide_plan *p, const float *src,
                          float *dst, bool to_hwc)
{
	size_t plane = (size_t)g->h * g->w, c8 = (size_t)p->c8;

	for (int y = 0; y < g->h; y++) {
		size_t row = ((size_t)(y + g->pad_top) * p->pw + g->pad_left) * c8;
		size_t crow = (size_t)y * g->w;
		if (g->w < 8) {
			for (int xx = 0; xx < g->w; xx++)
				for (int c = 0; c < g->c; c++) {
					size_t hwc = row + xx * c8 + c, chw = c * plane + crow + xx;
					dst[to_hwc ? hwc : chw] = src[to_hwc ? chw : hwc];
				}
			continue;
		}
		for (int x0 = 0; x0 < g->w; x0 += 8)
			for (int c0 = 0; c0 < g->c; c0 += 8) {
				int xb = block8(x0, g->w), cb = block8(c0, g->c);
				size_t hwc = row + xb * c8 + cb, chw = cb * plane + crow + xb;
				if (to_hwc)
					transpose_8x8(src + chw, plane, dst + hwc, c8);
				else
					transpose_8x8(src + hwc, c8, dst + chw, plane);
			}
	}
}

#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
/* Registers per 16-lane block: of AVX-512's 32, up to 12 accumulate (a
 * 5 x 5 kernel row of 32 channels is 10, of 64 channels two blocks of 10),
 * with room left for the broadcast value and the loads. */
#define BLOCK_ZMM 12

/* The 8-lane accumulate_block (the AVX2 copy's, below) with 16 lanes:
 * out[0 .. 16N) (the last register's upper
 * half left alone when H) += sum over i of val[i] * src[i][...]. Each lane
 * runs the same chain of FMAs from 0 as in the 8-lane block, so the sums
 * have the same bits; only more lanes share an instruction. The masked
 * upper half is neither loaded nor stored. */
static inline __attribute__((always_inline)) void accumulate_block_z(
	int N, bool H, const float *base, const int *offset, size_t stride, const float *val,
	int count, float *out)
{
	const __mmask16 low = 0x00ff;
	__m512 a[BLOCK_ZMM];

	for (int v = 0; v < N; v++)
		a[v] = _mm512_setzero_ps();
	for (int i = 0; i < count; i++) {
		__m512 d = _mm512_set1_ps(val[i]);
		const float *s = base + (size_t)offset[i] * stride;
		for (int v = 0; v < N - 1; v++)
			a[v] = _mm512_fmadd_ps(d, _mm512_loadu_ps(s + 16 * v), a[v]);
		a[N - 1] = _mm512_fmadd_ps(d, H ? _mm512_maskz_loadu_ps(low, s + 16 * (N - 1)) :
		                                  _mm512_loadu_ps(s + 16 * (N - 1)), a[N - 1]);
	}
	for (int v = 0; v < N - 1; v++)
		_mm512_storeu_ps(out + 16 * v, _mm512_add_ps(_mm512_loadu_ps(out + 16 * v), a[v]));
	float *o = out + 16 * (N - 1);
	if (H)
		_mm512_mask_storeu_ps(o, low, _mm512_add_ps(_mm512_maskz_loadu_ps(low, o), a[N - 1]));
	else
		_mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), a[N - 1]));
}

/* accumulate_block_z with H a constant in each copy. */
static inline __attribute__((always_inline)) void block_z(
	int N, bool half, const float *base, const int *offset, size_t stride, const float *val,
	int count, float *out)
{
	if (half)
		accumulate_block_z(N, true, base, offset, stride, val, count, out);
	else
		accumulate_block_z(N, false, base, offset, stride, val, count, out);
}

/* accumulate_rows with 16-lane blocks of nearly equal size; a row of an odd
 * number of 8-lane vectors ends in a half register. */
static void accumulate_rows(const float *base, const int *offset, size_t stride,
                            const float *val, int count, float *out, size_t len)
{
	int halves = (int)(len / 8), vectors = (halves + 1) / 2;
	int blocks = (vectors + BLOCK_ZMM - 1) / BLOCK_ZMM;

	for (int b = 0, done = 0; b < blocks; b++) {
		/* one block (a row of up to 12 registers) without a division */
		int size = blocks == 1 ? vectors : (vectors - done + (blocks - b) - 1) / (blocks - b);
		bool half = b == blocks - 1 && halves % 2;
		const float *bb = base + 16 * done;
		float *ob = out + 16 * done;
#define Z(n) case n: block_z(n, half, bb, offset, stride, val, count, ob); break
		switch (size) {
		Z(12); Z(11); Z(10); Z(9); Z(8); Z(7); Z(6); Z(5); Z(4); Z(3); Z(2);
		default: Z(1);
		}
#undef Z
		done += size;
	}
}
#else
/* out[0 .. 8N) += sum over i of val[i] * src[i][0 .. 8N), where
 * src[i] = base + offset[i] * stride. N is a constant at every call, so the
 * accumulators are registers. */
static inline __attribute__((always_inline)) void accumulate_block(
	int N, const float *base, const int *offset, size_t stride, const float *val, int count,
	float *out)
{
	__m256 a[BLOCK_VECTORS];

	for (int v = 0; v < N; v++)
		a[v] = _mm256_setzero_ps();
	for (int i = 0; i < count; i++) {
		__m256 d = _mm256_broadcast_ss(val + i);
		const float *s = base + (size_t)offset[i] * stride;
		for (int v = 0; v < N; v++)
			a[v] = _mm256_fmadd_ps(d, _mm256_loadu_ps(s + 8 * v), a[v]);
	}
	for (int v = 0; v < N; v++)
		_mm256_storeu_ps(out + 8 * v, _mm256_add_ps(_mm256_loadu_ps(out + 8 * v), a[v]));
}

/* out[0 .. len) += sum over i of val[i] * (base + offset[i] * stride)[0 .. len),
 * len a multiple of 8, in blocks of nearly equal size (20 vectors: 7, 7, 6)
 * so that every block has enough independent accumulators. */
static void accumulate_rows(const float *base, const int *offset, size_t stride,
                            const float *val, int count, float *out, size_t len)
{
	int vectors = (int)(len / 8);
	int blocks = (vectors + BLOCK_VECTORS - 1) / BLOCK_VECTORS;

	for (int b = 0, done = 0; b < blocks; b++) {
		int size = (vectors - done + (blocks - b) - 1) / (blocks - b);
		const float *bb = base + 8 * done;
		float *ob = out + 8 * done;
		switch (size) {
		case 8: accumulate_block(8, bb, offset, stride, val, count, ob); break;
		case 7: accumulate_block(7, bb, offset, stride, val, count, ob); break;
		case 6: accumulate_block(6, bb, offset, stride, val, count, ob); break;
		case 5: accumulate_block(5, bb, offset, stride, val, count, ob); break;
		case 4: accumulate_block(4, bb, offset, stride, val, count, ob); break;
		case 3: accumulate_block(3, bb, offset, stride, val, count, ob); break;
		case 2: accumulate_block(2, bb, offset, stride, val, count, ob); break;
		default: accumulate_block(1, bb, offset, stride, val, count, ob); break;
		}
		done += size;
	}
}
#endif

/* Output pixel q = oy * ow + ox -> its window's corner in xh's pixels,
 * oy * pw + ox (pw = ow + k - 1). */
static int window_corner(const struct conv_geom *g, int q)
{
	return q + q / g->ow * (g->k - 1);
}

/* [*lo, *hi): the i in [0, n) with i - pad in [0, size) (may be empty). */
static void interior_span(int pad, int size, int n, int *lo, int *hi)
{
	*lo = pad > 0 ? pad : 0;
	*hi = size + pad < n ? size + pad : n;
	if (*hi < *lo)
		*hi = *lo;
}

/* Lists dy's non-zeros per filter (offsets of the window's corner in xh's
 * pixels) and, when dx is wanted, per output pixel; adds db. */
static void list_nonzeros(const struct conv_geom *g, const struct wide_plan *p, const float *dy,
                          bool per_pixel, float *db)
{
	int ohw = p->ohw;

	if (per_pixel)
		memset(p->at_start, 0, ((size_t)ohw + 1) * sizeof *p->at_start);
	for (int f = 0; f < g->filters; f++) {
		int *pos = p->nz_pos + (size_t)f * ohw;
		/* output pixel indices first (width ow), for the per-pixel lists */
#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
		p->nnz[f] = find_nonzero_z(dy + (size_t)f * ohw, ohw, NULL, pos, p->nz_val + (size_t)f * ohw);
#else
		p->nnz[f] = find_nonzero(dy + (size_t)f * ohw, g->oh, g->ow, g->ow, pos,
		                         p->nz_val + (size_t)f * ohw, NULL);
#endif
		for (int i = 0; per_pixel && i < p->nnz[f]; i++)
			p->at_start[pos[i] + 1]++;
	}
	sum_lists(p->nz_val, (size_t)ohw, p->nnz, g->filters, db);
	if (per_pixel) {
		for (int q = 0; q < ohw; q++)
			p->at_start[q + 1] += p->at_start[q];
		/* filled in filter order; at_start[q] walks to its end, then back */
		for (int f = 0; f < g->filters; f++)
			for (int i = 0; i < p->nnz[f]; i++) {
				int q = p->nz_pos[(size_t)f * ohw + i], j = p->at_start[q]++;
				p->at_filter[j] = f;
				p->at_val[j] = p->nz_val[(size_t)f * ohw + i];
			}
		for (int q = ohw; q > 0; q--)
			p->at_start[q] = p->at_start[q - 1];
		p->at_start[0] = 0;
	}
	for (int f = 0; f < g->filters; f++) {
		int *pos = p->nz_pos + (size_t)f * ohw;
		for (int i = 0; i < p->nnz[f]; i++)
			pos[i] = p->corner[pos[i]];
	}
}

void KERNEL_FN(conv_wide_backward)(const struct conv_geom *g, const float *w, const float *x,
                                   const float *dy, float *dx, float *dw, float *db, int n,
                                   float *scratch)
{
	struct wide_plan p = { 0 };
	int k = g->k;
	size_t in_size = (size_t)g->c * g->h * g->w, out_size = (size_t)g->filters * g->oh * g->ow;
	size_t kk = (size_t)k * k;

	wide_plan_floats(g, &p, scratch);
	size_t image = (size_t)p.ph * p.pw * p.c8;
	memset(p.xh, 0, image * sizeof(float));
	memset(p.dwacc, 0, (size_t)g->filters * k * p.row * sizeof(float));
	for (int q = 0; q < p.ohw; q++)
		p.corner[q] = window_corner(g, q);
	if (dx)
		for (int f = 0; f < g->filters; f++)
			for (int c = 0; c < p.c8; c++)
				for (int ki = 0; ki < k; ki++)
					for (int kj = 0; kj < k; kj++)
						p.wrow[(((size_t)ki * g->filters + f) * k + kj) * p.c8 + c] =
							c < g->c ? w[(((size_t)f * g->c + c) * k + ki) * k + kj] : 0.0f;

	for (int i = 0; i < n; i++) {
		copy_interior(g, &p, x + i * in_size, p.xh, true);
		list_nonzeros(g, &p, dy + i * out_size, dx != NULL, db);
		for (int f = 0; f < g->filters; f++)
			for (int ki = 0; p.nnz[f] && ki < k; ki++)
				accumulate_rows(p.xh + (size_t)ki * p.pw * p.c8, p.nz_pos + (size_t)f * p.ohw,
				                p.c8, p.nz_val + (size_t)f * p.ohw, p.nnz[f],
				                p.dwacc + ((size_t)f * k + ki) * p.row, p.row);
		if (!dx)
			continue;
		memset(p.dxh, 0, image * sizeof(float));
		/* One kernel row at a time, so that its weight rows of every
		 * filter (filters * k * c8 floats) stay in the L1 cache; visiting
		 * all the filters' weights at every pixel streamed them all from
		 * L2. dxh's pixel (Y, X) takes pixel q = (oy, ox)'s row ki = Y - oy:
		 * ki from k - 1 down and q upwards add them in q's order, the
		 * order of a loop over q outside ki. Only the parts of rows inside
		 * the image: what falls in dxh's padding is thrown away, and no
		 * other float's sum changes without it. */
		for (int ki = k - 1; ki >= 0; ki--) {
			const float *wk = p.wrow + (size_t)ki * g->filters * p.row;
			int oy0, oy1;
			interior_span(g->pad_top - ki, g->h, g->oh, &oy0, &oy1);
			for (int oy = oy0; oy < oy1; oy++)
				for (int ox = 0; ox < g->ow; ox++) {
					int q = oy * g->ow + ox, first = p.at_start[q];
					int count = p.at_start[q + 1] - first, kj0, kj1;
					if (!count)
						continue;
					interior_span(g->pad_left - ox, g->w, k, &kj0, &kj1);
					size_t at = ((size_t)(oy + ki) * p.pw + ox + kj0) * p.c8;
					accumulate_rows(wk + (size_t)kj0 * p.c8, p.at_filter + first, p.row,
					                p.at_val + first, count, p.dxh + at,
					                (size_t)(kj1 - kj0) * p.c8);
				}
		}
		copy_interior(g, &p, p.dxh, dx + i * in_size, false);
	}

	for (int f = 0; f < g->filters; f++)
		for (int c = 0; c < g->c; c++)
			for (size_t j = 0; j < kk; j++)
				dw[((size_t)f * g->c + c) * kk + j] += p.dwacc[((size_t)f * kk + j) * p.c8 + c];
}

#else /* the baseline copy: conv_direct.c calls it only from AVX2 up */

typedef int conv_direct_wide_needs_avx2;   /* ISO C wants a non-empty file */

#endif
