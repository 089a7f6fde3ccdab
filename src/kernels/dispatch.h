/* The kernels' run-time dispatch: one const table of function pointers per
 * instruction-set level, and the one chosen for this CPU (dispatch.c).
 * Internal to the library: the layers and the optimizers call the plain
 * names (conv_direct_forward, im2col, ...), which go through the table.
 *
 * Adding a level (as avx512 was): a src/kernels/<level>/ folder of wrappers,
 * its flags in cmake/isa_kernels.cmake, CNN_ISA_<LEVEL> in isa.h, its CPU
 * test and table in dispatch.c. A level may reuse the level below's
 * function for any kernel that does not pay at its width. */
#ifndef CNN_KERNELS_DISPATCH_H
#define CNN_KERNELS_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/bn_lanes.h"
#include "kernels/conv_backward.h"
#include "kernels/conv_direct.h"
#include "util/error.h"

/* One Adam update's coefficients (src/optim/adam.c works them out). */
struct adam_coef {
	float b1, b2, c1, c2, step, eps;   /* c1 = 1 - b1, c2 = 1 - b2 */
	float l2;                          /* adam: weight_decay, added to g */
	float decay;                       /* adamw: lr * weight_decay */
};

struct cnn_kernel_ops {
	const char *name;   /* the level, as CNN_ISA spells it */
	bool (*conv_direct_vectorised)(const struct conv_geom *g);
	size_t (*conv_direct_scratch_floats)(const struct conv_geom *g);
	void (*conv_direct_forward)(const struct conv_geom *g, const float *w, const float *b,
	                            const float *x, float *y, int n, float *scratch);
	void (*conv_direct_backward)(const struct conv_geom *g, const float *w, const float *x,
	                             const float *dy, float *dx, float *dw, float *db, int n,
	                             float *scratch);
	void (*im2col)(const float *x, int c, int h, int w, int k, int stride, int pad_top,
	               int pad_left, int oh, int ow, float *col);
	void (*col2im)(const float *col, int c, int h, int w, int k, int stride, int pad_top,
	               int pad_left, int oh, int ow, float *dx);
	void (*im2col_ld)(const float *x, int c, int h, int w, int k, int stride, int pad_top,
	                  int pad_left, int oh, int ow, float *col, size_t ld);
	/* w, m, v [lo, hi) take one Adam step with gradient g; the same bits at
	 * every level (the same operations in the same order, no FMA) */
	void (*adam_range)(const struct adam_coef *k, float *w, const float *g, float *m, float *v,
	                   size_t lo, size_t hi);
	/* y[0, count) = tanh, sigmoid of x[0, count); the same bits at every level */
	void (*tanh_range)(const float *x, float *y, size_t count);
	void (*sigmoid_range)(const float *x, float *y, size_t count);
	/* batchnorm's loops (kernels/bn_lanes.h); the same bits at every level */
	const struct bn_kernels *bn;
	/* the im2col convolution's backward pass around its GEMMs
	 * (kernels/conv_backward.h); the same bits at every level */
	void (*conv_bwd_dw)(const struct conv_bwd_geom *g, const float *xp, const float *dyT,
	                    float *dwT);
	void (*conv_bwd_transpose)(const float *a, int rows, int cols, float *t);
	void (*conv_bwd_bias)(const float *dyT, int ohw, int filters, float *db);
	void (*conv_bwd_col2im_s1)(const float *dcol, size_t ld, int c, int h, int w, int k,
	                           int pad_top, int pad_left, int oh, int ow, float *dx);
	bool (*conv_bwd_dx_s1)(const struct conv_bwd_dx_geom *g, const float *w, const float *dy,
	                       float *dx, float *dyp);
	/* 2x2/2 max-pooling (kernels/pool2.h); the same bits at every level */
	void (*pool2_forward)(const float *x, int h, int w, float *y, int oh, int ow,
	                      size_t planes, bool relu);
	void (*pool2_backward)(const float *x, int h, int w, const float *y, const float *dy,
	                       float *dx, int oh, int ow, size_t planes, bool relu);
	/* the Winograd F(2x2, 5x5) forward (kernels/conv_winograd.h); the same
	 * bits at every level */
	void (*conv_winograd_forward)(const struct conv_geom *g, const float *w, const float *b,
	                              const float *x, float *y, int n, float *scratch,
	                              const float *filters, unsigned fold);
};

