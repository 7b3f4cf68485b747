#!/usr/bin/env bash
# rebuild_export.sh — a release rebuilt without --out carries its release
# time: after `rebuild --manifest M` into a fresh workspace, a plain
# `export --tar` (any later export of the rebuilt selection) gives the
# original tar byte for byte. A release made with the real commands over
# loopback: crawl, score with the demo model, select, auto-accept, export.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
A=n01498041 B=n01531178 C=n01534433

start_server
seeds_three "$A" "$B" "$C"
nat -q init
nat -q crawl --seeds "$T/seeds.tsv" --allow-private
check "crawl" 3 "$(sql 'SELECT count(*) FROM images')"
# The demo model takes every fixture for none of these classes (--space 1k).
demo_accept three "$A,$B,$C" 0.01
nat -q export --set three --out "$T/rel" --tar > /dev/null
check "export --tar" 0 "$?"
TAR=$(sha256sum < "$T/rel/three.tar" | cut -d' ' -f1)
check "three images released" 3 "$(find "$T/rel/three" -name '*.jpg' | wc -l)"
AT=$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["released_at"])' "$T/rel/manifest.jsonl")

# A release time in whole seconds: make sure the clock has moved on.
sleep 1.1

# Rebuild into a fresh workspace without --out, then export there.
"$NATADV" -w "$T/ws2" -q rebuild --manifest "$T/rel/manifest.jsonl" --allow-private > /dev/null 2> "$T/err"
check "rebuild without --out" 0 "$?"
"$NATADV" -w "$T/ws2" -q export --set three --out "$T/rel2" --tar > /dev/null
check "a plain export of the rebuilt selection" 0 "$?"
check "the same tar sha-256" "$TAR" "$(sha256sum < "$T/rel2/three.tar" | cut -d' ' -f1)"
check "the manifest's release time" "$AT" \
	"$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["released_at"])' "$T/rel2/manifest.jsonl")"
check "the release recorded with that time" "$AT" \
	"$(sqlite3 -batch -noheader "$T/ws2/natadv.db" "SELECT released_at FROM releases ORDER BY id DESC LIMIT 1")"
"$NATADV" -w "$T/ws2" -q verify "$T/rel2"
check "it verifies" 0 "$?"
# Any later export too, under another version.
"$NATADV" -w "$T/ws2" -q export --set three --out "$T/rel3" --tar --version 2.0 > /dev/null
check "another version: the same tar" "$TAR" "$(sha256sum < "$T/rel3/three.tar" | cut -d' ' -f1)"

# A rebuild refused because a crawl holds the workspace prints the refusal
# only: no summary of a crawl that never started (issue 11, defect 1).
"$NATADV" -w "$T/ws4" -q init
exec 9> "$T/ws4/crawl.lock"
flock -n 9
check "the test holds ws4's crawl lock" 0 "$?"
"$NATADV" -w "$T/ws4" rebuild --manifest "$T/rel/manifest.jsonl" --allow-private > /dev/null 2> "$T/err"
check "a rebuild under a running crawl fails" 1 "$?"
check_match "with the refusal" "another 'natadv crawl' is running in" "$(cat "$T/err")"
check "and no summary of a crawl that never started" 0 "$(grep -c 'crawled' "$T/err")"
exec 9>&-
finish
