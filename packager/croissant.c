/* croissant.c — croissant.json, the release described in MLCommons
 * Croissant 1.0 (JSON-LD on schema.org) with the Responsible-AI vocabulary:
 * the files with their SHA-256, the images and their labels as a record
 * set, how the data was collected and selected, and its limits. */
#include "packager/pkg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/jstr.h"

/* The context mlcroissant writes for 1.0, plus the RAI namespace. */
static const char context_json[] =
	"{\"@language\": \"en\", \"@vocab\": \"https://schema.org/\", \"citeAs\": \"cr:citeAs\","
	" \"column\": \"cr:column\", \"conformsTo\": \"dct:conformsTo\", \"cr\": \"http://mlcommons.org/croissant/\","
	" \"rai\": \"http://mlcommons.org/croissant/RAI/\", \"data\": {\"@id\": \"cr:data\", \"@type\": \"@json\"},"
	" \"dataType\": {\"@id\": \"cr:dataType\", \"@type\": \"@vocab\"}, \"dct\": \"http://purl.org/dc/terms/\","
	" \"examples\": {\"@id\": \"cr:examples\", \"@type\": \"@json\"}, \"extract\": \"cr:extract\","
	" \"field\": \"cr:field\", \"fileProperty\": \"cr:fileProperty\", \"fileObject\": \"cr:fileObject\","
	" \"fileSet\": \"cr:fileSet\", \"format\": \"cr:format\", \"includes\": \"cr:includes\","
	" \"isLiveDataset\": \"cr:isLiveDataset\", \"jsonPath\": \"cr:jsonPath\", \"key\": \"cr:key\","
	" \"md5\": \"cr:md5\", \"parentField\": \"cr:parentField\", \"path\": \"cr:path\","
	" \"recordSet\": \"cr:recordSet\", \"references\": \"cr:references\", \"regex\": \"cr:regex\","
	" \"repeated\": \"cr:repeated\", \"replace\": \"cr:replace\", \"sc\": \"https://schema.org/\","
	" \"separator\": \"cr:separator\", \"source\": \"cr:source\", \"subField\": \"cr:subField\","
	" \"transform\": \"cr:transform\"}";

/* Appends "a (3 images), b (1 image)" for a tally. */
static void tally_text(buf *b, const pkg_tally *t, size_t n, const char *unit)
{
	for (size_t i = 0; i < n; i++)
		buf_printf(b, "%s%s (%d %s%s)", i ? ", " : "", t[i].key ? t[i].key : "unknown", t[i].n, unit,
		           t[i].n == 1 ? "" : "s");
}

static json_t *file_object(const char *name, const char *desc, const char *format, int64_t bytes,
                           const char *sha256)
{
	char size[32];
	snprintf(size, sizeof size, "%lld B", (long long)bytes);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "@type", "cr:FileObject", "@id", name, "name",
	                 name, "description", desc, "contentUrl", name, "contentSize", size, "encodingFormat", format,
	                 "sha256", sha256);
}

static json_t *column_field(const char *id, const char *name, const char *desc, const char *type)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:{s:s}, s:{s:s}}}", "@type", "cr:Field", "@id", id, "name",
	                 name, "description", desc, "dataType", type, "source", "fileObject", "@id", "classes.tsv",
	                 "extract", "column", name);
}

static json_t *distribution(const pkg_croissant *c)
{
	json_t *d = json_array();
	char tar[512], desc[1024], includes[512];
	snprintf(tar, sizeof tar, "%s.tar", c->folder);
	if (c->tar_sha256) {
		snprintf(desc, sizeof desc, "The folder %s/ as one byte-reproducible tar archive.", c->folder);
		json_array_append_new(d, file_object(tar, desc, "application/x-tar", c->tar_bytes, c->tar_sha256));
	}
	json_array_append_new(d, file_object("manifest.jsonl",
	                                     "One JSON object per image: path, label, hashes, size, where and when "
	                                     "it was fetched, its licence, author and attribution, the model's "
	                                     "prediction, the selection and the review.",
	                                     "application/jsonlines", c->manifest_bytes, c->manifest_sha256));
	json_array_append_new(d, file_object("classes.tsv",
	                                     "The classes in label order: label, wnid, ImageNet-1K logit index, name.",
	                                     "text/tab-separated-values", c->classes_bytes, c->classes_sha256));
	snprintf(includes, sizeof includes, "%s/*/*.jpg", c->folder);
	snprintf(desc, sizeof desc, "The images, one folder per class named by its WordNet ID; their SHA-256 are in "
	                            "manifest.jsonl and SHA256SUMS.");
	json_t *fs = json_pack("{s:s, s:s, s:s, s:s}", "@type", "cr:FileSet", "@id", "image-files", "name",
	                       "image-files", "description", desc);
	if (c->tar_sha256)
		json_object_set_new(fs, "containedIn", json_pack("{s:s}", "@id", tar));
	json_object_set_new(fs, "encodingFormat", json_string("image/jpeg"));
	json_object_set_new(fs, "includes", json_string(includes));
	json_array_append_new(d, fs);
	return d;
}

