/* Run-time CPU dispatch of the kernels (see kernels/dispatch.h).
 *
 * This file is compiled for the x86-64 baseline like everything outside the
 * kernels: it must run on any CPU to find out what the CPU has. The choice
 * is made once, on first use or when main calls cnn_kernels_select(), and
 * kept in an atomic pointer: two threads racing to make it compute the same
 * table (the CPU and the environment do not change), so whichever store
 * lands, every caller sees one table for the life of the process. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv_backward.h"
#include "kernels/conv_winograd.h"
#include "kernels/kernels.h"
#include "kernels/dispatch.h"
#include "kernels/pool2.h"

#define KERNELS_TABLE(sfx) {                                                 \
		#sfx, conv_direct_vectorised_##sfx, conv_direct_scratch_floats_##sfx, \
		conv_direct_forward_##sfx, conv_direct_backward_##sfx, im2col_##sfx,  \
		col2im_##sfx, im2col_ld_##sfx, adam_range_##sfx,                        \
		tanh_range_##sfx, sigmoid_range_##sfx, &bn_kernels_##sfx,               \
		conv_bwd_dw_##sfx, conv_bwd_transpose_##sfx, conv_bwd_bias_##sfx,       \
		conv_bwd_col2im_s1_##sfx, conv_bwd_dx_s1_##sfx,                      \
		pool2_forward_##sfx, pool2_backward_##sfx,                              \
		conv_winograd_forward_##sfx,                                            \
	}

static const struct cnn_kernel_ops kernels_baseline = KERNELS_TABLE(baseline);
#ifdef CNN_KERNELS_AVX2
static const struct cnn_kernel_ops kernels_avx2 = KERNELS_TABLE(avx2);
#endif
#ifdef CNN_KERNELS_AVX512
static const struct cnn_kernel_ops kernels_avx512 = KERNELS_TABLE(avx512);
#endif

const char *const cnn_isa_names[CNN_ISA_LEVELS] = { "baseline", "avx2", "avx512" };

/* Each level's table in this build (NULL: not compiled, e.g. on ARM). */
static const struct cnn_kernel_ops *const level_ops[CNN_ISA_LEVELS] = {
	&kernels_baseline,
#ifdef CNN_KERNELS_AVX2
	&kernels_avx2,
#else
	NULL,
#endif
#ifdef CNN_KERNELS_AVX512
	&kernels_avx512,
#else
	NULL,
#endif
};

/* What each level needs from the CPU, for messages. */
static const char *const level_needs[CNN_ISA_LEVELS] = {
	"", "AVX2, FMA, BMI1/2 and POPCNT", "AVX2, FMA, BMI1/2, POPCNT and AVX-512 F/BW/DQ/VL",
};

/* Bit i: the CPU (and the OS, which must save the wide registers: libgcc's
 * checks include that) can run level i's code. */
static unsigned cpu_levels(void)
{
	unsigned levels = 1u << 0;

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
	    __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
	    __builtin_cpu_supports("popcnt"))
		levels |= 1u << 1;
	if ((levels >> 1 & 1) && __builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
	    __builtin_cpu_supports("avx512vl"))
		levels |= 1u << 2;
#endif
	return levels;
}

static int widest(unsigned levels)
{
	int best = 0;

	for (int i = 0; i < CNN_ISA_LEVELS; i++)
		if ((levels >> i & 1) && level_ops[i])
			best = i;
	return best;
}

int cnn_isa_choose(const char *want, unsigned cpu, int *level, struct cnn_error *err)
{
	char known[64] = "";

	if (!want || !*want) {
		*level = widest(cpu);
		return 0;
	}
	for (int i = 0; i < CNN_ISA_LEVELS; i++) {
		if (strcmp(want, cnn_isa_names[i]))
			continue;
		if (!level_ops[i])
			return cnn_errorf_plain(err, "CNN_ISA=%s: this build has no %s kernels "
			                        "(they are compiled on x86-64 only)", want, want);
		if (!(cpu >> i & 1))
			return cnn_errorf_plain(err, "CNN_ISA=%s: this CPU cannot run them (they need %s)",
			                        want, level_needs[i]);
		*level = i;
		return 0;
	}
	for (int i = 0; i < CNN_ISA_LEVELS; i++)
		if (level_ops[i])
			snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
			         *known ? ", " : "", cnn_isa_names[i]);
	return cnn_errorf_plain(err, "CNN_ISA: unknown level '%s' (this build has: %s)", want, known);
}

static _Atomic(const struct cnn_kernel_ops *) chosen;

/* The table CNN_ISA asks for, or the widest one if it asks for nothing or
 * for something impossible (err says what). */
static const struct cnn_kernel_ops *choose(struct cnn_error *err)
{
	int level;

	if (cnn_isa_choose(getenv("CNN_ISA"), cpu_levels(), &level, err))
		level = widest(cpu_levels());
	return level_ops[level];
}

