/* The optimizer table and the generic parts: reading the config, the state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnn/optim.h"

extern const struct optim_ops optim_adam_ops, optim_sgd_ops;

static const struct optim_ops *const optimizers[] = { &optim_adam_ops, &optim_sgd_ops };
static const char *const optimizer_names[] = { "adam", "sgd", NULL };

int optim_config_read(struct cfg_node *map, struct optim_config *out, struct cnn_error *err)
{
	int kind;
	memset(out, 0, sizeof *out);
	if (cfg_enum(map, "type", CFG_REQUIRED, -1, optimizer_names, &kind, "optimizer", err))
		return -1;
	out->type = optimizer_names[kind];
	if (cfg_float(map, "lr", CFG_OPTIONAL, kind == 0 ? 1e-3 : 1e-2, 0, 10, &out->lr, "optimizer", err))
		return -1;
	if (out->lr <= 0)
		return cnn_errorf(err, cfg_get(map, "lr")->loc, "optimizer: 'lr' must be > 0, got %g", out->lr);
	if (kind == 0) {
		if (cfg_float(map, "beta1", CFG_OPTIONAL, 0.9, 0, 0.999999, &out->beta1, "adam", err) ||
		    cfg_float(map, "beta2", CFG_OPTIONAL, 0.999, 0, 0.99999999, &out->beta2, "adam", err) ||
		    cfg_float(map, "eps", CFG_OPTIONAL, 1e-8, 1e-30, 1, &out->eps, "adam", err))
			return -1;
	} else {
		if (cfg_float(map, "momentum", CFG_OPTIONAL, 0.0, 0, 0.999999, &out->momentum, "sgd", err))
			return -1;
	}
	return cfg_check_keys(map, out->type, err);
}

int optim_create(struct optim *o, const struct optim_config *cfg, size_t n, struct cnn_error *err)
{
	memset(o, 0, sizeof *o);
	for (size_t i = 0; i < sizeof optimizers / sizeof optimizers[0]; i++)
		if (!strcmp(optimizers[i]->type, cfg->type))
			o->ops = optimizers[i];
	if (!o->ops)
		return cnn_errorf_plain(err, "unknown optimizer '%s'", cfg->type);
	o->cfg = *cfg;
	o->n = n;
	size_t floats;
	if (!cnn_mul_size(n, (size_t)o->ops->n_states, &floats))
		return cnn_errorf_plain(err, "optimizer state size overflows");
	o->state = calloc(floats ? floats : 1, sizeof(float));
	if (!o->state)
		return cnn_errorf_plain(err, "out of memory for the optimizer state (%zu floats)", floats);
	return 0;
}

void optim_step(struct optim *o, float *w, const float *g)
{
	o->t++;
	o->ops->step(o, w, g);
}

void optim_free(struct optim *o)
{
	free(o->state);
	o->state = NULL;
}
