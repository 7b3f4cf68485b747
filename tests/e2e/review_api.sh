#!/usr/bin/env bash
# review_api.sh — the review page's HTTP API over loopback with curl: lists
# and filters, decisions and undo into the review log, images and
# thumbnails, and every refusal (token, origin, host, hash, traversal, body
# size, unknown route, method), then a clean stop on SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/review/setup.sh"

review_workspace || { echo "cannot build the test workspace" >&2; exit 1; }
read -r P1 P2 P3 P4 P5 P6 <<< "$P_BYCONF"

# Usage errors and refusals before serving.
nat "${SERVE[@]}" --bind localhost --port 0 > /dev/null 2> "$T/err"
check "a host name is not a bind address" 1 "$?"
check_match "and says so" "'localhost' is not a numeric IPv4 or IPv6 address" "$(cat "$T/err")"
nat "${SERVE[@]}" --set no-such-set --port 0 > /dev/null 2> "$T/err"
check "an unknown set" 1 "$?"
nat "${SERVE[@]}" --port 70000 2> /dev/null
check "a port out of range is a usage error" 2 "$?"

review_start --reviewer tester --target 3
check_match "url with a 32-hex token" '^http://127\.0\.0\.1:[0-9]+/\?token=[0-9a-f]{32}$' "$REVIEW_URL"
check_match "start line" "reviewing 'imagenet-a' as 'tester': 6 proposals" "$(cat "$T/review.err")"
HOSTPORT=${RBASE#http://}

# get PATH [CURL ARGS...]: the status code; the body goes to $T/body.
get() {
	local path=$1
	shift
	curl -s --path-as-is -o "$T/body" -w '%{http_code}' "$@" "$RBASE$path"
}
api() { get "$1" -H "X-Natadv-Token: $TOKEN" "${@:2}"; }
# post PATH JSON [CURL ARGS...]: a POST with the token from $ORIGIN (the page's own).
post() {
	local path=$1 body=$2
	shift 2
	curl -s -o "$T/body" -w '%{http_code}' -H "X-Natadv-Token: $TOKEN" -H "Origin: ${ORIGIN:-$RBASE}" \
		-H 'Content-Type: application/json' --data-binary "$body" "$@" "$RBASE$path"
}
# jq_ EXPR: a Python expression over the last body (d); tuples print space-separated.
jq_() {
	python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(" ".join(map(str, v)) if isinstance(v, tuple) else v)' "$T/body" "$1"
}
# ids [QUERY]: the proposal ids a list shows, space-separated.
ids() { api "/api/proposals${1:+?$1}" > /dev/null && jq_ 'tuple(p["id"] for p in d["proposals"])'; }

# The page and its headers.
check "page" 200 "$(get /)"
check_match "page is html" '<title>natadv review</title>' "$(cat "$T/body")"
curl -s -D "$T/headers" -o /dev/null "$RBASE/app.js"
hdr=$(tr -d '\r' < "$T/headers")
check_match "csp" "Content-Security-Policy: default-src 'self'; img-src 'self'" "$hdr"
check_match "nosniff" 'X-Content-Type-Options: nosniff' "$hdr"
check_match "no referrer" 'Referrer-Policy: no-referrer' "$hdr"
check_match "javascript type" 'Content-Type: text/javascript' "$hdr"

# Token and host.
check "list without token" 403 "$(get /api/proposals)"
check "list with a wrong token" 403 "$(get /api/proposals -H 'X-Natadv-Token: 0123456789abcdef0123456789abcdef')"
check "token in the query is for images only" 403 "$(get "/api/proposals?token=$TOKEN")"
check "another host name (DNS rebinding)" 403 "$(api /api/proposals -H 'Host: evil.example:80')"
check "localhost is the same server" 200 "$(api /api/proposals -H "Host: localhost:${HOSTPORT#*:}")"

# Lists: the current selection only, kept proposals only, by confidence.
check "list" 200 "$(api /api/proposals)"
check "the six kept proposals of the selection in force, by confidence" "$P_BYCONF" "$(ids)"
check "total" 6 "$(jq_ 'd["total"]')"
check "provenance and names" "Persian cat|American alligator|cc-by-4.0|$XSS_AUTHOR|$XSS_TITLE|png" \
	"$(jq_ '"|".join([d["proposals"][1][k] for k in ("class_name","pred_name","license","author","title")]) + "|" + d["proposals"][4]["format"]')"
check "filter by class" "$P2" "$(ids class=n02123394)"
# bounds halfway between the second and third, and the fourth and fifth
api /api/proposals > /dev/null
window=$(jq_ '"min_conf=%.6f&max_conf=%.6f" % tuple((d["proposals"][i]["confidence"] + d["proposals"][i + 1]["confidence"]) / 2 for i in (3, 1))')
check "filter by confidence" "$P3 $P4" "$(ids "$window")"
check "paging" "$P3 $P4" "$(ids 'offset=2&limit=2')"
check "paging keeps the total" 6 "$(jq_ 'd["total"]')"
check "a page past the end keeps the total" "6 0" "$(api '/api/proposals?offset=100' >/dev/null; jq_ 'd["total"], len(d["proposals"])')"
for bad in 'state=maybe' 'min_conf=abc' 'max_conf=2' 'min_conf=-0.1' 'limit=0' 'limit=501' 'offset=-1' 'offset=1.5' 'id=x'; do
	check "bad query $bad" 400 "$(api "/api/proposals?$bad")"
done
check "classes" 200 "$(api /api/classes)"
check "200 classes, target, counts" "200 3 1" \
	"$(jq_ 'len(d["classes"]), d["target"], [c["proposed"] for c in d["classes"] if c["wnid"] == "n02123394"][0]')"

# Decisions and undo.
check "accept without origin" 403 "$(api /api/decision -d "{\"proposal_id\":$P1,\"decision\":\"accept\"}")"
check "accept from another origin" 403 "$(ORIGIN=http://evil.example post /api/decision "{\"proposal_id\":$P1,\"decision\":\"accept\"}")"
check "accept from the same host on another port" 403 \
	"$(ORIGIN=http://127.0.0.1:1 post /api/decision "{\"proposal_id\":$P1,\"decision\":\"accept\"}")"
check "accept from a null origin" 403 "$(ORIGIN=null post /api/decision "{\"proposal_id\":$P1,\"decision\":\"accept\"}")"
check "accept from a cross-site fetch" 403 "$(post /api/decision "{\"proposal_id\":$P1,\"decision\":\"accept\"}" -H 'Sec-Fetch-Site: cross-site')"
check "accept without token" 403 \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "Origin: $RBASE" -d "{\"proposal_id\":$P1,\"decision\":\"accept\"}" "$RBASE/api/decision")"
check "accept" 200 "$(post /api/decision "{\"proposal_id\":$P1,\"decision\":\"accept\"}")"
accept_id=$(jq_ 'd["review_id"]')
check "reject" 200 "$(post /api/decision "{\"proposal_id\":$P2,\"decision\":\"reject\",\"reason\":\"several objects\"}")"
reject_id=$(jq_ 'd["review_id"]')
check "a rejection needs a reason" 400 "$(post /api/decision "{\"proposal_id\":$P3,\"decision\":\"reject\"}")"
check "unknown decision" 400 "$(post /api/decision "{\"proposal_id\":$P3,\"decision\":\"maybe\"}")"
check "not json" 400 "$(post /api/decision '{"proposal_id":13,')"
check "not an object" 400 "$(post /api/decision '[1,2]')"
check "duplicate keys" 400 "$(post /api/decision "{\"proposal_id\":$P3,\"proposal_id\":$P4,\"decision\":\"accept\"}")"
check "empty body" 400 "$(post /api/decision '')"
check "a string id" 400 "$(post /api/decision "{\"proposal_id\":\"$P3\",\"decision\":\"accept\"}")"
check "unknown proposal" 404 "$(post /api/decision "{\"proposal_id\":999,\"decision\":\"accept\"}")"
check "a proposal of an older selection" 404 "$(post /api/decision "{\"proposal_id\":$P_OLD,\"decision\":\"accept\"}")"
check "a near-duplicate proposal" 404 "$(post /api/decision "{\"proposal_id\":$P_DUP,\"decision\":\"accept\"}")"
check "a reason over 200 bytes" 400 \
	"$(post /api/decision "{\"proposal_id\":$P3,\"decision\":\"reject\",\"reason\":\"$(printf 'x%.0s' $(seq 1 201))\"}")"
printf "{\"proposal_id\":$P3,\"decision\":\"accept\",\"reason\":\"%s\"}" "$(head -c 17000 /dev/zero | tr '\0' x)" > "$T/big.json"
check "oversized body" 400 "$(post /api/decision "@$T/big.json")"
check "oversized chunked body" 400 "$(post /api/decision "@$T/big.json" -H 'Transfer-Encoding: chunked')"
head -c 3000000 /dev/zero > "$T/huge"
# curl reports the 100 Continue it got, or 000: either way no final response.
check_match "a huge chunked body closes the connection" '^(000|100)$' "$(post /api/decision "@$T/huge" -H 'Transfer-Encoding: chunked')"
check "the server is still up" 200 "$(api /api/classes)"
check "accepted list" "$P1" "$(ids state=accepted)"
check "rejected list" "$P2" "$(ids state=rejected)"
check "rejected with its reason and reviewer" "several objects tester" \
	"$(jq_ 'd["proposals"][0]["reason"], d["proposals"][0]["reviewer"]')"
check "undecided list" "$P3 $P4 $P5 $P6" "$(ids state=undecided)"
check "class counters" "1 1" \
	"$(api /api/classes >/dev/null; jq_ 'sum(c["accepted"] for c in d["classes"]), sum(c["rejected"] for c in d["classes"])')"
check "undo without origin" 403 "$(api /api/undo -d "{\"review_id\":$reject_id}")"
check "undo" 200 "$(post /api/undo "{\"review_id\":$reject_id}")"
undo_id=$(jq_ 'd["review_id"]')
check "undo twice" 404 "$(post /api/undo "{\"review_id\":$reject_id}")"
check "undo an undo" 409 "$(post /api/undo "{\"review_id\":$undo_id}")"
check "undo an unknown review" 404 "$(post /api/undo '{"review_id":12345}')"
check "undo needs an id" 400 "$(post /api/undo '{"review_id":0}')"
check "undone proposal is undecided again" "200|$P2 ''" \
	"$(api "/api/proposals?id=$P2")|$(jq_ '(d["proposals"][0]["id"], repr(d["proposals"][0]["decision"]))')"
check "the review log" "$accept_id|$P1|accept||tester|web||review
$reject_id|$P2|reject|several objects|tester|web||review
$undo_id|$P2|undo||tester|web|$reject_id|review" \
	"$(sql "SELECT r.id, r.proposal_id, r.decision, r.reason, r.reviewer, r.mode, r.undoes, u.command
	        FROM reviews r JOIN runs u ON u.id = r.run_id ORDER BY r.id")"

# Images and thumbnails by hash.
# shellcheck disable=SC2154
check "image" 200 "$(get "/img/$H_chelsea_q90?token=$TOKEN")"
check "image bytes are the fixture's" "$(sha256sum < "$FIX/chelsea_q90.jpg")" "$(sha256sum < "$T/body")"
check "image with the header token" 200 "$(api "/img/$H_chelsea")"
check "png image bytes" "$(sha256sum < "$FIX/chelsea.png")" "$(sha256sum < "$T/body")"
curl -s -D "$T/headers" -o /dev/null "$RBASE/img/$H_chelsea?token=$TOKEN"
hdr=$(tr -d '\r' < "$T/headers")
check_match "png content type" 'Content-Type: image/png' "$hdr"
check_match "immutable" 'Cache-Control: private, max-age=31536000, immutable' "$hdr"
check_match "not for other sites" 'Cross-Origin-Resource-Policy: same-origin' "$hdr"
check "thumbnail of a jpeg" 200 "$(get "/thumb/$H_hubble_deep_field?token=$TOKEN")"
check "a 256-pixel jpeg" "P6 293 256" "$(djpeg < "$T/body" | head -c 20 | tr '\n' ' ' | cut -d' ' -f1-3)"
check "thumbnail of a png is a jpeg" 200 "$(get "/thumb/$H_chelsea?token=$TOKEN")"
check "a 256-pixel jpeg from the png" "P6 384 256" "$(djpeg < "$T/body" | head -c 20 | tr '\n' ' ' | cut -d' ' -f1-3)"
check "image without token" 403 "$(get "/img/$H_chelsea")"
check "image with a wrong token" 403 "$(get "/img/$H_chelsea?token=ffffffffffffffffffffffffffffffff")"
check "upper-case hash" 400 "$(get "/img/$(echo "$H_chelsea" | tr a-f A-F)?token=$TOKEN")"
check "short hash" 400 "$(get "/thumb/abc?token=$TOKEN")"
check "unknown hash" 404 "$(get "/img/0123456789abcdef0123456789abcdef?token=$TOKEN")"
check "traversal" 404 "$(get "/img/../../natadv.db?token=$TOKEN")"
check "encoded traversal" 404 "$(get "/img/..%2f..%2fnatadv.db?token=$TOKEN")"
check "traversal into the blob store" 404 "$(get "/img/../objects/${H_chelsea:0:2}/${H_chelsea:2}?token=$TOKEN")"
rm "$T/ws/objects/${H_coffee:0:2}/${H_coffee:2}"
check "a missing blob" 404 "$(get "/img/$H_coffee?token=$TOKEN")"
check "a missing blob's thumbnail" 404 "$(get "/thumb/$H_coffee?token=$TOKEN")"

# Routes and methods.
check "unknown route" 404 "$(api /api/nothing)"
check "unknown file" 404 "$(get /etc/passwd)"
check "index.html is not a route" 404 "$(get /index.html)"
check "wrong method" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "X-Natadv-Token: $TOKEN" "$RBASE/api/decision")"
check "GET of a POST route" 405 "$(api /api/decision)"
check "HEAD of the page" 200 "$(curl -s -I -o /dev/null -w '%{http_code}' "$RBASE/")"
check "headers over the connection's memory" 431 \
	"$(api /api/classes -H "X-Big: $(head -c 70000 /dev/zero | tr '\0' x)")"
check "still serving" 200 "$(api /api/classes)"

review_stop
check "SIGTERM stops cleanly" 0 "$REVIEW_STATUS"
check_match "stop message" "review server stopped" "$(cat "$T/review.err")"
check "the run is recorded as finished" "review|0" \
	"$(sql "SELECT command || '|' || status FROM runs WHERE id = (SELECT run_id FROM reviews WHERE id = $accept_id)")"

# Another bind address: a warning, and the URL names it.
review_start --bind 127.0.0.2
check_match "warning for another address" "warning: serving on '127.0.0.2'" "$(cat "$T/review.err")"
check_match "url names the address" '^http://127\.0\.0\.2:[0-9]+/' "$REVIEW_URL"
check "served there" 200 "$(api /api/classes)"
port=${RBASE##*:}
nat "${SERVE[@]}" --bind 127.0.0.2 --port "$port" > /dev/null 2> "$T/err"
check "a port in use" 1 "$?"
check_match "says why" "cannot listen on 127.0.0.2:$port: Address already in use" "$(cat "$T/err")"
review_stop
check "stops" 0 "$REVIEW_STATUS"
check "integrity" ok "$(sql 'PRAGMA integrity_check')"
finish
