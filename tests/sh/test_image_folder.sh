# test_image_folder.sh: image-folder datasets end to end (`--dataset folder:PATH`):
# real PNG and JPEG files written from Fashion-MNIST train to the same accuracy as
# the IDX files of the same images; every kind of bad input gets an error naming
# the file (corrupt, truncated JPEG, PNG bomb, 0 bytes, unknown format, empty
# class, single class, symlink loop) or, with --bad-images skip, a count; the
# decoded cache is used, rebuilt when the folder changes, and rebuilt when damaged.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
FM=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if ! $PY -c "import PIL" 2>/dev/null || [ ! -r "$FM" ]; then
    skip "python3-pil or dataset-fashion-mnist not installed"
    exit 0
fi
export LLMNAS_CACHE_DIR="$T/cache"
TINY="$T/tiny.lua"
echo 'function Net(x, classes) return nn.Linear(nn.Flatten(x), classes) end' >"$TINY"

# A small folder of two classes, 8x8 images, to provoke errors on.
mkfolder() {
    rm -rf "$1"
    $PY - "$1" <<'EOF'
import os, sys
from PIL import Image
root = sys.argv[1]
for c, v in (("cats", 40), ("dogs", 200)):
    os.makedirs(os.path.join(root, "train", c))
    for i in range(6):
        Image.new("L", (8, 8), v + i).save(os.path.join(root, "train", c, "%d.png" % i))
    Image.new("RGB", (12, 10), (v, 0, 0)).save(os.path.join(root, "train", c, "j.jpg"), quality=90)
EOF
}
train_tiny() { f=$1; shift; run "$LLMNAS" train "$TINY" --dataset "folder:$f" --in-process --batch 4 "$@"; }

F="$T/small"
mkfolder "$F"
train_tiny "$F"
expect_rc 0 "a folder of PNG and JPEG files trains"
expect_err "2 classes, 14 training and 0 test images, 3x8x8" "classes, counts, RGB (one colour JPEG) at the median size"
expect_err "decoded in" "first run decodes"
train_tiny "$F"
expect_err "read from the cache" "second run reads the cache"

train_tiny "$F" --image-size 16 --channels 1
expect_err "1x16x16" "--image-size and --channels"
expect_err "decoded in" "other options are another cache entry"

touch -d '2020-01-01' "$F/train/cats/0.png"
train_tiny "$F"
expect_err "the folder changed" "a touched file (mtime) is decoded again"
cp "$F/train/cats/1.png" "$F/train/cats/new.png"
train_tiny "$F"
expect_err "15 training" "a new file is decoded again and counted"

cache=$(ls -t "$T"/cache/folder-small-*.u8 | head -n 1)  # the default options, written last
size=$(stat -c %s "$cache")
printf '\377\377\377\377' | dd of="$cache" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
train_tiny "$F"
expect_rc 0 "a damaged cache does not stop training"
expect_err "damaged (checksum mismatch)" "a damaged cache is detected"
train_tiny "$F"
expect_err "read from the cache" "and rebuilt"

# ---- bad input ----
mkfolder "$F"
head -c 100 "$F/train/dogs/j.jpg" >"$T/cut.jpg" && mv "$T/cut.jpg" "$F/train/dogs/j.jpg"
train_tiny "$F"
expect_rc 66 "truncated JPEG stops loading by default"
expect_err "train/dogs/j.jpg: corrupt or truncated JPEG" "the truncated JPEG is named"
expect_err "--bad-images skip" "the message says how to skip"
train_tiny "$F" --bad-images skip
expect_rc 0 "--bad-images skip trains on the rest"
expect_err "skipped 1 bad image" "skipped images are counted"
expect_err "13 training" "and left out"

mkfolder "$F"
printf '\211PNG\r\n\032\nthis is not a png at all' >"$F/train/cats/2.png"
train_tiny "$F"
expect_rc 66 "corrupt PNG"
expect_err "train/cats/2.png: corrupt or truncated PNG" "the corrupt PNG is named"

mkfolder "$F"
$PY - "$F/train/cats/bomb.png" <<'EOF'
import struct, sys, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
w = h = 20000
row = b"\0" * (w + 1)
z = zlib.compressobj(9)
idat = b"".join(z.compress(row) for _ in range(200)) + z.flush()  # rows of a declared 20000x20000
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                              + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
EOF
train_tiny "$F"
expect_rc 66 "PNG bomb"
expect_err "bomb.png: png declares 20000x20000 pixels (400 megapixels), over the limit" "the bomb is refused from its header"

mkfolder "$F"
: >"$F/train/cats/empty.png"
train_tiny "$F"
expect_rc 66 "0-byte file"
expect_err "train/cats/empty.png: the file has 0 bytes" "the empty file is named"

mkfolder "$F"
echo "hello" >"$F/train/cats/notes.txt"
train_tiny "$F"
expect_rc 66 "unknown format"
expect_err "train/cats/notes.txt: unknown image format" "the stray file is named"
mkfolder "$F"
echo "hello" >"$F/train/cats/fake.png"
train_tiny "$F"
expect_err "train/cats/fake.png: not a PNG or JPEG image" "content, not the name, decides the format"

