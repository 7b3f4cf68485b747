#!/bin/sh
# check-banned.sh — fail if C sources break a rule of STYLE.md that grep can see:
#   - banned functions anywhere: strcpy, strcat, sprintf, strtok, atoi, gets;
#   - library code (every folder but cli/, tests/, bench/) never prints or
#     exits (printf, fprintf, puts, fputs, putchar, perror, exit, abort) and
#     keeps no mutable state in statics or globals: they must be const;
#   - SQLite is called only in store/, and SQL is never built with printf.
# Prints each hit as FILE:LINE:TEXT under its rule and exits 1 if any.
cd "$(dirname "$0")/.." || exit 1
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' | sed 's|^\./||')
lib=$(printf '%s\n' $files | grep -E '^(common|store|image|crawler|filter|packager|review|slurm)/')
status=0

report() { # RULE HITS
	[ -z "$2" ] && return
	printf '%s:\n%s\n' "$1" "$2" >&2
	status=1
}

report "banned functions used" \
	"$(grep -n -E '\b(strcpy|strcat|sprintf|strtok|atoi|gets)\s*\(' $files)"

# SQL's own printf('%016llx', ...) inside a query string is fine.
report "library code prints or exits (return an error code; only cli/ prints)" \
	"$(grep -n -E '\b(printf|fprintf|vfprintf|puts|fputs|putchar|perror|exit|_exit|abort)\s*\(' $lib |
	   grep -v -E "^[^:]+:[0-9]+:\s*(/?\*|//)|printf\('")"

# A declaration of a file-scope object, or of a static one in a function ...
decl='^([[:space:]]*static[[:space:]]+)?(volatile[[:space:]]+|_Thread_local[[:space:]]+|_Atomic[[:space:]]+)*[A-Za-z_][A-Za-z0-9_]*([[:space:]]+[A-Za-z_][A-Za-z0-9_]*)*[[:space:]*]+[A-Za-z_][A-Za-z0-9_]*[[:space:]]*(\[[^]]*\][[:space:]]*)*(=|;)'
# ... unless it is no object, or a const one (no pointer, or a const pointer).
fine='^[^:]+:[0-9]+:((typedef|union|enum|extern|return|goto)\b|struct [A-Za-z_0-9]+;)|^[^:]+:[0-9]+:[[:space:]]*(static[[:space:]]+)?const[[:space:]]+[A-Za-z_][A-Za-z0-9_ ]*[[:space:]][A-Za-z_][A-Za-z0-9_]*[[:space:]]*(\[|=|;)|\*[[:space:]]*const[[:space:]]+[A-Za-z_][A-Za-z0-9_]*[[:space:]]*(\[|=|;)'
report "mutable static or global state outside cli/ (make it const, or a field of a handle)" \
	"$(grep -n -E "$decl" $lib | grep -v -E "$fine")"

report "SQLite called outside store/" \
	"$(grep -n -E '\bsqlite3_[a-z0-9_]+\s*\(' $(printf '%s\n' $files | grep -v -E '^(store|tests)/'))"

report "SQL built with printf (bind parameters instead)" \
	"$(grep -n -i -E '(printf|buf_puts|buf_append)\s*\([^;]*"\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\s' $files)"
exit $status
