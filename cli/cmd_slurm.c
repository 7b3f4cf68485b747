/* cmd_slurm.c — `natadv slurm crawl|score|status|resubmit`: a stage run as a
 * Slurm job array over the parts of the workspace (split), merged back by a
 * job that waits for the array (merge); the state of each part; the failed,
 * cancelled or timed-out parts submitted again (never an abandoned one).
 * The work is slurm/'s and scaleout/'s;
 * this file parses, prints and waits. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/crawl_flags.h"
#include "common/err.h"
#include "common/shell.h"
#include "scaleout/scaleout.h"
#include "slurm/slurm.h"

#define ARGS_MAX 256

static void help(void)
{
	printf("usage: natadv slurm crawl --parts N [--by host|url] [crawl options] [sbatch options] [--wait] [--dry-run]\n"
	       "       natadv slurm score --model NAME --parts N [--batch N] [--decoders N] [--fast] [sbatch options] [--wait] [--dry-run]\n"
	       "       natadv slurm status [--json] [--id ID]\n"
	       "       natadv slurm resubmit [--wait] [--id ID]\n\n"
	       "crawl and score split the stage's pending work into N parts (natadv split), write\n"
	       "WS/slurm/ID/array.sbatch (a job array, task i runs 'natadv -w PARTS/part-000i STAGE')\n"
	       "and merge.sbatch ('natadv -w WS merge PARTS'), submit the array with sbatch and the\n"
	       "merge with --dependency=afterany on it, and print both job ids. ID is STAGE-RUN, the\n"
	       "parts are in WS/parts/ID, each task's output in WS/slurm/ID/logs/part-NNNN.log.\n\n"
	       "sbatch options (written as #SBATCH lines; Slurm's defaults when not given):\n"
	       "  --partition P, --account A, --time T, --mem M\n"
	       "  --cpus-per-task N    also each part's threads (crawl --workers, score --threads)\n"
	       "  --max-running K      at most K tasks at once (--array=0-(N-1)%%K)\n"
	       "  --sbatch-arg ARG     any other sbatch option, e.g. --sbatch-arg=--constraint=avx512\n"
	       "                       (repeatable; also on the merge job)\n"
	       "  --wait               block until the merge job has ended (exit 3 unless every part is done)\n"
	       "  --poll S             seconds between two looks at squeue while waiting (2)\n"
	       "  --dry-run            split and write the scripts, print them, submit nothing\n"
	       "                       ('natadv slurm resubmit' submits them later)\n\n"
	       "status: each part pending, running, done, failed, cancelled, timeout (hit its --time)\n"
	       "or abandoned (split abandon), from squeue, the workspace, the part's own database and\n"
	       "its task's exit; no accounting database needed; of the latest submission or of --id ID.\n"
	       "Exit status 3 while any part is neither done nor abandoned.\n"
	       "resubmit: submits again only the parts that failed, were cancelled, timed out or never\n"
	       "went (--array=3,17), never an abandoned one, and a new merge after them.\n");
}

enum {
	O_PARTS = 256, O_BY, O_PARTITION, O_ACCOUNT, O_TIME, O_CPUS, O_MEM, O_MAXRUN, O_SBATCH_ARG, O_WAIT,
	O_DRY, O_POLL, O_DECODERS, O_FAST, O_JSON, O_ID
};

struct run_args {
	const char *stage;
	long long parts;
	const char *by;
	slurm_opts so;
	const char *extra[ARGS_MAX];
	const char *sargs[ARGS_MAX];     /* the stage's own arguments, passed to every part */
	int nsargs;
	char names[ARGS_MAX][40];        /* "--NAME" of each of them */
	int nnames;
	int threads_given, wait, dry;
	double poll;
	struct cli_model_flags mf;
};

static int add_arg(struct run_args *a, const char *v)
{
	if (a->nsargs == ARGS_MAX)
		return cli_usage("slurm", "too many arguments");
	a->sargs[a->nsargs++] = v;
	return 0;
}

