/* wcache.c — the packed-weights cache file (see wcache.h). Layout: a
 * 256-byte header, then the payload the header's xxh3 covers: for each op
 * of the plan its struct (pointers cleared) and the float counts of its
 * six arrays, then those arrays; every piece starts 64-byte aligned so
 * the mapped weights are as aligned as nn_alloc's. */
#include "filter/wcache.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/err.h"

#define WC_MAGIC "NATADVPW"
#define WC_HEADER 256
#define WC_ALIGN 64
#define WC_HUGE ((size_t)2 << 20) /* x86-64's transparent huge page */
#define WC_NARR 6 /* conv.w, conv.b, conv.pk, wino.u, scale, shift */

struct wc_header {
	char magic[8];
	uint32_t version, isa, op_size, nops, split, classes;
	uint64_t params, payload, sum;
	char sha[64];
	char arch[32];
	char family[16];
	uint64_t hsum; /* xxh3 of the fields above */
};
_Static_assert(sizeof(struct wc_header) <= WC_HEADER, "header too large");

struct wc_op {
	struct plan_op op;
	uint64_t len[WC_NARR];
};

static size_t align_up(size_t n)
{
	return (n + WC_ALIGN - 1) / WC_ALIGN * WC_ALIGN;
}

/* Op i's arrays and their float counts. */
static void op_arrays(const struct plan_op *op, const float *a[WC_NARR],
                      uint64_t len[WC_NARR])
{
	const nn_conv *c = &op->conv;

	a[0] = c->w, a[1] = c->b, a[2] = c->pk.p, a[3] = op->wino.u.p;
	a[4] = op->scale, a[5] = op->shift;
	len[0] = c->w ? (uint64_t)c->cout * (c->cin / (c->groups ? c->groups : 1))
	                  * c->k * c->k : 0;
	len[1] = c->b ? (uint64_t)c->cout : 0;
	len[2] = nn_packed_floats(&c->pk);
	len[3] = nn_packed_floats(&op->wino.u);
	len[4] = op->scale ? (uint64_t)op->bn_c : 0;
	len[5] = op->shift ? (uint64_t)op->bn_c : 0;
}

/* The sink of the writer: the file and the running checksum. */
struct wc_out {
	int fd;
	XXH3_state_t *h;
	uint64_t bytes;
	int failed;
};

static void put_raw(struct wc_out *o, const unsigned char *p, size_t n)
{
	if (o->failed)
		return;
	XXH3_64bits_update(o->h, p, n);
	while (n > 0) {
		ssize_t w = write(o->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			o->failed = errno ? errno : EIO;
			return;
		}
		p += w, n -= (size_t)w, o->bytes += (uint64_t)w;
	}
}

/* n bytes of data, then zeros up to the next WC_ALIGN boundary. */
static void put(struct wc_out *o, const void *data, size_t n)
{
	static const unsigned char zeros[WC_ALIGN];

	put_raw(o, data, n);
	put_raw(o, zeros, align_up(n) - n);
}

static void put_ops(struct wc_out *o, const plan *p)
{
	for (int i = 0; i < p->nops && !o->failed; i++) {
		struct wc_op rec;
		const float *a[WC_NARR];

		memset(&rec, 0, sizeof rec);
		rec.op = p->ops[i];
		op_arrays(&rec.op, a, rec.len);
		/* pointers and counters mean nothing in a file */
		rec.op.conv.w = rec.op.conv.b = NULL;
		rec.op.conv.pk.p = rec.op.wino.u.p = NULL;
		rec.op.wino.b = NULL;
		rec.op.scale = rec.op.shift = NULL;
		memset(rec.op.wall, 0, sizeof rec.op.wall);
		memset(rec.op.cpu, 0, sizeof rec.op.cpu);
		put(o, &rec, sizeof rec);
		for (int k = 0; k < WC_NARR; k++)
			if (rec.len[k])
				put(o, a[k], rec.len[k] * sizeof(float));
	}
}

