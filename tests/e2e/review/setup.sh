# setup.sh — what the review page's tests share (sourced after lib.sh): the
# command that serves the page, a workspace with a selection in force, and
# starting and stopping the server.

# The subcommand that serves the page. One line to change once
# `natadv review --serve` dispatches to cmd_review_serve: SERVE=(review --serve)
SERVE=(review --serve)

XSS_AUTHOR='<img src=x onerror="window.__xss=1">Ann <b>Author</b>'
XSS_TITLE='<script>window.__xss=2</script>cat on a sofa'
REVIEW_PID=

# review_workspace: crawls seven fixtures over loopback and records selections
# with sqlite3 (until `natadv select` lands): an older finished one, the one
# in force (selection 2: six proposals and a near-duplicate), and an
# unfinished newer one. Sets H_<name> to the image hashes and P_<name> to the
# proposal ids of selection 2.
review_workspace() {
	start_server
	nat -q init || return 1
	{
		printf 'url\twnid\tpage_url\tlicense\tauthor\tsource\n'
		printf '%s/img/hubble_deep_field.jpg\tn01531178\thttps://example.org/hubble\tcc0\tNASA\tseeds\n' "$BASE"
		printf '%s/img/chelsea_q90.jpg\tn02123394\thttps://example.org/chelsea\tcc-by-4.0\t%s\tseeds\n' "$BASE" "$XSS_AUTHOR"
		printf '%s/img/rocket.jpg\tn02119022\tjavascript:alert(1)\tcc-by-sa-4.0\tR. Ocket\tseeds\n' "$BASE"
		printf '%s/img/coffee_q90.jpg\tn02129165\thttps://example.org/coffee\tcc-by-2.0\tC. Offee\tseeds\n' "$BASE"
		printf '%s/img/chelsea.png\tn02077923\t\tcc-by-4.0\tP. Ng\tseeds\n' "$BASE"
		printf '%s/img/coffee.png\tn02346627\t\tcc-by-4.0\tP. Ng\tseeds\n' "$BASE"
		printf '%s/img/chelsea_prog.jpg\tn02123394\t\tcc-by-4.0\tDup\tseeds\n' "$BASE"
		printf '%s/gen/1.jpg\tn02129165\t\tcc-by-4.0\tOld\tseeds\n' "$BASE"
	} > "$T/seeds.tsv"
	nat -q crawl --seeds "$T/seeds.tsv" --allow-private || return 1
	local n
	for n in hubble_deep_field chelsea_q90 rocket coffee_q90 chelsea coffee chelsea_prog 1; do
		local h
		h=$(sql "SELECT image_hash FROM urls WHERE url LIKE '%/$n.%'")
		[ -n "$h" ] || { echo "setup: $n was not crawled" >&2; return 1; }
		eval "H_$n=$h"
	done
	sql "UPDATE url_tags SET title = '$(printf '%s' "$XSS_TITLE" | sed "s/'/''/g")'
	     WHERE url_id = (SELECT id FROM urls WHERE url LIKE '%/chelsea_q90.jpg')"
	# shellcheck disable=SC2154
	sql "INSERT INTO selections(id, set_name, rule, params, created_at, finished_at, proposals)
	     VALUES (1, 'imagenet-a', 'misclassified', '{}', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', 1),
	            (2, 'imagenet-a', 'misclassified', '{}', '2026-01-02T00:00:00Z', '2026-01-02T00:01:00Z', 6),
	            (3, 'imagenet-a', 'misclassified', '{}', '2026-01-03T00:00:00Z', NULL, NULL);
	     INSERT INTO proposals(id, selection_id, image_hash, wnid, pred_wnid, confidence, true_prob, status, duplicate_of, distance)
	     VALUES (1, 1, '$H_1', 'n02129165', 'n02119022', 0.99, 0.001, 'proposed', NULL, NULL),
	            (11, 2, '$H_hubble_deep_field', 'n01531178', 'n02127052', 0.95, 0.010, 'proposed', NULL, NULL),
	            (12, 2, '$H_chelsea_q90', 'n02123394', 'n02127052', 0.91, 0.020, 'proposed', NULL, NULL),
	            (13, 2, '$H_rocket', 'n02119022', 'n02077923', 0.85, 0.030, 'proposed', NULL, NULL),
	            (14, 2, '$H_coffee_q90', 'n02129165', 'n02346627', 0.72, 0.040, 'proposed', NULL, NULL),
	            (15, 2, '$H_chelsea', 'n02077923', 'n02129165', 0.60, 0.050, 'proposed', NULL, NULL),
	            (16, 2, '$H_coffee', 'n02346627', 'n02123394', 0.55, 0.060, 'proposed', NULL, NULL),
	            (17, 2, '$H_chelsea_prog', 'n02123394', 'n02127052', 0.90, 0.020, 'near_duplicate', 12, 2),
	            (21, 3, '$H_1', 'n02129165', 'n02119022', 0.99, 0.001, 'proposed', NULL, NULL);" || return 1
	P_hubble=11 P_chelsea_q90=12 P_rocket=13 P_coffee_q90=14 P_chelsea=15 P_coffee=16
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
