/* AVX2 helpers shared by the direct convolution's kernels. Header-only and
 * static: each kernel file gets its own inlined copy. */
#ifndef CNN_KERNELS_SIMD_SCAN_H
#define CNN_KERNELS_SIMD_SCAN_H

#include <immintrin.h>

/* Lanes [0, n) of a mask, n in [0, 8]. */
static inline __m256i lane_mask(int n)
{
	static const int mask[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };

	return _mm256_loadu_si256((const __m256i *)(const void *)(mask + 8 - n));
}

/* Slots past the end that find_nonzero and find_nonzero_z may write (and
 * the caller must own). */
#define FIND_NONZERO_SLACK 16

/* The non-zero entries of one dy plane (oh, ow), as offsets oy * pw + ox
 * into a padded input plane of width pw, in row-major order; returns their
 * count and adds their sum, taken in that order, to *sum (NULL: no sum).
 * pos and val must have FIND_NONZERO_SLACK slots more than the plane has
 * pixels.
 *
 * A plane after ReLU and max-pooling is mostly zeros. Each 8 pixels are
 * compared with zero at once and the non-zeros packed to the front of the
 * register by a permutation looked up from the 8-bit mask: no branch per
 * non-zero. (A loop over the mask's bits mispredicted on about every group
 * and made this scan a quarter of the reference network's training step.) */
static inline int find_nonzero(const float *d, int oh, int ow, int pw, int *pos, float *val,
                               float *sum)
{
	/* pack[m]: the indices of m's set bits, ascending, one per nibble */
	static const unsigned pack[256] = {
		0x00000000, 0x00000000, 0x00000001, 0x00000010, 0x00000002, 0x00000020,
		0x00000021, 0x00000210, 0x00000003, 0x00000030, 0x00000031, 0x00000310,
		0x00000032, 0x00000320, 0x00000321, 0x00003210, 0x00000004, 0x00000040,
		0x00000041, 0x00000410, 0x00000042, 0x00000420, 0x00000421, 0x00004210,
		0x00000043, 0x00000430, 0x00000431, 0x00004310, 0x00000432, 0x00004320,
		0x00004321, 0x00043210, 0x00000005, 0x00000050, 0x00000051, 0x00000510,
		0x00000052, 0x00000520, 0x00000521, 0x00005210, 0x00000053, 0x00000530,
		0x00000531, 0x00005310, 0x00000532, 0x00005320, 0x00005321, 0x00053210,
		0x00000054, 0x00000540, 0x00000541, 0x00005410, 0x00000542, 0x00005420,
		0x00005421, 0x00054210, 0x00000543, 0x00005430, 0x00005431, 0x00054310,
		0x00005432, 0x00054320, 0x00054321, 0x00543210, 0x00000006, 0x00000060,
		0x00000061, 0x00000610, 0x00000062, 0x00000620, 0x00000621, 0x00006210,
		0x00000063, 0x00000630, 0x00000631, 0x00006310, 0x00000632, 0x00006320,
		0x00006321, 0x00063210, 0x00000064, 0x00000640, 0x00000641, 0x00006410,
		0x00000642, 0x00006420, 0x00006421, 0x00064210, 0x00000643, 0x00006430,
		0x00006431, 0x00064310, 0x00006432, 0x00064320, 0x00064321, 0x00643210,
		0x00000065, 0x00000650, 0x00000651, 0x00006510, 0x00000652, 0x00006520,
		0x00006521, 0x00065210, 0x00000653, 0x00006530, 0x00006531, 0x00065310,
		0x00006532, 0x00065320, 0x00065321, 0x00653210, 0x00000654, 0x00006540,
		0x00006541, 0x00065410, 0x00006542, 0x00065420, 0x00065421, 0x00654210,
		0x00006543, 0x00065430, 0x00065431, 0x00654310, 0x00065432, 0x00654320,
		0x00654321, 0x06543210, 0x00000007, 0x00000070, 0x00000071, 0x00000710,
		0x00000072, 0x00000720, 0x00000721, 0x00007210, 0x00000073, 0x00000730,
		0x00000731, 0x00007310, 0x00000732, 0x00007320, 0x00007321, 0x00073210,
		0x00000074, 0x00000740, 0x00000741, 0x00007410, 0x00000742, 0x00007420,
		0x00007421, 0x00074210, 0x00000743, 0x00007430, 0x00007431, 0x00074310,
		0x00007432, 0x00074320, 0x00074321, 0x00743210, 0x00000075, 0x00000750,
		0x00000751, 0x00007510, 0x00000752, 0x00007520, 0x00007521, 0x00075210,
		0x00000753, 0x00007530, 0x00007531, 0x00075310, 0x00007532, 0x00075320,
		0x00075321, 0x00753210, 0x00000754, 0x00007540, 0x00007541, 0x00075410,
		0x00007542, 0x00075420, 0x00075421, 0x00754210, 0x00007543, 0x00075430,
		0x00075431, 0x00754310, 0x00075432, 0x00754320, 0x00754321, 0x07543210,
		0x00000076, 0x00000760, 0x00000761, 0x00007610, 0x00000762, 0x00007620,
		0x00007621, 0x00076210, 0x00000763, 0x00007630, 0x00007631, 0x00076310,
		0x00007632, 0x00076320, 0x00076321, 0x00763210, 0x00000764, 0x00007640,
		0x00007641, 0x00076410, 0x00007642, 0x00076420, 0x00076421, 0x00764210,
		0x00007643, 0x00076430, 0x00076431, 0x00764310, 0x00076432, 0x00764320,
		0x00764321, 0x07643210, 0x00000765, 0x00007650, 0x00007651, 0x00076510,
		0x00007652, 0x00076520, 0x00076521, 0x00765210, 0x00007653, 0x00076530,
		0x00076531, 0x00765310, 0x00076532, 0x00765320, 0x00765321, 0x07653210,
		0x00007654, 0x00076540, 0x00076541, 0x00765410, 0x00076542, 0x00765420,
		0x00765421, 0x07654210, 0x00076543, 0x00765430, 0x00765431, 0x07654310,
		0x00765432, 0x07654320, 0x07654321, 0x76543210,
	};
	const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
	const __m256i nibble = _mm256_set1_epi32(15);
	const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	int nnz = 0;
	float s = 0.0f;

	for (int oy = 0; oy < oh; oy++) {
		const float *dr = d + (size_t)oy * ow;
		for (int ox = 0; ox < ow; ox += 8) {
			int len = ow - ox < 8 ? ow - ox : 8;
			/* masked-off lanes load as 0 and are not selected */
			__m256 v = len == 8 ? _mm256_loadu_ps(dr + ox) :
			           _mm256_maskload_ps(dr + ox, lane_mask(len));
			unsigned bits = (unsigned)_mm256_movemask_ps(
				_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ));
			__m256i order = _mm256_and_si256(
				_mm256_srlv_epi32(_mm256_set1_epi32((int)pack[bits]), shifts), nibble);
			__m256i at = _mm256_add_epi32(_mm256_set1_epi32(oy * pw + ox), lanes);
			_mm256_storeu_ps(val + nnz, _mm256_permutevar8x32_ps(v, order));
			_mm256_storeu_si256((__m256i *)(void *)(pos + nnz),
			                    _mm256_permutevar8x32_epi32(at, order));
			nnz += __builtin_popcount(bits);
		}
	}
	if (!sum)
		return nnz;
	/* one add after another, as the values come: the same bits as adding
	 * every pixel of the plane in order, zeros included */
	for (int i = 0; i < nnz; i++)
		s += val[i];
	*sum += s;
	return nnz;
}

