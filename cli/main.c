/* main.c — the natadv command: global options, the table of subcommands,
 * and the record of every invocation in the workspace's runs table. */
#include "cli/cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/fmt.h"
#include "common/shell.h"

volatile sig_atomic_t cli_stop;

struct command {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	const char *help;
	int needs_workspace;
	int stops_cleanly;     /* polls cli_stop; other commands die on SIGINT as usual */
};

static const struct command commands[] = {
	{"init", cmd_init, "create the workspace (database, blob store, class lists)", 0, 0},
	{"classes", cmd_classes, "class lists and sets: classes [--set NAME], classes --sets, classes add-set NAME", 1, 0},
	{"discover", cmd_discover, "candidate images from an image API: discover --source openverse|inaturalist|wikimedia|flickr", 1, 1},
	{"crawl", cmd_crawl, "fetch, validate, hash and store queued image urls: crawl [--seeds FILE]", 1, 1},
	{"stats", cmd_stats, "urls by state and images, per class and in total", 1, 0},
	{"report", cmd_report, "one HTML page with charts of what a build found, kept and threw away: report [--json]", 1, 0},
	{"dups", cmd_dups, "groups of near-duplicate images by perceptual hash", 1, 0},
	{"model", cmd_model, "classifier weights: model add FILE --name NAME, model list, model fetch NAME", 1, 0},
	{"classify", cmd_classify, "top-5 predictions for image files: classify --model NAME|FILE IMAGE...", 0, 1},
	{"score", cmd_score, "predictions for every stored image: score --model NAME", 1, 1},
	{"select", cmd_select, "propose what a model gets confidently wrong: select --model NAME [--set NAME]", 1, 0},
	{"review", cmd_review, "decide on proposals: review --accept|--reject ID..., --auto-accept, --undo, --list, --serve", 1, 1},
	{"export", cmd_export, "write a release: export --set NAME --out DIR [--tar] [--partial]", 1, 0},
	{"verify", cmd_verify, "check a release folder or tar against its checksums: verify DIR|TAR", 0, 0},
	{"audit", cmd_audit, "the whole history of one image: audit PATH|HASH|URL [--json]", 1, 0},
	{"rebuild", cmd_rebuild, "re-fetch a release manifest into a workspace, creating it if need be: rebuild --manifest FILE", 0, 1},
	{"eval", cmd_eval, "accuracy, calibration error, AURRA (or --ood: AUROC, AUPR, FPR95) of models on a release: eval --model M[,M2...] DIR", 0, 1},
	{"split", cmd_split, "hand pending work to part workspaces: split crawl|score --parts N [--by host|url] [--model NAME]; split abandon DIR...", 1, 0},
	{"merge", cmd_merge, "fold finished parts back into the workspace: merge DIR...", 1, 0},
	{"slurm", cmd_slurm, "crawl or score as a Slurm job array over parts: slurm crawl|score|status|resubmit", 1, 1},
};

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("natadv: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage(const char *command, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "natadv %s: ", command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'natadv %s --help')\n", command);
	return EXIT_USAGE;
}

int cli_parse_int(const char *command, const char *opt, const char *v, long long min, long long max,
                  long long *out)
{
	char *end;
	long long n = strtoll(v, &end, 10);
	if (end == v || *end || n < min || n > max)
		return cli_usage(command, "%s wants a whole number from %lld to %lld, not '%s'", opt, min, max, v);
	*out = n;
	return 0;
}

int cli_parse_bytes(const char *command, const char *opt, const char *v, long long *out)
{
	char *end;
	double n = strtod(v, &end);
	double mult = 1;
	if (end != v) {
		if (!strcasecmp(end, "k") || !strcasecmp(end, "kb")) mult = 1e3;
		else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb")) mult = 1e6;
		else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb")) mult = 1e9;
		else if (!strcasecmp(end, "kib")) mult = 1024.0;
		else if (!strcasecmp(end, "mib")) mult = 1024.0 * 1024;
		else if (!strcasecmp(end, "gib")) mult = 1024.0 * 1024 * 1024;
		else if (*end) end = (char *)v;
	}
	if (end == v || n * mult < 1 || n * mult > 1e12)
		return cli_usage(command, "%s wants a size like 20000000 or 20MB, not '%s'", opt, v);
	*out = (long long)(n * mult);
	return 0;
}

int cli_parse_double(const char *command, const char *opt, const char *v, double *out)
{
	char *end;
	double d = strtod(v, &end);
	if (end == v || *end || d < 0 || d > 1e9)
		return cli_usage(command, "%s wants a non-negative number, not '%s'", opt, v);
	*out = d;
	return 0;
}

const char *cli_num(int64_t n, char out[32])
{
	return fmt_thousands(n, out);
}

int cli_json_put(json_t *o, size_t flags)
{
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | flags) : NULL;
	json_decref(o);
	if (!text)
		return -1;
	int rc = puts(text) < 0 ? -1 : 0;
	free(text);
	return rc;
}

