/* cmd_review.c — `natadv review`: decisions on the proposals of a set's
 * selection in force, from the command line. Decisions are appended to the
 * review log, never overwritten; undo appends a row that cancels one. The
 * local web page (--serve) lives in cmd_review_serve.c. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/jstr.h"

#define MAX_IDS 100000

static void help(void)
{
	printf("usage: natadv review --accept ID... [--reason TEXT] [--reviewer NAME] [--set NAME]\n"
	       "       natadv review --reject ID... --reason TEXT [--reviewer NAME] [--set NAME]\n"
	       "       natadv review --auto-accept [--set NAME] [--reviewer NAME]\n"
	       "       natadv review --undo REVIEW_ID [--reason TEXT] [--reviewer NAME]\n"
	       "       natadv review --list [--set NAME] [--state undecided|accepted|rejected] [--json]\n"
	       "       natadv review --serve [--port N] [--bind ADDR] [--reviewer NAME] [--set NAME] [--target N]\n\n"
	       "Records decisions on proposals (ids from --list, space- or comma-separated) of\n"
	       "the selection in force of their class set. A decision is about the set, the\n"
	       "image and the tagged class, so it carries over to later selections; the latest\n"
	       "one counts. A proposal of a superseded selection, or a near-duplicate that was\n"
	       "collapsed into another, is refused, and so is an accept (or an undo bringing one\n"
	       "back) of an image accepted for another class of the set. All ids of one call\n"
	       "are recorded together or not at all. stdout: one line per review written:\n"
	       "review id, proposal id, decision.\n\n"
	       "  --accept ID... accept the proposals\n"
	       "  --reject ID... reject them; --reason says why (required)\n"
	       "  --reason TEXT  recorded with the decision (at most 200 bytes)\n"
	       "  --auto-accept  accept every undecided proposal of the selection in force\n"
	       "                 (for a pipeline without a person; recorded with mode 'auto'),\n"
	       "                 but those whose image is proposed for another class too\n"
	       "  --undo ID      cancel review ID (the earlier decision, if any, counts again)\n"
	       "  --list         the proposals of the selection in force with their decision:\n"
	       "                 id, decision, status, wnid, predicted wnid, confidence, true-class\n"
	       "                 probability, image, reviewer; --state keeps one kind,\n"
	       "                 --json prints one object per line (with source_wnid, the\n"
	       "                 out-of-distribution class of a 'select --ood-from' proposal)\n"
	       "  --serve        the review page on 127.0.0.1 (see 'natadv review --serve --help')\n"
	       "  --set NAME     the class set (imagenet-a for --auto-accept and --list)\n"
	       "  --reviewer     who decides (default $NATADV_REVIEWER, else $USER, else 'unknown')\n\n"
	       "Exit status: 0 done, 1 error, 2 usage.\n");
}

enum action { A_NONE, A_ACCEPT, A_REJECT, A_AUTO, A_UNDO, A_LIST };

/* Parses "12", "12,13" into ids; 0 or EXIT_USAGE. */
static int parse_ids(const char *arg, int64_t *ids, int *n)
{
	const char *p = arg;
	while (*p) {
		char *end;
		long long v = strtoll(p, &end, 10);
		if (end == p || v <= 0 || (*end && *end != ','))
			return cli_usage("review", "'%s' is not a proposal id", arg);
		if (*n == MAX_IDS)
			return cli_usage("review", "at most %d ids at once", MAX_IDS);
		ids[(*n)++] = v;
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* Accepts or rejects every id in one transaction; prints the review rows.
 * What may be decided is the store's rule (store_review_add). */
static int decide(struct cli *c, store_decision decision, const int64_t *ids, int n, const char *set,
                  const char *reason, const char *reviewer)
{
	const char *verb = store_decision_name(decision);
	int64_t *rids = malloc(sizeof *rids * (size_t)n);
	if (!rids) {
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	int rc = store_begin(c->st), i;
	for (i = 0; !rc && i < n; i++) {
		store_review r = {.decision = decision, .proposal_id = ids[i], .set = set, .reason = reason,
		                  .reviewer = reviewer, .mode = "cli"};
		rc = store_review_add(c->st, c->run_id, &r, &rids[i]);
		if (rc)
			break;
	}
	if (!rc)
		rc = store_commit(c->st);
	if (rc) {
		if (i < n)
			cli_error("cannot %s proposal %lld, nothing recorded: %s", verb, (long long)ids[i],
			          store_errmsg(c->st));
		else
			cli_error("cannot record decisions: %s", store_errmsg(c->st));
		store_rollback(c->st);
		free(rids);
		return rc == NATADV_EFORMAT ? EXIT_USAGE : EXIT_FAIL;  /* the reason given, or none */
	}
	for (i = 0; i < n; i++)
		printf("%lld\t%lld\t%s\n", (long long)rids[i], (long long)ids[i], verb);
	if (!c->quiet)
		fprintf(stderr, "natadv: %s %d proposal%s as '%s'\n", decision == STORE_ACCEPT ? "accepted" : "rejected",
		        n, n == 1 ? "" : "s", reviewer);
	free(rids);
	return EXIT_OK;
}

struct undecided {
	int64_t *ids;
	int n, cap;
	int contested;   /* left undecided: the image is proposed for another class too */
};

static int collect_undecided(void *ctx, const store_proposal *p)
{
	struct undecided *u = ctx;
	if (p->decision != STORE_UNDECIDED || strcmp(p->status, "proposed") != 0)
		return 0;
	if (p->rivals) {  /* which class is the image's is for a person to say */
		u->contested++;
		return 0;
	}
	if (u->n == u->cap) {
		int cap = u->cap ? 2 * u->cap : 256;
		int64_t *grown = realloc(u->ids, sizeof *grown * (size_t)cap);
		if (!grown)
			return NATADV_ENOMEM;
		u->ids = grown;
		u->cap = cap;
	}
	u->ids[u->n++] = p->id;
	return 0;
}

static int auto_accept(struct cli *c, const char *set, const char *reviewer)
{
	struct undecided u = {0};
	int64_t sel = 0;
	int rc = store_begin(c->st);
	if (!rc)
		rc = store_selection_current(c->st, set, &sel);
	if (!rc)
		rc = store_proposals_each(c->st, sel, collect_undecided, &u);
	for (int i = 0; !rc && i < u.n; i++) {
		store_review r = {.decision = STORE_ACCEPT, .proposal_id = u.ids[i], .set = set, .reviewer = reviewer,
		                  .mode = "auto"};
		int64_t rid;
		rc = store_review_add(c->st, c->run_id, &r, &rid);
		if (!rc)
			printf("%lld\t%lld\taccept\n", (long long)rid, (long long)u.ids[i]);
	}
	if (!rc)
		rc = store_commit(c->st);
	if (rc) {
		cli_error("auto-accept failed, nothing recorded: %s",
		          rc == NATADV_ENOMEM ? "out of memory" : store_errmsg(c->st));
		store_rollback(c->st);
		free(u.ids);
		return EXIT_FAIL;
	}
	if (!c->quiet)
		fprintf(stderr, "natadv: auto-accepted %d undecided proposal%s of selection %lld of '%s' as '%s'\n", u.n,
		        u.n == 1 ? "" : "s", (long long)sel, set, reviewer);
	if (u.contested && !c->quiet)
		cli_error("note: %d proposal%s left undecided: %s image is proposed for another class too (accept the "
		          "right one with 'natadv review --accept ID', see 'natadv review --list --set %s')", u.contested,
		          u.contested == 1 ? "" : "s", u.contested == 1 ? "its" : "their", set);
	free(u.ids);
	return EXIT_OK;
}

static int undo(struct cli *c, int64_t review_id, const char *reason, const char *reviewer)
{
	store_review r = {.decision = STORE_UNDO, .reason = reason, .reviewer = reviewer, .mode = "cli",
	                  .undoes = review_id};
	int64_t rid;
	int rc = store_review_add(c->st, c->run_id, &r, &rid);
	if (rc) {
		cli_error("cannot undo review %lld: %s", (long long)review_id, store_errmsg(c->st));
		return rc == NATADV_EFORMAT ? EXIT_USAGE : EXIT_FAIL;
	}
	printf("%lld\t%lld\tundo\n", (long long)rid, (long long)review_id);
	if (!c->quiet)
		fprintf(stderr, "natadv: review %lld undone (review %lld)\n", (long long)review_id, (long long)rid);
	return EXIT_OK;
}

struct lister {
	int state;           /* -1 for all, else a store_decision */
	int json;
	int64_t shown;
};

/* One --list --json line: the proposal and its decision in force. */
static json_t *proposal_json(const store_proposal *p)
{
	int decided = p->decision != STORE_UNDECIDED;
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(p->id));
	json_object_set_new(o, "selection_id", json_integer(p->selection_id));
	json_object_set_new(o, "set", jstr_new(p->set_name));
	json_object_set_new(o, "image", jstr_new(p->image_hash));
	json_object_set_new(o, "wnid", jstr_new(p->wnid));
	json_object_set_new(o, "pred_wnid", jstr_new(p->pred_wnid));
	json_object_set_new(o, "confidence", json_real(p->confidence));
	json_object_set_new(o, "true_prob", json_real(p->true_prob));
	json_object_set_new(o, "status", jstr_new(p->status));
	json_object_set_new(o, "duplicate_of", p->duplicate_of ? json_integer(p->duplicate_of) : json_null());
	json_object_set_new(o, "distance", p->duplicate_of ? json_integer(p->distance) : json_null());
	json_object_set_new(o, "decision", decided ? jstr_new(store_decision_name(p->decision)) : json_null());
	json_object_set_new(o, "review_id", p->review_id ? json_integer(p->review_id) : json_null());
	json_object_set_new(o, "reviewer", jstr_new(p->reviewer));
	json_object_set_new(o, "reason", jstr_new(p->reason));
	json_object_set_new(o, "mode", jstr_new(p->mode));
	json_object_set_new(o, "at", jstr_new(p->at));
	json_object_set_new(o, "source_wnid", jstr_new(p->source_wnid));  /* rule 'ood' only, else null */
	return o;
}

static int list_one(void *ctx, const store_proposal *p)
{
	struct lister *l = ctx;
	if (l->state >= 0 && (int)p->decision != l->state)
		return 0;
	l->shown++;
	if (l->json)
		return cli_json_put(proposal_json(p), JSON_REAL_PRECISION(6)) ? NATADV_ENOMEM : 0;
	printf("%lld\t%s\t%s\t%s\t%s\t%.4f\t%.4f\t%s\t%s\n", (long long)p->id, store_decision_name(p->decision),
	       !strcmp(p->status, "proposed") ? "proposed" : "near_duplicate", p->wnid, p->pred_wnid, p->confidence,
	       p->true_prob, p->image_hash, p->reviewer ? p->reviewer : "-");
	return 0;
}

static int list(struct cli *c, const char *set, int state, int json)
{
	int64_t sel;
	struct lister l = {state, json, 0};
	int rc = store_selection_current(c->st, set, &sel);
	if (!rc)
		rc = store_proposals_each(c->st, sel, list_one, &l);
	if (rc) {
		cli_error("%s", rc == NATADV_ENOMEM ? "out of memory" : store_errmsg(c->st));
		return EXIT_FAIL;
	}
	const char *what = state < 0 ? "" : state == STORE_UNDECIDED ? " undecided"
	                 : state == STORE_ACCEPT ? " accepted" : " rejected";
	if (!c->quiet && !json)
		fprintf(stderr, "natadv: %lld proposal%s of selection %lld of '%s'%s\n", (long long)l.shown,
		        l.shown == 1 ? "" : "s", (long long)sel, set, what);
	return EXIT_OK;
}

int cmd_review(struct cli *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--serve")) {
			optind = 0;
			return cmd_review_serve(c, argc, argv);
		}
	}
	enum { O_ACCEPT = 256, O_REJECT, O_AUTO, O_UNDO, O_LIST, O_REASON, O_REVIEWER, O_SET, O_STATE, O_JSON };
	static const struct option opts[] = {
		{"accept", no_argument, 0, O_ACCEPT},       {"reject", no_argument, 0, O_REJECT},
		{"auto-accept", no_argument, 0, O_AUTO},    {"undo", required_argument, 0, O_UNDO},
		{"list", no_argument, 0, O_LIST},           {"reason", required_argument, 0, O_REASON},
		{"reviewer", required_argument, 0, O_REVIEWER}, {"set", required_argument, 0, O_SET},
		{"state", required_argument, 0, O_STATE},   {"json", no_argument, 0, O_JSON},
		{"help", no_argument, 0, 'h'},              {0, 0, 0, 0},
	};
	enum action act = A_NONE;
	const char *reason = NULL, *reviewer = NULL, *set = NULL;
	int state = -1;
	long long undo_id = 0;
	int json = 0, ch, actions = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_ACCEPT: act = A_ACCEPT; actions++; break;
		case O_REJECT: act = A_REJECT; actions++; break;
		case O_AUTO: act = A_AUTO; actions++; break;
		case O_LIST: act = A_LIST; actions++; break;
		case O_UNDO:
			act = A_UNDO;
			actions++;
			if (cli_parse_int("review", "--undo", optarg, 1, INT64_MAX, &undo_id)) return EXIT_USAGE;
			break;
		case O_REASON: reason = optarg; break;
		case O_REVIEWER: reviewer = optarg; break;
		case O_SET: set = optarg; break;
		case O_STATE:
			if (!strcmp(optarg, "undecided"))
				state = STORE_UNDECIDED;
			else if (!strcmp(optarg, "accepted"))
				state = STORE_ACCEPT;
			else if (!strcmp(optarg, "rejected"))
				state = STORE_REJECT;
			else
				return cli_usage("review", "--state is undecided, accepted or rejected, not '%s'", optarg);
			break;
		case O_JSON: json = 1; break;
		case 'h': help(); return EXIT_OK;
		default: return cli_usage("review", "unknown option");
		}
	}
	if (actions != 1)
		return cli_usage("review", "give one of --accept, --reject, --auto-accept, --undo, --list or --serve");
	if (!reviewer)
		reviewer = cli_default_reviewer();
	if (!*reviewer)
		return cli_usage("review", "--reviewer wants a name");
	if ((state >= 0 || json) && act != A_LIST)
		return cli_usage("review", "--state and --json go with --list");
	if (act != A_ACCEPT && act != A_REJECT && optind < argc)
		return cli_usage("review", "unexpected argument '%s'", argv[optind]);
	switch (act) {
	case A_AUTO: return auto_accept(c, set ? set : "imagenet-a", reviewer);
	case A_UNDO: return undo(c, undo_id, reason, reviewer);
	case A_LIST: return list(c, set ? set : "imagenet-a", state, json);
	default: break;
	}
	if (optind >= argc)
		return cli_usage("review", "no proposal ids given");
	int64_t *ids = malloc(sizeof *ids * MAX_IDS);
	int n = 0, status = EXIT_USAGE;
	if (!ids) {
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	for (int i = optind; i < argc; i++)
		if (parse_ids(argv[i], ids, &n))
			goto out;
	status = decide(c, act == A_ACCEPT ? STORE_ACCEPT : STORE_REJECT, ids, n, set, reason, reviewer);
out:
	free(ids);
	return status;
}
