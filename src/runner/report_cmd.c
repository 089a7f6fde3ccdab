/* `cnnrun report RUN_DIR`: rebuilds report.md and the pictures of a run
 * folder from its data files (metrics.json, history.csv, and batches.csv
 * and mistakes.bin when present), without the network or the dataset. */
#include "report/report.h"
#include "runner/runner.h"

#include "io/fileio.h"
#include "report/figures.h"

/* The files report reads and the ones it writes: an output that is (a hard
 * link to) an input is refused before anything is written. */
static const char *const report_inputs[] = { "metrics.json", "history.csv", "batches.csv", "mistakes.bin" };

static int check_outputs(const char *dir, struct cnn_error *err)
{
	const char *outputs[FIG_COUNT + 1] = { "report.md" };
	char in[4200], outp[4200];
	for (int i = 0; i < FIG_COUNT; i++)
		outputs[i + 1] = figure_file((enum figure)i);
	for (size_t i = 0; i < sizeof report_inputs / sizeof report_inputs[0]; i++)
		for (int o = 0; o < FIG_COUNT + 1; o++) {
			snprintf(in, sizeof in, "%s/%s", dir, report_inputs[i]);
			snprintf(outp, sizeof outp, "%s/%s", dir, outputs[o]);
			if (file_same(in, outp))
				return cnn_errorf(err, (struct cnn_loc){ outp, 0, 0 }, "is the same file as %s, which "
				                  "report reads; remove the link first", in);
		}
	return 0;
}

int run_report(const char *dir, FILE *out, struct cnn_error *err)
{
	struct report_loaded *loaded;
	const struct run_result *r;

	if (check_outputs(dir, err) || report_load(dir, &loaded, &r, err))
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
