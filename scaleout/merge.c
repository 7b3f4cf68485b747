/* merge.c — folding a finished part back: its part.json must name this
 * workspace as its parent, then store_part_merge does the rest in one
 * transaction (see the rules in store/parts.h). */
#include "scaleout/scaleout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* Reads dir's part.json into *pi and checks it names s as its parent. */
static int check_parent(store *s, const char *dir, scaleout_part_info *pi, char *err, size_t errlen)
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
		natadv_errf(err, errlen, "cannot merge '%s': it is a part of another workspace ('%s', %s), not of this one",
		            dir, pi->parent_path, pi->parent_uuid);
		return NATADV_EINVAL;
	}
	return 0;
}

int scaleout_merge(store *s, int64_t run_id, const char *dir, scaleout_part_info *pi, store_merge_result *r,
                   char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	int rc = check_parent(s, dir, pi, err, errlen);
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
	int *refused = calloc(n ? n : 1, sizeof *refused);
	if (!refused)
		return NATADV_ENOMEM;
	char err[2048];
	scaleout_part_info pi;
	store_merge_result r;
	int64_t linked = 0, copied = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = check_parent(s, dirs[i], &pi, err, sizeof err);
		if (!rc && store_part_link_blobs(s, dirs[i], &linked, &copied) != 0) {
			natadv_errf(err, sizeof err, "cannot merge '%s': %s", dirs[i], store_errmsg(s));
			rc = NATADV_EIO;
		}
		if (rc) {
			refused[i] = 1;
			cb(ctx, &(scaleout_merged){.dir = dirs[i], .rc = rc, .err = err, .pi = &pi});
		}
	}
	int rc = linked + copied > 0 && blob_sync(store_objects_dir(s)) != 0 ? NATADV_EIO : 0;
	for (size_t i = 0; !rc && i < n; i++) {
		if (refused[i])
			continue;
		int mrc = scaleout_merge(s, run_id, dirs[i], &pi, &r, err, sizeof err);
		cb(ctx, &(scaleout_merged){.dir = dirs[i], .rc = mrc, .err = err, .pi = &pi, .r = &r});
		linked += r.blobs_linked;
		copied += r.blobs_copied;
	}
	if (nlinked)
		*nlinked = linked;
	if (ncopied)
		*ncopied = copied;
	free(refused);
	return rc;
}
