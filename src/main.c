/* cnnrun: the command line. Parses flags, loads the config, applies
 * overrides and hands over to the runner. Exit: 0 success, 2 bad usage or
 * config, 1 any other failure, 130 training interrupted (and saved). */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config/config.h"
#include "kernels/kernels.h"
#include "runner/runner.h"
#include "dist/dist.h"
#include "help.h"

/* Flags that are shorthands for --set. */
static const struct {
	const char *flag, *path;
} shorthands[] = {
	{ "--epochs", "train.epochs" },
	{ "--batch", "train.batch" },
	{ "--threads", "train.threads" },
	{ "--seed", "seed" },
};

struct cli {
	const char *command, *config, *out_dir, *resume, *svg;
	bool quiet, verbose, overwrite;
	int n_sets;
	char **sets; /* "key.path=value", owned */
};

static int usage_error(const char *fmt, const char *arg)
{
	if (dist_launcher_rank() != 0)   /* every rank has the same arguments: one message */
		return CNN_BAD_CONFIG;
	fputs("cnnrun: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n\n", stderr);
	help_print(stderr);
	return CNN_BAD_CONFIG;
}

static int add_set(struct cli *c, const char *path, const char *value)
{
	size_t len = strlen(path) + (value ? strlen(value) : 0) + 2;
	char **sets = realloc(c->sets, (size_t)(c->n_sets + 1) * sizeof *sets);
	if (!sets)
		return -1;
	c->sets = sets;
	if (!(c->sets[c->n_sets] = malloc(len)))
		return -1;
	snprintf(c->sets[c->n_sets++], len, "%s%s%s", path, value ? "=" : "", value ? value : "");
	return 0;
}

/* "--flag VALUE" or "--flag=VALUE": the value, or NULL if missing. */
static const char *flag_value(int argc, char **argv, int *i, const char *flag)
{
	size_t len = strlen(flag);
	if (argv[*i][len] == '=')
		return argv[*i] + len + 1;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static bool is_flag(const char *arg, const char *flag)
{
	size_t len = strlen(flag);
	return !strncmp(arg, flag, len) && (arg[len] == '\0' || arg[len] == '=');
}

static int parse_args(int argc, char **argv, struct cli *c)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		bool matched = false;
		for (size_t k = 0; k < sizeof shorthands / sizeof shorthands[0]; k++) {
			if (!is_flag(a, shorthands[k].flag))
				continue;
			if (!(v = flag_value(argc, argv, &i, shorthands[k].flag)))
				return usage_error("%s needs a value", shorthands[k].flag);
			if (add_set(c, shorthands[k].path, v))
				return CNN_FAILED;
			matched = true;
		}
		if (matched)
			continue;
		if (is_flag(a, "--set")) {
			if (!(v = flag_value(argc, argv, &i, "--set")))
				return usage_error("%s needs KEY=VALUE", "--set");
			if (!strchr(v, '='))
				return usage_error("--set %s: expected KEY=VALUE, e.g. --set optimizer.lr=0.01", v);
			if (add_set(c, v, NULL))
				return CNN_FAILED;
		} else if (is_flag(a, "--out")) {
			if (!(c->out_dir = flag_value(argc, argv, &i, "--out")))
				return usage_error("%s needs a folder", "--out");
		} else if (is_flag(a, "--resume")) {
			if (!(c->resume = flag_value(argc, argv, &i, "--resume")))
				return usage_error("%s needs a checkpoint (e.g. runs/mnist/last.ckpt)", "--resume");
		} else if (!strcmp(a, "--overwrite")) {
			c->overwrite = true;
		} else if (is_flag(a, "--svg")) {
			if (!(c->svg = flag_value(argc, argv, &i, "--svg")))
				return usage_error("%s needs a file name (e.g. network.svg)", "--svg");
		} else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
			c->quiet = true;
		} else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
			c->verbose = true;
		} else if (a[0] == '-' && a[1]) {
			return usage_error("unknown option '%s'", a);
		} else if (!c->command && !c->config && (!strcmp(a, "train") || !strcmp(a, "summary"))) {
			c->command = a;
		} else if (!c->config) {
			c->config = a;
		} else {
			return usage_error("unexpected argument '%s'", a);
		}
	}
	if (!c->command)
		c->command = "train";
	if (!c->config)
		return usage_error("%s: missing CONFIG (e.g. configs/mnist.yaml)", c->command);
	if (c->resume && strcmp(c->command, "train"))
		return usage_error("--resume is for training; %s does not take it", c->command);
	if (c->svg && strcmp(c->command, "summary"))
		return usage_error("--svg is for summary (training draws RUN_DIR/network.svg); %s does not take it",
		                   c->command);
	return CNN_OK;
}

