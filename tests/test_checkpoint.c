/* Checkpoints: a round trip restores parameters, optimizer state and run
 * state bit for bit (and training continues identically); damaged files
 * (flipped byte, truncated, wrong magic, newer version, lying sizes) and
 * mismatched networks are refused with the messages users will see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "builder/builder.h"
#include "net/net_checkpoint.h"
#include "config/config.h"
#include "net/net.h"
#include "optim/optim.h"
#include "io/fileio.h"
#include "util/hash.h"
#include "file_fixture.h"
#include "testutil.h"

#define TINY_YAML(filters, opt)                                               \
	"name: tiny\n"                                                        \
	"seed: 5\n"                                                           \
	"data: {dataset: mnist, validation: 0}\n"                             \
	"input: [1, 28, 28]\n"                                                \
	"layers:\n"                                                           \
	"  - {type: conv, filters: " filters ", kernel_size: 5}\n"           \
	"  - {type: relu}\n"                                                  \
	"  - {type: maxpool, pool_size: 4}\n"                                 \
	"  - {type: flatten}\n"                                               \
	"  - {type: dense, units: 10}\n"                                      \
	"optimizer: {type: " opt ", lr: 0.01}\n"                              \
	"train: {epochs: 2, batch: 4, threads: 1}\n"

struct model {
	struct net *net;
	struct optim opt;
};

static int setup(void **state)
{
	return file_fixture_setup(state, "last.ckpt");
}

static int teardown(void **state)
{
	return file_fixture_teardown(state);
}

static void model_make(struct model *m, const char *yaml, uint64_t seed)
{
	struct cnn_error err = { 0 };
	struct cfg_doc doc = { 0 };
	struct model_config cfg;
	char msg[1024];

	if (cfg_load_string(yaml, strlen(yaml), "tiny.yaml", &doc, &err) ||
	    model_config_build(&doc, &cfg, &err))
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	if (net_create(cfg.layers, cfg.n_layers, cfg.input, cfg.train.batch, 1, seed, &m->net, &err))
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	cfg.layers = NULL;
	cfg.n_layers = 0;
	if (optim_create(&m->opt, &cfg.optim, m->net->n_params, m->net->param_tensors, m->net->n_param_tensors, &err))
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	model_config_free(&cfg);
	cfg_free(&doc);
}

static void model_free(struct model *m)
{
	optim_free(&m->opt);
	net_free(m->net);
}

/* One training step on a batch drawn from *seed. */
static void model_step(struct model *m, uint64_t *seed)
{
	size_t in = shape_size(m->net->input);
	int labels[4];
	double loss;
	int correct;

	for (int i = 0; i < m->net->batch; i++) {
		for (size_t j = 0; j < in; j++)
			m->net->x[(size_t)i * in + j] = test_uniform(seed, 0, 1);
		labels[i] = i % 10;
	}
	net_train_step(m->net, labels, m->net->batch, &loss, &correct);
	optim_step(&m->opt, m->net->params, m->net->grads);
}

/* A call that must succeed; on failure the test shows its message. */

static unsigned char *find_bytes(unsigned char *b, size_t len, const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(b + i, s, n))
			return b + i;
	return NULL;
}

/* "<path>: <text>" */
static void assert_msg(struct file_fixture *f, const char *text)
{
	char want[2048];
	snprintf(want, sizeof want, "%s: %s", f->path, text);
	assert_string_equal(file_fixture_msg(f), want);
}

static void assert_msg_prefix(struct file_fixture *f, const char *text)
{
	char want[2048];
	snprintf(want, sizeof want, "%s: %s", f->path, text);
	if (strncmp(file_fixture_msg(f), want, strlen(want)))
		fail_msg("got \"%s\", want a message starting \"%s\"", f->msg, want);
}

static struct epoch_record history[2] = {
	{ 1, 0.75, 0.5, 0.625, 0.625, 1.5, 1000.0 },
	{ 2, 0.5, 0.75, NAN, NAN, 1.25, 1200.0 },
};
static int order[5] = { 4, 0, 3, 1, 2 };
static float batch_loss[3] = { 2.25f, 1.5f, -0.0f };

static void fill_state(struct checkpoint *s, const char *yaml)
{
	memset(s, 0, sizeof *s);
	s->config_text = (char *)yaml;
	s->epoch = 2;
	s->batch = 7;
	s->loss_sum = 12.345678901234;
	s->correct = 21;
	s->seen = 28;
	s->train_seconds = 3.5;
	s->best_val_accuracy = 0.625;
	s->best_epoch = 1;
	rng_seed(&s->rng, 42);
	rng_next(&s->rng);
	s->order = order;
	s->n_order = 5;
	s->history = history;
	s->n_history = 2;
	s->batch_loss = batch_loss;
	s->n_batch_loss = 3;
}

