/* merge.c — folding finished parts back: each part.json must name this
 * workspace as its parent, then store_parts_merge does the rest, all the
 * parts in one transaction (see the rules in store/parts.h); or giving up
 * on an unmerged part (store_part_abandon). */
#include "scaleout/scaleout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

int scaleout_part_check(store *s, const char *dir, const char *verb, scaleout_part_info *pi, char *err,
                        size_t errlen)
{
	int rc = scaleout_part_read(dir, pi, err, errlen);
	if (rc)
		return rc;
	char uuid[33];
	if (store_workspace_uuid(s, uuid) != 0) {
		natadv_errf(err, errlen, "%s", store_errmsg(s));
		return NATADV_EDB;
	}
	if (strcmp(uuid, pi->parent_uuid) != 0) {
		natadv_errf(err, errlen, "cannot %s '%s': it is a part of another workspace ('%s', %s), not of this one",
		            verb, dir, pi->parent_path, pi->parent_uuid);
		return NATADV_EINVAL;
	}
	return 0;
}

int scaleout_abandon(store *s, const char *dir, scaleout_part_info *pi, int64_t *released, char *err,
                     size_t errlen)
{
	*released = -1;
	int rc = scaleout_part_check(s, dir, "abandon", pi, err, errlen);
	if (rc)
		return rc;
	rc = store_part_abandon(s, pi->uuid, released);
	if (rc)
		natadv_errf(err, errlen, "cannot abandon '%s': %s", dir, store_errmsg(s));
	return rc;
}

int scaleout_merge(store *s, int64_t run_id, const char *dir, scaleout_part_info *pi, store_merge_result *r,
                   char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	int rc = scaleout_part_check(s, dir, "merge", pi, err, errlen);
	if (rc)
		return rc;
	rc = store_part_merge(s, run_id, dir, r);
	if (rc)
		natadv_errf(err, errlen, "cannot merge '%s': %s", dir, store_errmsg(s));
	return rc;
}


int scaleout_merge_many(store *s, int64_t run_id, char *const *dirs, size_t n,
                        void (*cb)(void *ctx, const scaleout_merged *m), void *ctx, int64_t *nlinked,
                        int64_t *ncopied)
{
	scaleout_part_info *pi = calloc(n ? n : 1, sizeof *pi);
	store_merge_result *r = calloc(n ? n : 1, sizeof *r);
	const char **ok = calloc(n ? n : 1, sizeof *ok);
	size_t *at = calloc(n ? n : 1, sizeof *at);
	if (!pi || !r || !ok || !at) {
		free(pi);
		free(r);
		free(ok);
		free(at);
		return NATADV_ENOMEM;
	}
	char err[2048];
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = scaleout_part_check(s, dirs[i], "merge", &pi[m], err, sizeof err);
		if (rc) {
			cb(ctx, &(scaleout_merged){.dir = dirs[i], .rc = rc, .err = err, .pi = &pi[m]});
			continue;
		}
		at[m] = i;
		ok[m++] = dirs[i];
	}
	int64_t linked = 0, copied = 0;
	int rc = m ? store_parts_merge(s, run_id, ok, m, r) : 0;
	for (size_t j = 0; j < m; j++) {
		if (r[j].rc)
			natadv_errf(err, sizeof err, "cannot merge '%s': %s", dirs[at[j]], r[j].err);
		cb(ctx, &(scaleout_merged){.dir = dirs[at[j]], .rc = r[j].rc, .err = err, .pi = &pi[j], .r = &r[j]});
		linked += r[j].blobs_linked;
		copied += r[j].blobs_copied;
	}
	if (nlinked)
		*nlinked = linked;
	if (ncopied)
		*ncopied = copied;
	free(pi);
	free(r);
	free(ok);
	free(at);
	return rc;
}
