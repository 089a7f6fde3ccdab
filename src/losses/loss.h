/* The loss, fused with its softmax so that neither overflows:
 *   p = softmax(z) = exp(z - max z) / sum exp(z - max z)
 *   L = -log p[label] = log sum exp(z - max z) - (z[label] - max z)
 *   dL/dz = p - onehot(label)
 * The fused gradient is exact and cheaper than softmax's Jacobian times
 * cross-entropy's gradient.
 *
 * Label smoothing e (Szegedy et al.) trains toward the target distribution
 *   q = (1 - e) onehot(label) + e / k
 *   L = -sum_j q_j log p_j = log sum exp(z - max z) - sum_j q_j (z_j - max z)
 *   dL/dz = p - q
 * Predictions and accuracy do not depend on it. */
#ifndef CNN_LOSS_H
#define CNN_LOSS_H

/* For n samples of k logits: returns the summed loss; writes, where the
 * pointer is not NULL, dlogits = scale * (p - onehot), the predicted class
 * (argmax, first on ties), the probabilities, and adds correct predictions to
 * *correct. */
double softmax_xent(const float *logits, const int *labels, int n, int k, float scale,
                    float *dlogits, int *pred, float *probs, int *correct);

/* The same with label smoothing `smoothing` in [0, 1); 0 gives softmax_xent's
 * bits exactly. */
double softmax_xent_smooth(const float *logits, const int *labels, int n, int k, float smoothing,
                           float scale, float *dlogits, int *pred, float *probs, int *correct);

#endif
