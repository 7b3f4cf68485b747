#!/usr/bin/env python3
"""check_export_torchvision.py — loads natadv releases the way their users do,
with torchvision.datasets.ImageFolder (Debian's python3-torchvision), and checks
that label i is the i-th wnid of classes.tsv, that every sample's label is the
one manifest.jsonl gives its path, and that every image decodes at the size the
manifest says. A partial release (--partial) keeps its empty class folders:
ImageFolder must refuse it or, where it allows empty classes, keep the labels.

Usage: check_export_torchvision.py RELEASE_DIR [PARTIAL_RELEASE_DIR]
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


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    check_full(sys.argv[1])
    if len(sys.argv) == 3:
        check_partial(sys.argv[2])


if __name__ == "__main__":
    main()
