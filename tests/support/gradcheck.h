/* A finite-difference gradient checker for any struct layer, and a helper to
 * build a layer from an inline YAML mapping, shared by the layer tests.
 *
 * The loss is L = sum(y * r) for a fixed random r, so dL/dy = r is what
 * backward() is given. Every parameter and every input element is nudged by
 * +-eps (central difference, L summed in double) and the result compared with
 * backward's dw and dx under Caffe's scaled tolerance
 *   |numeric - analytic| <= tol * max(1, |numeric|, |analytic|).
 * Along the way it checks the gradient convention of layers/layer.h: dw is
 * accumulated into (it starts from a non-zero fill, subtracted afterwards), dx
 * is overwritten (it starts from garbage), and backward with dx == NULL gives
 * the same dw. Scratch is allocated per scratch_floats() and filled with
 * garbage, so a layer that relies on zeroed scratch fails. */
#ifndef CNN_GRADCHECK_H
#define CNN_GRADCHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "layers/layer.h"

struct gradcheck_opts {
	double eps;         /* finite-difference step; 0 means 1e-3 */
	double tol;         /* scaled tolerance; 0 means 1e-2 */
	uint64_t seed;      /* draws r, and x and w where they are not given */
	/* Skip elements where the one-sided differences disagree: the step
	 * crossed a kink (relu at 0, a maxpool tie), where no derivative exists. */
	bool skip_kinks;
};

struct gradcheck_result {
	int checked;        /* elements compared */
	int skipped;        /* elements skipped as kinks */
	int failed;         /* elements out of tolerance, and convention breaches */
	double max_err;     /* largest |numeric - analytic| / max(1, |numeric|, |analytic|) */
};

/* Checks layer l on a batch of n. x (n, in) and w (the layer's parameter run)
 * may be NULL: they are then drawn uniform in [-1, 1). Failures are printed to
 * stderr (the first few). Returns the number of failures, so 0 is a pass.
 * res may be NULL. */
int gradcheck_layer(const struct layer *l, int n, const float *x, const float *w,
                    const struct gradcheck_opts *opts, struct gradcheck_result *res);

/* The same for a layer of any number of inputs (multi-input layers: add,
 * concat): input k has shape in[k] and values x[k] (x or x[k] NULL: drawn).
 * Every element of every input is checked, and backward is also run with
 * every dx NULL. gradcheck_layer is this with one input, l->in. */
int gradcheck_layer_multi(const struct layer *l, int n, const struct shape *in,
                          const float *const *x, const float *w,
                          const struct gradcheck_opts *opts, struct gradcheck_result *res);

/* forward/backward through whichever interface l has (xs[0] and dxs[0] for
 * a single-input layer). */
void gradcheck_forward(const struct layer *l, const float *w, const float *const *xs, float *y,
                       int n, const struct layer_ctx *ctx);
void gradcheck_backward(const struct layer *l, const float *w, const float *const *xs,
                        const float *y, const float *dy, float *const *dxs, float *dw, int n,
                        const struct layer_ctx *ctx);

/* Total parameter floats of l, from its params(). */
size_t gradcheck_param_count(const struct layer *l);

/* Parses `yaml` (a flow mapping such as "{filters: 2, kernel_size: 3}") as the
 * file "test.yaml", calls create() and then cfg_check_keys(args, type), as the
 * builder does. On error *out is NULL, the layer is not leaked, and err->loc.file
 * is the static string "test.yaml", so it stays valid after the document is
 * freed. Returns 0 or -1. */
int gradcheck_make_layer(layer_create_fn create, const char *type, const char *yaml,
                         struct shape in, struct layer **out, struct cnn_error *err);
/* gradcheck_make_layer for a config the test expects to build: fails the
 * test with "YAML: the error" otherwise. */
struct layer *gradcheck_layer_or_fail(layer_create_fn create, const char *type, const char *yaml,
                                      struct shape in);
/* The same for a multi-input type, with n_in inputs described by in[]. */
int gradcheck_make_layer_multi(layer_create_multi_fn create, const char *type, const char *yaml,
                               const struct layer_input_ref *in, int n_in, struct layer **out,
                               struct cnn_error *err);

#endif
