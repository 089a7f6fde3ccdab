#include <stdio.h>

#include "util/shape.h"

void shape_str(struct shape s, char *buf, size_t len)
{
	if (s.h == 1 && s.w == 1)
		snprintf(buf, len, "%d", s.c);
	else
		snprintf(buf, len, "%dx%dx%d", s.c, s.h, s.w);
}
