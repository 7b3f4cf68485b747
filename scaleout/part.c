/* part.c — part.json, the one file that says what a part workspace is (the
 * parent workspace, the stage, the part and the count), and finding parts
 * in a folder. */
#include "scaleout/scaleout.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/text.h"

#define PART_JSON_MAX (64 * 1024)

int scaleout_part_write(const char *dir, const scaleout_part_info *pi, char *err, size_t errlen)
{
	json_t *o = json_object(), *parent = json_object();
	int bad = !o || !parent;
	bad = bad || json_object_set_new(o, "natadv_part", json_integer(1));
	bad = bad || json_object_set_new(parent, "path", json_string(pi->parent_path));
	bad = bad || json_object_set_new(parent, "uuid", json_string(pi->parent_uuid));
	bad = bad || json_object_set(o, "parent", parent);
	bad = bad || json_object_set_new(o, "uuid", json_string(pi->uuid));
	bad = bad || json_object_set_new(o, "stage", json_string(pi->stage));
	bad = bad || json_object_set_new(o, "by", json_string(pi->by));
	bad = bad || json_object_set_new(o, "model", pi->model[0] ? json_string(pi->model) : json_null());
	bad = bad || json_object_set_new(o, "split_id", json_integer(pi->split_id));
	bad = bad || json_object_set_new(o, "part", json_integer(pi->part));
	bad = bad || json_object_set_new(o, "parts", json_integer(pi->parts));
	bad = bad || json_object_set_new(o, "count", json_integer(pi->count));
	json_decref(parent);
	char path[4200], tmp[4300];
	snprintf(path, sizeof path, "%s/part.json", dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (bad) {
		json_decref(o);
		natadv_errf(err, errlen, "cannot write '%s': out of memory (or a path that is not UTF-8)", path);
		return NATADV_ENOMEM;
	}
	int rc = json_dump_file(o, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (rc != 0 || rename(tmp, path) != 0) {
		natadv_errf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		unlink(tmp);
		return NATADV_EIO;
	}
	return 0;
}

/* Copies the string member key of o into out (cap bytes); 0 or -1. */
static int get_str(json_t *o, const char *key, char *out, size_t cap, int nullable)
{
	json_t *v = json_object_get(o, key);
	if (nullable && json_is_null(v)) {
		out[0] = '\0';
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) >= cap)
		return -1;
	snprintf(out, cap, "%s", json_string_value(v));
	return 0;
}

static int get_int(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

int scaleout_part_read(const char *dir, scaleout_part_info *pi, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/part.json", dir);
	memset(pi, 0, sizeof *pi);
	if (access(path, F_OK) != 0) {
		natadv_errf(err, errlen, "'%s' is not a part: no part.json", dir);
		return NATADV_ENOTFOUND;
	}
	buf b;
	buf_init(&b, PART_JSON_MAX);
	int rc = buf_read_file(&b, path, err, errlen);
	json_t *o = rc ? NULL : json_loadb(buf_cstr(&b), b.len, 0, NULL);
	buf_release(&b);
	if (rc)
		return rc;
	int64_t v = 0, part = 0, parts = 0;
	json_t *parent = json_object_get(o, "parent");
	int bad = !json_is_object(o) || get_int(o, "natadv_part", 1, 1, &v);
	bad = bad || get_str(parent, "path", pi->parent_path, sizeof pi->parent_path, 0);
	bad = bad || get_str(parent, "uuid", pi->parent_uuid, sizeof pi->parent_uuid, 0);
	bad = bad || get_str(o, "uuid", pi->uuid, sizeof pi->uuid, 0);
	bad = bad || get_str(o, "stage", pi->stage, sizeof pi->stage, 0);
	bad = bad || get_str(o, "by", pi->by, sizeof pi->by, 0);
	bad = bad || get_str(o, "model", pi->model, sizeof pi->model, 1);
	bad = bad || get_int(o, "split_id", 1, INT64_MAX, &pi->split_id);
	bad = bad || get_int(o, "parts", 1, SCALEOUT_PARTS_MAX, &parts);
	bad = bad || get_int(o, "part", 0, parts - 1, &part);
	bad = bad || get_int(o, "count", 0, INT64_MAX, &pi->count);
	bad = bad || !text_is_hex(pi->uuid, 32) || !text_is_hex(pi->parent_uuid, 32);
	bad = bad || (strcmp(pi->stage, "crawl") && strcmp(pi->stage, "score"));
	json_decref(o);
	if (bad) {
		natadv_errf(err, errlen, "cannot read '%s': not a part.json of natadv", path);
		return NATADV_EFORMAT;
	}
	pi->part = (int)part;
	pi->parts = (int)parts;
	return 0;
}

static int has_part_json(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/part.json", dir);
	return access(path, F_OK) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the parts under dir (itself, else its subfolders, down to depth
 * more levels) to *v. */
static int find_in(const char *dir, int depth, char ***v, size_t *nv, size_t *cap)
{
	if (has_part_json(dir)) {
		char **g = array_grow(*v, *nv, cap, sizeof **v);
		if (!g)
			return NATADV_ENOMEM;
		*v = g;
		if (!(g[*nv] = strdup(dir)))
			return NATADV_ENOMEM;
		(*nv)++;
		return 0;
	}
	if (depth == 0)
		return 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? NATADV_ENOTFOUND : errno == ENOTDIR ? 0 : NATADV_EIO;
	struct dirent *e;
	int rc = 0;
	while (!rc && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char sub[4400];
		snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
		struct stat sb;
		if (stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode))
			rc = find_in(sub, depth - 1, v, nv, cap);
	}
	closedir(d);
	return rc;
}

int scaleout_parts_find(const char *dir, char ***out, size_t *n, char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	char **v = NULL;
	size_t nv = 0, cap = 0;
	int rc = find_in(dir, 2, &v, &nv, &cap);
	if (rc == NATADV_ENOMEM)
		natadv_errf(err, errlen, "out of memory");
	else if (rc)
		natadv_errf(err, errlen, "cannot read '%s': %s", dir, strerror(errno));
	else if (nv == 0) {
		natadv_errf(err, errlen, "no part in '%s': neither it nor a folder in it holds a part.json", dir);
		rc = NATADV_ENOTFOUND;
	}
	if (rc) {
		for (size_t i = 0; i < nv; i++)
			free(v[i]);
		free(v);
		return rc;
	}
	qsort(v, nv, sizeof *v, cmp_str);
	*out = v;
	*n = nv;
	return 0;
}