/* The options common to every submitting subcommand. 1 when ch was not one. */
static int submit_flag(struct run_args *a, int ch, const char *arg)
{
	long long n;
	double d;
	switch (ch) {
	case O_PARTITION: a->so.partition = arg; return 0;
	case O_ACCOUNT: a->so.account = arg; return 0;
	case O_TIME: a->so.time = arg; return 0;
	case O_MEM: a->so.mem = arg; return 0;
	case O_CPUS:
		if (cli_parse_int("slurm", "--cpus-per-task", arg, 1, 4096, &n)) return EXIT_USAGE;
		a->so.cpus_per_task = (int)n;
		return 0;
	case O_MAXRUN:
		if (cli_parse_int("slurm", "--max-running", arg, 1, 100000, &n)) return EXIT_USAGE;
		a->so.max_running = (int)n;
		return 0;
	case O_SBATCH_ARG:
		if (a->so.nextra == ARGS_MAX) return cli_usage("slurm", "too many --sbatch-arg");
		if (arg[0] != '-') return cli_usage("slurm", "--sbatch-arg wants an sbatch option like --constraint=avx2, not '%s'", arg);
		a->extra[a->so.nextra++] = arg;
		a->so.extra = a->extra;
		return 0;
	case O_WAIT: a->wait = 1; return 0;
	case O_DRY: a->dry = 1; return 0;
	case O_POLL:
		if (cli_parse_double("slurm", "--poll", arg, &d)) return EXIT_USAGE;
		if (d < 0.1 || d > 3600) return cli_usage("slurm", "--poll wants 0.1 to 3600 seconds, not '%s'", arg);
		a->poll = d;
		return 0;
	}
	return 1;
}

/* The options of slurm crawl|score; the stage's own are checked here and
 * passed on as they were given. */
static int stage_flag(struct run_args *a, const struct option *opts, int idx, int ch, const char *arg)
{
	int crawl = !strcmp(a->stage, "crawl");
	long long n;
	int rc = submit_flag(a, ch, arg);
	if (rc != 1)
		return rc;
	const char *name = idx >= 0 ? opts[idx].name : "?";
	if (ch == O_PARTS)
		return cli_parse_int("slurm", "--parts", arg, 1, SCALEOUT_PARTS_MAX, &a->parts);
	if (ch == O_BY) {
		if (!crawl) return cli_usage("slurm", "--by is for slurm crawl");
		if (strcmp(arg, "host") && strcmp(arg, "url")) return cli_usage("slurm", "--by wants host or url, not '%s'", arg);
		a->by = arg;
		return 0;
	}
	if (ch >= CF_CONC && crawl) {
		crawl_opts o;
		memset(&o, 0, sizeof o);
		if (cli_crawl_flag("slurm crawl", ch, arg, &o)) return EXIT_USAGE;
		a->threads_given |= ch == CF_WORKERS;
	} else if ((ch == CLI_MF_MODEL || ch == CLI_MF_BATCH || ch == CLI_MF_THREADS) && !crawl) {
		if (cli_model_flag("slurm score", ch, arg, &a->mf)) return EXIT_USAGE;
		a->threads_given |= ch == CLI_MF_THREADS;
	} else if (ch == O_DECODERS && !crawl) {
		if (cli_parse_int("slurm score", "--decoders", arg, 1, 256, &n)) return EXIT_USAGE;
	} else if (ch != O_FAST || crawl) {
		return cli_usage("slurm", "'--%s' is not an option of slurm %s", name, a->stage);
	}
	if (ch == CLI_MF_MODEL)
		return 0; /* --model goes first, see run_stage */
	if (a->nsargs + 2 > ARGS_MAX)
		return cli_usage("slurm", "too many arguments");
	snprintf(a->names[a->nnames], sizeof a->names[0], "--%s", name);
	if (add_arg(a, a->names[a->nnames++]))
		return EXIT_USAGE;
	return arg ? add_arg(a, arg) : 0;
}

static const struct option run_opts[] = {
	{"parts", required_argument, 0, O_PARTS},
	{"by", required_argument, 0, O_BY},
	{"partition", required_argument, 0, O_PARTITION},
	{"account", required_argument, 0, O_ACCOUNT},
	{"time", required_argument, 0, O_TIME},
	{"cpus-per-task", required_argument, 0, O_CPUS},
	{"mem", required_argument, 0, O_MEM},
	{"max-running", required_argument, 0, O_MAXRUN},
	{"sbatch-arg", required_argument, 0, O_SBATCH_ARG},
	{"wait", no_argument, 0, O_WAIT},
	{"dry-run", no_argument, 0, O_DRY},
	{"poll", required_argument, 0, O_POLL},
	{"decoders", required_argument, 0, O_DECODERS},
	{"fast", no_argument, 0, O_FAST},
	CLI_MODEL_OPTIONS,
	CLI_CRAWL_OPTIONS,
	{"help", no_argument, 0, 'h'},
	{0, 0, 0, 0},
};