static int sync_dir_of(const char *path)
{
	char dir[4096];
	char *slash;
	int fd, rc;

	snprintf(dir, sizeof dir, "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static void fill_header(struct wc_header *h, const char *sha, const plan *p,
                        const net_info *info)
{
	memset(h, 0, sizeof *h);
	memcpy(h->magic, WC_MAGIC, 8);
	h->version = WCACHE_VERSION;
	h->isa = (uint32_t)p->isa;
	h->op_size = (uint32_t)sizeof(struct wc_op);
	h->nops = (uint32_t)p->nops;
	h->split = (uint32_t)p->split;
	h->classes = (uint32_t)info->classes;
	h->params = info->params;
	memcpy(h->sha, sha, 64);
	snprintf(h->arch, sizeof h->arch, "%s", info->arch);
	snprintf(h->family, sizeof h->family, "%s", info->family);
}

int wcache_write(const char *path, const char *sha, const plan *p,
                 const net_info *info, char *why, size_t whylen)
{
	unsigned char head[WC_HEADER] = {0};
	struct wc_header h;
	struct wc_out o = {.fd = -1};
	char tmp[4200];

	if (strlen(sha) != 64) {
		natadv_errf(why, whylen, "no sha-256 for the weights");
		return NATADV_EINVAL;
	}
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	o.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (o.fd < 0) {
		natadv_errf(why, whylen, "cannot create '%s': %s", tmp,
		            strerror(errno));
		return NATADV_EIO;
	}
	o.h = XXH3_createState();
	if (!o.h || XXH3_64bits_reset(o.h) == XXH_ERROR)
		o.failed = ENOMEM;
	if (!o.failed && lseek(o.fd, WC_HEADER, SEEK_SET) < 0)
		o.failed = errno;
	put_ops(&o, p);
	if (!o.failed) {
		fill_header(&h, sha, p, info);
		h.payload = o.bytes;
		h.sum = XXH3_64bits_digest(o.h);
		h.hsum = XXH3_64bits(&h, offsetof(struct wc_header, hsum));
		memcpy(head, &h, sizeof h);
		if (pwrite(o.fd, head, sizeof head, 0) != (ssize_t)sizeof head)
			o.failed = errno ? errno : EIO;
	}
	if (!o.failed && fsync(o.fd) < 0)
		o.failed = errno;
	if (close(o.fd) < 0 && !o.failed)
		o.failed = errno;
	XXH3_freeState(o.h);
	if (!o.failed && rename(tmp, path) < 0)
		o.failed = errno;
	if (o.failed) {
		natadv_errf(why, whylen, "cannot write '%s': %s", tmp,
		            strerror(o.failed));
		unlink(tmp);
		return NATADV_EIO;
	}
	sync_dir_of(path);
	return 0;
}

static const char *isa_name(uint32_t isa)
{
	return isa == NN_AVX512 ? "avx512" : isa == NN_AVX2 ? "avx2"
	       : isa == NN_GENERIC ? "generic" : "unknown";
}

/* 0 when the header h of the file base of size bytes fits sha, this
 * build and CPU, and its payload its checksum; else the cause in why. */
static int check_header(const struct wc_header *h, const char *base,
                        size_t size, const char *sha, char *why,
                        size_t whylen)
{
	if (size < WC_HEADER || memcmp(h->magic, WC_MAGIC, 8) != 0)
		natadv_errf(why, whylen, "%s", size < WC_HEADER ? "truncated"
		            : "not a weights cache");
	else if (h->version != WCACHE_VERSION)
		natadv_errf(why, whylen, "format version %u, expected %u",
		            h->version, WCACHE_VERSION);
	else if (XXH3_64bits(h, offsetof(struct wc_header, hsum)) != h->hsum)
		natadv_errf(why, whylen, "bad header checksum");
	else if (h->isa != (uint32_t)nn_isa_best())
		natadv_errf(why, whylen, "kernels %s, expected %s",
		            isa_name(h->isa), isa_name((uint32_t)nn_isa_best()));
	else if (h->op_size != sizeof(struct wc_op))
		natadv_errf(why, whylen, "written by another build");
	else if (memcmp(h->sha, sha, 64) != 0)
		natadv_errf(why, whylen, "cache of other weights");
	else if (h->payload != size - WC_HEADER)
		natadv_errf(why, whylen, "truncated");
	else if (XXH3_64bits(base + WC_HEADER, h->payload) != h->sum)
		natadv_errf(why, whylen, "bad checksum");
	else
		return 0;
	return NATADV_EFORMAT;
}

/* Points op's arrays into the map from *off on; -1 when they overrun it
 * or disagree with the op's sizes. */
static int bind_op(struct plan_op *op, const uint64_t len[WC_NARR],
                   const char *base, size_t size, size_t *off)
{
	float *a[WC_NARR];
	const float *dummy[WC_NARR];
	uint64_t want[WC_NARR];

	if (op->kind > OP_AVGPOOL2 || op->src < 0 || op->src >= PLAN_NBUF ||
	    op->dst < 0 || op->dst >= PLAN_NBUF)
		return -1;
	for (int k = 0; k < WC_NARR; k++) {
		a[k] = NULL;
		if (!len[k])
			continue;
		if (len[k] > (size - *off) / sizeof(float))
			return -1;
		a[k] = (float *)(base + *off);
		*off += align_up(len[k] * sizeof(float));
		if (*off > size)
			return -1;
	}
	op->conv.w = a[0], op->conv.b = a[1], op->conv.pk.p = a[2];
	op->wino.u.p = a[3], op->wino.b = a[1];
	op->scale = a[4], op->shift = a[5];
	op_arrays(op, dummy, want);
	return memcmp(want, len, sizeof want) ? -1 : 0;
}

static int bind_plan(const struct wc_header *h, const char *base, size_t size,
                     plan *p)
{
	size_t off = WC_HEADER;

	if (h->nops < 1 || h->nops > 100000 || h->split > h->nops)
		return -1;
	if (plan_init(p, (int)h->nops))
		return -1;
	p->borrowed = 1;
	p->split = (int)h->split;
	for (uint32_t i = 0; i < h->nops; i++) {
		struct wc_op rec;

		if (size - off < sizeof rec)
			return -1;
		memcpy(&rec, base + off, sizeof rec);
		off += align_up(sizeof rec);
		p->ops[i] = rec.op;
		p->nops = (int)i + 1;
		if (bind_op(&p->ops[i], rec.len, base, size, &off))
			return -1;
		if (p->ops[i].conv.pk.p && p->ops[i].conv.pk.isa != p->isa)
			return -1;
	}
	return off == size ? 0 : -1;
}

int wcache_read(const char *path, const char *sha, plan *p, net_info *info,
                wcache_map *map, char *why, size_t whylen)
{
	struct wc_header h;
	struct stat sb;
	void *base;
	int fd, rc;

	memset(map, 0, sizeof *map);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		natadv_errf(why, whylen, "cannot open '%s': %s", path,
		            strerror(errno));
		return errno == ENOENT ? NATADV_ENOTFOUND : NATADV_EIO;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size < 1) {
		close(fd);
		natadv_errf(why, whylen, "truncated");
		return NATADV_EFORMAT;
	}
	base = mmap(NULL, (size_t)sb.st_size, PROT_READ,
	            MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (base == MAP_FAILED) {
		natadv_errf(why, whylen, "cannot map '%s': %s", path,
		            strerror(errno));
		return NATADV_EIO;
	}
	map->base = base, map->len = (size_t)sb.st_size;
	memset(&h, 0, sizeof h);
	if (map->len >= sizeof h)
		memcpy(&h, base, sizeof h);
	rc = check_header(&h, base, map->len, sha, why, whylen);
	if (!rc && bind_plan(&h, base, map->len, p)) {
		natadv_errf(why, whylen, "inconsistent ops");
		rc = NATADV_EFORMAT;
	}
	if (rc) {
		plan_release(p);
		wcache_unmap(map);
		return rc;
	}
	memset(info, 0, sizeof *info);
	snprintf(info->arch, sizeof info->arch, "%.31s", h.arch);
	info->classes = (int)h.classes;
	info->params = (size_t)h.params;
	snprintf(map->family, sizeof map->family, "%.15s", h.family);
	return 0;
}

/* *a moved with the bytes [from, from + len) to to. */
static void rebase(float **a, const char *from, size_t len, char *to)
{
	uintptr_t c = (uintptr_t)*a, f = (uintptr_t)from; /* from is unmapped */

	if (c && c >= f && c - f < len)
		*a = (float *)(to + (c - f));
}

/* len bytes of anonymous memory aligned to WC_HUGE, or NULL: a larger
 * mapping trimmed at both ends. */
static char *map_huge(size_t len)
{
	size_t span = len + WC_HUGE;
	char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *base;

	if (raw == MAP_FAILED)
		return NULL;
	base = (char *)(((uintptr_t)raw + WC_HUGE - 1) & ~(uintptr_t)(WC_HUGE - 1));
	if (base > raw)
		munmap(raw, (size_t)(base - raw));
	if (raw + span > base + len)
		munmap(base + len, (size_t)(raw + span - (base + len)));
	return base;
}

int wcache_to_memory(wcache_map *m, plan *p, char *why, size_t whylen)
{
	size_t len;
	char *base, *old = m->base;

	if (!m->base || m->anon)
		return 0;
	len = (m->len + WC_HUGE - 1) / WC_HUGE * WC_HUGE;
	base = map_huge(len);
	if (!base) {
		natadv_errf(why, whylen, "out of memory");
		return NATADV_ENOMEM;
	}
	/* a hint: without huge pages the copy is only no slower than the map */
	madvise(base, len, MADV_HUGEPAGE);
	/* by 2 MB, each piece of the file unmapped once copied: the peak RSS
	 * grows by one piece, not by the whole weights (nothing can fail now) */
	for (size_t off = 0; off < m->len; off += WC_HUGE) {
		size_t n = m->len - off < WC_HUGE ? m->len - off : WC_HUGE;

		memcpy(base + off, old + off, n);
		munmap(old + off, n);
	}
	mprotect(base, len, PROT_READ);
	for (int i = 0; i < p->nops; i++) {
		struct plan_op *op = &p->ops[i];

		rebase(&op->conv.w, old, m->len, base);
		rebase(&op->conv.b, old, m->len, base);
		rebase(&op->conv.pk.p, old, m->len, base);
		rebase(&op->wino.u.p, old, m->len, base);
		rebase(&op->scale, old, m->len, base);
		rebase(&op->shift, old, m->len, base);
		op->wino.b = op->conv.b; /* as bind_op sets it */
	}
	m->base = base, m->len = len, m->anon = 1;
	return 0;
}

void wcache_unmap(wcache_map *m)
{
	if (m->base)
		munmap(m->base, m->len);
	m->base = NULL, m->len = 0, m->anon = 0;
}
