/* Checkpoint writing and reading; the byte layout is in docs/formats.md.
 *
 * The whole file is assembled in memory, its CRC computed, and written in
 * one atomic_write; reading takes the whole file in, checks magic, version,
 * length and CRC before parsing anything, and then checks every count
 * against the bytes left in its section before allocating for it. A
 * network's parameters and an optimizer's state arrive as flat arrays
 * (struct checkpoint_arrays); src/net/net_checkpoint.c hands them over. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "io/bytes.h"
#include "io/fileio.h"
#include "util/crc32.h"
#include "util/hash.h"

static const unsigned char ckpt_magic[8] = { 'C', 'N', 'N', 'C', 'K', 'P', 'T', '\0' };

#define CKPT_HEADER 24          /* magic, version, flags, payload length */
#define CKPT_TRAILER 4          /* CRC-32 */
#define CKPT_SECTION_HEADER 12  /* tag, length */
#define CKPT_PROG_BYTES 52
#define CKPT_HIST_BYTES 52      /* one epoch record */

/* Section tags, in the order they are written. */
#define TAG_CONF "CONF"
#define TAG_PARM "PARM"
#define TAG_OPTM "OPTM"
#define TAG_RNG  "RNG "
#define TAG_ORDR "ORDR"
#define TAG_PROG "PROG"
#define TAG_HIST "HIST"
#define TAG_BLSS "BLSS"
#define TAG_PROV "PROV"
#define CKPT_PROV_BYTES (CHECKPOINT_RUN_ID_LEN + 4 + 8 + 4 + 8)

/* Over each float's little-endian bytes, so the hash a checkpoint records
 * is the same on any host. */
static uint64_t hash_floats(uint64_t h, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t u = f32_bits(x[i]);
		unsigned char le[4] = { u & 0xffu, (u >> 8) & 0xffu, (u >> 16) & 0xffu, u >> 24 };
		h = fnv1a_bytes(h, le, sizeof le);
	}
	return h;
}

uint64_t checkpoint_params_hash(const struct net_param *tensors, int n, const float *params)
{
	uint64_t h = FNV1A_OFFSET;
	for (int i = 0; i < n; i++)
		h = hash_floats(h, params + tensors[i].offset, tensors[i].spec.n);
	return h;
}

static uint64_t tensors_hash(const struct checkpoint *c)
{
	uint64_t h = FNV1A_OFFSET;
	for (int i = 0; i < c->n_tensors; i++)
		h = hash_floats(h, c->tensors[i].data, c->tensors[i].n);
	return h;
}

