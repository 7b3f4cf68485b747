#!/usr/bin/env bash
# select.sh — class sets, the adversarial filter, review and eval end to end:
# fixtures crawled over loopback, scored by the small test ResNets, selected
# with thresholds, reviewed (accept, reject, undo, auto-accept), re-selected
# (history kept), and a hand-made release evaluated.
. "$(dirname "$0")/lib.sh"
TINY=$ROOT/tests/golden/tiny_basic.safetensors
TINYX=$ROOT/tests/golden/tiny_resnext.safetensors
# The ten ImageNet-1K classes the 10-output test models have logits for.
K10="n01440764 n01443537 n01484850 n01491361 n01494475 n01496331 n01498041 n01514668 n01514859 n01518878"

nat -q init
nat -q model add "$TINY" --name tiny
nat -q model add "$TINYX" --name tinyx
check_match "help with a workspace option" "add-set NAME" "$(nat classes --help)"

# ---- class sets ----
nat classes add-set imagenet-a --add n01440764 2> "$T/err"
check "an existing set name is refused" 1 "$?"
check_match "and named" "a class set named 'imagenet-a' exists" "$(cat "$T/err")"
nat classes add-set x --add n99999999 2> "$T/err"
check "an unknown wnid is refused" 1 "$?"
check_match "and named" "unknown wnid 'n99999999'" "$(cat "$T/err")"
nat classes add-set x --add n01498041 2> "$T/err"
check "a class already in the base set is refused" 1 "$?"
nat classes add-set x --add n01440764,n01440764 2> "$T/err"
check "a wnid given twice is refused" 1 "$?"
nat classes add-set x --from nope --add n01440764 2> "$T/err"
check "an unknown base set is refused" 1 "$?"
nat classes add-set x 2> "$T/err"
check "--add is required" 2 "$?"
nat classes add-set 'a/b' --add n01440764 2> "$T/err"
check "a name that is no folder name is refused" 1 "$?"
check "refusals leave no set" 3 "$(sql 'SELECT count(*) FROM class_sets')"
nat -q classes add-set tiny10 --add n01518878,n01440764,n01443537,n01484850,n01491361,n01494475,n01496331,n01514668,n01514859
check "add-set" 0 "$?"
check "base classes plus the added ones" 209 "$(nat classes --set tiny10 | wc -l)"
check "labels follow sorted wnids" "0" "$(sql "SELECT count(*) FROM class_set_members a JOIN class_set_members b
	ON a.set_name = b.set_name AND a.set_index < b.set_index AND a.wnid > b.wnid WHERE a.set_name IN ('tiny10', 'imagenet-a')")"
check "labels are 0..n-1" "0|208" "$(sql "SELECT min(set_index) || '|' || max(set_index) FROM class_set_members WHERE set_name = 'tiny10'")"
check "based on, run recorded" "imagenet-a|classes" "$(sql "SELECT based_on || '|' || r.command FROM class_sets s JOIN runs r ON r.id = s.run_id WHERE name = 'tiny10'")"
check_match "classes --sets" "^tiny10	1	209	imagenet-a	" "$(nat classes --sets | grep tiny10)"
nat -q classes add-set k10 --from none --add "$(echo $K10 | tr ' ' ,)"
check "a set from nothing" 10 "$(nat classes --set k10 | wc -l)"

# ---- crawl and score ----
start_server
{
	printf 'url\twnid\n'
	printf '%s/img/chelsea_q90.jpg\tn01440764\n' "$BASE"       # tench; the model says ostrich
	printf '%s/img/chelsea_q90.jpg\tn01518878\n' "$BASE"       # ostrich: right
	printf '%s/img/chelsea_prog.jpg\tn01440764\n' "$BASE"
	printf '%s/img/chelsea_gray.jpg\tn01440764\n' "$BASE"
	printf '%s/img/coffee_q90.jpg\tn01484850\n' "$BASE"        # shark; the model says goldfish
	printf '%s/img/coffee_prog444.jpg\tn01484850\n' "$BASE"
	printf '%s/same/a/coffee_prog444.jpg\tn01484850\n' "$BASE"  # the same image and class from a second URL
	printf '%s/img/hubble_deep_field.jpg\tn01443537\n' "$BASE" # goldfish, but it has 0.198 of it
	printf '%s/img/rocket.jpg\tn01514859\n' "$BASE"            # wrong but with 0.139 only
	printf '%s/img/chelsea.png\tn01494475\n' "$BASE"
	printf '%s/img/chelsea_ycck.jpg\tn01518878\n' "$BASE"
	printf '%s/img/coffee.png\tn02123045\n' "$BASE"            # a class outside the set
	for i in 1 2 3 4 5; do printf '%s/gen/%d.jpg\tn01514668\n' "$BASE" "$i"; done  # same pixels
} > "$T/seeds.tsv"
nat -q crawl --seeds "$T/seeds.tsv" --allow-private
check "images stored" 15 "$(sql 'SELECT count(*) FROM images')"
check "one (image, class) through two URLs" 2 "$(sql "SELECT count(*) FROM image_tags t JOIN urls u ON u.image_hash = t.image_hash
	WHERE u.url LIKE '%/same/a/%' AND t.wnid = 'n01484850'")"