static void print_error(const struct cnn_error *err)
{
	char buf[1024];
	fprintf(stderr, "%s\n", cnn_error_str(err, buf, sizeof buf));
}

/* `report RUN_DIR` and `compare RUN_DIR... [--out FILE]`: commands on run
 * folders, which take no config. argv[0] is the command. */
static int run_folders_command(int argc, char **argv)
{
	struct cnn_error err = { 0 };
	const char *out = "compare.svg";
	const char **dirs = calloc((size_t)argc, sizeof *dirs);
	int n = 0, status;
	if (!dirs)
		return CNN_FAILED;
	for (int i = 1; i < argc; i++) {
		if (is_flag(argv[i], "--out") && !strcmp(argv[0], "compare")) {
			if (!(out = flag_value(argc, argv, &i, "--out"))) {
				free(dirs);
				return usage_error("%s needs a file name", "--out");
			}
		} else if (argv[i][0] == '-' && argv[i][1]) {
			free(dirs);
			return usage_error("unknown option '%s'", argv[i]);
		} else {
			dirs[n++] = argv[i];
		}
	}
	if (n == 0 || (!strcmp(argv[0], "report") && n != 1)) {
		free(dirs);
		return usage_error("%s: expected RUN_DIR (a folder written by training, e.g. runs/mnist)",
		                   argv[0]);
	}
	if (!strcmp(argv[0], "report"))
		status = run_report(dirs[0], stdout, &err);
	else
		status = run_compare(dirs, n, out, stdout, &err);
	if (status != CNN_OK)
		print_error(&err);
	free(dirs);
	return status;
}

/* The flags of the commands on a saved model, and what each needs. */
static const struct {
	const char *command, *flag, *needs;
} model_flags[] = {
	{ "eval", "--data", "a path (in place of data.path: a folder, or an .npz)" },
	{ "eval", "--out", "a folder" },
	{ "export", "--npz", "a file name" },
	{ "export", "--onnx", "a file name" },
	{ "export", "--c", "a folder" },
	{ "export", "--prefix", "a C identifier" },
	{ "predict", "--preprocess", "none or mnist" },
	{ "predict", "--list", "a file of image paths, one a line (- for stdin)" },
	{ "predict", "--threads", "a number of threads (0: all cores)" },
};
enum { FLAG_DATA, FLAG_OUT, FLAG_NPZ, FLAG_ONNX, FLAG_C, FLAG_PREFIX, FLAG_PREPROCESS, FLAG_LIST,
       FLAG_THREADS, N_MODEL_FLAGS };

/* predict --threads: 0 (all cores) to 1024; -1 when not such a number. */
static int predict_threads(const char *v)
{
	char *end;
	long n = v ? strtol(v, &end, 10) : 0;
	return v && (end == v || *end || n < 0 || n > 1024) ? -1 : (int)n;
}

/* The arguments each command needs; usage_error's status if one is missing. */
static int model_usage(const char *command, int n, const char **args, const char **flags, bool int8)
{
	if (!strcmp(command, "predict") && n < 2 && !flags[FLAG_LIST])
		return usage_error("%s: missing IMAGE (a PNG, JPEG, PGM or PPM file, or a folder of them)",
		                   command);
	if (flags[FLAG_PREPROCESS] && strcmp(flags[FLAG_PREPROCESS], "none") &&
	    strcmp(flags[FLAG_PREPROCESS], "mnist"))
		return usage_error("--preprocess must be none or mnist, got '%s'", flags[FLAG_PREPROCESS]);
	if (predict_threads(flags[FLAG_THREADS]) < 0)
		return usage_error("--threads must be an integer in [0, 1024] (0: all cores), got '%s'",
		                   flags[FLAG_THREADS]);
	if (strcmp(command, "predict") && n > 1)
		return usage_error("unexpected argument '%s'", args[1]);
	if (!strcmp(command, "export") && !flags[FLAG_NPZ] && !flags[FLAG_ONNX] && !flags[FLAG_C])
		return usage_error("%s: missing --npz FILE, --onnx FILE or --c DIR", command);
	if ((flags[FLAG_PREFIX] || int8) && !flags[FLAG_C])
		return usage_error("%s is for the C export (--c DIR)", flags[FLAG_PREFIX] ? "--prefix" : "--int8");
	return CNN_OK;
}

/* `eval CKPT [--data PATH] [--out DIR]`, `predict CKPT IMAGE|FOLDER... [--list FILE] [--json]
 * [--preprocess none|mnist] [--threads N]`
 * and `export CKPT --npz FILE | --onnx FILE | --c DIR`: commands on a saved model, which take no
 * config. argv[0] is the command; args collects CKPT and the IMAGEs. */
