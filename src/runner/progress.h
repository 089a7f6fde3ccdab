/* Progress while training: on a terminal, one line per epoch redrawn in
 * place (batches, running loss and accuracy, images/s, ETA) and then replaced
 * by the epoch's summary; elsewhere (CI, a pipe, a file), plain lines only,
 * at most one every PROGRESS_LOG_SECONDS, plus the summaries. Progress goes
 * to stderr; the epoch summaries (and --verbose's layer times) are results
 * and go to stdout. */
#ifndef CNN_PROGRESS_H
#define CNN_PROGRESS_H

#include <stdbool.h>

#include "net/net.h"
#include "report/report.h"

/* A log line every 10 s is enough to see a run is alive without burying
 * the epoch summaries; a terminal is redrawn ten times a second. */
#define PROGRESS_LOG_SECONDS 10.0
#define PROGRESS_TTY_SECONDS 0.1

struct progress {
	int epochs, epoch, batches;
	bool quiet, verbose, tty;
	double epoch_start, last_draw;
};

void progress_init(struct progress *p, int epochs, bool quiet, bool verbose);
void progress_epoch_start(struct progress *p, int epoch, int batches);
void progress_batch(struct progress *p, int batch, long images, double loss, double accuracy);
void progress_epoch_end(struct progress *p, const struct epoch_record *rec);

/* --verbose: each layer's forward and backward seconds in the epoch just
 * ended (seconds: as struct net's layer_seconds), with its share of the total. */
void progress_layer_times(struct progress *p, const struct net *net, const double *seconds);

/* "42s", "3:07", "1:02:03": Keras's ETA format. */
void progress_format_duration(double seconds, char *buf, size_t len);

#endif
