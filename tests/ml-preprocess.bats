#!/usr/bin/env bats
# ml-preprocess: every subcommand on small generated data, pipes, info, and
# bad input (each failure leaves no output file and an existing one unchanged).

bats_require_minimum_version 1.5.0
load test_helper

setup() {
    T=$BATS_TEST_TMPDIR
    cd "$T"
}

# Files in the test directory whose names start with a dot (temporaries).
no_temporaries() {
    [ -z "$(find "$T" -name '.*.tmp.*')" ]
}

# ---- the usual options -------------------------------------------------------

@test "--help prints the usage to stdout and exits 0" {
    run -0 --separate-stderr ml-preprocess --help
    [ "${lines[0]}" = "Usage: ml-preprocess import idx [OPTIONS] IMAGES [LABELS]" ]
    [[ "$output" == *"ml-preprocess split --counts N,N... [OPTIONS] IN -o OUT -o OUT..."* ]]
    [[ "$output" == *"--save-transform T"* ]]
    [ -z "$stderr" ]
    run -0 ml-preprocess -h
    [ "${lines[0]}" = "Usage: ml-preprocess import idx [OPTIONS] IMAGES [LABELS]" ]
}

@test "--version names the program, the version and the build features" {
    run -0 --separate-stderr ml-preprocess --version
    [ "${lines[0]}" = "ml-preprocess (ml) 0.1.0" ]
    [[ "${lines[1]}" == "features: cuda="*" hdf5="*" zlib="* ]]
    run -0 ml-preprocess -V
    [ "${lines[0]}" = "ml-preprocess (ml) 0.1.0" ]
}