static json_t *record_sets(void)
{
	json_t *classes = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}}", "@type", "cr:RecordSet", "@id", "classes", "name",
	                            "classes", "description", "The classes of the release, from classes.tsv.", "key",
	                            "@id", "classes/wnid");
	json_t *cf = json_array();
	json_array_append_new(cf, column_field("classes/label", "label",
	                                       "The label: the position of the class folder in sorted order.",
	                                       "sc:Integer"));
	json_array_append_new(cf, column_field("classes/wnid", "wnid", "The WordNet ID, also the folder name.",
	                                       "sc:Text"));
	json_array_append_new(cf, column_field("classes/index_1k", "index_1k",
	                                       "The class's logit index in an ImageNet-1K classifier (empty when "
	                                       "outside ImageNet-1K).", "sc:Integer"));
	json_array_append_new(cf, column_field("classes/name", "name", "The first WordNet lemma.", "sc:Text"));
	json_object_set_new(classes, "field", cf);

	json_t *images = json_pack("{s:s, s:s, s:s, s:s}", "@type", "cr:RecordSet", "@id", "images", "name", "images",
	                           "description", "One record per image: the photo and its true class.");
	json_t *f = json_array();
	json_array_append_new(f, json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:{s:s}, s:{s:s}}}", "@type", "cr:Field",
	                                   "@id", "images/image", "name", "image", "description",
	                                   "The photo (JPEG).", "dataType", "sc:ImageObject", "source", "fileSet",
	                                   "@id", "image-files", "extract", "fileProperty", "content"));
	json_array_append_new(f, json_pack("{s:s, s:s, s:s, s:s, s:[s, s], s:{s:{s:s}, s:{s:s}, s:{s:s}}, s:{s:s}}",
	                                   "@type", "cr:Field", "@id", "images/label", "name", "label",
	                                   "description", "The WordNet ID of the true class: the image's folder.",
	                                   "dataType", "sc:Text", "cr:Label", "source", "fileSet", "@id",
	                                   "image-files", "extract", "fileProperty", "fullpath", "transform", "regex",
	                                   "^(?:.*/)?([^/]+)/[^/]+\\.jpg$", "references", "@id", "classes/wnid"));
	json_object_set_new(images, "field", f);
	return json_pack("[o, o]", classes, images);
}

