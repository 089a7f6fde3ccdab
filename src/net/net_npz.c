/* A network's parameters as an .npz, in PyTorch's names and layouts, so
 * numpy.load and torch's load_state_dict (after renaming layers) take it
 * as is; and the way back, for `init: {from: FILE.npz}`. */
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "net/net.h"
#include "io/npz.h"

int net_export_npz(const struct net *net, const char *path, struct cnn_error *err)
{
	struct npz_writer *w;

	if (npz_writer_open(path, false, &w, err))
		return -1;
	for (int i = 0; i < net->n_param_tensors; i++) {
		const struct net_param *p = &net->param_tensors[i];
		size_t dims[NPY_MAX_DIMS];
		for (int d = 0; d < p->spec.ndim; d++)
			dims[d] = (size_t)p->spec.dims[d];
		if (npz_writer_add(w, p->name, NPY_FLOAT32, p->spec.ndim, dims,
		                   net->params + p->offset, err)) {
			npz_writer_abort(w);
			return -1;
		}
	}
	return npz_writer_close(w, err);
}

static const char *npy_dims_str(const struct npy_array *a, char *buf, size_t len)
{
	size_t used = 0;

	snprintf(buf, len, "a scalar");
	for (int i = 0; i < a->ndim && used < len; i++) {
		int n = snprintf(buf + used, len - used, i ? "x%zu" : "%zu", a->dims[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}

static bool same_shape(const struct npy_array *a, const struct param_spec *s)
{
	if (a->ndim != s->ndim)
		return false;
	for (int i = 0; i < a->ndim; i++)
		if (a->dims[i] != (size_t)s->dims[i])
			return false;
	return true;
}

/* Every file array is a net tensor, and the reverse, with equal shapes. */
static int check_arrays(const struct net *net, const struct npz_archive *a, const char *path,
                        struct cnn_error *err)
{
	struct cnn_loc at = { path, 0, 0 };
	char want[64], got[64];

	for (int i = 0; i < net->n_param_tensors; i++) {
		const struct net_param *p = &net->param_tensors[i];
		const struct npy_array *x = npz_find(a, p->name);
		checkpoint_dims_str(p->spec.dims, p->spec.ndim, want, sizeof want);
		if (!x)
			return cnn_errorf(err, at, "has no array '%s' (%s), which the config makes",
			                  p->name, want);
		if (x->type != NPY_FLOAT32)
			return cnn_errorf(err, at, "array '%s' is not floating point ('<f4' or '<f8')",
			                  p->name);
		if (!same_shape(x, &p->spec))
			return cnn_errorf(err, at, "file has %s %s, the config makes %s %s", p->name,
			                  npy_dims_str(x, got, sizeof got), p->name, want);
	}
	for (int i = 0; i < a->n; i++) {
		bool known = false;
		for (int j = 0; j < net->n_param_tensors && !known; j++)
			known = !strcmp(a->arrays[i].name, net->param_tensors[j].name);
		if (!known)
			return cnn_errorf(err, at, "array '%s' matches no parameter the config makes",
			                  a->arrays[i].name);
	}
	return 0;
}

int net_import_npz(struct net *net, const char *path, struct cnn_error *err)
{
	struct npz_archive a;

	if (npz_read(path, &a, err))
		return -1;
	if (check_arrays(net, &a, path, err)) {
		npz_archive_free(&a);
		return -1;
	}
	for (int i = 0; i < net->n_param_tensors; i++) {
		const struct net_param *p = &net->param_tensors[i];
		memcpy(net->params + p->offset, npz_find(&a, p->name)->data, p->spec.n * sizeof(float));
	}
	npz_archive_free(&a);
	return 0;
}
