/* Helpers for the config and builder tests: load and build from a YAML
 * string named "t.yaml", get the full positioned error text, write a tree
 * to a string, and compare two trees. */
#ifndef CNN_BUILD_HELPERS_H
#define CNN_BUILD_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/builder.h"
#include "net/net.h"
#include "config/config.h"

/* The name every helper gives the document, so messages start "t.yaml:". */
#define BH_FILE "t.yaml"

/* cfg_load_string(yaml, strlen(yaml), "t.yaml"). On failure the document is
 * already freed and msg holds the full error ("t.yaml:L:C: ..."). */
int bh_load(const char *yaml, struct cfg_doc *doc, char *msg, size_t len);

/* Loads and builds. On success the caller owns doc and cfg (strings in cfg
 * point into doc): model_config_free(cfg) then cfg_free(doc). On failure
 * both are freed and msg holds the full error. */
int bh_build(const char *yaml, struct cfg_doc *doc, struct model_config *cfg,
             char *msg, size_t len);

/* Loads and builds a config expected to be refused, frees everything, and
 * returns the full error in buf; NULL (and nothing left allocated) if the
 * config was accepted. */
/* Builds a network from YAML text (the layers of a full config), planned
 * for `batch` on `threads`; fails the test on any error. */
struct net *bh_net(const char *yaml, int batch, int threads, uint64_t seed);

/* Fills net->x with n samples uniform in [-1, 1] and labels[n] with
 * classes 0..9, from seed. */
void bh_fill_batch(struct net *net, int n, int *labels, uint64_t seed);

/* Fills net->x and labels[n] for training step `step` of bh_train_adam. */
typedef void (*bh_fill_fn)(struct net *net, int n, int *labels, int step, void *ctx);

/* Trains `steps` steps of Adam (lr 0.01, betas 0.9 and 0.999, eps 1e-8) on
 * batches of n samples that fill makes; losses[s] and corrects[s] receive
 * each step's summed loss and correct count when not NULL. */
void bh_train_adam(struct net *net, int n, int steps, bh_fill_fn fill, void *ctx,
                   double *losses, int *corrects);

/* A malloc'd copy of the network's parameters; *count their number. */
float *bh_params_copy(const struct net *net, size_t *count);

const char *bh_error(const char *yaml, char *buf, size_t len);

/* The tree written by cfg_write_yaml / cfg_write_json, as a malloc'd string. */
char *bh_yaml_text(const struct cfg_node *n);
char *bh_json_text(const struct cfg_node *n, int indent);

/* Same shape, keys (in order), scalar texts and quoted flags; positions and
 * the implicit/used flags are ignored. On a difference, describes the first
 * one in why (may be NULL). */
bool bh_tree_equal(const struct cfg_node *a, const struct cfg_node *b, char *why, size_t len);

#endif
