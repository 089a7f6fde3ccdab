/* What predict.c shares with its tests: the text of its result lines. */
#ifndef CNN_RUNNER_PREDICT_H
#define CNN_RUNNER_PREDICT_H

#include <stdio.h>

/* Longest text predict_prob writes, with its NUL. */
#define PREDICT_PROB_MAX 64

/* p as printf's "%.4f" prints it, into buf (PREDICT_PROB_MAX bytes);
 * returns the length. A probability (0 <= p <= 1) is formatted here:
 * p * 10000 is exact in double (24 significant bits times 14), so
 * rounding it to an integer in the current rounding mode is printf's
 * rounding of the exact value; anything else goes to snprintf. */
int predict_prob(char *buf, float p);

/* A result line as predict prints it: "PATH: C (P), C (P), C (P)\n",
 * the k classes top[] (or their names) with their probabilities. */
void predict_print_text(FILE *out, const char *path, const float *probs, const int *top, int k,
                        char *const *names);

#endif