const char *checkpoint_dims_str(const int *dims, int ndim, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < ndim && used < len; i++) {
		int n = snprintf(buf + used, len - used, i ? "x%d" : "%d", dims[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}

static struct cnn_loc at_file(const char *path)
{
	return (struct cnn_loc){ path, 0, 0 };
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */

/* Starts a section; returns where its length goes, for section_end. */
static size_t section_begin(struct bytebuf *b, const char *tag)
{
	bytebuf_put(b, tag, 4);
	size_t at = b->len;
	bytebuf_u64(b, 0);
	return at;
}

static void section_end(struct bytebuf *b, size_t at)
{
	if (!b->failed)
		put_le64(b->data + at, (uint64_t)(b->len - at - 8));
}

static void put_floats(struct bytebuf *b, const float *x, size_t n)
{
	unsigned char *p = bytebuf_extend(b, n * 4);

	if (!p)
		return;
	for (size_t i = 0; i < n; i++)
		put_le32(p + 4 * i, f32_bits(x[i]));
}

static void put_params(struct bytebuf *b, const struct checkpoint_arrays *a)
{
	size_t at = section_begin(b, TAG_PARM);

	bytebuf_u32(b, (uint32_t)a->n_tensors);
	for (int i = 0; i < a->n_tensors; i++) {
		const struct net_param *p = &a->tensors[i];
		size_t len = strlen(p->name);
		bytebuf_u16(b, (uint16_t)len);
		bytebuf_put(b, p->name, len);
		bytebuf_u8(b, (unsigned)p->spec.ndim);
		for (int d = 0; d < p->spec.ndim; d++)
			bytebuf_u32(b, (uint32_t)p->spec.dims[d]);
		put_floats(b, a->params + p->offset, p->spec.n);
	}
	section_end(b, at);
}

static void put_optim(struct bytebuf *b, const struct checkpoint_arrays *a)
{
	size_t at = section_begin(b, TAG_OPTM);
	size_t len = strlen(a->optim_type);

	bytebuf_u16(b, (uint16_t)len);
	bytebuf_put(b, a->optim_type, len);
	bytebuf_u64(b, (uint64_t)(int64_t)a->optim_t);
	bytebuf_u32(b, (uint32_t)a->optim_n_states);
	bytebuf_u64(b, (uint64_t)a->optim_n);
	put_floats(b, a->optim_state, (size_t)a->optim_n_states * a->optim_n);
	section_end(b, at);
}

static void put_run_state(struct bytebuf *b, const struct checkpoint *s)
{
	size_t at;

	at = section_begin(b, TAG_RNG);
	for (int i = 0; i < 4; i++)
		bytebuf_u64(b, s->rng.s[i]);
	section_end(b, at);

	at = section_begin(b, TAG_ORDR);
	bytebuf_u32(b, (uint32_t)s->n_order);
	for (int i = 0; i < s->n_order; i++)
		bytebuf_u32(b, (uint32_t)s->order[i]);
	section_end(b, at);

	at = section_begin(b, TAG_PROG);
	bytebuf_u32(b, (uint32_t)s->epoch);
	bytebuf_u32(b, (uint32_t)s->batch);
	bytebuf_f64(b, s->loss_sum);
	bytebuf_u64(b, (uint64_t)s->correct);
	bytebuf_u64(b, (uint64_t)s->seen);
	bytebuf_f64(b, s->train_seconds);
	bytebuf_f64(b, s->best_val_accuracy);
	bytebuf_u32(b, (uint32_t)s->best_epoch);
	section_end(b, at);

	at = section_begin(b, TAG_HIST);
	bytebuf_u32(b, (uint32_t)s->n_history);
	for (int i = 0; i < s->n_history; i++) {
		const struct epoch_record *r = &s->history[i];
		bytebuf_u32(b, (uint32_t)r->epoch);
		bytebuf_f64(b, r->loss);
		bytebuf_f64(b, r->accuracy);
		bytebuf_f64(b, r->val_loss);
		bytebuf_f64(b, r->val_accuracy);
		bytebuf_f64(b, r->seconds);
		bytebuf_f64(b, r->images_per_second);
	}
	section_end(b, at);

	at = section_begin(b, TAG_BLSS);
	bytebuf_u32(b, (uint32_t)s->n_batch_loss);
	put_floats(b, s->batch_loss, (size_t)s->n_batch_loss);
	section_end(b, at);
}

static void put_provenance(struct bytebuf *b, const struct checkpoint *s, const struct checkpoint_arrays *a)
{
	size_t at = section_begin(b, TAG_PROV);
	char id[CHECKPOINT_RUN_ID_LEN];

	memset(id, '0', sizeof id);
	memcpy(id, s->prov.run_id, strnlen(s->prov.run_id, sizeof id));
	bytebuf_put(b, id, sizeof id);
	bytebuf_u32(b, (uint32_t)s->epoch);
	bytebuf_u64(b, checkpoint_params_hash(a->tensors, a->n_tensors, a->params));
	bytebuf_u32(b, (uint32_t)s->prov.best_epoch);
	bytebuf_u64(b, s->prov.best_hash);
	section_end(b, at);
}

int checkpoint_write(const char *path, const struct checkpoint_arrays *a,
                     const struct checkpoint *state, struct cnn_error *err)
{
	struct bytebuf b = { 0 };
	const char *conf = state->config_text ? state->config_text : "";
	size_t at;
	int rc;

	CNN_ASSERT(state->n_order >= 0 && (state->n_order == 0 || state->order));
	CNN_ASSERT(state->n_history >= 0 && (state->n_history == 0 || state->history));
	CNN_ASSERT(state->n_batch_loss >= 0 && (state->n_batch_loss == 0 || state->batch_loss));
	CNN_ASSERT(a->n_tensors >= 0 && (a->n_tensors == 0 || (a->tensors && a->params)));
	CNN_ASSERT(!a->optim_type || (a->optim_n_states >= 0 && a->optim_state));

	bytebuf_put(&b, ckpt_magic, sizeof ckpt_magic);
	bytebuf_u32(&b, CHECKPOINT_VERSION);
	bytebuf_u32(&b, 0);        /* flags */
	bytebuf_u64(&b, 0);        /* payload length, patched below */

	at = section_begin(&b, TAG_CONF);
	bytebuf_put(&b, conf, strlen(conf));
	section_end(&b, at);
	put_params(&b, a);
	if (a->optim_type)
		put_optim(&b, a);
	put_run_state(&b, state);
	if (state->prov.present)
		put_provenance(&b, state, a);

	if (!b.failed)
		put_le64(b.data + 16, (uint64_t)(b.len - CKPT_HEADER));
	if (!b.failed) {
		uint32_t crc = crc32_update(0, b.data, b.len);
		bytebuf_u32(&b, crc);
	}
	if (b.failed) {
		bytebuf_free(&b);
		return cnn_errorf(err, at_file(path), "out of memory assembling the checkpoint");
	}
	rc = atomic_write(path, b.data, b.len, err);
	bytebuf_free(&b);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reading                                                              */

struct reader {
	const char *path;
	struct cnn_error *err;
	bool model_only;   /* checkpoint_load_model: the optimizer's state is skipped */
};

static int corrupt(const struct reader *r, const char *tag, const char *what)
{
	return cnn_errorf(r->err, at_file(r->path), "corrupt checkpoint: section '%.4s': %s",
	                  tag, what);
}

static bool take_u16(struct bytecur *c, uint16_t *v)
{
	const unsigned char *p;
	if (!bytecur_take(c, 2, &p))
		return false;
	*v = get_le16(p);
	return true;
}

static bool take_u32(struct bytecur *c, uint32_t *v)
{
	const unsigned char *p;
	if (!bytecur_take(c, 4, &p))
		return false;
	*v = get_le32(p);
	return true;
}

static bool take_u64(struct bytecur *c, uint64_t *v)
{
	const unsigned char *p;
	if (!bytecur_take(c, 8, &p))
		return false;
	*v = get_le64(p);
	return true;
}

static bool take_f64(struct bytecur *c, double *v)
{
	uint64_t u;
	if (!take_u64(c, &u))
		return false;
	*v = bits_f64(u);
	return true;
}

/* n floats into a new array, or past them when out is NULL; the caller
 * has checked nothing, so check here. */
static int take_floats(const struct reader *r, const char *tag, struct bytecur *c, size_t n,
                       float **out)
{
	const unsigned char *p;
	size_t bytes;

	if (out)
		*out = NULL;
	if (!cnn_mul_size(n, 4, &bytes) || bytes > c->left)
		return corrupt(r, tag, "array runs past the end of the section");
	bytecur_take(c, bytes, &p);
	if (!out)
		return 0;
	*out = malloc(n ? n * sizeof(float) : 1);
	if (!*out)
		return cnn_errorf(r->err, at_file(r->path), "out of memory (%zu floats)", n);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__STDC_IEC_559__)
	memcpy(*out, p, bytes);   /* the file's byte order is this host's */
#else
	for (size_t i = 0; i < n; i++)
		(*out)[i] = bits_f32(get_le32(p + 4 * i));
#endif
	return 0;
}

static int read_conf(const struct reader *r, struct bytecur *c, struct checkpoint *out)
{
	if (memchr(c->p, '\0', c->left))
		return corrupt(r, TAG_CONF, "the config text holds a NUL byte");
	out->config_text = malloc(c->left + 1);
	if (!out->config_text)
		return cnn_errorf(r->err, at_file(r->path), "out of memory");
	memcpy(out->config_text, c->p, c->left);
	out->config_text[c->left] = '\0';
	c->p += c->left;
	c->left = 0;
	return 0;
}

static int read_tensor(const struct reader *r, struct bytecur *c, struct checkpoint_tensor *t)
{
	const unsigned char *p;
	uint16_t len;
	uint32_t d;

	if (!take_u16(c, &len) || len == 0 || len > CHECKPOINT_MAX_NAME || !bytecur_take(c, len, &p))
		return corrupt(r, TAG_PARM, "bad tensor name");
	memcpy(t->name, p, len);
	t->name[len] = '\0';
	if (memchr(t->name, '\0', len))
		return corrupt(r, TAG_PARM, "bad tensor name");
	if (!bytecur_take(c, 1, &p) || p[0] < 1 || p[0] > 4)
		return corrupt(r, TAG_PARM, "bad number of dimensions");
	t->ndim = p[0];
	t->n = 1;
	for (int i = 0; i < t->ndim; i++) {
		if (!take_u32(c, &d) || d == 0 || d > INT_MAX || !cnn_mul_size(t->n, d, &t->n))
			return corrupt(r, TAG_PARM, "bad dimension");
		t->dims[i] = (int)d;
	}
	return take_floats(r, TAG_PARM, c, t->n, &t->data);
}

static int read_params(const struct reader *r, struct bytecur *c, struct checkpoint *out)
{
	uint32_t n;

	/* The smallest tensor (1-letter name, 1 dim of 1) takes 12 bytes. */
	if (!take_u32(c, &n) || n > c->left / 12 || n > INT_MAX)
		return corrupt(r, TAG_PARM, "bad tensor count");
	out->tensors = calloc(n ? n : 1, sizeof *out->tensors);
	if (!out->tensors)
		return cnn_errorf(r->err, at_file(r->path), "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		out->n_tensors++;
		if (read_tensor(r, c, &out->tensors[i]))
			return -1;
	}
	return 0;
}

static int read_optim(const struct reader *r, struct bytecur *c, struct checkpoint *out)
{
	const unsigned char *p;
	uint16_t len;
	uint32_t states;
	uint64_t t, n;
	size_t total;

	if (!take_u16(c, &len) || len == 0 || len > CHECKPOINT_MAX_TYPE || !bytecur_take(c, len, &p))
		return corrupt(r, TAG_OPTM, "bad optimizer type");
	memcpy(out->optim_type, p, len);
	out->optim_type[len] = '\0';
	if (!take_u64(c, &t) || (int64_t)t < 0 || (int64_t)t > LONG_MAX ||
	    !take_u32(c, &states) || states > 16 || !take_u64(c, &n) || n > SIZE_MAX ||
	    !cnn_mul_size((size_t)n, states, &total))
		return corrupt(r, TAG_OPTM, "bad optimizer header");
	out->optim_t = (long)(int64_t)t;
	out->optim_n_states = (int)states;
	out->optim_n = (size_t)n;
	return take_floats(r, TAG_OPTM, c, total, r->model_only ? NULL : &out->optim_state);
}

static int read_rng(const struct reader *r, struct bytecur *c, struct checkpoint *out)
{
	for (int i = 0; i < 4; i++)
		if (!take_u64(c, &out->rng.s[i]))
			return corrupt(r, TAG_RNG, "too short");
	return 0;
}

static int read_order(const struct reader *r, struct bytecur *c, struct checkpoint *out)
{
	uint32_t n, v = 0;

	if (!take_u32(c, &n) || n > INT_MAX || n > c->left / 4)
		return corrupt(r, TAG_ORDR, "bad length");
	out->order = malloc(n ? (size_t)n * sizeof *out->order : 1);
	if (!out->order)
		return cnn_errorf(r->err, at_file(r->path), "out of memory");
	out->n_order = (int)n;
	for (uint32_t i = 0; i < n; i++) {
		take_u32(c, &v);
		out->order[i] = (int)(int32_t)v;
	}
	return 0;
}

static int read_progress(const struct reader *r, struct bytecur *c, struct checkpoint *out)
{
	uint32_t epoch = 0, batch = 0, best_epoch = 0;
	uint64_t correct = 0, seen = 0;

	if (c->left < CKPT_PROG_BYTES)
		return corrupt(r, TAG_PROG, "too short");
	take_u32(c, &epoch);
	take_u32(c, &batch);
	take_f64(c, &out->loss_sum);
	take_u64(c, &correct);
	take_u64(c, &seen);
	take_f64(c, &out->train_seconds);
	take_f64(c, &out->best_val_accuracy);
	take_u32(c, &best_epoch);
	if (epoch > INT_MAX || batch > INT_MAX || best_epoch > INT_MAX ||
	    correct > LLONG_MAX || seen > LLONG_MAX)
		return corrupt(r, TAG_PROG, "counter out of range");
	out->epoch = (int)epoch;
	out->batch = (int)batch;
	out->best_epoch = (int)best_epoch;
	out->correct = (long long)correct;
	out->seen = (long long)seen;
	return 0;
}

static int read_history(const struct reader *r, struct bytecur *c, struct checkpoint *out)
{
	uint32_t n, epoch = 0;

	if (!take_u32(c, &n) || n > INT_MAX || n > c->left / CKPT_HIST_BYTES)
		return corrupt(r, TAG_HIST, "bad length");
	out->history = calloc(n ? n : 1, sizeof *out->history);
	if (!out->history)
		return cnn_errorf(r->err, at_file(r->path), "out of memory");
	out->n_history = (int)n;
	for (uint32_t i = 0; i < n; i++) {
		struct epoch_record *e = &out->history[i];
		take_u32(c, &epoch);
		e->epoch = (int)(int32_t)epoch;
		take_f64(c, &e->loss);
		take_f64(c, &e->accuracy);
		take_f64(c, &e->val_loss);
		take_f64(c, &e->val_accuracy);
		take_f64(c, &e->seconds);
		take_f64(c, &e->images_per_second);
	}
	return 0;
}

static int read_batch_loss(const struct reader *r, struct bytecur *c, struct checkpoint *out)
{
	uint32_t n;

	if (!take_u32(c, &n) || n > INT_MAX)
		return corrupt(r, TAG_BLSS, "bad length");
	if (take_floats(r, TAG_BLSS, c, n, &out->batch_loss))
		return -1;
	out->n_batch_loss = (int)n;
	return 0;
}

static int read_provenance(const struct reader *r, struct bytecur *c, struct checkpoint *out)
{
	const unsigned char *id;
	uint32_t epoch = 0, best_epoch = 0;

	if (c->left < CKPT_PROV_BYTES)
		return corrupt(r, TAG_PROV, "too short");
	bytecur_take(c, CHECKPOINT_RUN_ID_LEN, &id);
	for (int i = 0; i < CHECKPOINT_RUN_ID_LEN; i++)
		if (!strchr("0123456789abcdef", id[i]) || !id[i])
			return corrupt(r, TAG_PROV, "the run id is not 32 hex digits");
	memcpy(out->prov.run_id, id, CHECKPOINT_RUN_ID_LEN);
	out->prov.run_id[CHECKPOINT_RUN_ID_LEN] = '\0';
	take_u32(c, &epoch);
	take_u64(c, &out->prov.weights_hash);
	take_u32(c, &best_epoch);
	take_u64(c, &out->prov.best_hash);
	if (epoch > INT_MAX || best_epoch > INT_MAX)
		return corrupt(r, TAG_PROV, "epoch out of range");
	out->prov.best_epoch = (int)best_epoch;
	out->prov.present = true;
	/* The epoch is PROG's too; kept here so PROV stands on its own. */
	out->prov_epoch = (int)epoch;
	return 0;
}

typedef int (*section_reader)(const struct reader *r, struct bytecur *c, struct checkpoint *out);

static const struct {
	const char *tag;
	section_reader read;
	bool required;
} ckpt_sections[] = {
	{ TAG_CONF, read_conf, true },
	{ TAG_PARM, read_params, true },
	{ TAG_OPTM, read_optim, false },
	{ TAG_RNG, read_rng, true },
	{ TAG_ORDR, read_order, true },
	{ TAG_PROG, read_progress, true },
	{ TAG_HIST, read_history, false },
	{ TAG_BLSS, read_batch_loss, false },
	{ TAG_PROV, read_provenance, false },
};
#define N_SECTIONS (sizeof ckpt_sections / sizeof ckpt_sections[0])

/* Walks the sections; unknown tags are skipped (a later minor addition),
 * known ones may appear once. */
static int read_sections(const struct reader *r, struct bytecur *c, struct checkpoint *out)
{
	bool seen[N_SECTIONS] = { false };
	const unsigned char *tag, *body;
	uint64_t len;

	while (c->left > 0) {
		if (!bytecur_take(c, 4, &tag) || !take_u64(c, &len))
			return cnn_errorf(r->err, at_file(r->path),
			                  "corrupt checkpoint: a section header runs past the end");
		if (len > c->left)
			return corrupt(r, (const char *)tag, "runs past the end of the file");
		bytecur_take(c, (size_t)len, &body);
		for (size_t i = 0; i < N_SECTIONS; i++) {
			if (memcmp(tag, ckpt_sections[i].tag, 4))
				continue;
			if (seen[i])
				return corrupt(r, (const char *)tag, "appears twice");
			seen[i] = true;
			struct bytecur sc = { body, (size_t)len };
			if (ckpt_sections[i].read(r, &sc, out))
				return -1;
			/* PROG may grow new trailing fields; the others are exact. */
			if (sc.left && memcmp(tag, TAG_PROG, 4))
				return corrupt(r, (const char *)tag, "has bytes left over");
		}
	}
	for (size_t i = 0; i < N_SECTIONS; i++)
		if (ckpt_sections[i].required && !seen[i])
			return corrupt(r, ckpt_sections[i].tag, "missing");
	return 0;
}

/* Magic, version, flags, length and CRC, before anything is parsed. */
static int check_envelope(const struct reader *r, const unsigned char *d, size_t len,
                          uint64_t *payload)
{
	uint32_t version, flags, stored, crc;

	if (len < sizeof ckpt_magic || memcmp(d, ckpt_magic, sizeof ckpt_magic))
		return cnn_errorf(r->err, at_file(r->path),
		                  "not a cnnrun checkpoint (it does not start with \"CNNCKPT\")");
	if (len < CKPT_HEADER + CKPT_TRAILER)
		return cnn_errorf(r->err, at_file(r->path),
		                  "truncated: %zu bytes, shorter than a checkpoint header", len);
	version = get_le32(d + 8);
	flags = get_le32(d + 12);
	if (version > CHECKPOINT_VERSION)
		return cnn_errorf(r->err, at_file(r->path),
		                  "checkpoint format version %u is newer than this cnnrun reads "
		                  "(up to %d); use a newer cnnrun", version, CHECKPOINT_VERSION);
	if (version == 0)
		return cnn_errorf(r->err, at_file(r->path), "checkpoint format version 0 is invalid");
	if (flags != 0)
		return cnn_errorf(r->err, at_file(r->path),
		                  "checkpoint flags 0x%08x are not supported by this cnnrun", flags);
	*payload = get_le64(d + 16);
	if (*payload > len - CKPT_HEADER - CKPT_TRAILER)
		return cnn_errorf(r->err, at_file(r->path),
		                  *payload > UINT64_MAX - CKPT_HEADER - CKPT_TRAILER
		                  ? "truncated: the header promises %llu bytes of sections, the file has %zu"
		                  : "truncated: the header promises %llu bytes, the file has %zu",
		                  *payload > UINT64_MAX - CKPT_HEADER - CKPT_TRAILER ? (unsigned long long)*payload
		                  : (unsigned long long)*payload + CKPT_HEADER + CKPT_TRAILER, len);
	if (*payload < len - CKPT_HEADER - CKPT_TRAILER)
		return cnn_errorf(r->err, at_file(r->path),
		                  "corrupted: %llu bytes after the end of the checkpoint",
		                  (unsigned long long)(len - CKPT_HEADER - CKPT_TRAILER - *payload));
	stored = get_le32(d + len - CKPT_TRAILER);
	crc = crc32_update(0, d, len - CKPT_TRAILER);
	if (stored != crc)
		return cnn_errorf(r->err, at_file(r->path),
		                  "corrupted: CRC mismatch (stored %08x, computed %08x)", stored, crc);
	return 0;
}

static int load(const char *path, bool model_only, struct checkpoint *out, struct cnn_error *err)
{
	struct reader r = { path, err, model_only };
	unsigned char *data;
	size_t len;
	uint64_t payload = 0;

	memset(out, 0, sizeof *out);
	if (file_read_all(path, SIZE_MAX / 2, &data, &len, err))
		return -1;
	if (check_envelope(&r, data, len, &payload))
		goto fail;
	out->path = malloc(strlen(path) + 1);
	if (!out->path) {
		cnn_errorf(err, at_file(path), "out of memory");
		goto fail;
	}
	strcpy(out->path, path);
	struct bytecur c = { data + CKPT_HEADER, (size_t)payload };
	if (read_sections(&r, &c, out))
		goto fail;
	if (out->prov.present && (out->prov_epoch != out->epoch || out->prov.weights_hash != tensors_hash(out))) {
		cnn_errorf(err, at_file(path), "corrupt checkpoint: section 'PROV' does not describe its "
		           "weights (epoch %d, PROG says %d; or another weights hash)", out->prov_epoch, out->epoch);
		goto fail;
	}
	free(data);
	return 0;

fail:
	free(data);
	checkpoint_free(out);
	return -1;
}

int checkpoint_load(const char *path, struct checkpoint *out, struct cnn_error *err)
{
	return load(path, false, out, err);
}

int checkpoint_load_model(const char *path, struct checkpoint *out, struct cnn_error *err)
{
	return load(path, true, out, err);
}

void checkpoint_free(struct checkpoint *c)
{
	if (!c)
		return;
	free(c->config_text);
	free(c->order);
	free(c->history);
	free(c->batch_loss);
	free(c->path);
	for (int i = 0; i < c->n_tensors; i++)
		free(c->tensors[i].data);
	free(c->tensors);
	free(c->optim_state);
	memset(c, 0, sizeof *c);
}

int checkpoint_check_best(const struct checkpoint *best, const struct checkpoint_provenance *want,
                          struct cnn_error *err)
{
	const struct checkpoint_provenance *got = &best->prov;

	if (!want->present || want->best_epoch <= 0)
		return 0;
	if (!got->present)
		return cnn_errorf(err, at_file(best->path), "this best.ckpt carries no run id (an older cnnrun "
		                  "wrote it), so it cannot be matched to run %.8s's best epoch %d", want->run_id,
		                  want->best_epoch);
	if (strcmp(got->run_id, want->run_id))
		return cnn_errorf(err, at_file(best->path), "this best.ckpt belongs to another run (run %.8s, "
		                  "epoch %d), not to run %.8s whose best is epoch %d", got->run_id, best->epoch,
		                  want->run_id, want->best_epoch);
	if (best->epoch != want->best_epoch || got->weights_hash != want->best_hash)
		return cnn_errorf(err, at_file(best->path), "this best.ckpt is stale: it holds epoch %d "
		                  "(weights %016llx), the run's record names epoch %d (weights %016llx)",
		                  best->epoch, (unsigned long long)got->weights_hash, want->best_epoch,
		                  (unsigned long long)want->best_hash);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Checking against a layout                                             */

static bool same_shape(const struct checkpoint_tensor *t, const struct param_spec *s)
{
	if (t->ndim != s->ndim)
		return false;
	for (int i = 0; i < t->ndim; i++)
		if (t->dims[i] != s->dims[i])
			return false;
	return true;
}

int checkpoint_check_params(const struct checkpoint *c, const struct net_param *tensors, int n,
                            struct cnn_error *err)
{
	struct cnn_loc at = at_file(c->path);
	char a[64], b[64];
	int i;

	for (i = 0; i < c->n_tensors && i < n; i++) {
		const struct checkpoint_tensor *t = &c->tensors[i];
		const struct net_param *p = &tensors[i];
		if (!strcmp(t->name, p->name) && same_shape(t, &p->spec))
			continue;
		checkpoint_dims_str(t->dims, t->ndim, a, sizeof a);
		checkpoint_dims_str(p->spec.dims, p->spec.ndim, b, sizeof b);
		if (!strcmp(t->name, p->name))
			return cnn_errorf(err, at, "checkpoint has %s %s, the config makes %s",
			                  t->name, a, b);
		return cnn_errorf(err, at, "checkpoint has %s %s where the config makes %s %s",
		                  t->name, a, p->name, b);
	}
	if (i < c->n_tensors) {
		const struct checkpoint_tensor *t = &c->tensors[i];
		checkpoint_dims_str(t->dims, t->ndim, a, sizeof a);
		return cnn_errorf(err, at, "checkpoint has %s %s, which the config does not make "
		                  "(%d parameter tensors in the checkpoint, %d in the config)",
		                  t->name, a, c->n_tensors, n);
	}
	if (i < n) {
		const struct net_param *p = &tensors[i];
		checkpoint_dims_str(p->spec.dims, p->spec.ndim, b, sizeof b);
		return cnn_errorf(err, at, "the config makes %s %s, which the checkpoint lacks "
		                  "(%d parameter tensors in the checkpoint, %d in the config)",
		                  p->name, b, c->n_tensors, n);
	}
	return 0;
}

int checkpoint_check_optim(const struct checkpoint *c, const char *type, int n_states, size_t n,
                           struct cnn_error *err)
{
	struct cnn_loc at = at_file(c->path);

	if (!c->optim_type[0])
		return cnn_errorf(err, at, "checkpoint holds no optimizer state; it cannot resume training");
	if (strcmp(c->optim_type, type))
		return cnn_errorf(err, at, "checkpoint was trained with optimizer %s, the config uses %s",
		                  c->optim_type, type);
	if (c->optim_n_states != n_states || c->optim_n != n)
		return cnn_errorf(err, at, "checkpoint's %s state is %d x %zu floats, the config's is %d x %zu",
		                  c->optim_type, c->optim_n_states, c->optim_n, n_states, n);
	return 0;
}

void checkpoint_copy_params(const struct checkpoint *c, const struct net_param *tensors, float *params)
{
	for (int i = 0; i < c->n_tensors; i++)
		memcpy(params + tensors[i].offset, c->tensors[i].data, c->tensors[i].n * sizeof(float));
}
