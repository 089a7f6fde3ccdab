/* Augmentation: deterministic for a seed, independent of how a batch is
 * split, different across epochs and positions, and a plausible geometry
 * (a blob moves by at most the shift and keeps its mass). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "data/augment.h"
#include "util/hash.h"

enum { H = 28, W = 28, N = 4 };
static const struct shape shape = { 1, H, W };

/* A bright 6x6 square in the middle, so small moves keep it inside. */
static void blobs(float *x, int n)
{
	memset(x, 0, (size_t)n * H * W * sizeof *x);
	for (int i = 0; i < n; i++)
		for (int y = 11; y < 17; y++)
			for (int c = 11; c < 17; c++)
				x[i * H * W + y * W + c] = 1.0f;
}

static void moments(const float *img, double *mass, double *cy, double *cx)
{
	*mass = *cy = *cx = 0;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			*mass += img[y * W + x];
			*cy += y * img[y * W + x];
			*cx += x * img[y * W + x];
		}
	*cy /= *mass;
	*cx /= *mass;
}

static void disabled_leaves_images_alone(void **state)
{
	(void)state;
	struct augment_config a = { 0 };
	float x[N * H * W], before[N * H * W];
	blobs(x, N);
	memcpy(before, x, sizeof x);
	assert_int_equal(augment_batch(&a, x, N, shape, 1, 1, 0), 0);
	assert_memory_equal(x, before, sizeof x);
}

static void same_seed_same_images_whatever_the_split(void **state)
{
	(void)state;
	struct augment_config a = { .enabled = true, .shift = 2, .rotation = 15, .scale = 0.1 };
	float whole[N * H * W], halves[N * H * W], other[N * H * W];
	blobs(whole, N);
	blobs(halves, N);
	blobs(other, N);
	assert_int_equal(augment_batch(&a, whole, N, shape, 7, 3, 100), 0);
	assert_int_equal(augment_batch(&a, halves, 2, shape, 7, 3, 100), 0);
	assert_int_equal(augment_batch(&a, halves + 2 * H * W, 2, shape, 7, 3, 102), 0);
	assert_memory_equal(whole, halves, sizeof whole);
	assert_int_equal(augment_batch(&a, other, N, shape, 7, 4, 100), 0);   /* next epoch */
	assert_memory_not_equal(whole, other, sizeof whole);
	/* different positions in one batch get different draws */
	assert_memory_not_equal(whole, whole + H * W, H * W * sizeof(float));
}

static void shifts_move_the_blob_by_at_most_the_shift(void **state)
{
	(void)state;
	struct augment_config a = { .enabled = true, .shift = 3 };
	float x[64 * H * W];
	blobs(x, 64);
	double moved = 0;
	for (int i = 0; i < 64; i++) {
		double mass, cy, cx;
		moments(x + i * H * W, &mass, &cy, &cx);
		moved += fabs(cy - 13.5) + fabs(cx - 13.5);
	}
	assert_int_equal(augment_batch(&a, x, 64, shape, 1, 1, 0), 0);
	moved = 0;
	for (int i = 0; i < 64; i++) {
		double mass, cy, cx;
		moments(x + i * H * W, &mass, &cy, &cx);
		assert_true(fabs(mass - 36) < 1e-3);   /* bilinear shifts keep the mass */
		assert_true(fabs(cy - 13.5) <= 3 + 1e-6);
		assert_true(fabs(cx - 13.5) <= 3 + 1e-6);
		moved += fabs(cy - 13.5) + fabs(cx - 13.5);
	}
	assert_true(moved / 64 > 1.0);   /* uniform in [-3, 3]: mean |dy| + |dx| is 3 */
}

static void rotation_and_scale_keep_the_centre(void **state)
{
	(void)state;
	struct augment_config a = { .enabled = true, .rotation = 30, .scale = 0.15 };
	float x[16 * H * W];
	blobs(x, 16);
	assert_int_equal(augment_batch(&a, x, 16, shape, 5, 1, 0), 0);
	for (int i = 0; i < 16; i++) {
		double mass, cy, cx;
		moments(x + i * H * W, &mass, &cy, &cx);
		assert_true(fabs(cy - 13.5) < 0.05 && fabs(cx - 13.5) < 0.05);
		/* area scales by s^2 with s in [0.85, 1.15] */
		assert_true(mass > 36 * 0.85 * 0.85 - 1 && mass < 36 * 1.15 * 1.15 + 1);
	}
}

