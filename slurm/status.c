/* status.c — each part's state, from squeue (without an accounting
 * database squeue knows a job until MinJobAge after its end) and from the
 * part itself, and waiting for a job to end. */
#include "slurm/slurm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"

#define SQUEUE_MAX (32 * 1024 * 1024)

const char *slurm_state_name(slurm_state st)
{
	static const char *const names[] = {"pending", "running", "done", "failed", "cancelled"};
	return (unsigned)st < 5 ? names[st] : "unknown";
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

/* The part's logs/part-NNNN.exit: 1 "cancelled", 2 "exit N" with N != 0,
 * 0 none or exit 0. */
static int exit_file(const slurm_sub *s, int part)
{
	char path[4200], line[64] = "";
	snprintf(path, sizeof path, "%s/logs/part-%04d.exit", s->dir, part);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(line, sizeof line, f))
		line[0] = '\0';
	fclose(f);
	if (strncmp(line, "cancelled", 9) == 0)
		return 1;
	return strncmp(line, "exit ", 5) == 0 && strncmp(line, "exit 0", 6) != 0 ? 2 : 0;
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

/* Decides part p's state from squeue's row for its latest task (NULL:
 * squeue knows none) and the part itself. */
static int decide(const slurm_sub *s, slurm_part *p, const sq_row *r, slurm_part_done_fn done_fn, void *ctx,
                  char *err, size_t errlen)
{
	if (r) {
		snprintf(p->slurm, sizeof p->slurm, "%s", r->state);
		if (is_active(r->state)) {
			p->state = strcmp(r->state, "PENDING") == 0 ? SLURM_PENDING : SLURM_RUNNING;
			snprintf(p->why, sizeof p->why, "squeue: %s", r->state);
			return 0;
		}
	}
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/part-%04d", s->parts, p->index);
	int done = 0, rc = done_fn(ctx, dir, s->stage, &done, err, errlen);
	if (rc)
		return rc;
	if (done) {
		p->state = SLURM_DONE;
		snprintf(p->why, sizeof p->why, "the part's %s has finished", s->stage);
	} else if (!p->job[0]) {
		p->state = SLURM_PENDING;
		snprintf(p->why, sizeof p->why, "not submitted");
	} else if (r && strcmp(r->state, "CANCELLED") == 0) {
		p->state = SLURM_CANCELLED;
		snprintf(p->why, sizeof p->why, "squeue: CANCELLED");
	} else if (r) {
		p->state = SLURM_FAILED;
		snprintf(p->why, sizeof p->why, "squeue: %s, the part has not finished", r->state);
	} else {
		int e = exit_file(s, p->index);
		p->state = e == 1 ? SLURM_CANCELLED : SLURM_FAILED;
		snprintf(p->why, sizeof p->why, "%s", e == 1 ? "its task was cancelled"
		                                  : e == 2 ? "its task failed"
		                                           : "its job is gone and the part has not finished");
	}
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

int slurm_status_get(const slurm_sub *s, slurm_part_done_fn done_fn, void *ctx, slurm_status *out, char *err,
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
	for (int i = 0; !rc && i < s->nparts; i++) {
		slurm_part *p = &out->parts[i];
		p->index = i;
		rc = decide(s, p, row_of(s, rows, n, p), done_fn, ctx, err, errlen);
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

int slurm_status_rerun_list(const slurm_status *st, buf *out)
{
	int n = 0, total = st->n[0] + st->n[1] + st->n[2] + st->n[3] + st->n[4];
	for (int i = 0; i < total; i++) {
		slurm_state x = st->parts[i].state;
		if (x != SLURM_FAILED && x != SLURM_CANCELLED && (x != SLURM_PENDING || st->parts[i].job[0]))
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
