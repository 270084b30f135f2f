#!/usr/bin/env bats
# ml-preprocess import csv, npy and hdf5: values checked with `ml-preprocess
# info`, h5dump and (where installed) numpy/h5py; bad input exits 1 with a
# message, writes no output file and leaves an existing one untouched.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
    T=$BATS_TEST_TMPDIR
    cd "$T"
}

no_temporaries() {
    [ -z "$(find "$T" -name '.*.tmp.*')" ]
}

# A python3 with numpy (skips the test without one).
numpy_python() {
    local py
    for py in "${ML_TEST_PYTHON:-}" python3 /usr/bin/python3; do
        [ -n "$py" ] || continue
        if "$py" -c 'import numpy' 2>/dev/null; then
            echo "$py"
            return 0
        fi
    done
    return 1
}

# The values of a dataset of a file as h5dump prints them, on one line.
values() {
    h5dump -y -w 0 -d "$2" "$1" | awk '/DATA \{/ { on = 1; next } on && /}/ { exit } on' | tr -d ' \n'
}

# Runs a failing import and checks: exit 1, the message, no output, old output kept.
fails() {
    local msg=$1
    shift
    echo keep > out.h5
    run -1 --separate-stderr ml-preprocess "$@" -o out.h5
    [[ "$stderr" == *"$msg"* ]] || { echo "stderr: $stderr"; return 1; }
    [ "$(cat out.h5)" = keep ]
    run -1 --separate-stderr ml-preprocess "$@" -o new.h5
    [ ! -e new.h5 ]
    no_temporaries
}

# ---- csv -----------------------------------------------------------------

@test "import csv: header, named labels, provenance" {
    printf 'f1,f2,species\n1,2,setosa\n3,4.5,virginica\n5,6,setosa\n' > iris.csv
    run -0 ml-preprocess import csv iris.csv -o d.h5
    run -0 ml-preprocess info d.h5
    [[ "$output" == *"X: float32 [3, 2]"* ]]
    [[ "$output" == *"class 0: 2 setosa"* ]]
    [[ "$output" == *"class 1: 1 virginica"* ]]
    [[ "$output" == *"provenance:"*"  ml-preprocess import csv iris.csv -o d.h5"* ]]
    [ "$(values d.h5 /X)" = "1,2,3,4.5,5,6" ]
    [ "$(values d.h5 /y)" = "0,1,0" ]
}

@test "import csv: no header, label column by number and by name, no labels, delimiter" {
    printf '7,1,2\n8,3,4\n' > a.csv
    run -0 ml-preprocess import csv --no-header --label-column 1 a.csv -o a.h5
    [ "$(values a.h5 /X)" = "1,2,3,4" ]
    [ "$(values a.h5 /y)" = "7,8" ]
    run -0 ml-preprocess info a.h5
    [[ "$output" == *"classes: 9"* ]]
    run -0 ml-preprocess import csv --no-labels a.csv -o b.h5
    [ "$(values b.h5 /X)" = "7,1,2,8,3,4" ]
    run -0 ml-preprocess info b.h5
    [[ "$output" == *"y: none"* ]]
    printf 'x;lab;z\n1;0;2\n3;1;4\n' > c.csv
    run -0 ml-preprocess import csv --header --delimiter ';' --label-column lab c.csv -o c.h5
    [ "$(values c.h5 /X)" = "1,2,3,4" ]
    [ "$(values c.h5 /y)" = "0,1" ]
    printf '1\t2\t1\n' > t.tsv
    run -0 ml-preprocess import csv --delimiter tab t.tsv -o t.h5
    [ "$(values t.h5 /X)" = "1,2" ]
}

@test "import csv: gzip-compressed, quoted fields, standard input" {
    printf '"a",b,label\n"1",2,"x, y"\n3,4,z\n' | gzip > q.csv.gz
    run -0 ml-preprocess import csv q.csv.gz -o q.h5
    [ "$(values q.h5 /X)" = "1,2,3,4" ]
    run -0 ml-preprocess info q.h5
    [[ "$output" == *"class 0: 1 x, y"* ]]
    ml-preprocess import csv - -o s.h5 < q.csv.gz
    [ "$(values s.h5 /X)" = "1,2,3,4" ]
}

@test "import csv: a bad number is named by file, line and column" {
    printf '1,2,0\n1,2,0\n4,abc,1\n' > data.csv
    fails "ml-preprocess: data.csv:3:2: 'abc' is not a number" import csv data.csv
}

