/* 2x2/2 max-pooling over many planes (the rule: kernels/pool2.h), one copy
 * per instruction-set level (kernels/isa.h).
 *
 * Each level reads a window's four inputs as the even and odd columns of
 * its two rows and computes the same max2 chain, a > b picks with the same
 * operand order, so the levels differ only in how many windows one
 * instruction covers: 4 (SSE, the baseline), 8 (AVX2) or 16 (AVX-512).
 * The wide levels cover a row's last windows with masked loads and stores
 * rather than a scalar tail, which on lenet's 7- and 14-wide outputs would
 * be half the work; AVX-512 packs two output rows of up to 8 windows into
 * one vector (lenet's 7x7 output). A masked load reads nothing past its
 * lanes (no fault, no use of the dropped odd column). */
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/isa.h"
#include "kernels/relu.h"

#if CNN_ISA_LEVEL >= CNN_ISA_AVX2
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

/* One output row's windows: rows r0 and r1 = r0 + w of x, dx alike. */
struct row_pair {
	const float *r0, *r1;
	float *d0, *d1;
};

/* The rows of the first output row of x's planes, and the next ones: two
 * rows down, skipping a plane's dropped odd last row. */
struct cursor {
	const float *x;
	float *dx;
	int oy;
};

static inline void cursor_next(struct cursor *c, int h, int w, int oh)
{
	c->x += (size_t)2 * w;
	c->dx = c->dx ? c->dx + (size_t)2 * w : NULL;
	if (++c->oy == oh) {
		c->oy = 0;
		c->x += (size_t)(h - 2 * oh) * w;
		c->dx = c->dx ? c->dx + (size_t)(h - 2 * oh) * w : NULL;
	}
}

static inline struct row_pair cursor_rows(const struct cursor *c, int w)
{
	return (struct row_pair){ c->x, c->x + w, c->dx, c->dx ? c->dx + w : NULL };
}

static inline float max2(float a, float b)
{
	return b > a ? b : a;   /* a NaN first element stays */
}

#if CNN_ISA_LEVEL == CNN_ISA_BASELINE
/* One window, the definition the vector paths follow. */
static inline float window_max(struct row_pair p, int j, bool relu)
{
	return max2(max2(max2(relu_if(p.r0[2 * j], relu), relu_if(p.r0[2 * j + 1], relu)),
	                 relu_if(p.r1[2 * j], relu)),
	            relu_if(p.r1[2 * j + 1], relu));
}

static inline void window_backward(struct row_pair p, int j, float m, float d, bool relu)
{
	if (relu)
		d = m > 0.0f ? d : 0.0f;
	/* bitwise, not &&: no branches */
	int a = relu_if(p.r0[2 * j], relu) == m, b = relu_if(p.r0[2 * j + 1], relu) == m;
	int c = relu_if(p.r1[2 * j], relu) == m, e = relu_if(p.r1[2 * j + 1], relu) == m;
	b &= !a;
	c &= !(a | b);
	e &= !(a | b | c);
	p.d0[2 * j] = (b | c | e) ? 0.0f : d;
	p.d0[2 * j + 1] = b ? d : 0.0f;
	p.d1[2 * j] = c ? d : 0.0f;
	p.d1[2 * j + 1] = e ? d : 0.0f;
}
#endif

#if CNN_ISA_LEVEL == CNN_ISA_BASELINE && defined(__SSE2__)
/* Four windows: the even and odd columns of each row. */
struct quad {
	__m128 e0, o0, e1, o1;
};

static inline struct quad load_quad(const float *r0, const float *r1, bool relu)
{
	__m128 a0 = _mm_loadu_ps(r0), a1 = _mm_loadu_ps(r0 + 4);
	__m128 b0 = _mm_loadu_ps(r1), b1 = _mm_loadu_ps(r1 + 4);
	struct quad q = { _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0)),
	                  _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1)),
	                  _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)),
	                  _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1)) };

	if (relu) {   /* _mm_max_ps(x, 0) is x > 0 ? x : 0, relu_value(x) */
		__m128 z = _mm_setzero_ps();
		q = (struct quad){ _mm_max_ps(q.e0, z), _mm_max_ps(q.o0, z), _mm_max_ps(q.e1, z),
		                   _mm_max_ps(q.o1, z) };
	}
	return q;
}