/* The realpath of the running natadv, for the jobs to run. */
static int self_path(char out[PATH_MAX])
{
	ssize_t n = readlink("/proc/self/exe", out, PATH_MAX - 1);
	if (n <= 0)
		return -1;
	out[n] = '\0';
	return 0;
}

static void print_watch(struct cli *c, const slurm_sub *s)
{
	if (c->quiet || !s->narrays)
		return;
	const slurm_array *a = &s->arrays[s->narrays - 1];
	fprintf(stderr, "natadv: submitted '%s': array job %s (parts %s of %d%s), merge job %s after it\n", s->id,
	        a->job, a->tasks, s->nparts, s->max_running ? ", a few at a time" : "", s->merges[s->nmerges - 1]);
	buf ws;
	buf_init(&ws, 64 * 1024);
	shell_quote(s->workspace, &ws);
	fprintf(stderr, "watch: squeue -j %s,%s   or   natadv -w %s slurm status\n", a->job, s->merges[s->nmerges - 1],
	        buf_cstr(&ws));
	buf_release(&ws);
}

/* Prints the state of every part and the merge; returns the exit status
 * (3 while any part is not done). */
static int print_status(const slurm_sub *s, const slurm_status *st, int json)
{
	if (json) {
		json_t *parts = json_array();
		for (int i = 0; parts && i < s->nparts; i++) {
			const slurm_part *p = &st->parts[i];
			json_array_append_new(parts, json_pack("{s:i, s:s, s:s, s:s, s:s}", "part", p->index, "state",
			                                        slurm_state_name(p->state), "job", p->job, "slurm",
			                                        p->slurm, "why", p->why));
		}
		json_t *counts = json_object();
		for (int k = 0; counts && k < SLURM_NSTATES; k++)
			json_object_set_new(counts, slurm_state_name((slurm_state)k), json_integer(st->n[k]));
		json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:o, s:o, s:{s:s, s:s}}", "id", s->id, "stage", s->stage,
		                      "parts_dir", s->parts, "nparts", s->nparts, "counts", counts, "parts", parts, "merge",
		                      "job", st->merge_job, "state", st->merge_state);
		if (cli_json_put(o, 0) != 0) {
			cli_error("cannot print the status: out of memory");
			return EXIT_FAIL;
		}
	} else {
		printf("%s: %d parts in '%s': %d pending, %d running, %d done, %d failed, %d cancelled, %d timeout, "
		       "%d abandoned\n", s->id, s->nparts, s->parts, st->n[SLURM_PENDING], st->n[SLURM_RUNNING],
		       st->n[SLURM_DONE], st->n[SLURM_FAILED], st->n[SLURM_CANCELLED], st->n[SLURM_TIMEOUT],
		       st->n[SLURM_ABANDONED]);
		for (int i = 0; i < s->nparts; i++) {
			const slurm_part *p = &st->parts[i];
			printf("part-%04d  %-9s  %-12s  %s\n", p->index, slurm_state_name(p->state), p->job[0] ? p->job : "-",
			       p->why);
		}
		printf("merge      %-9s  %s\n", st->merge_state[0] ? st->merge_state : st->merge_job[0] ? "ended" : "-",
		       st->merge_job[0] ? st->merge_job : "-");
	}
	return slurm_status_finished(st) ? EXIT_OK : EXIT_PARTIAL;
}

/* Waits for s's latest merge job, then reports every part. */
static int wait_merge(struct cli *c, const slurm_sub *s, double poll)
{
	char state[32], err[2048];
	if (!c->quiet)
		fprintf(stderr, "natadv: waiting for merge job %s\n", s->merges[s->nmerges - 1]);
	int rc = slurm_wait_job(s->merges[s->nmerges - 1], poll, &cli_stop, state, err, sizeof err);
	if (rc == NATADV_EINTR) {
		cli_error("stopped waiting; the jobs go on (natadv slurm status)");
		return EXIT_FAIL;
	}
	if (rc) {
		cli_error("%s", err);
		return EXIT_FAIL;
	}
	slurm_status st;
	if (slurm_status_get(s, slurm_part_facts, c->st, &st, err, sizeof err) != 0) {
		cli_error("%s", err);
		return EXIT_FAIL;
	}
	if (!c->quiet)
		fprintf(stderr, "natadv: merge job %s ended (%s): %d of %d parts done, %d failed, %d cancelled, "
		        "%d timeout, %d abandoned\n", s->merges[s->nmerges - 1], state[0] ? state : "gone from squeue",
		        st.n[SLURM_DONE], s->nparts, st.n[SLURM_FAILED], st.n[SLURM_CANCELLED], st.n[SLURM_TIMEOUT],
		        st.n[SLURM_ABANDONED]);
	int status = slurm_status_finished(&st) && (!state[0] || !strcmp(state, "COMPLETED")) ? EXIT_OK : EXIT_PARTIAL;
	slurm_status_release(&st);
	return status;
}

