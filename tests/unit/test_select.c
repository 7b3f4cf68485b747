/* test_select.c — the select rule, the near-duplicate collapse, the eval
 * metrics against hand-computed values (including the original code's
 * skipped last calibration bin), and the store side on a real workspace:
 * add-set, recording selections, the selection in force, decidability. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "filter/eval.h"
#include "filter/select.h"
#include "store/store.h"
#include "store/store_internal.h" /* the handle's sqlite3, to watch its transactions */
#include "tests/t.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-6)

static void test_judge(void)
{
	const float logits[4] = {1, 2, 3, 0};
	const int all[4] = {0, 1, 2, 3};
	select_rule r = {0.5, 0.1};
	select_verdict v;
	/* softmax(1,2,3,0): e^3 / (e + e^2 + e^3 + 1) = 20.0855 / 31.1929 */
	select_judge(logits, all, 4, 0, &r, &v);
	T_EQ_INT(v.pred, 2);
	T_CHECK(NEAR(v.confidence, 0.6439142598879722));
	T_CHECK(NEAR(v.true_prob, 0.0871443187420326));
	T_EQ_INT(v.wrong, 1);
	T_EQ_INT(v.selected, 1);
	r.max_true_prob = 0.08;
	select_judge(logits, all, 4, 0, &r, &v);
	T_EQ_INT(v.selected, 0);
	r = (select_rule){0.65, 1};
	select_judge(logits, all, 4, 0, &r, &v);
	T_EQ_INT(v.selected, 0);
	/* the subset space {0, 2}: softmax over logits 1 and 3 only */
	const int sub[2] = {0, 2};
	r = (select_rule){0.5, 0.2};
	select_judge(logits, sub, 2, 0, &r, &v);
	T_EQ_INT(v.pred, 1);
	T_CHECK(NEAR(v.confidence, 0.8807970779778823));
	T_CHECK(NEAR(v.true_prob, 0.11920292202211755));
	T_EQ_INT(v.selected, 1);
	/* right is never selected, however confident */
	select_judge(logits, sub, 2, 1, &r, &v);
	T_EQ_INT(v.wrong, 0);
	T_EQ_INT(v.selected, 0);
	/* equal maxima: the first wins, so the tagged class at position 0 is right */
	const float tie[3] = {5, 5, 1};
	select_judge(tie, all, 3, 0, &r, &v);
	T_EQ_INT(v.pred, 0);
	T_EQ_INT(v.wrong, 0);
}

static void test_collapse(void)
{
	select_item it[5] = {
		{.cls = 0, .phash = 0x0, .confidence = 0.6},
		{.cls = 0, .phash = 0x3, .confidence = 0.9},     /* 2 bits from item 0 */
		{.cls = 0, .phash = 0xFF00, .confidence = 0.7},  /* 8 and 10 bits away */
		{.cls = 1, .phash = 0x0, .confidence = 0.5},     /* same hash, other class */
		{.cls = 0, .phash = 0x1, .confidence = 0.6},     /* 1 bit from 0 and 3 */
	};
	size_t kept = 0;
	T_EQ_INT(select_collapse(it, 5, 6, &kept), 0);
	T_EQ_INT(kept, 3);
	T_EQ_INT(it[1].dup_of, -1);
	T_EQ_INT(it[0].dup_of, 1);
	T_EQ_INT(it[0].distance, 2);
	T_EQ_INT(it[2].dup_of, -1);
	T_EQ_INT(it[3].dup_of, -1);
	T_EQ_INT(it[4].dup_of, 1);
	T_EQ_INT(it[4].distance, 1);
	/* no chaining: C is 3 bits from B but 6 from the kept A */
	select_item ch[3] = {
		{.cls = 7, .phash = 0x0, .confidence = 0.9},
		{.cls = 7, .phash = 0x7, .confidence = 0.8},
		{.cls = 7, .phash = 0x3F, .confidence = 0.7},
	};
	T_EQ_INT(select_collapse(ch, 3, 3, &kept), 0);
	T_EQ_INT(kept, 2);
	T_EQ_INT(ch[1].dup_of, 0);
	T_EQ_INT(ch[1].distance, 3);
	T_EQ_INT(ch[2].dup_of, -1);
	/* equal confidence: the lower index is kept; distance 0 still collapses */
	select_item eq[2] = {{.cls = 0, .phash = 42, .confidence = 0.5}, {.cls = 0, .phash = 42, .confidence = 0.5}};
	T_EQ_INT(select_collapse(eq, 2, 0, &kept), 0);
	T_EQ_INT(eq[0].dup_of, -1);
	T_EQ_INT(eq[1].dup_of, 0);
	T_EQ_INT(select_collapse(eq, 2, 33, &kept), NATADV_EINVAL);
	T_EQ_INT(select_collapse(NULL, 0, 6, &kept), 0);
	T_EQ_INT(kept, 0);
}