const char *cli_default_reviewer(void)
{
	const char *r = getenv("NATADV_REVIEWER");
	if (!r || !*r)
		r = getenv("USER");
	return r && *r ? r : "unknown";
}

int cli_split_list(char *v, const char **out, int max)
{
	int n = 0;
	for (char *p = v; p;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (*p) {
			if (n == max)
				return -1;
			out[n++] = p;
		}
		p = comma ? comma + 1 : NULL;
	}
	return n;
}

static void on_signal(int sig)
{
	(void)sig;
	cli_stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: natadv [-w|--workspace DIR] [-q|--quiet] [-v|--verbose] <command> [options]\n"
	           "       natadv help [command]   natadv <command> --help   natadv --version\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

#define ARGS_MAX (1 << 20)     /* of the command line recorded in runs.args */
#define ARGS_CUT " [cut: the command line is longer than 1 MiB]"

/* Joins argv into one line a shell would read back into out (initialised
 * with room for ARGS_MAX + the note). A longer line is cut at ARGS_MAX and
 * says so. 0, or NATADV_ENOMEM. */
static int join_args(int argc, char **argv, buf *out)
{
	buf line;
	buf_init(&line, ARGS_MAX);
	int rc = 0;
	for (int i = 0; !rc && i < argc; i++) {
		if (i)
			rc = buf_puts(&line, " ");
		if (!rc)
			rc = shell_quote(argv[i], &line);
	}
	buf_reset(out);
	if (!rc || rc == NATADV_ETOOBIG)
		rc = buf_append(out, buf_cstr(&line), line.len) || (rc && buf_puts(out, ARGS_CUT)) ? NATADV_ENOMEM : 0;
	buf_release(&line);
	return rc;
}

int main(int argc, char **argv)
{
	struct cli c = {0};
	c.workspace = getenv("NATADV_WORKSPACE");
	static const struct option opts[] = {
		{"workspace", required_argument, 0, 'w'}, {"quiet", no_argument, 0, 'q'},
		{"verbose", no_argument, 0, 'v'},         {"version", no_argument, 0, 'V'},
		{"help", no_argument, 0, 'h'},            {0, 0, 0, 0},
	};
	int ch;
	/* '+' stops at the subcommand, whose options are its own. */
	while ((ch = getopt_long(argc, argv, "+w:qvh", opts, NULL)) != -1) {
		switch (ch) {
		case 'w': c.workspace = optarg; break;
		case 'q': c.quiet = 1; break;
		case 'v': c.verbose = 1; break;
		case 'V': printf("natadv %s\n", NATADV_VERSION); return EXIT_OK;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (!c.workspace || !*c.workspace)
		c.workspace = ".";
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[optind];
	if (strcmp(name, "help") == 0) {
		if (optind + 1 < argc) {
			char *sub[] = {argv[optind + 1], "--help", NULL};
			optind = 0;
			for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
				if (strcmp(commands[i].name, sub[0]) == 0)
					return commands[i].fn(&c, 2, sub);
			cli_error("unknown command '%s'", sub[0]);
			return EXIT_USAGE;
		}
		usage(stdout);
		return EXIT_OK;
	}
	const struct command *cmd = NULL;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			cmd = &commands[i];
	if (!cmd) {
		cli_error("unknown command '%s' (see 'natadv help')", name);
		return EXIT_USAGE;
	}
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	for (int i = 1; i < sub_argc; i++) {
		if (strcmp(sub_argv[i], "--help") == 0 || strcmp(sub_argv[i], "-h") == 0) {
			optind = 0; /* the subcommand's getopt starts afresh, as below */
			return cmd->fn(&c, sub_argc, sub_argv);
		}
	}
	buf args;
	buf_init(&args, ARGS_MAX + sizeof ARGS_CUT);
	if (join_args(argc, argv, &args) != 0) {
		cli_error("cannot record the command line: out of memory");
		buf_release(&args);
		return EXIT_FAIL;
	}
	c.command = cmd->name;
	c.args = buf_cstr(&args);

	if (cmd->stops_cleanly) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	signal(SIGPIPE, SIG_IGN);

	int status;
	if (cmd->needs_workspace) {
		char err[1024];
		int rc = store_open(c.workspace, &c.st, err, sizeof err);
		if (rc) {
			cli_error("%s", err);
			buf_release(&args);
			return EXIT_FAIL;
		}
		if (store_run_begin(c.st, c.command, c.args, &c.run_id) != 0) {
			cli_error("%s", store_errmsg(c.st));
			store_close(c.st);
			buf_release(&args);
			return EXIT_FAIL;
		}
	}
	optind = 0; /* the subcommand parses its own argv; 0 makes getopt start afresh */
	status = cmd->fn(&c, sub_argc, sub_argv);
	if (c.st) {
		store_rollback(c.st);
		if (c.run_id && store_run_end(c.st, c.run_id, status) != 0)
			cli_error("cannot record the end of this run: %s", store_errmsg(c.st));
		store_close(c.st);
	}
	buf_release(&args);
	return status;
}
