/* model_arg.c — `--model NAME|FILE[,...]` for commands that need no
 * workspace (classify, eval): a safetensors file is used as it is, a name
 * is looked up in the workspace, and the weights are loaded; and the options of the
 * commands that run a model (--model, --batch, --threads). */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int is_file(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The packed-weights cache of a model file that is in no workspace:
 * $XDG_CACHE_HOME/natadv, else ~/.cache/natadv, keyed by the weights'
 * SHA-256 (so a copy or a rename of the file still hits); "" when neither
 * variable names a folder. A folder that cannot be made only means no cache. */
static void file_cache_path(const char *sha, char *out, size_t outlen)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char dir[4096];
	out[0] = '\0';
	if (xdg && xdg[0] == '/') {
		snprintf(dir, sizeof dir, "%s", xdg);
	} else if (home && home[0] == '/') {
		snprintf(dir, sizeof dir, "%s/.cache", home);
	} else {
		return;
	}
	mkdir(dir, 0755);
	size_t used = strlen(dir);
	snprintf(dir + used, sizeof dir - used, "/natadv");
	mkdir(dir, 0755);
	net_cache_path(out, outlen, dir, sha);
}

/* Loads model (a safetensors file, else a name in st) into *m; id (may be
 * NULL) gets the weights' SHA-256. */
static int model_load(store *st, const char *model, struct net **m, char *id)
{
	char err[1024];
	*m = NULL;
	if (is_file(model)) {
		char sha[65], cache[4200];
		if (sha256_file(model, sha, NULL, err, sizeof err) != 0) {
			cli_error("%s", err);
			return EXIT_FAIL;
		}
		if (id)
			snprintf(id, 65, "%s", sha);
		file_cache_path(sha, cache, sizeof cache);
		if (net_load_cached(m, model, sha, cache[0] ? cache : NULL, err, sizeof err) != 0) {
			cli_error("cannot load model '%s': %s", model, err);
			return EXIT_FAIL;
		}
	} else if (filter_model_load(st, model, 0, m, id, err, sizeof err) != 0) {
		cli_error("%s", err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

void cli_model_said(const char *name, const struct net *m)
{
	fprintf(stderr, "model '%s': %s, kernels %s, cache: %s\n", name, net_get_info(m)->arch, net_kernels(m),
	        net_cache_status(m));
}

int cli_models_open(struct cli *c, const char *const *models, int n, int threads, store **st, int64_t *run_id,
                    struct net **m, char (*ids)[65])
{
	char err[1024];
	const char *named = NULL;
	*st = NULL;
	*run_id = 0;
	for (int k = 0; k < n; k++)
		m[k] = NULL;
	for (int k = 0; k < n && !named; k++)
		if (!is_file(models[k]))
			named = models[k];
	if (!named) {
		if (store_open_memory(st, err, sizeof err) != 0) {
			cli_error("%s", err);
			return EXIT_FAIL;
		}
	} else {
		if (store_open(c->workspace, st, err, sizeof err) != 0) {
			cli_error("no model file '%s', and %s", named, err);
			return EXIT_FAIL;
		}
		if (store_run_begin(*st, c->command, c->args, run_id) != 0) {
			cli_error("%s", store_errmsg(*st));
			return EXIT_FAIL;
		}
	}
	for (int k = 0; k < n; k++) {
		if (model_load(*st, models[k], &m[k], ids ? ids[k] : NULL) != EXIT_OK)
			return EXIT_FAIL;
		if (c->verbose)
			cli_model_said(models[k], m[k]);
		if (threads && net_set_threads(m[k], threads) != 0) {
			cli_error("cannot set threads: %s", net_errmsg(m[k]));
			return EXIT_FAIL;
		}
	}
	return EXIT_OK;
}

int cli_model_open(struct cli *c, const struct cli_model_flags *f, store **st, int64_t *run_id, struct net **m,
                   char id[65])
{
	return cli_models_open(c, &f->model, 1, f->threads, st, run_id, m, (char(*)[65])id);
}
