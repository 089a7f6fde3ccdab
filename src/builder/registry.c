/* The layer registry: one line per type. Adding a layer means writing its
 * file in src/layers/ and adding its line here; nothing registers itself at
 * load time, so static linking cannot drop a type (Caffe #2159). */
#include <string.h>

#include "layers/layer.h"
#include "layers/layers.h"

static const struct layer_type registry[] = {
	{ "conv",    conv_create,    "2-D convolution: filters, kernel_size, stride, padding", NULL },
	{ "maxpool", maxpool_create, "max pooling: pool_size, stride", NULL },
	{ "dense",   dense_create,   "fully connected: units", NULL },
	{ "relu",    relu_create,    "y = max(0, x)", NULL },
	{ "flatten", flatten_create, "C x H x W -> C*H*W", NULL },
	{ "avgpool", avgpool_create, "average pooling: pool_size, stride", NULL },
	{ "global_avgpool", global_avgpool_create, "C x H x W -> C x 1 x 1, the mean of each plane", NULL },
	{ "leaky_relu", leaky_relu_create, "y = x if x > 0 else slope * x: slope", NULL },
	{ "tanh", tanh_create, "y = tanh(x)", NULL },
	{ "sigmoid", sigmoid_create, "y = 1 / (1 + exp(-x))", NULL },
	{ "dropout", dropout_create, "inverted dropout in training, identity in evaluation: rate", NULL },
	{ "batchnorm", batchnorm_create, "batch normalisation per channel or feature: momentum, eps", NULL },
	{ "add", NULL, "elementwise sum of two or more inputs of one shape: inputs", add_create },
	{ "concat", NULL, "inputs joined along channels (same height and width): inputs", concat_create },
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
