#!/usr/bin/env bash
# review_browser.sh — the review page end to end in a real browser: Debian's
# headless Chromium driven by playwright-core (tests/browser/review.mjs)
# accepts two proposals and rejects one with the keyboard and undoes the
# rejection; then natadv audit must show exactly those four reviews. Saves
# build/review.png. Exits 77 (run.sh prints SKIP) only when Chromium or
# playwright-core is not installed; `make test` installs both.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/review/setup.sh"
browser_needs

review_workspace || { echo "cannot build the test workspace" >&2; exit 1; }
review_start --reviewer browser-tester --target 2
check_match "serving" '^http://127\.0\.0\.1:' "$REVIEW_URL"
rm -f "$ROOT/build/review.png"   # not one left by an earlier run
timeout 120 node "$ROOT/tests/browser/review.mjs" "$REVIEW_URL" "$ROOT/build/review.png" "$NODE_DIR" "$P_BYCONF" > "$T/node.log" 2>&1
check "the browser run" 0 "$?"
sed 's/^/    /' "$T/node.log" >&2
review_stop
check "server stopped cleanly" 0 "$REVIEW_STATUS"
check "screenshot saved" 89504e470d0a1a0a "$(head -c 8 "$ROOT/build/review.png" 2> /dev/null | od -An -tx1 | tr -d ' \n')"
# The review log as natadv audit shows it, image by image: for each of the
# seven, its reviews (decision, proposal, reason, reviewer, mode, the
# decision of the review it undoes, set, class) and the decision in force.
read -r P1 P2 P3 P4 P5 P6 <<< "$P_BYCONF"
log=
# shellcheck disable=SC2154
for h in "$H_chelsea" "$H_chelsea_q90" "$H_hubble_deep_field" "$H_coffee_q90" "$H_coffee" "$H_rocket" "$H_chelsea_prog"; do
	log+=$(nat audit --json "$h" | python3 -c '
import json, sys
d = json.load(sys.stdin)
by_id = {r["id"]: r for r in d["reviews"]}
for r in d["reviews"]:
    r["undoes"] = r["undoes"] and by_id[r["undoes"]]["decision"]
    print("|".join(str(r[k]) for k in ("decision", "proposal_id", "reason", "reviewer", "mode", "undoes", "set", "wnid")))
for r in d["review_in_force"]:
    print("in force: " + r["decision"] + " by " + r["reviewer"])')$'\n'
done
check "exactly accept, accept, reject, undo; two accepted in force" "accept|$P1|None|browser-tester|web|None|imagenet-a|n02077923
in force: accept by browser-tester
accept|$P3|None|browser-tester|web|None|imagenet-a|n02119022
in force: accept by browser-tester
reject|$P4|several objects|browser-tester|web|None|imagenet-a|n02129165
undo|$P4|None|browser-tester|web|reject|imagenet-a|n02129165" "$(printf '%s' "$log" | grep -v '^$')"
finish