static int run_model_command(int argc, char **argv)
{
	struct cnn_error err = { 0 };
	const char *cmd = argv[0], *flags[N_MODEL_FLAGS] = { 0 };
	const char **args = calloc((size_t)argc, sizeof *args);
	bool json = false, int8 = false;
	int n = 0, status;
	if (!args)
		return CNN_FAILED;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int f = 0;
		while (f < N_MODEL_FLAGS && (strcmp(model_flags[f].command, cmd) || !is_flag(a, model_flags[f].flag)))
			f++;
		if (f < N_MODEL_FLAGS) {
			if (!(flags[f] = flag_value(argc, argv, &i, model_flags[f].flag))) {
				free(args);
				fprintf(stderr, "cnnrun: %s needs %s\n\n", model_flags[f].flag, model_flags[f].needs);
				help_print(stderr);
				return CNN_BAD_CONFIG;
			}
		} else if (!strcmp(cmd, "predict") && !strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(cmd, "export") && !strcmp(a, "--int8")) {
			int8 = true;
		} else if (a[0] == '-' && a[1]) {
			free(args);
			return usage_error("unknown option '%s'", a);
		} else {
			args[n++] = a;
		}
	}
	if (n == 0) {
		free(args);
		return usage_error("%s: missing CKPT (a checkpoint, e.g. runs/mnist/last.ckpt)", cmd);
	}
	if ((status = model_usage(cmd, n, args, flags, int8)) != CNN_OK) {
		free(args);
		return status;
	}
	if (!strcmp(cmd, "eval"))
		status = run_eval(args[0], flags[FLAG_DATA], flags[FLAG_OUT], stdout, &err);
	else if (!strcmp(cmd, "predict"))
		status = run_predict_with(args[0], args + 1, n - 1, &(struct predict_options){
			.json = json, .list = flags[FLAG_LIST], .threads = predict_threads(flags[FLAG_THREADS]),
			.preprocess = flags[FLAG_PREPROCESS] && !strcmp(flags[FLAG_PREPROCESS], "mnist") ?
			              PREPROCESS_MNIST : PREPROCESS_NONE }, stdout, stderr, &err);
	else
		status = run_export(args[0], &(struct export_options){ .npz = flags[FLAG_NPZ], .onnx = flags[FLAG_ONNX],
		                    .c_dir = flags[FLAG_C], .prefix = flags[FLAG_PREFIX], .int8 = int8 }, stdout, &err);
	if (status != CNN_OK)
		print_error(&err);
	free(args);
	return status;
}

/* A positive whole number or (seconds) a positive decimal, below `max`. */
static bool positive(const char *s, bool decimal, double max, double *v)
{
	char *end;
	*v = strtod(s, &end);
	return end != s && !*end && *v > 0 && *v <= max && (decimal || *v == (double)(long)*v);
}

/* `bench CONFIG|CKPT [--threads N] [--batch N] [--seconds S]`. argv[0] is
 * the command. */
static int bench_command(int argc, char **argv)
{
	static const char *const flags[] = { "--threads", "--batch", "--seconds" };
	static const char *const needs[] = { "a number of threads >= 1", "a number of images >= 1",
	                                     "a number of seconds > 0" };
	double v[3] = { 0, 0, 2 }, max[3] = { 4096, 65536, 3600 };
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		int f = 0;
		while (f < 3 && !is_flag(argv[i], flags[f]))
			f++;
		if (f < 3) {
			const char *val = flag_value(argc, argv, &i, flags[f]);
			if (!val || !positive(val, f == 2, max[f], &v[f]))
				return usage_error(f == 0 ? "--threads needs %s" : f == 1 ? "--batch needs %s"
				                   : "--seconds needs %s", needs[f]);
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return usage_error("unknown option '%s'", argv[i]);
		} else if (path) {
			return usage_error("unexpected argument '%s'", argv[i]);
		} else {
			path = argv[i];
		}
	}
	if (!path)
		return usage_error("%s: missing CONFIG or CKPT", argv[0]);
	struct cnn_error err = { 0 };
	struct bench_options o = { (int)v[0], (int)v[1], v[2] };
	int status = run_bench(path, &o, stdout, &err);
	if (status != CNN_OK)
		print_error(&err);
	return status;
}

/* OpenBLAS starts its own threads before main, and each maps a work buffer
 * that, under an address-space limit (ulimit -v), it retries forever when
 * the mmap fails: the process spins and then hangs at exit. cnnrun calls
 * BLAS from one thread per chunk (never OpenBLAS's threads), so under such
 * a limit the program runs itself again with OPENBLAS_NUM_THREADS=1, where
 * OpenBLAS starts none; run_reserve_blas then checks the buffers it does
 * need. Without a limit nothing changes. */
