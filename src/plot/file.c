/* plot_join (see file.h). */
#include "plot/file.h"

#include <stdio.h>

int plot_join(char *buf, size_t len, const char *dir, const char *name, struct cnn_error *err)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len)
		return cnn_errorf_plain(err, "path too long: %s/%s", dir, name);
	return 0;
}
