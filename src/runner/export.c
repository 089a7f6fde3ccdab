/* `cnnrun export CKPT --npz FILE`: the weights for NumPy and PyTorch. */
#include "cnn/npz.h"
#include "cnn/runner.h"

#include "io/fileio.h"
#include "runner/common.h"

int run_export(const char *ckpt, const char *npz_path, FILE *out, struct cnn_error *err)
{
	struct saved_model m;
	/* The output replaces its name: never the checkpoint it is made from. */
	if (file_same(ckpt, npz_path)) {
		cnn_errorf(err, (struct cnn_loc){ npz_path, 0, 0 }, "--npz names the checkpoint being exported; "
		           "choose another file name");
		return CNN_BAD_CONFIG;
	}
	if (saved_model_open(ckpt, 1, 1, &m, err))
		return CNN_FAILED;
	int status = CNN_FAILED;
	if (net_export_npz(m.net, npz_path, err))
		goto out;
	fprintf(out, "wrote %s: %d arrays, %zu parameters (", npz_path, m.net->n_param_tensors,
	        m.net->n_params);
	for (int i = 0; i < m.net->n_param_tensors; i++)
		fprintf(out, "%s%s", i ? ", " : "", m.net->param_tensors[i].name);
	fputs(")\n", out);
	status = CNN_OK;
out:
	saved_model_close(&m);
	return status;
}
