/* cmd_init.c — `natadv init`: create the workspace (or complete one). */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int cmd_init(struct cli *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: natadv [-w DIR] init\n\n"
			       "Creates DIR/natadv.db (the database, with the ImageNet-1K, imagenet-a and\n"
			       "imagenet-o class sets) and DIR/objects (the blob store). Running it again on\n"
			       "an existing workspace only brings its schema up to date.\n");
			return EXIT_OK;
		}
		return cli_usage("init", "unexpected argument '%s'", argv[i]);
	}
	char err[1024];
	store *s = NULL;
	if (store_create(c->workspace, &s, err, sizeof err) != 0) {
		cli_error("%s", err);
		return EXIT_FAIL;
	}
	int64_t run_id = 0;
	int rc = store_run_begin(s, "init", c->args, &run_id);
	if (!rc)
		rc = store_run_end(s, run_id, EXIT_OK);
	if (rc) {
		cli_error("%s", store_errmsg(s));
		store_close(s);
		return EXIT_FAIL;
	}
	if (!c->quiet)
		fprintf(stderr, "natadv: workspace ready at '%s' (schema version %d)\n", c->workspace,
		        store_schema_version(s));
	store_close(s);
	return EXIT_OK;
}