int pkg_croissant_write(buf *out, const pkg_croissant *c)
{
	json_error_t jerr;
	json_t *root = json_object();
	json_t *ctx = json_loads(context_json, 0, &jerr);
	buf t;
	buf_init(&t, 1 << 20);
	int rc = 0;
	if (!root || !ctx) {
		json_decref(root);
		json_decref(ctx);
		return NATADV_ENOMEM;
	}
	json_object_set_new(root, "@context", ctx);
	json_object_set_new(root, "@type", json_string("sc:Dataset"));
	json_object_set_new(root, "name", jstr_new(c->folder));
	json_object_set_new(root, "conformsTo", json_string("http://mlcommons.org/croissant/1.0"));

	buf_printf(&t, "%d natural adversarial examples for the %d classes of the class set '%s'", c->images,
	           c->classes, c->set);
	if (c->based_on)
		buf_printf(&t, " (based on '%s')", c->based_on);
	buf_printf(&t, ": real, unmodified photos found on the web for each class that the classifier '%s' "
	               "confidently misclassifies, each accepted in review. Made as ImageNet-A was made "
	               "(Hendrycks et al., CVPR 2021).", c->model_name ? c->model_name : "(unknown)");
	if (c->partial)
		buf_printf(&t, " PARTIAL RELEASE: %d of the %d classes have no images.", c->empty, c->classes);
	json_object_set_new(root, "description", jstr_new(buf_cstr(&t)));

	buf_reset(&t);
	buf_puts(&t, "Every image keeps the licence of its source, given per image in manifest.jsonl (keys license, "
	             "license_raw, author, attribution, url, page_url). Licences in this release: ");
	tally_text(&t, c->licenses, c->nlicenses, "image");
	buf_puts(&t, ".");
	json_object_set_new(root, "license", json_pack("{s:s, s:s, s:o}", "@type", "sc:CreativeWork", "name",
	                                               "per-image licences", "description",
	                                               jstr_new(buf_cstr(&t))));
	char readme[600];
	snprintf(readme, sizeof readme, "%s/README.txt", c->folder);
	json_object_set_new(root, "url", jstr_new(readme));
	json_t *creators = json_array();
	for (size_t i = 0; i < c->nreviewers; i++)
		json_array_append_new(creators, json_pack("{s:s, s:o}", "@type", "sc:Person", "name",
		                                          jstr_new(c->reviewers[i].key)));
	if (!c->nreviewers)  /* selected and accepted without a person */
		json_array_append_new(creators, json_pack("{s:s, s:s}", "@type", "sc:Organization", "name",
		                                          "natadv (automatic pipeline)"));
	json_object_set_new(root, "creator", creators);
	json_object_set_new(root, "datePublished", jstr_new(c->released_at));
	json_object_set_new(root, "version", jstr_new(c->version));
	json_object_set_new(root, "citeAs", json_string(pkg_citation));

	buf_reset(&t);
	buf_puts(&t, "Candidate images were found per class (the class is what the source was asked for) and "
	             "fetched by natadv's crawler, which keeps every fetch attempt, the final URL, HTTP status, ETag "
	             "and time, honours robots.txt and X-Robots-Tag, and keeps only complete JPEG and PNG files. "
	             "Sources: ");
	tally_text(&t, c->sources, c->nsources, "image");
	buf_printf(&t, ". JPEG files are released byte for byte; %d PNG files were converted to JPEG at quality 95 "
	               "(manifest key converted).", c->converted);
	json_object_set_new(root, "rai:dataCollection", jstr_new(buf_cstr(&t)));
	json_t *types = json_pack("[s, s]", "Web Scraping", "Software Collection");
	if (c->by_person)
		json_array_append_new(types, json_string("Manual Human Curator"));
	json_object_set_new(root, "rai:dataCollectionType", types);

	buf_reset(&t);
	buf_printf(&t, "The label of an image is the class it was found for. An image is kept when the classifier "
	               "'%s' (weights sha-256 %s) gets it wrong under the selection rule %s (selection %lld): ",
	           c->model_name ? c->model_name : "(unknown)", c->model_id ? c->model_id : "(unknown)",
	           c->selection_rule ? c->selection_rule : "(unknown)", (long long)c->selection_id);
	buf_printf(&t, "its prediction is another class with at least the minimum confidence and the true class has "
	               "at most the maximum probability; near-duplicates within a class are collapsed. Each kept "
	               "image was then accepted in review: %d by a person, %d automatically (--auto-accept), "
	               "recorded per image in manifest.jsonl (review, reviewer, reviewed_at).",
	           c->by_person, c->auto_accepted);
	json_object_set_new(root, "rai:dataAnnotationProtocol", jstr_new(buf_cstr(&t)));

	buf_reset(&t);
	buf_printf(&t, "The images were chosen because one classifier ('%s') fails on them: its accuracy here is 0%% "
	               "by construction, and the accuracy of other models is not that of a random sample of photos. "
	               "Labels come from what a source was asked for; images accepted automatically were not seen by "
	               "a person and may be mislabelled. The photos come from the web and carry its biases "
	               "and the licences of their sources.", c->model_name ? c->model_name : "(unknown)");
	if (c->partial)
		buf_printf(&t, " This release is partial: %d of its %d classes have no images (see classes.tsv).",
		           c->empty, c->classes);
	json_object_set_new(root, "rai:dataLimitations", jstr_new(buf_cstr(&t)));

	json_object_set_new(root, "distribution", distribution(c));
	json_object_set_new(root, "recordSet", record_sets());

	char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!s || buf_puts(out, s) != 0 || buf_puts(out, "\n") != 0)
		rc = NATADV_ENOMEM;
	free(s);
	json_decref(root);
	buf_release(&t);
	return rc;
}
