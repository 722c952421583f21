# test_memory_diskfull.sh: a full disk from Lua — the writer gets nil, msg,
# "disk_full" with nothing of that iteration stored, stops; once space is freed a
# new process resumes at the next iteration and nothing acknowledged is lost.
# Needs root to mount a small tmpfs; skipped with a message otherwise.
. "$(dirname "$0")/lib.sh"

MNT=$T/mnt
mkdir -p "$MNT"
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=1m llmnas-test "$MNT" 2>"$T/mount.err"; then
    echo "skip: needs root and mount (tmpfs): $(cat "$T/mount.err" 2>/dev/null)"
    skip "disk full: no tmpfs mount here"
    exit 0
fi
trap 'umount "$MNT" 2>/dev/null; _finish' EXIT

cat >"$T/writer.lua" <<'EOF'
-- writer.lua DIR N: append until iteration N or the disk fills; print each
-- acknowledged iteration; on a failure print it and exit 75 (EX_TEMPFAIL).
local db = assert(memory.open(arg[1]))
local run = db:latest_run() or db:begin_run({ name = "diskfull" })
local pad = string.rep("x", 12000)
for i = db:last_iteration(run) + 1, tonumber(arg[2]) do
  local it, msg, kind = db:append(run, { status = "ok", code = pad, metrics = { val_acc = i / 1000 } },
    { n = i })
  if not it then
    print("stopped: " .. kind .. ": " .. msg)
    db:close()
    os.exit(75)
  end
  print("acked " .. it)
  io.stdout:flush()
end
print("done " .. db:last_iteration(run))
db:close()
EOF
cat >"$T/check.lua" <<'EOF'
local db = assert(memory.open(arg[1], { readonly = true }))
local n = 0
for r in db:iter(1) do n = n + 1 assert(r.iter == n and #r.code == 12000) end
local st = db:state(1)
print("records " .. n .. " state " .. st.n)
db:close()
EOF

run "$LLMNAS" run "$T/writer.lua" "$MNT/db" 1000
expect_rc 75 "the writer stops when the disk is full"
expect_out "stopped: disk_full: appending a record: no space left on the device" "with the disk_full kind and message"
acked=$(grep -c '^acked' "$T/out")
cp "$T/out" "$T/first.out"

run "$LLMNAS" run "$T/check.lua" "$MNT/db"
expect_out "records $acked state $acked" "every acknowledged iteration and its state are there, nothing more"

mount -o remount,size=16m "$MNT"
run "$LLMNAS" run "$T/writer.lua" "$MNT/db" $((acked + 20))
expect_rc 0 "once space is freed the writer continues"
expect_out "acked $((acked + 1))" "at the next iteration"
expect_out "done $((acked + 20))" "to the end"
run "$LLMNAS" run "$T/check.lua" "$MNT/db"
expect_out "records $((acked + 20)) state $((acked + 20))" "no gap, no repeat"