mkfolder "$F"
mkdir "$F/train/birds"
train_tiny "$F"
expect_rc 66 "empty class folder"
expect_err "class folder 'birds' has no images" "the empty class is named"

mkfolder "$F"
rm -rf "$F/train/dogs"
train_tiny "$F"
expect_rc 66 "single class"
expect_err "1 class folder; image classification needs 2 to 256" "one class is refused"

mkfolder "$F"
ln -s .. "$F/train/cats/up"
train_tiny "$F"
expect_rc 66 "symlink loop"
expect_err "train/cats/up/cats: symlink loop: it leads back to a folder above it" "the loop is named"
mkfolder "$F"
ln -s self "$F/train/cats/self"
train_tiny "$F"
expect_err "train/cats/self: symlink loop" "a self-referencing link is named"

run "$LLMNAS" train "$TINY" --dataset "folder:$T/nowhere"
expect_rc 66 "missing folder"
expect_err "$T/nowhere" "the missing folder is named"
run "$LLMNAS" train "$TINY" --dataset "folder:$F?colour=yes"
expect_rc 66 "unknown folder option"
expect_err "unknown option 'colour'" "the option is named"
run "$LLMNAS" train "$TINY" --image-size 32
expect_rc 64 "--image-size without a folder"

# ---- 100,000 tiny files: scanned, decoded and cached; the second run only stats them ----
B="$T/many"
$PY - "$B" <<'EOF'
import io, os, sys
from PIL import Image
buf = io.BytesIO(); Image.new("L", (4, 4), 9).save(buf, "PNG"); png = buf.getvalue()
for c in range(4):
    d = os.path.join(sys.argv[1], "train", "c%d" % c); os.makedirs(d)
    for i in range(25000):
        with open(os.path.join(d, "%05d.png" % i), "wb") as f: f.write(png)
EOF
train_tiny "$B" --subset 256
expect_rc 0 "100,000 tiny files train"
expect_err "100000 training" "all counted"
grep -o 'decoded in [0-9.]* s' "$T/err" | sed 's/^/     100k files: /'
train_tiny "$B" --subset 256
expect_err "read from the cache" "100,000 files: the cache is used"
grep -o 'cache in [0-9.]* s' "$T/err" | sed 's/^/     100k files: /'
rm -rf "$B"

# ---- the same Fashion-MNIST images as PNG, as JPEG and as IDX: the same accuracy ----
$PY "$ROOT/tests/py/make_image_folder.py" "$T/fm" --train 6000 --test 1000 --idx "$T/idx"
$PY "$ROOT/tests/py/make_image_folder.py" "$T/fmj" --train 6000 --test 1000 --format jpeg
NET="$ROOT/examples/nets/bench_small.lua"
acc() { sed -n 's/.*"test_acc":\([0-9.]*\).*/\1/p' "$T/out"; }
run "$LLMNAS" train "$NET" --dataset fashion-mnist --data "$T/idx" --test --json --threads 2
expect_rc 0 "IDX of the same 6,000 images"
a_idx=$(acc)
run "$LLMNAS" train "$NET" --dataset "folder:$T/fm" --test --json --threads 2
expect_rc 0 "PNG folder of the same images"
expect_err "10 classes, 6000 training and 1000 test images, 1x28x28" "grey, 28x28 (the median size)"
a_png=$(acc)
run "$LLMNAS" train "$NET" --dataset folder --data "$T/fmj" --test --json --threads 2
expect_rc 0 "JPEG folder (--dataset folder --data PATH)"
a_jpg=$(acc)
echo "     test accuracy, 6000 images, 1 epoch: IDX $a_idx, PNG $a_png, JPEG $a_jpg"
# The split differs (file order), so allow a spread of 3 points; JPEG is lossy.
if awk "BEGIN {d = $a_png - $a_idx; exit !(d < 0.03 && d > -0.03 && $a_idx > 0.7)}"; then
    pass "PNG accuracy $a_png within 3 points of IDX $a_idx"
else
    fail "PNG accuracy $a_png vs IDX $a_idx"
fi
if awk "BEGIN {d = $a_jpg - $a_idx; exit !(d < 0.04 && d > -0.04)}"; then
    pass "JPEG accuracy $a_jpg within 4 points of IDX $a_idx"
else
    fail "JPEG accuracy $a_jpg vs IDX $a_idx"
fi

# ---- a search over a folder, named as train names it ---------------------------------
run "$LLMNAS" run "$ROOT/examples/random.lua" --dataset folder --data "$T/fmj" --iterations 1 \
    --db "$T/search" --set subset=512 --threads 2
expect_rc 0 "a search on --dataset folder --data PATH"
expect_out "on folder" "the run names the folder dataset"
run "$LLMNAS" run "$ROOT/examples/random.lua" --dataset folder --data "$T/nowhere" --iterations 1 --db "$T/search2"
expect_rc 66 "a search on a folder that is not there: EX_NOINPUT"
expect_err "task: $T/nowhere: No such file or directory" "the folder named, and why"
if [ -e "$T/search2" ]; then fail "a search on a missing folder created its store"
else pass "a search on a missing folder leaves no store"; fi
