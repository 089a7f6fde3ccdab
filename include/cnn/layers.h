/* The constructors of the built-in layer types, for the registry
 * (src/builder/registry.c) and for tests. Each has the layer_create_fn
 * signature: it reads its keys from `args` through the cfg getters, infers the
 * output shape from `in`, and allocates only its own struct. The builder
 * consumes `type` and `name` first, and calls cfg_check_keys() afterwards. */
#ifndef CNN_LAYERS_H
#define CNN_LAYERS_H

#include "cnn/layer.h"

/* y = W * x + b, W (filters, in.c, k, k); keys filters, kernel_size, stride,
 * padding (valid | same | N), algorithm (auto | im2col) */
int conv_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);
/* y = max over each pool_size x pool_size window; keys pool_size, stride */
int maxpool_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);
/* y = W x + b over the flattened input, W (units, in); key units */
int dense_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);
/* y = max(0, x) */
int relu_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);
/* y = x, reshaped to (c*h*w, 1, 1) */
int flatten_create(struct cfg_node *args, struct shape in, struct layer **out, struct cnn_error *err);

#endif
