#!/usr/bin/env bash
# report.sh — natadv report end to end: an empty workspace gets a page that
# says what to run first; then the review tests' workspace (seven photos
# crawled, scored by the demo model, selected) gets a second crawl that
# fails in every way the report tells apart (HTTP 404, timeout, invalid
# image, too small, too large, robots.txt, X-Robots-Tag, private address),
# and decisions by two reviewers (ann on the command line, bob on the page).
# The page renders in Debian's headless Chromium (playwright-core,
# tests/browser/report.mjs): every chart has marks, every number shown
# equals report --json's (whose urls equal stats --json's), nothing is
# fetched, and a crafted author and a crafted class-set name stay text.
# Saves build/report.png (1280 px wide). review --serve serves the page at
# /report with the session token. Exits 77 (run.sh prints SKIP) only when
# Chromium or playwright-core is not installed; `make test` installs both.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/review/setup.sh"
browser_needs
XSS_SET='<script>window.__xss=3</script>a "set" & more'

# ---- an empty workspace: what to run first, not an error ----
"$NATADV" -q -w "$T/empty" init
"$NATADV" -w "$T/empty" report > "$T/out" 2> "$T/err"
check "report of an empty workspace" 0 "$?"
check "it prints the page's path" "$T/empty/report.html" "$(cat "$T/out")"
check_match "the page says what to run first" "Nothing crawled yet.*natadv crawl --seeds FILE" "$(cat "$T/empty/report.html")"
check_match "its charts say no data" "no data" "$(cat "$T/empty/report.html")"
"$NATADV" -w "$T/empty" report --set nope > "$T/out" 2> "$T/err"
check "an unknown set is an error" 1 "$?"
check "and says so" "natadv: cannot write the report of 'nope': no class set 'nope' (see 'natadv classes --sets')" "$(cat "$T/err")"
"$NATADV" -w "$T/empty" report --json --out x.html > "$T/out" 2> "$T/err"
check "--json with --out is a usage error" 2 "$?"

# ---- a workspace with every kind of failure, reviewed by two ----
review_workspace || { echo "cannot build the test workspace" >&2; exit 1; }
{
	printf 'url\twnid\tsource\n'
	for u in "$BASE/status/404" "$BASE/slow/5000/rocket.jpg" "$BASE/html-as-jpeg" "$BASE/img/cat_rgb8_adam7.png" \
		"$BASE/big/3" "$BASE/private/coffee_q90.jpg" "$BASE/noai/rocket.jpg" "http://127.0.0.2:$PORT/img/coffee.png"; do
		printf '%s\tn01498041\tfailures\n' "$u"
	done
} > "$T/fail.tsv"
nat -q crawl --seeds "$T/fail.tsv" --allow-address 127.0.0.1 --retries 0 --timeout 2 --max-bytes 2MB --min-side 150
check "the failing crawl ends with failures" 3 "$?"
read -r P1 P2 P3 P4 P5 P6 <<< "$P_BYCONF"
nat -q review --accept "$P1" --reviewer ann
nat -q review --reject "$P2" --reason "wrong label" --reviewer ann
review_start --reviewer bob --target 3
post() {
	curl -s -o /dev/null -w '%{http_code}' -H "X-Natadv-Token: $TOKEN" -H "Origin: $RBASE" \
		-H 'Content-Type: application/json' --data-binary "$1" "$RBASE/api/decision"
}
check "bob accepts on the page" 200 "$(post "{\"proposal_id\":$P3,\"decision\":\"accept\"}")"
sleep 1
check "bob rejects on the page" 200 "$(post "{\"proposal_id\":$P4,\"decision\":\"reject\",\"reason\":\"several objects\"}")"
sleep 1
check "bob accepts again" 200 "$(post "{\"proposal_id\":$P5,\"decision\":\"accept\"}")"
check "/report needs the token" 403 "$(curl -s -o /dev/null -w '%{http_code}' "$RBASE/report")"
check "/report with the token" 200 "$(curl -s -D "$T/headers" -o "$T/served.html" -w '%{http_code}' "$RBASE/report?token=$TOKEN")"
check_match "/report is the set's page" "<title>natadv report: imagenet-a</title>" "$(head -c 700 "$T/served.html")"
check_match "/report runs no script and fetches nothing" "default-src 'none'; style-src 'unsafe-inline'; img-src data:" \
	"$(grep -i '^content-security-policy' "$T/headers")"
check_match "the review page links it" 'id="report-link"' "$(curl -s "$RBASE/")"
review_stop
check "review server stopped" 0 "$REVIEW_STATUS"

nat report --target 3 > "$T/out" 2> "$T/err"
check "report" 0 "$?"
check "it prints the page's path" "$T/ws/report.html" "$(cat "$T/out")"
nat report --target 3 --json > "$T/report.json"
check "report --json" 0 "$?"
nat stats --json > "$T/stats.json"
sql "INSERT INTO class_sets(name, version, created_at) VALUES('$XSS_SET', '1', '2026-01-01T00:00:00Z');
     INSERT INTO class_set_members(set_name, set_index, wnid)
       SELECT '$XSS_SET', set_index, wnid FROM class_set_members WHERE set_name = 'imagenet-a' AND set_index < 5"
