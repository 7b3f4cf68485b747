/* safetensors.c — parse and validate a safetensors header over a mapped file
 * or a memory buffer. Every tensor's range is checked against its dtype and
 * shape, and the ranges must tile the byte buffer exactly (no holes, no
 * overlaps, nothing after the last tensor), as the reference reader requires. */
#include "filter/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "st_read_f32 assumes a little-endian host"
#endif

struct st_file {
	const unsigned char *base; /* whole file */
	size_t size;
	int mapped;                /* base came from mmap and is ours */
	st_tensor *t;              /* n tensors sorted by offset */
	size_t n;
	const st_tensor **by_name; /* n pointers sorted by name, for st_find */
	char **meta;               /* nmeta key, value pairs */
	size_t nmeta;
};

static const struct {
	const char *name;
	size_t size;
} dtypes[] = {
	[ST_BOOL] = {"BOOL", 1}, [ST_U8] = {"U8", 1}, [ST_I8] = {"I8", 1},
	[ST_I16] = {"I16", 2}, [ST_U16] = {"U16", 2}, [ST_F16] = {"F16", 2},
	[ST_BF16] = {"BF16", 2}, [ST_I32] = {"I32", 4}, [ST_U32] = {"U32", 4},
	[ST_F32] = {"F32", 4}, [ST_F64] = {"F64", 8}, [ST_I64] = {"I64", 8},
	[ST_U64] = {"U64", 8}, [ST_F8_E4M3] = {"F8_E4M3", 1},
	[ST_F8_E5M2] = {"F8_E5M2", 1},
};
#define NDTYPES (sizeof dtypes / sizeof dtypes[0])

const char *st_dtype_name(st_dtype d)
{
	return (size_t)d < NDTYPES ? dtypes[d].name : "?";
}

