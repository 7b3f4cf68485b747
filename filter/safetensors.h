/* safetensors.h — a strict reader for the safetensors weight format
 * (8-byte little-endian header length, JSON header, one byte buffer).
 * Tensors stay in the mapped file or caller's memory; st_read_f32 converts. */
#ifndef NATADV_SAFETENSORS_H
#define NATADV_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

/* Hard limits on what a header may describe. */
#define ST_MAX_HEADER ((size_t)100 * 1024 * 1024) /* as the reference reader */
#define ST_MAX_DIMS 8

typedef enum st_dtype {
	ST_BOOL, ST_U8, ST_I8, ST_I16, ST_U16, ST_F16, ST_BF16, ST_I32,
	ST_U32, ST_F32, ST_F64, ST_I64, ST_U64, ST_F8_E4M3, ST_F8_E5M2,
} st_dtype;

typedef struct st_tensor {
	const char *name;          /* owned by the st_file */
	st_dtype dtype;
	int ndim;                  /* 0 for a scalar */
	int64_t shape[ST_MAX_DIMS];
	size_t nelem;              /* product of shape (1 for a scalar) */
	const unsigned char *data; /* into the file; not aligned */
	size_t nbytes;
	size_t index;              /* position in the file's tensor list */
} st_tensor;

typedef struct st_file st_file;

/* Opens and memory-maps path and validates the whole header; *out is freed
 * with st_free. On error returns a natadv_err code and a message in err. */
int st_open(st_file **out, const char *path, char *err, size_t errlen);
/* Same over size bytes at data, which the caller keeps alive and unchanged
 * until st_free; nothing is copied. */
int st_open_mem(st_file **out, const void *data, size_t size, char *err,
                size_t errlen);
/* Unmaps and frees f; accepts NULL. */
void st_free(st_file *f);
/* Number of tensors (the __metadata__ entry is not one). */
size_t st_count(const st_file *f);
/* Tensor i in offset order, i < st_count; owned by f. */
const st_tensor *st_get(const st_file *f, size_t i);
/* Tensor called name, or NULL; owned by f. */
const st_tensor *st_find(const st_file *f, const char *name);
/* Value of __metadata__ key, or NULL; owned by f. */
const char *st_metadata(const st_file *f, const char *key);
/* Static name of a dtype as the format spells it ("F32"). */
const char *st_dtype_name(st_dtype d);
/* Size in bytes of one element of d. */
size_t st_dtype_size(st_dtype d);
/* Converts t (F32, F16, BF16 or F64) to t->nelem floats at out; returns 0
 * or NATADV_EFORMAT for other dtypes, with a message naming t in err. */
int st_read_f32(const st_tensor *t, float *out, char *err, size_t errlen);
/* st_read_f32 of elements first .. first + count - 1 of t only (in the
 * tensor's row-major order) into count floats at out; NATADV_EINVAL when
 * they are out of t. */
int st_read_f32_range(const st_tensor *t, size_t first, size_t count,
                      float *out, char *err, size_t errlen);
/* Lets the kernel drop f's mapped pages wholly inside elements first ..
 * first + count - 1 of t from memory (they are read from the file again
 * if touched), for a loader that has converted them; nothing for
 * st_open_mem's memory. */
void st_evict(const st_file *f, const st_tensor *t, size_t first,
              size_t count);

#endif