static void save_tiny(struct file_fixture *f, struct model *a, const char *yaml)
{
	struct checkpoint s;
	uint64_t seed = 7;

	model_make(a, yaml, 1);
	model_step(a, &seed);
	model_step(a, &seed);
	fill_state(&s, yaml);
	if (checkpoint_save(f->path, a->net, &a->opt, &s, &f->err))
		fail_msg("%s", file_fixture_msg(f));
}

static void test_round_trip(void **state)
{
	struct file_fixture *f = *state;
	const char *yaml = TINY_YAML("2", "adam");
	struct model a, b;
	struct checkpoint c, want;
	uint64_t seed_a = 99, seed_b = 99;

	save_tiny(f, &a, yaml);
	fill_state(&want, yaml);
	assert_ok(f, checkpoint_load(f->path, &c, &f->err));

	assert_string_equal(c.config_text, yaml);
	assert_string_equal(c.path, f->path);
	assert_int_equal(c.epoch, 2);
	assert_int_equal(c.batch, 7);
	assert_memory_equal(&c.loss_sum, &want.loss_sum, sizeof(double));
	assert_int_equal(c.correct, 21);
	assert_int_equal(c.seen, 28);
	assert_true(c.train_seconds == 3.5);
	assert_true(c.best_val_accuracy == 0.625);
	assert_int_equal(c.best_epoch, 1);
	assert_memory_equal(&c.rng, &want.rng, sizeof c.rng);
	assert_int_equal(c.n_order, 5);
	assert_memory_equal(c.order, order, sizeof order);
	assert_int_equal(c.n_history, 2);
	assert_int_equal(c.history[1].epoch, 2);
	assert_true(c.history[0].val_accuracy == 0.625);
	assert_true(isnan(c.history[1].val_loss));
	assert_true(c.history[1].images_per_second == 1200.0);
	assert_int_equal(c.n_batch_loss, 3);
	assert_memory_equal(c.batch_loss, batch_loss, sizeof batch_loss); /* -0.0 kept */

	assert_int_equal(c.n_tensors, 4);
	assert_string_equal(c.tensors[0].name, "conv1.weight");
	assert_int_equal(c.tensors[0].ndim, 4);
	assert_int_equal(c.tensors[0].dims[0], 2);
	assert_int_equal(c.tensors[0].dims[3], 5);
	assert_string_equal(c.tensors[3].name, "dense1.bias");
	assert_string_equal(c.optim_type, "adam");
	assert_int_equal(c.optim_t, 2);
	assert_int_equal(c.optim_n_states, 2);
	assert_int_equal(c.optim_n, a.net->n_params);

	/* A fresh net with other weights takes everything, bit for bit. */
	model_make(&b, yaml, 12345);
	assert_memory_not_equal(b.net->params, a.net->params, a.net->n_params * sizeof(float));
	assert_ok(f, checkpoint_apply(&c, b.net, &b.opt, &f->err));
	assert_memory_equal(b.net->params, a.net->params, a.net->n_params * sizeof(float));
	assert_memory_equal(b.opt.state, a.opt.state, 2 * a.net->n_params * sizeof(float));
	assert_int_equal(b.opt.t, a.opt.t);

	/* ... and training goes on exactly as it would have. */
	model_step(&a, &seed_a);
	model_step(&b, &seed_b);
	assert_memory_equal(b.net->params, a.net->params, a.net->n_params * sizeof(float));

	/* For a model that only predicts: the same tensors, no optimizer state. */
	struct checkpoint m;
	assert_ok(f, checkpoint_load_model(f->path, &m, &f->err));
	assert_int_equal(m.epoch, c.epoch);
	assert_int_equal(m.n_tensors, c.n_tensors);
	for (int i = 0; i < m.n_tensors; i++)
		assert_memory_equal(m.tensors[i].data, c.tensors[i].data, c.tensors[i].n * sizeof(float));
	assert_null(m.optim_state);
	assert_string_equal(m.optim_type, "adam");
	assert_int_equal(m.optim_n, c.optim_n);
	checkpoint_free(&m);

	checkpoint_free(&c);
	assert_null(c.config_text);
	checkpoint_free(&c); /* twice is harmless */
	model_free(&a);
	model_free(&b);
}

