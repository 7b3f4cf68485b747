/* test_slurm_decide.c — how `slurm status` decides a part's state: the
 * policy (slurm_decide) over every combination of squeue's state, whether
 * the part was submitted, its task's exit file, and the part's own facts
 * (done, abandoned, started, unreadable), checked against a table of rules read in
 * order, first match wins; the exit file's reader; and the facts read from
 * real workspaces (store_part_fate, store_runs_of_task, slurm_part_facts)
 * after a real split, a real abandon and a real run of an array task. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "scaleout/scaleout.h"
#include "slurm/slurm.h"
#include "store/parts.h"
#include "store/store.h"
#include "tests/t.h"
#include "tests/unit/ws_sql.h"

/* squeue's answer, by kind: what the rules tell apart */
enum { SQ_NONE, SQ_PENDING, SQ_RUNNING, SQ_CANCELLED, SQ_TIMEOUT, SQ_OTHER_END, SQ_ANY };
static const struct {
	const char *state;
	int kind;
} squeue_states[] = {
	{NULL, SQ_NONE},          {"PENDING", SQ_PENDING},    {"RUNNING", SQ_RUNNING},
	{"COMPLETING", SQ_RUNNING}, {"SUSPENDED", SQ_RUNNING}, {"REQUEUED", SQ_RUNNING},
	{"CANCELLED", SQ_CANCELLED}, {"TIMEOUT", SQ_TIMEOUT},  {"COMPLETED", SQ_OTHER_END},
	{"FAILED", SQ_OTHER_END}, {"OUT_OF_MEMORY", SQ_OTHER_END}, {"NODE_FAIL", SQ_OTHER_END},
	{"PREEMPTED", SQ_OTHER_END}, {"DEADLINE", SQ_OTHER_END},
};
#define NSQ (int)(sizeof squeue_states / sizeof squeue_states[0])
#define ANY (-1)

/* The rules, in order; the first that matches decides. ANY: any value. */
static const struct rule {
	int sq, submitted, exit, done, abandoned, ran, unreadable;
	slurm_state want;
	const char *why; /* a part of the words given */
} rules[] = {
	{SQ_ANY, ANY, ANY, ANY, 1, ANY, ANY, SLURM_ABANDONED, "split abandon"},
	{SQ_PENDING, ANY, ANY, ANY, 0, ANY, ANY, SLURM_PENDING, "squeue: PENDING"},
	{SQ_RUNNING, ANY, ANY, ANY, 0, ANY, ANY, SLURM_RUNNING, "squeue: "},
	{SQ_ANY, ANY, ANY, ANY, 0, ANY, 1, SLURM_FAILED, "cannot be read"},
	{SQ_ANY, ANY, ANY, 1, 0, ANY, 0, SLURM_DONE, "finished"},
	{SQ_ANY, 0, ANY, 0, 0, ANY, 0, SLURM_PENDING, "not submitted"},
	{SQ_CANCELLED, 1, ANY, 0, 0, ANY, 0, SLURM_CANCELLED, "squeue: CANCELLED"},
	{SQ_TIMEOUT, 1, ANY, 0, 0, ANY, 0, SLURM_TIMEOUT, "squeue: TIMEOUT"},
	{SQ_OTHER_END, 1, ANY, 0, 0, ANY, 0, SLURM_FAILED, "has not finished"},
	{SQ_NONE, 1, SLURM_EXIT_CANCELLED, 0, 0, ANY, 0, SLURM_CANCELLED, "cancelled"},
	{SQ_NONE, 1, SLURM_EXIT_TIMEOUT, 0, 0, ANY, 0, SLURM_TIMEOUT, "time limit"},
	{SQ_NONE, 1, SLURM_EXIT_FAILED, 0, 0, ANY, 0, SLURM_FAILED, "its task failed"},
	{SQ_NONE, 1, SLURM_EXIT_OK, 0, 0, ANY, 0, SLURM_FAILED, "has not finished"},
	{SQ_NONE, 1, SLURM_EXIT_NONE, 0, 0, 0, 0, SLURM_CANCELLED, "never started"},
	{SQ_NONE, 1, SLURM_EXIT_NONE, 0, 0, 1, 0, SLURM_FAILED, "its job is gone"},
};
#define NRULES (int)(sizeof rules / sizeof rules[0])