@test "an unknown option is a usage error with a hint" {
    run -2 --separate-stderr ml-preprocess --foo
    [ -z "$output" ]
    [ "$stderr" = "ml-preprocess: unknown option '--foo'
Try 'ml-preprocess --help' for more information." ]
    run -2 --separate-stderr ml-preprocess shuffle in.h5 --bar=3 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: unknown option '--bar'" ]
    run -2 --separate-stderr ml-preprocess info -Z x.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: unknown option '-Z'" ]
    [ "${stderr_lines[1]}" = "Try 'ml-preprocess --help' for more information." ]
}

@test "a missing command, operand or option argument is a usage error" {
    run -2 --separate-stderr ml-preprocess
    [ "${stderr_lines[0]}" = "ml-preprocess: missing command (import, split, shuffle, standardize, gcn, remove-mean, zca, pca, lcn, patches, apply, pipeline or info)" ]
    [ "${stderr_lines[1]}" = "Try 'ml-preprocess --help' for more information." ]
    run -2 --separate-stderr ml-preprocess shuffle -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: shuffle: missing IN" ]
    run -2 --separate-stderr ml-preprocess import idx -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: import: missing IMAGES" ]
    run -2 --separate-stderr ml-preprocess info
    [ "${stderr_lines[0]}" = "ml-preprocess: info: missing FILE" ]
    run -2 --separate-stderr ml-preprocess shuffle a.h5 b.h5 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: shuffle: extra operand 'b.h5'" ]
    run -2 --separate-stderr ml-preprocess split in.h5 --counts
    [ "${stderr_lines[0]}" = "ml-preprocess: option '--counts' requires an argument" ]
    run -2 --separate-stderr ml-preprocess frobnicate x
    [ "${stderr_lines[0]}" = "ml-preprocess: unknown command 'frobnicate'" ]
    run -2 --separate-stderr ml-preprocess import xls x.xls -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: import: unknown format 'xls' (known: idx, csv, npy, hdf5)" ]
    [ ! -e out.h5 ]
}

@test "bad option values and options of other commands are usage errors" {
    run -2 --separate-stderr ml-preprocess shuffle --seed abc in.h5 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: invalid value 'abc' for '--seed' (expected an integer >= 0)" ]
    run -2 --separate-stderr ml-preprocess shuffle --seed 1 --counts 3 in.h5 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: option '--counts' does not apply to 'shuffle'" ]
    run -2 --separate-stderr ml-preprocess info -o out.h5 in.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: option '--output' does not apply to 'info'" ]
    run -2 --separate-stderr ml-preprocess standardize in.h5 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: standardize: give either --fit or --transform T" ]
    run -2 --separate-stderr ml-preprocess standardize --fit --transform t.h5 in.h5 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: standardize: give either --fit or --transform T" ]
    run -2 --separate-stderr ml-preprocess standardize --fit --std-eps -1 in.h5 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: invalid value '-1' for '--std-eps' (expected a positive number)" ]
    run -2 --separate-stderr ml-preprocess shuffle --compress=12 in.h5 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: invalid value '12' for '--compress' (expected 1 to 9)" ]
    [ ! -e out.h5 ]
}

# ---- import ------------------------------------------------------------------

@test "import idx: gzip images and labels into a dataset file" {
    make_idx_pair idx 30
    run -0 --separate-stderr ml-preprocess import idx idx/images-idx3-ubyte.gz idx/labels-idx1-ubyte.gz -o d.h5
    [ -z "$output" ] && [ -z "$stderr" ]
    run -0 ml-preprocess info d.h5
    [[ "$output" == *"format: ml-dataset 1"* ]]
    [[ "$output" == *"examples: 30"* ]]
    [[ "$output" == *"X: float32 [30, 16]"* ]]
    [[ "$output" == *"image shape: 1 x 4 x 4 (C x H x W)"* ]]
    [[ "$output" == *"values: min 0 max 0.854902 "* ]]
    [[ "$output" == *"y: int32 [30]"* ]]
    [[ "$output" == *"classes: 3"* ]]
    [[ "$output" == *"class 0: 10"*"class 1: 10"*"class 2: 10"* ]]
    [[ "$output" == *"provenance:"*"  ml-preprocess import idx idx/images-idx3-ubyte.gz idx/labels-idx1-ubyte.gz -o d.h5"* ]]
    no_temporaries
}

@test "import idx: raw (uncompressed) files, images alone, raw pixels" {
    make_idx_images img.idx 7 5 3
    make_idx_labels lab.idx 7 4
    run -0 ml-preprocess import idx img.idx lab.idx -o a.h5
    run -0 ml-preprocess info a.h5
    [[ "$output" == *"X: float32 [7, 15]"* ]]
    [[ "$output" == *"image shape: 1 x 5 x 3"* ]]
    [[ "$output" == *"classes: 4"* ]]
    run -0 ml-preprocess import idx img.idx -o b.h5
    run -0 ml-preprocess info b.h5
    [[ "$output" == *"y: none"* ]]
    run -0 ml-preprocess import idx --raw-pixels img.idx -o c.h5
    run -0 ml-preprocess info c.h5
    [[ "$output" == *"values: min 0 max 56 "* ]]
}

@test "import idx: class names with --label-names" {
    make_idx_pair idx 6
    run -0 ml-preprocess import idx --label-names cat,dog,bird idx/images-idx3-ubyte.gz idx/labels-idx1-ubyte.gz -o d.h5
    run -0 ml-preprocess info d.h5
    [[ "$output" == *"class 0: 2 cat"*"class 2: 2 bird"* ]]
    run -1 --separate-stderr ml-preprocess import idx --label-names cat,dog idx/images-idx3-ubyte.gz idx/labels-idx1-ubyte.gz -o e.h5
    [ "$stderr" = "ml-preprocess: idx/labels-idx1-ubyte.gz: 2 label names for labels up to 2" ]
    [ ! -e e.h5 ]
    no_temporaries
}

@test "import idx: standard output by default when it is not a terminal, and '-o -'" {
    make_idx_pair idx 5
    ml-preprocess import idx idx/images-idx3-ubyte.gz idx/labels-idx1-ubyte.gz > a.h5
    ml-preprocess import idx idx/images-idx3-ubyte.gz idx/labels-idx1-ubyte.gz -o - > b.h5
    run -0 ml-preprocess info a.h5
    [[ "$output" == *"examples: 5"* ]]
    run -0 ml-preprocess info b.h5
    [[ "$output" == *"examples: 5"* ]]
    # IDX from standard input
    ml-preprocess import idx - idx/labels-idx1-ubyte.gz -o c.h5 < idx/images-idx3-ubyte.gz
    run -0 ml-preprocess info c.h5
    [[ "$output" == *"classes: 3"* ]]
}

@test "import idx: a truncated IDX file fails and writes nothing" {
    make_idx_images full.idx 10
    head -c 100 full.idx > cut.idx
    make_idx_labels lab.idx 10
    run -1 --separate-stderr ml-preprocess import idx cut.idx lab.idx -o d.h5
    [ "$stderr" = "ml-preprocess: cut.idx: truncated: expected 160 bytes of pixels, found 84" ]
    [ ! -e d.h5 ]
    gzip -c full.idx | head -c 60 > cut.idx.gz
    run -1 --separate-stderr ml-preprocess import idx cut.idx.gz lab.idx -o d.h5
    [[ "$stderr" == "ml-preprocess: cut.idx.gz: truncated: expected 160 bytes of pixels, found "* ]]
    [ ! -e d.h5 ]
    no_temporaries
}

@test "import idx: mismatched counts, bad magic, a missing file" {
    make_idx_images img.idx.gz 10
    make_idx_labels lab.idx.gz 9
    echo "hello world, this is text" > text.idx
    run -1 --separate-stderr ml-preprocess import idx img.idx.gz lab.idx.gz -o d.h5
    [ "$stderr" = "ml-preprocess: lab.idx.gz has 9 labels, img.idx.gz has 10 images" ]
    run -1 --separate-stderr ml-preprocess import idx text.idx -o d.h5
    [ "$stderr" = "ml-preprocess: text.idx: not an IDX file (bad magic 0x68656c6c, expected 0x00000803)" ]
    run -1 --separate-stderr ml-preprocess import idx lab.idx.gz -o d.h5
    [ "$stderr" = "ml-preprocess: lab.idx.gz: expected IDX images of 3 dimensions, found 1 (magic 0x00000801)" ]
    run -1 --separate-stderr ml-preprocess import idx absent.idx.gz lab.idx.gz -o d.h5
    [ "$stderr" = "ml-preprocess: absent.idx.gz: cannot open: No such file or directory" ]
    [ ! -e d.h5 ]
    no_temporaries
}

@test "the real Fashion-MNIST training set: 60000 rows, 10 classes of 6000" {
    F=/usr/share/datasets/fashion-mnist
    [ -r "$F/train-images-idx3-ubyte.gz" ] || skip "no $F (apt-get install dataset-fashion-mnist)"
    run -0 ml-preprocess import idx "$F/train-images-idx3-ubyte.gz" "$F/train-labels-idx1-ubyte.gz" -o train.h5
    run -0 ml-preprocess info train.h5
    [[ "$output" == *"examples: 60000"* ]]
    [[ "$output" == *"X: float32 [60000, 784]"* ]]
    [[ "$output" == *"image shape: 1 x 28 x 28"* ]]
    [[ "$output" == *"classes: 10"* ]]
    for k in 0 1 2 3 4 5 6 7 8 9; do
        [[ "$output" == *"class $k: 6000"* ]]
    done
}

# ---- split -------------------------------------------------------------------

@test "split: consecutive parts, one output per count, 'rest'" {
    make_idx_dataset d.h5 30
    run -0 ml-preprocess split d.h5 --counts 20,6,rest -o a.h5 -o b.h5 -o c.h5
    run -0 ml-preprocess info a.h5
    [[ "$output" == *"examples: 20"* ]]
    [[ "$output" == *"  ml-preprocess split d.h5 --counts 20,6,rest -o a.h5 -o b.h5 -o c.h5"* ]]
    [[ "$output" == *"  ml-preprocess import idx "* ]]
    run -0 ml-preprocess info b.h5
    [[ "$output" == *"examples: 6"* ]]
    [[ "$output" == *"classes: 3"* ]]
    run -0 ml-preprocess info c.h5
    [[ "$output" == *"examples: 4"* ]]
    # the rows are the file's rows 20..25
    run -0 ml-preprocess info --start 20 --stop 26 d.h5
    want=$(echo "$output" | grep '^values')
    run -0 ml-preprocess info b.h5
    [ "$(echo "$output" | grep '^values')" = "$want" ]
}

@test "split: counts and outputs must agree; too many rows writes nothing" {
    make_idx_dataset d.h5 10
    run -2 --separate-stderr ml-preprocess split d.h5 --counts 5,5 -o a.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: split: 2 counts but 1 output (-o)" ]
    run -2 --separate-stderr ml-preprocess split d.h5 -o a.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: split: missing --counts" ]
    run -1 --separate-stderr ml-preprocess split d.h5 --counts 6,5 -o a.h5 -o b.h5
    [ "$stderr" = "ml-preprocess: d.h5: the counts add up to 11, the data has 10 rows" ]
    [ ! -e a.h5 ] && [ ! -e b.h5 ]
    no_temporaries
}

@test "split: one part can go to standard output" {
    make_idx_dataset d.h5 10
    ml-preprocess split d.h5 --counts 3,7 -o a.h5 -o - > b.h5
    run -0 ml-preprocess info b.h5
    [[ "$output" == *"examples: 7"* ]]
}

# ---- shuffle -----------------------------------------------------------------

@test "shuffle: a seed gives the same order, another seed another" {
    make_idx_dataset d.h5 40
    ml-preprocess shuffle --seed 7 d.h5 -o a.h5
    ml-preprocess shuffle d.h5 --seed 7 -o b.h5
    ml-preprocess shuffle d.h5 --seed 8 -o c.h5
    [ "$(h5dump -d /X a.h5 | tail -n +3)" = "$(h5dump -d /X b.h5 | tail -n +3)" ]
    [ "$(h5dump -d /y a.h5 | tail -n +3)" = "$(h5dump -d /y b.h5 | tail -n +3)" ]
    [ "$(h5dump -d /X a.h5 | tail -n +3)" != "$(h5dump -d /X c.h5 | tail -n +3)" ]
    [ "$(h5dump -d /X a.h5 | tail -n +3)" != "$(h5dump -d /X d.h5 | tail -n +3)" ]
    # a permutation: the same rows, the same class counts
    run -0 ml-preprocess info d.h5
    before=$(echo "$output" | grep -E '^(values|class )')
    run -0 ml-preprocess info a.h5
    [ "$(echo "$output" | grep -E '^(values|class )')" = "$before" ]
    [[ "$output" == *"  ml-preprocess shuffle --seed 7 d.h5 -o a.h5"* ]]
}

@test "shuffle: the order of a seed is pinned" {
    # Philox-4x32-10 Fisher-Yates: the same order on every machine, for ever
    make_idx_images r.idx 8
    ml-preprocess import idx --raw-pixels r.idx -o r.h5
    ml-preprocess shuffle --seed 1 r.h5 -o s.h5
    h5dump -d /X -s 0,0 -c 8,1 -y -w 0 -o col.txt s.h5 > /dev/null
    # column 0 of row i is 7 * i: rows 1, 0, 4, 2, 5, 3, 6, 7
    [ "$(tr -d ' \n' < col.txt)" = "7,0,28,14,35,21,42,49" ]
}

# ---- standardize ---------------------------------------------------------------

@test "standardize: fit, save the transform, apply it to another file" {
    make_idx_dataset d.h5 30
    ml-preprocess split d.h5 --counts 20,10 -o train.h5 -o valid.h5
    run -0 ml-preprocess standardize --fit train.h5 --save-transform std.h5 -o strain.h5
    run -0 ml-preprocess info strain.h5
    [[ "$output" == *"mean "*"e-"*" std 1"* || "$output" == *"mean 0 std 1"* ]]
    [[ "$output" == *"  ml-preprocess standardize --fit train.h5 --save-transform std.h5 -o strain.h5"* ]]
    run -0 ml-preprocess info std.h5
    [[ "$output" == *"format: ml-transform 1"* ]]
    [[ "$output" == *"transform: standardize"* ]]
    [[ "$output" == *"features: 16"* ]]
    [[ "$output" == *"fitted on: 20 examples"* ]]
    [[ "$output" == *"std_eps: 0.0001"* ]]
    run -0 ml-preprocess standardize --transform std.h5 valid.h5 -o svalid.h5
    run -0 ml-preprocess info svalid.h5
    [[ "$output" == *"examples: 10"* ]]
    [[ "$output" == *"  ml-preprocess standardize --transform std.h5 valid.h5 -o svalid.h5"* ]]
    # fitting and applying the saved transform to the same data agree
    run -0 ml-preprocess standardize --transform std.h5 train.h5 -o again.h5
    [ "$(h5dump -d /X again.h5 | tail -n +3)" = "$(h5dump -d /X strain.h5 | tail -n +3)" ]
}

@test "standardize: a transform fitted on another number of features is refused" {
    make_idx_dataset d.h5 10
    make_idx_images img.idx 10 3 3
    ml-preprocess import idx img.idx -o other.h5
    ml-preprocess standardize --fit d.h5 --save-transform std.h5 -o s.h5
    echo keep > out.h5
    before=$(file_digest out.h5)
    run -1 --separate-stderr ml-preprocess standardize --transform std.h5 other.h5 -o out.h5
    [ "$stderr" = "ml-preprocess: other.h5: transform std.h5 was fitted on 16 features, the data has 9" ]
    [ "$(file_digest out.h5)" = "$before" ]
    run -1 --separate-stderr ml-preprocess standardize --transform d.h5 other.h5 -o out2.h5
    [ "$stderr" = "ml-preprocess: d.h5: not a transform file (ml_format is 'ml-dataset', expected 'ml-transform')" ]
    [ ! -e out2.h5 ]
    no_temporaries
}

@test "the pipe: import | standardize --fit - -o train.h5" {
    make_idx_pair idx 25
    ml-preprocess import idx idx/images-idx3-ubyte.gz idx/labels-idx1-ubyte.gz -o - |
        ml-preprocess standardize --fit - -o train.h5
    run -0 ml-preprocess info train.h5
    [[ "$output" == *"examples: 25"* ]]
    [[ "$output" == *"classes: 3"* ]]
    [[ "$output" == *"provenance:
  ml-preprocess import idx idx/images-idx3-ubyte.gz idx/labels-idx1-ubyte.gz -o -
  ml-preprocess standardize --fit - -o train.h5"* ]]
    # and a longer one, through shuffle and split, read from stdin by info
    ml-preprocess import idx idx/images-idx3-ubyte.gz idx/labels-idx1-ubyte.gz |
        ml-preprocess shuffle --seed 3 - | ml-preprocess split - --counts 20,5 -o a.h5 -o -  |
        ml-preprocess info - > info.txt
    grep -qx 'file: <stdin>' info.txt
    grep -qx 'examples: 5' info.txt
    run -0 ml-preprocess info a.h5
    [[ "$output" == *"examples: 20"* ]]
}

# ---- info and reading options ----------------------------------------------------

@test "info: row ranges, other dataset names, no y, and files h5py wrote" {
    py=$(h5py_python) || skip "no python3 with h5py"
    "$py" - plain.h5 <<'PY'
import sys, numpy as np, h5py
with h5py.File(sys.argv[1], "w") as f:
    f["features"] = np.arange(24, dtype=np.float64).reshape(6, 4)
    f["targets"] = np.array([0, 1, 4, 1, 0, 2], dtype=np.int64)
PY
    run -0 ml-preprocess info --x-name features --y-name targets plain.h5
    [[ "$output" == *"format: none (plain HDF5)"* ]]
    [[ "$output" == *"X: float32 [6, 4]"* ]]
    [[ "$output" == *"classes: 5"* ]]
    run -0 ml-preprocess info --x-name features --y-name targets --start 2 --stop 4 plain.h5
    [[ "$output" == *"examples: 2"* ]]
    [[ "$output" == *"values: min 8 max 15 "* ]]
    [[ "$output" == *"rows: 2 to 4 of the file"* ]]
    run -0 ml-preprocess info --x-name features --no-y plain.h5
    [[ "$output" == *"y: none"* ]]
    run -1 --separate-stderr ml-preprocess info --x-name features --y-name labels plain.h5
    [ "$stderr" = "ml-preprocess: plain.h5:/labels: not found" ]
    run -1 --separate-stderr ml-preprocess info plain.h5
    [ "$stderr" = "ml-preprocess: plain.h5:/X: not found" ]
    run -0 ml-preprocess shuffle --x-name features --y-name targets --stop 5 plain.h5 -o s.h5
    run -0 ml-preprocess info s.h5
    [[ "$output" == *"examples: 5"* ]]
}

@test "NaN in X is refused with its row and column, unless --allow-nan" {
    py=$(h5py_python) || skip "no python3 with h5py"
    "$py" - nan.h5 <<'PY'
import sys, numpy as np, h5py
X = np.zeros((20, 5), np.float32)
X[17, 3] = np.nan
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["ml_format"] = "ml-dataset"
    f.attrs["ml_format_version"] = np.int64(1)
    f["X"] = X
PY
    run -1 --separate-stderr ml-preprocess shuffle nan.h5 -o s.h5
    [ "$stderr" = "ml-preprocess: nan.h5:/X: row 17 column 3 is NaN" ]
    [ ! -e s.h5 ]
    run -0 ml-preprocess shuffle --allow-nan nan.h5 -o s.h5
    run -0 ml-preprocess info s.h5
    [[ "$output" == *"non-finite values: 1"* ]]
}

@test "h5py reads the files ml-preprocess writes" {
    py=$(h5py_python) || skip "no python3 with h5py"
    make_idx_pair idx 12
    ml-preprocess import idx --label-names a,b,c idx/images-idx3-ubyte.gz idx/labels-idx1-ubyte.gz -o d.h5 --compress
    ml-preprocess standardize --fit d.h5 --save-transform std.h5 -o s.h5
    run -0 "$py" - d.h5 std.h5 <<'PY'
import sys, numpy as np, h5py
with h5py.File(sys.argv[1], "r") as f:
    assert f.attrs["ml_format"] == "ml-dataset"
    assert f.attrs["ml_format_version"] == 1 and f.attrs["ml_format_version"].dtype == np.int64
    assert f.attrs["n_examples"] == 12 and f.attrs["n_classes"] == 3
    assert f["X"].dtype == np.float32 and f["X"].shape == (12, 16)
    assert f["X"].compression == "gzip" and f["X"].shuffle and f["X"].chunks[1] == 16
    assert list(f["X"].attrs["image_shape"]) == [1, 4, 4]
    assert f["X"].attrs["axes"] == "b,c,0,1"
    assert f["y"].dtype == np.int32 and list(f["y"][:4]) == [0, 1, 2, 0]
    assert [s.decode() if isinstance(s, bytes) else s for s in f["y"].attrs["y_labels"]] == ["a", "b", "c"]
    assert abs(f["X"][1, 2] - 9 / 255) < 1e-7
    assert f.attrs["provenance"].startswith("ml-preprocess import idx")
with h5py.File(sys.argv[2], "r") as t:
    assert t.attrs["ml_format"] == "ml-transform" and t.attrs["transform"] == "standardize"
    assert t["mean"].shape == (16,) and t["std"].dtype == np.float32
print("ok")
PY
    [ "$output" = "ok" ]
}

@test "every long option of --help is in the man page" {
    command -v mandoc >/dev/null || skip "no mandoc"
    page=$(mandoc -T utf8 "$BATS_TEST_DIRNAME/../man/man1/ml-preprocess.1" | col -b)
    run -0 ml-preprocess --help
    for opt in $(echo "$output" | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
        [[ "$page" == *"$opt"* ]] || { echo "missing $opt"; false; }
    done
}

# ---- bad input and outputs -----------------------------------------------------

@test "a missing input file fails, names it, and writes nothing" {
    run -1 --separate-stderr ml-preprocess shuffle absent.h5 -o s.h5
    [ "$stderr" = "ml-preprocess: absent.h5: cannot open: No such file or directory" ]
    [ ! -e s.h5 ]
    run -1 --separate-stderr ml-preprocess info absent.h5
    [ "$stderr" = "ml-preprocess: absent.h5: cannot open: No such file or directory" ]
    no_temporaries
}

@test "a file that is not HDF5 fails, also through standard input" {
    echo "just some text" > text.h5
    run -1 --separate-stderr ml-preprocess shuffle text.h5 -o s.h5
    [ "$stderr" = "ml-preprocess: text.h5: not an HDF5 file" ]
    [ ! -e s.h5 ]
    run -1 --separate-stderr ml-preprocess shuffle - -o s.h5 < text.h5
    [ "$stderr" = "ml-preprocess: <stdin>: not an HDF5 file" ]
    [ ! -e s.h5 ]
    no_temporaries
}

@test "an output directory that does not exist fails and creates nothing" {
    make_idx_dataset d.h5 5
    run -1 --separate-stderr ml-preprocess shuffle d.h5 -o nodir/s.h5
    [ "$stderr" = "ml-preprocess: nodir/s.h5: cannot create: No such file or directory" ]
    [ ! -e nodir ]
    run -1 --separate-stderr ml-preprocess standardize --fit d.h5 --save-transform nodir/t.h5 -o s.h5
    [ "$stderr" = "ml-preprocess: nodir/t.h5: cannot create: No such file or directory" ]
    [ ! -e s.h5 ] && [ ! -e nodir ]
    no_temporaries
}

@test "a failed run leaves an existing output file unchanged" {
    make_idx_dataset d.h5 5
    make_idx_dataset old.h5 3
    before=$(file_digest old.h5)
    run -1 ml-preprocess shuffle absent.h5 -o old.h5
    [ "$(file_digest old.h5)" = "$before" ]
    make_idx_images img.idx 4
    head -c 50 img.idx > cut.idx
    run -1 ml-preprocess import idx cut.idx -o old.h5
    [ "$(file_digest old.h5)" = "$before" ]
    run -1 ml-preprocess split d.h5 --counts 3,3 -o old.h5 -o other.h5
    [ "$(file_digest old.h5)" = "$before" ]
    [ ! -e other.h5 ]
    run -0 ml-preprocess info old.h5
    [[ "$output" == *"examples: 3"* ]]
    no_temporaries
}

@test "binary data is never written to a terminal" {
    command -v script >/dev/null || skip "no script(1)"
    make_idx_pair idx 3
    run script -qec "ml-preprocess import idx idx/images-idx3-ubyte.gz" /dev/null
    [ "$status" -eq 2 ]
    [[ "$output" == *"ml-preprocess: no output file given (-o) and standard output is a terminal"* ]]
    run script -qec "ml-preprocess import idx idx/images-idx3-ubyte.gz -o -" /dev/null
    [ "$status" -eq 2 ]
    [[ "$output" == *"ml-preprocess: refusing to write binary data to a terminal"* ]]
}

@test "--compress and --chunk-rows set the storage of /X" {
    make_idx_pair idx 50
    ml-preprocess import idx idx/images-idx3-ubyte.gz idx/labels-idx1-ubyte.gz -o a.h5 --compress=6 --chunk-rows 8
    run -0 h5dump -p -H -d /X a.h5
    [[ "$output" == *"CHUNKED ( 8, 16 )"* ]]
    [[ "$output" == *"DEFLATE"*"LEVEL 6"* ]]
    [[ "$output" == *"SHUFFLE"* ]]
    run -0 ml-preprocess info a.h5
    [[ "$output" == *"examples: 50"* ]]
}

@test "-v says what was written; -q keeps quiet" {
    make_idx_dataset d.h5 6
    run -0 --separate-stderr ml-preprocess -v shuffle d.h5 -o s.h5
    [ "$stderr" = "ml-preprocess: wrote s.h5: 6 examples, X [6, 16], y with classes" ]
    run -0 --separate-stderr ml-preprocess -q shuffle d.h5 -o s.h5
    [ -z "$stderr" ]
}
