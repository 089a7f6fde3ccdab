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
	for (int i = 0; i < M; i++)
		hand_image(x + i * CH * IH * IW);
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
	for (int i = 0; i < M; i++)
		hand_image(x + i * CH * IH * IW);
	augment_images(&a, x, M, small, 9, 2, 40, scratch);
	for (int i = 0; i < M; i++) {
		const float *img = x + i * CH * IH * IW;
		int found = 0;
		for (int dy = -1; dy <= 1; dy++)
			for (int dx = -1; dx <= 1; dx++) {
				bool match = true;
				for (int c = 0; c < CH; c++)
					for (int y = 0; y < IH; y++)
						for (int xx = 0; xx < IW; xx++) {
							int sy = y + dy, sx = xx + dx;
							float want = sy >= 0 && sy < IH && sx >= 0 && sx < IW
							             ? orig[(c * IH + sy) * IW + sx] : 0.0f;
							match &= img[(c * IH + y) * IW + xx] == want;
						}
				if (match) {
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
	for (int i = 0; i < M; i++)
		hand_image(again + i * CH * IH * IW);
	augment_images(&a, again, M, small, 9, 2, 40, scratch);
	assert_memory_equal(x, again, sizeof x);
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
