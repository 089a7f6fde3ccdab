/* Training's side of checkpoints: stop requests by signal, and the check
 * that a checkpoint belongs to the config it is resumed with. Internal to
 * src/runner. */
#ifndef CNN_RUNNER_CHECKPOINTING_H
#define CNN_RUNNER_CHECKPOINTING_H

#include <signal.h>
#include <stdbool.h>

#include "cnn/checkpoint.h"
#include "cnn/config.h"

/* SIGINT and SIGTERM only set a flag, which training reads between
 * batches; saving is atomic, so a second signal while saving changes
 * nothing. SIGINT stays ignored where it was (a background job of a
 * script), as nohup-style callers expect. */
struct stop_signals {
	struct sigaction old_int, old_term;
	bool have_int, have_term;
};

void stop_signals_catch(struct stop_signals *s);
void stop_signals_restore(struct stop_signals *s);
int stop_signal_pending(void);   /* the signal received, 0: none */

/* The config keys whose change would make the saved state meaningless:
 * the network's shape, the validation split and the order (seed, split
 * size), and the batch counters (batch size). */
int resume_check_config(const struct checkpoint *c, struct cfg_node *root, struct cnn_error *err);

#endif
