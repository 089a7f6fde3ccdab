/* Progress while training: on a terminal, one line per epoch redrawn in
 * place (batches, running loss and accuracy, images/s, ETA) and then replaced
 * by the epoch's summary; elsewhere (CI, a pipe, a file), plain lines only,
 * at most one every few seconds, plus the summaries. Progress goes to
 * stderr; the epoch summaries are results and go to stdout. */
#ifndef CNN_PROGRESS_H
#define CNN_PROGRESS_H

#include <stdbool.h>

#include "cnn/report.h"

struct progress {
	int epochs, epoch, batches;
	bool quiet, tty;
	double epoch_start, last_draw;
};

void progress_init(struct progress *p, int epochs, bool quiet);
void progress_epoch_start(struct progress *p, int epoch, int batches);
void progress_batch(struct progress *p, int batch, long images, double loss, double accuracy);
void progress_epoch_end(struct progress *p, const struct epoch_record *rec);

#endif
