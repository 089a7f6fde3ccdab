/* The optimizer table and the generic parts: reading the config, the state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnn/optim.h"

extern const struct optim_ops optim_adam_ops, optim_sgd_ops;

static const struct optim_ops *const optimizers[] = { &optim_adam_ops, &optim_sgd_ops };
static const char *const optimizer_names[] = { "adam", "sgd", NULL };

static const char *const schedule_names[] = { "constant", "step", "exponential", "cosine", NULL };

static int schedule_read(struct cfg_node *optimizer, struct optim_config *out, struct cnn_error *err)
{
	struct cfg_node *map;
	struct lr_schedule *s = &out->schedule;
	int kind;
	long step_epochs = 0;
	if (cfg_map(optimizer, "schedule", CFG_OPTIONAL, &map, "optimizer", err) ||
	    cfg_enum(map, "type", CFG_OPTIONAL, 0, schedule_names, &kind, "schedule", err) ||
	    cfg_float(map, "warmup_epochs", CFG_OPTIONAL, 0, 0, 10000, &s->warmup_epochs, "schedule", err))
		return -1;
	s->type = schedule_names[kind];
	s->gamma = 1;
	if (kind == 1 && (cfg_int(map, "step_epochs", CFG_REQUIRED, 0, 1, 1000000, &step_epochs, "schedule", err) ||
	                  cfg_float_positive(map, "gamma", CFG_OPTIONAL, 0.1, 1, &s->gamma, "schedule", err)))
		return -1;
	if (kind == 2 && cfg_float_positive(map, "gamma", CFG_REQUIRED, 0, 1, &s->gamma, "schedule", err))
		return -1;
	if (kind == 3 && cfg_float(map, "min_lr", CFG_OPTIONAL, 0, 0, out->lr, &s->min_lr, "schedule", err))
		return -1;
	s->step_epochs = (int)step_epochs;
	return cfg_check_keys(map, "schedule", err);
}

double lr_at(const struct optim_config *c, long step, long steps_per_epoch, long total)
{
	const struct lr_schedule *s = &c->schedule;
	double warmup = s->warmup_epochs * (double)steps_per_epoch;
	if (step < warmup)
		return c->lr * (double)(step + 1) / ceil(warmup);
	double epoch = (double)step / (double)steps_per_epoch;
	if (!strcmp(s->type, "step"))
		return c->lr * pow(s->gamma, floor(epoch / s->step_epochs));
	if (!strcmp(s->type, "exponential"))
		return c->lr * pow(s->gamma, epoch);
	if (!strcmp(s->type, "cosine")) {
		double span = (double)total - warmup;
		double progress = span > 0 ? ((double)step - warmup) / span : 1.0;
		return s->min_lr + (c->lr - s->min_lr) * 0.5 * (1.0 + cos(3.141592653589793 * progress));
	}
	return c->lr;
}

int optim_config_read(struct cfg_node *map, struct optim_config *out, struct cnn_error *err)
{
	int kind;
	memset(out, 0, sizeof *out);
	if (cfg_enum(map, "type", CFG_REQUIRED, -1, optimizer_names, &kind, "optimizer", err))
		return -1;
	out->type = optimizer_names[kind];
	if (cfg_float_positive(map, "lr", CFG_OPTIONAL, kind == 0 ? 1e-3 : 1e-2, 10, &out->lr, "optimizer", err))
		return -1;
	if (kind == 0) {
		if (cfg_float(map, "beta1", CFG_OPTIONAL, 0.9, 0, 0.999999, &out->beta1, "adam", err) ||
		    cfg_float(map, "beta2", CFG_OPTIONAL, 0.999, 0, 0.99999999, &out->beta2, "adam", err) ||
		    cfg_float(map, "eps", CFG_OPTIONAL, 1e-8, 1e-30, 1, &out->eps, "adam", err))
			return -1;
	} else {
		if (cfg_float(map, "momentum", CFG_OPTIONAL, 0.0, 0, 0.999999, &out->momentum, "sgd", err))
			return -1;
	}
	if (schedule_read(map, out, err))
		return -1;
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
