-- 007_ood.sql — out-of-distribution classes (ImageNet-O). WordNet noun
-- synsets outside ImageNet-1K (and neither ancestors nor descendants of one
-- of its classes) are added to classes with index_1k NULL and their WordNet
-- names by `classes add-set NAME --ood` (the rule: common/wordnet.c,
-- enforced in store/sets.c), grouped in OOD source sets. A selection of rule
-- 'ood' proposes, for a target set (imagenet-o), the images tagged with a
-- class of such a set under the class the model predicts: proposals.wnid is
-- that predicted class (as pred_wnid), source_wnid the OOD class.
ALTER TABLE class_sets ADD COLUMN ood INTEGER NOT NULL DEFAULT 0;  -- 1: an OOD source set
ALTER TABLE proposals ADD COLUMN source_wnid TEXT REFERENCES classes(wnid);  -- rule 'ood' only
