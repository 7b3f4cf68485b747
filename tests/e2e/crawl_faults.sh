#!/usr/bin/env bash
# crawl_faults.sh — every fault mode of the test server in one crawl: each
# URL must end in the right state with the right reason, and the workspace
# must hold each image once with complete provenance.
. "$(dirname "$0")/lib.sh"
start_server
nat -q init
W=n02123045
{
	printf 'url\twnid\tsource\tlicense\tauthor\tpage_url\n'
	for p in img/chelsea.png status/404 status/410 flaky/1/k1/rocket.jpg ratelimit/1/k2/coffee.png \
		unavailable/1/k3/chelsea_prog.jpg drip/rocket.jpg truncated/chelsea_q90.jpg \
		redirect/3/chelsea_gray.jpg redirect/6/chelsea_gray.jpg loop/a html-as-jpeg big/5 \
		big-chunked/5 corrupt.jpg huge.png same/a/coffee_q90.jpg same/b/coffee_q90.jpg \
		private/rocket.jpg noai/hubble_deep_field.jpg noimageai/green_palette.png empty.jpg \
		'redirect-to?url=ftp://127.0.0.1/x.jpg'; do
		printf '%s/%s\t%s\tseeds\tCC-BY-4.0\tA. Author\t%s/page\n' "$BASE" "$p" "$W" "$BASE"
	done
	printf '%s/img/chelsea.png\tn02124075\tseeds\n' "$BASE"   # a second class, same URL
	printf '%s/img/rocket.jpg\tn99999999\n' "$BASE"           # unknown class
	printf 'ftp://127.0.0.1/x.jpg\t%s\n' "$W"                 # bad scheme
	printf 'not a url\t%s\n' "$W"
	printf '%s/img/coffee.png\n' "$BASE"                      # missing column
} > "$T/seeds.tsv"

nat crawl --seeds "$T/seeds.tsv" --allow-private --retries 2 --retry-base 0.2 --timeout 20 \
	--low-speed 100 --low-speed-time 1 --max-bytes 2MB > "$T/out" 2> "$T/err"
check "exit status (some failed)" 3 "$?"
check_match "bad rows reported with line numbers" "line 26: unknown wnid 'n99999999'" "$(cat "$T/err")"
check_match "bad scheme reported" "line 27: unsupported scheme 'ftp'" "$(cat "$T/err")"
check_match "unparseable url reported" "line 28: " "$(cat "$T/err")"
check_match "missing column reported" "line 29: missing column 'wnid'" "$(cat "$T/err")"
check_match "summary" "crawled 23 of 23 urls: 7 images \(1 duplicates\), 13 failed, 3 opted out" "$(cat "$T/err")"

st() { sql "SELECT state || '|' || attempts || '|' || coalesce(last_error, '') FROM urls WHERE url = '$BASE/$1'"; }
check "plain image" "fetched|1|" "$(st img/chelsea.png)"
check "404 is not retried" "failed|1|HTTP 404" "$(st status/404)"
check "410 is not retried" "failed|1|HTTP 410" "$(st status/410)"
check "500 then 200" "fetched|2|" "$(st flaky/1/k1/rocket.jpg)"
check "429 then 200" "fetched|2|" "$(st ratelimit/1/k2/coffee.png)"
check "503 with HTTP-date Retry-After" "fetched|2|" "$(st unavailable/1/k3/chelsea_prog.jpg)"
gap() { sql "SELECT (julianday(b.started_at) - julianday(a.finished_at)) * 86400 >= 0.9 FROM fetches a JOIN fetches b ON a.url_id = b.url_id AND b.attempt = 2 JOIN urls u ON u.id = a.url_id WHERE a.attempt = 1 AND u.url = '$BASE/$1'"; }
check "Retry-After: 1 honoured" 1 "$(gap ratelimit/1/k2/coffee.png)"
# the retry must not start before the HTTP date the 503 named
ra=$(sql "SELECT f.headers FROM fetches f JOIN urls u ON u.id = f.url_id WHERE f.attempt = 1 AND u.url = '$BASE/unavailable/1/k3/chelsea_prog.jpg'" | tr -d '\r' | sed -n 's/^[Rr]etry-[Aa]fter: //p')
retry=$(sql "SELECT strftime('%s', f.started_at) FROM fetches f JOIN urls u ON u.id = f.url_id WHERE f.attempt = 2 AND u.url = '$BASE/unavailable/1/k3/chelsea_prog.jpg'")
check_match "the 503's Retry-After is an HTTP date" "^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT$" "$ra"
check "Retry-After as an HTTP date honoured ($ra)" 1 "$(( retry >= $(date -d "$ra" +%s) ))"
check_match "slow drip dropped after 3 attempts" "^failed\|3\|.*(slower|[Tt]imeout)" "$(st drip/rocket.jpg)"
check_match "truncated body" "^failed\|3\|" "$(st truncated/chelsea_q90.jpg)"
check "redirect chain followed" "fetched|1|" "$(st redirect/3/chelsea_gray.jpg)"
check "redirect chain recorded" "[\"$BASE/redirect/2/chelsea_gray.jpg\",\"$BASE/redirect/1/chelsea_gray.jpg\",\"$BASE/redirect/0/chelsea_gray.jpg\",\"$BASE/img/chelsea_gray.jpg\"]|$BASE/img/chelsea_gray.jpg" \
	"$(sql "SELECT f.redirects || '|' || f.final_url FROM fetches f JOIN urls u ON u.id = f.url_id WHERE u.url = '$BASE/redirect/3/chelsea_gray.jpg'")"