const struct cnn_kernel_ops *cnn_kernels(void)
{
	const struct cnn_kernel_ops *k = atomic_load_explicit(&chosen, memory_order_acquire);

	if (!k) {
		k = choose(NULL);
		atomic_store_explicit(&chosen, k, memory_order_release);
	}
	return k;
}

int cnn_kernels_select(struct cnn_error *err)
{
	struct cnn_error e = { 0 };
	const struct cnn_kernel_ops *k = choose(&e);

	if (e.msg[0]) {
		if (err)
			*err = e;
		return -1;
	}
	atomic_store_explicit(&chosen, k, memory_order_release);
	return 0;
}

const struct cnn_kernel_ops *cnn_kernels_level(const char *name)
{
	int level = 0;

	if (!name || !*name || cnn_isa_choose(name, cpu_levels(), &level, NULL))
		return NULL;
	return level_ops[level];
}

const char *cnn_kernels_name(void)
{
	return cnn_kernels()->name;
}

const char *cnn_kernels_describe(char *buf, size_t len)
{
	const char *forced = getenv("CNN_ISA");
	const char *name = cnn_kernels_name();
	const char *cpu = cnn_isa_names[widest(cpu_levels())];

	if (forced && *forced && !strcmp(forced, name))
		snprintf(buf, len, "%s (forced by CNN_ISA; the widest this CPU runs: %s)", name, cpu);
	else
		snprintf(buf, len, "%s (the widest this CPU runs; CNN_ISA=baseline forces the portable ones)",
		         name);
	return buf;
}

/* The layers and optimizers call these names. */

bool conv_direct_vectorised(const struct conv_geom *g)
{
	return cnn_kernels()->conv_direct_vectorised(g);
}

size_t conv_direct_scratch_floats(const struct conv_geom *g)
{
	return cnn_kernels()->conv_direct_scratch_floats(g);
}

void conv_direct_forward(const struct conv_geom *g, const float *w, const float *b,
                         const float *x, float *y, int n, float *scratch)
{
	cnn_kernels()->conv_direct_forward(g, w, b, x, y, n, scratch);
}

void conv_direct_backward(const struct conv_geom *g, const float *w, const float *x,
                          const float *dy, float *dx, float *dw, float *db, int n,
                          float *scratch)
{
	cnn_kernels()->conv_direct_backward(g, w, x, dy, dx, dw, db, n, scratch);
}

void im2col(const float *x, int c, int h, int w, int k, int stride, int pad_top, int pad_left,
            int oh, int ow, float *col)
{
	cnn_kernels()->im2col(x, c, h, w, k, stride, pad_top, pad_left, oh, ow, col);
}

void col2im(const float *col, int c, int h, int w, int k, int stride, int pad_top, int pad_left,
            int oh, int ow, float *dx)
{
	cnn_kernels()->col2im(col, c, h, w, k, stride, pad_top, pad_left, oh, ow, dx);
}

void conv_bwd_dw(const struct conv_bwd_geom *g, const float *xp, const float *dyT, float *dwT)
{
	cnn_kernels()->conv_bwd_dw(g, xp, dyT, dwT);
}

void conv_bwd_transpose(const float *a, int rows, int cols, float *t)
{
	cnn_kernels()->conv_bwd_transpose(a, rows, cols, t);
}

void conv_bwd_bias(const float *dyT, int ohw, int filters, float *db)
{
	cnn_kernels()->conv_bwd_bias(dyT, ohw, filters, db);
}

void conv_bwd_col2im_s1(const float *dcol, size_t ld, int c, int h, int w, int k, int pad_top,
                        int pad_left, int oh, int ow, float *dx)
{
	cnn_kernels()->conv_bwd_col2im_s1(dcol, ld, c, h, w, k, pad_top, pad_left, oh, ow, dx);
}

bool conv_bwd_dx_s1(const struct conv_bwd_dx_geom *g, const float *w, const float *dy, float *dx,
                    float *dyp)
{
	return cnn_kernels()->conv_bwd_dx_s1(g, w, dy, dx, dyp);
}

void im2col_ld(const float *x, int c, int h, int w, int k, int stride, int pad_top,
               int pad_left, int oh, int ow, float *col, size_t ld)
{
	cnn_kernels()->im2col_ld(x, c, h, w, k, stride, pad_top, pad_left, oh, ow, col, ld);
}

void pool2_forward(const float *x, int h, int w, float *y, int oh, int ow, size_t planes,
                   bool relu)
{
	cnn_kernels()->pool2_forward(x, h, w, y, oh, ow, planes, relu);
}

void pool2_backward(const float *x, int h, int w, const float *y, const float *dy, float *dx,
                    int oh, int ow, size_t planes, bool relu)
{
	cnn_kernels()->pool2_backward(x, h, w, y, dy, dx, oh, ow, planes, relu);
}

void conv_winograd_forward(const struct conv_geom *g, const float *w, const float *b,
                           const float *x, float *y, int n, float *scratch,
                           const float *filters, unsigned fold)
{
	cnn_kernels()->conv_winograd_forward(g, w, b, x, y, n, scratch, filters, fold);
}
