/* Checkpoints of a network and its optimizer: the glue between struct net
 * and struct optim and the file format of src/io/checkpoint.h, which knows
 * only flat arrays. */
#ifndef CNN_NET_CHECKPOINT_H
#define CNN_NET_CHECKPOINT_H

#include <stdint.h>

#include "io/checkpoint.h"
#include "util/error.h"

struct net;
struct optim;

/* Writes net's parameters, opt's state (opt may be NULL: no optimizer
 * section) and state's run fields to path, atomically. */
int checkpoint_save(const char *path, const struct net *net, const struct optim *opt,
                    const struct checkpoint *state, struct cnn_error *err);

/* Copies the parameters into net and, if opt is not NULL, the optimizer's
 * step count and state into opt. Every tensor's name and shape must match
 * the net's, in order, and the optimizer's type and size must match opt;
 * otherwise nothing is changed and the message says what differs
 * ("checkpoint has conv1.weight 8x1x5x5, the config makes 4x1x5x5"). */
int checkpoint_apply(const struct checkpoint *c, struct net *net, struct optim *opt,
                     struct cnn_error *err);

/* checkpoint_params_hash of net's parameters: what a checkpoint of it
 * records in PROV. */
uint64_t checkpoint_net_hash(const struct net *net);

#endif