/* Submits s (the tasks listed, or all), then records what was submitted,
 * also when sbatch failed midway (the array went, the merge did not). */
static int submit_and_save(slurm_sub *s, const char *tasks, const char *const *after, int nafter)
{
	char err[2048], err2[2048];
	int rc = slurm_submit(s, tasks, after, nafter, err, sizeof err);
	int rc2 = slurm_sub_save(s, err2, sizeof err2);
	if (rc)
		cli_error("cannot submit '%s': %s (its parts are ready in '%s': 'natadv slurm resubmit --id %s' submits "
		          "what is not done)", s->id, err, s->parts, s->id);
	if (rc2)
		cli_error("%s", err2);
	return rc || rc2 ? EXIT_FAIL : EXIT_OK;
}

/* Writes s's merge script again without the abandoned parts of st (merge
 * refuses them), or with the whole parts folder when there are none. */
static int merge_without_abandoned(const slurm_sub *s, const slurm_status *st)
{
	unsigned char *skip = calloc((size_t)s->nparts, 1);
	char err[2048];
	if (!skip) {
		cli_error("cannot write the merge script: out of memory");
		return EXIT_FAIL;
	}
	for (int i = 0; i < s->nparts; i++)
		skip[i] = st->parts[i].state == SLURM_ABANDONED;
	int rc = slurm_write_merge_script(s, skip, err, sizeof err);
	free(skip);
	if (rc)
		cli_error("%s", err);
	return rc ? EXIT_FAIL : EXIT_OK;
}

/* Submits the parts of s that failed, were cancelled, timed out or never
 * went, never an abandoned one, and a merge after them (and after the
 * arrays still running parts); nothing to resubmit is no error. */
static int resubmit_parts(struct cli *c, slurm_sub *s, const slurm_status *st, int wait, double poll)
{
	buf list;
	buf_init(&list, 1024 * 1024);
	int n = slurm_status_rerun_list(st, &list), status = EXIT_OK;
	const char *after[64];
	int nafter = 0;
	for (int a = 0; a < s->narrays && nafter < 64; a++) {
		int active = 0;
		for (int i = 0; i < s->nparts; i++)
			if ((st->parts[i].state == SLURM_PENDING || st->parts[i].state == SLURM_RUNNING) &&
			    !strncmp(st->parts[i].job, s->arrays[a].job, strlen(s->arrays[a].job)) &&
			    st->parts[i].job[strlen(s->arrays[a].job)] == '_')
				active = 1;
		if (active)
			after[nafter++] = s->arrays[a].job;
	}
	if (n < 0) {
		cli_error("too many parts to resubmit at once");
		status = EXIT_FAIL;
	} else if (n == 0) {
		if (!c->quiet)
			fprintf(stderr, "natadv: nothing to resubmit in '%s': %d done, %d abandoned, %d pending, %d running\n",
			        s->id, st->n[SLURM_DONE], st->n[SLURM_ABANDONED], st->n[SLURM_PENDING], st->n[SLURM_RUNNING]);
	} else {
		status = merge_without_abandoned(s, st);
		if (!status)
			status = submit_and_save(s, buf_cstr(&list), after, nafter);
		if (!status) {
			print_watch(c, s);
			printf("%s %s %s\n", s->id, s->arrays[s->narrays - 1].job, s->merges[s->nmerges - 1]);
			fflush(stdout);
		}
		if (!status && wait)
			status = wait_merge(c, s, poll);
	}
	buf_release(&list);
	return status;
}