/* Writes even and odd columns back interleaved. */
static inline void store_pairs(float *d, __m128 even, __m128 odd)
{
	_mm_storeu_ps(d, _mm_unpacklo_ps(even, odd));
	_mm_storeu_ps(d + 4, _mm_unpackhi_ps(even, odd));
}
#endif

#if CNN_ISA_LEVEL == CNN_ISA_BASELINE
static inline void row_forward(struct row_pair p, float *yr, int ow, bool relu)
{
	int j = 0;
#ifdef __SSE2__
	/* _mm_max_ps(b, a) is b > a ? b : a, max2(a, b) */
	for (; j + 4 <= ow; j += 4) {
		struct quad q = load_quad(p.r0 + 2 * j, p.r1 + 2 * j, relu);
		__m128 m = _mm_max_ps(q.o0, q.e0);
		m = _mm_max_ps(q.e1, m);
		_mm_storeu_ps(yr + j, _mm_max_ps(q.o1, m));
	}
#endif
	for (; j < ow; j++)
		yr[j] = window_max(p, j, relu);
}

static inline void row_backward(struct row_pair p, const float *yr, const float *dyr, int ow,
                                bool relu)
{
	int j = 0;
#ifdef __SSE2__
	for (; j + 4 <= ow; j += 4) {
		struct quad q = load_quad(p.r0 + 2 * j, p.r1 + 2 * j, relu);
		__m128 m = _mm_loadu_ps(yr + j), d = _mm_loadu_ps(dyr + j);
		if (relu)   /* y > 0 ? dy : 0 */
			d = _mm_and_ps(_mm_cmpgt_ps(m, _mm_setzero_ps()), d);
		__m128 a = _mm_cmpeq_ps(q.e0, m);
		__m128 b = _mm_andnot_ps(a, _mm_cmpeq_ps(q.o0, m));
		__m128 ab = _mm_or_ps(a, b);
		__m128 c = _mm_andnot_ps(ab, _mm_cmpeq_ps(q.e1, m));
		__m128 e = _mm_andnot_ps(_mm_or_ps(ab, c), _mm_cmpeq_ps(q.o1, m));
		__m128 first = _mm_andnot_ps(_mm_or_ps(_mm_or_ps(b, c), e), d);
		store_pairs(p.d0 + 2 * j, first, _mm_and_ps(b, d));
		store_pairs(p.d1 + 2 * j, _mm_and_ps(c, d), _mm_and_ps(e, d));
	}
#endif
	for (; j < ow; j++)
		window_backward(p, j, yr[j], dyr[j], relu);
}
#endif

#if CNN_ISA_LEVEL >= CNN_ISA_AVX2
/* Lanes [0, n) of a mask vector for maskload/maskstore. */
static inline __m256i lanes8(int n)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Eight windows (n <= 8 of them real) of a row pair: the even and odd
 * columns of 16 floats of each row. full: n == 8, plain loads and stores. */
struct oct {
	__m256 e0, o0, e1, o1;
};

/* AVX-512's mask registers where there are: vmaskmovps stores are slow on AMD. */
static inline __m256 load8(const float *p, int count, bool full)
{
	if (full)
		return _mm256_loadu_ps(p);
#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
	return _mm256_maskz_loadu_ps((__mmask8)((1u << count) - 1), p);
#else
	return _mm256_maskload_ps(p, lanes8(count));
#endif
}

static inline void store8(float *p, __m256 v, int count, bool full)
{
	if (full)
		_mm256_storeu_ps(p, v);
	else
#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
		_mm256_mask_storeu_ps(p, (__mmask8)((1u << count) - 1), v);
#else
		_mm256_maskstore_ps(p, lanes8(count), v);
#endif
}

/* The even (sel 0x88) or odd (0xdd) floats of a and b: in-lane shuffle,
 * then the 64-bit halves put in order (0x d8: 0, 2, 1, 3). */
static inline __m256 evens_odds(__m256 a, __m256 b, int sel)
{
	__m256 s = sel == 0x88 ? _mm256_shuffle_ps(a, b, 0x88) : _mm256_shuffle_ps(a, b, 0xdd);
	return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xd8));
}

