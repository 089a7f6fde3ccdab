/* A trained model read back from a checkpoint, without the training
 * builder: the checkpoint, its resolved config parsed, and the model part of
 * that config built (model_config_build_model). Shared by the public API
 * (src/api/api.c) and the runner's eval, predict and export. Internal. */
#ifndef CNN_API_SAVED_H
#define CNN_API_SAVED_H

#include "builder/builder.h"
#include "io/checkpoint.h"
#include "config/config.h"

/* Fills the three (each zeroed first; on failure they hold nothing to
 * free), the checkpoint without its optimizer state (checkpoint_load_model:
 * a saved model predicts, it is not trained on). Errors name the file:
 * checkpoint_load's for a bad file, and "the
 * config saved in this checkpoint is not usable: ..." for a config that
 * does not make a network. *bad_config (may be NULL) tells the two apart. */
int saved_config_load(const char *path, struct checkpoint *ckpt, struct cfg_doc *doc,
                      struct model_config *cfg, int *bad_config, struct cnn_error *err);

/* Frees what saved_config_load filled (in reverse order). */
void saved_config_free(struct checkpoint *ckpt, struct cfg_doc *doc, struct model_config *cfg);

#endif
