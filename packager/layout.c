/* layout.c — the text files of a release: README.txt as the original
 * ImageNet-A has it, one manifest.jsonl line per image with its keys in a
 * fixed order, and the content identity that decides the release time. */
#include "packager/packager.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/jstr.h"
#include "common/fmt.h"
#include "common/sha256.h"
#include "packager/pkg_internal.h"

const char *pkg_folder_name(const char *set)
{
	return strcmp(set, "imagenet-a") == 0 ? "imagenet-a" : set;
}

void pkg_first_name(const char *names, char *out, size_t n)
{
	if (!n)
		return;
	const char *comma = names ? strchr(names, ',') : NULL;
	size_t len = names ? (comma ? (size_t)(comma - names) : strlen(names)) : 0;
	if (len >= n)
		len = n - 1;
	if (len)
		memcpy(out, names, len);
	out[len] = '\0';
}

const char pkg_citation[] =
	"@inproceedings{hendrycks2021nae,\n"
	"  title={Natural Adversarial Examples},\n"
	"  author={Dan Hendrycks and Kevin Zhao and Steven Basart and Jacob Steinhardt and Dawn Song},\n"
	"  booktitle={Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},\n"
	"  pages={15262--15271},\n"
	"  year={2021}\n"
	"}\n";

int pkg_readme_write(buf *out, const pkg_readme *r)
{
	char n[32], k[32];
	int rc = 0;
	int imagenet_a = strcmp(r->set, "imagenet-a") == 0;
	fmt_thousands(r->images, n);
	fmt_thousands((int64_t)r->nclasses, k);
	const char *name = imagenet_a ? "ImageNet-A" : r->ood && !strcmp(r->set, "imagenet-o") ? "ImageNet-O" : r->set;
	if (r->ood)
		rc |= buf_printf(out, "The %s dataset contains %s out-of-distribution examples.\n", name, n);
	else
		rc |= buf_printf(out, "The %s dataset contains %s natural adversarial examples.\n", name, n);
	if (r->partial) {
		size_t empty = 0;
		for (size_t i = 0; i < r->nclasses; i++)
			empty += r->classes[i].images == 0;
		char e[32];
		fmt_thousands((int64_t)empty, e);
		rc |= buf_printf(out,
			"\n"
			"WARNING: THIS RELEASE IS PARTIAL. %s of its %s classes have no images.\n"
			"Their folders are present but empty, so a loader that labels folders by\n"
			"sorted position (torchvision's ImageFolder) keeps every label in place or\n"
			"refuses the empty folders; one that skips empty folders shifts every later\n"
			"label. ../classes.tsv maps each folder to its label and ImageNet-1K index.\n"
			"The empty classes:\n", e, k);
		for (size_t i = 0; i < r->nclasses; i++)
			if (r->classes[i].images == 0)
				rc |= buf_printf(out, "  %s %s\n", r->classes[i].wnid, r->classes[i].name);
	}
	if (r->ood)
		rc |= buf_printf(out, "\nEach is a photo of a WordNet class outside ImageNet-1K that a classifier\n"
		                      "assigns to one of the %s classes below with high confidence; its folder is\n"
		                      "that predicted class (../manifest.jsonl gives each photo's source class and\n"
		                      "its maximum softmax probability).\n", k);
	else if (!imagenet_a) {
		rc |= buf_printf(out, "\nIt was made with the method of ImageNet-A for the class set '%s'", r->set);
		if (r->based_on)
			rc |= buf_printf(out, ", which is based on the class set '%s'", r->based_on);
		rc |= buf_puts(out, ".\n");
	}
	rc |= buf_printf(out, "\nIf you find this dataset useful, please cite the paper that introduced %s:\n\n",
	                 imagenet_a ? "it" : r->ood ? "ImageNet-A and ImageNet-O" : "ImageNet-A and its method");
	rc |= buf_puts(out, pkg_citation);
	rc |= buf_printf(out, "\nThere are %s classes we consider. The WordNet ID and a description of each class "
	                      "is as follows.\n\n", k);
	for (size_t i = 0; i < r->nclasses; i++)
		rc |= buf_printf(out, "%s %s\n", r->classes[i].wnid, r->classes[i].name);
	return rc ? NATADV_ENOMEM : 0;
}

