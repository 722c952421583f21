# test_layers.sh: the layering rules of the C sources (tests/py/check_layers.py) hold
# on this tree and its build: only lua/ includes Lua's headers, runtime/ and memory/
# never include from lua/, memory/ nothing of runtime/, and no two source files
# need each other (a circle of symbol uses between their objects). The checker
# itself is shown to catch each kind on a planted tree.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
CHECK="$ROOT/tests/py/check_layers.py"
B=${BUILD:-build}
case "$B" in /*) ;; *) B="$ROOT/$B" ;; esac
run $PY "$CHECK" "$ROOT" "$B"
expect_rc 0 "the layering rules hold"
expect_out "no circle" "no circle between source files"
[ "$rc" -eq 0 ] || sed 's/^/     /' "$T/out"

# A planted tree: a.c and b.c call each other; runtime/c.c includes lua.h.
P="$T/tree"
mkdir -p "$P/runtime/x" "$P/lua" "$P/memory" "$P/b/runtime/x"
printf 'int b(int);\nint a(int v) { return v ? b(v - 1) : 0; }\n' >"$P/runtime/x/a.c"
printf 'int a(int);\nint b(int v) { return a(v); }\n' >"$P/runtime/x/b.c"
i=0
while [ $i -lt 20 ]; do printf 'int f%d(void) { return %d; }\n' $i $i >"$P/runtime/x/f$i.c"; i=$((i + 1)); done
for f in "$P"/runtime/x/*.c; do cc -c -o "$P/b/runtime/x/$(basename "$f" .c).o" "$f"; done
run $PY "$CHECK" "$P" "$P/b"
expect_rc 1 "a planted circle fails the check"
expect_out "circle: runtime/x/a.c -> runtime/x/b.c -> runtime/x/a.c" "and is named"
printf '#include <lua.h>\n' >"$P/runtime/x/c.h"
printf '#include "x/c.h"\n' >"$P/memory/m.c"
run $PY "$CHECK" "$P" "$P/b"
expect_out "runtime/x/c.h: includes lua.h; only lua/ may include Lua's headers" "lua.h outside lua/ is named"
expect_out "memory/m.c: includes runtime/x/c.h; memory/ stands alone" "memory/ including runtime/ is named"
