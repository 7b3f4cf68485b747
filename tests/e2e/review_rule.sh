#!/usr/bin/env bash
# review_rule.sh — the one review rule, from the command line and the page
# alike: an image proposed for two classes can be accepted for one only
# (an accept, or an undo that would bring one back, for the second class is
# refused with the reason), and the set stays exportable.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/review/setup.sh"

start_server
nat -q init
# The same photo tagged with two classes; the demo model gets both wrong.
{
	printf 'url\twnid\n'
	printf '%s/img/chelsea_q90.jpg\tn02123394\n' "$BASE"
	printf '%s/img/chelsea_q90.jpg\tn02077923\n' "$BASE"
} > "$T/seeds.tsv"
nat -q crawl --seeds "$T/seeds.tsv" --allow-private
check "crawl" 0 "$?"
nat -q model add "$ROOT/examples/demo-model.safetensors" --name demo && nat -q score --model demo
nat -q select --model demo --min-confidence 0.25 > /dev/null
check "select" 0 "$?"
PA=$(sql "SELECT id FROM proposals WHERE wnid = 'n02123394'")
PB=$(sql "SELECT id FROM proposals WHERE wnid = 'n02077923'")
check_match "one image proposed for two classes" "^[0-9]+ [0-9]+$" "$PA $PB"

# ---- the command line ----
RA=$(nat -q review --accept "$PA" --reviewer ann | cut -f1)
check_match "accepted for one class" "^[0-9]+$" "$RA"
nat -q review --accept "$PB" --reviewer ann 2> "$T/err"
check "an accept for the second class is refused" 1 "$?"
check_match "with the reason" "cannot accept proposal $PB, nothing recorded: an image belongs to one class: image [0-9a-f]{32} is accepted for class 'n02123394' of 'imagenet-a' already \(review $RA\)" "$(cat "$T/err")"
nat -q review --accept "$PA" "$PB" --reviewer ann 2> /dev/null
check "ids of one call: all or nothing" "1" "$(sql "SELECT count(*) FROM reviews")"
nat -q review --reject "$PB" --reason 'a cat, not a lion' --reviewer ann > /dev/null
check "a reject of the second class is fine" 0 "$?"

# ---- the page ----
review_start --reviewer bob
code=$(curl -s -o "$T/body" -w '%{http_code}' -H "X-Natadv-Token: $TOKEN" -H "Origin: $RBASE" \
	-H 'Content-Type: application/json' --data-binary "{\"proposal_id\":$PB,\"decision\":\"accept\"}" "$RBASE/api/decision")
check "the page: an accept for the second class is a conflict" 409 "$code"
check_match "saying why" "is accepted for class 'n02123394'" "$(cat "$T/body")"
review_stop
check "decisions in force: one accept" "n02077923|reject n02123394|accept" \
	"$(sql "SELECT wnid || '|' || decision FROM review_state ORDER BY wnid" | tr '\n' ' ' | sed 's/ $//')"

# ---- moving the image to the other class: reject the first, then accept ----
RJ=$(nat -q review --reject "$PA" --reason 'it is the other class' --reviewer ann | cut -f1)
nat -q review --accept "$PB" --reviewer ann > /dev/null
check "after a reject, the other class may be accepted" 0 "$?"
nat -q review --undo "$RJ" --reviewer ann 2> "$T/err"
check "an undo that would bring the first accept back is refused" 1 "$?"
check_match "and says so" "the undo would bring back an accept: image [0-9a-f]{32} is accepted for class 'n02077923'" "$(cat "$T/err")"
nat -q export --out "$T/rel" --partial > /dev/null 2> "$T/err"
check "the set stays exportable" 0 "$?"
check "one file, in the accepted class" "n02077923" "$(ls "$T/rel/imagenet-a" | grep -v README | while read -r d; do ls "$T/rel/imagenet-a/$d" | grep -q . && echo "$d"; done)"
finish
