/* model_arg.c — `--model NAME|FILE` for commands that need no workspace
 * (classify, eval): a safetensors file is used as it is, a name is looked
 * up in the workspace, and the weights are loaded; and the options of the
 * commands that run a model (--model, --batch, --threads). */
#include "cli/cli.h"

#include <stdio.h>
#include <sys/stat.h>

#include "common/sha256.h"
#include "filter/filter.h"

int cli_model_flag(const char *command, int ch, const char *arg, struct cli_model_flags *f)
{
	long long n;
	switch (ch) {
	case CLI_MF_MODEL: f->model = arg; return 0;
	case CLI_MF_BATCH:
		if (cli_parse_int(command, "--batch", arg, 1, 256, &n)) return EXIT_USAGE;
		f->batch = (int)n;
		return 0;
	case CLI_MF_THREADS:
		if (cli_parse_int(command, "--threads", arg, 1, 256, &n)) return EXIT_USAGE;
		f->threads = (int)n;
		return 0;
	default: return cli_usage(command, "unknown option");
	}
}

/* Opens the store and loads the weights of f->model. */
static int model_load(struct cli *c, const char *model, store **st, int64_t *run_id, struct net **m, char id[65])
{
	char err[1024];
	struct stat sb;
	*st = NULL;
	*run_id = 0;
	*m = NULL;
	if (stat(model, &sb) == 0 && S_ISREG(sb.st_mode)) {
		if (store_open_memory(st, err, sizeof err) != 0) {
			cli_error("%s", err);
			return EXIT_FAIL;
		}
		if (id && sha256_file(model, id, NULL, err, sizeof err) != 0) {
			cli_error("%s", err);
			return EXIT_FAIL;
		}
		if (net_load_file(m, model, err, sizeof err) != 0) {
			cli_error("cannot load model '%s': %s", model, err);
			return EXIT_FAIL;
		}
	} else {
		if (store_open(c->workspace, st, err, sizeof err) != 0) {
			cli_error("no model file '%s', and %s", model, err);
			return EXIT_FAIL;
		}
		if (store_run_begin(*st, c->command, c->args, run_id) != 0) {
			cli_error("%s", store_errmsg(*st));
			return EXIT_FAIL;
		}
		if (filter_model_load(*st, model, 0, m, id, err, sizeof err) != 0) {
			cli_error("%s", err);
			return EXIT_FAIL;
		}
	}
	return EXIT_OK;
}

int cli_model_open(struct cli *c, const struct cli_model_flags *f, store **st, int64_t *run_id, struct net **m,
                   char id[65])
{
	int rc = model_load(c, f->model, st, run_id, m, id);
	if (rc == EXIT_OK && f->threads && net_set_threads(*m, f->threads) != 0) {
		cli_error("cannot set threads: %s", net_errmsg(*m));
		rc = EXIT_FAIL;
	}
	return rc;
}
