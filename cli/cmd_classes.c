/* cmd_classes.c — `natadv classes [--set NAME]`: index, wnid, first name;
 * `classes --sets`: the class sets; `classes add-set NAME`: a new set (of
 * ImageNet-1K classes, or with --ood of WordNet synsets outside it);
 * `classes ood`: the WordNet synsets usable as out-of-distribution classes. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/wordnet.h"

#include <jansson.h>

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

/* Loads WordNet and marks the workspace's ImageNet-1K classes in it; NULL
 * with the message printed when it cannot. */
static wordnet *open_wordnet(struct cli *c)
{
	wordnet *wn = NULL;
	char err[1024];
	if (wordnet_load(wordnet_path(), &wn, err, sizeof err) != 0) {
		cli_error("%s", err);
		return NULL;
	}
	if (store_wordnet_mark(c->st, wn) != 0) {
		cli_error("%s", store_errmsg(c->st));
		wordnet_free(wn);
		return NULL;
	}
	return wn;
}

static int add_ood_set(struct cli *c, const char *name, const char *version, int from_given,
                       const char *const *wnids, int n)
{
	if (from_given)
		return cli_usage("classes add-set", "--ood and --from do not go together");
	wordnet *wn = open_wordnet(c);
	if (!wn)
		return EXIT_FAIL;
	int rc = store_set_add_ood(c->st, c->run_id, name, version, wn, wnids, n);
	wordnet_free(wn);
	if (rc) {
		cli_error("cannot create class set '%s': %s", name, store_errmsg(c->st));
		return EXIT_FAIL;
	}
	if (!c->quiet)
		fprintf(stderr, "natadv: created out-of-distribution class set '%s' version %s: %d class%s\n", name,
		        version, n, n == 1 ? "" : "es");
	return EXIT_OK;
}

static int list_ood(struct cli *c, int argc, char **argv)
{
	enum { O_UNDER = 256, O_LIMIT, O_JSON };
	static const struct option opts[] = {
		{"under", required_argument, 0, O_UNDER}, {"limit", required_argument, 0, O_LIMIT},
		{"json", no_argument, 0, O_JSON}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
	};
	const char *under = NULL;
	long long limit = -1;
	int ch, json = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_UNDER: under = optarg; break;
		case O_LIMIT:
			if (cli_parse_int("classes ood", "--limit", optarg, 0, 1000000000, &limit)) return EXIT_USAGE;
			break;
		case O_JSON: json = 1; break;
		case 'h':
			printf("usage: natadv classes ood [--under WNID] [--limit N] [--json]\n\n"
			       "Lists the WordNet 3.0 noun synsets usable as out-of-distribution classes,\n"
			       "in wnid order: those that are not ImageNet-1K classes and neither ancestors\n"
			       "nor descendants of one through hypernym and instance-hypernym links. One\n"
			       "per line, wnid TAB names (with --json: {\"wnid\", \"names\"} per line).\n"
			       "--under keeps the synset and those below it (n00021939: artifacts);\n"
			       "--limit stops after N. WordNet is read from " WORDNET_DEFAULT_PATH "\n"
			       "(Debian's " WORDNET_PACKAGE "), or the data.noun $NATADV_WORDNET names.\n");
			return EXIT_OK;
		default: return cli_usage("classes ood", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage("classes ood", "unexpected argument '%s'", argv[optind]);
	wordnet *wn = open_wordnet(c);
	if (!wn)
		return EXIT_FAIL;
	int root = under ? wordnet_find(wn, under) : -1, rc = EXIT_OK;
	if (under && root < 0) {
		cli_error("cannot list under '%s': not a WordNet 3.0 noun synset", under);
		rc = EXIT_FAIL;
		goto out;
	}
	long long shown = 0;
	for (int i = 0; i < wordnet_count(wn) && (limit < 0 || shown < limit); i++) {
		if (wordnet_judge(wn, i, NULL) != WORDNET_USABLE || (under && !wordnet_is_under(wn, i, root)))
			continue;
		shown++;
		if (!json) {
			printf("%s\t%s\n", wordnet_wnid(wn, i), wordnet_names(wn, i));
			continue;
		}
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "wnid", json_string(wordnet_wnid(wn, i)));
			json_object_set_new(o, "names", json_string(wordnet_names(wn, i)));
		}
		if (cli_json_put(o, 0) != 0) {
			cli_error("out of memory");
			rc = EXIT_FAIL;
			goto out;
		}
	}
out:
	wordnet_free(wn);
	return rc;
}

static int add_set(struct cli *c, int argc, char **argv)
{
	enum { O_FROM = 256, O_ADD, O_VERSION, O_OOD };
	static const struct option opts[] = {
		{"from", required_argument, 0, O_FROM}, {"add", required_argument, 0, O_ADD},
		{"version", required_argument, 0, O_VERSION}, {"ood", no_argument, 0, O_OOD},
		{"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
	};
	const char *from = "imagenet-a", *version = "1";
	char *add = NULL;
	int ch, ood = 0, from_given = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_FROM: from = optarg; from_given = 1; break;
		case O_OOD: ood = 1; break;
		case O_ADD: add = optarg; break;
		case O_VERSION: version = optarg; break;
		case 'h':
			printf("usage: natadv classes add-set NAME [--from SET|none] --add WNID,... [--version V]\n"
			       "       natadv classes add-set NAME --ood --add WNID,... [--version V]\n\n"
			       "Creates class set NAME (version V, default 1) holding the classes of SET\n"
			       "(default imagenet-a; 'none' for an empty start) plus the given ImageNet-1K\n"
			       "classes. Labels (set indices) follow sorted wnid order, the order in which\n"
			       "torchvision's ImageFolder numbers class folders; imagenet-a's labels already\n"
			       "do. The name becomes the release's folder name: letters, digits, '.', '_', '-'.\n\n"
			       "--ood makes an out-of-distribution source set (for 'select --ood-from') of\n"
			       "WordNet 3.0 noun synsets (read from " WORDNET_DEFAULT_PATH ", Debian's\n"
			       WORDNET_PACKAGE ", or $NATADV_WORDNET): each must be neither an ImageNet-1K class\n"
			       "nor an ancestor or descendant of one (see 'natadv classes ood'); they join the\n"
			       "classes table with their WordNet names.\n");
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
	if (ood)
		return add_ood_set(c, name, version, from_given, wnids, n);
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
	if (argc > 1 && !strcmp(argv[1], "ood"))
		return list_ood(c, argc - 1, argv + 1);
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
			       "       natadv classes add-set NAME [--from SET|none] --add WNID,... [--version V]\n"
			       "       natadv classes add-set NAME --ood --add WNID,... [--version V]\n"
			       "       natadv classes ood [--under WNID] [--limit N] [--json]\n\n"
			       "Lists the classes of a class set (default imagenet-1k; also imagenet-a,\n"
			       "imagenet-o): index within the set, wnid and first name, tab-separated.\n"
			       "--sets lists the class sets: name, version, classes, based on, created at.\n"
			       "add-set creates a new set (see 'natadv classes add-set --help'); ood lists\n"
			       "the WordNet synsets usable as out-of-distribution classes.\n");
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
