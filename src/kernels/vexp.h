/* exp(a) and exp(a) - 1 for a <= 0, in plain float arithmetic that the
 * compiler vectorises: libm's expf and tanhf are one call per element, which
 * made tanh and sigmoid 20-30 times slower than relu. Used by their loops in
 * src/kernels/activations.c.
 *
 * Method: a = n ln2 + r with n = round(a / ln2) and |r| <= ln2/2, ln2 split in
 * two (Cody and Waite) so n ln2 is subtracted without rounding; then
 * exp(r) - 1 = r q(r) with q the Taylor series of (e^r - 1)/r to r^7 (the next
 * term is below 2e-9 relative), and exp(a) = 2^n (1 + r q(r)), 2^n built in
 * the exponent bits. Where n = 0, exp(a) - 1 is r q(r) itself, which keeps its
 * relative accuracy for tiny a (1 - exp(a) would cancel); elsewhere
 * |exp(a) - 1| >= 0.29 and e - 1 is exact enough. Accurate to a few ulp.
 *
 * a below VEXP_MIN gives exactly 0 (and -1); a NaN gives NaN in both, without
 * converting NaN to an integer. */
#ifndef CNN_LAYERS_VEXP_H
#define CNN_LAYERS_VEXP_H

#include <stdint.h>
#include <string.h>

/* exp(-87) = 1.6e-38 is still a normal float: 2^n stays in range. */
#define VEXP_MIN (-87.0f)

static inline float vexp_neg(float a, float *em1)
{
	const float log2e = 1.44269504f, ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
	const float round_magic = 12582912.0f;   /* 1.5 * 2^23: adding it rounds to an integer */
	float c = a >= VEXP_MIN ? a : VEXP_MIN;  /* NaN too: the cast below needs a number */
	float n = (c * log2e + round_magic) - round_magic;
	float r = (c - n * ln2_hi) - n * ln2_lo;
	float q = 1.0f / 40320;

	q = q * r + 1.0f / 5040;
	q = q * r + 1.0f / 720;
	q = q * r + 1.0f / 120;
	q = q * r + 1.0f / 24;
	q = q * r + 1.0f / 6;
	q = q * r + 0.5f;
	q = q * r + 1.0f;
	float rq = r * q;                        /* exp(r) - 1 */
	int32_t bits = ((int32_t)n + 127) * (1 << 23);
	float scale;
	memcpy(&scale, &bits, sizeof scale);     /* 2^n */
	float e = scale + scale * rq;
	float m = n == 0.0f ? rq : e - 1.0f;

	if (a < VEXP_MIN) {
		e = 0.0f;
		m = -1.0f;
	}
	if (a != a) {
		e = a;
		m = a;
	}
	*em1 = m;
	return e;
}

#endif
