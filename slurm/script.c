/* script.c — the two batch scripts of a submission (array.sbatch and
 * merge.sbatch) and submitting them with sbatch. Values go into #SBATCH
 * lines in double quotes with \ and " escaped (sbatch's own reader), and
 * into the shell part single-quoted (common/shell.h). */
#include "slurm/slurm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/shell.h"

#define SCRIPT_MAX (4 * 1024 * 1024)
#define SBATCH_OUT_MAX (64 * 1024)

/* Appends "#SBATCH OPT" or "#SBATCH OPT=VALUE" with VALUE quoted for
 * sbatch's reader of script options. */
static int sbatch_line(buf *b, const char *opt, const char *value)
{
	int rc = buf_printf(b, "#SBATCH %s", opt);
	if (!rc && value) {
		rc = buf_puts(b, "=\"");
		for (const char *p = value; !rc && *p; p++)
			rc = (*p == '"' || *p == '\\') ? buf_printf(b, "\\%c", *p) : buf_append(b, p, 1);
		if (!rc)
			rc = buf_puts(b, "\"");
	}
	return rc ? rc : buf_puts(b, "\n");
}

/* Appends "#SBATCH ARG" for one --sbatch-arg value ("--constraint=avx2" or
 * "--exclusive"): the option as it is, its value (after '=') quoted. */
static int sbatch_extra(buf *b, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq)
		return sbatch_line(b, arg, NULL);
	char opt[256];
	snprintf(opt, sizeof opt, "%.*s", (int)(eq - arg < 255 ? eq - arg : 255), arg);
	return sbatch_line(b, opt, eq + 1);
}

/* The #SBATCH lines both scripts share: partition, account, time and the
 * extra arguments. */
static int common_lines(buf *b, const slurm_sub *s)
{
	int rc = 0;
	if (s->partition) rc = sbatch_line(b, "--partition", s->partition);
	if (!rc && s->account) rc = sbatch_line(b, "--account", s->account);
	if (!rc && s->time) rc = sbatch_line(b, "--time", s->time);
	for (int i = 0; !rc && i < s->nextra; i++)
		rc = sbatch_extra(b, s->extra[i]);
	return rc;
}

/* Appends "NAME=VALUE\n" with VALUE shell-quoted. */
static int shell_var(buf *b, const char *name, const char *value)
{
	int rc = buf_printf(b, "%s=", name);
	if (!rc) rc = shell_quote(value, b);
	return rc ? rc : buf_puts(b, "\n");
}

static int array_script(buf *b, const slurm_sub *s)
{
	char path[4200], jobname[300];
	int rc = buf_printf(b, "#!/bin/sh\n# natadv slurm %s: part i of %d runs 'natadv -w PARTS/part-NNNN %s'\n", s->id,
	                    s->nparts, s->stage);
	snprintf(jobname, sizeof jobname, "natadv-%s", s->id);
	if (!rc) rc = sbatch_line(b, "--job-name", jobname);
	char arr[64];
	if (s->max_running > 0)
		snprintf(arr, sizeof arr, "0-%d%%%d", s->nparts - 1, s->max_running);
	else
		snprintf(arr, sizeof arr, "0-%d", s->nparts - 1);
	if (!rc) rc = sbatch_line(b, "--array", arr);
	snprintf(path, sizeof path, "%s/logs/part-%%4a.log", s->dir);
	if (!rc) rc = sbatch_line(b, "--output", path);
	if (!rc) rc = sbatch_line(b, "--open-mode", "append");
	char n[32];
	snprintf(n, sizeof n, "%d", s->cpus_per_task);
	if (!rc && s->cpus_per_task > 0) rc = sbatch_line(b, "--cpus-per-task", n);
	if (!rc && s->mem) rc = sbatch_line(b, "--mem", s->mem);
	if (!rc) rc = common_lines(b, s);
	if (!rc) rc = buf_puts(b, "set -u\n");
	if (!rc) rc = shell_var(b, "natadv", s->natadv);
	if (!rc) rc = shell_var(b, "parts", s->parts);
	snprintf(path, sizeof path, "%s/logs", s->dir);
	if (!rc) rc = shell_var(b, "logs", path);
	if (!rc)
		rc = buf_puts(b, "task=${SLURM_ARRAY_TASK_ID:?submit this script with sbatch --array}\n"
		                 "name=$(printf 'part-%04d' \"$task\")\n"
		                 "echo \"natadv slurm: $name on $(hostname), job ${SLURM_ARRAY_JOB_ID:-?}_$task, "
		                 "$(date -u +%Y-%m-%dT%H:%M:%SZ)\"\n"
		                 "job=\"${SLURM_ARRAY_JOB_ID:-?}_$task\"\n"
		                 "# scancel and the time limit send TERM to natadv (which stops cleanly) and to\n"
		                 "# this shell; squeue gives the reason TimeLimit for the latter\n"
		                 "trap 'end=cancelled\n"
		                 "[ \"$(squeue -h -j \"${SLURM_JOB_ID:-0}\" -o %r 2> /dev/null)\" = TimeLimit ] && end=timeout\n"
		                 "echo \"$end job $job\" > \"$logs/$name.exit\"; exit 143' TERM\n");
	if (!rc) rc = buf_printf(b, "\"$natadv\" -w \"$parts/$name\" %s", s->stage);
	for (int i = 0; !rc && i < s->nstage_args; i++) {
		rc = buf_puts(b, " ");
		if (!rc) rc = shell_quote(s->stage_args[i], b);
	}
	if (!rc)
		rc = buf_puts(b, "\nrc=$?\n"
		                 "# 3: finished, some items failed; the part is done all the same\n"
		                 "[ \"$rc\" = 3 ] && rc=0\n"
		                 "echo \"exit $rc job $job\" > \"$logs/$name.exit\"\n"
		                 "exit \"$rc\"\n");
	return rc;
}

