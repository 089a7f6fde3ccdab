/* Stop requests and resume checks. See checkpointing.h. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runner/checkpointing.h"

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	/* The second signal: the user means it. _exit is async-signal-safe;
	 * anything half written is a temporary, removed on the next run. */
	if (stop_signal)
		_exit(130);
	stop_signal = sig;
}

/* Installs sa for sig unless sig is ignored (nohup, a script's background job). */
static bool catch_one(int sig, const struct sigaction *sa, struct sigaction *old)
{
	return sigaction(sig, NULL, old) == 0 && old->sa_handler != SIG_IGN && sigaction(sig, sa, NULL) == 0;
}

void stop_signals_catch(struct stop_signals *s)
{
	struct sigaction sa, ign;

	memset(s, 0, sizeof *s);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	/* SA_RESTART: a signal arriving during a checkpoint's write or fsync
	 * must not turn into an EINTR "cannot write" error. */
	sa.sa_flags = SA_RESTART;
	stop_signal = 0;
	s->have_int = catch_one(SIGINT, &sa, &s->old_int);
	s->have_term = sigaction(SIGTERM, &sa, &s->old_term) == 0;
	s->have_hup = catch_one(SIGHUP, &sa, &s->old_hup);
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	s->have_pipe = sigaction(SIGPIPE, &ign, &s->old_pipe) == 0;
}

void stop_signals_restore(struct stop_signals *s)
{
	if (s->have_int)
		sigaction(SIGINT, &s->old_int, NULL);
	if (s->have_term)
		sigaction(SIGTERM, &s->old_term, NULL);
	if (s->have_hup)
		sigaction(SIGHUP, &s->old_hup, NULL);
	if (s->have_pipe)
		sigaction(SIGPIPE, &s->old_pipe, NULL);
	s->have_int = s->have_term = s->have_hup = s->have_pipe = false;
}

int stop_signal_pending(void)
{
	return stop_signal;
}

const char *stop_signal_word(void)
{
	switch (stop_signal) {
	case SIGTERM: return "terminated";
	case SIGHUP:  return "hung up";
	default:      return "interrupted";
	}
}

struct difference {
	char path[256];                 /* "layers.0.filters" */
	const struct cfg_node *mine;    /* in the config given; NULL: absent */
	const struct cfg_node *saved;   /* in the checkpoint's; NULL: absent */
};

static size_t path_push(struct difference *d, size_t at, const char *key, int index)
{
	int n = key ? snprintf(d->path + at, sizeof d->path - at, "%s%s", at ? "." : "", key)
	            : snprintf(d->path + at, sizeof d->path - at, ".%d", index);
	return n < 0 || (size_t)n >= sizeof d->path - at ? sizeof d->path - 1 : at + (size_t)n;
}

static bool differs(const struct cfg_node *a, const struct cfg_node *b, struct difference *d)
{
	d->mine = a;
	d->saved = b;
	return true;
}

/* The first place where trees a (the config given) and b (the checkpoint's)
 * differ, by value: key order and positions do not count. */
static bool find_difference(const struct cfg_node *a, const struct cfg_node *b,
                            struct difference *d, size_t at)
{
	d->path[at] = '\0';
	if (!a || !b || a->kind != b->kind)
		return differs(a, b, d);
	if (a->kind == CFG_SCALAR)
		return strcmp(a->text, b->text) ? differs(a, b, d) : false;
	if (a->kind == CFG_SEQ) {
		for (int i = 0; i < a->n || i < b->n; i++) {
			size_t next = path_push(d, at, NULL, i);
			if (find_difference(i < a->n ? a->vals[i] : NULL, i < b->n ? b->vals[i] : NULL, d, next))
				return true;
		}
		d->path[at] = '\0';
		return false;
	}
	for (int i = 0; i < a->n; i++) {
		size_t next = path_push(d, at, a->keys[i], 0);
		if (find_difference(a->vals[i], cfg_peek(b, a->keys[i]), d, next))
			return true;
	}
	for (int i = 0; i < b->n; i++) {
		if (cfg_peek(a, b->keys[i]))
			continue;
		path_push(d, at, b->keys[i], 0);
		return differs(NULL, b->vals[i], d);
	}
	d->path[at] = '\0';
	return false;
}

static const char *describe(const struct cfg_node *n, char *buf, size_t len)
{
	if (!n)
		snprintf(buf, len, "absent");
	else if (n->kind == CFG_SCALAR)
		snprintf(buf, len, "%s", n->text);
	else
		snprintf(buf, len, "%s of %d", n->kind == CFG_MAP ? "a mapping" : "a list", n->n);
	return buf;
}

static const char *const resume_keys[][2] = {
	{ "input", NULL }, { "layers", NULL }, { "seed", NULL },
	{ "data", "validation" }, { "train", "batch" },
};

int resume_check_config(const struct checkpoint *c, struct cfg_node *root, struct cnn_error *err)
{
	struct cfg_doc saved;
	struct difference d;
	char mine[64], theirs[64];
	int rc = 0;

	if (cfg_load_string(c->config_text, strlen(c->config_text), c->path, &saved, err))
		return cnn_errorf(err, (struct cnn_loc){ c->path, 0, 0 },
		                  "the config saved in this checkpoint cannot be read");
	for (size_t i = 0; i < sizeof resume_keys / sizeof resume_keys[0]; i++) {
		const char *key = resume_keys[i][0], *sub = resume_keys[i][1];
		const struct cfg_node *a = cfg_peek(root, key), *b = cfg_peek(saved.root, key);
		size_t at = path_push(&d, 0, key, 0);
		if (sub) {
			a = cfg_peek(a, sub);
			b = cfg_peek(b, sub);
			at = path_push(&d, at, sub, 0);
		}
		if (!find_difference(a, b, &d, at))
			continue;
		/* At the value in the user's config where there is one. */
		struct cnn_loc loc = d.mine ? d.mine->loc : root->loc;
		rc = cnn_errorf(err, loc, "'%s' is %s here but %s in checkpoint %s; resuming needs the same "
		                "input, layers, seed, data.validation and train.batch (the run's config.yaml has them)",
		                d.path, describe(d.mine, mine, sizeof mine), describe(d.saved, theirs, sizeof theirs),
		                c->path);
		break;
	}
	cfg_free(&saved);
	return rc;
}
