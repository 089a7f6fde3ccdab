/* Augmentation: deterministic for a seed, independent of how a batch is
 * split, different across epochs and positions, and a plausible geometry
 * (a blob moves by at most the shift and keeps its mass). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "cnn/augment.h"

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
	struct augment_config a = { true, 2, 15, 0.1 };
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
	struct augment_config a = { true, 3, 0, 0 };
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
	struct augment_config a = { true, 0, 30, 0.15 };
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
	                    "t.yaml:1:29: augment: unknown key 'rotate'; known keys: shift, rotation, scale");
	cfg_free(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(disabled_leaves_images_alone),
		cmocka_unit_test(same_seed_same_images_whatever_the_split),
		cmocka_unit_test(shifts_move_the_blob_by_at_most_the_shift),
		cmocka_unit_test(rotation_and_scale_keep_the_centre),
		cmocka_unit_test(config_is_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