static void test_accuracy_aurra(void)
{
	const int c4[4] = {1, 0, 1, 0};
	T_CHECK(NEAR(eval_accuracy(c4, 4), 0.5));
	T_CHECK(NEAR(eval_accuracy(c4, 0), 0.0));
	/* by confidence 0.9 0.8 0.7 0.6 (given shuffled): correct 1 0 1 0,
	 * prefix accuracies 1, 1/2, 2/3, 1/2, mean 2/3 */
	const double conf[4] = {0.7, 0.9, 0.6, 0.8};
	const int cor[4] = {1, 1, 0, 0};
	double a;
	T_EQ_INT(eval_aurra(conf, cor, 4, &a), 0);
	T_CHECK(NEAR(a, 2.0 / 3.0));
	/* ties: the later index comes first (reversed stable argsort) */
	const double tc[2] = {0.5, 0.5};
	const int tk[2] = {1, 0};
	T_EQ_INT(eval_aurra(tc, tk, 2, &a), 0);
	T_CHECK(NEAR(a, 0.25));
	T_EQ_INT(eval_aurra(tc, tk, 0, &a), 0);
	T_CHECK(isnan(a));
}

/* Fills n examples: the lowest-confidence 100 at 0.3 with 10 correct, the
 * next 100 at 0.6 with 50 correct, the rest at 0.9 all wrong; shuffled. */
static void calib_data(size_t n, double *conf, int *cor)
{
	for (size_t i = 0; i < n; i++) {
		size_t j = (i * 7919) % n; /* a permutation: 7919 is prime and n < 7919 */
		if (i < 100) {
			conf[j] = 0.3;
			cor[j] = i < 10;
		} else if (i < 200) {
			conf[j] = 0.6;
			cor[j] = i < 150;
		} else {
			conf[j] = 0.9;
			cor[j] = 0;
		}
	}
}

static void test_calib(void)
{
	double conf[400];
	int cor[400];
	double e;
	/* n = 300: bins [0,100) [100,200) [200,300); the last is left out as in the
	 * original: (100/300)(0.3-0.1)^2 + (100/300)(0.6-0.5)^2 = 0.05/3 */
	calib_data(300, conf, cor);
	T_EQ_INT(eval_calib_rms(conf, cor, 300, 100, &e), 0);
	T_CHECK(NEAR(e, sqrt(0.05 / 3)));
	/* n = 399: three bins, the last [200,399) extended, still left out */
	calib_data(399, conf, cor);
	T_EQ_INT(eval_calib_rms(conf, cor, 399, 100, &e), 0);
	T_CHECK(NEAR(e, sqrt(100.0 / 399 * 0.04 + 100.0 / 399 * 0.01)));
	/* n = 250: bins [0,100) [100,250): only the first counts */
	calib_data(250, conf, cor);
	T_EQ_INT(eval_calib_rms(conf, cor, 250, 100, &e), 0);
	T_CHECK(NEAR(e, sqrt(100.0 / 250 * 0.04)));
	/* 100 <= n < 200: one bin, left out: exactly 0 */
	calib_data(150, conf, cor);
	T_EQ_INT(eval_calib_rms(conf, cor, 150, 100, &e), 0);
	T_CHECK(e == 0.0);
	/* n < 100: the original raises IndexError; here EINVAL and NAN */
	T_EQ_INT(eval_calib_rms(conf, cor, 99, 100, &e), NATADV_EINVAL);
	T_CHECK(isnan(e));
	/* a smaller beta: 4 examples, beta 1: bins of one, the last left out */
	const double c4[4] = {0.9, 0.2, 0.4, 0.8};
	const int k4[4] = {1, 0, 1, 0};
	/* sorted: 0.2/0, 0.4/1, 0.8/0, (0.9/1 left out): (0.04 + 0.36 + 0.64) / 4 */
	T_EQ_INT(eval_calib_rms(c4, k4, 4, 1, &e), 0);
	T_CHECK(NEAR(e, sqrt(1.04 / 4)));
}