@test "import csv: a ragged row, an empty file, a missing label column" {
    printf '1,2,0\n1,2\n' > rag.csv
    fails "ml-preprocess: rag.csv:2: 2 fields, expected 3 (as on line 1)" import csv rag.csv
    : > empty.csv
    fails "empty.csv: no data" import csv empty.csv
    printf 'a,b\n1,2\n' > h.csv
    fails "h.csv:1: no column named 'c'" import csv --label-column c h.csv
    fails "h.csv:1:1: 'a' is not a number" import csv --no-header h.csv
    fails "absent.csv: cannot open" import csv absent.csv
}

@test "import csv: NaN refused unless --allow-nan" {
    printf '1,nan,0\n2,3,1\n' > n.csv
    fails "n.csv:/X: row 0 column 1 is NaN" import csv n.csv
    run -0 ml-preprocess import csv --allow-nan n.csv -o n.h5
    run -0 ml-preprocess info n.h5
    [[ "$output" == *"non-finite values: 1"* ]]
}

@test "import: usage errors of the new formats" {
    run -2 --separate-stderr ml-preprocess import csv -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: import csv: missing FILE" ]
    run -2 --separate-stderr ml-preprocess import csv a.csv b.csv -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: import csv: extra operand 'b.csv'" ]
    run -2 --separate-stderr ml-preprocess import csv --header --no-header a.csv -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: import csv: --header and --no-header exclude each other" ]
    run -2 --separate-stderr ml-preprocess import csv --label-column 0 a.csv -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: invalid value '0' for '--label-column' (columns count from 1)" ]
    run -2 --separate-stderr ml-preprocess import csv --delimiter ab a.csv -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: invalid value 'ab' for '--delimiter' (expected one character or 'tab')" ]
    run -2 --separate-stderr ml-preprocess import npy --x X a.npy -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: option '--x' does not apply to 'import npy'" ]
    run -2 --separate-stderr ml-preprocess import hdf5 a.h5 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: import hdf5: missing --x NAME" ]
    run -2 --separate-stderr ml-preprocess import idx --no-labels a.idx -o out.h5
    [[ "${stderr_lines[0]}" == "ml-preprocess: import idx: an option of"* ]]
    run -2 --separate-stderr ml-preprocess shuffle --header in.h5 -o out.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: option '--header' does not apply to 'shuffle'" ]
    [ ! -e out.h5 ]
}

# ---- npy -----------------------------------------------------------------

@test "import npy: every dtype, values as numpy has them" {
    py=$(numpy_python) || skip "no python3 with numpy (apt-get install python3-numpy)"
    for t in uint8 int32 int64 float32 float64; do
        "$py" -c "import numpy as np; np.save('x.npy', (np.arange(6).reshape(2, 3) * 40).astype('$t'))"
        run -0 ml-preprocess import npy x.npy -o x-$t.h5
        [ "$(values x-$t.h5 /X)" = "0,40,80,120,160,200" ]
    done
    "$py" -c "import numpy as np; np.save('f.npy', np.array([[0.25, -1.5]], np.float64))"
    run -0 ml-preprocess import npy f.npy -o f.h5
    [ "$(values f.h5 /X)" = "0.25,-1.5" ]
}

@test "import npy: X and y, images, a v2 header, float targets" {
    py=$(numpy_python) || skip "no python3 with numpy (apt-get install python3-numpy)"
    "$py" - <<'PY'
import numpy as np
np.save('img.npy', np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4))
np.save('lab.npy', np.array([4, 1], dtype=np.int64))
np.save('rgb.npy', np.zeros((2, 3, 4, 5), np.float32))
np.save('t.npy', np.array([[0.5, 1], [2, 3]], np.float32))
with open('v2.npy', 'wb') as f:
    np.lib.format.write_array(f, np.ones((2, 3), np.float32), version=(2, 0))