static inline struct oct load_oct(const float *r0, const float *r1, int n, bool full, bool relu)
{
	int na = n < 4 ? 2 * n : 8, nb = n < 4 ? 0 : 2 * (n - 4);   /* floats per half */
	__m256 a0 = load8(r0, na, full), b0 = load8(r0 + 8, nb, full);
	__m256 a1 = load8(r1, na, full), b1 = load8(r1 + 8, nb, full);
	struct oct q = { evens_odds(a0, b0, 0x88), evens_odds(a0, b0, 0xdd),
	                 evens_odds(a1, b1, 0x88), evens_odds(a1, b1, 0xdd) };

	if (relu) {   /* _mm256_max_ps(x, 0) is x > 0 ? x : 0, relu_value(x) */
		__m256 z = _mm256_setzero_ps();
		q = (struct oct){ _mm256_max_ps(q.e0, z), _mm256_max_ps(q.o0, z),
		                  _mm256_max_ps(q.e1, z), _mm256_max_ps(q.o1, z) };
	}
	return q;
}

/* d[0, 2n) = even and odd interleaved, n windows. */
static inline void store_interleaved(float *d, __m256 even, __m256 odd, int n, bool full)
{
	__m256 lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);

	store8(d, _mm256_permute2f128_ps(lo, hi, 0x20), n < 4 ? 2 * n : 8, full);
	if (n > 4)
		store8(d + 8, _mm256_permute2f128_ps(lo, hi, 0x31), 2 * (n - 4), full);
}

static inline void oct_forward(struct row_pair p, int j, float *yr, int n, bool full, bool relu)
{
	struct oct q = load_oct(p.r0 + 2 * j, p.r1 + 2 * j, n, full, relu);
	__m256 m = _mm256_max_ps(q.o0, q.e0);   /* b > a ? b : a, max2(a, b) */

	m = _mm256_max_ps(q.e1, m);
	store8(yr + j, _mm256_max_ps(q.o1, m), n, full);
}

static inline void oct_backward(struct row_pair p, int j, const float *yr, const float *dyr,
                                int n, bool full, bool relu)
{
	struct oct q = load_oct(p.r0 + 2 * j, p.r1 + 2 * j, n, full, relu);
	__m256 m = _mm256_max_ps(q.o1, _mm256_max_ps(q.e1, _mm256_max_ps(q.o0, q.e0)));
	__m256 d = load8(dyr + j, n, full);
	(void)yr;

	if (relu)   /* y > 0 ? dy : 0 */
		d = _mm256_and_ps(_mm256_cmp_ps(m, _mm256_setzero_ps(), _CMP_GT_OQ), d);
	__m256 a = _mm256_cmp_ps(q.e0, m, _CMP_EQ_OQ);
	__m256 b = _mm256_andnot_ps(a, _mm256_cmp_ps(q.o0, m, _CMP_EQ_OQ));
	__m256 ab = _mm256_or_ps(a, b);
	__m256 c = _mm256_andnot_ps(ab, _mm256_cmp_ps(q.e1, m, _CMP_EQ_OQ));
	__m256 e = _mm256_andnot_ps(_mm256_or_ps(ab, c), _mm256_cmp_ps(q.o1, m, _CMP_EQ_OQ));
	__m256 first = _mm256_andnot_ps(_mm256_or_ps(_mm256_or_ps(b, c), e), d);

	store_interleaved(p.d0 + 2 * j, first, _mm256_and_ps(b, d), n, full);
	store_interleaved(p.d1 + 2 * j, _mm256_and_ps(c, d), _mm256_and_ps(e, d), n, full);
}

static inline void row_forward(struct row_pair p, float *yr, int ow, bool relu)
{
	int j = 0;

	for (; j + 8 <= ow; j += 8)
		oct_forward(p, j, yr, 8, true, relu);
	if (j < ow)
		oct_forward(p, j, yr, ow - j, false, relu);
}

static inline void row_backward(struct row_pair p, const float *yr, const float *dyr, int ow,
                                bool relu)
{
	int j = 0;

	for (; j + 8 <= ow; j += 8)
		oct_backward(p, j, yr, dyr, 8, true, relu);
	if (j < ow)
		oct_backward(p, j, yr, dyr, ow - j, false, relu);
}
#endif

