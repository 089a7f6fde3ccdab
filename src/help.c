/* What `cnnrun --help` prints and the manual page cnnrun.1, from one set of
 * tables, so the two cannot drift apart: the build writes cnnrun.1 with
 * `cnnrun --man`, and tests/cli/test_man.sh checks it with `man -l`. */
#include <stdio.h>
#include <string.h>

#include "help.h"

struct help_entry {
	const char *head; /* a command's arguments, or an option */
	const char *text; /* lines separated by \n */
};

static const struct help_entry commands[] = {
	{ "[train] CONFIG [options]", "train, evaluate and write runs/<name>/" },
	{ "train CONFIG --resume CKPT [options]", "continue a run from its last.ckpt (or best.ckpt)" },
	{ "summary CONFIG [options] [--svg FILE]",
	  "print the layers, their inputs, shapes, parameters\nand FLOPs; --svg: draw the network into FILE" },
	{ "eval CKPT [--data PATH] [--out DIR]",
	  "test metrics of a saved model, written to DIR\n(default: the checkpoint's folder + /eval)" },
	{ "predict CKPT IMAGE|FOLDER... [--list FILE] [--json] [--preprocess none|mnist] [--threads N]",
	  "classify PNG, JPEG, PGM or PPM images (a FOLDER:\n"
	  "every image under it, by name; --list: paths one a\n"
	  "line, - for stdin), on every core (--threads N);\n"
	  "the top 3 classes each, or --json. Images are fitted\n"
	  "as in training (channels, data.resize): MNIST models\n"
	  "expect white digits centred on black, 28x28.\n"
	  "--preprocess mnist: a photo or scan of one digit is\n"
	  "inverted if dark on light, cropped, scaled to 20x20\n"
	  "and centred by mass in 28x28, as MNIST was made.\n"
	  "A bad image is reported and skipped (status 1)" },
	{ "export CKPT --npz FILE", "the weights as a NumPy .npz (PyTorch layouts)" },
	{ "export CKPT --onnx FILE", "the model as ONNX (opset 13)" },
	{ "export CKPT --c DIR [--prefix NAME] [--int8]",
	  "standalone C99 source NAME.h and NAME.c (float,\nor int8 quantised), with its memory footprint" },
	{ "bench CONFIG|CKPT [--threads N] [--batch N] [--seconds S]",
	  "inference speed: images/s at N images per thread\n(default: what fits the L2 cache), batch-1 latency\n"
	  "(median, p90) and the memory of the inference plan;\none key: value per line (a config: random weights)" },
	{ "report RUN_DIR", "rebuild RUN_DIR/report.md and its pictures" },
	{ "compare RUN_DIR... [--out FILE]",
	  "compare runs: a table, and their validation\naccuracy curves in FILE (default compare.svg)" },
};

static const struct help_entry options[] = {
	{ "--epochs N", "train.epochs" },
	{ "--batch N", "train.batch" },
	{ "--threads N", "train.threads (0: all cores)" },
	{ "--seed N", "seed (weights, validation split, batch order)" },
	{ "--set KEY=VALUE", "any config value, e.g. --set optimizer.lr=0.01 or --set layers.0.filters=8" },
	{ "--out DIR", "the run folder (default runs/<name>; with --resume, the checkpoint's folder)" },
	{ "--overwrite", "replace the run that already lives in the run folder (else refused)" },
	{ "--resume CKPT", "continue training from a checkpoint (same layers, seed and batch)" },
	{ "--quiet", "print only the final results" },
	{ "--verbose", "also print each layer's forward and backward time per epoch" },
	{ "--help, --version", "this text; the version and the kernels this CPU runs" },
};

