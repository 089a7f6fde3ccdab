/* cnnrun: run a trained cnnrun model inside a C or C++ program.
 *
 *   cnn_model *m;
 *   char msg[CNN_ERROR_MAX];
 *   if (cnn_model_load_err("run/best.ckpt", &m, msg, sizeof msg) != CNN_SUCCESS)
 *       fprintf(stderr, "%s\n", msg);
 *   float probs[10];
 *   cnn_model_predict_raw(m, pixels, 1, probs);   // pixels: (1, c, h, w), 0..255
 *   cnn_model_free(m);
 *
 * Layout: n images one after another, each channels x height x width in
 * that order (NCHW, row-major, C order), as float. Probabilities come out
 * as n rows of cnn_model_classes(m) floats, each row summing to 1.
 *
 * Threads: a loaded model is only read by cnn_model_predict*, which keeps
 * its working memory per call, so any number of threads may predict with
 * one model at once. Loading and freeing are not concurrent with uses of
 * the same model. A call on n images shares them among OpenMP's threads
 * (OMP_NUM_THREADS; 1 keeps each call on the calling thread).
 *
 * The library never exits the process, never prints, and changes no
 * process-wide state (no thread-count or affinity settings). Every
 * function is C99 and may be called from C++.
 *
 * The full reference is docs/embedding.md. */
#ifndef CNNRUN_H
#define CNNRUN_H

#include <stddef.h>

#if defined(__GNUC__) && __GNUC__ >= 4
#define CNN_API __attribute__((visibility("default")))
#else
#define CNN_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A loaded model: its layers and parameters. Opaque. */
typedef struct cnn_model cnn_model;

typedef enum cnn_status {
	CNN_SUCCESS = 0,
	CNN_ERR_ARGUMENT = 1, /* a NULL pointer where one is needed, n < 0 */
	CNN_ERR_IO = 2,       /* the file cannot be opened or read */
	CNN_ERR_FORMAT = 3,   /* not a cnnrun checkpoint, truncated, corrupted, or a newer format */
	CNN_ERR_MODEL = 4,    /* a checkpoint whose config or tensors do not make a network */
	CNN_ERR_MEMORY = 5    /* out of memory */
} cnn_status;

/* Room for any message cnn_model_load_err writes, NUL included. */
#define CNN_ERROR_MAX 1024

/* A short constant description of a status ("file cannot be read"). */
CNN_API const char *cnn_status_str(cnn_status status);

/* The library's version, "MAJOR.MINOR.PATCH". */
CNN_API const char *cnn_version(void);

/* Loads a checkpoint written by `cnnrun` (any of a run's .ckpt files).
 * Needs neither the training data nor anything else from the run. On
 * success *out is a model to free with cnn_model_free; on failure *out is
 * NULL. */
CNN_API cnn_status cnn_model_load(const char *path, cnn_model **out);

/* The same, and on failure writes what went wrong, with the file and, for
 * a bad config inside it, the position, into msg (msg_len bytes, at most
 * CNN_ERROR_MAX needed; always NUL-terminated when msg_len > 0), e.g.
 * "run/best.ckpt: truncated: the header promises 5120 bytes, the file has
 * 100". msg may be NULL. */
CNN_API cnn_status cnn_model_load_err(const char *path, cnn_model **out, char *msg, size_t msg_len);

/* Frees a model; NULL is allowed. */
CNN_API void cnn_model_free(cnn_model *m);

/* The input one image must have: channels, height, width (any pointer may
 * be NULL). */
CNN_API void cnn_model_input_shape(const cnn_model *m, int *c, int *h, int *w);

/* Floats per input image: c * h * w. */
CNN_API int cnn_model_input_size(const cnn_model *m);

/* The number of classes, the length of one row of probabilities. */
CNN_API int cnn_model_classes(const cnn_model *m);

/* Class i's name from the training config (data.classes), or its number
 * as text ("0" .. "9" for MNIST) when the config gave none; NULL for i out
 * of range. The string lives as long as the model. */
CNN_API const char *cnn_model_class_name(const cnn_model *m, int i);

/* The config's `name`. Lives as long as the model. */
CNN_API const char *cnn_model_name(const cnn_model *m);

/* Class probabilities of n images x (n, c, h, w) already normalised as in
 * training (data.normalize: scale gives pixel / 255, standard gives
 * (pixel - mean) / std), into probs (n, classes). n may be any size, 0
 * included (nothing is done). Bit for bit what `cnnrun eval` and
 * `cnnrun predict` compute for the same inputs. */
CNN_API cnn_status cnn_model_predict(cnn_model *m, const float *x, int n, float *probs);

/* The same from raw pixel values in [0, 255] (n, c, h, w): the model
 * applies the normalisation recorded in its checkpoint first. For 8-bit
 * images converted to float, the same bits as cnn_model_predict on
 * normalised input, and as `cnnrun predict` on the image file. */
CNN_API cnn_status cnn_model_predict_raw(cnn_model *m, const float *pixels, int n, float *probs);

#ifdef __cplusplus
}
#endif

#endif