nat select --model tiny --set tiny10 > /dev/null 2> "$T/err"
check "select before score: a selection with nothing scored" 0 "$?"
check_match "and says so" "15 tags are on images 'tiny' has not scored" "$(cat "$T/err")"
nat -q score --model tiny
nat -q score --model tinyx

# ---- select: usage and refusals ----
nat select 2> /dev/null
check "--model is required" 2 "$?"
nat select --model tiny --space 2k 2> /dev/null
check "a bad space is a usage error" 2 "$?"
nat select --model tiny --min-confidence 1.5 2> /dev/null
check "a probability above 1 is a usage error" 2 "$?"
nat select --model tiny --near-distance 40 2> /dev/null
check "a distance above 32 is a usage error" 2 "$?"
before=$(sql 'SELECT count(*) FROM selections')
nat select --model nope --set tiny10 2> "$T/err"
check "an unknown model fails" 1 "$?"
nat select --model tiny 2> "$T/err"
check "imagenet-a has one class the 10-output model can score" 1 "$?"
check_match "and says so" "has 1 class that model 'tiny' can score" "$(cat "$T/err")"
nat select --model tiny --set tiny10 --also-wrong-for tiny 2> "$T/err"
check "the model itself as --also-wrong-for is refused" 1 "$?"
check "refused selections record nothing" "$before" "$(sql 'SELECT count(*) FROM selections')"

# ---- select, 1k space, everything wrong: against the scores table ----
out=$(nat select --model tiny --set tiny10 --space 1k --min-confidence 0 --max-true-prob 1 2> "$T/err")
check "select 1k" 0 "$?"
S1=$(sql 'SELECT max(id) FROM selections')
expected=$(sql "SELECT count(*) FROM (SELECT DISTINCT t.image_hash, t.wnid FROM image_tags t
	JOIN class_set_members m ON m.set_name = 'tiny10' AND m.wnid = t.wnid JOIN classes c ON c.wnid = t.wnid
	JOIN scores s ON s.image_hash = t.image_hash AND s.model_id = (SELECT id FROM models WHERE name = 'tiny')
	WHERE s.status = 'scored' AND c.index_1k < 10 AND s.pred_1k != c.index_1k)")
check "every wrong tag is proposed or collapsed" "$expected" "$(sql "SELECT count(*) FROM proposals WHERE selection_id = $S1")"
check_match "some are wrong" "^1[0-9]$" "$expected"
check "confidence recomputed from logits equals the stored top-1" 0 "$(sql "SELECT count(*) FROM proposals p
	JOIN selections sel ON sel.id = p.selection_id JOIN scores s ON s.image_hash = p.image_hash AND s.model_id = sel.model_id
	JOIN classes c ON c.wnid = p.pred_wnid WHERE p.selection_id = $S1 AND (abs(p.confidence - s.prob_1k) > 1e-5 OR c.index_1k != s.pred_1k)")"
check_match "per-class table total" "^total +15 +15 +$expected +$expected " "$(printf '%s\n' "$out" | grep '^total')"
check_match "summary line" "selection $S1 of 'tiny10' with 'tiny' \(space 1k, 10 classes" "$(cat "$T/err")"
check_match "outside-the-set tag ignored, classes without a logit noted" "199 classes of 'tiny10' beyond the 10 outputs" "$(cat "$T/err")"

