/* nn.h — the layers of the ResNet forward pass, on activations laid out
 * channel-major over the whole batch: [C, N, H, W], so that each convolution
 * is one large sgemm whose columns run over every image of the batch.
 * Internal to filter/ (nn.c, winograd.c, pool.c); tests/unit/test_ops.c
 * checks each layer against a naive reference. */
#ifndef NATADV_NN_H
#define NATADV_NN_H

#include <stddef.h>

/* A persistent thread pool for the loops around the sgemms; NULL anywhere
 * a pool is taken means "run on the calling thread". */
typedef struct nn_pool nn_pool;

/* Starts threads - 1 helper threads (the caller of nn_pool_for is the last
 * one); returns NULL when out of memory. Free with nn_pool_free. */
nn_pool *nn_pool_new(int threads);
/* Stops and joins the helpers and frees p; accepts NULL. */
void nn_pool_free(nn_pool *p);
/* Threads p runs loops on (1 for NULL). */
int nn_pool_threads(const nn_pool *p);
/* Calls fn(arg, i) for every i in [0, n) on p's threads, in any order,
 * and returns when all calls have returned. One caller at a time. */
void nn_pool_for(nn_pool *p, int n, void (*fn)(void *arg, int i), void *arg);
/* nn_pool_for, but fn also gets the index (0 .. threads - 1) of the thread
 * running it, for per-thread buffers; the calling thread is 0. */
void nn_pool_for_t(nn_pool *p, int n, void (*fn)(void *arg, int i, int thread),
                   void *arg);
/* p if a loop touching about floats floats is worth waking threads for,
 * else NULL (waking costs tens of microseconds). */
nn_pool *nn_pool_worth(nn_pool *p, size_t floats);

/* bytes of memory aligned for vectors, on 2 MB pages when large (where
 * the kernel takes the advice); NULL when out of memory; free() it. */
void *nn_alloc(size_t bytes);

/* The instruction sets natadv has GEMM kernels for. */
typedef enum nn_isa { NN_GENERIC, NN_AVX2, NN_AVX512 } nn_isa;

/* The best of them this CPU runs (a pure function of the CPU). */
nn_isa nn_isa_best(void);

/* Tile of nn_gemm's micro-kernels: NN_GEMM_NR rows x NN_GEMM_MR columns. */
#define NN_GEMM_NR 8
#define NN_GEMM_MR 48

/* Weights packed for nn_gemm: per group, ceil(m / NR) slivers of NR rows,
 * each [k][NR] (k-major, zero padded). */
typedef struct nn_packed {
	int groups, m, k; /* per group: m rows of k */
	nn_isa isa;       /* the kernels nn_gemm runs on these weights */
	float *p;         /* owned */
} nn_packed;

/* Packs w [groups * m, k] (row-major) for kernels isa; returns 0, or -1
 * on bad sizes or no memory. Release with nn_packed_release. */
int nn_pack(nn_packed *pw, const float *w, int groups, int m, int k,
            nn_isa isa);
/* nn_pack in pieces: allocates pw for groups, m and k, zeroed (0, or -1
 * on bad sizes or no memory), ... */
int nn_pack_alloc(nn_packed *pw, int groups, int m, int k, nn_isa isa);
/* ... then packs rows r0 .. r0 + nr - 1 of w [groups * m, k], given as w
 * [nr, k], in any order of pieces. */
void nn_pack_rows(nn_packed *pw, const float *w, int r0, int nr);
/* Frees pw's weights; accepts NULL and released ones. */
void nn_packed_release(nn_packed *pw);
/* Floats pw->p holds for its groups, m and k (0 when released). */
size_t nn_packed_floats(const nn_packed *pw);
/* Floats of x in nn_gemm's packed layout for k rows of cols columns:
 * ceil(cols / MR) slivers of [k][MR], the last one zero padded. */
size_t nn_gemm_packed_floats(int k, size_t cols);
/* For each group g: y_g [m, cols] = W_g x_g [k, cols] + b [g * m ..],
 * plus y_g's old contents when accumulate, then ReLU when relu; y_g = y +
 * g * ygs with rows ldy apart, b NULL for no bias. x_g = x + g * xgs has
 * rows ldx apart or, when ldx is 0, is in the packed layout of
 * nn_gemm_packed_floats. pool may be NULL. */
void nn_gemm(const nn_packed *pw, const float *b, const float *x, size_t ldx,
             size_t xgs, float *y, size_t ldy, size_t ygs, size_t cols,
             int relu, int accumulate, nn_pool *pool);

/* Floats of scratch nn_gemm_bnrelu needs on threads threads. */
size_t nn_gemm_bnrelu_scratch_floats(int threads);
/* nn_gemm of one group (pw->groups must be 1, no residual) with x [k,
 * cols] row-major (rows ldx apart) read as max(0, x * scale[r] + shift[r])
 * for each row r: a batch norm and ReLU before the product (DenseNet's
 * pre-activation), applied as each block of x is packed into scratch,
 * which holds nn_gemm_bnrelu_scratch_floats of pool's threads. The sums
 * are nn_gemm's on the transformed x, in the same order. */
void nn_gemm_bnrelu(const nn_packed *pw, const float *b, const float *x,
                    size_t ldx, const float *scale, const float *shift,
                    float *scratch, float *y, size_t ldy, size_t cols,
                    int relu, nn_pool *pool);

/* A 2-D convolution (dilation 1) with batch norm already folded in. */
typedef struct nn_conv {
	int cin, cout, k, stride, pad, groups;
	float *w; /* [cout, cin/groups, k, k], owned by whoever built it */
	float *b; /* [cout] */
	nn_packed pk; /* w packed by nn_conv_pack: what the forward pass reads */
} nn_conv;

