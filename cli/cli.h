/* cli.h — what the natadv command's files share: the global options, the
 * subcommand table entries and helpers for messages and exit codes. */
#ifndef NATADV_CLI_H
#define NATADV_CLI_H

#include <signal.h>
#include <stdint.h>

#include "store/store.h"

/* Exit statuses of every command (see CLI.md). */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_PARTIAL = 3 };

struct cli {
	const char *workspace;   /* -w, $NATADV_WORKSPACE, or "." */
	int quiet, verbose;
	store *st;               /* opened by main for every command but init */
	int64_t run_id;          /* this invocation's row in runs */
	const char *command;
	const char *args;        /* the whole command line, quoted */
};

/* Set by SIGINT/SIGTERM; long commands poll it and stop cleanly. */
extern volatile sig_atomic_t cli_stop;

/* Prints "natadv: " + message to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a usage error for command and returns EXIT_USAGE. */
int cli_usage(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses a non-negative integer option value; 0 or EXIT_USAGE. */
int cli_parse_int(const char *command, const char *opt, const char *v, long long min, long long max,
                  long long *out);
/* Parses a number like 20000000, 20MB, 512KiB; 0 or EXIT_USAGE. */
int cli_parse_bytes(const char *command, const char *opt, const char *v, long long *out);
/* Parses a non-negative decimal number; 0 or EXIT_USAGE. */
int cli_parse_double(const char *command, const char *opt, const char *v, double *out);
/* Formats n with thousands separators into out (at least 32 bytes). */
const char *cli_num(int64_t n, char out[32]);
struct json_t;
/* Prints o as one compact line of JSON to stdout, keys in insertion order
 * (flags: more jansson dump flags, e.g. JSON_REAL_PRECISION(6)) and drops
 * the reference to o, which may be NULL (out of memory). 0, or -1 when
 * nothing could be printed. */
int cli_json_put(struct json_t *o, size_t flags);
/* Returns who decides in review when --reviewer is not given:
 * $NATADV_REVIEWER, else $USER, else "unknown" (not to be freed). */
const char *cli_default_reviewer(void);

/* The options of the commands that run a model (classify, eval, score):
 * --model NAME|FILE, --batch N (1 to 256, 8) and --threads N (1 to 256;
 * 0, the default, leaves the model's own). */
enum { CLI_MF_MODEL = 900, CLI_MF_BATCH, CLI_MF_THREADS };
#define CLI_MODEL_OPTIONS                                  \
	{"model", required_argument, 0, CLI_MF_MODEL},     \
	{"batch", required_argument, 0, CLI_MF_BATCH},     \
	{"threads", required_argument, 0, CLI_MF_THREADS}
struct cli_model_flags {
	const char *model;
	int batch, threads;
};
#define CLI_MODEL_FLAGS_INIT {NULL, 8, 0}
/* Applies option ch (value arg) to f: 0, or EXIT_USAGE (message printed)
 * for a bad value or an option that is not one of these. */
int cli_model_flag(const char *command, int ch, const char *arg, struct cli_model_flags *f);

struct net;
/* Resolves --model NAME|FILE (f->model) for commands that run without a
 * workspace: a safetensors file opens an in-memory store (class lists
 * only), a name opens the workspace (recording the run in *run_id) and
 * finds the model's weights; then loads them into *m with f->threads
 * threads if set; id (may be NULL) gets the weights' SHA-256. Returns
 * EXIT_OK, or EXIT_FAIL with the message printed. The caller ends the run
 * and frees *st and *m in either case. */
int cli_model_open(struct cli *c, const struct cli_model_flags *f, store **st, int64_t *run_id, struct net **m,
                   char id[65]);
/* With -v: says on stderr what was loaded for name and what the packed-
 * weights cache did (hit, written, rebuilt: CAUSE, none: CAUSE). */
void cli_model_said(const char *name, const struct net *m);
/* cli_model_open for the n models named by models[0..n) (files or names;
 * the workspace is opened when any is a name), each loaded into m[k] with
 * threads threads if not 0; ids (may be NULL) gets each one's SHA-256. The
 * caller ends the run and frees *st and every m[k] in either case. */
int cli_models_open(struct cli *c, const char *const *models, int n, int threads, store **st, int64_t *run_id,
                    struct net **m, char (*ids)[65]);
/* Splits the comma list v in place into out[0..max); returns the count, or
 * -1 when there are more than max items. */
int cli_split_list(char *v, const char **out, int max);

int cmd_init(struct cli *c, int argc, char **argv);
int cmd_classes(struct cli *c, int argc, char **argv);
int cmd_crawl(struct cli *c, int argc, char **argv);
int cmd_stats(struct cli *c, int argc, char **argv);
int cmd_report(struct cli *c, int argc, char **argv);
int cmd_dups(struct cli *c, int argc, char **argv);
int cmd_model(struct cli *c, int argc, char **argv);
int cmd_classify(struct cli *c, int argc, char **argv);
int cmd_score(struct cli *c, int argc, char **argv);
int cmd_audit(struct cli *c, int argc, char **argv);
int cmd_rebuild(struct cli *c, int argc, char **argv);
int cmd_select(struct cli *c, int argc, char **argv);
int cmd_review(struct cli *c, int argc, char **argv);
int cmd_eval(struct cli *c, int argc, char **argv);
int cmd_review_serve(struct cli *c, int argc, char **argv);
int cmd_export(struct cli *c, int argc, char **argv);
int cmd_verify(struct cli *c, int argc, char **argv);
int cmd_discover(struct cli *c, int argc, char **argv);
int cmd_split(struct cli *c, int argc, char **argv);
int cmd_merge(struct cli *c, int argc, char **argv);
int cmd_slurm(struct cli *c, int argc, char **argv);

#endif