# ---- select, subset space with thresholds ----
out=$(nat select --model tiny --set tiny10 --min-confidence 0.15 --max-true-prob 0.15 2> "$T/err")
check "select subset" 0 "$?"
S2=$(sql 'SELECT max(id) FROM selections')
check "a new selection is in force" "$S2" "$(sql "SELECT selection_id FROM current_selection WHERE set_name = 'tiny10'")"
check "finished, counts filled" "1|3|5" "$(sql "SELECT (finished_at IS NOT NULL) || '|' || proposals || '|' || near_duplicates FROM selections WHERE id = $S2")"
check "proposed + near-duplicates" "proposed|3 near_duplicate|5" "$(sql "SELECT status || '|' || count(*) FROM proposals WHERE selection_id = $S2 GROUP BY status ORDER BY status DESC" | tr '\n' ' ' | sed 's/ $//')"
check "every proposal meets the rule" 0 "$(sql "SELECT count(*) FROM proposals WHERE selection_id = $S2
	AND (confidence < 0.15 OR true_prob > 0.15 OR pred_wnid = wnid OR confidence < true_prob)")"
check "predictions are classes of the set" 0 "$(sql "SELECT count(*) FROM proposals p WHERE selection_id = $S2
	AND NOT EXISTS (SELECT 1 FROM class_set_members m WHERE m.set_name = 'tiny10' AND m.wnid = p.pred_wnid)")"
check "rocket (confidence 0.139) and hubble (true prob 0.198) are not proposed" 0 "$(sql "SELECT count(*) FROM proposals p
	JOIN urls u ON u.image_hash = p.image_hash WHERE p.selection_id = $S2 AND (u.url LIKE '%rocket%' OR u.url LIKE '%hubble%')")"
check "a right prediction is not proposed" 0 "$(sql "SELECT count(*) FROM proposals WHERE selection_id = $S2 AND wnid = 'n01518878'")"
check "five copies of one photo collapse into one" "1|4" "$(sql "SELECT sum(status = 'proposed') || '|' || sum(status = 'near_duplicate') FROM proposals WHERE selection_id = $S2 AND wnid = 'n01514668'")"
check "each duplicate names a kept proposal of its class, within the distance, no more confident" 0 "$(sql "SELECT count(*) FROM proposals d
	LEFT JOIN proposals k ON k.id = d.duplicate_of WHERE d.selection_id = $S2 AND d.status = 'near_duplicate'
	AND (k.id IS NULL OR k.selection_id != d.selection_id OR k.wnid != d.wnid OR k.status != 'proposed'
	     OR d.distance > 6 OR d.confidence > k.confidence)")"
check "the kept one is the most confident of its copies" 0 "$(sql "SELECT count(*) FROM proposals d JOIN proposals k ON k.id = d.duplicate_of
	WHERE d.selection_id = $S2 AND d.confidence > k.confidence")"
check "parameters recorded" "misclassified|subset|0.15|0.15|6|[]" "$(sql "SELECT rule || '|' || json_extract(params, '\$.space') || '|' ||
	json_extract(params, '\$.min_confidence') || '|' || json_extract(params, '\$.max_true_prob') || '|' ||
	json_extract(params, '\$.near_distance') || '|' || also_model_ids FROM selections WHERE id = $S2")"
check "model and run recorded" "tiny|select" "$(sql "SELECT m.name || '|' || r.command FROM selections s JOIN models m ON m.id = s.model_id JOIN runs r ON r.id = s.run_id WHERE s.id = $S2")"
check_match "per-class line" "^n01514668 +5 +5 +5 +5 +1 +4  cock$" "$(printf '%s\n' "$out" | grep '^n01514668')"

# ---- a select that fails while writing leaves nothing (a fault injected by a trigger) ----
nsel=$(sql 'SELECT count(*) FROM selections')
nprop=$(sql 'SELECT count(*) FROM proposals')
sql "CREATE TRIGGER fault BEFORE INSERT ON proposals WHEN (SELECT count(*) FROM proposals
	WHERE selection_id = NEW.selection_id) >= 2 BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