/* Appends the merge's command: the whole parts folder, or (skip given and
 * some part skipped) each part but the skipped ones. */
static int merge_command(buf *b, const slurm_sub *s, const unsigned char *skip)
{
	int some = 0;
	for (int i = 0; skip && i < s->nparts; i++)
		some |= skip[i];
	int rc = buf_puts(b, "exec \"$natadv\" -w \"$workspace\" merge");
	if (!some)
		return rc ? rc : buf_puts(b, " \"$parts\"\n");
	for (int i = 0; !rc && i < s->nparts; i++)
		if (!skip[i])
			rc = buf_printf(b, " \"$parts/part-%04d\"", i);
	return rc ? rc : buf_puts(b, "\n");
}

static int merge_script(buf *b, const slurm_sub *s, const unsigned char *skip)
{
	char path[4200], jobname[300];
	int rc = buf_printf(b, "#!/bin/sh\n# natadv slurm %s: merges the parts back once the array has ended\n", s->id);
	snprintf(jobname, sizeof jobname, "natadv-%s-merge", s->id);
	if (!rc) rc = sbatch_line(b, "--job-name", jobname);
	snprintf(path, sizeof path, "%s/logs/merge.log", s->dir);
	if (!rc) rc = sbatch_line(b, "--output", path);
	if (!rc) rc = sbatch_line(b, "--open-mode", "append");
	if (!rc) rc = common_lines(b, s);
	if (!rc) rc = buf_puts(b, "set -u\n");
	if (!rc) rc = shell_var(b, "natadv", s->natadv);
	if (!rc) rc = shell_var(b, "workspace", s->workspace);
	if (!rc) rc = shell_var(b, "parts", s->parts);
	if (!rc)
		rc = buf_puts(b, "echo \"natadv slurm: merge on $(hostname), job ${SLURM_JOB_ID:-?}, "
		                 "$(date -u +%Y-%m-%dT%H:%M:%SZ)\"\n");
	return rc ? rc : merge_command(b, s, skip);
}

/* Writes b to dir/name through a temporary file, mode 0755. */
static int write_file(const char *dir, const char *name, const buf *b, char *err, size_t errlen)
{
	char path[4200], tmp[4300];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	int ok = f && fwrite(b->data, 1, b->len, f) == b->len;
	ok = f && fclose(f) == 0 && ok;
	if (!ok || chmod(tmp, 0755) != 0 || rename(tmp, path) != 0) {
		natadv_errf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		unlink(tmp);
		return NATADV_EIO;
	}
	return 0;
}

static int make_dir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		natadv_errf(err, errlen, "cannot make '%s': %s", path, strerror(errno));
		return NATADV_EIO;
	}
	return 0;
}

int slurm_write_scripts(const slurm_sub *s, char *err, size_t errlen)
{
	char logs[4200];
	snprintf(logs, sizeof logs, "%s/logs", s->dir);
	int rc = make_dir(s->dir, err, errlen);
	if (!rc) rc = make_dir(logs, err, errlen);
	if (rc)
		return rc;
	buf b;
	buf_init(&b, SCRIPT_MAX);
	rc = array_script(&b, s);
	if (!rc)
		rc = write_file(s->dir, "array.sbatch", &b, err, errlen);
	else
		natadv_errf(err, errlen, "cannot write the array script: %s", natadv_strerror(rc));
	buf_release(&b);
	return rc ? rc : slurm_write_merge_script(s, NULL, err, errlen);
}