nat report --set "$XSS_SET" --target 3 --out "$T/xss.html" > /dev/null
check "report of a set with a crafted name" 0 "$?"
check "no script element in either page" "0 0" \
	"$(grep -c '<script' "$T/ws/report.html") $(grep -c '<script' "$T/xss.html")"
check "no element from the crafted author" 0 "$(grep -c '<img src=x' "$T/ws/report.html")"

# The numbers by themselves: every kind of failure once, the reviews.
python3 - "$T/report.json" "$T/stats.json" > "$T/numbers" <<'PY'
import json, sys
r, s = (json.load(open(f)) for f in sys.argv[1:3])
print("urls equal stats:", r["urls"] == s["urls"], r["images"] == s["images"])
print("reasons:", " ".join("%s=%d" % (x["reason"], x["urls"]) for x in sorted(r["failures"]["reasons"], key=lambda x: x["reason"])))
t = r["funnel"]["total"]
print("funnel:", " ".join("%s=%d" % (k, t[k]) for k in ("queued", "valid", "proposed", "accepted", "rejected")))
for v in r["reviewers"]:
    print("reviewer:", v["reviewer"], v["mode"], v["reviews"], v["accepts"], v["rejects"], v["accept_rate"],
          "median ok" if v["mode"] != "web" or 0.5 <= (v["median_seconds"] or 0) <= 10 else v["median_seconds"])
print("crawl runs with urls:", sum(1 for x in r["runs"] if x["command"] == "crawl" and x["urls"] > 0))
print("confusion examples by the crafted author:", sum(e["author"] == '<img src=x onerror="window.__xss=1">Ann <b>Author</b>'
      for c in r["confusions"] for e in c["examples"]))
PY
check "the numbers" "urls equal stats: True True
reasons: http_status=1 invalid_image=1 private_address=1 robots_txt=1 timeout=1 too_large=1 too_small=1 x_robots_tag=1
funnel: queued=15 valid=7 proposed=6 accepted=3 rejected=2
reviewer: bob web 3 2 1 0.6667 median ok
reviewer: ann cli 2 1 1 0.5 median ok
crawl runs with urls: 2
confusion examples by the crafted author: 1" "$(cat "$T/numbers")"

# ---- in the browser ----
rm -f "$ROOT/build/report.png"
timeout 120 node "$ROOT/tests/browser/report.mjs" "$NODE_DIR" "$ROOT/build/report.png" "$T/ws/report.html" "$T/xss.html" \
	> "$T/browser.json" 2> "$T/node.log"
check "the browser run" 0 "$?"
sed 's/^/    /' "$T/node.log" >&2
python3 - "$T/browser.json" "$T/report.json" "$T/stats.json" "$XSS_SET" > "$T/seen" <<'PY'
import json, sys
pages = json.load(open(sys.argv[1]))
r, s = (json.load(open(f)) for f in sys.argv[2:4])
main, xss, net = pages[0], pages[1], pages[2]
charts = main["charts"]
print("charts:", len(charts))
print("charts without marks:", [c["id"] for c in charts if c["marks"] == 0 or c["drawn"] != c["marks"]])
def at(d, path):
    for k in path.split("/"):
        d = d[int(k)] if isinstance(d, list) else d[k]
    return d
bad, n = [], 0
for path, text in main["numbers"]:
    n += 1
    v = at(r, path)
    t = text.replace(",", "")
    if v is None or t == "\u2013":
        ok = v is None and t == "\u2013"
    else:
        ok = (isinstance(v, int) and t == str(v)) or (isinstance(v, float) and abs(float(t) - v) < 0.0006)
    if not ok:
        bad.append((path, text, v))
print("numbers shown:", n > 150, "differing from report --json:", bad[:5])
shown = {p: t for p, t in main["numbers"]}
print("urls shown equal stats --json:", all(shown["urls/" + k] == format(v, ",") for k, v in s["urls"].items()))
print("thumbnails shown:", main["thumbs"] > 0)
print("outside text ran:", main["xss"], xss["xss"], main["scripts"], xss["scripts"], main["made"])
print("crafted author shown as text:", '<img src=x onerror="window.__xss=1">Ann <b>Author</b>' in main["authors"])
print("crafted set name shown as text:", xss["set"] == sys.argv[4], xss["title"] == "natadv report: " + sys.argv[4])
print("requests:", net["requests"])
PY
check "what the browser shows" "charts: 12
charts without marks: []
numbers shown: True differing from report --json: []
urls shown equal stats --json: True
thumbnails shown: True
outside text ran: None None 0 0 0
crafted author shown as text: True
crafted set name shown as text: True True
requests: []" "$(cat "$T/seen")"
check "screenshot saved" 89504e470d0a1a0a "$(head -c 8 "$ROOT/build/report.png" 2> /dev/null | od -An -tx1 | tr -d ' \n')"
finish