nat -q select --model tiny --set tiny10 --min-confidence 0.15 --max-true-prob 0.15 > /dev/null 2> "$T/err"
check "a failing write fails the command" 1 "$?"
check_match "and says nothing was recorded" "select failed, nothing recorded: .*injected fault" "$(cat "$T/err")"
check "no selection row, no proposal left" "$nsel|$nprop" "$(sql 'SELECT count(*) FROM selections')|$(sql 'SELECT count(*) FROM proposals')"
check "the one in force is unchanged" "$S2" "$(sql "SELECT selection_id FROM current_selection WHERE set_name = 'tiny10'")"
sql "DROP TRIGGER fault"
nat -q select --model tiny --set tiny10 --min-confidence 0.15 --max-true-prob 0.15 > /dev/null
S2=$(sql 'SELECT max(id) FROM selections')
PROPOSED=$(sql "SELECT group_concat(id, ' ') FROM (SELECT id FROM proposals WHERE selection_id = $S2 AND status = 'proposed' ORDER BY id)")
DUP=$(sql "SELECT min(id) FROM proposals WHERE selection_id = $S2 AND status = 'near_duplicate'")
set -- $PROPOSED
P1=$1 P2=$2 P3=$3

# ---- review ----
reviews() { sql 'SELECT count(*) FROM reviews'; }
nat review 2> /dev/null
check "an action is required" 2 "$?"
nat review --reject "$P1" --set tiny10 2> "$T/err"
check "reject needs a reason" 2 "$?"
nat review --accept "$P1" 999999 --set tiny10 2> "$T/err"
check "an unknown id fails" 1 "$?"
check_match "and is named" "proposal 999999 does not exist" "$(cat "$T/err")"
check "and nothing is recorded, not even the good id" 0 "$(reviews)"
nat review --accept "$DUP" 2> "$T/err"
check "a collapsed near-duplicate is refused" 1 "$?"
check_match "naming the kept one" "near-duplicate collapsed into proposal" "$(cat "$T/err")"
nat review --accept "$P1" --set imagenet-a 2> "$T/err"
check "a proposal of another set is refused" 1 "$?"
nat review --accept "$(sql "SELECT min(id) FROM proposals WHERE selection_id = $S1")" 2> "$T/err"
check "a proposal of a superseded selection is refused" 1 "$?"
check_match "and says so" "superseded by selection $S2" "$(cat "$T/err")"
out=$(NATADV_REVIEWER=alice nat -q review --accept "$P1,$P2")
check "accept two" 0 "$?"
check "one review row per id on stdout" 2 "$(printf '%s\n' "$out" | grep -c '	accept$')"
R1=$(printf '%s\n' "$out" | head -1 | cut -f1)
nat -q review --reject "$P3" --reason "the label is wrong" --reviewer bob > /dev/null
check "decisions in force" "accept|alice|cli accept|alice|cli reject|bob|cli" "$(sql "SELECT rs.decision || '|' || rs.reviewer || '|' || rs.mode FROM review_state rs
	JOIN proposals p ON p.image_hash = rs.image_hash AND p.wnid = rs.wnid WHERE p.id IN ($P1, $P2, $P3) AND rs.set_name = 'tiny10' ORDER BY p.id" | tr '\n' ' ' | sed 's/ $//')"
check "reason kept" "the label is wrong" "$(sql "SELECT reason FROM reviews WHERE decision = 'reject'")"
check "list accepted" "$P1 $P2" "$(nat -q review --list --set tiny10 --state accepted | cut -f1 | tr '\n' ' ' | sed 's/ $//')"
check "list undecided includes the near-duplicates" 5 "$(nat -q review --list --set tiny10 --state undecided | wc -l)"
json=$(nat review --list --set tiny10 --json)
check "json: one object per proposal" 8 "$(printf '%s\n' "$json" | grep -c '^{"id":')"
check_match "json fields" "\"id\":$P3,.*\"status\":\"proposed\",\"duplicate_of\":null,\"distance\":null,\"decision\":\"reject\",.*\"reviewer\":\"bob\",\"reason\":\"the label is wrong\"" "$json"
nat -q review --undo "$R1" > /dev/null
check "undo" 0 "$?"
check "undone: undecided again" "" "$(sql "SELECT rs.decision FROM review_state rs JOIN proposals p ON p.image_hash = rs.image_hash AND p.wnid = rs.wnid WHERE p.id = $P1")"
nat -q review --undo "$R1" 2> "$T/err"
check "an undo twice is refused" 1 "$?"
n=$(reviews)
nat -q review --auto-accept --set tiny10 > "$T/auto"
check "auto-accept" 0 "$?"
check "auto-accept took the one undecided proposal" "1|$P1" "$(sql "SELECT count(*) || '|' || max(proposal_id) FROM reviews WHERE mode = 'auto'")"
check "and nothing else" "$((n + 1))" "$(reviews)"
nat -q review --auto-accept --set tiny10 > /dev/null
check "a second auto-accept finds nothing" "$((n + 1))" "$(reviews)"
check "append-only: rows by decision" "accept|3 reject|1 undo|1" "$(sql "SELECT decision || '|' || count(*) FROM reviews GROUP BY decision ORDER BY decision" | tr '\n' ' ' | sed 's/ $//')"

