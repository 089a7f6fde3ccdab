#include "build_helpers.h"
#include "testutil.h"
#include "optim/optim.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

int bh_load(const char *yaml, struct cfg_doc *doc, char *msg, size_t len)
{
	struct cnn_error err;

	memset(&err, 0, sizeof(err));
	if (cfg_load_string(yaml, strlen(yaml), BH_FILE, doc, &err)) {
		cnn_error_str(&err, msg, len);
		return -1;
	}
	if (len)
		msg[0] = '\0';
	return 0;
}

int bh_build(const char *yaml, struct cfg_doc *doc, struct model_config *cfg,
             char *msg, size_t len)
{
	struct cnn_error err;

	if (bh_load(yaml, doc, msg, len))
		return -1;
	memset(&err, 0, sizeof(err));
	if (model_config_build(doc, cfg, &err)) {
		cnn_error_str(&err, msg, len);
		cfg_free(doc);
		return -1;
	}
	return 0;
}

const char *bh_error(const char *yaml, char *buf, size_t len)
{
	struct cfg_doc doc;
	struct model_config cfg;

	if (bh_build(yaml, &doc, &cfg, buf, len))
		return buf;
	model_config_free(&cfg);
	cfg_free(&doc);
	return NULL;
}

static char *write_text(const struct cfg_node *n, int json, int indent)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	if (!f)
		return NULL;
	if (json)
		cfg_write_json(f, n, indent);
	else
		cfg_write_yaml(f, n);
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

char *bh_yaml_text(const struct cfg_node *n)
{
	return write_text(n, 0, 0);
}

char *bh_json_text(const struct cfg_node *n, int indent)
{
	return write_text(n, 1, indent);
}

static bool differ(char *why, size_t len, const char *path, const char *what)
{
	if (why && len)
		snprintf(why, len, "at '%s': %s", path, what);
	return false;
}

static bool equal_at(const struct cfg_node *a, const struct cfg_node *b, const char *path,
                     char *why, size_t len)
{
	char sub[512];

	if (!a || !b)
		return a == b ? true : differ(why, len, path, "one tree is empty");
	if (a->kind != b->kind)
		return differ(why, len, path, "kinds differ");
	if (a->kind == CFG_SCALAR) {
		if (strcmp(a->text, b->text))
			return differ(why, len, path, "scalar texts differ");
		/* Quotes matter only where the text could read as a number or a
		 * boolean: elsewhere a quoted and a plain scalar are the same string. */
		long l;
		double d;
		bool typed = !cfg_parse_long(a->text, &l) || !cfg_parse_double(a->text, &d) ||
		             !strcmp(a->text, "true") || !strcmp(a->text, "false");
		if (a->quoted != b->quoted && typed)
			return differ(why, len, path, "quoted flags differ on a number or boolean");
		return true;
	}
	if (a->n != b->n)
		return differ(why, len, path, "sizes differ");
	for (int i = 0; i < a->n; i++) {
		if (a->kind == CFG_MAP) {
			if (strcmp(a->keys[i], b->keys[i]))
				return differ(why, len, path, "keys differ");
			snprintf(sub, sizeof(sub), "%s.%s", path, a->keys[i]);
		} else {
			snprintf(sub, sizeof(sub), "%s.%d", path, i);
		}
		if (!equal_at(a->vals[i], b->vals[i], sub, why, len))
			return false;
	}
	return true;
}

bool bh_tree_equal(const struct cfg_node *a, const struct cfg_node *b, char *why, size_t len)
{
	return equal_at(a, b, "", why, len);
}

struct net *bh_net(const char *yaml, int batch, int threads, uint64_t seed)
{
	struct cfg_doc doc;
	struct model_config c;
	struct cnn_error err;
	struct net *net = NULL;
	char msg[1024];
	if (cfg_load_string(yaml, strlen(yaml), "net.yaml", &doc, &err) ||
	    model_config_build(&doc, &c, &err))
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	if (net_create(c.layers, c.n_layers, c.input, batch, threads, seed, &net, &err))
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	c.layers = NULL; /* the network owns them now */
	c.n_layers = 0;
	model_config_free(&c);
	cfg_free(&doc);
	return net;
}

void bh_fill_batch(struct net *net, int n, int *labels, uint64_t seed)
{
	uint64_t rng = seed;
	for (size_t i = 0; i < (size_t)n * shape_size(net->input); i++)
		net->x[i] = test_uniform(&rng, -1, 1);
	for (int i = 0; i < n; i++)
		labels[i] = (int)test_uniform(&rng, 0, 10) % 10;
}

void bh_train_adam(struct net *net, int n, int steps, bh_fill_fn fill, void *ctx,
                   double *losses, int *corrects)
{
	struct optim opt;
	struct cnn_error err;
	int *labels = malloc((size_t)n * sizeof *labels);
	assert_non_null(labels);
	assert_int_equal(optim_create(&opt, &(struct optim_config){ .type = "adam", .lr = 0.01, .beta1 = 0.9,
	                                                            .beta2 = 0.999, .eps = 1e-8 },
	                              net->n_params, net->param_tensors, net->n_param_tensors, &err), 0);
	for (int s = 0; s < steps; s++) {
		double loss;
		int correct;
		fill(net, n, labels, s, ctx);
		net_train_step(net, labels, n, &loss, &correct);
		optim_step(&opt, net->params, net->grads);
		if (losses)
			losses[s] = loss;
		if (corrects)
			corrects[s] = correct;
	}
	optim_free(&opt);
	free(labels);
}

float *bh_params_copy(const struct net *net, size_t *count)
{
	float *w = malloc(net->n_params * sizeof *w);
	assert_non_null(w);
	memcpy(w, net->params, net->n_params * sizeof *w);
	*count = net->n_params;
	return w;
}
