/* net.c — one type over every architecture: a table of families, each
 * recognising its files by their tensor names and loading them with its
 * own checked loader into a plan (filter/plan.h) that net_* then runs. */
#include "filter/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "filter/densenet.h"
#include "filter/plan.h"
#include "filter/resnet.h"
#include "filter/vgg.h"
#include "filter/wcache.h"

struct net {
	net_info info;
	void *model;             /* the family's handle */
	void (*free_model)(void *);
	plan *p;                 /* owned by model, or own when cached */
	plan *own;               /* a plan read from the cache */
	wcache_map map;          /* its weights */
	char cache[320];         /* net_cache_status */
};

static void free_resnet(void *m) { resnet_free(m); }

static int load_resnet(net *n, const st_file *f, char *err, size_t errlen)
{
	resnet *r;
	int rc = resnet_load(&r, f, err, errlen);

	if (rc)
		return rc;
	n->model = r;
	n->free_model = free_resnet;
	n->p = resnet_plan(r);
	snprintf(n->info.arch, sizeof n->info.arch, "%s",
	         resnet_get_info(r)->arch);
	n->info.classes = resnet_get_info(r)->classes;
	n->info.params = resnet_get_info(r)->params;
	return 0;
}

static void free_densenet(void *m) { densenet_free(m); }

/* torchvision's DenseNets (and timm's tv_in1k copies) start so; no other
 * family has this name. */
static int claims_densenet(const st_file *f)
{
	return st_find(f, "features.conv0.weight") != NULL;
}

static int load_densenet(net *n, const st_file *f, char *err, size_t errlen)
{
	densenet *d;
	int rc = densenet_load(&d, f, err, errlen);

	if (rc)
		return rc;
	n->model = d;
	n->free_model = free_densenet;
	n->p = densenet_plan(d);
	snprintf(n->info.arch, sizeof n->info.arch, "%s",
	         densenet_get_info(d)->arch);
	n->info.classes = densenet_get_info(d)->classes;
	n->info.params = densenet_get_info(d)->params;
	return 0;
}

static void free_vgg(void *m) { vgg_free(m); }

static int claims_vgg(const st_file *f)
{
	return st_find(f, "features.0.weight") != NULL;
}

static int load_vgg(net *n, const st_file *f, char *err, size_t errlen)
{
	vgg *v;
	int rc = vgg_load(&v, f, err, errlen);

	if (rc)
		return rc;
	n->model = v;
	n->free_model = free_vgg;
	n->p = vgg_plan(v);
	snprintf(n->info.arch, sizeof n->info.arch, "%s", vgg_get_info(v)->arch);
	n->info.classes = vgg_get_info(v)->classes;
	n->info.params = vgg_get_info(v)->params;
	return 0;
}

/* Tried in order; the last one takes any file, for its error message. */
static const struct family {
	const char *name;
	int (*claims)(const st_file *f);
	int (*load)(net *n, const st_file *f, char *err, size_t errlen);
} families[] = {
	{"densenet", claims_densenet, load_densenet},
	{"vgg", claims_vgg, load_vgg},
	{"resnet", NULL, load_resnet},
};

int net_load(net **out, const st_file *f, char *err, size_t errlen)
{
	const size_t nf = sizeof families / sizeof families[0];
	net *n;
	size_t i;
	int rc;

	*out = NULL;
	n = calloc(1, sizeof *n);
	if (!n)
		return NATADV_ENOMEM;
	for (i = 0; i + 1 < nf; i++)
		if (families[i].claims(f))
			break;
	n->info.family = families[i].name;
	rc = families[i].load(n, f, err, errlen);
	if (rc) {
		free(n);
		return rc;
	}
	*out = n;
	return 0;
}

int net_load_file(net **out, const char *path, char *err, size_t errlen)
{
	st_file *f;
	int rc;

	*out = NULL;
	rc = st_open(&f, path, err, errlen);
	if (rc)
		return rc;
	rc = net_load(out, f, err, errlen);
	st_free(f);
	return rc;
}