static int fits(int want, int got)
{
	return want == ANY || want == got;
}

static void test_decide_table(void)
{
	int hits[NRULES] = {0}, combos = 0, unmatched = 0;
	for (int q = 0; q < NSQ; q++)
		for (int sub = 0; sub < 2; sub++)
			for (int e = SLURM_EXIT_NONE; e <= SLURM_EXIT_TIMEOUT; e++)
				for (int bits = 0; bits < 16; bits++) {
					slurm_facts f = {.squeue = squeue_states[q].state, .submitted = sub, .exit = (slurm_exit)e,
					                 .done = bits & 1, .abandoned = (bits >> 1) & 1, .ran = (bits >> 2) & 1,
					                 .unreadable = (bits >> 3) & 1};
					int k = 0;
					for (; k < NRULES; k++) {
						const struct rule *r = &rules[k];
						if ((r->sq == SQ_ANY || r->sq == squeue_states[q].kind) && fits(r->submitted, sub) &&
						    fits(r->exit, e) && fits(r->done, f.done) && fits(r->abandoned, f.abandoned) &&
						    fits(r->ran, f.ran) && fits(r->unreadable, f.unreadable))
							break;
					}
					combos++;
					if (k == NRULES) {
						unmatched++;
						continue;
					}
					hits[k]++;
					char why[128] = "";
					slurm_state got = slurm_decide(&f, why, sizeof why);
					if (got != rules[k].want || !strstr(why, rules[k].why)) {
						fprintf(stderr, "squeue %s, submitted %d, exit %d, done %d, abandoned %d, ran %d, "
						                "unreadable %d: %s (%s), rule %d wants %s (%s)\n",
						        f.squeue ? f.squeue : "-", sub, e, f.done, f.abandoned, f.ran, f.unreadable,
						        slurm_state_name(got), why, k, slurm_state_name(rules[k].want), rules[k].why);
						T_CHECK(0);
					}
				}
	T_EQ_INT(combos, NSQ * 2 * 5 * 16);
	T_EQ_INT(unmatched, 0);
	for (int k = 0; k < NRULES; k++)
		if (!hits[k]) {
			fprintf(stderr, "rule %d never applies\n", k);
			T_CHECK(0);
		}
}

/* The two sources of one ending agree: what squeue says while it knows
 * the task, and the exit file once it does not. */
static void test_same_both_ways(void)
{
	char why[128];
	slurm_facts live = {.squeue = "TIMEOUT", .submitted = 1, .exit = SLURM_EXIT_TIMEOUT, .ran = 1};
	slurm_facts gone = {.squeue = NULL, .submitted = 1, .exit = SLURM_EXIT_TIMEOUT, .ran = 1};
	T_EQ_INT(slurm_decide(&live, why, sizeof why), SLURM_TIMEOUT);
	T_EQ_INT(slurm_decide(&gone, why, sizeof why), SLURM_TIMEOUT);
	live.squeue = "CANCELLED";
	live.exit = gone.exit = SLURM_EXIT_CANCELLED;
	T_EQ_INT(slurm_decide(&live, why, sizeof why), SLURM_CANCELLED);
	T_EQ_INT(slurm_decide(&gone, why, sizeof why), SLURM_CANCELLED);
	live.squeue = "FAILED";
	live.exit = gone.exit = SLURM_EXIT_FAILED;
	T_EQ_INT(slurm_decide(&live, why, sizeof why), SLURM_FAILED);
	T_EQ_INT(slurm_decide(&gone, why, sizeof why), SLURM_FAILED);
}