/* Saving again replaces the file and leaves no temporary behind. */
static void test_overwrite_atomic(void **state)
{
	struct file_fixture *f = *state;
	const char *yaml = TINY_YAML("2", "sgd");
	struct model a;
	struct checkpoint s, c;
	struct dirent *e;
	int files = 0;

	save_tiny(f, &a, yaml);
	fill_state(&s, yaml);
	s.epoch = 9;
	assert_ok(f, checkpoint_save(f->path, a.net, &a.opt, &s, &f->err));
	assert_ok(f, checkpoint_load(f->path, &c, &f->err));
	assert_int_equal(c.epoch, 9);
	assert_string_equal(c.optim_type, "sgd");
	assert_int_equal(c.optim_n_states, 1);
	checkpoint_free(&c);

	DIR *d = opendir(f->dir);
	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			files++, assert_string_equal(e->d_name, "last.ckpt");
	closedir(d);
	assert_int_equal(files, 1);

	/* A folder that is not there: the error names the file. */
	snprintf(f->path, sizeof f->path, "%s/missing/last.ckpt", f->dir);
	assert_int_equal(checkpoint_save(f->path, a.net, &a.opt, &s, &f->err), -1);
	assert_msg(f, "cannot create a temporary file next to it: No such file or directory");
	model_free(&a);
}

static unsigned char *read_all(const char *path, size_t *len)
{
	unsigned char *b = (unsigned char *)test_read_file(path, len);
	assert_non_null(b);
	return b;
}

static void write_all(const char *path, const unsigned char *b, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(b, 1, len, fp), len);
	fclose(fp);
}

static void test_flipped_byte(void **state)
{
	struct file_fixture *f = *state;
	struct model a;
	struct checkpoint c;
	size_t len;
	unsigned char *b;

	save_tiny(f, &a, TINY_YAML("2", "adam"));
	b = read_all(f->path, &len);
	b[len / 2] ^= 0x10;       /* somewhere in the parameters */
	write_all(f->path, b, len);
	assert_int_equal(checkpoint_load(f->path, &c, &f->err), -1);
	assert_msg_prefix(f, "corrupted: CRC mismatch (stored ");
	assert_null(c.config_text);
	assert_null(c.tensors);

	b[len / 2] ^= 0x10;
	b[len - 1] ^= 0x01;       /* the CRC itself */
	write_all(f->path, b, len);
	assert_int_equal(checkpoint_load(f->path, &c, &f->err), -1);
	assert_msg_prefix(f, "corrupted: CRC mismatch (stored ");
	free(b);
	model_free(&a);
}

static void test_truncated(void **state)
{
	struct file_fixture *f = *state;
	struct model a;
	struct checkpoint c;
	size_t len;
	unsigned char *b;
	char want[256];

	save_tiny(f, &a, TINY_YAML("2", "adam"));
	b = read_all(f->path, &len);
	write_all(f->path, b, len - 100);
	assert_int_equal(checkpoint_load(f->path, &c, &f->err), -1);
	snprintf(want, sizeof want, "truncated: the header promises %zu bytes, the file has %zu",
	         len, len - 100);
	assert_msg(f, want);

	write_all(f->path, b, 20);
	assert_int_equal(checkpoint_load(f->path, &c, &f->err), -1);
	assert_msg(f, "truncated: 20 bytes, shorter than a checkpoint header");

	/* A payload length of 2^64-1: said as it is, not wrapped around. */
	unsigned char *huge = malloc(len);
	assert_non_null(huge);
	memcpy(huge, b, len);
	memset(huge + 16, 0xff, 8);
	write_all(f->path, huge, len);
	assert_int_equal(checkpoint_load(f->path, &c, &f->err), -1);
	snprintf(want, sizeof want, "truncated: the header promises 18446744073709551615 bytes of sections, "
	         "the file has %zu", len);
	assert_msg(f, want);
	free(huge);

	/* Bytes appended after the CRC. */
	unsigned char *longer = malloc(len + 3);
	assert_non_null(longer);
	memcpy(longer, b, len);
	memset(longer + len, 0, 3);
	write_all(f->path, longer, len + 3);
	assert_int_equal(checkpoint_load(f->path, &c, &f->err), -1);
	assert_msg(f, "corrupted: 3 bytes after the end of the checkpoint");
	free(longer);
	free(b);
	model_free(&a);
}

