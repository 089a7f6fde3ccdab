/* `cnnrun export CKPT --npz FILE`: the weights for NumPy and PyTorch. */
#include "cnn/npz.h"
#include "cnn/runner.h"

#include "runner/common.h"

int run_export(const char *ckpt, const char *npz_path, FILE *out, struct cnn_error *err)
{
	struct saved_model m;
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
