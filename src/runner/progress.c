/* Training progress (see progress.h). */
#include "runner/progress.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 20

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_format_duration(double seconds, char *buf, size_t len)
{
	long s = isfinite(seconds) && seconds > 0 ? lround(seconds) : 0;

	if (s < 60)
		snprintf(buf, len, "%lds", s);
	else if (s < 3600)
		snprintf(buf, len, "%ld:%02ld", s / 60, s % 60);
	else
		snprintf(buf, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
}

void progress_init(struct progress *p, int epochs, bool quiet, bool verbose)
{
	p->epochs = epochs;
	p->quiet = quiet;
	p->verbose = verbose && !quiet;
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

/* "[=======>............]" for batch of batches. */
static void bar(char *buf, int batch, int batches)
{
	int done = (int)((double)BAR_WIDTH * batch / batches);

	buf[0] = '[';
	for (int i = 0; i < BAR_WIDTH; i++)
		buf[1 + i] = i < done ? '=' : i == done ? '>' : '.';
	buf[BAR_WIDTH + 1] = ']';
	buf[BAR_WIDTH + 2] = '\0';
}

void progress_batch(struct progress *p, int batch, long images, double loss, double accuracy)
{
	double t, elapsed;
	char eta[32], b[BAR_WIDTH + 3];

	if (p->quiet || batch == p->batches)
		return;
	t = now();
	if (t - p->last_draw < (p->tty ? PROGRESS_TTY_SECONDS : PROGRESS_LOG_SECONDS))
		return;
	p->last_draw = t;
	elapsed = t - p->epoch_start;
	progress_format_duration(elapsed / batch * (p->batches - batch), eta, sizeof eta);
	if (p->tty) {
		bar(b, batch, p->batches);
		/* \r and "erase to end of line": the next draw replaces this one */
		fprintf(stderr, "\rEpoch %d/%d %s %d/%d - loss %.4f - acc %.4f - %.0f img/s - ETA %s\033[K",
		        p->epoch, p->epochs, b, batch, p->batches, loss, accuracy, images / elapsed, eta);
	} else {
		fprintf(stderr, "epoch %d/%d: batch %d/%d, loss %.4f, acc %.4f, %.0f img/s, ETA %s\n",
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

void progress_layer_times(struct progress *p, const struct net *net, const double *seconds)
{
	double total = 0;
	int n = net->n_layers;

	if (!p->verbose)
		return;
	for (int i = 0; i < 2 * n; i++)
		total += seconds[i];
	printf("      layer times, epoch %d (thread 0; training steps only):\n", p->epoch);
	printf("      %3s  %-16s %-14s %10s %10s %7s\n", "#", "layer", "type", "forward s",
	       "backward s", "share");
	for (int i = 0; i < n; i++) {
		const struct layer *l = net->layers[i];
		double both = seconds[i] + seconds[n + i];

		if (net->fused_into[i] >= 0) {   /* no time of its own */
			printf("      %3d  %-16s %-14s   fused into %s\n", i + 1, l->name, l->ops->type,
			       net->layers[net->fused_into[i]]->name);
			continue;
		}
		printf("      %3d  %-16s %-14s %10.3f %10.3f %6.1f%%\n", i + 1, l->name, l->ops->type,
		       seconds[i], seconds[n + i], total > 0 ? 100 * both / total : 0.0);
	}
	printf("      %3s  %-16s %-14s %10.3f\n", "", "total", "", total);
	fflush(stdout);
}
