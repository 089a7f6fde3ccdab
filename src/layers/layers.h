/* The constructors of the built-in layer types, for the registry
 * (src/builder/registry.c) and for tests. Each has the layer_create_fn
 * signature: it reads its keys from `args` through the cfg getters, infers the
 * output shape from `in`, and allocates only its own struct. The builder
 * consumes `type` and `name` first, and calls cfg_check_keys() afterwards. */
#ifndef CNN_LAYERS_H
#define CNN_LAYERS_H

#include "layers/layer.h"

/* y = W * x + b, W (filters, in.c, k, k); keys filters, kernel_size, stride,
 * padding (valid | same | N), algorithm (auto | im2col | direct) */
int conv_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);
/* y = max over each pool_size x pool_size window; keys pool_size, stride */
int maxpool_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);
/* y = W x + b over the flattened input, W (units, in); key units */
int dense_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);
/* y = max(0, x) */
int relu_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);
/* relu's two loops (src/layers/relu.c), for the layers that fuse it
 * (layer.relu_out): y[i] = relu_value(y[i]) in place, and relu's
 * backward dx[i] = y[i] > 0 ? dy[i] : 0 (dx may be dy). */
void relu_apply(float *y, size_t count);
void relu_mask(const float *y, const float *dy, float *dx, size_t count);
/* y = x, reshaped to (c*h*w, 1, 1) */
int flatten_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);
/* y = mean over each pool_size x pool_size window; keys pool_size, stride */
int avgpool_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);
/* y[c] = mean over the whole h x w plane of channel c: (c, h, w) -> (c, 1, 1) */
int global_avgpool_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);
/* y = x if x > 0 else slope * x; key slope in [0, 1), default 0.01 */
int leaky_relu_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);
/* y = tanh(x) */
int tanh_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);
/* y = 1 / (1 + exp(-x)) */
int sigmoid_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);
/* training: y = x * m / (1 - rate), m ~ Bernoulli(1 - rate) per element,
 * hashed from (step, layer, sample, element); evaluation: y = x. Key rate in
 * [0, 1), required */
int dropout_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);
/* y = gamma * (x - mean) / sqrt(var + eps) + beta per channel (feature):
 * batch statistics in training (each thread's chunk), running ones in
 * evaluation; keys momentum (default 0.1), eps (default 1e-5) */
int batchnorm_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);

/* Multi-input layers (layer_create_multi_fn), 2 to LAYER_MAX_INPUTS inputs. */
/* y = x_0 + x_1 + ..., inputs of one shape; no keys */
int add_create(struct cfg_node *args, const struct layer_input_ref *in, int n_in,
               struct layer **out, struct cnn_error *err);
/* y = [x_0; x_1; ...] along channels, inputs of one height and width; no keys */
int concat_create(struct cfg_node *args, const struct layer_input_ref *in, int n_in,
                  struct layer **out, struct cnn_error *err);

#endif
