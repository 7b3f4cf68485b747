/* classes_tsv.c — reading a release's classes.tsv, the file export writes
 * beside the image folder: one header row naming its columns, then one row
 * per class. verify, rebuild and eval read it through here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/text.h"
#include "packager/packager.h"

/* Parses a whole number of at least 0 that fills s; -1 when it is not one. */
static int64_t whole(const char *s)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	long long v = strtoll(s, &end, 10);
	return *end || v < 0 ? -1 : (int64_t)v;
}

int pkg_classes_read(const char *path, pkg_class_row **rows, int *n, long *bad_line, char *err, size_t errlen)
{
	if (bad_line)
		*bad_line = 0;
	*rows = NULL;
	*n = 0;
	buf b;
	buf_init(&b, PKG_CLASSES_MAX_BYTES);
	int rc = buf_read_file(&b, path, err, errlen);
	if (rc) {
		buf_release(&b);
		return rc;
	}
	char *next = (char *)buf_cstr(&b);
	enum { LABEL, WNID, INDEX, NAME };
	static const char *const want[4] = {"label", "wnid", "index_1k", "name"};
	int col[4] = {-1, -1, -1, -1};
	int cap = 0;
	long line = 0;
	while (*next && !rc) {
		char *ln = next, *nl = strchr(ln, '\n');
		next = nl ? nl + 1 : ln + strlen(ln);
		if (nl)
			*nl = '\0';
		line++;
		ln[strcspn(ln, "\r")] = '\0';
		char *f[16];
		int nf = 0;
		for (char *p = ln; nf < 16;) {
			f[nf++] = p;
			char *tab = strchr(p, '\t');
			if (!tab)
				break;
			*tab = '\0';
			p = tab + 1;
		}
		if (line == 1) {
			for (int i = 0; i < nf; i++)
				for (int k = 0; k < 4; k++)
					if (col[k] < 0 && strcmp(f[i], want[k]) == 0)
						col[k] = i;
			if (col[LABEL] < 0 || col[WNID] < 0 || col[INDEX] < 0) {
				natadv_errf(err, errlen, "cannot read '%s' line 1: the header must name label, wnid and index_1k",
				            path);
				rc = NATADV_EFORMAT;
			}
			continue;
		}
		if (!*ln && nf == 1)
			continue;
		if (col[LABEL] >= nf || col[WNID] >= nf || col[INDEX] >= nf) {
			natadv_errf(err, errlen, "cannot read '%s' line %ld: too few columns", path, line);
			rc = NATADV_EFORMAT;
			break;
		}
		pkg_class_row r = {.line = line};
		r.label = whole(f[col[LABEL]]);
		r.index_1k = *f[col[INDEX]] ? whole(f[col[INDEX]]) : -1;
		if (r.label < 0) {
			natadv_errf(err, errlen, "cannot read '%s' line %ld: label '%.40s' is not a whole number", path, line,
			            f[col[LABEL]]);
			rc = NATADV_EFORMAT;
		} else if (!text_is_wnid(f[col[WNID]])) {
			natadv_errf(err, errlen, "cannot read '%s' line %ld: '%.40s' is not a wnid", path, line, f[col[WNID]]);
			rc = NATADV_EFORMAT;
		} else if (*f[col[INDEX]] && r.index_1k < 0) {
			natadv_errf(err, errlen, "cannot read '%s' line %ld: index_1k '%.40s' is not a whole number", path,
			            line, f[col[INDEX]]);
			rc = NATADV_EFORMAT;
		}
		if (rc)
			break;
		snprintf(r.wnid, sizeof r.wnid, "%s", f[col[WNID]]);
		snprintf(r.name, sizeof r.name, "%s", col[NAME] >= 0 && col[NAME] < nf ? f[col[NAME]] : "");
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			pkg_class_row *grown = realloc(*rows, (size_t)cap * sizeof *grown);
			if (!grown) {
				natadv_errf(err, errlen, "out of memory");
				rc = NATADV_ENOMEM;
				break;
			}
			*rows = grown;
		}
		(*rows)[(*n)++] = r;
	}
	if (rc == NATADV_EFORMAT && bad_line)
		*bad_line = line;  /* the loop stopped at the faulty line */
	if (!rc && line == 0) {
		natadv_errf(err, errlen, "cannot read '%s': it is empty", path);
		rc = NATADV_EFORMAT;
	} else if (!rc && *n == 0) {
		natadv_errf(err, errlen, "cannot read '%s': no classes", path);
		rc = NATADV_EFORMAT;
	}
	buf_release(&b);
	if (rc) {
		free(*rows);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}
