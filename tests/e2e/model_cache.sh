#!/usr/bin/env bash
# model_cache.sh — the packed-weights cache through the CLI: a workspace
# model's cache is written beside its weights at the first classify and
# mapped at the second (-v says so), with the same output; a truncated or
# damaged cache is rebuilt with the same output; a model file's cache goes
# under $XDG_CACHE_HOME/natadv, and a place where none can be written means
# no cache, not an error.
. "$(dirname "$0")/lib.sh"

MODEL=$ROOT/tests/golden/tiny_basic.safetensors
PHOTO=$FIX/chelsea_q90.jpg
nat -q init
nat -q model add "$MODEL" --name tiny
ID=$(sha256sum "$MODEL" | cut -c1-64)
PACKED=$T/ws/models/$ID.packed

out1=$(nat -v classify --model tiny "$PHOTO" 2> "$T/err")
check "first classify" 0 "$?"
check_match "first load writes the cache" "model 'tiny': .*cache: written" "$(cat "$T/err")"
check "cache beside the weights" yes "$([ -s "$PACKED" ] && echo yes)"
out2=$(nat -v classify --model tiny "$PHOTO" 2> "$T/err")
check_match "second load maps it" "cache: hit" "$(cat "$T/err")"
check "same answers from the cache" "$out1" "$out2"

truncate -s 1000 "$PACKED"
out=$(nat -v classify --model tiny "$PHOTO" 2> "$T/err")
check_match "truncated cache rebuilt" "cache: rebuilt: truncated" "$(cat "$T/err")"
check "same answers after a rebuild" "$out1" "$out"
size=$(stat -c %s "$PACKED")
printf '\x55' | dd of="$PACKED" bs=1 seek=$((size - 300)) conv=notrunc status=none
out=$(nat -v classify --model tiny "$PHOTO" 2> "$T/err")
check_match "damaged cache rebuilt" "cache: rebuilt: bad checksum" "$(cat "$T/err")"
check "same answers after a damaged cache" "$out1" "$out"
out=$(nat -v classify --model tiny "$PHOTO" 2> "$T/err")
check_match "rebuilt cache hits" "cache: hit" "$(cat "$T/err")"

# a model file, no workspace: the cache goes under $XDG_CACHE_HOME/natadv
out=$("$NATADV" -v classify --model "$MODEL" "$PHOTO" 2> "$T/err")
check_match "file model writes its cache" "cache: written" "$(cat "$T/err")"
check "file cache under XDG_CACHE_HOME" yes "$([ -s "$XDG_CACHE_HOME/natadv/$ID.packed" ] && echo yes)"
check "same answers from a file" "$out1" "$out"
out=$("$NATADV" -v classify --model "$MODEL" "$PHOTO" 2> "$T/err")
check_match "file model hits" "cache: hit" "$(cat "$T/err")"
# nowhere to write (the cache folder is a file): no cache, same answers
: > "$T/notadir"
out=$(XDG_CACHE_HOME=$T/notadir "$NATADV" -v classify --model "$MODEL" "$PHOTO" 2> "$T/err")
check "no cache folder is no error" 0 "$?"
check_match "no cache said" "cache: none: cannot create" "$(cat "$T/err")"
check "same answers without a cache" "$out1" "$out"
finish
