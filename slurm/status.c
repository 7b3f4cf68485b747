/* status.c — each part's state, from squeue (without an accounting
 * database squeue knows a job until MinJobAge after its end) and from the
 * part itself, and waiting for a job to end. */
#include "slurm/slurm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"

#define SQUEUE_MAX (32 * 1024 * 1024)

const char *slurm_state_name(slurm_state st)
{
	static const char *const names[] = {"pending", "running",  "done",     "failed",
	                                    "cancelled", "timeout", "abandoned"};
	return (unsigned)st < SLURM_NSTATES ? names[st] : "unknown";
}

/* One line of squeue -o '%i|%F|%K|%T': the array job and task of a job. */
typedef struct sq_row {
	char array[32];   /* %F: the array's job id (the job's own for a job that is no array) */
	int task;         /* %K, -1 when N/A */
	char state[32];   /* %T */
	char id[48];      /* %i */
} sq_row;

/* Runs squeue for jobs (a comma list). An unknown job (purged after
 * MinJobAge) makes squeue fail with "Invalid job id": that is no error,
 * the job is then simply not listed. */
static int squeue(const char *jobs, sq_row **rows, int *n, char *err, size_t errlen)
{
	*rows = NULL;
	*n = 0;
	char j[64 * 1024];
	if (strlen(jobs) >= sizeof j - 4)
		return NATADV_EINVAL;
	snprintf(j, sizeof j, "%s", jobs);
	const char *argv[] = {"squeue", "-h", "-r", "-t", "all", "-o", "%i|%F|%K|%T", "-j", j, NULL};
	buf out, eout;
	buf_init(&out, SQUEUE_MAX);
	buf_init(&eout, 64 * 1024);
	int status, rc = slurm_exec(argv, &out, &eout, &status, err, errlen);
	if (!rc && status != 0 && !strstr(buf_cstr(&eout), "Invalid job id")) {
		const char *m = buf_cstr(&eout);
		natadv_errf(err, errlen, "squeue failed (exit %d): %.*s", status, (int)strcspn(m, "\n"), m);
		rc = NATADV_EIO;
	}
	size_t cap = 0;
	for (char *line = out.len ? out.data : NULL, *next; !rc && line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char id[48], arr[32], task[16], st[32];
		if (sscanf(line, "%47[^|]|%31[^|]|%15[^|]|%31s", id, arr, task, st) != 4)
			continue;
		sq_row *r = array_grow(*rows, (size_t)*n, &cap, sizeof **rows);
		if (!r) {
			rc = NATADV_ENOMEM;
			break;
		}
		*rows = r;
		snprintf(r[*n].id, sizeof r[0].id, "%s", id);
		snprintf(r[*n].array, sizeof r[0].array, "%s", arr);
		snprintf(r[*n].state, sizeof r[0].state, "%s", st);
		char *end;
		long t = strtol(task, &end, 10);
		r[*n].task = end != task && !*end ? (int)t : -1;
		(*n)++;
	}
	buf_release(&out);
	buf_release(&eout);
	if (rc) {
		free(*rows);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

static int is_active(const char *st)
{
	static const char *const active[] = {"PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED",
	                                     "RESIZING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SIGNALING",
	                                     "STAGE_OUT", "STOPPED"};
	for (size_t i = 0; i < sizeof active / sizeof active[0]; i++)
		if (strcmp(st, active[i]) == 0)
			return 1;
	return 0;
}

slurm_exit slurm_exit_parse(const char *line, const char *job)
{
	static const struct { const char *word; slurm_exit e; } ends[] = {
		{"exit 0 ", SLURM_EXIT_OK}, {"exit ", SLURM_EXIT_FAILED}, {"cancelled ", SLURM_EXIT_CANCELLED},
		{"timeout ", SLURM_EXIT_TIMEOUT},
	};
	if (!line)
		return SLURM_EXIT_NONE;
	char l[128];
	snprintf(l, sizeof l, "%.*s ", (int)strcspn(line, "\n"), line); /* "exit 0 job 12_3 " */
	for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		size_t n = strlen(ends[i].word);
		if (strncmp(l, ends[i].word, n) != 0)
			continue;
		const char *rest = l + n + strspn(l + n, "0123456789");
		if (i == 1 && (rest == l + n || *rest != ' '))
			return SLURM_EXIT_NONE; /* "exit" without a number */
		rest += strspn(rest, " ");
		if (!*rest)
			return ends[i].e; /* no job named (written before the job was): trusted */
		size_t jl = strlen(job);
		return strncmp(rest, "job ", 4) == 0 && strncmp(rest + 4, job, jl) == 0 && rest[4 + jl] == ' '
		               ? ends[i].e
		               : SLURM_EXIT_NONE;
	}
	return SLURM_EXIT_NONE;
}

/* The part's logs/part-NNNN.exit, read for its latest task job. */
static slurm_exit exit_file(const slurm_sub *s, int part, const char *job)
{
	char path[4200], line[128] = "";
	snprintf(path, sizeof path, "%s/logs/part-%04d.exit", s->dir, part);
	FILE *f = fopen(path, "r");
	if (!f)
		return SLURM_EXIT_NONE;
	const char *got = fgets(line, sizeof line, f);
	fclose(f);
	return slurm_exit_parse(got, job);
}

/* Does array a's task list ("0-3", "1,3", "0-9%2") hold part i? */
static int tasks_hold(const char *tasks, int i)
{
	for (const char *p = tasks; *p;) {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo;
		if (end == p)
			return 0;
		if (*end == '-') {
			p = end + 1;
			hi = strtol(p, &end, 10);
		}
		if (i >= lo && i <= hi)
			return 1;
		p = end + strcspn(end, ",");
		if (*p == ',')
			p++;
	}
	return 0;
}

/* One rule of the policy: its state and why, in words. */
__attribute__((format(printf, 4, 5))) static slurm_state said(slurm_state st, char *why, size_t whylen,
                                                             const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return st;
}

slurm_state slurm_decide(const slurm_facts *f, char *why, size_t n)
{
	const char *sq = f->squeue;
	if (f->abandoned)
		return said(SLURM_ABANDONED, why, n, "given up with split abandon: never merged");
	if (sq && is_active(sq))
		return said(strcmp(sq, "PENDING") == 0 ? SLURM_PENDING : SLURM_RUNNING, why, n, "squeue: %s", sq);
	if (f->unreadable)
		return said(SLURM_FAILED, why, n, "the part cannot be read");
	if (f->done)
		return said(SLURM_DONE, why, n, "the part has finished");
	if (!f->submitted)
		return said(SLURM_PENDING, why, n, "not submitted");
	if (sq && strcmp(sq, "CANCELLED") == 0)
		return said(SLURM_CANCELLED, why, n, "squeue: %s", sq);
	if (sq && strcmp(sq, "TIMEOUT") == 0)
		return said(SLURM_TIMEOUT, why, n, "squeue: %s, its time limit", sq);
	if (sq)
		return said(SLURM_FAILED, why, n, "squeue: %s, the part has not finished", sq);
	switch (f->exit) {
	case SLURM_EXIT_CANCELLED: return said(SLURM_CANCELLED, why, n, "its task was cancelled");
	case SLURM_EXIT_TIMEOUT: return said(SLURM_TIMEOUT, why, n, "its task hit its time limit");
	case SLURM_EXIT_FAILED: return said(SLURM_FAILED, why, n, "its task failed");
	case SLURM_EXIT_OK: return said(SLURM_FAILED, why, n, "its task ended, the part has not finished");
	case SLURM_EXIT_NONE: break;
	}
	if (!f->ran)
		return said(SLURM_CANCELLED, why, n, "never started: cancelled while pending");
	return said(SLURM_FAILED, why, n, "its job is gone and the part has not finished");
}

/* Decides part p's state from squeue's row for its latest task (NULL:
 * squeue knows none), the part itself and its task's exit file. */
static int decide(const slurm_sub *s, slurm_part *p, const sq_row *r, slurm_part_fn part_fn, void *ctx,
                  char *err, size_t errlen)
{
	slurm_facts f = {.squeue = r ? r->state : NULL, .submitted = p->job[0] != '\0'};
	if (r)
		snprintf(p->slurm, sizeof p->slurm, "%s", r->state);
	char dir[4200], array_job[48];
	snprintf(dir, sizeof dir, "%s/part-%04d", s->parts, p->index);
	snprintf(array_job, sizeof array_job, "%.*s", (int)strcspn(p->job, "_"), p->job);
	int rc = part_fn(ctx, dir, s->stage, s->split_id, array_job, p->index, &f, err, errlen);
	if (rc == NATADV_ENOMEM)
		return rc;
	f.unreadable = rc != 0;
	if (f.submitted && !r)
		f.exit = exit_file(s, p->index, p->job);
	p->state = slurm_decide(&f, p->why, sizeof p->why);
	if (f.unreadable && p->state == SLURM_FAILED)
		snprintf(p->why, sizeof p->why, "%s", err); /* what cannot be read, and why */
	return 0;
}

/* The comma list of every job of s: the arrays and the latest merge. */
static int job_list(const slurm_sub *s, buf *b)
{
	int rc = 0;
	for (int i = 0; !rc && i < s->narrays; i++)
		rc = buf_printf(b, "%s%s", i ? "," : "", s->arrays[i].job);
	if (!rc && s->nmerges)
		rc = buf_printf(b, "%s%s", s->narrays ? "," : "", s->merges[s->nmerges - 1]);
	return rc;
}

/* The row of squeue for part i of the latest array that holds it; sets
 * p->job. */
static const sq_row *row_of(const slurm_sub *s, const sq_row *rows, int n, slurm_part *p)
{
	for (int a = s->narrays - 1; a >= 0; a--) {
		if (!tasks_hold(s->arrays[a].tasks, p->index))
			continue;
		snprintf(p->job, sizeof p->job, "%s_%d", s->arrays[a].job, p->index);
		for (int k = 0; k < n; k++)
			if (rows[k].task == p->index && strcmp(rows[k].array, s->arrays[a].job) == 0)
				return &rows[k];
		/* a pending array may be listed as one row "12_[1-3%2]" */
		for (int k = 0; k < n; k++)
			if (rows[k].task < 0 && strcmp(rows[k].array, s->arrays[a].job) == 0 &&
			    strcmp(rows[k].state, "PENDING") == 0)
				return &rows[k];
		return NULL;
	}
	return NULL;
}

int slurm_status_get(const slurm_sub *s, slurm_part_fn part_fn, void *ctx, slurm_status *out, char *err,
                     size_t errlen)
{
	memset(out, 0, sizeof *out);
	buf jobs;
	buf_init(&jobs, 60 * 1024);
	sq_row *rows = NULL;
	int n = 0, rc = job_list(s, &jobs);
	if (!rc && jobs.len)
		rc = squeue(buf_cstr(&jobs), &rows, &n, err, errlen);
	buf_release(&jobs);
	out->parts = rc ? NULL : calloc((size_t)s->nparts, sizeof *out->parts);
	if (!rc && !out->parts)
		rc = NATADV_ENOMEM;
	if (!rc)
		out->nparts = s->nparts;
	for (int i = 0; !rc && i < s->nparts; i++) {
		slurm_part *p = &out->parts[i];
		p->index = i;
		rc = decide(s, p, row_of(s, rows, n, p), part_fn, ctx, err, errlen);
		if (!rc)
			out->n[p->state]++;
	}
	if (!rc && s->nmerges) {
		snprintf(out->merge_job, sizeof out->merge_job, "%s", s->merges[s->nmerges - 1]);
		for (int k = 0; k < n; k++)
			if (strcmp(rows[k].id, out->merge_job) == 0)
				snprintf(out->merge_state, sizeof out->merge_state, "%s", rows[k].state);
	}
	free(rows);
	if (rc)
		slurm_status_release(out);
	return rc;
}

void slurm_status_release(slurm_status *st)
{
	if (!st)
		return;
	free(st->parts);
	st->parts = NULL;
}

int slurm_status_finished(const slurm_status *st)
{
	return st->n[SLURM_DONE] + st->n[SLURM_ABANDONED] == st->nparts;
}

int slurm_status_rerun_list(const slurm_status *st, buf *out)
{
	int n = 0;
	for (int i = 0; i < st->nparts; i++) {
		slurm_state x = st->parts[i].state;
		int again = x == SLURM_FAILED || x == SLURM_CANCELLED || x == SLURM_TIMEOUT ||
		            (x == SLURM_PENDING && !st->parts[i].job[0]);
		if (!again)
			continue;
		if (buf_printf(out, "%s%d", n ? "," : "", i) != 0)
			return -1;
		n++;
	}
	return n;
}

int slurm_wait_job(const char *job, double poll_s, volatile sig_atomic_t *stop, char state[32], char *err,
                   size_t errlen)
{
	state[0] = '\0';
	for (;;) {
		sq_row *rows;
		int n, rc = squeue(job, &rows, &n, err, errlen);
		if (rc)
			return rc;
		int active = 0;
		for (int k = 0; k < n; k++) {
			snprintf(state, 32, "%s", rows[k].state);
			active |= is_active(rows[k].state);
		}
		free(rows);
		if (!active)
			return 0;
		if (stop && *stop)
			return NATADV_EINTR;
		struct timespec ts = {(time_t)poll_s, (long)((poll_s - (double)(time_t)poll_s) * 1e9)};
		nanosleep(&ts, NULL);
		if (stop && *stop)
			return NATADV_EINTR;
	}
}
