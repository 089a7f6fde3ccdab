/* The loss, fused with its softmax so that neither overflows:
 *   p = softmax(z) = exp(z - max z) / sum exp(z - max z)
 *   L = -log p[label] = log sum exp(z - max z) - (z[label] - max z)
 *   dL/dz = p - onehot(label)
 * The fused gradient is exact and cheaper than softmax's Jacobian times
 * cross-entropy's gradient. */
#ifndef CNN_LOSS_H
#define CNN_LOSS_H

/* For n samples of k logits: returns the summed loss; writes, where the
 * pointer is not NULL, dlogits = scale * (p - onehot), the predicted class
 * (argmax, first on ties), the probabilities, and adds correct predictions to
 * *correct. */
double softmax_xent(const float *logits, const int *labels, int n, int k, float scale,
                    float *dlogits, int *pred, float *probs, int *correct);

#endif
