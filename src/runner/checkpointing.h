/* Training's side of checkpoints: stop requests by signal, and the check
 * that a checkpoint belongs to the config it is resumed with. Internal to
 * src/runner. */
#ifndef CNN_RUNNER_CHECKPOINTING_H
#define CNN_RUNNER_CHECKPOINTING_H

#include <signal.h>
#include <stdbool.h>

#include "io/checkpoint.h"
#include "config/config.h"

/* SIGINT, SIGTERM and SIGHUP (a closed terminal or ssh session) only set a
 * flag, which training reads between batches and evaluation between its
 * batches; saving is atomic. A second one ends the process at once with
 * status 130, whatever it is doing (even inside a library call that never
 * returns). SIGPIPE is ignored while caught: a closed stdout makes the
 * prints fail (EPIPE), and training goes on to save its results. SIGINT
 * stays ignored where it was (a background job of a script), as
 * nohup-style callers expect, and so does SIGHUP under nohup. */
struct stop_signals {
	struct sigaction old_int, old_term, old_hup, old_pipe;
	bool have_int, have_term, have_hup, have_pipe;
};

void stop_signals_catch(struct stop_signals *s);
void stop_signals_restore(struct stop_signals *s);
int stop_signal_pending(void);   /* the signal received, 0: none */
/* "interrupted" (SIGINT), "terminated" (SIGTERM), "hung up" (SIGHUP). */
const char *stop_signal_word(void);

/* The config keys whose change would make the saved state meaningless:
 * the network's shape, the validation split and the order (seed, split
 * size), and the batch counters (batch size). */
int resume_check_config(const struct checkpoint *c, struct cfg_node *root, struct cnn_error *err);

#endif