static void test_exit_parse(void)
{
	static const struct {
		const char *line, *job;
		slurm_exit want;
	} cases[] = {
		{NULL, "12_3", SLURM_EXIT_NONE},
		{"", "12_3", SLURM_EXIT_NONE},
		{"exit 0 job 12_3\n", "12_3", SLURM_EXIT_OK},
		{"exit 1 job 12_3\n", "12_3", SLURM_EXIT_FAILED},
		{"exit 143 job 12_3", "12_3", SLURM_EXIT_FAILED},
		{"cancelled job 12_3\n", "12_3", SLURM_EXIT_CANCELLED},
		{"timeout job 12_3\n", "12_3", SLURM_EXIT_TIMEOUT},
		/* an earlier task's: says nothing of this one */
		{"exit 1 job 11_3\n", "12_3", SLURM_EXIT_NONE},
		{"cancelled job 12_31\n", "12_3", SLURM_EXIT_NONE},
		{"timeout job 2_3\n", "12_3", SLURM_EXIT_NONE},
		/* written by a script without the job: trusted */
		{"cancelled\n", "12_3", SLURM_EXIT_CANCELLED},
		{"exit 2\n", "12_3", SLURM_EXIT_FAILED},
		{"exit 0\n", "12_3", SLURM_EXIT_OK},
		{"exit x\n", "12_3", SLURM_EXIT_NONE},
		{"exit\n", "12_3", SLURM_EXIT_NONE},
		{"exited 0 job 12_3\n", "12_3", SLURM_EXIT_NONE},
		{"timeouts job 12_3\n", "12_3", SLURM_EXIT_NONE},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		slurm_exit got = slurm_exit_parse(cases[i].line, cases[i].job);
		if (got != cases[i].want)
			fprintf(stderr, "'%s' for %s: %d, wanted %d\n", cases[i].line ? cases[i].line : "(null)", cases[i].job,
			        got, cases[i].want);
		T_EQ_INT(got, cases[i].want);
	}
}

static char root[256];

/* A real workspace with 6 urls over 3 hosts, split into 3 crawl parts;
 * part 1 abandoned (then its folder deleted), part 2 run by array task
 * 77_2, part 0 finished. */
