/* submission.c — the record of a Slurm submission, WS/slurm/ID/submission.json:
 * what was submitted, with which options, and every array and merge job. */
#include "slurm/slurm.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/err.h"
#include "common/timeutil.h"

#define SUB_MAX (16 * 1024 * 1024)

static char *dup_or_null(const char *s, int *oom)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*oom = 1;
	return d;
}

static char **dup_list(const char *const *v, int n, int *oom)
{
	char **d = calloc(n > 0 ? (size_t)n : 1, sizeof *d);
	if (!d) {
		*oom = 1;
		return NULL;
	}
	for (int i = 0; i < n; i++)
		d[i] = dup_or_null(v[i], oom);
	return d;
}

/* A value written into #SBATCH lines or a script may hold no control
 * character: a newline would start a line of its own. */
static int check_value(const char *what, const char *v, char *err, size_t errlen)
{
	for (const unsigned char *p = (const unsigned char *)v; v && *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			natadv_errf(err, errlen, "bad %s '%s': a control character", what, v);
			return NATADV_EINVAL;
		}
	return 0;
}

static int check_opts(const slurm_opts *o, const char *const *args, int nargs, char *err, size_t errlen)
{
	int rc = check_value("--partition", o->partition, err, errlen);
	if (!rc) rc = check_value("--account", o->account, err, errlen);
	if (!rc) rc = check_value("--time", o->time, err, errlen);
	if (!rc) rc = check_value("--mem", o->mem, err, errlen);
	for (int i = 0; !rc && i < o->nextra; i++)
		rc = check_value("--sbatch-arg", o->extra[i], err, errlen);
	for (int i = 0; !rc && i < nargs; i++)
		rc = check_value("argument", args[i], err, errlen);
	return rc;
}

int slurm_sub_new(const char *id, const char *stage, const char *workspace, const char *parts, const char *dir,
                  const char *natadv, int nparts, const char *const *stage_args, int nstage_args,
                  const slurm_opts *o, slurm_sub **out, char *err, size_t errlen)
{
	*out = NULL;
	if (nparts < 1 || nparts > 100000) {
		natadv_errf(err, errlen, "bad part count %d: from 1 to 100000", nparts);
		return NATADV_EINVAL;
	}
	int rc = check_opts(o, stage_args, nstage_args, err, errlen);
	if (!rc) rc = check_value("workspace", workspace, err, errlen);
	if (!rc) rc = check_value("parts folder", parts, err, errlen);
	if (!rc) rc = check_value("natadv path", natadv, err, errlen);
	if (rc)
		return rc;
	slurm_sub *s = calloc(1, sizeof *s);
	if (!s)
		return NATADV_ENOMEM;
	int oom = 0;
	char now[32];
	time_iso(time_now(), now);
	s->id = dup_or_null(id, &oom);
	s->stage = dup_or_null(stage, &oom);
	s->workspace = dup_or_null(workspace, &oom);
	s->parts = dup_or_null(parts, &oom);
	s->dir = dup_or_null(dir, &oom);
	s->natadv = dup_or_null(natadv, &oom);
	s->nparts = nparts;
	s->stage_args = dup_list(stage_args, nstage_args, &oom);
	s->nstage_args = nstage_args;
	s->partition = dup_or_null(o->partition, &oom);
	s->account = dup_or_null(o->account, &oom);
	s->time = dup_or_null(o->time, &oom);
	s->mem = dup_or_null(o->mem, &oom);
	s->cpus_per_task = o->cpus_per_task;
	s->max_running = o->max_running;
	s->extra = dup_list(o->extra, o->nextra, &oom);
	s->nextra = o->nextra;
	s->submitted_at = dup_or_null(now, &oom);
	if (oom) {
		slurm_sub_free(s);
		return NATADV_ENOMEM;
	}
	*out = s;
	return 0;
}

