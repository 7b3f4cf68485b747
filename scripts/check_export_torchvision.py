#!/usr/bin/env python3
"""check_export_torchvision.py — loads natadv releases the way their users do,
with torchvision.datasets.ImageFolder (Debian's python3-torchvision), and checks
that label i is the i-th wnid of classes.tsv, that every sample's label is the
one manifest.jsonl gives its path, and that every image decodes at the size the
manifest says. A partial release (--partial) keeps its empty class folders:
ImageFolder must refuse it or, where it allows empty classes, keep the labels.

An ImageNet-O release (--ood) must list imagenet-o's 200 classes in the
order of schema/imagenet_o_classes.tsv, which is ImageFolder's (sorted wnids),
and every image must carry the label of its predicted class.

Usage: check_export_torchvision.py RELEASE_DIR [PARTIAL_RELEASE_DIR]
       check_export_torchvision.py --ood IMAGENET_O_RELEASE_DIR
Run by `make check-pytorch` (not part of make test)."""
import csv
import json
import os
import sys

import torchvision


def read_release(rel):
    with open(os.path.join(rel, "classes.tsv"), newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    wnids = [r["wnid"] for r in sorted(rows, key=lambda r: int(r["label"]))]
    assert [int(r["label"]) for r in rows] == list(range(len(rows))), "classes.tsv labels are not 0..n-1"
    with open(os.path.join(rel, "manifest.jsonl")) as f:
        manifest = {e["path"]: e for e in map(json.loads, f)}
    folder = next(iter(manifest)).split("/")[0]
    return folder, wnids, manifest


def check_full(rel):
    folder, wnids, manifest = read_release(rel)
    ds = torchvision.datasets.ImageFolder(os.path.join(rel, folder))
    assert ds.classes == wnids, (ds.classes[:5], wnids[:5])
    for i, w in enumerate(wnids):
        assert ds.class_to_idx[w] == i, (w, ds.class_to_idx[w], i)
    assert len(ds.samples) == len(manifest), (len(ds.samples), len(manifest))
    for i, (path, label) in enumerate(ds.samples):
        key = os.path.relpath(path, rel)
        e = manifest[key]
        assert label == e["label"], (key, label, e["label"])
        assert wnids[label] == e["wnid"] == os.path.basename(os.path.dirname(path)), key
        img, target = ds[i]
        assert target == label
        assert img.size == (e["width"], e["height"]), (key, img.size, e["width"], e["height"])
    print(f"ok: {rel}: {len(ds)} images in {len(wnids)} classes; ImageFolder's label i is the i-th wnid")


def check_partial(rel):
    folder, wnids, manifest = read_release(rel)
    root = os.path.join(rel, folder)
    classes, class_to_idx = torchvision.datasets.folder.find_classes(root)
    assert classes == wnids, "the empty class folders must be kept so later labels do not shift"
    assert all(class_to_idx[w] == i for i, w in enumerate(wnids))
    try:
        ds = torchvision.datasets.ImageFolder(root)
    except FileNotFoundError as e:
        assert "no valid file" in str(e).lower(), e
        print(f"ok: {rel}: ImageFolder refuses the partial release (empty classes) instead of shifting labels")
        return
    for path, label in ds.samples:
        assert label == manifest[os.path.relpath(path, rel)]["label"]
    print(f"ok: {rel}: {len(ds)} images; labels kept across empty classes")


def check_ood(rel):
    folder, wnids, manifest = read_release(rel)
    assert folder == "imagenet-o", folder
    schema = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schema", "imagenet_o_classes.tsv")
    with open(schema, newline="") as f:
        order = [r["wnid"] for r in sorted(csv.DictReader(f, delimiter="\t"), key=lambda r: int(r["o_index"]))]
    assert len(order) == 200 and wnids == order, "classes.tsv is not imagenet-o's 200 classes in order"
    root = os.path.join(rel, folder)
    classes, class_to_idx = torchvision.datasets.folder.find_classes(root)
    assert classes == order, "ImageFolder's class order is not imagenet-o's"
    # This torchvision refuses empty class folders (a partial release): load the
    # classes that have images, each with its label among the 200.
    present = {w: i for w, i in class_to_idx.items() if any(os.scandir(os.path.join(root, w)))}
    samples = torchvision.datasets.folder.make_dataset(root, present, torchvision.datasets.folder.IMG_EXTENSIONS)
    assert len(samples) == len(manifest), (len(samples), len(manifest))
    loader = torchvision.datasets.folder.default_loader
    for path, label in samples:
        e = manifest[os.path.relpath(path, rel)]
        assert label == e["label"] and order[label] == e["pred_wnid"] == e["wnid"], (path, label)
        assert e["source_wnid"] not in order and e["msp"] == e["confidence"], path
        assert loader(path).size == (e["width"], e["height"]), path
    print(f"ok: {rel}: {len(samples)} images in {len(present)} of imagenet-o's 200 classes, "
          "ImageFolder's order, each under its predicted class")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--ood":
        check_ood(sys.argv[2])
        return
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    check_full(sys.argv[1])
    if len(sys.argv) == 3:
        check_partial(sys.argv[2])


if __name__ == "__main__":
    main()