static void config_is_checked(void **state)
{
	(void)state;
	const char *text = "train: {augment: {shift: 2, rotate: 10}}\n";
	struct cfg_doc doc;
	struct augment_config a;
	struct cnn_error err;
	char msg[512];
	assert_int_equal(cfg_load_string(text, strlen(text), "t.yaml", &doc, &err), 0);
	assert_int_equal(augment_config_read(cfg_get(doc.root, "train"), &a, &err), -1);
	assert_string_equal(cnn_error_str(&err, msg, sizeof msg),
	                    "t.yaml:1:29: augment: unknown key 'rotate'; known keys: shift, rotation, scale, flip, crop_padding");
	cfg_free(&doc);
}

/* A 2-channel 3x4 image of distinct values, built by hand. */
enum { CH = 2, IH = 3, IW = 4 };
static const struct shape small = { CH, IH, IW };

static void hand_image(float *x)
{
	for (int i = 0; i < CH * IH * IW; i++)
		x[i] = (float)(i + 1);
}

static void hand_images(float *x, int m)
{
	for (int i = 0; i < m; i++)
		hand_image(x + i * CH * IH * IW);
}

/* img(c, y, x) = orig(c, y + dy, x + dx), zero outside, bit for bit. */
static bool is_shift_of(const float *img, const float *orig, int dy, int dx)
{
	bool match = true;
	for (int c = 0; c < CH; c++)
		for (int y = 0; y < IH; y++)
			for (int xx = 0; xx < IW; xx++) {
				int sy = y + dy, sx = xx + dx;
				float want = sy >= 0 && sy < IH && sx >= 0 && sx < IW
				             ? orig[(c * IH + sy) * IW + sx] : 0.0f;
				match &= !memcmp(&img[(c * IH + y) * IW + xx], &want, sizeof want);
			}
	return match;
}

/* Flip alone: each image is itself or its mirror, by hand; over 64 images
 * both happen, and every channel of an image goes the same way. */
static void flip_mirrors_some_images(void **state)
{
	(void)state;
	struct augment_config a = { .enabled = true, .flip = true };
	enum { M = 64 };
	float x[M * CH * IH * IW], scratch[IH * IW], orig[CH * IH * IW], mirror[CH * IH * IW];
	hand_image(orig);
	for (int c = 0; c < CH; c++)
		for (int y = 0; y < IH; y++)
			for (int xx = 0; xx < IW; xx++)
				mirror[(c * IH + y) * IW + xx] = orig[(c * IH + y) * IW + IW - 1 - xx];
	hand_images(x, M);
	augment_images(&a, x, M, small, 5, 1, 0, scratch);
	int flipped = 0;
	for (int i = 0; i < M; i++) {
		const float *img = x + i * CH * IH * IW;
		bool same = !memcmp(img, orig, sizeof orig), mirrored = !memcmp(img, mirror, sizeof mirror);
		assert_true(same || mirrored);
		flipped += mirrored;
	}
	assert_true(flipped > 16 && flipped < 48);
}

/* Crop alone: each image is the hand image moved by one (dy, dx) within
 * the padding, zeros where it came from outside; every offset turns up. */
static void crop_shifts_within_the_padding(void **state)
{
	(void)state;
	struct augment_config a = { .enabled = true, .crop_padding = 1 };
	enum { M = 200 };
	float x[M * CH * IH * IW], scratch[IH * IW], orig[CH * IH * IW];
	int seen[3][3] = { { 0 } };
	hand_image(orig);
	hand_images(x, M);
	augment_images(&a, x, M, small, 9, 2, 40, scratch);
	for (int i = 0; i < M; i++) {
		const float *img = x + i * CH * IH * IW;
		int found = 0;
		for (int dy = -1; dy <= 1; dy++)
			for (int dx = -1; dx <= 1; dx++) {
				if (is_shift_of(img, orig, dy, dx)) {
					seen[dy + 1][dx + 1]++;
					found++;
				}
			}
		assert_int_equal(found, 1);
	}
	for (int dy = 0; dy < 3; dy++)
		for (int dx = 0; dx < 3; dx++)
			assert_true(seen[dy][dx] > 0);
	/* stateless: the same positions give the same images */
	float again[M * CH * IH * IW];
	hand_images(again, M);
	augment_images(&a, again, M, small, 9, 2, 40, scratch);
	assert_memory_equal(x, again, sizeof x);
}

/* Crops wider than the image: rows and columns wholly outside are zeros. */
static void crops_past_the_edge_are_zeros(void **state)
{
	(void)state;
	struct augment_config a = { .enabled = true, .crop_padding = 5 };
	enum { M = 300 };
	float x[M * CH * IH * IW], scratch[IH * IW], orig[CH * IH * IW];
	int blank = 0;
	hand_image(orig);
	hand_images(x, M);
	augment_images(&a, x, M, small, 3, 1, 0, scratch);
	for (int i = 0; i < M; i++) {
		const float *img = x + i * CH * IH * IW;
		bool found = false;
		for (int dy = -5; dy <= 5 && !found; dy++)
			for (int dx = -5; dx <= 5 && !found; dx++)
				found = is_shift_of(img, orig, dy, dx);
		assert_true(found);
		float zeros[CH * IH * IW] = { 0 };
		blank += !memcmp(img, zeros, sizeof zeros);
	}
	assert_true(blank > 0 && blank < M);   /* some moved wholly out, some not */
}