static void without_blas_threads(char **argv)
{
	struct rlimit lim;
	if (getrlimit(RLIMIT_AS, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY)
		return;
	const char *n = getenv("OPENBLAS_NUM_THREADS");
	if (n && !strcmp(n, "1"))
		return;
	if (setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0)
		execv("/proc/self/exe", argv);
	/* No /proc: carry on as before. */
}

/* OpenBLAS's pthreads build starts its worker threads before main, and
 * each spins on sched_yield for about 2^28 cycles (a tenth of a second)
 * before it sleeps, on the cores the network's threads use. cnnrun never
 * hands them work (every product is gemm_fixed's, in the network's own
 * threads), so the program stops them; OpenBLAS would start them again if
 * a call asked for threads. The program's choice, not the library's:
 * libcnnrun leaves a host program's BLAS alone. A weak reference: a BLAS
 * without worker threads lacks the function. */
extern void blas_thread_shutdown_(void) __attribute__((weak));

static void stop_blas_threads(void)
{
	if (blas_thread_shutdown_)
		blas_thread_shutdown_();
}

/* Commands that a launcher must not start as several ranks: only training
 * divides its work among them. */
static bool is_one_process_command(const char *arg)
{
	static const char *const commands[] = { "summary", "report", "compare", "eval", "predict", "export",
	                                        "bench" };
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(arg, commands[i]))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	struct dist *comm = NULL;
	struct cli cli = { 0 };
	struct cfg_doc doc = { 0 };
	struct cnn_error err = { 0 };
	int status;
	without_blas_threads(argv);
	stop_blas_threads();
	char kernels[160];
	/* before any kernel runs: a CNN_ISA this CPU cannot honour is refused */
	if (cnn_kernels_select(&err)) {
		print_error(&err);
		return CNN_BAD_CONFIG;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			help_print(stdout);
			return CNN_OK;
		}
		if (!strcmp(argv[i], "--man")) {   /* the build writes cnnrun.1 with it */
			help_print_man(stdout, CNN_VERSION);
			return CNN_OK;
		}
		if (!strcmp(argv[i], "--version")) {
			printf("cnnrun %s\nkernels: %s\n", CNN_VERSION,
			       cnn_kernels_describe(kernels, sizeof kernels));
			return CNN_OK;
		}
	}
	if (argc > 1 && dist_launcher_size() > 1 && is_one_process_command(argv[1]))
		return usage_error("%s runs in one process: start it without mpirun or srun", argv[1]);
	if (argc > 1 && (!strcmp(argv[1], "report") || !strcmp(argv[1], "compare")))
		return run_folders_command(argc - 1, argv + 1);
	if (argc > 1 && (!strcmp(argv[1], "eval") || !strcmp(argv[1], "predict") || !strcmp(argv[1], "export")))
		return run_model_command(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "bench"))
		return bench_command(argc - 1, argv + 1);
	if ((status = parse_args(argc, argv, &cli)) != CNN_OK)
		goto out;
	/* Under mpirun or srun: join the other ranks (docs/distributed.md). */
	if ((status = dist_start(&argc, &argv, &comm, &err)) != CNN_OK)
		goto done;
	status = CNN_BAD_CONFIG;
	if (cfg_load_file(cli.config, &doc, &err))
		goto done;
	for (int i = 0; i < cli.n_sets; i++)
		if (cfg_set(&doc, cli.sets[i], &err))
			goto done;
	if (!strcmp(cli.command, "summary")) {
		status = run_summary(&doc, cli.svg, stdout, &err);
	} else {
		struct run_options opt = { .out_dir = cli.out_dir, .quiet = cli.quiet, .verbose = cli.verbose,
		                           .resume = cli.resume, .overwrite = cli.overwrite, .dist = comm };
		/* A closed stdout (`| head -1`) must not kill training unsaved:
		 * prints then fail with EPIPE, unseen, and the run goes on to
		 * write its results; so does the final flush at exit. */
		signal(SIGPIPE, SIG_IGN);
		status = run_train(&doc, cli.config, &opt, &err);
	}
done:
	/* Ranks fail together; the first rank that failed prints, once. */
	status = dist_agree(comm, status, &err);
	if (status != CNN_OK && (comm ? dist_should_print(comm) : dist_launcher_rank() == 0))
		print_error(&err);
	dist_finish(comm);
out:
	cfg_free(&doc);
	for (int i = 0; i < cli.n_sets; i++)
		free(cli.sets[i]);
	free(cli.sets);
	return status;
}
