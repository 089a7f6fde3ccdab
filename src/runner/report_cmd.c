/* `cnnrun report RUN_DIR`: rebuilds report.md and the pictures of a run
 * folder from its data files (metrics.json, history.csv, and batches.csv
 * and mistakes.bin when present), without the network or the dataset. */
#include "cnn/report.h"
#include "cnn/runner.h"

#include "report/figures.h"

int run_report(const char *dir, FILE *out, struct cnn_error *err)
{
	struct report_loaded *loaded;
	const struct run_result *r;

	if (report_load(dir, &loaded, &r, err))
		return CNN_FAILED;
	if (report_write_views(dir, r, err)) {
		report_loaded_free(loaded);
		return CNN_FAILED;
	}
	fprintf(out, "rebuilt %s/report.md", dir);
	for (int i = 0; i < FIG_COUNT; i++)
		if (figure_available(r, (enum figure)i))
			fprintf(out, ", %s", figure_file((enum figure)i));
	fputc('\n', out);
	report_loaded_free(loaded);
	return CNN_OK;
}
