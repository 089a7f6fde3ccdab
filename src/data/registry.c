/* The data formats, one line each: `data: {format: NAME}` finds its table
 * here. Adding a format is one file in src/data/ and one line below. */
#include <string.h>

#include "data/data.h"

extern const struct data_format mnist_format;    /* mnist.c: MNIST's IDX files or mnist.npz */
extern const struct data_format idx_format;      /* format_idx.c: any IDX pair per split */
extern const struct data_format folder_format;   /* format_folder.c: DIR/{train,val,test}/<class>/ */
extern const struct data_format list_format;     /* format_list.c: `path label` lines */
extern const struct data_format cifar10_format;  /* format_cifar.c: CIFAR-10's binary version */
extern const struct data_format cifar100_format; /* format_cifar.c: CIFAR-100's */

static const struct data_format *const formats[] = {
	&mnist_format,
	&idx_format,
	&folder_format,
	&list_format,
	&cifar10_format,
	&cifar100_format,
};

const struct data_format *const *data_formats(int *count)
{
	*count = (int)(sizeof formats / sizeof formats[0]);
	return formats;
}

const struct data_format *data_format_find(const char *name)
{
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
		if (!strcmp(formats[i]->name, name))
			return formats[i];
	return NULL;
}