size_t st_dtype_size(st_dtype d)
{
	return (size_t)d < NDTYPES ? dtypes[d].size : 0;
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Formats shape as "[a,b,c]" into out for messages. */
static void shape_str(char *out, size_t outlen, const st_tensor *t)
{
	size_t used = 0;
	int w;

	w = snprintf(out, outlen, "[");
	for (int i = 0; i < t->ndim && w >= 0; i++) {
		used += (size_t)w;
		if (used >= outlen)
			return;
		w = snprintf(out + used, outlen - used, "%s%lld", i ? "," : "",
		             (long long)t->shape[i]);
	}
	if (w >= 0 && used + (size_t)w < outlen)
		snprintf(out + used + (size_t)w, outlen - used - (size_t)w, "]");
}

/* Reads one header entry (everything but the byte range check) into t. */
/* Refuses a tensor's data_offsets: "tensor '<name>': data_offsets
 * [<begin>,<end>] <what>". Returns NATADV_EFORMAT. */
static int bad_offsets(const char *name, uint64_t begin, uint64_t end, const char *what,
                       char *err, size_t errlen)
{
	natadv_errf(err, errlen, "tensor '%s': data_offsets [%llu,%llu] %s", name,
	            (unsigned long long)begin, (unsigned long long)end, what);
	return NATADV_EFORMAT;
}

static int parse_entry(st_tensor *t, const char *name, json_t *v,
                       uint64_t *begin, uint64_t *end, char *err,
                       size_t errlen)
{
	json_t *dt, *shape, *off, *x;
	const char *key;
	size_t i, d;

	if (!json_is_object(v)) {
		natadv_errf(err, errlen, "tensor '%s': header entry is not an object",
		       name);
		return NATADV_EFORMAT;
	}
	json_object_foreach(v, key, x) {
		if (strcmp(key, "dtype") && strcmp(key, "shape") &&
		    strcmp(key, "data_offsets")) {
			natadv_errf(err, errlen, "tensor '%s': unexpected key '%s'",
			       name, key);
			return NATADV_EFORMAT;
		}
	}
	dt = json_object_get(v, "dtype");
	shape = json_object_get(v, "shape");
	off = json_object_get(v, "data_offsets");
	if (!json_is_string(dt) || !json_is_array(shape) ||
	    !json_is_array(off)) {
		natadv_errf(err, errlen,
		       "tensor '%s': needs string dtype, array shape and "
		       "array data_offsets", name);
		return NATADV_EFORMAT;
	}
	for (d = 0; d < NDTYPES; d++)
		if (!strcmp(json_string_value(dt), dtypes[d].name))
			break;
	if (d == NDTYPES) {
		natadv_errf(err, errlen, "tensor '%s': unknown dtype '%s'", name,
		       json_string_value(dt));
		return NATADV_EFORMAT;
	}
	t->dtype = (st_dtype)d;
	if (json_array_size(shape) > ST_MAX_DIMS) {
		natadv_errf(err, errlen, "tensor '%s': %zu dimensions, at most %d",
		       name, json_array_size(shape), ST_MAX_DIMS);
		return NATADV_EFORMAT;
	}
	t->ndim = (int)json_array_size(shape);
	t->nelem = 1;
	json_array_foreach(shape, i, x) {
		json_int_t dim;

		if (!json_is_integer(x) || json_integer_value(x) < 0) {
			natadv_errf(err, errlen,
			       "tensor '%s': shape[%zu] is not a non-negative "
			       "integer", name, i);
			return NATADV_EFORMAT;
		}
		dim = json_integer_value(x);
		t->shape[i] = dim;
		/* Bound the element count by what any buffer could hold so the
		 * byte count below cannot overflow. */
		if (dim && t->nelem > (SIZE_MAX / 8) / (uint64_t)dim) {
			natadv_errf(err, errlen, "tensor '%s': shape too large", name);
			return NATADV_EFORMAT;
		}
		t->nelem *= (size_t)dim;
	}
	if (json_array_size(off) != 2 || !json_is_integer(json_array_get(off, 0)) ||
	    !json_is_integer(json_array_get(off, 1)) ||
	    json_integer_value(json_array_get(off, 0)) < 0 ||
	    json_integer_value(json_array_get(off, 1)) < 0) {
		natadv_errf(err, errlen,
		       "tensor '%s': data_offsets is not two non-negative "
		       "integers", name);
		return NATADV_EFORMAT;
	}
	*begin = (uint64_t)json_integer_value(json_array_get(off, 0));
	*end = (uint64_t)json_integer_value(json_array_get(off, 1));
	t->nbytes = t->nelem * dtypes[d].size;
	if (*end < *begin || *end - *begin != t->nbytes) {
		char s[160], what[320];

		shape_str(s, sizeof s, t);
		snprintf(what, sizeof what, "hold %llu bytes, dtype %s shape %s needs %zu",
		         (unsigned long long)(*end >= *begin ? *end - *begin : 0),
		         dtypes[d].name, s, t->nbytes);
		return bad_offsets(name, *begin, *end, what, err, errlen);
	}
	return 0;
}

static int parse_metadata(st_file *f, json_t *v, char *err, size_t errlen)
{
	const char *key;
	json_t *x;

	if (!json_is_object(v)) {
		natadv_errf(err, errlen, "__metadata__ is not an object");
		return NATADV_EFORMAT;
	}
	f->meta = calloc(2 * json_object_size(v) + 1, sizeof *f->meta);
	if (!f->meta)
		return NATADV_ENOMEM;
	json_object_foreach(v, key, x) {
		if (!json_is_string(x)) {
			natadv_errf(err, errlen,
			       "__metadata__ key '%s': value is not a string", key);
			return NATADV_EFORMAT;
		}
		f->meta[2 * f->nmeta] = strdup(key);
		f->meta[2 * f->nmeta + 1] = strdup(json_string_value(x));
		f->nmeta++;
		if (!f->meta[2 * f->nmeta - 2] || !f->meta[2 * f->nmeta - 1])
			return NATADV_ENOMEM;
	}
	return 0;
}

struct range {
	uint64_t begin, end;
	size_t i;
};

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static int cmp_name(const void *a, const void *b)
{
	const st_tensor *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* Checks the 8-byte length and loads the JSON header object into *root. */
static int load_header(const st_file *f, json_t **root, uint64_t *hlen, char *err, size_t errlen)
{
	json_error_t jerr;

	*root = NULL;
	if (f->size < 8) {
		natadv_errf(err, errlen, "file of %zu bytes is too short for a "
		       "safetensors header", f->size);
		return NATADV_EFORMAT;
	}
	*hlen = le64(f->base);
	if (*hlen > ST_MAX_HEADER) {
		natadv_errf(err, errlen, "header length %llu exceeds the %zu byte limit",
		       (unsigned long long)*hlen, ST_MAX_HEADER);
		return NATADV_ETOOBIG;
	}
	if (*hlen > f->size - 8) {
		natadv_errf(err, errlen, "header length %llu exceeds file size %zu",
		       (unsigned long long)*hlen, f->size);
		return NATADV_EFORMAT;
	}
	if (*hlen < 2 || f->base[8] != '{') {
		natadv_errf(err, errlen, "header does not start with '{'");
		return NATADV_EFORMAT;
	}
	*root = json_loadb((const char *)f->base + 8, (size_t)*hlen,
	                   JSON_REJECT_DUPLICATES, &jerr);
	if (!*root) {
		natadv_errf(err, errlen, "bad JSON header: %s at byte %d", jerr.text,
		       jerr.position);
		return NATADV_EFORMAT;
	}
	if (!json_is_object(*root)) {
		natadv_errf(err, errlen, "header is not a JSON object");
		return NATADV_EFORMAT;
	}
	return 0;
}

/* Reads every header entry: __metadata__ into f, tensors into tmp[] with
 * their byte ranges in r[]; *n gets the number of tensors. */
static int parse_entries(st_file *f, json_t *root, st_tensor *tmp, struct range *r, size_t *n,
                         char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	int rc;

	*n = 0;
	json_object_foreach(root, key, v) {
		if (!strcmp(key, "__metadata__")) {
			if (f->meta) {
				/* JSON_REJECT_DUPLICATES makes this unreachable */
				natadv_errf(err, errlen, "duplicate __metadata__");
				return NATADV_EFORMAT;
			}
			rc = parse_metadata(f, v, err, errlen);
			if (rc)
				return rc;
			continue;
		}
		rc = parse_entry(&tmp[*n], key, v, &r[*n].begin, &r[*n].end, err,
		                 errlen);
		if (rc)
			return rc;
		tmp[*n].name = key; /* replaced by an owned copy in build_table */
		r[*n].i = *n;
		(*n)++;
	}
	return 0;
}

/* Sorts the ranges and checks that they tile the dsize data bytes exactly:
 * no overlap, no hole, nothing past the end or after the last tensor. */
static int check_ranges(const st_tensor *tmp, struct range *r, size_t n, uint64_t dsize,
                        char *err, size_t errlen)
{
	uint64_t at = 0;

	qsort(r, n, sizeof *r, cmp_range);
	for (size_t i = 0; i < n; i++) {
		const char *name = tmp[r[i].i].name;
		char what[96];

		if (r[i].begin < at)
			return bad_offsets(name, r[i].begin, r[i].end, "overlap another tensor", err, errlen);
		if (r[i].begin > at) {
			snprintf(what, sizeof what, "leave a hole at byte %llu", (unsigned long long)at);
			return bad_offsets(name, r[i].begin, r[i].end, what, err, errlen);
		}
		if (r[i].end > dsize) {
			snprintf(what, sizeof what, "run past the %llu byte data buffer (truncated file?)",
			         (unsigned long long)dsize);
			return bad_offsets(name, r[i].begin, r[i].end, what, err, errlen);
		}
		at = r[i].end;
	}
	if (at != dsize) {
		natadv_errf(err, errlen,
		       "%llu bytes after the last tensor's data (tensors cover "
		       "%llu of %llu)", (unsigned long long)(dsize - at),
		       (unsigned long long)at, (unsigned long long)dsize);
		return NATADV_EFORMAT;
	}
	return 0;
}

/* Fills f's tensor table in data order (r sorted) and its by-name index. */
static int build_table(st_file *f, const st_tensor *tmp, const struct range *r, size_t n,
                       const unsigned char *data)
{
	f->t = calloc(n ? n : 1, sizeof *f->t);
	f->by_name = calloc(n ? n : 1, sizeof *f->by_name);
	if (!f->t || !f->by_name)
		return NATADV_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		st_tensor *t = &f->t[i];

		*t = tmp[r[i].i];
		t->name = NULL;
		t->data = data + r[i].begin;
		t->index = i;
		f->n = i + 1;
		t->name = strdup(tmp[r[i].i].name);
		if (!t->name)
			return NATADV_ENOMEM;
		f->by_name[i] = t;
	}
	qsort(f->by_name, n, sizeof *f->by_name, cmp_name);
	return 0;
}

/* Parses f->base/f->size into f's tensor table. */
static int parse(st_file *f, char *err, size_t errlen)
{
	uint64_t hlen = 0;
	json_t *root = NULL;
	struct range *r = NULL;
	st_tensor *tmp = NULL;
	size_t n = 0;

	int rc = load_header(f, &root, &hlen, err, errlen);
	if (rc)
		goto out;
	n = json_object_size(root);
	tmp = calloc(n ? n : 1, sizeof *tmp);
	r = calloc(n ? n : 1, sizeof *r);
	if (!tmp || !r) {
		rc = NATADV_ENOMEM;
		goto out;
	}
	rc = parse_entries(f, root, tmp, r, &n, err, errlen);
	if (!rc)
		rc = check_ranges(tmp, r, n, f->size - 8 - hlen, err, errlen);
	if (!rc)
		rc = build_table(f, tmp, r, n, f->base + 8 + hlen);
out:
	free(r);
	free(tmp);
	json_decref(root);
	return rc;
}

static int open_common(st_file *f, st_file **out, char *err, size_t errlen)
{
	int rc = parse(f, err, errlen);

	if (rc) {
		st_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

int st_open_mem(st_file **out, const void *data, size_t size, char *err,
                size_t errlen)
{
	st_file *f;

	*out = NULL;
	if (!data && size) {
		natadv_errf(err, errlen, "no data");
		return NATADV_EINVAL;
	}
	f = calloc(1, sizeof *f);
	if (!f)
		return NATADV_ENOMEM;
	f->base = data;
	f->size = size;
	return open_common(f, out, err, errlen);
}

int st_open(st_file **out, const char *path, char *err, size_t errlen)
{
	struct stat sb;
	st_file *f;
	void *p;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		natadv_errf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return errno == ENOENT ? NATADV_ENOTFOUND : NATADV_EIO;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		natadv_errf(err, errlen, "cannot open '%s': not a regular file", path);
		close(fd);
		return NATADV_EIO;
	}
	if (sb.st_size < 8) {
		natadv_errf(err, errlen, "'%s': file of %lld bytes is too short for a "
		       "safetensors header", path, (long long)sb.st_size);
		close(fd);
		return NATADV_EFORMAT;
	}
	p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		natadv_errf(err, errlen, "cannot map '%s': %s", path, strerror(errno));
		return NATADV_EIO;
	}
	f = calloc(1, sizeof *f);
	if (!f) {
		munmap(p, (size_t)sb.st_size);
		return NATADV_ENOMEM;
	}
	f->base = p;
	f->size = (size_t)sb.st_size;
	f->mapped = 1;
	return open_common(f, out, err, errlen);
}

void st_free(st_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		free((char *)f->t[i].name);
	for (size_t i = 0; i < 2 * f->nmeta; i++)
		free(f->meta[i]);
	free(f->meta);
	free(f->t);
	free(f->by_name);
	if (f->mapped)
		munmap((void *)f->base, f->size);
	free(f);
}

size_t st_count(const st_file *f)
{
	return f->n;
}

const st_tensor *st_get(const st_file *f, size_t i)
{
	return i < f->n ? &f->t[i] : NULL;
}

const st_tensor *st_find(const st_file *f, const char *name)
{
	st_tensor key = {.name = name};
	const st_tensor *kp = &key, *const *hit;

	if (!f->n)
		return NULL;
	hit = bsearch(&kp, f->by_name, f->n, sizeof *f->by_name, cmp_name);
	return hit ? *hit : NULL;
}

const char *st_metadata(const st_file *f, const char *key)
{
	for (size_t i = 0; i < f->nmeta; i++)
		if (!strcmp(f->meta[2 * i], key))
			return f->meta[2 * i + 1];
	return NULL;
}

/* IEEE half to float, including subnormals, infinities and NaN. */
static float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f;
	uint32_t mant = h & 0x3ff, bits;
	float f;

	if (exp == 0x1f) {
		bits = sign | 0x7f800000u | mant << 13;
	} else if (exp) {
		bits = sign | (exp + 112) << 23 | mant << 13;
	} else if (mant) {
		/* subnormal: value is mant * 2^-24 */
		f = (float)mant * 0x1p-24f;
		return sign ? -f : f;
	} else {
		bits = sign;
	}
	memcpy(&f, &bits, sizeof f);
	return f;
}

