/* fuzz_discover.c — libFuzzer target for the discover parsers. The first
 * byte picks the source (openverse, inaturalist, wikimedia, flickr); the rest
 * is its response body. The same bytes also go through the HTML stripper, the
 * licence normaliser and, as a continuation token, Wikimedia's URL builder. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "crawler/discover.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const disc_source *const src[] = {&disc_openverse, &disc_inaturalist, &disc_wikimedia, &disc_flickr};
	char err[512], norm[64];
	disc_page p = {0};
	disc_req r = {"q", 0, NULL, 20, DISC_LIC_DEFAULT, NULL};
	buf b;
	if (size < 1)
		return 0;
	const disc_source *s = src[data[0] % 4];
	int rc = s->parse((const char *)data + 1, size - 1, &r, &p, err, sizeof err);
	if (rc != 0 && rc != NATADV_EFORMAT)
		abort(); /* nothing but bad content can fail here (no memory pressure in a fuzz run) */
	if (rc == NATADV_EFORMAT && !err[0])
		abort(); /* every refusal says why */
	/* a refused page may hold a half-read item; only a parsed one is checked */
	for (size_t i = 0; rc == 0 && i < p.n; i++) {
		if (!p.items[i].source_id)
			abort();
		const char *lic = p.items[i].license;
		const char *again = lic ? disc_license_norm(lic, NULL, norm, sizeof norm) : NULL;
		/* a normalised licence normalises to itself (Flickr's two own ones aside) */
		if (lic && (again ? strcmp(again, lic) != 0
		                  : strncmp(lic, "flickr-", 7) != 0 && strcmp(lic, "us-government-work") != 0))
			abort();
	}
	disc_page_release(&p);

	char *text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	buf_init(&b, 1 << 16);
	rc = disc_strip_html(text, &b);
	if (rc != 0 && rc != NATADV_ETOOBIG)
		abort();
	buf_release(&b);
	disc_license_norm(text, data[0] & 1 ? "4.0" : NULL, norm, sizeof norm);
	buf_init(&b, 1 << 20);
	r.page = text;
	disc_wikimedia.build("https://commons.wikimedia.org", &r, &b);
	buf_release(&b);
	free(text);
	return 0;
}
