/* cmd_classes.c — `natadv classes [--set NAME]`: index, wnid, first name;
 * `classes --sets`: the class sets; `classes add-set NAME`: a new set. */
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

static void print_set(void *ctx, const store_set_info *i)
{
	(void)ctx;
	printf("%s\t%s\t%lld\t%s\t%s\n", i->name, i->version, (long long)i->members, i->based_on ? i->based_on : "-",
	       i->created_at);
}

static int add_set(struct cli *c, int argc, char **argv)
{
	enum { O_FROM = 256, O_ADD, O_VERSION };
	static const struct option opts[] = {
		{"from", required_argument, 0, O_FROM}, {"add", required_argument, 0, O_ADD},
		{"version", required_argument, 0, O_VERSION}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
	};
	const char *from = "imagenet-a", *version = "1";
	char *add = NULL;
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_FROM: from = optarg; break;
		case O_ADD: add = optarg; break;
		case O_VERSION: version = optarg; break;
		case 'h':
			printf("usage: natadv classes add-set NAME [--from SET|none] --add WNID,... [--version V]\n\n"
			       "Creates class set NAME (version V, default 1) holding the classes of SET\n"
			       "(default imagenet-a; 'none' for an empty start) plus the given ImageNet-1K\n"
			       "classes. Labels (set indices) follow sorted wnid order, the order in which\n"
			       "torchvision's ImageFolder numbers class folders; imagenet-a's labels already\n"
			       "do. The name becomes the release's folder name: letters, digits, '.', '_', '-'.\n");
			return EXIT_OK;
		default: return cli_usage("classes add-set", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage("classes add-set", "the new set's NAME is required");
	if (optind + 1 < argc)
		return cli_usage("classes add-set", "unexpected argument '%s'", argv[optind + 1]);
	if (!add)
		return cli_usage("classes add-set", "--add WNID,... is required");
	const char *name = argv[optind];
	const char *wnids[1000];
	int n = cli_split_list(add, wnids, 1000);
	if (n < 0)
		return cli_usage("classes add-set", "--add takes at most 1000 classes");
	if (!strcmp(from, "none"))
		from = NULL;
	if (store_set_add(c->st, c->run_id, name, version, from, wnids, n) != 0) {
		cli_error("cannot create class set '%s': %s", name, store_errmsg(c->st));
		return EXIT_FAIL;
	}
	if (!c->quiet)
		fprintf(stderr, "natadv: created class set '%s' version %s: %s%s%s%d class%s added\n", name, version,
		        from ? "the classes of '" : "", from ? from : "", from ? "' and " : "", n, n == 1 ? "" : "es");
	return EXIT_OK;
}

int cmd_classes(struct cli *c, int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "add-set"))
		return add_set(c, argc - 1, argv + 1);
	static const struct option opts[] = {{"set", required_argument, 0, 's'}, {"sets", no_argument, 0, 'S'},
	                                     {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const char *set = NULL;
	int sets = 0, ch;
	while ((ch = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': set = optarg; break;
		case 'S': sets = 1; break;
		case 'h':
			printf("usage: natadv classes [--set NAME]\n"
			       "       natadv classes --sets\n"
			       "       natadv classes add-set NAME [--from SET|none] --add WNID,... [--version V]\n\n"
			       "Lists the classes of a class set (default imagenet-1k; also imagenet-a,\n"
			       "imagenet-o): index within the set, wnid and first name, tab-separated.\n"
			       "--sets lists the class sets: name, version, classes, based on, created at.\n"
			       "add-set creates a new set (see 'natadv classes add-set --help').\n");
			return EXIT_OK;
		default: return cli_usage("classes", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage("classes", "unexpected argument '%s'", argv[optind]);
	if (sets) {
		if (set)
			return cli_usage("classes", "--sets and --set do not go together");
		if (store_sets_each(c->st, print_set, NULL) != 0) {
			cli_error("%s", store_errmsg(c->st));
			return EXIT_FAIL;
		}
		return EXIT_OK;
	}
	int rc = store_classes_each(c->st, set, print_class, NULL);
	if (rc) {
		cli_error("%s", store_errmsg(c->st));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