static void test_part_facts(void)
{
	char ws[400], err[1024], dir[4200], url[128], host[64];
	snprintf(root, sizeof root, "/tmp/natadv-test-slurm-decide.XXXXXX");
	T_CHECK(mkdtemp(root) != NULL);
	snprintf(ws, sizeof ws, "%s/ws", root);
	store *s = NULL;
	int64_t run;
	T_EQ_INT(store_create(ws, &s, err, sizeof err), 0);
	if (!s)
		return;
	T_EQ_INT(store_run_begin(s, "test", "test", &run), 0);
	for (int i = 0; i < 6; i++) {
		snprintf(host, sizeof host, "http://h%d.example", i % 3);
		snprintf(url, sizeof url, "%s/%d.jpg", host, i);
		store_candidate c = {.url = url, .host = host, .wnid = "n01440764", .source = "seeds", .query = "tench",
		                     .license = "cc0"};
		T_EQ_INT(store_candidate_add(s, run, &c, NULL, NULL), 0);
	}
	scaleout_split_opts o = {.stage = "crawl", .parts = 3, .run_id = run};
	scaleout_split_result r;
	T_EQ_INT(scaleout_split(s, &o, &r, err, sizeof err), 0);
	scaleout_part_info pi[3];
	for (int k = 0; k < 3; k++) {
		snprintf(dir, sizeof dir, "%s/part-%04d", r.out_dir, k);
		T_EQ_INT(scaleout_part_read(dir, &pi[k], err, sizeof err), 0);
	}
	store_part_fate_t fate = STORE_PART_GONE;
	T_EQ_INT(store_part_fate(s, r.split_id, 1, &fate), 0);
	T_EQ_INT(fate, STORE_PART_OUT);
	T_EQ_INT(store_part_fate(s, r.split_id, 3, &fate), 0);
	T_EQ_INT(fate, STORE_PART_GONE);
	T_EQ_INT(store_part_fate(s, r.split_id + 1, 1, &fate), 0);
	T_EQ_INT(fate, STORE_PART_GONE);

	/* part 1 abandoned: gone from the parent's records */
	snprintf(dir, sizeof dir, "%s/part-0001", r.out_dir);
	int64_t released = 0;
	T_EQ_INT(scaleout_abandon(s, dir, &pi[1], &released, err, sizeof err), 0);
	T_EQ_INT(store_part_fate(s, r.split_id, 1, &fate), 0);
	T_EQ_INT(fate, STORE_PART_GONE);
	slurm_facts f;
	T_EQ_INT(slurm_part_facts(s, dir, "crawl", 0, "77", 1, &f, err, sizeof err), 0);
	T_EQ_INT(f.abandoned, 1);
	/* ... and its folder deleted, as README says: by the submission's split */
	char *rm[] = {"rm", "-rf", dir, NULL};
	int status;
	T_EQ_INT(slurm_exec((const char *const *)rm, NULL, NULL, &status, err, sizeof err), 0);
	T_EQ_INT(slurm_part_facts(s, dir, "crawl", r.split_id, "77", 1, &f, err, sizeof err), 0);
	T_EQ_INT(f.abandoned, 1);
	T_EQ_INT(slurm_part_facts(s, dir, "crawl", 0, "77", 1, &f, err, sizeof err), 0);
	T_EQ_INT(f.abandoned, 0);

	/* part 2: array task 77_2 started natadv in it, and did not finish */
	snprintf(dir, sizeof dir, "%s/part-0002", r.out_dir);
	setenv("SLURM_ARRAY_JOB_ID", "77", 1);
	setenv("SLURM_ARRAY_TASK_ID", "2", 1);
	store *p = NULL;
	int64_t prun;
	T_EQ_INT(store_open(dir, &p, err, sizeof err), 0);
	if (p) {
		T_EQ_INT(store_run_begin(p, "crawl", "crawl", &prun), 0);
		int64_t n = -1;
		T_EQ_INT(store_runs_of_task(p, "crawl", "77", 2, &n), 0);
		T_EQ_INT(n, 1);
		T_EQ_INT(store_runs_of_task(p, "crawl", "78", 2, &n), 0);
		T_EQ_INT(n, 0);
		T_EQ_INT(store_runs_of_task(p, "score", "77", 2, &n), 0);
		T_EQ_INT(n, 0);
		store_close(p);
	}
	unsetenv("SLURM_ARRAY_JOB_ID");
	unsetenv("SLURM_ARRAY_TASK_ID");
	T_EQ_INT(slurm_part_facts(s, dir, "crawl", r.split_id, "77", 2, &f, err, sizeof err), 0);
	T_EQ_INT(f.abandoned + f.done + f.ran * 10, 10);
	/* resubmitted as array 80: its task has not started yet */
	T_EQ_INT(slurm_part_facts(s, dir, "crawl", r.split_id, "80", 2, &f, err, sizeof err), 0);
	T_EQ_INT(f.abandoned + f.done + f.ran, 0);
	T_EQ_INT(slurm_part_facts(s, dir, "score", r.split_id, "77", 2, &f, err, sizeof err), NATADV_EINVAL);

	/* part 0: every url settled, the part is done; never run by Slurm */
	snprintf(dir, sizeof dir, "%s/part-0000", r.out_dir);
	ws_exec(dir, "UPDATE urls SET state = 'failed'");
	T_EQ_INT(slurm_part_facts(s, dir, "crawl", r.split_id, "", 0, &f, err, sizeof err), 0);
	T_EQ_INT(f.abandoned * 100 + f.done * 10 + f.ran, 10);

	/* a part folder without part.json, of no known split: nothing known */
	snprintf(dir, sizeof dir, "%s/part-0009", r.out_dir);
	T_EQ_INT(slurm_part_facts(s, dir, "crawl", 0, "77", 9, &f, err, sizeof err), 0);
	T_EQ_INT(f.abandoned + f.done + f.ran, 0);
	store_close(s);
}

int main(void)
{
	T_RUN(test_decide_table);
	T_RUN(test_same_both_ways);
	T_RUN(test_exit_parse);
	T_RUN(test_part_facts);
	if (root[0]) {
		char *rm[] = {"rm", "-rf", root, NULL};
		int status;
		char err[64];
		slurm_exec((const char *const *)rm, NULL, NULL, &status, err, sizeof err);
	}
	return T_DONE();
}
