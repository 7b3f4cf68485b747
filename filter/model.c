/* model.c — bringing classifier weights into a workspace: the file is
 * checked completely as a ResNet (every tensor by name and shape), hashed,
 * and handed to the store, which copies it under its SHA-256 and records it. */
#include "filter/filter.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/sha256.h"

int filter_model_load(store *s, const char *name, int verify, net **m, char id[65], char *err, size_t errlen)
{
	store_model rec;
	buf text, path;
	buf_init(&text, 1 << 16);
	buf_init(&path, 8192);
	char sha[65];
	*m = NULL;
	int rc = store_model_get(s, name, &rec, &text);
	if (rc) {
		natadv_errf(err, errlen, "%s", store_errmsg(s));
		goto out;
	}
	if ((rc = store_model_path(s, rec.id, &path)) != 0) {
		natadv_errf(err, errlen, "cannot name the weights of model '%s': %s", name, natadv_strerror(rc));
		goto out;
	}
	/* The id is the file's SHA-256: scores must come from exactly those weights. */
	if (verify && (rc = sha256_file(buf_cstr(&path), sha, NULL, err, errlen)) != 0)
		goto out;
	if (verify && strcmp(sha, rec.id) != 0) {
		natadv_errf(err, errlen, "model file '%s' has changed (sha-256 %s, recorded %s)", buf_cstr(&path), sha,
		            rec.id);
		rc = NATADV_EFORMAT;
		goto out;
	}
	char why[1024], cache[4200], dir[4096];
	/* the packed weights are cached beside the weights, in models/ */
	snprintf(dir, sizeof dir, "%s", buf_cstr(&path));
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	net_cache_path(cache, sizeof cache, slash ? dir : ".", rec.id);
	if ((rc = net_load_cached(m, buf_cstr(&path), rec.id, cache, why, sizeof why)) != 0) {
		natadv_errf(err, errlen, "cannot load model '%s': %s", name, why);
		goto out;
	}
	if (id)
		snprintf(id, 65, "%s", rec.id);
out:
	buf_release(&text);
	buf_release(&path);
	return rc;
}

int filter_model_import(store *s, int64_t run_id, const char *path, const char *name, const char *source_url,
                        const char *want_sha256, filter_model_added *out, char *err, size_t errlen)
{
	filter_model_added got = {0};
	if (!store_model_name_valid(name)) {
		/* the store words the rule; nothing is loaded for a name it refuses */
		store_model bad = {.name = name};
		int rc = store_model_add(s, run_id, &bad);
		natadv_errf(err, errlen, "%s", store_errmsg(s));
		return rc ? rc : NATADV_EINVAL;
	}
	net *m = NULL;
	char why[1024] = "";
	if (net_load_file(&m, path, why, sizeof why) != 0) {
		natadv_errf(err, errlen, "cannot add '%s': %s", path, why);
		return NATADV_EFORMAT;
	}
	snprintf(got.arch, sizeof got.arch, "%s", net_get_info(m)->arch);
	got.classes = net_get_info(m)->classes;
	net_free(m);
	int rc = sha256_file(path, got.sha256, &got.bytes, err, errlen);
	if (rc)
		return rc;
	if (want_sha256 && strcmp(want_sha256, got.sha256) != 0) {
		natadv_errf(err, errlen, "cannot add '%s': sha-256 is %s, expected %s", path, got.sha256, want_sha256);
		return NATADV_EFORMAT;
	}
	store_model rec = {.id = got.sha256, .name = name, .arch = got.arch, .classes = got.classes,
	                   .bytes = got.bytes, .source_url = source_url, .preprocessing = FILTER_PREPROCESSING};
	rc = store_model_import(s, run_id, path, &rec);
	if (rc) {
		natadv_errf(err, errlen, "cannot add model '%s': %s", name, store_errmsg(s));
		return rc;
	}
	if (out)
		*out = got;
	return 0;
}
