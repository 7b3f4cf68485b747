# setup.sh — what the review page's tests share (sourced after lib.sh): the
# command that serves the page, a workspace with a selection in force, and
# starting and stopping the server.

# The subcommand that serves the page.
SERVE=(review --serve)

XSS_AUTHOR='<img src=x onerror="window.__xss=1">Ann <b>Author</b>'
XSS_TITLE='<script>window.__xss=2</script>cat on a sofa'
REVIEW_PID=

# browser_needs [WHAT]: sets CHROMIUM (exported; default Debian's) and
# NODE_DIR (build/node) for tests/browser/*.mjs; exits 77 (run.sh prints
# SKIP) when Chromium, node or playwright-core is missing, or when WHAT
# (a test expression, e.g. "-r FILE", named in the message) fails.
browser_needs() {
	CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
	NODE_DIR=${NODE_DIR:-$ROOT/build/node}
	export CHROMIUM
	if [ ! -x "$CHROMIUM" ] || ! command -v node > /dev/null || [ ! -d "$NODE_DIR/node_modules/playwright-core" ] \
		|| { [ $# -gt 0 ] && ! test "$@"; }; then
		echo "SKIP: needs $CHROMIUM, node and playwright-core in $NODE_DIR${2:+ and ${*: -1}} (make test installs them)"
		exit 77
	fi
}

# review_workspace: crawls seven fixtures over loopback, scores them with the
# demo model and selects twice with the real commands: an older selection
# (min confidence 0.6: the two most confident) and the one in force (0.25:
# six proposals and chelsea_prog, the same pixels as chelsea_q90, collapsed
# into it), plus an unfinished newer one by hand. Sets H_<name> to the image
# hashes, P_<name> to the proposal ids of the selection in force,
# P_BYCONF to those ids by confidence, P_DUP to the near-duplicate and P_OLD
# to a proposal of the older selection.
review_workspace() {
	start_server
	nat -q init || return 1
	# By the demo model's confidence (in the imagenet-a subset): chelsea.png
	# 0.652, chelsea_q90 0.640, hubble 0.348, coffee_q90 0.338, coffee.png
	# 0.319, rocket 0.267; it gets every one of these classes wrong.
	{
		printf 'url\twnid\tpage_url\tlicense\tauthor\tsource\n'
		printf '%s/img/chelsea.png\tn02077923\thttps://example.org/chelsea\tcc-by-4.0\tP. Ng\tseeds\n' "$BASE"
		printf '%s/img/chelsea_q90.jpg\tn02123394\thttps://example.org/chelsea\tcc-by-4.0\t%s\tseeds\n' "$BASE" "$XSS_AUTHOR"
		printf '%s/img/hubble_deep_field.jpg\tn02119022\tjavascript:alert(1)\tcc-by-sa-4.0\tNASA\tseeds\n' "$BASE"
		printf '%s/img/coffee_q90.jpg\tn02129165\thttps://example.org/coffee\tcc-by-2.0\tC. Offee\tseeds\n' "$BASE"
		printf '%s/img/coffee.png\tn02346627\t\tcc-by-4.0\tP. Ng\tseeds\n' "$BASE"
		printf '%s/img/rocket.jpg\tn01531178\thttps://example.org/rocket\tcc0\tR. Ocket\tseeds\n' "$BASE"
		printf '%s/img/chelsea_prog.jpg\tn02123394\t\tcc-by-4.0\tDup\tseeds\n' "$BASE"
	} > "$T/seeds.tsv"
	nat -q crawl --seeds "$T/seeds.tsv" --allow-private || return 1
	local n
	for n in hubble_deep_field chelsea_q90 rocket coffee_q90 chelsea coffee chelsea_prog; do
		local h
		h=$(sql "SELECT image_hash FROM urls WHERE url LIKE '%/$n.%'")
		[ -n "$h" ] || { echo "setup: $n was not crawled" >&2; return 1; }
		eval "H_$n=$h"
	done
	# Seed lists have no title column (titles come from discover's APIs): by hand.
	sql "UPDATE url_tags SET title = '$(printf '%s' "$XSS_TITLE" | sed "s/'/''/g")'
	     WHERE url_id = (SELECT id FROM urls WHERE url LIKE '%/chelsea_q90.jpg')"
	nat -q model add "$ROOT/examples/demo-model.safetensors" --name demo || return 1
	nat -q score --model demo || return 1
	nat -q select --model demo --min-confidence 0.6 > /dev/null || return 1
	local s1 s2
	s1=$(sql "SELECT max(id) FROM selections")
	nat -q select --model demo --min-confidence 0.25 > /dev/null || return 1
	s2=$(sql "SELECT max(id) FROM selections")
	# natadv select records a selection in one transaction, so it never leaves
	# an unfinished one; another writer's crash could, and the page must
	# ignore it: a copy of the older one without finished_at, by hand.
	sql "INSERT INTO selections(set_name, model_id, rule, params, created_at)
	       SELECT set_name, model_id, rule, params, created_at FROM selections WHERE id = $s1;
	     INSERT INTO proposals(selection_id, image_hash, wnid, pred_wnid, confidence, true_prob, status)
	       SELECT (SELECT max(id) FROM selections), image_hash, wnid, pred_wnid, confidence, true_prob, 'proposed'
	       FROM proposals WHERE selection_id = $s1" || return 1
	# shellcheck disable=SC2154
	for n in hubble_deep_field chelsea_q90 rocket coffee_q90 chelsea coffee chelsea_prog; do
		eval "P_$n=\$(sql \"SELECT id FROM proposals WHERE selection_id = $s2 AND image_hash = '\$H_$n'\")"
	done
	P_hubble=$P_hubble_deep_field
	P_BYCONF="$P_chelsea $P_chelsea_q90 $P_hubble $P_coffee_q90 $P_coffee $P_rocket"
	P_DUP=$P_chelsea_prog
	P_OLD=$(sql "SELECT id FROM proposals WHERE selection_id = $s1 AND image_hash = '$H_chelsea_q90'")
	[ -n "$P_OLD" ] && [ "$(echo $P_BYCONF | wc -w)" = 6 ] || { echo "setup: the selections are not as expected" >&2; return 1; }
}

# review_start ARGS...: serves the test workspace on a free loopback port
# with ARGS added; sets REVIEW_URL, RBASE (http://127.0.0.1:PORT), TOKEN.
review_start() {
	"$NATADV" -w "$T/ws" "${SERVE[@]}" --port 0 "$@" > "$T/review.out" 2> "$T/review.err" &
	REVIEW_PID=$!
	local _
	for _ in $(seq 1 200); do
		grep -q '^http://' "$T/review.out" 2>/dev/null && break
		kill -0 "$REVIEW_PID" 2>/dev/null || break
		sleep 0.05
	done
	REVIEW_URL=$(head -n 1 "$T/review.out")
	RBASE=${REVIEW_URL%%/\?*}
	TOKEN=${REVIEW_URL##*token=}
}

# review_stop: SIGTERM, and the exit status into REVIEW_STATUS.
review_stop() {
	kill -TERM "$REVIEW_PID" 2>/dev/null
	wait "$REVIEW_PID"
	REVIEW_STATUS=$?
	REVIEW_PID=
}

review_cleanup() {
	[ -n "$REVIEW_PID" ] && kill -TERM "$REVIEW_PID" 2>/dev/null && wait "$REVIEW_PID" 2>/dev/null
	cleanup
}
trap review_cleanup EXIT
