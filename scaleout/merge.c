/* merge.c — folding a finished part back: its part.json must name this
 * workspace as its parent, then store_part_merge does the rest in one
 * transaction (see the rules in store/parts.h). */
#include "scaleout/scaleout.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"

int scaleout_merge(store *s, int64_t run_id, const char *dir, scaleout_part_info *pi, store_merge_result *r,
                   char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
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
	rc = store_part_merge(s, run_id, dir, r);
	if (rc)
		natadv_errf(err, errlen, "cannot merge '%s': %s", dir, store_errmsg(s));
	return rc;
}
