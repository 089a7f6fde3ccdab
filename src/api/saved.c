/* A model's config read back from a checkpoint. See saved.h. */
#include <string.h>

#include "api/saved.h"

/* The config inside a checkpoint was written by a cnnrun and is covered by
 * the CRC, so an error here means another version or a crafted file: say
 * so rather than point at lines of a file the user never saw. */
static int saved_config_error(const char *path, struct cnn_error *err)
{
	char buf[sizeof err->msg];
	struct cnn_error inner = *err;
	return cnn_errorf(err, (struct cnn_loc){ path, 0, 0 }, "the config saved in this checkpoint is not usable: %s",
	                  cnn_error_str(&inner, buf, sizeof buf));
}

int saved_config_load(const char *path, struct checkpoint *ckpt, struct cfg_doc *doc,
                      struct model_config *cfg, int *bad_config, struct cnn_error *err)
{
	memset(doc, 0, sizeof *doc);
	memset(cfg, 0, sizeof *cfg);
	if (bad_config)
		*bad_config = 0;
	if (checkpoint_load_model(path, ckpt, err))
		return -1;
	const char *text = ckpt->config_text;
	if (cfg_load_string(text, strlen(text), path, doc, err) || model_config_build_model(doc, cfg, err)) {
		saved_config_error(path, err);
		if (bad_config)
			*bad_config = 1;
		saved_config_free(ckpt, doc, cfg);
		return -1;
	}
	return 0;
}

void saved_config_free(struct checkpoint *ckpt, struct cfg_doc *doc, struct model_config *cfg)
{
	model_config_free(cfg);
	cfg_free(doc);
	checkpoint_free(ckpt);
}