#if CNN_ISA_LEVEL == CNN_ISA_AVX512
/* Sixteen windows in two halves of up to `half` windows each: half A from
 * row pair pa, half B from pb (the next 8 windows of the same rows when an
 * output row is wider than 8, else the next output row, whose windows
 * follow in y). Lanes [0, na) hold A's windows, [half, half + nb) B's; y is
 * contiguous over lanes [0, na + nb) since na == half whenever nb > 0. */
struct pool16 {
	__m512i even, odd;     /* permutex2var: the windows' columns of (A, B) */
	__m512i inter_a, inter_b;   /* and back: A's and B's windows interleaved */
};

static struct pool16 pool16_make(int half)
{
	_Alignas(64) int ev[16], od[16], ia[16], ib[16];

	for (int l = 0; l < 16; l++) {
		ev[l] = l < half ? 2 * l : 16 + 2 * (l - half);
		od[l] = ev[l] + 1;
		ia[l] = (l & 1) * 16 + l / 2;
		ib[l] = ia[l] + half;
	}
	return (struct pool16){ _mm512_load_si512(ev), _mm512_load_si512(od), _mm512_load_si512(ia),
	                        _mm512_load_si512(ib) };
}

static inline __mmask16 lanes16(int n)
{
	return (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
}

struct hex {
	__m512 e0, o0, e1, o1;
};

/* A's windows [0, na) from rows pa (2 na floats each), B's from pb. */
static inline struct hex load_hex(const struct pool16 *k, const float *a0, const float *a1,
                                  const float *b0, const float *b1, int na, int nb, bool relu)
{
	__mmask16 ka = lanes16(2 * na), kb = lanes16(2 * nb);
	__m512 ta = _mm512_maskz_loadu_ps(ka, a0), tb = _mm512_maskz_loadu_ps(kb, b0);
	__m512 ua = _mm512_maskz_loadu_ps(ka, a1), ub = _mm512_maskz_loadu_ps(kb, b1);
	struct hex q = { _mm512_permutex2var_ps(ta, k->even, tb),
	                 _mm512_permutex2var_ps(ta, k->odd, tb),
	                 _mm512_permutex2var_ps(ua, k->even, ub),
	                 _mm512_permutex2var_ps(ua, k->odd, ub) };

	if (relu) {   /* _mm512_max_ps(x, 0) is x > 0 ? x : 0, relu_value(x) */
		__m512 z = _mm512_setzero_ps();
		q = (struct hex){ _mm512_max_ps(q.e0, z), _mm512_max_ps(q.o0, z),
		                  _mm512_max_ps(q.e1, z), _mm512_max_ps(q.o1, z) };
	}
	return q;
}

/* The windows of half A of row pair a, half B of row pair b. */
struct halves {
	struct row_pair a, b;
	int na, nb;
};

static inline void hex_forward(const struct pool16 *k, struct halves h, float *y, bool relu)
{
	struct hex q = load_hex(k, h.a.r0, h.a.r1, h.b.r0, h.b.r1, h.na, h.nb, relu);
	__m512 m = _mm512_max_ps(q.o0, q.e0);   /* b > a ? b : a, max2(a, b) */

	m = _mm512_max_ps(q.e1, m);
	_mm512_mask_storeu_ps(y, lanes16(h.na + h.nb), _mm512_max_ps(q.o1, m));
}

/* Even and odd columns back interleaved into the rows of A and of B. */
static inline void hex_store(const struct pool16 *k, float *da, float *db, int na, int nb,
                             __m512 even, __m512 odd)
{
	_mm512_mask_storeu_ps(da, lanes16(2 * na), _mm512_permutex2var_ps(even, k->inter_a, odd));
	if (nb)
		_mm512_mask_storeu_ps(db, lanes16(2 * nb),
		                      _mm512_permutex2var_ps(even, k->inter_b, odd));
}

static inline void hex_backward(const struct pool16 *k, struct halves h, const float *y,
                                const float *dy, bool relu)
{
	struct hex q = load_hex(k, h.a.r0, h.a.r1, h.b.r0, h.b.r1, h.na, h.nb, relu);
	__mmask16 ky = lanes16(h.na + h.nb);
	__m512 m = _mm512_max_ps(q.o1, _mm512_max_ps(q.e1, _mm512_max_ps(q.o0, q.e0)));
	__m512 d = _mm512_maskz_loadu_ps(ky, dy);
	(void)y;

	if (relu)   /* y > 0 ? dy : 0 */
		d = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_GT_OQ), d);
	__mmask16 a = _mm512_cmp_ps_mask(q.e0, m, _CMP_EQ_OQ);
	__mmask16 b = (__mmask16)(_mm512_cmp_ps_mask(q.o0, m, _CMP_EQ_OQ) & ~a);
	__mmask16 c = (__mmask16)(_mm512_cmp_ps_mask(q.e1, m, _CMP_EQ_OQ) & ~(a | b));
	__mmask16 e = (__mmask16)(_mm512_cmp_ps_mask(q.o1, m, _CMP_EQ_OQ) & ~(a | b | c));
	__mmask16 first = (__mmask16)~(b | c | e);

	hex_store(k, h.a.d0, h.b.d0, h.na, h.nb, _mm512_maskz_mov_ps(first, d),
	          _mm512_maskz_mov_ps(b, d));
	hex_store(k, h.a.d1, h.b.d1, h.na, h.nb, _mm512_maskz_mov_ps(c, d),
	          _mm512_maskz_mov_ps(e, d));
}

