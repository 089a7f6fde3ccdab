#include <math.h>

#include "losses/loss.h"

/* Classes whose exp() is kept between the two passes (MNIST has 10). */
#define SOFTMAX_KEEP 64

double softmax_xent(const float *logits, const int *labels, int n, int k, float scale,
                    float *dlogits, int *pred, float *probs, int *correct)
{
	return softmax_xent_smooth(logits, labels, n, k, 0.0f, scale, dlogits, pred, probs, correct);
}

double softmax_xent_smooth(const float *logits, const int *labels, int n, int k, float smoothing,
                           float scale, float *dlogits, int *pred, float *probs, int *correct)
{
	/* q_j = on for the label, off for the others (1 and 0 unsmoothed). */
	const double off = (double)smoothing / k, on = 1.0 - smoothing + off;
	double total = 0;
	for (int i = 0; i < n; i++) {
		const float *z = logits + (long)i * k;
		int best = 0;
		for (int j = 1; j < k; j++)
			if (z[j] > z[best])
				best = j;
		/* exp() once per logit: kept for the probabilities below when
		 * they fit on the stack, recomputed otherwise. */
		double e[SOFTMAX_KEEP], sum = 0;
		for (int j = 0; j < k; j++) {
			double v = exp((double)z[j] - z[best]);
			if (j < SOFTMAX_KEEP)
				e[j] = v;
			sum += v;
		}
		double log_sum = log(sum), inv_sum = 1.0 / sum;
		if (smoothing == 0) {
			total += log_sum - ((double)z[labels[i]] - z[best]);
		} else {
			double sum_z = 0;
			for (int j = 0; j < k; j++)
				sum_z += (double)z[j] - z[best];
			total += log_sum - (1.0 - smoothing) * ((double)z[labels[i]] - z[best]) - off * sum_z;
		}
		if (correct)
			*correct += best == labels[i];
		if (pred)
			pred[i] = best;
		for (int j = 0; j < k; j++) {
			double p = j < SOFTMAX_KEEP ? e[j] * inv_sum : exp((double)z[j] - z[best] - log_sum);
			if (probs)
				probs[(long)i * k + j] = (float)p;
			if (dlogits)
				dlogits[(long)i * k + j] = smoothing == 0 ? scale * (float)(p - (j == labels[i]))
				                                          : scale * (float)(p - (j == labels[i] ? on : off));
		}
	}
	return total;
}