#if defined(CNN_ISA_LEVEL) && CNN_ISA_LEVEL >= CNN_ISA_AVX512
/* find_nonzero's lists (no sum) with AVX-512: 16 pixels of the plane
 * flattened (count of them) at a time, compared with zero into a mask and
 * packed to the front by compress, which keeps their order; at[j] is pixel
 * j's offset oy * pw + ox (find_nonzero_offsets), or NULL for j itself
 * (pw == ow). Register-to-register
 * compresses and plain stores: the compress-to-memory form is slow on some
 * CPUs (Zen 4). */
static inline int find_nonzero_z(const float *d, int count, const int *at, int *pos, float *val)
{
	int nnz = 0;

	for (int j = 0; j < count; j += 16) {
		__mmask16 in = (__mmask16)(count - j >= 16 ? 0xffffu : (1u << (count - j)) - 1);
		__m512 v = _mm512_maskz_loadu_ps(in, d + j);
		/* masked-off lanes load as 0 and are not selected */
		__mmask16 bits = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
		__m512i o = at ? _mm512_maskz_loadu_epi32(in, at + j)
		               : _mm512_add_epi32(_mm512_set1_epi32(j), _mm512_setr_epi32(
		                     0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
		_mm512_storeu_ps(val + nnz, _mm512_maskz_compress_ps(bits, v));
		_mm512_storeu_si512((void *)(pos + nnz), _mm512_maskz_compress_epi32(bits, o));
		nnz += __builtin_popcount(bits);
	}
	return nnz;
}
#endif

/* at[oy * ow + ox] = oy * pw + ox: each pixel's offset in a padded plane. */
static inline void find_nonzero_offsets(int oh, int ow, int pw, int *at)
{
	for (int oy = 0; oy < oh; oy++)
		for (int ox = 0; ox < ow; ox++)
			at[oy * ow + ox] = oy * pw + ox;
}

/* db[f] += the sum of list f's n[f] values (list f at val + f * stride),
 * added one after another in order, as find_nonzero sums them: four
 * filters' sums run side by side, so that their chains of dependent
 * additions overlap instead of following one another. */
static inline void sum_lists(const float *val, size_t stride, const int *n, int filters, float *db)
{
	int f = 0;

	for (; f + 4 <= filters; f += 4) {
		const float *v0 = val + f * stride, *v1 = v0 + stride, *v2 = v1 + stride, *v3 = v2 + stride;
		float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
		int both = n[f], i;
		for (int k = 1; k < 4; k++)
			both = n[f + k] < both ? n[f + k] : both;
		for (i = 0; i < both; i++) {
			s0 += v0[i];
			s1 += v1[i];
			s2 += v2[i];
			s3 += v3[i];
		}
		for (int j = i; j < n[f]; j++)
			s0 += v0[j];
		for (int j = i; j < n[f + 1]; j++)
			s1 += v1[j];
		for (int j = i; j < n[f + 2]; j++)
			s2 += v2[j];
		for (int j = i; j < n[f + 3]; j++)
			s3 += v3[j];
		db[f] += s0;
		db[f + 1] += s1;
		db[f + 2] += s2;
		db[f + 3] += s3;
	}
	for (; f < filters; f++) {
		float s = 0.0f;
		for (int i = 0; i < n[f]; i++)
			s += val[f * stride + (size_t)i];
		db[f] += s;
	}
}

#endif
