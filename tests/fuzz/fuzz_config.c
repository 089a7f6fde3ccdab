/* Fuzz target: config text through the loader, --set and the builder. */
#include <stddef.h>
#include <stdint.h>

#include "builder/builder.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_doc doc;
	struct model_config c;
	struct cnn_error err;
	char msg[1024];
	if (cfg_load_string((const char *)data, size, "fuzz.yaml", &doc, &err)) {
		cnn_error_str(&err, msg, sizeof msg);
		return 0;
	}
	/* exercise the override path on whatever tree came out */
	if (cfg_set(&doc, "train.epochs=1", &err) == 0 && model_config_build(&doc, &c, &err) == 0)
		model_config_free(&c);
	cfg_free(&doc);
	return 0;
}
