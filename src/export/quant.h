/* Post-training int8 quantisation for the C export (quant.c).
 *
 *   weights: per output channel, symmetric: w = s_w[f] * q, q in [-127, 127]
 *   activations: per tensor, symmetric: x = s_x * q, q in [-127, 127], s_x
 *     from the largest |x| seen on calibration images (max calibration)
 *   conv, dense: int32 accumulators over q_w * q_x plus an int32 bias
 *     (b / (s_x s_w)), brought to the output scale by a fixed-point
 *     multiplier (31 bits) and a right shift, rounded half away from zero
 *   batchnorm: folded into the conv or dense before it (weights and bias)
 *     when it directly follows one, else a per-channel affine map done the
 *     same way (a 1x1 depthwise "conv" with one weight per channel)
 *   relu, maxpool, avgpool, global_avgpool: on the int8 values, the scale
 *     unchanged (average: integer sum, divided with rounding)
 *   leaky_relu, tanh, sigmoid: a 256-entry table from input to output code
 *   add: each input rescaled to the output scale (a multiplier and shift
 *     per input, rounded, not clamped), summed in int32, clamped once
 *   concat: each input requantised to the output scale (the largest |x|
 *     of the concatenation), copied to its place
 *   a folded batchnorm or a scale taken after a relu only when that layer
 *     is the sole reader of the conv's (or dense's, add's...) output
 *   the logits: dequantised to float, then softmax as in the float model.
 * The generated code (c_source.c) does exactly the integer arithmetic of
 * quant_predict below, so the accuracy printed is the exported code's. */
#ifndef CNN_EXPORT_QUANT_H
#define CNN_EXPORT_QUANT_H

#include <stdint.h>

#include "data/data.h"
#include "export/export.h"

enum qop { Q_CONV, Q_DENSE, Q_AFFINE, Q_RELU, Q_MAXPOOL, Q_AVGPOOL, Q_GLOBAL_AVGPOOL, Q_TABLE, Q_ADD, Q_CONCAT,
           Q_ALIAS };

/* One int8 step: layer `layer` of the float network (with a folded
 * batchnorm, the batchnorm's index is `folded`, else -1). */
struct qstep {
	enum qop op;
	int layer, folded;
	int n_in;               /* 1, or 2.. for add and concat */
	int in[LAYER_MAX_INPUTS]; /* the steps whose outputs it reads, -1: the quantised input */
	struct shape in_shape, out_shape;
	struct layer_attrs a;   /* conv: window, stride, padding; pools: window, stride */
	int8_t *w;              /* conv (out, in, k, k), dense (out, in), affine (c): int8 weights */
	int32_t *bias;          /* (out) in units of s_in * s_w[f] */
	int32_t *mult;          /* (out): the output multiplier in Q31; add, concat: (n_in), input k's */
	int8_t *shift;          /* (out): right shift after the Q31 product, 31 + e; add, concat: (n_in) */
	int8_t table[256];      /* Q_TABLE: output code for input code - (-128) */
	float scale;            /* of this step's output */
};

struct quant_model {
	int n;
	struct qstep *steps;    /* [n] */
	float in_scale;         /* of the quantised input */
	int n_classes;
	struct shape input;
	double norm_scale[DATA_MAX_CHANNELS], norm_offset[DATA_MAX_CHANNELS]; /* (input.c) the float
	                                 * model's normalisation, per channel */
};

/* Quantises m's network, calibrating activations on the first `count`
 * images of calib (already normalised as the model was trained); net is
 * m->net, which the calibration runs. */
int quant_build(const struct export_model *m, struct net *net, const struct dataset *calib,
                int count, struct quant_model **out, struct cnn_error *err);
void quant_free(struct quant_model *q);

/* The int8 model on one image of raw pixel values (C*H*W floats 0..255):
 * the class probabilities, as the generated NAME_predict computes them. */
void quant_predict(const struct quant_model *q, const float *pixels, float *probs);

/* Accuracy of the int8 model on d (its raw pixel bytes; the model
 * normalises them itself). */
double quant_accuracy(const struct quant_model *q, const struct dataset *d);

/* The requantisation both quant.c and the generated code use:
 * clamp(round(acc * mult * 2^-shift), -127, 127). */
int8_t quant_requant(int32_t acc, int32_t mult, int shift);

/* round(v * mult * 2^-shift), half away from zero, not clamped (add). */
int32_t quant_rescale(int32_t v, int32_t mult, int shift);

#endif