/* ---- the store side, on a real workspace ---- */

static char dir[256];

static int count_members(store *s, const char *set)
{
	store_member *m = NULL;
	int n = -1;
	if (store_set_members(s, set, &m, &n) != 0)
		n = -1;
	free(m);
	return n;
}

static void test_add_set(void)
{
	char err[512];
	store *s = NULL;
	T_EQ_INT(store_create(dir, &s, err, sizeof err), 0);
	if (!s)
		return;
	const char *bad_wnid[] = {"n99999999"};
	T_EQ_INT(store_set_add(s, 0, "x", "1", "imagenet-a", bad_wnid, 1), NATADV_EINVAL);
	T_CHECK(strstr(store_errmsg(s), "unknown wnid 'n99999999'") != NULL);
	const char *in_a[] = {"n01498041"}; /* stingray, already in imagenet-a */
	T_EQ_INT(store_set_add(s, 0, "x", "1", "imagenet-a", in_a, 1), NATADV_EINVAL);
	T_CHECK(strstr(store_errmsg(s), "already a class of 'imagenet-a'") != NULL);
	const char *twice[] = {"n01440764", "n01440764"};
	T_EQ_INT(store_set_add(s, 0, "x", "1", "imagenet-a", twice, 2), NATADV_EINVAL);
	T_CHECK(strstr(store_errmsg(s), "given twice") != NULL);
	const char *tench[] = {"n01440764", "n01443537"};
	T_EQ_INT(store_set_add(s, 0, "imagenet-a", "1", "imagenet-a", tench, 2), NATADV_EEXIST);
	T_EQ_INT(store_set_add(s, 0, "x", "1", "nope", tench, 2), NATADV_ENOTFOUND);
	T_EQ_INT(store_set_add(s, 0, "../x", "1", "imagenet-a", tench, 2), NATADV_EINVAL);
	T_EQ_INT(store_set_add(s, 0, "x", "1", NULL, NULL, 0), NATADV_EINVAL);
	/* a known class without a 1K logit (the built-in lists have none) */
	char db[400];
	snprintf(db, sizeof db, "%s/natadv.db", dir);
	sqlite3 *raw;
	T_EQ_INT(sqlite3_open(db, &raw), SQLITE_OK);
	T_EQ_INT(sqlite3_exec(raw, "INSERT INTO classes(wnid, index_1k, names) VALUES('n09999999', NULL, 'outside')",
	                      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	const char *ood[] = {"n09999999"};
	T_EQ_INT(store_set_add(s, 0, "x", "1", NULL, ood, 1), NATADV_EINVAL);
	T_CHECK(strstr(store_errmsg(s), "not an ImageNet-1K class") != NULL);
	T_EQ_INT(count_members(s, "x"), -1);
	/* a good one: members in sorted wnid order, tench and goldfish first */
	const char *add[] = {"n01443537", "n01440764"};
	T_EQ_INT(store_set_add(s, 0, "a202", "2", "imagenet-a", add, 2), 0);
	store_member *m = NULL;
	int n = 0;
	T_EQ_INT(store_set_members(s, "a202", &m, &n), 0);
	T_EQ_INT(n, 202);
	int sorted = 1;
	for (int i = 1; i < n; i++)
		sorted &= strcmp(m[i - 1].wnid, m[i].wnid) < 0 && m[i].set_index == i;
	T_CHECK(sorted);
	T_EQ_STR(m[0].wnid, "n01440764");
	T_EQ_INT(m[0].index_1k, 0);
	T_EQ_STR(m[0].name, "tench");
	T_EQ_STR(m[2].wnid, "n01498041");
	free(m);
	/* imagenet-a's own labels already follow sorted wnids */
	T_EQ_INT(store_set_members(s, "imagenet-a", &m, &n), 0);
	sorted = n == 200;
	for (int i = 1; i < n; i++)
		sorted &= strcmp(m[i - 1].wnid, m[i].wnid) < 0 && m[i].set_index == i;
	T_CHECK(sorted);
	free(m);
	/* from no set */
	T_EQ_INT(store_set_add(s, 0, "two", "1", NULL, add, 2), 0);
	T_EQ_INT(count_members(s, "two"), 2);
	store_close(s);
}

static int collect_props(void *ctx, const store_proposal *p)
{
	char *out = ctx;
	size_t len = strlen(out);
	snprintf(out + len, 512 - len, "%lld:%s:%s:%s;", (long long)p->id, p->status,
	         p->decision ? store_decision_name(p->decision) : "-", p->duplicate_of ? "dup" : "kept");
	return 0;
}

static int collect_rivals(void *ctx, const store_proposal *p)
{
	char *out = ctx;
	size_t len = strlen(out);
	snprintf(out + len, 512 - len, "%c/%s:%d;", p->image_hash[0], p->wnid, p->rivals);
	return 0;
}

static void test_selections(void)
{
	char err[512], db[400];
	store *s = NULL;
	T_EQ_INT(store_open(dir, &s, err, sizeof err), 0);
	if (!s)
		return;
	snprintf(db, sizeof db, "%s/natadv.db", dir);
	sqlite3 *raw;
	T_EQ_INT(sqlite3_open(db, &raw), SQLITE_OK);
	T_EQ_INT(sqlite3_exec(raw,
		"INSERT INTO images(hash, sha256, bytes, format, width, height, phash, first_seen) VALUES"
		"('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'x', 1, 'jpeg', 64, 64, 0, 't'),"
		"('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'y', 1, 'jpeg', 64, 64, 1, 't');"
		"INSERT INTO models(id, name, arch, classes, bytes, preprocessing, added_at) "
		"VALUES('m1', 'tiny', 'resnet', 10, 1, 'p', 't')", NULL, NULL, NULL), SQLITE_OK);
	int64_t cur = 0, sel1 = 0, sel2 = 0;
	T_EQ_INT(store_selection_current(s, "two", &cur), NATADV_ENOTFOUND);
	store_selection sel = {.set_name = "two", .model_id = "m1", .rule = "misclassified", .params = "{}"};
	store_proposal_new p[2] = {
		{.image_hash = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", .wnid = "n01440764", .pred_wnid = "n01443537",
		 .confidence = 0.8, .true_prob = 0.05, .dup_of = 1, .distance = 1},
		{.image_hash = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", .wnid = "n01440764", .pred_wnid = "n01443537",
		 .confidence = 0.9, .true_prob = 0.01, .dup_of = -1},
	};
	/* a duplicate naming a duplicate is refused and leaves nothing */
	p[1].dup_of = 0;
	T_EQ_INT(store_selection_add(s, &sel, p, 2, &sel1), NATADV_EINVAL);
	T_EQ_INT(store_selection_current(s, "two", &cur), NATADV_ENOTFOUND);
	p[1].dup_of = -1;
	T_EQ_INT(store_selection_add(s, &sel, p, 2, &sel1), 0);
	T_EQ_INT(store_selection_current(s, "two", &cur), 0);
	T_EQ_INT(cur, sel1);
	char got[512] = "";
	T_EQ_INT(store_proposals_each(s, sel1, collect_props, got), 0);
	/* the kept one is written first so the duplicate can name it */
	T_EQ_STR(got, "1:proposed:-:kept;2:near_duplicate:-:dup;");
	/* the review rule (store_review_add): of the set asked, kept, in force */
	int64_t rid = 0;
	store_review rv = {.decision = STORE_ACCEPT, .proposal_id = 1, .set = "imagenet-a", .reviewer = "t",
	                   .mode = "cli"};
	T_EQ_INT(store_review_add(s, 0, &rv, &rid), NATADV_ENOTFOUND);
	T_CHECK(strstr(store_errmsg(s), "belongs to class set 'two', not 'imagenet-a'") != NULL);
	rv.proposal_id = 2;
	rv.set = NULL;
	T_EQ_INT(store_review_add(s, 0, &rv, &rid), NATADV_ENOTFOUND);
	T_CHECK(strstr(store_errmsg(s), "near-duplicate collapsed into proposal 1") != NULL);
	rv.proposal_id = 99;
	T_EQ_INT(store_review_add(s, 0, &rv, &rid), NATADV_ENOTFOUND);
	T_CHECK(strstr(store_errmsg(s), "proposal 99 does not exist") != NULL);
	rv.proposal_id = 1;
	rv.set = "two";
	T_EQ_INT(store_review_add(s, 0, &rv, &rid), 0);
	/* a second selection supersedes the first; the decision carries over */
	T_EQ_INT(store_selection_add(s, &sel, &p[1], 1, &sel2), 0);
	T_CHECK(sel2 > sel1);
	T_EQ_INT(store_selection_current(s, "two", &cur), 0);
	T_EQ_INT(cur, sel2);
	T_EQ_INT(store_review_add(s, 0, &rv, &rid), NATADV_ENOTFOUND);
	T_CHECK(strstr(store_errmsg(s), "superseded by selection") != NULL);
	got[0] = '\0';
	T_EQ_INT(store_proposals_each(s, sel2, collect_props, got), 0);
	T_EQ_STR(got, "3:proposed:accept:kept;");
	/* rivals: the same image kept for two classes, each counts the other until
	 * one is rejected (auto-accept leaves such proposals to a person) */
	int64_t sel3 = 0;
	store_proposal_new p3[3] = {
		{.image_hash = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", .wnid = "n01440764", .pred_wnid = "n01484850",
		 .confidence = 0.9, .true_prob = 0.01, .dup_of = -1},
		{.image_hash = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", .wnid = "n01443537", .pred_wnid = "n01484850",
		 .confidence = 0.9, .true_prob = 0.01, .dup_of = -1},
		{.image_hash = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", .wnid = "n01443537", .pred_wnid = "n01484850",
		 .confidence = 0.8, .true_prob = 0.01, .dup_of = -1},
	};
	T_EQ_INT(store_selection_add(s, &sel, p3, 3, &sel3), 0);
	got[0] = '\0';
	T_EQ_INT(store_proposals_each(s, sel3, collect_rivals, got), 0);
	T_EQ_STR(got, "a/n01440764:1;a/n01443537:1;b/n01443537:0;");
	store_review rj = {.decision = STORE_REJECT, .proposal_id = 5, .reason = "r", .reviewer = "t", .mode = "cli"};
	T_EQ_INT(store_review_add(s, 0, &rj, &rid), 0);
	got[0] = '\0';
	T_EQ_INT(store_proposals_each(s, sel3, collect_rivals, got), 0);
	T_EQ_STR(got, "a/n01440764:0;a/n01443537:1;b/n01443537:0;");
	/* an image belongs to one class: accepting it for a second class of the
	 * set is refused, and so is an undo that would bring a second accept back */
	store_review a5 = {.decision = STORE_ACCEPT, .proposal_id = 5, .reviewer = "t", .mode = "cli"};
	T_EQ_INT(store_review_add(s, 0, &a5, &rid), NATADV_EEXIST);
	T_CHECK(strstr(store_errmsg(s), "is accepted for class 'n01440764' of 'two' already") != NULL);
	store_review r4 = {.decision = STORE_REJECT, .proposal_id = 4, .reason = "r", .reviewer = "t", .mode = "cli"};
	int64_t r4id = 0, a5id = 0;
	T_EQ_INT(store_review_add(s, 0, &r4, &r4id), 0);
	T_EQ_INT(store_review_add(s, 0, &a5, &a5id), 0);
	store_review un = {.decision = STORE_UNDO, .reviewer = "t", .mode = "cli", .undoes = r4id};
	T_EQ_INT(store_review_add(s, 0, &un, &rid), NATADV_EEXIST);
	T_CHECK(strstr(store_errmsg(s), "the undo would bring back an accept") != NULL);
	un.undoes = a5id;
	T_EQ_INT(store_review_add(s, 0, &un, &rid), 0);
	un.undoes = r4id;
	T_EQ_INT(store_review_add(s, 0, &un, &rid), 0);
	T_EQ_INT(store_review_add(s, 0, &un, &rid), NATADV_ENOTFOUND);
	got[0] = '\0';
	T_EQ_INT(store_proposals_each(s, sel3, collect_props, got), 0);
	T_EQ_STR(got, "4:proposed:accept:kept;5:proposed:reject:kept;6:proposed:-:kept;");
	/* logits: a stored score reads back; an unscored image is ENOTFOUND */
	float lg[10] = {0}, back[10];
	lg[3] = 2.5f;
	sqlite3_stmt *st;
	T_EQ_INT(sqlite3_prepare_v2(raw, "INSERT INTO scores(image_hash, model_id, status, logits, scored_at) "
	                            "VALUES('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'm1', 'scored', ?, 't')", -1, &st, NULL),
	         SQLITE_OK);
	sqlite3_bind_blob(st, 1, lg, sizeof lg, SQLITE_STATIC);
	T_EQ_INT(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	T_EQ_INT(store_score_logits(s, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "m1", back, 10), 0);
	T_CHECK(back[3] == 2.5f);
	T_EQ_INT(store_score_logits(s, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "m1", back, 9), NATADV_EFORMAT);
	T_EQ_INT(store_score_logits(s, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "m1", back, 10), NATADV_ENOTFOUND);
	T_EQ_INT(store_integrity_check(s), 0);
	sqlite3_close(raw);
	store_close(s);
}

/* The busy handler of the store under test: the first time it waits for the
 * write lock, the other handle commits (as the page would while the command
 * line decides), so what follows sees that commit. */
struct other_writer {
	store *other;
	int calls;
};

static int commit_other(void *ctx, int n)
{
	struct other_writer *w = ctx;
	w->calls++;
	if (n == 0)
		store_commit(w->other);
	return n < 100;
}

/* store_review_add checks and appends under one write transaction: its own
 * (none left open after) or a savepoint in the caller's. */
static void test_review_atomic(void)
{
	char err[512];
	store *s = NULL, *page = NULL;
	T_EQ_INT(store_open(dir, &s, err, sizeof err), 0);
	T_EQ_INT(store_open(dir, &page, err, sizeof err), 0);
	if (!s || !page)
		goto out;
	store_selection sel = {.set_name = "two", .model_id = "m1", .rule = "misclassified", .params = "{}"};
	store_proposal_new p[2] = {
		{.image_hash = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", .wnid = "n01440764", .pred_wnid = "n01484850",
		 .confidence = 0.9, .true_prob = 0.01, .dup_of = -1},
		{.image_hash = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", .wnid = "n01443537", .pred_wnid = "n01484850",
		 .confidence = 0.8, .true_prob = 0.01, .dup_of = -1},
	};
	int64_t sel4 = 0, rid = 0;
	T_EQ_INT(store_selection_add(s, &sel, p, 2, &sel4), 0);
	char got[512] = "";
	T_EQ_INT(store_proposals_each(s, sel4, collect_props, got), 0);
	T_EQ_STR(got, "7:proposed:-:kept;8:proposed:-:kept;");
	/* the page holds the write lock with an accept of image b for one class
	 * when the command line accepts it for the other: the command line must
	 * wait, then see that accept and refuse, not check before and append after */
	store_review web = {.decision = STORE_ACCEPT, .proposal_id = 7, .set = "two", .reviewer = "p", .mode = "web"};
	store_review cli = {.decision = STORE_ACCEPT, .proposal_id = 8, .set = "two", .reviewer = "c", .mode = "cli"};
	T_EQ_INT(store_begin(page), 0);
	T_EQ_INT(store_review_add(page, 0, &web, &rid), 0);
	T_EQ_INT(sqlite3_get_autocommit(page->db), 0);
	struct other_writer w = {.other = page};
	sqlite3_busy_handler(s->db, commit_other, &w);
	T_EQ_INT(store_review_add(s, 0, &cli, &rid), NATADV_EEXIST);
	T_CHECK(strstr(store_errmsg(s), "is accepted for class 'n01440764' of 'two' already") != NULL);
	T_CHECK(w.calls > 0);
	sqlite3_busy_timeout(s->db, 10000);
	T_EQ_INT(sqlite3_get_autocommit(page->db), 1);
	got[0] = '\0';
	T_EQ_INT(store_proposals_each(s, sel4, collect_props, got), 0);
	T_EQ_STR(got, "7:proposed:accept:kept;8:proposed:-:kept;");
	/* on its own: no transaction left open, after a success or a refusal */
	T_EQ_INT(store_review_add(s, 0, &cli, &rid), NATADV_EEXIST);
	T_EQ_INT(sqlite3_get_autocommit(s->db), 1);
	store_review rj = {.decision = STORE_REJECT, .proposal_id = 8, .reason = "r", .reviewer = "c", .mode = "cli"};
	T_EQ_INT(store_review_add(s, 0, &rj, &rid), 0);
	T_EQ_INT(sqlite3_get_autocommit(s->db), 1);
	/* in the caller's transaction: a refusal leaves it open with what it holds */
	store_review un = {.decision = STORE_UNDO, .reviewer = "c", .mode = "cli", .undoes = rid};
	T_EQ_INT(store_begin(s), 0);
	T_EQ_INT(store_review_add(s, 0, &un, &rid), 0);
	T_EQ_INT(store_review_add(s, 0, &cli, &rid), NATADV_EEXIST);
	T_EQ_INT(sqlite3_get_autocommit(s->db), 0);
	got[0] = '\0';
	T_EQ_INT(store_proposals_each(s, sel4, collect_props, got), 0);
	T_EQ_STR(got, "7:proposed:accept:kept;8:proposed:-:kept;");
	store_rollback(s);
	got[0] = '\0';
	T_EQ_INT(store_proposals_each(s, sel4, collect_props, got), 0);
	T_EQ_STR(got, "7:proposed:accept:kept;8:proposed:reject:kept;");
out:
	store_close(page);
	store_close(s);
}

/* An undo names the set it is for, like a decision: a review of another set
 * is not found (the page of one set cannot undo another's). */
static void test_review_undo_set(void)
{
	char err[512];
	store *s = NULL;
	T_EQ_INT(store_open(dir, &s, err, sizeof err), 0);
	if (!s)
		return;
	int64_t rid = 0, uid = 0;
	store_review rj = {.decision = STORE_REJECT, .proposal_id = 8, .set = "two", .reason = "again",
	                   .reviewer = "c", .mode = "cli"};
	T_EQ_INT(store_review_add(s, 0, &rj, &rid), 0);
	store_review un = {.decision = STORE_UNDO, .set = "a202", .reviewer = "p", .mode = "web", .undoes = rid};
	T_EQ_INT(store_review_add(s, 0, &un, &uid), NATADV_ENOTFOUND);
	T_CHECK(strstr(store_errmsg(s), "belongs to class set 'two', not 'a202'") != NULL);
	un.set = "two";
	T_EQ_INT(store_review_add(s, 0, &un, &uid), 0);
	T_CHECK(uid > rid);
	store_close(s);
}

/* What a reason must be is the store's rule too, for every front end: a
 * rejection needs one; one given is not empty and at most STORE_REASON_MAX
 * bytes (NATADV_EFORMAT, checked before anything else). */
static void test_review_reason(void)
{
	char err[512], longer[STORE_REASON_MAX + 2];
	store *s = NULL;
	T_EQ_INT(store_open(dir, &s, err, sizeof err), 0);
	if (!s)
		return;
	int64_t rid = 0;
	store_review rj = {.decision = STORE_REJECT, .proposal_id = 8, .set = "two", .reviewer = "c", .mode = "web"};
	T_EQ_INT(store_review_add(s, 0, &rj, &rid), NATADV_EFORMAT);
	T_CHECK(strstr(store_errmsg(s), "a rejection needs a reason") != NULL);
	rj.proposal_id = 999; /* the reason is checked first */
	T_EQ_INT(store_review_add(s, 0, &rj, &rid), NATADV_EFORMAT);
	rj.proposal_id = 8;
	rj.reason = "";
	T_EQ_INT(store_review_add(s, 0, &rj, &rid), NATADV_EFORMAT);
	T_CHECK(strstr(store_errmsg(s), "at most 200 bytes") != NULL);
	memset(longer, 'x', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	rj.reason = longer;
	T_EQ_INT(store_review_add(s, 0, &rj, &rid), NATADV_EFORMAT);
	longer[STORE_REASON_MAX] = '\0';
	T_EQ_INT(store_review_add(s, 0, &rj, &rid), 0);
	store_review un = {.decision = STORE_UNDO, .reason = "", .reviewer = "c", .mode = "cli", .undoes = rid};
	T_EQ_INT(store_review_add(s, 0, &un, &rid), NATADV_EFORMAT);
	un.reason = NULL;
	T_EQ_INT(store_review_add(s, 0, &un, &rid), 0);
	store_close(s);
}

int main(void)
{
	T_RUN(test_judge);
	T_RUN(test_collapse);
	T_RUN(test_accuracy_aurra);
	T_RUN(test_calib);
	snprintf(dir, sizeof dir, "/tmp/natadv-test-select.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	T_RUN(test_add_set);
	T_RUN(test_selections);
	T_RUN(test_review_atomic);
	T_RUN(test_review_undo_set);
	T_RUN(test_review_reason);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return T_DONE();
}
