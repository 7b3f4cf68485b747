/* select.h — the adversarial filter (`natadv select`): the rule that keeps
 * what a classifier gets confidently wrong and the near-duplicate collapse,
 * as pure functions over arrays, and select_run, which applies them to a
 * workspace's stored logits and records one selection. */
#ifndef NATADV_SELECT_H
#define NATADV_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Which logits an image is judged on. */
enum select_space {
	SELECT_SPACE_SUBSET = 0,  /* the set's classes only (as ImageNet-A is evaluated) */
	SELECT_SPACE_1K = 1,      /* every output of the model */
};

typedef struct select_rule {
	double min_confidence;    /* the predicted class's probability is at least this */
	double max_true_prob;     /* the tagged class's probability is at most this */
} select_rule;

typedef struct select_verdict {
	int pred;                 /* argmax position within the space (first of equal maxima) */
	double confidence;        /* its probability in the softmax over the space */
	double true_prob;         /* the tagged class's probability there */
	int wrong;                /* pred != the tagged class's position */
	int selected;             /* wrong, confidence >= min_confidence, true_prob <= max_true_prob */
} select_verdict;

/* Judges one image tagged with the class at position true_pos of the space,
 * whose logit indices are space[0..nspace): softmax over those logits only
 * (in double), argmax, the two probabilities and the rule. true_pos -1 is an
 * image of a class outside the space (out of distribution): true_prob 0,
 * always wrong, so selected iff its maximum softmax probability (MSP) is at
 * least min_confidence. */
void select_judge(const float *logits, const int *space, int nspace, int true_pos,
                  const select_rule *r, select_verdict *v);

typedef struct select_item {
	int cls;                  /* items are compared within one class key only */
	uint64_t phash;           /* 64-bit dHash of the image */
	double confidence;        /* the higher one is kept */
	long dup_of;              /* out: -1 when kept, else the index of the kept item */
	int distance;             /* out: Hamming distance to it (0 when kept) */
} select_item;

/* Collapses near-duplicates within each class: visiting a class's items by
 * confidence (highest first, then by index), an item within max_dist bits of
 * an item already kept becomes its duplicate (the nearest such; among equals
 * the higher-confidence one), otherwise it is kept. So every duplicate is
 * within max_dist of the item it names, and the best of each cluster is kept.
 * Fills dup_of and distance of items[0..n); *kept gets the number kept (may
 * be NULL). Returns 0, NATADV_EINVAL (max_dist outside 0..32) or NATADV_ENOMEM. */
int select_collapse(select_item *items, size_t n, int max_dist, size_t *kept);

typedef struct select_opts {
	const char *set;          /* class set name ("imagenet-a"); with ood_from, the target set ("imagenet-o") */
	const char *ood_from;     /* NULL, or an out-of-distribution source set (rule 'ood'): its tags are
	                             judged over the set's classes and proposed under the predicted class */
	const char *model;        /* model name or id */
	int space;                /* enum select_space */
	select_rule rule;
	int near_distance;        /* 0..32 */
	const char *const *also;  /* models that must also get it wrong (names or ids); with ood_from,
	                             that must also give it an MSP of at least min_confidence */
	int nalso;
	int64_t run_id;
} select_opts;

typedef struct select_class_stats {
	char wnid[16];
	char name[64];            /* first WordNet name */
	int scorable;             /* 0 when outside ImageNet-1K or the model's outputs */
	int64_t tags, candidates, wrong, selected, proposed, near_duplicates;
} select_class_stats;

typedef struct select_result {
	int64_t selection_id;
	char model_id[65];
	int outputs;              /* the model's outputs */
	int nspace;               /* classes in the space */
	int outside_1k;           /* classes of the set skipped: not in ImageNet-1K */
	int outside_outputs;      /* classes of the set skipped: beyond the model's outputs */
	int64_t tags;             /* distinct (image, class) tags of the set's classes */
	int64_t skipped_class;    /* of which tagged with a skipped class */
	int64_t unscored;         /* of which the model has no score for */
	int64_t unscorable;       /* of which the model could not score */
	int64_t candidates;       /* judged by the rule */
	int64_t wrong;            /* argmax != tagged class */
	int64_t selected;         /* the rule holds */
	int64_t also_unscored;    /* selected, dropped: an --also-wrong-for model has no score */
	int64_t also_right;       /* selected, dropped: an --also-wrong-for model gets it right */
	int64_t proposals;        /* kept ('proposed') */
	int64_t near_duplicates;  /* collapsed into another proposal */
	select_class_stats *classes;  /* per class of the set (with ood_from: of the source set), in set order */
	int nclasses;
} select_result;

/* Runs the rule of o over every (image, class) tag of the set's classes that
 * the model scored, recomputing probabilities from the stored logits, drops
 * what an --also-wrong-for model gets right or did not score, collapses
 * near-duplicates per class, and records the selection, its parameters and
 * its proposals in one transaction (so it is in force only once complete).
 * With o->ood_from (rule 'ood'), the tags are those of the source set's
 * classes, judged by their MSP over the set's classes; a proposal's class is
 * the predicted one (near-duplicates collapse per predicted class) and its
 * source the tagged class; an image tagged with several source classes is
 * proposed once, under the first by wnid. Records the selection, its parameters and
 * its proposals in one transaction (so it is in force only once complete).
 * Fills *r (release with select_result_release). Returns 0 or a NATADV code
 * with err saying why; nothing is recorded then. */
int select_run(store *s, const select_opts *o, select_result *r, char *err, size_t errlen);
/* Frees what select_run allocated in r; accepts a zeroed struct. */
void select_result_release(select_result *r);

#endif
