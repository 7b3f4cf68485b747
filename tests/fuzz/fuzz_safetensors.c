/* fuzz_safetensors.c — libFuzzer target for the safetensors header parser
 * and the network loaders' checks (net_load: ResNet, VGG) on whatever it
 * accepts. Build with clang -fsanitize=fuzzer,address,undefined; make test replays the corpus
 * in tests/fuzz/corpus/safetensors/ through it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "filter/net.h"
#include "filter/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	st_file *f = NULL;
	net *m = NULL;

	if (st_open_mem(&f, data, size, err, sizeof err))
		return 0;
	for (size_t i = 0; i < st_count(f); i++) {
		const st_tensor *t = st_find(f, st_get(f, i)->name);
		float *v;

		if (!t || t != st_get(f, i))
			abort(); /* every listed tensor must be found by name */
		v = malloc((t->nelem ? t->nelem : 1) * sizeof *v);
		if (v)
			st_read_f32(t, v, err, sizeof err);
		free(v);
	}
	st_metadata(f, "format");
	if (!net_load(&m, f, err, sizeof err)) {
		/* whatever loads must also run (a VGG needs 32 px at least) */
		static const float x[3 * 32 * 32];
		float *y = malloc((size_t)net_get_info(m)->classes * sizeof *y);

		if (y && (!net_prepare(m, 1, 19, 13) || !net_prepare(m, 1, 32, 32)))
			net_forward(m, x, 1, y);
		free(y);
		net_free(m);
	}
	st_free(f);
	return 0;
}
