/* The allocation shared by layer types that hold nothing of their own. */
#include <stdlib.h>

#include "layers/layer.h"

int layer_new_plain(const struct layer_ops *ops, struct shape in, struct shape out_shape,
                    struct cnn_loc at, struct layer **out, struct cnn_error *err)
{
	struct layer *l = calloc(1, sizeof(*l));
	if (!l)
		return cnn_errorf(err, at, "%s: out of memory", ops->type);
	l->ops = ops;
	l->in = in;
	l->out = out_shape;
	*out = l;
	return 0;
}

double layer_density_same(const struct layer *l, double dy_density)
{
	(void)l;
	return dy_density;
}

void layer_free_plain(struct layer *l)
{
	free(l);
}
