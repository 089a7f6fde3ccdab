/* Fuzz target: metrics.json of a run folder (untrusted: copied, shared, edited), read by
 * report_load as `cnnrun report` and `compare` do, then drawn into the
 * report's pictures and report.md. */
#include "report/report.h"
#include "scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cnn_error err;
	struct report_loaded *l;
	const struct run_result *r;
	const char *dir = fuzz_scratch_run("metrics.json", data, size);
	if (!dir || report_load(dir, &l, &r, &err))
		return 0;
	report_write_views(dir, r, &err);
	report_loaded_free(l);
	return 0;
}
