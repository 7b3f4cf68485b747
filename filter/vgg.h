/* vgg.h — VGG-11/13/16/19, with or without batch norm, from safetensors in
 * torchvision's layout (features.*, classifier.0/3/6) or timm's
 * <arch>.tv_in1k layout (features.*, pre_logits.fc1/fc2 as convolutions,
 * head.fc). The channel widths and the convolutions per stage are read
 * from the weights; batch norm is folded into the convolutions, and the
 * network runs on filter/plan.c like the ResNets. */
#ifndef NATADV_VGG_H
#define NATADV_VGG_H

#include <stddef.h>

#include "filter/safetensors.h"

#define VGG_STAGES 5

typedef enum vgg_layout {
	VGG_TORCHVISION = 1, /* classifier.0/3/6 as Linear */
	VGG_TIMM = 2,        /* pre_logits.fc1/fc2 as Conv2d, head.fc */
} vgg_layout;

/* What vgg_load found in the file. */
typedef struct vgg_info {
	char arch[32];           /* "vgg16", "vgg11_bn", ... or "vgg" */
	vgg_layout layout;
	int bn;                  /* batch norm after each convolution */
	int convs[VGG_STAGES];   /* 3x3 convolutions per stage */
	int width[VGG_STAGES];   /* channels out of each stage */
	int hidden;              /* width of the two hidden classifier layers */
	int classes;             /* rows of the last layer */
	size_t params;           /* float parameters read (before folding) */
} vgg_info;

typedef struct vgg vgg;

/* Builds a VGG from the tensors of f, checking every name, shape and
 * dtype; f may be freed afterwards. *out is freed with vgg_free. On error
 * returns a natadv_err code with a message naming the tensor in err. */
int vgg_load(vgg **out, const st_file *f, char *err, size_t errlen);
/* Frees the model; accepts NULL. */
void vgg_free(vgg *m);
/* The architecture found at load; owned by m. */
const vgg_info *vgg_get_info(const vgg *m);
struct plan;
/* Internal to filter/ (net.c): the plan m runs on, owned by m. */
struct plan *vgg_plan(vgg *m);

#endif
