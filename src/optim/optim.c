/* The optimizer table and the generic parts: reading the config, the state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/params.h"
#include "optim/optim.h"

extern const struct optim_ops optim_adam_ops, optim_adamw_ops, optim_sgd_ops;

static const struct optim_ops *const optimizers[] = { &optim_adam_ops, &optim_adamw_ops, &optim_sgd_ops };
enum { OPT_ADAM, OPT_ADAMW, OPT_SGD, OPT_COUNT };
static const char *const optimizer_names[] = { "adam", "adamw", "sgd", NULL };
_Static_assert(sizeof optimizers / sizeof optimizers[0] == OPT_COUNT, "one name per optimizer");
_Static_assert(sizeof optimizer_names / sizeof optimizer_names[0] == OPT_COUNT + 1, "one name per optimizer");

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

/* The steps run in single precision: a beta or momentum that rounds to 1
 * there would stop the moving averages (and Adam's second moment at 0 turns
 * every step into lr / eps). */
static int check_single_precision(struct cfg_node *map, const struct optim_config *c,
                                  struct cnn_error *err)
{
	static const char *const keys[] = { "beta1", "beta2", "momentum" };
	const double values[] = { c->beta1, c->beta2, c->momentum };
	for (int i = 0; i < 3; i++)
		if ((float)values[i] >= 1.0f)
			return cnn_errorf(err, cfg_get(map, keys[i])->loc,
			                  "%s: '%s' %.10g is 1 in single precision, where the step runs; "
			                  "use at most 0.9999999", c->type, keys[i], values[i]);
	return 0;
}

/* `--set optimizer.type=sgd` on an Adam config leaves Adam's keys behind:
 * say whose they are and how to replace the whole mapping. */
static int other_type_keys(struct cfg_node *map, int kind, struct cnn_error *err)
{
	static const struct {
		const char *key, *owner;
		bool sgd;
	} keys[] = {
		{ "beta1", "adam and adamw", false }, { "beta2", "adam and adamw", false },
		{ "eps", "adam and adamw", false }, { "momentum", "sgd", true }, { "nesterov", "sgd", true },
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (keys[i].sgd == (kind == OPT_SGD) || !cfg_peek(map, keys[i].key))
			continue;
		return cnn_errorf(err, cfg_key_loc(map, keys[i].key),
		                  "%s: '%s' belongs to %s, not %s; to change the optimizer's type from "
		                  "the command line, replace the whole mapping: --set 'optimizer={type: %s, lr: %g}'",
		                  optimizer_names[kind], keys[i].key, keys[i].owner, optimizer_names[kind],
		                  optimizer_names[kind], kind == OPT_SGD ? 1e-2 : 1e-3);
	}
	return 0;
}

int optim_config_read(struct cfg_node *map, struct optim_config *out, struct cnn_error *err)
{
	int kind;
	memset(out, 0, sizeof *out);
	if (cfg_enum(map, "type", CFG_REQUIRED, -1, optimizer_names, &kind, "optimizer", err))
		return -1;
	out->type = optimizer_names[kind];
	const char *what = out->type;
	if (cfg_float_positive(map, "lr", CFG_OPTIONAL, kind == OPT_SGD ? 1e-2 : 1e-3, 10, &out->lr, "optimizer", err))
		return -1;
	if (kind != OPT_SGD) {
		if (cfg_float_below(map, "beta1", CFG_OPTIONAL, 0.9, 0, 1, &out->beta1, what, err) ||
		    cfg_float_below(map, "beta2", CFG_OPTIONAL, 0.999, 0, 1, &out->beta2, what, err) ||
		    cfg_float(map, "eps", CFG_OPTIONAL, 1e-8, 1e-30, 1, &out->eps, what, err))
			return -1;
	} else {
		if (cfg_float_below(map, "momentum", CFG_OPTIONAL, 0.0, 0, 1, &out->momentum, what, err) ||
		    cfg_bool(map, "nesterov", CFG_OPTIONAL, false, &out->nesterov, what, err))
			return -1;
		if (out->nesterov && out->momentum == 0)
			return cnn_errorf(err, cfg_get(map, "nesterov")->loc,
			                  "sgd: 'nesterov: true' needs a momentum above 0 (e.g. momentum: 0.9)");
	}
	/* AdamW's decay is its point; PyTorch's default 0.01 is the usual start. */
	if (cfg_float(map, "weight_decay", CFG_OPTIONAL, kind == OPT_ADAMW ? 0.01 : 0.0, 0, 1,
	              &out->weight_decay, what, err) ||
	    cfg_float(map, "clip_norm", CFG_OPTIONAL, 0.0, 0, 1e9, &out->clip_norm, what, err))
		return -1;
	if (schedule_read(map, out, err) || check_single_precision(map, out, err) ||
	    other_type_keys(map, kind, err))
		return -1;
	return cfg_check_keys(map, what, err);
}

/* The decayed tensors as ranges, adjacent ones merged, in order. */
static int decay_ranges(struct optim *o, const struct net_param *tensors, int n_tensors, struct cnn_error *err)
{
	size_t end = 0;
	for (int i = 0; i < n_tensors; i++) {
		const struct net_param *p = &tensors[i];
		if (p->offset < end || p->offset > o->n || p->spec.n > o->n - p->offset)
			return cnn_errorf_plain(err, "optimizer: tensor %d (offset %zu, %zu floats) overlaps another "
			                        "or lies outside the %zu parameters", i, p->offset, p->spec.n, o->n);
		end = p->offset + p->spec.n;
		if (!p->spec.decay || !p->spec.n)
			continue;
		if (o->n_decay && o->decay[o->n_decay - 1][0] + o->decay[o->n_decay - 1][1] == p->offset) {
			o->decay[o->n_decay - 1][1] += p->spec.n;
			continue;
		}
		if (!o->decay && !(o->decay = malloc((size_t)n_tensors * sizeof *o->decay)))
			return cnn_errorf_plain(err, "out of memory for the optimizer's decay ranges");
		o->decay[o->n_decay][0] = p->offset;
		o->decay[o->n_decay][1] = p->spec.n;
		o->n_decay++;
	}
	return 0;
}

int optim_create(struct optim *o, const struct optim_config *cfg, size_t n,
                 const struct net_param *tensors, int n_tensors, struct cnn_error *err)
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
	if (decay_ranges(o, tensors, n_tensors, err)) {
		optim_free(o);
		return -1;
	}
	return 0;
}

/* Scales g to norm clip_norm when it is longer. A non-finite norm is left
 * alone: scaling would spread it, and the caller reports the bad loss. */
static void clip_grad(struct optim *o, float *g)
{
	double sum = 0;
	for (size_t i = 0; i < o->n; i++)
		sum += (double)g[i] * g[i];
	o->grad_norm = sqrt(sum);
	if (!(o->grad_norm > o->cfg.clip_norm) || !isfinite(o->grad_norm))
		return;
	const float scale = (float)(o->cfg.clip_norm / o->grad_norm);
	for (size_t i = 0; i < o->n; i++)
		g[i] *= scale;
}

void optim_step(struct optim *o, float *w, float *g)
{
	o->t++;
	if (o->cfg.clip_norm > 0)
		clip_grad(o, g);
	o->ops->step(o, w, g);
}

void optim_free(struct optim *o)
{
	free(o->state);
	o->state = NULL;
	free(o->decay);
	o->decay = NULL;
	o->n_decay = 0;
}
