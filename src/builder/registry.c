/* The layer registry: one line per type. Adding a layer means writing its
 * file in src/layers/ and adding its line here; nothing registers itself at
 * load time, so static linking cannot drop a type (Caffe #2159). */
#include <string.h>

#include "cnn/layer.h"
#include "cnn/layers.h"

static const struct layer_type registry[] = {
	{ "conv",    conv_create,    "2-D convolution: filters, kernel_size, stride, padding" },
	{ "maxpool", maxpool_create, "max pooling: pool_size, stride" },
	{ "dense",   dense_create,   "fully connected: units" },
	{ "relu",    relu_create,    "y = max(0, x)" },
	{ "flatten", flatten_create, "C x H x W -> C*H*W" },
	{ "avgpool", avgpool_create, "average pooling: pool_size, stride" },
	{ "global_avgpool", global_avgpool_create, "C x H x W -> C x 1 x 1, the mean of each plane" },
	{ "leaky_relu", leaky_relu_create, "y = x if x > 0 else slope * x: slope" },
	{ "tanh", tanh_create, "y = tanh(x)" },
	{ "sigmoid", sigmoid_create, "y = 1 / (1 + exp(-x))" },
	{ "dropout", dropout_create, "inverted dropout in training, identity in evaluation: rate" },
	{ "batchnorm", batchnorm_create, "batch normalisation per channel or feature: momentum, eps" },
};

const struct layer_type *layer_type_find(const char *name)
{
	for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
		if (!strcmp(registry[i].name, name))
			return &registry[i];
	return NULL;
}

const struct layer_type *layer_types(int *count)
{
	*count = (int)(sizeof registry / sizeof registry[0]);
	return registry;
}