void net_cache_path(char *out, size_t outlen, const char *dir,
                    const char *sha)
{
	snprintf(out, outlen, "%s/%.64s.packed", dir, sha);
}

/* The model from the cache at cache_path, or NULL with the cause in why. */
static net *load_from_cache(const char *cache_path, const char *sha, int *rc,
                            char *why, size_t whylen)
{
	const size_t nf = sizeof families / sizeof families[0];
	net *n = calloc(1, sizeof *n);

	if (!n || !(n->own = calloc(1, sizeof *n->own))) {
		free(n);
		*rc = NATADV_ENOMEM;
		natadv_errf(why, whylen, "out of memory");
		return NULL;
	}
	*rc = wcache_read(cache_path, sha, n->own, &n->info, &n->map, why,
	                  whylen);
	for (size_t i = 0; !*rc && i < nf; i++)
		if (strcmp(n->map.family, families[i].name) == 0)
			n->info.family = families[i].name;
	if (!*rc && !n->info.family) {
		natadv_errf(why, whylen, "unknown family '%s'", n->map.family);
		*rc = NATADV_EFORMAT;
	}
	if (*rc) {
		net_free(n);
		return NULL;
	}
	n->p = n->own;
	snprintf(n->cache, sizeof n->cache, "hit");
	return n;
}

int net_load_cached(net **out, const char *path, const char *sha,
                    const char *cache_path, char *err, size_t errlen)
{
	char why[256] = "";
	int rc, crc = NATADV_ENOTFOUND;

	*out = NULL;
	if (cache_path && sha) {
		*out = load_from_cache(cache_path, sha, &crc, why, sizeof why);
		if (*out)
			return 0;
	}
	rc = net_load_file(out, path, err, errlen);
	if (rc || !cache_path || !sha)
		return rc;
	if (crc != NATADV_ENOTFOUND)
		snprintf((*out)->cache, sizeof (*out)->cache, "rebuilt: %s", why);
	else
		snprintf((*out)->cache, sizeof (*out)->cache, "written");
	if (wcache_write(cache_path, sha, (*out)->p, &(*out)->info, why,
	                 sizeof why) != 0)
		snprintf((*out)->cache, sizeof (*out)->cache, "none: %s", why);
	return 0;
}

int net_weights_to_memory(net *m, char *err, size_t errlen)
{
	size_t n = strlen(m->cache);
	int rc;

	if (!m->own || !m->map.base || m->map.anon)
		return 0;
	rc = wcache_to_memory(&m->map, m->own, err, errlen);
	if (!rc)
		snprintf(m->cache + n, sizeof m->cache - n, ", in memory");
	return rc;
}

const char *net_cache_status(const net *m)
{
	return m->cache[0] ? m->cache : "off";
}

void net_free(net *m)
{
	if (!m)
		return;
	if (m->model)
		m->free_model(m->model);
	if (m->own) {
		plan_release(m->own);
		free(m->own);
	}
	wcache_unmap(&m->map);
	free(m);
}

const net_info *net_get_info(const net *m)
{
	return &m->info;
}

int net_prepare(net *m, int max_batch, int h, int w)
{
	return plan_prepare(m->p, max_batch, h, w);
}

int net_forward(net *m, const float *in, int n, float *logits)
{
	return plan_forward(m->p, in, n, logits);
}

const char *net_errmsg(const net *m)
{
	return m->p->err;
}

size_t net_arena_bytes(const net *m)
{
	return m->p->arena_floats * sizeof(float);
}

int net_set_threads(net *m, int n)
{
	return plan_set_threads(m->p, n);
}

const char *net_kernels(const net *m)
{
	return plan_kernels(m->p);
}

void net_profile(net *m, int on)
{
	plan_profile(m->p, on);
}

int net_profile_ops(const net *m)
{
	return m->p->nops;
}

const char *net_profile_get(const net *m, int i, const char **kind,
                            double *macs, double *wall, double *cpu)
{
	return plan_profile_get(m->p, i, kind, macs, wall, cpu);
}