/* The manual's further sections; --help prints them too. */
static const struct help_entry sections[] = {
	{ "EXIT STATUS",
	  "0 success; 2 bad usage or config (with file:line:col); 1 any other failure\n"
	  "(a missing or broken data file, a NaN loss, a folder that cannot be written);\n"
	  "130 training stopped by a signal, after saving last.ckpt." },
	{ "SIGNALS",
	  "SIGINT (Ctrl-C), SIGTERM and SIGHUP finish the current batch, save last.ckpt\n"
	  "and print the command that resumes (through RUN/config.yaml); a second one\n"
	  "ends the process at once. A closed output (| head) never stops training." },
	{ "ENVIRONMENT",
	  "CNN_ISA=baseline|avx2|avx512 forces the kernels' instruction set (default:\n"
	  "the widest this CPU runs; avx512 gives avx2's bits, baseline its own for\n"
	  "direct convolutions). CNN_GEMM_PATH=portable|avx2|avx512 forces the\n"
	  "fixed-order GEMM's path and the convolutions' block products (the same bits\n"
	  "on all three). CNN_FUSE=0 turns off ReLU fusion (the same bits either way).\n"
	  "OMP_NUM_THREADS does not apply: use --threads.\n"
	  "Under mpirun or srun, training runs data-parallel over the ranks\n"
	  "(docs/distributed.md)." },
	{ "FILES",
	  "RUN/config.yaml (the config as run), metrics.json, history.csv, batches.csv,\n"
	  "report.md, loss.svg, accuracy.svg, confusion.svg, mistakes.png, mistakes.bin,\n"
	  "network.svg, last.ckpt, best.ckpt, eval/ (docs/errors.md says what a run\n"
	  "writes and never touches)." },
	{ "EXAMPLES",
	  "cnnrun configs/mnist.yaml\n"
	  "cnnrun configs/mnist.yaml --set layers.0.filters=8 --epochs 5 --out runs/f8\n"
	  "cnnrun summary configs/resnet-mnist.yaml --svg net.svg\n"
	  "cnnrun predict runs/mnist/last.ckpt digit.png\n"
	  "cnnrun predict runs/mnist/last.ckpt photo-of-a-digit.jpg --preprocess mnist\n"
	  "cnnrun export runs/mnist/last.ckpt --c out --int8" },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* text's lines, the first after `first`, the others indented by `indent`. */
static void lines(FILE *f, const char *first, int indent, const char *text)
{
	fputs(first, f);
	for (const char *p = text; *p; p++) {
		fputc(*p, f);
		if (*p == '\n')
			fprintf(f, "%*s", indent, "");
	}
	fputc('\n', f);
}

void help_print(FILE *f)
{
	enum { COLUMN = 41 };
	char head[128];
	for (size_t i = 0; i < COUNT(commands); i++) {
		int n = snprintf(head, sizeof head, "%s cnnrun %s", i ? "      " : "usage:", commands[i].head);
		if (n + 1 < COLUMN) {
			fprintf(f, "%s%*s", head, COLUMN - n, "");
			lines(f, "", COLUMN, commands[i].text);
		} else {
			fprintf(f, "%s\n%*s", head, COLUMN, "");
			lines(f, "", COLUMN, commands[i].text);
		}
	}
	fputs("\noptions:\n", f);
	for (size_t i = 0; i < COUNT(options); i++) {
		fprintf(f, "  %-18s ", options[i].head);
		lines(f, "", 21, options[i].text);
	}
	for (size_t i = 0; i < COUNT(sections); i++) {
		fputc('\n', f);
		for (const char *p = sections[i].head; *p; p++)
			fputc(p == sections[i].head ? *p : (*p >= 'A' && *p <= 'Z' ? *p + 32 : *p), f);
		fputs(":\n  ", f);
		lines(f, "", 2, sections[i].text);
	}
}

/* roff text: a leading '.' or '\'' would be a request, '\' an escape, and
 * '-' a hyphen rather than the minus of an option. */
static void roff(FILE *f, const char *s)
{
	for (const char *p = s; *p; p++) {
		if ((*p == '.' || *p == '\'') && (p == s || p[-1] == '\n'))
			fputs("\\&", f);
		if (*p == '\\')
			fputs("\\e", f);
		else if (*p == '-')
			fputs("\\-", f);
		else
			fputc(*p, f);
	}
}

/* A section of tagged paragraphs: each entry's head in bold, its text below. */
static void man_list(FILE *f, const char *title, const char *prefix, const struct help_entry *e, size_t n)
{
	fprintf(f, ".SH %s\n", title);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, ".TP\n.B %s", prefix);
		roff(f, e[i].head);
		fputc('\n', f);
		roff(f, e[i].text);
		fputc('\n', f);
	}
}

void help_print_man(FILE *f, const char *version)
{
	fprintf(f, ".TH CNNRUN 1 \"\" \"cnnrun %s\" \"User Commands\"\n", version);
	fputs(".SH NAME\ncnnrun \\- train and run convolutional networks described in YAML\n", f);
	fputs(".SH SYNOPSIS\n", f);
	for (size_t i = 0; i < COUNT(commands); i++) {
		fputs(".B cnnrun\n", f);
		roff(f, commands[i].head);
		fputs("\n.br\n", f);
	}
	fputs(".SH DESCRIPTION\ncnnrun reads a network, its data and its training settings from a YAML\n"
	      "file, checks every value, trains on the CPU and writes a run folder with\n"
	      "metrics, reports, pictures and checkpoints (docs/config.md lists every key).\n", f);
	man_list(f, "COMMANDS", "cnnrun ", commands, COUNT(commands));
	man_list(f, "OPTIONS", "", options, COUNT(options));
	for (size_t i = 0; i < COUNT(sections); i++) {
		fprintf(f, ".SH %s\n", sections[i].head);
		if (!strcmp(sections[i].head, "EXAMPLES")) {
			fputs(".nf\n", f);
			roff(f, sections[i].text);
			fputs("\n.fi\n", f);
		} else {
			roff(f, sections[i].text);
			fputc('\n', f);
		}
	}
	fputs(".SH SEE ALSO\nREADME.md and docs/ in the sources: config.md, data.md, errors.md,\n"
	      "distributed.md, embedding.md, formats.md.\n", f);
}