/* The table chosen for this process: CNN_ISA if set and valid, else the
 * widest level this CPU and this build have. Chosen on first use, never
 * changed after (the layers size their scratch by it). */
const struct cnn_kernel_ops *cnn_kernels(void);

/* A level's table by name, or NULL if this build or this CPU lacks it (for
 * tests that compare the levels in one process). */
const struct cnn_kernel_ops *cnn_kernels_level(const char *name);

/* Which levels exist, and the choice made from CNN_ISA's value (NULL or ""
 * for none) given the levels the CPU has (bit i: level i); fills *err and
 * returns -1 for an unknown name or a level the CPU lacks. Pure, for tests. */
#define CNN_ISA_LEVELS 3
extern const char *const cnn_isa_names[CNN_ISA_LEVELS];
int cnn_isa_choose(const char *want, unsigned cpu_levels, int *level, struct cnn_error *err);

/* Each level's functions, defined by the kernel sources compiled for it. */
#define CNN_KERNELS_DECLARE(sfx)                                                              \
	bool conv_direct_vectorised_##sfx(const struct conv_geom *g);                         \
	size_t conv_direct_scratch_floats_##sfx(const struct conv_geom *g);                   \
	void conv_direct_forward_##sfx(const struct conv_geom *g, const float *w,             \
	                               const float *b, const float *x, float *y, int n,       \
	                               float *scratch);                                       \
	void conv_direct_backward_##sfx(const struct conv_geom *g, const float *w,            \
	                                const float *x, const float *dy, float *dx, float *dw, \
	                                float *db, int n, float *scratch);                    \
	void im2col_##sfx(const float *x, int c, int h, int w, int k, int stride, int pad_top, \
	                  int pad_left, int oh, int ow, float *col);                          \
	void col2im_##sfx(const float *col, int c, int h, int w, int k, int stride,           \
	                  int pad_top, int pad_left, int oh, int ow, float *dx);              \
	void im2col_ld_##sfx(const float *x, int c, int h, int w, int k, int stride,          \
	                     int pad_top, int pad_left, int oh, int ow, float *col, size_t ld); \
	void adam_range_##sfx(const struct adam_coef *k, float *w, const float *g, float *m,  \
	                      float *v, size_t lo, size_t hi);                                \
	void tanh_range_##sfx(const float *x, float *y, size_t count);                        \
	void sigmoid_range_##sfx(const float *x, float *y, size_t count);                     \
	void conv_bwd_dw_##sfx(const struct conv_bwd_geom *g, const float *xp,                \
	                       const float *dyT, float *dwT);                                 \
	void conv_bwd_transpose_##sfx(const float *a, int rows, int cols, float *t);          \
	void conv_bwd_bias_##sfx(const float *dyT, int ohw, int filters, float *db);          \
	void conv_bwd_col2im_s1_##sfx(const float *dcol, size_t ld, int c, int h, int w, int k, \
	                              int pad_top, int pad_left, int oh, int ow, float *dx); \
	bool conv_bwd_dx_s1_##sfx(const struct conv_bwd_dx_geom *g, const float *w,           \
	                          const float *dy, float *dx, float *dyp);                    \
	void pool2_forward_##sfx(const float *x, int h, int w, float *y, int oh, int ow,      \
	                         size_t planes, bool relu);                                   \
	void pool2_backward_##sfx(const float *x, int h, int w, const float *y,               \
	                          const float *dy, float *dx, int oh, int ow, size_t planes,  \
	                          bool relu);                                                 \
	void conv_winograd_forward_##sfx(const struct conv_geom *g, const float *w,           \
	                                 const float *b, const float *x, float *y, int n,     \
	                                 float *scratch, const float *filters, unsigned fold);
CNN_KERNELS_DECLARE(baseline)
CNN_KERNELS_DECLARE(avx2)
CNN_KERNELS_DECLARE(avx512)

#endif