static void test_wrong_magic(void **state)
{
	struct file_fixture *f = *state;
	struct checkpoint c;
	const char *not_a_ckpt = "name: tiny\nlayers: []\n";
	const char *msg = "not a cnnrun checkpoint (it does not start with \"CNNCKPT\")";

	write_all(f->path, (const unsigned char *)not_a_ckpt, strlen(not_a_ckpt));
	assert_int_equal(checkpoint_load(f->path, &c, &f->err), -1);
	assert_msg(f, msg);
	write_all(f->path, (const unsigned char *)"CNN", 3);
	assert_int_equal(checkpoint_load(f->path, &c, &f->err), -1);
	assert_msg(f, msg);
	write_all(f->path, (const unsigned char *)"", 0);
	assert_int_equal(checkpoint_load(f->path, &c, &f->err), -1);
	assert_msg(f, msg);

	snprintf(f->path, sizeof f->path, "%s/none.ckpt", f->dir);
	assert_int_equal(checkpoint_load(f->path, &c, &f->err), -1);
	assert_msg(f, "cannot open: No such file or directory");
}

static void test_future_version(void **state)
{
	struct file_fixture *f = *state;
	struct model a;
	struct checkpoint c;
	size_t len;
	unsigned char *b;

	save_tiny(f, &a, TINY_YAML("2", "adam"));
	b = read_all(f->path, &len);
	assert_memory_equal(b, "CNNCKPT\0\1\0\0\0", 12);
	b[8] = 2;
	write_all(f->path, b, len);
	assert_int_equal(checkpoint_load(f->path, &c, &f->err), -1);
	assert_msg(f, "checkpoint format version 2 is newer than this cnnrun reads (up to 1); "
	              "use a newer cnnrun");
	free(b);
	model_free(&a);
}

/* Sizes that do not fit the file are caught even behind a valid CRC (a
 * buggy writer, or a deliberate fake): nothing huge is allocated. */
static void test_lying_sizes(void **state)
{
	struct file_fixture *f = *state;
	struct model a;
	struct checkpoint c;
	size_t len;
	unsigned char *b, *p;
	uint32_t crc;

	save_tiny(f, &a, TINY_YAML("2", "adam"));
	b = read_all(f->path, &len);
	p = find_bytes(b, len, "ORDR");
	assert_non_null(p);
	p[12] = p[13] = p[14] = 0xff;   /* the order's count: 0x00ffffff entries */
	crc = (uint32_t)crc32(0, b, (uInt)(len - 4));
	for (int i = 0; i < 4; i++)
		b[len - 4 + i] = (unsigned char)(crc >> (8 * i));
	write_all(f->path, b, len);
	assert_int_equal(checkpoint_load(f->path, &c, &f->err), -1);
	assert_msg(f, "corrupt checkpoint: section 'ORDR': bad length");
	free(b);
	model_free(&a);
}

/* Provenance: a best.ckpt matches the record of its run, or says why not
 * (another run's, or a stale epoch); without provenance nothing is checked. */
static void test_best_provenance(void **state)
{
	(void)state;
	struct cnn_error err = { 0 };
	struct checkpoint best = { .path = "run/best.ckpt", .epoch = 3,
	                           .prov = { .present = true, .run_id = "0123456789abcdef0123456789abcdef",
	                                     .weights_hash = 42 } };
	struct checkpoint_provenance want = { .present = true, .run_id = "0123456789abcdef0123456789abcdef",
	                                      .best_epoch = 3, .best_hash = 42 };
	assert_int_equal(checkpoint_check_best(&best, &want, &err), 0);
	want.best_epoch = 5;
	want.best_hash = 43;
	assert_int_equal(checkpoint_check_best(&best, &want, &err), -1);
	assert_non_null(strstr(err.msg, "this best.ckpt is stale: it holds epoch 3"));
	memcpy(want.run_id, "ffff", 4);
	assert_int_equal(checkpoint_check_best(&best, &want, &err), -1);
	assert_non_null(strstr(err.msg, "belongs to another run (run 01234567, epoch 3)"));
	best.prov.present = false;
	assert_int_equal(checkpoint_check_best(&best, &want, &err), -1);
	assert_non_null(strstr(err.msg, "carries no run id"));
	want.present = false;
	assert_int_equal(checkpoint_check_best(&best, &want, &err), 0);
}

