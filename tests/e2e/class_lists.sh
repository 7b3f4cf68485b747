#!/usr/bin/env bash
# class_lists.sh — the shipped class lists keep their promises: imagenet-o
# (and imagenet-a) hold 200 distinct classes, every one of them in
# ImageNet-1K at the logit index the list states and with its names, labels
# 0..199 in sorted wnid order (ImageFolder's); the same as schema/*.tsv says
# through `natadv classes` and in the workspace's database.
. "$(dirname "$0")/lib.sh"
S=$ROOT/schema
K=$S/imagenet1k_classes.tsv

nat -q init
check "init" 0 "$?"
check "imagenet-1k: 1000 classes, indexes 0..999" "1000|1000|0|999" \
	"$(awk -F'\t' 'NR > 1 { n++; w[$2]; if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1 }
	   END { print n "|" length(w) "|" min "|" max }' "$K")"

for set in imagenet-o imagenet-a; do
	f=$S/$(echo "$set" | tr - _)_classes.tsv
	check "$set: the file's header" "o_index	index_1k	wnid	names" "$(head -n 1 "$f" | sed 's/^a_index/o_index/')"
	check "$set: 200 rows in the file" 200 "$(tail -n +2 "$f" | grep -c .)"
	check "$set: 200 distinct wnids" 200 "$(tail -n +2 "$f" | cut -f3 | sort -u | grep -c '^n[0-9]\{8\}$')"
	check "$set: labels 0..199 in sorted wnid order" "$(seq 0 199 | tr '\n' ' ')" \
		"$(tail -n +2 "$f" | sort -t$'\t' -k3,3 | cut -f1 | tr '\n' ' ')"
	# every row: wnid in ImageNet-1K, at that logit index, with the same names
	bad=$(awk -F'\t' 'FNR == 1 { next } NR == FNR { k[$2] = $1 "\t" $3; next }
	      !($3 in k) { print "not in 1k: " $3; next }
	      k[$3] != $2 "\t" $4 { print "differs: " $3 }' "$K" "$f")
	check "$set: every class in ImageNet-1K, same index and names" "" "$bad"

	# the workspace: what natadv classes lists and what the database holds
	out=$(nat classes --set "$set")
	check "$set: natadv classes exits 0" 0 "$?"
	check "$set: natadv classes lists 200" 200 "$(printf '%s\n' "$out" | grep -c .)"
	check "$set: natadv classes agrees with the file (lines differing)" 0 \
		"$(diff <(tail -n +2 "$f" | awk -F'\t' '{ split($4, n, ", "); print $1 "\t" $3 "\t" n[1] }') \
		        <(printf '%s\n' "$out") | grep -c '^[<>]')"
	k1=$(nat classes --set imagenet-1k | cut -f2 | sort)
	check "$set: every listed wnid is listed in imagenet-1k" "" \
		"$(printf '%s\n' "$out" | cut -f2 | sort | comm -23 - <(printf '%s\n' "$k1"))"
	check "$set: --sets says 200" "200" "$(nat classes --sets | awk -F'\t' -v s="$set" '$1 == s { print $3 }')"
	check "$set: in the database, 200 members of ImageNet-1K at the file's indexes" \
		"200|200|$(tail -n +2 "$f" | cut -f2 | sort -n | tr '\n' ',')" \
		"$(sql "SELECT count(*), sum(c.wnid IN (SELECT wnid FROM class_set_members WHERE set_name = 'imagenet-1k'))
		        FROM class_set_members m JOIN classes c ON c.wnid = m.wnid WHERE m.set_name = '$set'" | tr '\n' ' ' | sed 's/ $//')|$(
		 sql "SELECT c.index_1k FROM class_set_members m JOIN classes c ON c.wnid = m.wnid
		      WHERE m.set_name = '$set' ORDER BY c.index_1k" | tr '\n' ',')"
done
finish
