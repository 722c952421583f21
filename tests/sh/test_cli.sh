# test_cli.sh: the llmnas command line — help, version, every exit code of `run`.
. "$(dirname "$0")/lib.sh"

run "$LLMNAS" --help
expect_rc 0 "--help"
expect_out "usage: llmnas COMMAND" "--help prints usage on stdout"
expect_out "run " "--help lists the run command"

run "$LLMNAS" --version
expect_rc 0 "--version"
expect_out "llmnas 0." "--version prints the version"

run "$LLMNAS"
expect_rc 64 "no command"
expect_err "usage: llmnas COMMAND" "no command prints a usage line on stderr"

run "$LLMNAS" frobnicate
expect_rc 64 "unknown command"
expect_err "unknown command 'frobnicate'" "unknown command is named"

run "$LLMNAS" run --help
expect_rc 0 "run --help"
expect_out "usage: llmnas run" "run --help prints the run usage"

run "$LLMNAS" run --bogus "$ROOT/examples/hello.lua"
expect_rc 64 "unknown option to run"
expect_err "unknown option '--bogus'" "unknown option is named"
expect_err "usage: llmnas run" "unknown option prints a usage line"

run "$LLMNAS" run --iterations zero "$ROOT/examples/hello.lua"
expect_rc 64 "non-numeric --iterations"
expect_err "needs a positive integer, got 'zero'" "bad --iterations is explained"

run "$LLMNAS" run "$ROOT/examples/hello.lua" --llm-cache sometimes
expect_rc 64 "bad --llm-cache"

run "$LLMNAS" run
expect_rc 64 "run without a script"

run "$LLMNAS" run "$T/nope.lua"
expect_rc 66 "missing script"
expect_err "cannot open script '$T/nope.lua'" "missing script names the path"

mkdir "$T/adir.lua"
run "$LLMNAS" run "$T/adir.lua"
expect_rc 66 "unreadable script (a directory)"
expect_err "$T/adir.lua" "unreadable script names the path"

printf 'local x = 1\nif x then\n  print("unclosed"\nend\n' >"$T/syntax.lua"
run "$LLMNAS" run "$T/syntax.lua"
expect_rc 65 "syntax error"
expect_err "$T/syntax.lua:4: ')' expected (to close '(' at line 3)" "syntax error names file and line"

printf 'local function f()\n  error("boom")\nend\nf()\n' >"$T/runtime.lua"
run "$LLMNAS" run "$T/runtime.lua"
expect_rc 70 "runtime error"
expect_err "$T/runtime.lua:2: boom" "runtime error names file and line"
expect_err "stack traceback:" "runtime error carries a traceback"
expect_err "in local 'f'" "traceback names the function"

printf 'error(setmetatable({}, {__tostring = function() return "custom object" end}))\n' >"$T/errobj.lua"
run "$LLMNAS" run "$T/errobj.lua"
expect_rc 70 "error object with __tostring"
expect_err "custom object" "error object is shown through __tostring"

printf 'error({code = 1})\n' >"$T/errtable.lua"
run "$LLMNAS" run "$T/errtable.lua"
expect_rc 70 "table error object"
expect_err "(error object is a table value)" "table error object is described"

printf 'print(arg[0], arg[1], arg[2], #arg)\nlocal o = require("llmnas.options")\nprint(o.set.k, math.type(o.set.k), o.set.mode, o.resume, o.iterations)\n' >"$T/args.lua"
run "$LLMNAS" run --set k=5 "$T/args.lua" one --resume two --set mode=fast --iterations 7
expect_rc 0 "options before and after the script"
expect_out "$T/args.lua	one	two	2" "script arguments reach arg"
expect_out "5	integer	fast	true	7" "--set, --resume and --iterations reach llmnas.options"

run "$LLMNAS" run "$T/args.lua" -- --resume
expect_out "--resume	nil	1" "arguments after -- go to the script"

# Works from any working directory; the script's own folder is on package.path.
mkdir -p "$T/proj/sub"
printf 'return {greet = function() return "from helper" end}\n' >"$T/proj/helper.lua"
printf 'print(require("helper").greet())\n' >"$T/proj/main.lua"
(cd "$T/proj/sub" && run "$LLMNAS" run ../main.lua && expect_rc 0 "relative script path" &&
    expect_out "from helper" "the script's folder is on package.path")
(cd / && run "$LLMNAS" run "$ROOT/examples/hello.lua" && expect_rc 0 "hello.lua from /" &&
    expect_out "hello, llmnas user" "hello.lua prints its greeting")

# The embedded stdlib, and LLMNAS_STDLIB_DIR for development.
mkdir -p "$T/stdlib/llmnas"
printf 'return {version = "from-dir"}\n' >"$T/stdlib/llmnas/init.lua"
printf 'print(require("llmnas").version)\n' >"$T/ver.lua"
run "$LLMNAS" run "$T/ver.lua"
expect_out "0." "the embedded stdlib is used by default"
LLMNAS_STDLIB_DIR="$T/stdlib" run "$LLMNAS" run "$T/ver.lua"
expect_out "from-dir" "LLMNAS_STDLIB_DIR overrides the embedded stdlib"

# Ctrl-C: a clean stop at the next Lua instruction, even inside pcall; exit 130.
printf 'local n = 0\nwhile true do\n  pcall(function() while true do n = n + 1 end end)\nend\n' >"$T/loop.lua"
"$LLMNAS" run "$T/loop.lua" >"$T/out" 2>"$T/err" &
pid=$!
sleep 0.5
kill -INT "$pid"
wait "$pid"
rc=$?
expect_rc 130 "Ctrl-C stops the script"
expect_err "interrupted" "Ctrl-C says the run was interrupted"
expect_err "$T/loop.lua:3:" "Ctrl-C says where the script stopped"

# OpenMP's spin count: libgomp reads GOMP_SPINCOUNT when it is loaded, so llmnas
# runs itself again with it set (10,000 spins, not 300,000: threads that lose their
# core on a shared machine do not keep their partners spinning for long).
# /proc/self/environ is the environment the process image started with: a setenv
# without the new image would not show there. A user's own choice is kept.
cat >"$T/environ.lua" <<'LUA'
local f = assert(io.open("/proc/self/environ", "rb"))
local s = f:read("a")
f:close()
print("spin count: " .. (s:match("GOMP_SPINCOUNT=([^%z]*)") or "unset"))
print("wait policy: " .. (s:match("OMP_WAIT_POLICY=([^%z]*)") or "unset"))
LUA
run env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$LLMNAS" run "$T/environ.lua"
expect_out "spin count: 10000" "llmnas starts OpenMP with a short spin count"
run env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=active "$LLMNAS" run "$T/environ.lua"
expect_out "spin count: unset" "a wait policy the user chose is kept (no spin count is added)"
expect_out "wait policy: active" "and passed on as it was"
run env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=1000 "$LLMNAS" run "$T/environ.lua"
expect_out "spin count: 1000" "a spin count the user chose is kept"
run env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$LLMNAS" run "$T/nope.lua"
expect_rc 66 "the exit code survives the new image"