# ---- re-selecting supersedes, history and decisions stay ----
nsel=$(sql 'SELECT count(*) FROM selections')
nprop=$(sql 'SELECT count(*) FROM proposals')
nat -q select --model tiny --set tiny10 --min-confidence 0.2 --max-true-prob 0.15 > /dev/null
S3=$(sql 'SELECT max(id) FROM selections')
check "a new selection" "$((nsel + 1))|$S3" "$(sql 'SELECT count(*) FROM selections')|$(sql "SELECT selection_id FROM current_selection WHERE set_name = 'tiny10'")"
check "old proposals kept" "$nprop" "$(sql "SELECT count(*) FROM proposals WHERE selection_id < $S3")"
check "stricter: fewer proposals" "2" "$(sql "SELECT count(*) FROM proposals WHERE selection_id = $S3 AND status = 'proposed'")"
check "decisions carry over to the new selection" "accept reject" "$(nat -q review --list --set tiny10 | awk '$3 == "proposed" {print $2}' | tr '\n' ' ' | sed 's/ $//')"
nat -q review --accept "$P1" 2> "$T/err"
check "the old ids are refused now" 1 "$?"

# ---- ensemble: also wrong for a second model ----
nat -q select --model tiny --set tiny10 --space 1k --min-confidence 0 --max-true-prob 1 --also-wrong-for tinyx > /dev/null 2> "$T/err"
check "select with --also-wrong-for" 0 "$?"
S4=$(sql 'SELECT max(id) FROM selections')
expected=$(sql "SELECT count(*) FROM (SELECT DISTINCT t.image_hash, t.wnid FROM image_tags t
	JOIN class_set_members m ON m.set_name = 'tiny10' AND m.wnid = t.wnid JOIN classes c ON c.wnid = t.wnid
	JOIN scores a ON a.image_hash = t.image_hash AND a.model_id = (SELECT id FROM models WHERE name = 'tiny')
	JOIN scores b ON b.image_hash = t.image_hash AND b.model_id = (SELECT id FROM models WHERE name = 'tinyx')
	WHERE c.index_1k < 10 AND a.pred_1k != c.index_1k AND b.pred_1k != c.index_1k)")
check "only what both models get wrong" "$expected" "$(sql "SELECT count(*) FROM proposals WHERE selection_id = $S4")"
check "the other model recorded" "[\"$(sql "SELECT id FROM models WHERE name = 'tinyx'")\"]|[\"tinyx\"]" "$(sql "SELECT also_model_ids || '|' || json_extract(params, '\$.also_wrong_for') FROM selections WHERE id = $S4")"

# ---- a class without a logit is skipped with a note ----
sql "INSERT INTO classes(wnid, index_1k, names) VALUES('n09999999', NULL, 'not in ImageNet-1K');
	INSERT INTO class_set_members(set_name, set_index, wnid) VALUES('k10', 10, 'n09999999');
	INSERT INTO image_tags(image_hash, wnid, url_id) SELECT image_hash, 'n09999999', id FROM urls WHERE url LIKE '%rocket.jpg'"
out=$(nat select --model tiny --set k10 --min-confidence 0 --max-true-prob 1 2> "$T/err")
check "select over a set with a class outside ImageNet-1K" 0 "$?"
check_match "noted" "1 class of 'k10' outside ImageNet-1K cannot be scored: skipped" "$(cat "$T/err")"
check_match "its tag is counted, not judged" "^n09999999 +1 +0 +0 +0 +0 +0  \(no logit: skipped\)$" "$(printf '%s\n' "$out" | grep n09999999)"
check "and proposes nothing for it" 0 "$(sql "SELECT count(*) FROM proposals WHERE wnid = 'n09999999'")"

