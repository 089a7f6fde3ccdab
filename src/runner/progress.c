#include <math.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "runner/progress.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(struct progress *p, int epochs, bool quiet)
{
	p->epochs = epochs;
	p->quiet = quiet;
	p->tty = isatty(fileno(stderr));
	if (!quiet)
		printf("%5s %10s %9s %10s %9s %8s %10s\n", "epoch", "loss", "accuracy", "val_loss",
		       "val_acc", "seconds", "images/s");
	fflush(stdout);
}

void progress_epoch_start(struct progress *p, int epoch, int batches)
{
	p->epoch = epoch;
	p->batches = batches;
	p->epoch_start = p->last_draw = now();
}

void progress_batch(struct progress *p, int batch, long images, double loss, double accuracy)
{
	if (p->quiet)
		return;
	double t = now();
	/* a terminal is redrawn ten times a second; a log gets a line every 10 s */
	if (t - p->last_draw < (p->tty ? 0.1 : 10.0) || batch == p->batches)
		return;
	p->last_draw = t;
	double elapsed = t - p->epoch_start;
	double eta = elapsed / batch * (p->batches - batch);
	if (p->tty) {
		int width = 20, done = (int)((double)width * batch / p->batches);
		char bar[32];
		for (int i = 0; i < width; i++)
			bar[i] = i < done ? '=' : i == done ? '>' : '.';
		bar[width] = '\0';
		fprintf(stderr, "\r%d/%d [%s] %d/%d - loss %.4f - acc %.4f - %.0f img/s - ETA %.0fs \033[K",
		        p->epoch, p->epochs, bar, batch, p->batches, loss, accuracy, images / elapsed, eta);
	} else {
		fprintf(stderr, "epoch %d/%d: batch %d/%d, loss %.4f, acc %.4f, %.0f img/s, ETA %.0fs\n",
		        p->epoch, p->epochs, batch, p->batches, loss, accuracy, images / elapsed, eta);
	}
	fflush(stderr);
}

void progress_epoch_end(struct progress *p, const struct epoch_record *rec)
{
	if (p->quiet)
		return;
	if (p->tty)
		fputs("\r\033[K", stderr);
	fflush(stderr);
	printf("%5d %10.4f %9.4f ", rec->epoch, rec->loss, rec->accuracy);
	if (isnan(rec->val_loss))
		printf("%10s %9s ", "-", "-");
	else
		printf("%10.4f %9.4f ", rec->val_loss, rec->val_accuracy);
	printf("%8.2f %10.0f\n", rec->seconds, rec->images_per_second);
	fflush(stdout);
}
