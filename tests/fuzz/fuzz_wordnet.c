/* fuzz_wordnet.c — libFuzzer target for the data.noun reader and the rule:
 * any input is parsed; when it parses, the first synsets are marked as
 * in-distribution and every synset is judged and looked up. The answers
 * must be consistent (an in-distribution synset overlaps itself, a usable
 * one nothing), never a crash or a hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wordnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wordnet *wn = NULL;
	char err[256];
	if (wordnet_parse((const char *)data, size, "fuzz.noun", &wn, err, sizeof err) != 0) {
		if (wn)
			abort();
		return 0;
	}
	int n = wordnet_count(wn), k = n < 3 ? n : 3;
	const char *in[3];
	for (int i = 0; i < k; i++)
		in[i] = wordnet_wnid(wn, i);
	if (wordnet_mark_in_dist(wn, in, k, err, sizeof err) != 0)
		abort();
	for (int i = 0; i < n; i++) {
		int o = -2;
		wordnet_relation r = wordnet_judge(wn, i, &o);
		if (wordnet_find(wn, wordnet_wnid(wn, i)) != i || !wordnet_names(wn, i))
			abort();
		if ((r == WORDNET_USABLE) != (o == -1) || (r == WORDNET_IN_DIST && o != i) || (i < k && r != WORDNET_IN_DIST))
			abort();
		if (wordnet_is_under(wn, i, i) != 1 || wordnet_is_under(wn, i, 0) > 1)
			abort();
	}
	wordnet_free(wn);
	return 0;
}