int slurm_write_merge_script(const slurm_sub *s, const unsigned char *skip, char *err, size_t errlen)
{
	buf b;
	buf_init(&b, SCRIPT_MAX);
	int rc = merge_script(&b, s, skip);
	if (rc)
		natadv_errf(err, errlen, "cannot write the merge script: %s", natadv_strerror(rc));
	else
		rc = write_file(s->dir, "merge.sbatch", &b, err, errlen);
	buf_release(&b);
	return rc;
}

int slurm_read_script(const slurm_sub *s, const char *name, buf *out, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", s->dir, name);
	return buf_read_file(out, path, err, errlen);
}

/* Runs sbatch --parsable with args; job gets the id it prints ("12" of
 * "12" or "12;cluster"). */
static int sbatch(const char *const *argv, char job[32], char *err, size_t errlen)
{
	buf out, eout;
	buf_init(&out, SBATCH_OUT_MAX);
	buf_init(&eout, SBATCH_OUT_MAX);
	int status, rc = slurm_exec(argv, &out, &eout, &status, err, errlen);
	if (!rc && status != 0) {
		const char *m = buf_cstr(&eout);
		size_t len = strcspn(m, "\n");
		natadv_errf(err, errlen, "sbatch failed (exit %d): %.*s", status, (int)(len > 400 ? 400 : len), m);
		rc = NATADV_EIO;
	}
	if (!rc) {
		const char *o = buf_cstr(&out);
		size_t len = strspn(o, "0123456789");
		if (len == 0 || len >= 32 || (o[len] && o[len] != ';' && o[len] != '\n')) {
			natadv_errf(err, errlen, "sbatch printed no job id: '%.100s'", o);
			rc = NATADV_EIO;
		} else {
			memcpy(job, o, len);
			job[len] = '\0';
		}
	}
	buf_release(&out);
	buf_release(&eout);
	return rc;
}

static int record_array(slurm_sub *s, const char *job, const char *tasks)
{
	slurm_array *a = realloc(s->arrays, (size_t)(s->narrays + 1) * sizeof *a);
	if (!a)
		return NATADV_ENOMEM;
	s->arrays = a;
	char *t = strdup(tasks);
	if (!t)
		return NATADV_ENOMEM;
	snprintf(a[s->narrays].job, sizeof a[0].job, "%s", job);
	a[s->narrays++].tasks = t;
	return 0;
}

static int record_merge(slurm_sub *s, const char *job)
{
	char (*m)[32] = realloc(s->merges, (size_t)(s->nmerges + 1) * sizeof *m);
	if (!m)
		return NATADV_ENOMEM;
	s->merges = m;
	snprintf(m[s->nmerges++], sizeof m[0], "%s", job);
	return 0;
}

int slurm_submit(slurm_sub *s, const char *tasks, const char *const *also_after, int nalso, char *err,
                 size_t errlen)
{
	char script[4200], opt[256], all[64], job[32], mjob[32];
	snprintf(script, sizeof script, "%s/array.sbatch", s->dir);
	if (tasks && strlen(tasks) > 200)
		return NATADV_EINVAL;
	snprintf(opt, sizeof opt, "--array=%s", tasks ? tasks : "");
	const char *a1[] = {"sbatch", "--parsable", opt, script, NULL};
	const char *a2[] = {"sbatch", "--parsable", script, NULL};
	int rc = sbatch(tasks ? a1 : a2, job, err, errlen);
	if (rc)
		return rc;
	snprintf(all, sizeof all, "0-%d", s->nparts - 1);
	rc = record_array(s, job, tasks ? tasks : all);
	if (rc)
		return rc;
	buf dep;
	buf_init(&dep, 64 * 1024);
	rc = buf_printf(&dep, "--dependency=afterany:%s", job);
	for (int i = 0; !rc && i < nalso; i++)
		rc = buf_printf(&dep, ":%s", also_after[i]);
	snprintf(script, sizeof script, "%s/merge.sbatch", s->dir);
	const char *a3[] = {"sbatch", "--parsable", buf_cstr(&dep), script, NULL};
	if (!rc)
		rc = sbatch(a3, mjob, err, errlen);
	if (!rc)
		rc = record_merge(s, mjob);
	buf_release(&dep);
	return rc;
}