check "too many redirects" "failed|1|too many redirects (more than 5)" "$(st redirect/6/chelsea_gray.jpg)"
check_match "redirect loop" "^failed\|1\|redirect loop" "$(st loop/a)"
check_match "html served as image/jpeg" "^failed\|1\|.*html" "$(st html-as-jpeg)"
check "oversized body" "failed|1|response larger than 2000000 bytes" "$(st big/5)"
check "oversized chunked body" "failed|1|response larger than 2000000 bytes" "$(st big-chunked/5)"
check_match "corrupt jpeg" "^failed\|1\|.*(corrupt|jpeg)" "$(st corrupt.jpg)"
check_match "100000x100000 png refused" "^failed\|1\|.*too large" "$(st huge.png)"
check "same bytes, url a" "fetched|1|" "$(st same/a/coffee_q90.jpg)"
check "same bytes, url b" "fetched|1|" "$(st same/b/coffee_q90.jpg)"
check "same bytes stored once" 1 "$(sql "SELECT count(DISTINCT image_hash) FROM urls WHERE url LIKE '%/same/_/coffee_q90.jpg'")"
check "both urls tag the one image" 2 "$(sql "SELECT count(*) FROM image_tags t JOIN urls u ON u.image_hash = t.image_hash AND u.id = t.url_id WHERE u.url LIKE '%/same/_/coffee_q90.jpg'")"
check "robots.txt disallow" "opted_out|1|disallowed by robots.txt" "$(st private/rocket.jpg)"
check "x-robots-tag noai" "opted_out|1|X-Robots-Tag forbids AI use" "$(st noai/hubble_deep_field.jpg)"
check "x-robots-tag noimageai" "opted_out|1|X-Robots-Tag forbids AI use" "$(st noimageai/green_palette.png)"
check "opted-out bytes not stored" 0 "$(sql "SELECT count(*) FROM images WHERE sha256 = '$(sha256sum < "$FIX/hubble_deep_field.jpg" | cut -d' ' -f1)'")"
check_match "empty body" "^failed\|1\|.*empty" "$(st empty.jpg)"
check_match "redirect to ftp refused" "^failed\|1\|refused redirect .*ftp" "$(st 'redirect-to?url=ftp://127.0.0.1/x.jpg')"
check "robots.txt fetched once" 1 "$(curl -s "$BASE/hits?path=/robots.txt")"
check "robots.txt provenance row" "1|200|rules" "$(sql "SELECT count(*) || '|' || http_status || '|' || policy FROM robots_fetches")"
check "private path never requested" 0 "$(curl -s "$BASE/hits?path=/private/rocket.jpg")"
check "a second class tag, not a second url" "1|2" "$(sql "SELECT count(DISTINCT u.id) || '|' || count(*) FROM urls u JOIN url_tags t ON t.url_id = u.id WHERE u.url = '$BASE/img/chelsea.png'")"
check "image tagged with both classes" 2 "$(sql "SELECT count(*) FROM image_tags t JOIN urls u ON u.image_hash = t.image_hash WHERE u.url = '$BASE/img/chelsea.png'")"
check "every attempt is a row" "$(sql 'SELECT sum(attempts) FROM urls')" "$(sql 'SELECT count(*) FROM fetches')"
check "provenance: license and author kept" "CC-BY-4.0|A. Author|$BASE/page" "$(sql "SELECT license || '|' || author || '|' || page_url FROM url_tags t JOIN urls u ON u.id = t.url_id WHERE u.url = '$BASE/img/chelsea.png' AND t.wnid = '$W'")"
check "provenance: status, type, length, etag" "200|image/png|240512|240512|1" "$(sql "SELECT http_status || '|' || content_type || '|' || declared_length || '|' || received_length || '|' || (etag IS NOT NULL AND last_modified IS NOT NULL) FROM fetches f JOIN urls u ON u.id = f.url_id WHERE u.url = '$BASE/img/chelsea.png'")"
check "image facts" "png|451|300|240512" "$(sql "SELECT i.format || '|' || i.width || '|' || i.height || '|' || i.bytes FROM images i JOIN urls u ON u.image_hash = i.hash WHERE u.url = '$BASE/img/chelsea.png'")"
check "sha-256 of the bytes" "$(sha256sum < "$FIX/chelsea.png" | cut -d' ' -f1)" "$(sql "SELECT i.sha256 FROM images i JOIN urls u ON u.image_hash = i.hash WHERE u.url = '$BASE/img/chelsea.png'")"
check "the run is recorded" "crawl|3" "$(sql "SELECT command || '|' || status FROM runs ORDER BY id DESC LIMIT 1")"
check_blobs

# stats agrees with the database
json=$(nat stats --json)
check_match "stats json totals" '"urls":\{"total":23,"pending":0,"fetched":7,"failed":13,"opted_out":3\},"images":6' "$json"
check_match "stats json per class" '"n02124075":\{"urls":\{"total":1,"pending":0,"fetched":1,"failed":0,"opted_out":0\},"images":1\}' "$json"

# --retry-failed queues failures again; a second run retries them
nat crawl --retry-failed --allow-private --retries 0 --retry-base 0.1 --timeout 10 --low-speed 100 \
	--low-speed-time 1 --max-bytes 2MB 2> "$T/err2"
check "second run still partial" 3 "$?"
check_match "failed urls requeued" "13 failed urls queued again" "$(cat "$T/err2")"
check "404 tried again as a new row" 2 "$(sql "SELECT count(*) FROM fetches f JOIN urls u ON u.id = f.url_id WHERE u.url = '$BASE/status/404'")"
finish