int pkg_manifest_line(buf *out, const pkg_manifest_entry *e)
{
	json_t *o = json_object();
	if (!o)
		return NATADV_ENOMEM;
	/* json_object_set_new keeps insertion order under JSON_PRESERVE_ORDER. */
	json_object_set_new(o, "path", jstr_new(e->path));
	json_object_set_new(o, "label", json_integer(e->label));
	json_object_set_new(o, "wnid", jstr_new(e->wnid));
	json_object_set_new(o, "class_name", jstr_new(e->class_name));
	json_object_set_new(o, "xxh128", jstr_new(e->xxh128));
	json_object_set_new(o, "sha256", jstr_new(e->sha256));
	json_object_set_new(o, "bytes", json_integer(e->bytes));
	json_object_set_new(o, "width", json_integer(e->width));
	json_object_set_new(o, "height", json_integer(e->height));
	json_object_set_new(o, "converted", jstr_new(e->converted));
	json_object_set_new(o, "source_sha256", jstr_new(e->source_sha256));
	json_object_set_new(o, "source_bytes", json_integer(e->source_bytes));
	json_object_set_new(o, "source", jstr_new(e->source));
	json_object_set_new(o, "query", jstr_new(e->query));
	json_object_set_new(o, "url", jstr_new(e->url));
	json_object_set_new(o, "final_url", jstr_new(e->final_url));
	json_object_set_new(o, "page_url", jstr_new(e->page_url));
	json_object_set_new(o, "license", jstr_new(e->license));
	json_object_set_new(o, "license_raw", jstr_new(e->license_raw));
	json_object_set_new(o, "author", jstr_new(e->author));
	json_object_set_new(o, "attribution", jstr_new(e->attribution));
	json_object_set_new(o, "title", jstr_new(e->title));
	json_object_set_new(o, "fetched_at", jstr_new(e->fetched_at));
	json_object_set_new(o, "http_status", e->http_status > 0 ? json_integer(e->http_status) : json_null());
	json_object_set_new(o, "etag", jstr_new(e->etag));
	json_object_set_new(o, "model", jstr_new(e->model));
	json_object_set_new(o, "model_id", jstr_new(e->model_id));
	json_object_set_new(o, "pred_wnid", jstr_new(e->pred_wnid));
	json_object_set_new(o, "pred_name", jstr_new(e->pred_name));
	json_object_set_new(o, "confidence", e->confidence >= 0 ? json_real(e->confidence) : json_null());
	json_object_set_new(o, "true_prob", e->true_prob >= 0 ? json_real(e->true_prob) : json_null());
	json_object_set_new(o, "selection_id", e->selection_id > 0 ? json_integer(e->selection_id) : json_null());
	json_object_set_new(o, "selection_rule", jstr_new(e->selection_rule));
	json_object_set_new(o, "review", jstr_new(e->review));
	json_object_set_new(o, "reviewer", jstr_new(e->reviewer));
	json_object_set_new(o, "reviewed_at", jstr_new(e->reviewed_at));
	json_object_set_new(o, "set", jstr_new(e->set));
	json_object_set_new(o, "version", jstr_new(e->version));
	json_object_set_new(o, "released_at", jstr_new(e->released_at));
	if (e->source_wnid) {
		json_object_set_new(o, "source_wnid", jstr_new(e->source_wnid));
		json_object_set_new(o, "source_name", jstr_new(e->source_name));
		json_object_set_new(o, "msp", json_real(e->msp));
	}
	/* A string that is not UTF-8 makes json_string return NULL, which
	 * json_object_set_new refuses: the object then lacks the key. */
	int rc = json_object_size(o) == (e->source_wnid ? 42u : 39u) ? 0 : NATADV_EFORMAT;
	char *s = rc ? NULL : json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!rc && !s)
		rc = NATADV_ENOMEM;
	if (!rc && (buf_puts(out, s) != 0 || buf_puts(out, "\n") != 0))
		rc = NATADV_ENOMEM;
	free(s);
	return rc;
}

int pkg_content_sha256(const char *const *paths, const char *const *shas, size_t n, char hex[65])
{
	buf b;
	buf_init(&b, (size_t)1 << 31);
	int rc = 0;
	for (size_t i = 0; !rc && i < n; i++)
		rc = buf_printf(&b, "%s %s\n", paths[i], shas[i]);
	if (!rc)
		rc = sha256_hex(b.data ? b.data : "", b.len, hex);
	buf_release(&b);
	return rc;
}