# ---- eval on a hand-made release ----
R=$T/release
mkdir -p "$R/tiny/n01440764" "$R/tiny/n01443537" "$R/tiny/n01484850" "$R/tiny/n01518878"
cp "$FIX/chelsea_q90.jpg" "$FIX/chelsea_gray.jpg" "$R/tiny/n01440764/"
cp "$FIX/coffee_q90.jpg" "$R/tiny/n01443537/"
cp "$FIX/coffee_prog444.jpg" "$R/tiny/n01484850/"
cp "$FIX/chelsea_ycck.jpg" "$FIX/rocket.jpg" "$R/tiny/n01518878/"
echo "The test release." > "$R/tiny/README.txt"
{ printf 'label\twnid\tindex_1k\tname\n'; i=0; for w in $K10; do printf '%d\t%s\t%d\tc%d\n' $i $w $i $i; i=$((i + 1)); done; } > "$R/classes.tsv"
# expected accuracy from classify: the argmax over all 10 outputs is the argmax over the release's 10 classes
right=0
for f in "$R"/tiny/n*/*.jpg; do
	w=$(basename "$(dirname "$f")")
	label=$(awk -v w="$w" '$2 == w {print $1}' "$R/classes.tsv")
	pred=$("$NATADV" classify --json --model "$TINY" "$f" | sed 's/.*"top5":\[{"index":\([0-9]*\),.*/\1/')
	[ "$pred" = "$label" ] && right=$((right + 1))
done
json=$(nat eval --model tiny --json "$R")
check "eval" 0 "$?"
check_match "json keys" '^\{"model":"tiny","n":6,"accuracy":[0-9.e-]+,"rms_calibration_error":null,"aurra":[0-9.e-]+\}$' "$json"
check "accuracy agrees with classify" "$(awk -v r=$right 'BEGIN {printf "%.4f", r / 6}')" "$(printf '%s' "$json" | sed 's/.*"accuracy":\([0-9.e-]*\),.*/\1/' | awk '{printf "%.4f", $1}')"
check_match "aurra in [0,1]" '"aurra":(0(\.[0-9]+)?|1)\}' "$json"
check "the model file works without a workspace" "${json/\"tiny\"/\"$TINY\"}" "$("$NATADV" -w "$T/none" eval --model "$TINY" --json "$R" 2>/dev/null)"
json2=$(nat eval --model tiny --json "$R/tiny" 2>/dev/null)
check_match "the inner folder: classes from its sorted subfolders" '^\{"model":"tiny","n":6,"accuracy":' "$json2"
check_match "text output: a row per model" "^tiny +6 +[0-9]+\.[0-9]{2}% +n/a +[0-9]+\.[0-9]{2}%$" "$(nat eval --model tiny "$R" 2>/dev/null)"
# the filter's own release: accepted proposals of the subset selection, whose space is the 10 classes
S=$(sql "SELECT id FROM selections WHERE id < $S3 ORDER BY id DESC LIMIT 1")
R2=$T/own
mkdir -p "$R2/tiny10"
cp "$R/classes.tsv" "$R2/"
while IFS='|' read -r hash wnid; do
	mkdir -p "$R2/tiny10/$wnid"
	cp "$T/ws/objects/${hash:0:2}/${hash:2}" "$R2/tiny10/$wnid/$hash.jpg"
done < <(sql "SELECT p.image_hash, p.wnid FROM proposals p JOIN images i ON i.hash = p.image_hash
	WHERE p.selection_id = $S AND p.status = 'proposed' AND i.format = 'jpeg'")
json=$(nat eval --model tiny --json "$R2")
check_match "the filter model gets 0 on its own selection" '^\{"model":"tiny","n":2,"accuracy":0,' "$json"
nat eval --model tiny "$T/nowhere" 2> "$T/err"
check "a missing release fails" 1 "$?"
mkdir -p "$T/bad/set/n02123045"
cp "$FIX/rocket.jpg" "$T/bad/set/n02123045/"
nat eval --model tiny "$T/bad" 2> "$T/err"
check "a class the model has no output for fails" 1 "$?"
check_match "and is named" "n02123045' \(1K index 281\) has no output in a model of 10 classes" "$(cat "$T/err")"
printf 'not a jpeg' > "$R/tiny/n01443537/broken.jpg"
json=$(nat eval --model tiny --json "$R" 2> "$T/err")
check "an unreadable image makes exit 3" 3 "$?"
check_match "it is named and left out" "cannot evaluate '.*broken.jpg'" "$(cat "$T/err")"
check_match "the others still count" '^\{"model":"tiny","n":6,' "$json"
check "integrity" ok "$(sql 'PRAGMA integrity_check')"
check "foreign keys" "" "$(sql 'PRAGMA foreign_key_check')"
finish
