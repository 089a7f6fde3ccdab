/* `cnnrun export CKPT --npz FILE | --onnx FILE | --c DIR [--prefix NAME]
 * [--int8]`: the trained model for NumPy and PyTorch, for ONNX runtimes, or
 * as standalone C source. */
#include <string.h>
#include <sys/stat.h>

#include "io/npz.h"
#include "runner/runner.h"

#include "export/export.h"
#include "export/quant.h"
#include "io/fileio.h"
#include "runner/checkpointing.h"
#include "runner/common.h"

/* Calibration images for --int8: enough to see each activation's range,
 * few enough that the export takes a second. */
#define QUANT_CALIBRATION_IMAGES 2000

/* The output replaces its name: never the checkpoint it is made from. */
static int refuse_overwrite(const char *ckpt, const char *path, const char *flag, struct cnn_error *err)
{
	if (!file_same(ckpt, path))
		return 0;
	return cnn_errorf(err, (struct cnn_loc){ path, 0, 0 }, "%s names the checkpoint being exported; "
	                  "choose another file name", flag);
}

static int export_npz(struct saved_model *m, const char *path, FILE *out, struct cnn_error *err)
{
	if (net_export_npz(m->net, path, err))
		return -1;
	fprintf(out, "wrote %s: %d arrays, %zu parameters (", path, m->net->n_param_tensors,
	        m->net->n_params);
	for (int i = 0; i < m->net->n_param_tensors; i++)
		fprintf(out, "%s%s", i ? ", " : "", m->net->param_tensors[i].name);
	fputs(")\n", out);
	return 0;
}

/* --int8: calibrates on training images, prints both test accuracies. */
static int build_int8(struct saved_model *sm, const struct export_model *em, FILE *out,
                      struct quant_model **q, struct cnn_error *err)
{
	struct dataset train = { 0 }, test = { 0 };
	struct eval_buffers b = { 0 };
	int rc = -1;
	if (run_load_split(&sm->cfg, DATA_TRAIN, NULL, true, &train, err) ||
	    run_load_split(&sm->cfg, DATA_TEST, NULL, true, &test, err) ||
	    saved_model_normalize(sm, &train, err) || saved_model_normalize(sm, &test, err) ||
	    eval_buffers_init(&b, sm->net, err))
		goto out;
	int count = train.n < QUANT_CALIBRATION_IMAGES ? train.n : QUANT_CALIBRATION_IMAGES;
	if (quant_build(em, sm->net, &train, count, q, err))
		goto out;
	double loss, acc_float;
	if (run_evaluate(sm->net, &test, &b, NULL, NULL, &loss, &acc_float)) {
		cnn_errorf_plain(err, "%s during the float model's test evaluation", stop_signal_word());
		goto out;
	}
	double acc_int8 = quant_accuracy(*q, &test);
	fprintf(out, "int8: calibrated on %d training images; test accuracy %.4f (float %.4f, %+.2f points)\n",
	        count, acc_int8, acc_float, 100.0 * (acc_int8 - acc_float));
	rc = 0;
out:
	eval_buffers_free(&b);
	dataset_free(&train);
	dataset_free(&test);
	return rc;
}

static int export_c_source(struct saved_model *sm, const struct export_model *em,
                           const struct export_options *o, FILE *out, struct cnn_error *err)
{
	char prefix[64], path[4096];
	struct quant_model *q = NULL;
	struct export_footprint fp;
	if (o->prefix) {
		snprintf(prefix, sizeof prefix, "%s", o->prefix);
	} else {
		export_identifier(em->name, 'm', prefix, sizeof prefix);
	}
	for (int k = 0; k < 2; k++) {
		snprintf(path, sizeof path, "%s/%s.%s", o->c_dir, prefix, k ? "c" : "h");
		if (refuse_overwrite(em->source, path, "--c", err))
			return CNN_BAD_CONFIG;
	}
	if (run_prepare_out_dir(o->c_dir, err) || (o->int8 && build_int8(sm, em, out, &q, err)))
		return -1;
	int rc = export_c(em, q, o->c_dir, prefix, &fp, err);
	if (rc == 0)
		fprintf(out, "wrote %s/%s.h and %s/%s.c (%s): flash %zu bytes (weights), RAM %zu bytes "
		        "(%d activation buffer%s)\n", o->c_dir, prefix, o->c_dir, prefix, q ? "int8" : "float",
		        fp.flash, fp.ram, fp.arenas, fp.arenas == 1 ? "" : "s");
	quant_free(q);
	return rc;
}

int run_export(const char *ckpt, const struct export_options *o, FILE *out, struct cnn_error *err)
{
	struct saved_model m;
	const char *outputs[] = { o->npz, o->onnx }, *flags[] = { "--npz", "--onnx" };
	if (o->prefix && (!export_is_identifier(o->prefix) || strlen(o->prefix) > 48)) {
		cnn_errorf(err, (struct cnn_loc){ "--prefix", 0, 0 }, "'%s' is not a C identifier of at most 48 "
		           "characters (letters, digits and _, not starting with a digit)", o->prefix);
		return CNN_BAD_CONFIG;
	}
	for (size_t k = 0; k < sizeof outputs / sizeof outputs[0]; k++)
		if (outputs[k] && refuse_overwrite(ckpt, outputs[k], flags[k], err))
			return CNN_BAD_CONFIG;
	if (saved_model_open(ckpt, 100, 1, &m, err))
		return CNN_FAILED;
	int status = CNN_FAILED;
	/* the normalisation the checkpoint records, as a dataset would apply it */
	struct dataset scaling = { .shape = m.net->input };
	if (saved_model_normalize(&m, &scaling, err))
		goto out;
	struct export_model em = { .net = m.net, .name = m.cfg.name, .source = ckpt };
	export_normalisation(&scaling, &em);
	if (o->npz && export_npz(&m, o->npz, out, err))
		goto out;
	if (o->onnx) {
		if (export_onnx(&em, o->onnx, err))
			goto out;
		fprintf(out, "wrote %s: ONNX opset 13, input 'pixels' (1, %d, %d, %d) raw 0..255, output "
		        "'probs' (1, %d)\n", o->onnx, m.net->input.c, m.net->input.h, m.net->input.w,
		        m.net->n_classes);
	}
	if (o->c_dir) {
		int rc = export_c_source(&m, &em, o, out, err);
		if (rc) {
			status = rc == CNN_BAD_CONFIG ? CNN_BAD_CONFIG : CNN_FAILED;
			goto out;
		}
	}
	status = CNN_OK;
out:
	saved_model_close(&m);
	return status;
}
