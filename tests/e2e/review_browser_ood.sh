#!/usr/bin/env bash
# review_browser_ood.sh — the review page on ImageNet-O proposals in a real
# browser (Debian's headless Chromium, playwright-core; tests/browser/
# review_ood.mjs): photos tagged with out-of-distribution WordNet classes,
# scored with the demo model and selected with select --ood-from; every card
# must show its source synset (name and wnid) and its predicted class with
# the MSP, and no true class; the most confident one is accepted with the
# keyboard, and the review is stored as the page's. Exits 77 (SKIP) without
# Chromium, playwright-core or WordNet; `make test` installs them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/review/setup.sh"
export LC_ALL=C
unset NATADV_WORDNET
browser_needs -r /usr/share/wordnet/data.noun
P=n09391386   # photosphere
V=n04528079   # verdigris
K=n01439514   # carp

# The workspace of imagenet_o.sh, without its 20 patterns.
start_server
nat -q init
nat -q classes add-set space --ood --add "$V,$P,$K"
seeds_ood "$P" "$V" "$K" 0
nat -q crawl --seeds "$T/seeds.tsv" --allow-private
nat -q model add "$ROOT/examples/demo-model.safetensors" --name demo
nat -q score --model demo
nat -q select --set imagenet-o --ood-from space --model demo --min-confidence 0 > /dev/null
SEL=$(sql "SELECT max(id) FROM selections")
check "chelsea.png set aside as a near-duplicate (of chelsea_q90)" "near_duplicate|chelsea.png" \
	"$(sql "SELECT p.status, replace(u.url, '$BASE/img/', '') FROM proposals p JOIN urls u ON u.image_hash = p.image_hash
	        WHERE p.selection_id = $SEL AND p.status != 'proposed'")"
check "an ood selection of the five photos" "ood|5" \
	"$(sql "SELECT s.rule, count(*) FROM selections s JOIN proposals p ON p.selection_id = s.id WHERE s.id = $SEL")"

# What each card must say, by confidence (the page lists the proposals
# that are no near-duplicate): id, then
# the source synset's 'name (wnid)', then the predicted class's
# 'name (wnid) NN.N%'.
sql "SELECT p.id, s.names || ' (' || p.source_wnid || ')',
            CASE WHEN instr(c.names, ',') > 0 THEN substr(c.names, 1, instr(c.names, ',') - 1) ELSE c.names END
              || ' (' || p.pred_wnid || ') ' || printf('%.1f%%', 100 * p.confidence)
     FROM proposals p JOIN classes s ON s.wnid = p.source_wnid JOIN classes c ON c.wnid = p.pred_wnid
     WHERE p.selection_id = $SEL AND p.status = 'proposed' ORDER BY p.confidence DESC, p.id" > "$T/expect.psv"
check "four proposed, each with a source synset and a predicted class" 4 "$(grep -c '^[0-9]*|[a-z].* (n0[0-9]*)|.* (n0[0-9]*) [0-9.]*%$' "$T/expect.psv")"
ACC=$(head -n 1 "$T/expect.psv" | cut -d'|' -f1)

review_start --set imagenet-o --reviewer ood-tester
check_match "serving" '^http://127\.0\.0\.1:' "$REVIEW_URL"
timeout 60 node "$ROOT/tests/browser/review_ood.mjs" "$REVIEW_URL" "$NODE_DIR" "$T/expect.psv" > "$T/node.log" 2>&1
check "the browser run" 0 "$?"
sed 's/^/    /' "$T/node.log" >&2
review_stop
check "server stopped cleanly" 0 "$REVIEW_STATUS"
check "the accept is stored: the page's, on the predicted class, for imagenet-o" \
	"accept|$ACC|ood-tester|web|imagenet-o|$(sql "SELECT pred_wnid FROM proposals WHERE id = $ACC")" \
	"$(sql "SELECT decision, proposal_id, reviewer, mode, set_name, wnid FROM reviews")"
check "and in force" "accept|ood-tester" \
	"$(sql "SELECT rs.decision, rs.reviewer FROM review_state rs JOIN proposals p ON p.image_hash = rs.image_hash
	        AND p.wnid = rs.wnid WHERE p.id = $ACC AND rs.set_name = 'imagenet-o'")"
finish