/* A plane of distinct values, negative ones too (standardised inputs). */
static void ramp(float *p, int h, int w)
{
	for (int i = 0; i < h * w; i++)
		p[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
}

/* Whole-pixel translations are the plane moved, zeros filled in: exactly. */
static void whole_pixel_translation_is_a_copy(void **state)
{
	(void)state;
	enum { PH = 7, PW = 9 };
	float in[PH * PW], out[PH * PW];
	ramp(in, PH, PW);
	for (int ty = -8; ty <= 8; ty++)
		for (int tx = -10; tx <= 10; tx++) {
			augment_translate(in, out, PH, PW, ty, tx);
			for (int y = 0; y < PH; y++)
				for (int x = 0; x < PW; x++) {
					int sy = y - ty, sx = x - tx;
					float want = sy >= 0 && sy < PH && sx >= 0 && sx < PW ? in[sy * PW + sx] : 0.0f;
					assert_memory_equal(&out[y * PW + x], &want, sizeof want);
				}
		}
}

/* Fractional translations against bilinear interpolation written out
 * directly, in double: equal to float rounding, edges included. */
static double reference_pixel(const float *in, int h, int w, double sy, double sx)
{
	int y0 = (int)floor(sy), x0 = (int)floor(sx);
	double v = 0;
	for (int dy = 0; dy <= 1; dy++)
		for (int dx = 0; dx <= 1; dx++) {
			int yy = y0 + dy, xx = x0 + dx;
			if (yy >= 0 && yy < h && xx >= 0 && xx < w)
				v += (dy ? sy - y0 : 1 - (sy - y0)) * (dx ? sx - x0 : 1 - (sx - x0)) * in[yy * w + xx];
		}
	return v;
}

static void fractional_translation_is_bilinear(void **state)
{
	(void)state;
	enum { PH = 6, PW = 11 };
	static const double offsets[] = { -7.5, -1, -0.999, -0.25, 0, 0.001, 0.5, 0.75, 1.3, 5.9, 12 };
	float in[PH * PW], out[PH * PW];
	ramp(in, PH, PW);
	for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++)
		for (size_t j = 0; j < sizeof offsets / sizeof *offsets; j++) {
			double ty = offsets[i], tx = offsets[j];
			augment_translate(in, out, PH, PW, ty, tx);
			for (int y = 0; y < PH; y++)
				for (int x = 0; x < PW; x++) {
					double want = reference_pixel(in, PH, PW, y - ty, x - tx);
					assert_true(fabs(out[y * PW + x] - want) <= 1e-6);
				}
		}
}

/* The shift-only images `make run` trains on, pinned: a change of their
 * bits changes configs/mnist.yaml's figures and must be deliberate. */
static void shift_bits_are_pinned(void **state)
{
	(void)state;
	struct augment_config a = { .enabled = true, .shift = 1 };
	enum { M = 16 };
	float x[M * H * W], whole[M * H * W], scratch[H * W];
	for (int i = 0; i < M; i++)
		ramp(x + i * H * W, H, W);
	memcpy(whole, x, sizeof x);
	augment_images(&a, x, M, shape, 1, 3, 5000, scratch);
	assert_int_equal(fnv1a_bytes(FNV1A_OFFSET, x, sizeof x), UINT64_C(0xa692333cecac941d));
	/* and split across two calls (two threads' shares), the same */
	augment_images(&a, whole, 5, shape, 1, 3, 5000, scratch);
	augment_images(&a, whole + 5 * H * W, M - 5, shape, 1, 3, 5005, scratch);
	assert_memory_equal(x, whole, sizeof x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(disabled_leaves_images_alone),
		cmocka_unit_test(same_seed_same_images_whatever_the_split),
		cmocka_unit_test(shifts_move_the_blob_by_at_most_the_shift),
		cmocka_unit_test(rotation_and_scale_keep_the_centre),
		cmocka_unit_test(config_is_checked),
		cmocka_unit_test(flip_mirrors_some_images),
		cmocka_unit_test(crop_shifts_within_the_padding),
		cmocka_unit_test(crops_past_the_edge_are_zeros),
		cmocka_unit_test(whole_pixel_translation_is_a_copy),
		cmocka_unit_test(fractional_translation_is_bilinear),
		cmocka_unit_test(shift_bits_are_pinned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
