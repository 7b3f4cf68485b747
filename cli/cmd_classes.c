/* cmd_classes.c — `natadv classes [--set NAME]`: index, wnid, first name. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

static int print_class(void *ctx, const store_class *k)
{
	(void)ctx;
	const char *comma = strchr(k->names, ',');
	int n = comma ? (int)(comma - k->names) : (int)strlen(k->names);
	printf("%lld\t%s\t%.*s\n", (long long)k->index, k->wnid, n, k->names);
	return 0;
}

int cmd_classes(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"set", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const char *set = NULL;
	int ch;
	while ((ch = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': set = optarg; break;
		case 'h':
			printf("usage: natadv classes [--set NAME]\n\n"
			       "Lists the classes of a class set (default imagenet-1k; also imagenet-a,\n"
			       "imagenet-o): index within the set, wnid and first name, tab-separated.\n");
			return EXIT_OK;
		default: return cli_usage("classes", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage("classes", "unexpected argument '%s'", argv[optind]);
	int rc = store_classes_each(c->st, set, print_class, NULL);
	if (rc) {
		cli_error("%s", store_errmsg(c->st));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
