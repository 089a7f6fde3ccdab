/* The picture of a network (network.svg, `cnnrun summary --svg`): one box
 * per layer with its name, type, output shape and parameter count, arrows
 * for the data flow, and branches side by side. */
#ifndef CNN_PLOT_NETWORK_H
#define CNN_PLOT_NETWORK_H

#include <stdio.h>

#include "net/net.h"

/* A plot_writer (plot/file.h): ctx is the const struct net. */
int network_svg_write(FILE *f, const void *net, struct cnn_error *err);

#endif