/* The next two output rows of ow <= 8 windows (one if it is the last of
 * `left`), whose y follow each other, as the halves of one vector. */
static inline struct halves two_rows(struct cursor *c, size_t left, int h, int w, int oh, int ow)
{
	struct halves hv = { cursor_rows(c, w), { 0 }, ow, 0 };

	cursor_next(c, h, w, oh);
	if (left > 1) {
		hv.b = cursor_rows(c, w);
		hv.nb = ow;
		cursor_next(c, h, w, oh);
	}
	return hv;
}
#endif

static void zero_dropped(float *dx, int h, int w, int oh, int ow, size_t planes);

void KERNEL_FN(pool2_forward)(const float *x, int h, int w, float *y, int oh, int ow,
                              size_t planes, bool relu)
{
	struct cursor c = { x, NULL, 0 };
	size_t rows = planes * (size_t)oh;   /* output rows, each ow of y */

#if CNN_ISA_LEVEL == CNN_ISA_AVX512
	if (ow <= 8) {   /* two output rows per vector */
		struct pool16 k = pool16_make(ow);
		for (size_t r = 0; r < rows; r += 2)
			hex_forward(&k, two_rows(&c, rows - r, h, w, oh, ow), y + r * ow, relu);
		return;
	}
#endif
	for (size_t r = 0; r < rows; r++, cursor_next(&c, h, w, oh))
		row_forward(cursor_rows(&c, w), y + r * ow, ow, relu);
}

void KERNEL_FN(pool2_backward)(const float *x, int h, int w, const float *y, const float *dy,
                               float *dx, int oh, int ow, size_t planes, bool relu)
{
	struct cursor c = { x, dx, 0 };
	size_t rows = planes * (size_t)oh;   /* output rows, each ow of y and dy */

#if CNN_ISA_LEVEL == CNN_ISA_AVX512
	if (ow <= 8) {
		struct pool16 k = pool16_make(ow);
		for (size_t r = 0; r < rows; r += 2)
			hex_backward(&k, two_rows(&c, rows - r, h, w, oh, ow), y + r * ow, dy + r * ow,
			             relu);
		zero_dropped(dx, h, w, oh, ow, planes);
		return;
	}
#endif
	for (size_t r = 0; r < rows; r++, cursor_next(&c, h, w, oh))
		row_backward(cursor_rows(&c, w), y + r * ow, dy + r * ow, ow, relu);
	zero_dropped(dx, h, w, oh, ow, planes);
}

/* dx's last odd column and row, which no window reads, get 0. */
static void zero_dropped(float *dx, int h, int w, int oh, int ow, size_t planes)
{
	if (h == 2 * oh && w == 2 * ow)
		return;
	for (size_t p = 0; p < planes; p++) {
		float *dp = dx + p * (size_t)h * w;   /* (h, w) */
		for (int r = 0; w > 2 * ow && r < 2 * oh; r++)
			dp[(size_t)r * w + w - 1] = 0.0f;
		if (h > 2 * oh)
			memset(dp + (size_t)2 * oh * w, 0, (size_t)w * sizeof(*dp));
	}
}
