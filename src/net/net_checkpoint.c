/* A network and its optimizer to and from a checkpoint (net_checkpoint.h):
 * their flat arrays handed to src/io/checkpoint.c, which writes and checks
 * them without knowing either struct. */
#include <string.h>

#include "net/net_checkpoint.h"
#include "net/net.h"
#include "optim/optim.h"

int checkpoint_save(const char *path, const struct net *net, const struct optim *opt,
                    const struct checkpoint *state, struct cnn_error *err)
{
	struct checkpoint_arrays a = { .tensors = net->param_tensors, .n_tensors = net->n_param_tensors,
	                               .params = net->params };
	if (opt) {
		CNN_ASSERT(opt->n == net->n_params);
		a.optim_type = opt->ops->type;
		a.optim_t = opt->t;
		a.optim_n_states = opt->ops->n_states;
		a.optim_n = opt->n;
		a.optim_state = opt->state;
	}
	return checkpoint_write(path, &a, state, err);
}

int checkpoint_apply(const struct checkpoint *c, struct net *net, struct optim *opt,
                     struct cnn_error *err)
{
	/* Check everything before changing anything. */
	if (checkpoint_check_params(c, net->param_tensors, net->n_param_tensors, err) ||
	    (opt && checkpoint_check_optim(c, opt->ops->type, opt->ops->n_states, opt->n, err)))
		return -1;
	checkpoint_copy_params(c, net->param_tensors, net->params);
	if (opt) {
		opt->t = c->optim_t;
		memcpy(opt->state, c->optim_state, (size_t)c->optim_n_states * c->optim_n * sizeof(float));
	}
	return 0;
}

uint64_t checkpoint_net_hash(const struct net *net)
{
	return checkpoint_params_hash(net->param_tensors, net->n_param_tensors, net->params);
}
