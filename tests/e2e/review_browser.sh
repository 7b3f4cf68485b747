#!/usr/bin/env bash
# review_browser.sh — the review page end to end in a real browser: Debian's
# headless Chromium driven by playwright-core (tests/browser/review.mjs)
# accepts two proposals and rejects one with the keyboard and undoes the
# rejection; then the review log must hold exactly those four rows. Saves
# build/review.png. Exits 77 (run.sh prints SKIP) only when Chromium or
# playwright-core is not installed; `make test` installs both.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/review/setup.sh"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
NODE_DIR=${NODE_DIR:-$ROOT/build/node}
export CHROMIUM
if [ ! -x "$CHROMIUM" ] || ! command -v node > /dev/null || [ ! -d "$NODE_DIR/node_modules/playwright-core" ]; then
	echo "SKIP: needs $CHROMIUM, node and playwright-core in $NODE_DIR (make test installs them)"
	exit 77
fi

review_workspace || { echo "cannot build the test workspace" >&2; exit 1; }
review_start --reviewer browser-tester --target 2
check_match "serving" '^http://127\.0\.0\.1:' "$REVIEW_URL"
timeout 120 node "$ROOT/tests/browser/review.mjs" "$REVIEW_URL" "$ROOT/build/review.png" "$NODE_DIR" > "$T/node.log" 2>&1
check "the browser run" 0 "$?"
sed 's/^/    /' "$T/node.log" >&2
review_stop
check "server stopped cleanly" 0 "$REVIEW_STATUS"
check "screenshot saved" 1 "$([ -s "$ROOT/build/review.png" ] && echo 1)"
# The review log through sqlite3 (switch to `natadv audit` once it lands).
reject_id=$(sql "SELECT id FROM reviews WHERE decision = 'reject'")
check "exactly accept, accept, reject, undo" "accept|11||browser-tester|web|
accept|13||browser-tester|web|
reject|14|several objects|browser-tester|web|
undo|14||browser-tester|web|$reject_id" \
	"$(sql "SELECT decision, proposal_id, reason, reviewer, mode, undoes FROM reviews ORDER BY id")"
check "in force: two accepted, nothing rejected" "11|accept
13|accept" \
	"$(sql "SELECT p.id, rs.decision FROM review_state rs JOIN proposals p ON p.selection_id = 2
	        AND p.image_hash = rs.image_hash AND p.wnid = rs.wnid ORDER BY p.id")"
finish