static void free_list(char **v, int n)
{
	for (int i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void slurm_sub_free(slurm_sub *s)
{
	if (!s)
		return;
	free(s->id);
	free(s->stage);
	free(s->workspace);
	free(s->parts);
	free(s->dir);
	free(s->natadv);
	free_list(s->stage_args, s->nstage_args);
	free(s->partition);
	free(s->account);
	free(s->time);
	free(s->mem);
	free_list(s->extra, s->nextra);
	for (int i = 0; i < s->narrays; i++)
		free(s->arrays[i].tasks);
	free(s->arrays);
	free(s->merges);
	free(s->submitted_at);
	free(s);
}

static json_t *str_or_null(const char *v)
{
	return v ? json_string(v) : json_null();
}

static json_t *str_list(char **v, int n)
{
	json_t *a = json_array();
	for (int i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *sub_json(const slurm_sub *s)
{
	json_t *arrays = json_array(), *merges = json_array();
	for (int i = 0; arrays && i < s->narrays; i++)
		json_array_append_new(arrays, json_pack("{s:s, s:s}", "job", s->arrays[i].job, "tasks", s->arrays[i].tasks));
	for (int i = 0; merges && i < s->nmerges; i++)
		json_array_append_new(merges, json_string(s->merges[i]));
	json_t *sbatch = json_pack("{s:o, s:o, s:o, s:o, s:i, s:i, s:o}", "partition", str_or_null(s->partition),
	                           "account", str_or_null(s->account), "time", str_or_null(s->time), "mem",
	                           str_or_null(s->mem), "cpus_per_task", s->cpus_per_task, "max_running",
	                           s->max_running, "extra", str_list(s->extra, s->nextra));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:o, s:o, s:o, s:o, s:s}", "id", s->id, "stage",
	                 s->stage, "workspace", s->workspace, "parts", s->parts, "dir", s->dir, "natadv", s->natadv,
	                 "nparts", s->nparts, "split_id", (json_int_t)s->split_id, "stage_args",
	                 str_list(s->stage_args, s->nstage_args), "sbatch", sbatch, "arrays", arrays, "merges", merges,
	                 "submitted_at", s->submitted_at);
}

int slurm_sub_save(const slurm_sub *s, char *err, size_t errlen)
{
	json_t *j = sub_json(s);
	if (!j)
		return NATADV_ENOMEM;
	char path[4096], tmp[4160];
	snprintf(path, sizeof path, "%s/submission.json", s->dir);
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	int rc = json_dump_file(j, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (rc != 0 || rename(tmp, path) != 0) {
		natadv_errf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		unlink(tmp);
		return NATADV_EIO;
	}
	return 0;
}

/* Reads a string member; NULL when absent or null. Sets *bad when it is
 * there but not a string. */
static char *get_str(json_t *o, const char *k, int *bad, int *oom)
{
	json_t *v = json_object_get(o, k);
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = 1;
		return NULL;
	}
	return dup_or_null(json_string_value(v), oom);
}

static char **get_list(json_t *o, const char *k, int *n, int *bad, int *oom)
{
	json_t *a = json_object_get(o, k);
	*n = 0;
	if (!json_is_array(a)) {
		*bad = 1;
		return NULL;
	}
	char **v = calloc(json_array_size(a) + 1, sizeof *v);
	if (!v) {
		*oom = 1;
		return NULL;
	}
	size_t i;
	json_t *e;
	json_array_foreach(a, i, e) {
		if (!json_is_string(e)) {
			*bad = 1;
			break;
		}
		v[(*n)++] = dup_or_null(json_string_value(e), oom);
	}
	return v;
}

static int get_jobs(json_t *j, slurm_sub *s, int *bad, int *oom)
{
	json_t *arrays = json_object_get(j, "arrays"), *merges = json_object_get(j, "merges"), *e;
	if (!json_is_array(arrays) || !json_is_array(merges)) {
		*bad = 1;
		return 0;
	}
	s->arrays = calloc(json_array_size(arrays) + 1, sizeof *s->arrays);
	s->merges = calloc(json_array_size(merges) + 1, sizeof *s->merges);
	if (!s->arrays || !s->merges) {
		*oom = 1;
		return 0;
	}
	size_t i;
	json_array_foreach(arrays, i, e) {
		const char *job = json_string_value(json_object_get(e, "job"));
		const char *tasks = json_string_value(json_object_get(e, "tasks"));
		if (!job || !tasks || strlen(job) >= sizeof s->arrays[0].job) {
			*bad = 1;
			return 0;
		}
		snprintf(s->arrays[s->narrays].job, sizeof s->arrays[0].job, "%s", job);
		s->arrays[s->narrays++].tasks = dup_or_null(tasks, oom);
	}
	json_array_foreach(merges, i, e) {
		const char *job = json_string_value(e);
		if (!job || strlen(job) >= sizeof s->merges[0]) {
			*bad = 1;
			return 0;
		}
		snprintf(s->merges[s->nmerges++], sizeof s->merges[0], "%s", job);
	}
	return 0;
}

static void sub_from_json(json_t *j, slurm_sub *s, int *bad, int *oom)
{
	json_t *sb = json_object_get(j, "sbatch");
	s->id = get_str(j, "id", bad, oom);
	s->stage = get_str(j, "stage", bad, oom);
	s->workspace = get_str(j, "workspace", bad, oom);
	s->parts = get_str(j, "parts", bad, oom);
	s->dir = get_str(j, "dir", bad, oom);
	s->natadv = get_str(j, "natadv", bad, oom);
	s->submitted_at = get_str(j, "submitted_at", bad, oom);
	s->nparts = (int)json_integer_value(json_object_get(j, "nparts"));
	s->split_id = json_integer_value(json_object_get(j, "split_id")); /* 0 when not recorded */
	s->stage_args = get_list(j, "stage_args", &s->nstage_args, bad, oom);
	if (!json_is_object(sb)) {
		*bad = 1;
		return;
	}
	s->partition = get_str(sb, "partition", bad, oom);
	s->account = get_str(sb, "account", bad, oom);
	s->time = get_str(sb, "time", bad, oom);
	s->mem = get_str(sb, "mem", bad, oom);
	s->cpus_per_task = (int)json_integer_value(json_object_get(sb, "cpus_per_task"));
	s->max_running = (int)json_integer_value(json_object_get(sb, "max_running"));
	s->extra = get_list(sb, "extra", &s->nextra, bad, oom);
	get_jobs(j, s, bad, oom);
	if (!s->id || !s->stage || !s->workspace || !s->parts || !s->dir || !s->natadv || !s->submitted_at ||
	    s->nparts < 1 || s->nparts > 100000)
		*bad = 1;
}

int slurm_sub_load(const char *dir, slurm_sub **out, char *err, size_t errlen)
{
	*out = NULL;
	char path[4096];
	snprintf(path, sizeof path, "%s/submission.json", dir);
	if (access(path, F_OK) != 0) {
		natadv_errf(err, errlen, "no slurm submission in '%s'", dir);
		return NATADV_ENOTFOUND;
	}
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	if (!j) {
		natadv_errf(err, errlen, "cannot read '%s': %s", path, je.text);
		return NATADV_EFORMAT;
	}
	slurm_sub *s = calloc(1, sizeof *s);
	int bad = 0, oom = !s;
	if (s)
		sub_from_json(j, s, &bad, &oom);
	json_decref(j);
	if (oom || bad) {
		slurm_sub_free(s);
		if (oom)
			return NATADV_ENOMEM;
		natadv_errf(err, errlen, "cannot read '%s': not a submission natadv wrote", path);
		return NATADV_EFORMAT;
	}
	*out = s;
	return 0;
}

int slurm_sub_latest(const char *workspace, slurm_sub **out, char *err, size_t errlen)
{
	*out = NULL;
	char root[4096], best[512] = "", best_at[64] = "";
	snprintf(root, sizeof root, "%s/slurm", workspace);
	DIR *d = opendir(root);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof best)
			continue;
		char dir[4608];
		snprintf(dir, sizeof dir, "%s/%s", root, e->d_name);
		slurm_sub *s;
		if (slurm_sub_load(dir, &s, NULL, 0) != 0)
			continue;
		int c = strcmp(s->submitted_at, best_at);
		if (c > 0 || (c == 0 && strcmp(e->d_name, best) > 0)) {
			snprintf(best, sizeof best, "%s", e->d_name);
			snprintf(best_at, sizeof best_at, "%s", s->submitted_at);
		}
		slurm_sub_free(s);
	}
	if (d)
		closedir(d);
	if (!*best) {
		natadv_errf(err, errlen, "no slurm submission in '%s'", workspace);
		return NATADV_ENOTFOUND;
	}
	char dir[4608];
	snprintf(dir, sizeof dir, "%s/%s", root, best);
	return slurm_sub_load(dir, out, err, errlen);
}