/* Prints both scripts of s to stdout (--dry-run). */
static int print_scripts(const slurm_sub *s)
{
	const char *names[] = {"array.sbatch", "merge.sbatch"};
	char err[2048];
	for (int i = 0; i < 2; i++) {
		buf b;
		buf_init(&b, 16 * 1024 * 1024);
		if (slurm_read_script(s, names[i], &b, err, sizeof err) != 0) {
			cli_error("%s", err);
			buf_release(&b);
			return EXIT_FAIL;
		}
		printf("==> %s/%s <==\n%s\n", s->dir, names[i], buf_cstr(&b));
		buf_release(&b);
	}
	return EXIT_OK;
}

/* Splits the stage's work and writes the submission (not submitted yet). */
static int make_submission(struct cli *c, struct run_args *a, slurm_sub **out)
{
	char ws[PATH_MAX], self[PATH_MAX], parts[PATH_MAX], id[64], dir[PATH_MAX + 128], err[2048];
	if (!realpath(c->workspace, ws) || self_path(self) != 0) {
		cli_error("cannot find the absolute path of '%s' or of natadv itself", c->workspace);
		return EXIT_FAIL;
	}
	scaleout_split_opts so = {.stage = a->stage, .by = a->by, .model = a->mf.model, .parts = (int)a->parts,
	                          .run_id = c->run_id};
	scaleout_split_result r;
	if (scaleout_split(c->st, &so, &r, err, sizeof err) != 0) {
		cli_error("%s", err);
		return EXIT_FAIL;
	}
	if (!realpath(r.out_dir, parts)) {
		cli_error("cannot find the absolute path of '%s'", r.out_dir);
		return EXIT_FAIL;
	}
	char a1[32], a2[32];
	if (!c->quiet)
		fprintf(stderr, "natadv: split %s into %d parts in '%s': %s %s, the largest part %s\n", a->stage, r.parts,
		        parts, cli_num(r.items, a1), strcmp(a->stage, "crawl") ? "images" : "urls", cli_num(r.largest, a2));
	snprintf(id, sizeof id, "%s-%lld", a->stage, (long long)c->run_id);
	snprintf(dir, sizeof dir, "%s/slurm", ws);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		cli_error("cannot make '%s': %s", dir, strerror(errno));
		return EXIT_FAIL;
	}
	snprintf(dir, sizeof dir, "%s/slurm/%s", ws, id);
	int rc = slurm_sub_new(id, a->stage, ws, parts, dir, self, r.parts, a->sargs, a->nsargs, &a->so, out, err,
	                       sizeof err);
	if (!rc)
		(*out)->split_id = r.split_id;
	if (!rc)
		rc = slurm_write_scripts(*out, err, sizeof err);
	if (!rc)
		rc = slurm_sub_save(*out, err, sizeof err);
	if (rc) {
		cli_error("%s", err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int run_stage(struct cli *c, const char *stage, int argc, char **argv)
{
	static struct run_args a; /* big; one per process (cli/ may keep state) */
	memset(&a, 0, sizeof a);
	a.stage = stage;
	a.poll = 2;
	a.mf = (struct cli_model_flags)CLI_MODEL_FLAGS_INIT;
	int ch, idx;
	optind = 0;
	while ((idx = -1, ch = getopt_long(argc, argv, "h", run_opts, &idx)) != -1) {
		if (ch == 'h') { help(); return EXIT_OK; }
		if (ch == '?') return cli_usage("slurm", "unknown option");
		int rc = stage_flag(&a, run_opts, idx, ch, optarg);
		if (rc) return rc;
	}
	if (optind < argc) return cli_usage("slurm", "unexpected argument '%s'", argv[optind]);
	if (!a.parts) return cli_usage("slurm", "slurm %s wants --parts N", stage);
	int crawl = !strcmp(stage, "crawl");
	if (!crawl && !a.mf.model) return cli_usage("slurm", "slurm score wants --model NAME");
	/* the model first, then the threads from --cpus-per-task, then the rest */
	const char *first[3] = {0};
	int nfirst = 0;
	char threads[32];
	if (!crawl) { first[nfirst++] = "--model"; first[nfirst++] = a.mf.model; }
	if (a.nsargs + 4 > ARGS_MAX) return cli_usage("slurm", "too many arguments");
	if (a.so.cpus_per_task && !a.threads_given) {
		snprintf(threads, sizeof threads, "%d", a.so.cpus_per_task);
		memmove(a.sargs + 2, a.sargs, (size_t)a.nsargs * sizeof a.sargs[0]);
		a.sargs[0] = crawl ? "--workers" : "--threads";
		a.sargs[1] = threads;
		a.nsargs += 2;
	}
	if (nfirst) {
		memmove(a.sargs + 2, a.sargs, (size_t)a.nsargs * sizeof a.sargs[0]);
		a.sargs[0] = first[0];
		a.sargs[1] = first[1];
		a.nsargs += 2;
	}
	slurm_sub *s = NULL;
	int status = make_submission(c, &a, &s);
	if (status)
		goto out;
	if (a.dry) {
		status = print_scripts(s);
		buf ws;
		buf_init(&ws, 64 * 1024);
		shell_quote(s->workspace, &ws);
		if (!c->quiet)
			fprintf(stderr, "natadv: nothing submitted (--dry-run); submit with: natadv -w %s slurm resubmit --id %s\n",
			        buf_cstr(&ws), s->id);
		buf_release(&ws);
		goto out;
	}
	status = submit_and_save(s, NULL, NULL, 0);
	if (status)
		goto out;
	print_watch(c, s);
	printf("%s %s %s\n", s->id, s->arrays[0].job, s->merges[0]);
	fflush(stdout);
	if (a.wait)
		status = wait_merge(c, s, a.poll);
out:
	slurm_sub_free(s);
	return status;
}

/* Loads the submission --id names, else the latest one. */
static int load_sub(struct cli *c, const char *id, slurm_sub **s)
{
	char err[2048], ws[PATH_MAX], dir[PATH_MAX + 128];
	int rc;
	if (!realpath(c->workspace, ws)) {
		cli_error("cannot find the absolute path of '%s': %s", c->workspace, strerror(errno));
		return EXIT_FAIL;
	}
	if (id) {
		if (strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, "..")) {
			cli_error("no slurm submission '%s' in '%s'", id, c->workspace);
			return EXIT_FAIL;
		}
		snprintf(dir, sizeof dir, "%s/slurm/%s", ws, id);
		rc = slurm_sub_load(dir, s, err, sizeof err);
	} else {
		rc = slurm_sub_latest(ws, s, err, sizeof err);
	}
	if (rc) {
		cli_error("%s", err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int status_cmd(struct cli *c, int argc, char **argv, int resubmit)
{
	static const struct option opts[] = {
		{"json", no_argument, 0, O_JSON}, {"id", required_argument, 0, O_ID}, {"wait", no_argument, 0, O_WAIT},
		{"poll", required_argument, 0, O_POLL}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
	};
	const char *id = NULL;
	int json = 0, wait = 0, ch;
	double poll = 2;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_JSON: if (resubmit) return cli_usage("slurm", "--json is for slurm status"); json = 1; break;
		case O_WAIT: if (!resubmit) return cli_usage("slurm", "--wait is for slurm resubmit"); wait = 1; break;
		case O_POLL:
			if (cli_parse_double("slurm", "--poll", optarg, &poll)) return EXIT_USAGE;
			if (poll < 0.1 || poll > 3600) return cli_usage("slurm", "--poll wants 0.1 to 3600 seconds, not '%s'", optarg);
			break;
		case O_ID: id = optarg; break;
		case 'h': help(); return EXIT_OK;
		default: return cli_usage("slurm", "unknown option");
		}
	}
	if (optind < argc) return cli_usage("slurm", "unexpected argument '%s'", argv[optind]);
	slurm_sub *s = NULL;
	slurm_status st = {0};
	char err[2048];
	int status = load_sub(c, id, &s);
	if (status)
		return status;
	if (slurm_status_get(s, slurm_part_facts, c->st, &st, err, sizeof err) != 0) {
		cli_error("%s", err);
		status = EXIT_FAIL;
	} else if (!resubmit) {
		status = print_status(s, &st, json);
	} else {
		status = resubmit_parts(c, s, &st, wait, poll);
	}
	slurm_status_release(&st);
	slurm_sub_free(s);
	return status;
}

int cmd_slurm(struct cli *c, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		if (argc < 2)
			return cli_usage("slurm", "wants crawl, score, status or resubmit");
		help();
		return EXIT_OK;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "crawl") || !strcmp(sub, "score"))
		return run_stage(c, sub, argc - 1, argv + 1);
	if (!strcmp(sub, "status"))
		return status_cmd(c, argc - 1, argv + 1, 0);
	if (!strcmp(sub, "resubmit"))
		return status_cmd(c, argc - 1, argv + 1, 1);
	return cli_usage("slurm", "unknown subcommand '%s': crawl, score, status or resubmit", sub);
}
