/* The pictures of a run folder, drawn from a struct run_result:
 *   loss.svg       training loss per batch (light), smoothed, per epoch;
 *                  validation loss per epoch
 *   accuracy.svg   training and validation accuracy per epoch
 *   confusion.svg  the test confusion matrix as a heat map
 *   mistakes.png   the most confidently misclassified test images */
#ifndef CNN_REPORT_FIGURES_H
#define CNN_REPORT_FIGURES_H

#include <stdbool.h>

#include "report/report.h"

enum figure { FIG_LOSS, FIG_ACCURACY, FIG_CONFUSION, FIG_MISTAKES, FIG_COUNT };

/* The file name of a figure ("loss.svg"). */
const char *figure_file(enum figure fig);
/* Whether r holds what the figure needs (a run with no history has no
 * curves, one without recorded mistakes no mistakes.png). */
bool figure_available(const struct run_result *r, enum figure fig);

/* Writes every available figure into dir. */
int figures_write(const char *dir, const struct run_result *r, struct cnn_error *err);

/* The mistakes grid as an RGB image (for tests and mistakes.png). */
struct canvas;
int figure_mistakes_image(const struct run_result *r, struct canvas *out);

#endif