int st_read_f32(const st_tensor *t, float *out, char *err, size_t errlen)
{
	return st_read_f32_range(t, 0, t->nelem, out, err, errlen);
}

int st_read_f32_range(const st_tensor *t, size_t first, size_t count,
                      float *out, char *err, size_t errlen)
{
	const unsigned char *p = t->data;
	size_t i;

	if (first > t->nelem || count > t->nelem - first) {
		natadv_errf(err, errlen, "tensor '%s': elements %zu..%zu of %zu",
		            t->name, first, first + count, t->nelem);
		return NATADV_EINVAL;
	}
	switch (t->dtype) {
	case ST_F32:
		memcpy(out, p + 4 * first, count * sizeof *out);
		return 0;
	case ST_F16:
		for (i = first; i < first + count; i++)
			out[i - first] = half_to_float(
				(uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
		return 0;
	case ST_BF16:
		for (i = first; i < first + count; i++) {
			uint32_t bits = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8)
			                << 16;

			memcpy(&out[i - first], &bits, sizeof bits);
		}
		return 0;
	case ST_F64:
		for (i = first; i < first + count; i++) {
			double d;

			memcpy(&d, p + 8 * i, sizeof d);
			out[i - first] = (float)d;
		}
		return 0;
	default:
		natadv_errf(err, errlen, "tensor '%s': dtype %s is not a float type",
		       t->name, st_dtype_name(t->dtype));
		return NATADV_EFORMAT;
	}
}

void st_evict(const st_file *f, const st_tensor *t, size_t first,
              size_t count)
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const size_t es = st_dtype_size(t->dtype);
	uintptr_t a, b;

	if (!f->mapped || first > t->nelem || count > t->nelem - first)
		return;
	/* the pages wholly inside: a neighbour's bytes stay */
	a = (uintptr_t)(t->data + first * es);
	b = (uintptr_t)(t->data + (first + count) * es);
	a = (a + page - 1) / page * page;
	b = b / page * page;
	/* a private read-only file map: dropped pages are read again from
	 * the file if touched; advice, so failure is fine */
	if (b > a)
		madvise((void *)a, b - a, MADV_DONTNEED);
}
