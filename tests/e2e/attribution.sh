#!/usr/bin/env bash
# attribution.sh — the credit line a source asks for (iNaturalist's photo
# "attribution") travels into the release verbatim: manifest.jsonl carries
# it right after "author" (null when there is none), and a release rebuilt
# from that manifest into a fresh workspace carries it again, so the rebuilt
# release's manifest and tar are the original's byte for byte.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
A=n01498041 B=n01531178 C=n01534433
# Quotes, a backslash, a tab and non-ASCII: all need care in JSON.
CREDIT=$(printf '(c) \xe5\x8c\x97\xe5\xb7\x9d "Zo\xc3\xab" O'"'"'Brien \\ co.\tsome rights reserved (CC BY)')

start_server
seeds_three "$A" "$B" "$C"
nat -q init
nat -q crawl --seeds "$T/seeds.tsv" --allow-private
check "crawl" 3 "$(sql 'SELECT count(*) FROM images')"
# As discover keeps an iNaturalist photo's attribution (a bound parameter
# there; here the sqlite3 shell, the quote doubled).
sql "UPDATE url_tags SET attribution = '${CREDIT//\'/\'\'}' WHERE wnid = '$A'"
check "the credit kept" "$CREDIT" "$(sql "SELECT attribution FROM url_tags WHERE wnid = '$A'")"
demo_accept three "$A,$B,$C" 0.01
nat -q export --set three --out "$T/rel" --tar > /dev/null
check "export --tar" 0 "$?"
attr() {
	python3 -c 'import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(l); k = list(d)
    print(d["wnid"], json.dumps(d["attribution"], ensure_ascii=False), k[k.index("author") + 1])' "$1"
}
printf '%s %s attribution\n%s null attribution\n%s null attribution\n' "$A" \
	"$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1], ensure_ascii=False))' "$CREDIT")" "$B" "$C" > "$T/want"
check "the manifest has the credit verbatim, right after author" "$(cat "$T/want")" "$(attr "$T/rel/manifest.jsonl")"
check_match "written as UTF-8, quotes and the tab escaped" '"attribution":"\(c\) 北川 \\"Zoë\\" O.Brien \\\\ co\.\\tsome' \
	"$(grep "$A" "$T/rel/manifest.jsonl")"
check_match "null where there is none" '"author":null,"attribution":null,"title"' "$(grep "$C" "$T/rel/manifest.jsonl")"
"$NATADV" -w "$T/ws" -q verify "$T/rel"
check "it verifies" 0 "$?"

# Rebuild into a fresh workspace, then a plain export there.
"$NATADV" -w "$T/ws2" -q rebuild --manifest "$T/rel/manifest.jsonl" --allow-private > /dev/null 2> "$T/err"
check "rebuild" 0 "$?"
check "the rebuilt workspace keeps the credit" "$CREDIT" \
	"$(sqlite3 -batch -noheader "$T/ws2/natadv.db" "SELECT attribution FROM url_tags WHERE wnid = '$A'")"
"$NATADV" -w "$T/ws2" -q export --set three --out "$T/rel2" --tar > /dev/null
check "export of the rebuilt selection" 0 "$?"
check "the same tar" "$(sha256sum < "$T/rel/three.tar")" "$(sha256sum < "$T/rel2/three.tar")"
check "the same credits in its manifest" "$(cat "$T/want")" "$(attr "$T/rel2/manifest.jsonl")"
# The candidate's provenance, "source" to "title", the same bytes (fetch,
# model and review differ: they are the new workspace's own).
prov() { sed 's/.*\("source":.*"title":[^,]*\).*/\1/' "$1"; }
check "the same provenance bytes" "$(prov "$T/rel/manifest.jsonl")" "$(prov "$T/rel2/manifest.jsonl")"
check_match "attribution among them" '"attribution":"\(c\) ' "$(prov "$T/rel2/manifest.jsonl")"
finish