static void test_mismatch(void **state)
{
	struct file_fixture *f = *state;
	struct model a, b;
	struct checkpoint c;
	float before;

	save_tiny(f, &a, TINY_YAML("2", "adam"));
	assert_ok(f, checkpoint_load(f->path, &c, &f->err));

	model_make(&b, TINY_YAML("3", "adam"), 1);
	before = b.net->params[0];
	assert_int_equal(checkpoint_apply(&c, b.net, &b.opt, &f->err), -1);
	assert_msg(f, "checkpoint has conv1.weight 2x1x5x5, the config makes 3x1x5x5");
	assert_true(b.net->params[0] == before);   /* nothing changed */
	model_free(&b);

	model_make(&b, TINY_YAML("2", "sgd"), 1);
	assert_int_equal(checkpoint_apply(&c, b.net, &b.opt, &f->err), -1);
	assert_msg(f, "checkpoint was trained with optimizer adam, the config uses sgd");
	/* Without an optimizer (eval, predict) only the weights matter. */
	assert_ok(f, checkpoint_apply(&c, b.net, NULL, &f->err));
	assert_memory_equal(b.net->params, a.net->params, a.net->n_params * sizeof(float));
	model_free(&b);

	static const char extra[] =
		"data: {dataset: mnist, validation: 0}\n"
		"input: [1, 28, 28]\n"
		"layers:\n"
		"  - {type: conv, filters: 2, kernel_size: 5}\n"
		"  - {type: relu}\n"
		"  - {type: maxpool, pool_size: 4}\n"
		"  - {type: flatten}\n"
		"  - {type: dense, units: 10}\n"
		"  - {type: dense, units: 10}\n"
		"optimizer: {type: adam}\n"
		"train: {batch: 4}\n";
	model_make(&b, extra, 1);
	assert_int_equal(checkpoint_apply(&c, b.net, &b.opt, &f->err), -1);
	assert_msg(f, "the config makes dense2.weight 10x10, which the checkpoint lacks "
	              "(4 parameter tensors in the checkpoint, 6 in the config)");
	model_free(&b);
	checkpoint_free(&c);

	/* Saved without an optimizer: weights yes, resuming no. */
	struct checkpoint s;
	fill_state(&s, "x: 1\n");
	assert_ok(f, checkpoint_save(f->path, a.net, NULL, &s, &f->err));
	assert_ok(f, checkpoint_load(f->path, &c, &f->err));
	assert_string_equal(c.optim_type, "");
	assert_int_equal(checkpoint_apply(&c, a.net, &a.opt, &f->err), -1);
	assert_msg(f, "checkpoint holds no optimizer state; it cannot resume training");
	assert_ok(f, checkpoint_apply(&c, a.net, NULL, &f->err));
	checkpoint_free(&c);
	model_free(&a);
}

/* The bytes of a checkpoint, pinned: weights and optimizer state set to a
 * pattern (not trained, so no kernel's rounding enters), every section
 * present. The hash was taken from the code before saving moved out of
 * io/ (src/net/net_checkpoint.c); a change of format must change it on
 * purpose, with CHECKPOINT_VERSION. */
#define PINNED_LEN 10232
#define PINNED_HASH UINT64_C(0xa5b600d49f686c98)
static void test_bytes_pinned(void **state)
{
	struct file_fixture *f = *state;
	const char *yaml = TINY_YAML("2", "adam");
	struct model a;
	struct checkpoint s;
	unsigned char *bytes;
	size_t len;

	model_make(&a, yaml, 1);
	for (size_t i = 0; i < a.net->n_params; i++)
		a.net->params[i] = (float)((int)(i % 97) - 48) * 0.03125f;
	for (size_t i = 0; i < 2 * a.opt.n; i++)
		a.opt.state[i] = (float)(i % 13) * 0.5f;
	a.opt.t = 77;
	fill_state(&s, yaml);
	s.prov.present = true;
	memcpy(s.prov.run_id, "0123456789abcdef0123456789abcdef", CHECKPOINT_RUN_ID_LEN + 1);
	s.prov.best_epoch = 1;
	s.prov.best_hash = UINT64_C(0x0123456789abcdef);
	assert_ok(f, checkpoint_save(f->path, a.net, &a.opt, &s, &f->err));
	assert_ok(f, file_read_all(f->path, 1 << 20, &bytes, &len, &f->err));
	uint64_t h = fnv1a_bytes(FNV1A_OFFSET, bytes, len);
	print_message("%zu bytes, hash 0x%016llx\n", len, (unsigned long long)h);
	assert_int_equal(len, PINNED_LEN);
	assert_int_equal(h, PINNED_HASH);
	free(bytes);
	model_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overwrite_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_future_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lying_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mismatch, setup, teardown),
		cmocka_unit_test(test_best_provenance),
		cmocka_unit_test_setup_teardown(test_bytes_pinned, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