/* Packs c->w into c->pk for nn_gemm's kernels isa (c->w stays); 0 or -1
 * when out of memory. Free with nn_packed_release(&c->pk). */
int nn_conv_pack(nn_conv *c, nn_isa isa);

/* Output size of a k-window with stride and padding over n input pixels. */
int nn_out_size(int n, int k, int stride, int pad);
/* Floats of im2col buffer needed for n images of h x w with a budget of
 * budget floats (a single image's columns always fit); 0 if no im2col. */
size_t nn_conv_col_floats(const nn_conv *c, int n, int h, int w,
                          size_t budget);
/* dst [cout, n, ho, wo] = conv(src [cin, n, h, w]) + b, plus dst's old
 * contents when accumulate (the residual add), then ReLU when relu, on
 * c->pk (see nn_conv_pack). col is scratch of col_floats floats (see
 * nn_conv_col_floats); pool may be NULL. */
void nn_conv_forward(const nn_conv *c, const float *src, int n, int h, int w,
                     float *dst, float *col, size_t col_floats, int relu,
                     int accumulate, nn_pool *pool);
/* Folds batch norm y = (x - mean) / sqrt(var + eps) * gamma + beta into
 * the conv weights w [cout, per_out] and bias b [cout] (b may hold a prior
 * bias or zeros). Returns the first channel with var + eps <= 0, or -1. */
int nn_fold_bn(float *w, float *b, int cout, size_t per_out,
               const float *gamma, const float *beta, const float *mean,
               const float *var, double eps);
/* 3x3 stride 2 padding 1 max-pool over planes planes of h x w (w <= 4096). */
void nn_maxpool_3s2(const float *src, int planes, int h, int w, float *dst,
                    nn_pool *pool);
/* 2x2 stride 2 max-pool over planes planes of h x w into h/2 x w/2. */
void nn_maxpool_2s2(const float *src, int planes, int h, int w, float *dst,
                    nn_pool *pool);
/* torch's AdaptiveAvgPool2d((oh, ow)) over planes planes of h x w. */
void nn_adaptive_avgpool(const float *src, int planes, int h, int w,
                         float *dst, int oh, int ow);
/* dst [c, n] = mean over hw of src [c, n, hw]. */
void nn_avgpool(const float *src, int c, int n, int hw, float *dst);
/* nn_avgpool of max(0, src * scale[ch] + shift[ch]) per channel ch, each
 * value as nn_scale_shift_relu computes it (no scale: nn_avgpool). */
void nn_avgpool_bnrelu(const float *src, int c, int n, int hw,
                       const float *scale, const float *shift, float *dst);
/* Floats of scratch nn_fc needs for n images. */
size_t nn_fc_scratch_floats(int classes, int n);
/* logits [n, classes] = x^T W^T + b for x [features, n] and W [classes,
 * features] packed by nn_pack (one group); scratch holds
 * nn_fc_scratch_floats. Each logit's sum over the features runs in an
 * order that does not depend on n or on pool. */
void nn_fc(const nn_packed *pw, const float *b, const float *x, int n,
           float *scratch, float *logits, nn_pool *pool);
/* A 3x3 stride-1 pad-1 ungrouped conv as Winograd F(m x m, 3x3). */
typedef struct nn_wino {
	int cin, cout;
	int m;          /* output tile side: 2 or 4 */
	nn_packed u;    /* transformed weights: (m+2)^2 groups of [cout, cin] */
	const float *b; /* [cout], the conv's bias, not owned */
} nn_wino;

/* Transforms c's weights into wg for F(m x m, 3x3), m = 2 or 4, packed
 * for nn_gemm's kernels isa (c must outlive wg for the bias); returns 0,
 * or -1 if c is not 3x3/1/1 ungrouped, m is neither, or memory ran out.
 * Release wg with nn_wino_release. */
int nn_wino_init(nn_wino *wg, const nn_conv *c, int m, nn_isa isa);
/* Frees wg's weights; accepts NULL and released ones. */
void nn_wino_release(nn_wino *wg);
/* Scratch floats nn_wino_forward needs for n images of h x w within
 * budget floats (a single image always fits). */
size_t nn_wino_scratch_floats(const nn_wino *wg, int n, int h, int w,
                              size_t budget);
/* Same contract as nn_conv_forward for the conv wg was made from. */
void nn_wino_forward(const nn_wino *wg, const float *src, int n, int h, int w,
                     float *dst, float *scratch, size_t scratch_floats,
                     int relu, int accumulate, nn_pool *pool);
/* dst [c, n, hw] = src [n, c, hw]: the caller's batch to our layout. */
void nn_nchw_to_cnhw(const float *src, int n, int c, int hw, float *dst);
/* dst [c, per] = max(0, src [c, per] * scale[c] + shift[c]): a batch norm
 * and ReLU that no convolution can absorb (DenseNet's pre-activation). */
void nn_scale_shift_relu(const float *src, int c, size_t per,
                         const float *scale, const float *shift, float *dst,
                         nn_pool *pool);
/* 2x2 stride 2 average pool (floor) over planes planes of h x w. */
void nn_avgpool_2s2(const float *src, int planes, int h, int w, float *dst,
                    nn_pool *pool);

/* nn_avgpool_2s2 over c channels of n planes of
 * max(0, src * scale[ch] + shift[ch]), each value as nn_scale_shift_relu
 * computes it (no scale: nn_avgpool_2s2 of c * n planes). */
void nn_avgpool_2s2_bnrelu(const float *src, int c, int n, int h, int w,
                           const float *scale, const float *shift,
                           float *dst, nn_pool *pool);

#endif
