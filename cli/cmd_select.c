/* cmd_select.c — `natadv select --model NAME ...`: the adversarial filter
 * over a class set's scored images, recorded as a new selection that
 * supersedes the set's earlier ones; prints a per-class table and a summary. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "filter/select.h"

#define MAX_ALSO 16

static void help(void)
{
	printf("usage: natadv select --model NAME [--set NAME] [--space subset|1k] [--min-confidence P]\n"
	       "                     [--max-true-prob P] [--also-wrong-for MODEL,...] [--near-distance N]\n"
	       "       natadv select --ood-from NAME --model NAME [--set NAME] [--min-confidence P]\n"
	       "                     [--also-wrong-for MODEL,...] [--near-distance N]\n\n"
	       "Proposes, for each (image, class tag) of the class set (default imagenet-a) that\n"
	       "the model scored, the images it gets confidently wrong: the argmax over the\n"
	       "set's logits (--space subset, the default, as ImageNet-A is evaluated) or over\n"
	       "all outputs (--space 1k) is not the tagged class, the predicted class has at\n"
	       "least --min-confidence (0.5) and the tagged class at most --max-true-prob (0.1).\n"
	       "Probabilities are recomputed from the stored logits. With --also-wrong-for,\n"
	       "every listed model must also get it wrong (an image it did not score is not\n"
	       "selected). Within a class, proposals whose perceptual hashes differ in at most\n"
	       "--near-distance bits (6) are collapsed into the most confident one; the others\n"
	       "are kept as near-duplicates naming it. Classes of the set the model has no\n"
	       "logit for (outside ImageNet-1K or its outputs) are skipped with a note.\n\n"
	       "With --ood-from (rule 'ood', ImageNet-O): the images tagged with a class of\n"
	       "the out-of-distribution set NAME ('classes add-set NAME --ood') whose maximum\n"
	       "softmax probability over the set's classes (default imagenet-o) is at least\n"
	       "--min-confidence are proposed under the predicted class, their source class\n"
	       "kept beside it; near-duplicates collapse per predicted class; an image tagged\n"
	       "with several source classes is proposed once; --also-wrong-for models must\n"
	       "reach the same confidence.\n\n"
	       "Each run is a new selection with its rule, parameters, models and run; the\n"
	       "latest one is in force for review and export, earlier ones stay as history.\n"
	       "Nothing is recorded unless the run completes.\n\n"
	       "stdout: one line per class with tags: wnid, tags, scored, wrong, selected,\n"
	       "proposed, near-duplicates, name; then the totals.\n");
}

static int parse_prob(const char *opt, const char *v, double *out)
{
	if (cli_parse_double("select", opt, v, out))
		return EXIT_USAGE;
	if (*out > 1)
		return cli_usage("select", "%s wants a probability from 0 to 1, not '%s'", opt, v);
	return 0;
}

static void print_row(const char *wnid, int64_t tags, int64_t scored, int64_t wrong, int64_t selected,
                      int64_t proposed, int64_t dups, const char *name)
{
	printf("%-10s %7lld %7lld %7lld %8lld %8lld %8lld  %s\n", wnid, (long long)tags, (long long)scored,
	       (long long)wrong, (long long)selected, (long long)proposed, (long long)dups, name);
}

static void print_summary(const select_opts *o, const select_result *r)
{
	char a[32], b[32], d[32], e[32];
	if (o->ood_from)
		fprintf(stderr, "natadv: selection %lld of '%s' from out-of-distribution set '%s' with '%s' (%d classes, "
		        "min confidence %g): %s proposals, %s near-duplicates collapsed, from %s scored tags of %s%s\n",
		        (long long)r->selection_id, o->set, o->ood_from, o->model, r->nspace, o->rule.min_confidence,
		        cli_num(r->proposals, a), cli_num(r->near_duplicates, b), cli_num(r->candidates, d),
		        cli_num(r->tags, e), r->proposals ? "" : " (nothing to review)");
	else
		fprintf(stderr, "natadv: selection %lld of '%s' with '%s' (space %s, %d classes, min confidence %g, "
		        "max true prob %g): %s proposals, %s near-duplicates collapsed, from %s scored tags of %s%s\n",
		        (long long)r->selection_id, o->set, o->model, o->space == SELECT_SPACE_1K ? "1k" : "subset",
		        r->nspace, o->rule.min_confidence, o->rule.max_true_prob, cli_num(r->proposals, a),
		        cli_num(r->near_duplicates, b), cli_num(r->candidates, d), cli_num(r->tags, e),
		        r->proposals ? "" : " (nothing to review)");
}

int cmd_select(struct cli *c, int argc, char **argv)
{
	enum { O_MODEL = 256, O_SET, O_SPACE, O_MINCONF, O_MAXTRUE, O_ALSO, O_NEAR, O_OOD };
	static const struct option opts[] = {
		{"model", required_argument, 0, O_MODEL},
		{"set", required_argument, 0, O_SET},
		{"space", required_argument, 0, O_SPACE},
		{"min-confidence", required_argument, 0, O_MINCONF},
		{"max-true-prob", required_argument, 0, O_MAXTRUE},
		{"also-wrong-for", required_argument, 0, O_ALSO},
		{"near-distance", required_argument, 0, O_NEAR},
		{"ood-from", required_argument, 0, O_OOD},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *also[MAX_ALSO];
	select_opts o = {.set = NULL, .space = SELECT_SPACE_SUBSET, .rule = {0.5, 0.1},
	                 .near_distance = 6, .also = also, .run_id = c->run_id};
	long long n;
	int ch, space_given = 0, maxtrue_given = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_MODEL: o.model = optarg; break;
		case O_SET: o.set = optarg; break;
		case O_OOD: o.ood_from = optarg; break;
		case O_SPACE:
			space_given = 1;
			if (!strcmp(optarg, "subset"))
				o.space = SELECT_SPACE_SUBSET;
			else if (!strcmp(optarg, "1k"))
				o.space = SELECT_SPACE_1K;
			else
				return cli_usage("select", "--space is 'subset' or '1k', not '%s'", optarg);
			break;
		case O_MINCONF:
			if (parse_prob("--min-confidence", optarg, &o.rule.min_confidence)) return EXIT_USAGE;
			break;
		case O_MAXTRUE:
			if (parse_prob("--max-true-prob", optarg, &o.rule.max_true_prob)) return EXIT_USAGE;
			maxtrue_given = 1;
			break;
		case O_ALSO: {
			int k = cli_split_list(optarg, also + o.nalso, MAX_ALSO - o.nalso);
			if (k < 0)
				return cli_usage("select", "--also-wrong-for takes at most %d models", MAX_ALSO);
			o.nalso += k;
			break;
		}
		case O_NEAR:
			if (cli_parse_int("select", "--near-distance", optarg, 0, 32, &n)) return EXIT_USAGE;
			o.near_distance = (int)n;
			break;
		case 'h': help(); return EXIT_OK;
		default: return cli_usage("select", "unknown option");
		}
	}
	if (!o.model)
		return cli_usage("select", "--model NAME is required");
	if (optind < argc)
		return cli_usage("select", "unexpected argument '%s'", argv[optind]);
	if (o.ood_from && (space_given || maxtrue_given))
		return cli_usage("select", "--ood-from judges the maximum probability over the set's classes: "
		                 "no --space or --max-true-prob");
	if (!o.set)
		o.set = o.ood_from ? "imagenet-o" : "imagenet-a";

	char err[1024];
	select_result r;
	if (select_run(c->st, &o, &r, err, sizeof err) != 0) {
		cli_error("select failed, nothing recorded: %s", err);
		return EXIT_FAIL;
	}
	char a[32], b[32], d[32];
	if (r.outside_1k && !c->quiet && !o.ood_from)
		cli_error("note: %d class%s of '%s' outside ImageNet-1K cannot be scored: skipped", r.outside_1k,
		          r.outside_1k == 1 ? "" : "es", o.set);
	if (r.outside_outputs && !c->quiet)
		cli_error("note: %d class%s of '%s' beyond the %d outputs of '%s' cannot be scored: skipped",
		          r.outside_outputs, r.outside_outputs == 1 ? "" : "es", o.set, r.outputs, o.model);
	if ((r.unscored || r.unscorable) && !c->quiet)
		cli_error("note: %s tags are on images '%s' has not scored (run 'natadv score --model %s'), %s on "
		          "images it could not score", cli_num(r.unscored, a), o.model, o.model, cli_num(r.unscorable, b));
	if (o.nalso && (r.also_unscored || r.also_right) && !c->quiet)
		cli_error("note: of %s selected, %s dropped as another model gets them right and %s as another "
		          "model has not scored them", cli_num(r.selected, a), cli_num(r.also_right, b),
		          cli_num(r.also_unscored, d));
	printf("%-10s %7s %7s %7s %8s %8s %8s  %s\n", "wnid", "tags", "scored", "wrong", "selected", "proposed",
	       "near_dup", "name");
	for (int i = 0; i < r.nclasses; i++) {
		const select_class_stats *k = &r.classes[i];
		if (k->tags)
			print_row(k->wnid, k->tags, k->candidates, k->wrong, k->selected, k->proposed, k->near_duplicates,
			          k->scorable ? k->name : "(no logit: skipped)");
	}
	print_row("total", r.tags, r.candidates, r.wrong, r.selected, r.proposals, r.near_duplicates, "");
	if (!c->quiet)
		print_summary(&o, &r);
	select_result_release(&r);
	return EXIT_OK;
}