PY
    run -0 ml-preprocess import npy img.npy lab.npy -o a.h5
    run -0 ml-preprocess info a.h5
    [[ "$output" == *"X: float32 [2, 1, 3, 4]"* ]]
    [[ "$output" == *"image shape: 1 x 3 x 4 (C x H x W)"* ]]
    [[ "$output" == *"classes: 5"* ]]
    [[ "$output" == *"  ml-preprocess import npy img.npy lab.npy -o a.h5"* ]]
    [ "$(values a.h5 /y)" = "4,1" ]
    run -0 ml-preprocess import npy rgb.npy -o b.h5
    run -0 ml-preprocess info b.h5
    [[ "$output" == *"image shape: 3 x 4 x 5 (C x H x W)"* ]]
    ml-preprocess import npy - lab.npy -o p.h5 < img.npy
    [ "$(values p.h5 /y)" = "4,1" ]
    gzip -c img.npy > img.npy.gz
    run -0 ml-preprocess import npy img.npy.gz -o g.h5
    run -2 --separate-stderr ml-preprocess import npy - - -o p.h5
    [ "${stderr_lines[0]}" = "ml-preprocess: import npy: X and Y cannot both be standard input" ]
    run -0 ml-preprocess import npy v2.npy t.npy -o c.h5
    run -0 ml-preprocess info c.h5
    [[ "$output" == *"y: float32 [2, 2] (targets)"* ]]
    [ "$(values c.h5 /y)" = "0.5,1,2,3" ]
}

@test "import npy: Fortran order, unsupported dtype, truncated, row mismatch, NaN" {
    py=$(numpy_python) || skip "no python3 with numpy (apt-get install python3-numpy)"
    "$py" - <<'PY'
import numpy as np
np.save('x.npy', np.asfortranarray(np.ones((3, 2), np.float32)))
np.save('c.npy', np.ones((3, 2), np.complex64))
np.save('b.npy', np.ones((3, 2), '>f4'))
np.save('ok.npy', np.ones((3, 2), np.float32))
np.save('y.npy', np.zeros(4, np.int32))
np.save('nan.npy', np.array([[1.0, np.inf]]))
PY
    fails "ml-preprocess: x.npy: Fortran-order arrays are not supported" import npy x.npy
    fails "c.npy: dtype '<c8' is not supported" import npy c.npy
    fails "b.npy: dtype '>f4' is not supported" import npy b.npy
    head -c 140 ok.npy > cut.npy
    fails "cut.npy: truncated: expected 24 bytes of data, found 12" import npy cut.npy
    fails "y.npy has 4 rows, ok.npy has 3" import npy ok.npy y.npy
    fails "nan.npy:/X: row 0 column 1 is +Inf" import npy nan.npy
    run -0 ml-preprocess import npy --allow-nan nan.npy -o n.h5
}

# ---- hdf5 ----------------------------------------------------------------

@test "import hdf5: named datasets of an h5py file" {
    py=$(h5py_python) || skip "no python3 with h5py (apt-get install python3-h5py)"
    "$py" - <<'PY'
import numpy as np, h5py
with h5py.File('src.h5', 'w') as f:
    f['data/features'] = np.arange(12, dtype=np.float64).reshape(3, 4) / 4
    f['data/labels'] = np.array([2, 0, 1], np.int64)
    f['images'] = np.arange(3 * 2 * 2, dtype=np.uint8).reshape(3, 2, 2)
    f['short'] = np.array([0, 1], np.int32)
PY
    run -0 ml-preprocess import hdf5 src.h5 --x data/features --y /data/labels -o a.h5
    run -0 ml-preprocess info a.h5
    [[ "$output" == *"X: float32 [3, 4]"* ]]
    [[ "$output" == *"classes: 3"* ]]
    [[ "$output" == *"  ml-preprocess import hdf5 src.h5 --x data/features --y /data/labels -o a.h5"* ]]
    "$py" -c "import h5py, numpy as np; f = h5py.File('a.h5', 'r'); assert np.allclose(f['X'][:], np.arange(12).reshape(3, 4) / 4); assert list(f['y'][:]) == [2, 0, 1]"
    ml-preprocess import hdf5 --x data/features - < src.h5 > p.h5
    run -0 ml-preprocess info p.h5
    [[ "$output" == *"X: float32 [3, 4]"* ]]
    run -0 ml-preprocess import hdf5 --x images src.h5 -o b.h5
    run -0 ml-preprocess info b.h5
    [[ "$output" == *"X: float32 [3, 1, 2, 2]"* ]]
    fails "src.h5:/nope: not found" import hdf5 --x nope src.h5
    fails "src.h5:/short has 2 rows, src.h5:/data/features has 3" import hdf5 --x data/features --y short src.h5
    echo text > t.h5
    fails "t.h5: not an HDF5 file" import hdf5 --x X t.h5
}
