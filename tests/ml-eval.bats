#!/usr/bin/env bats
# ml-eval: the report (and its arithmetic), -q, predictions as HDF5 and CSV,
# standard input, and models and data that do not fit.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
    # a folder of its own: bats keeps files of its own in $BATS_TEST_TMPDIR
    T=$BATS_TEST_TMPDIR/w
    mkdir -p "$T"
    cd "$T"
    make_blobs_train_valid
    write_blobs_experiment exp.yaml
    ml-train -q exp.yaml > /dev/null
}

files() {
    ls -A | tr '\n' ' '
}

# check_report FILE: the report in FILE adds up: the confusion matrix has a
# row per class, its rows sum to the supports of the class table and to the
# examples, its diagonal over the examples is the accuracy, accuracy and
# misclass add to 1, and precision and recall follow from the matrix.
check_report() {
    awk -F '\t' '
        $1 == "examples" { n = $2 }
        $1 == "accuracy" { acc = $2 }
        $1 == "misclass" { mis = $2 }
        $1 == "class" && $2 == "precision" { section = "table"; next }
        /^confusion/ { section = "matrix"; next }
        /^$/ { section = ""; next }
        section == "table" { k++; prec[$1] = $2; rec[$1] = $3; support[$1] = $4; next }
        section == "matrix" && $1 == "true\\pred" { cols = NF - 1; next }
        section == "matrix" {
            t = $1; rows++
            for (p = 0; p < cols; p++) { c[t, p] = $(p + 2); row[t] += $(p + 2); colsum[p] += $(p + 2) }
        }
        function fail(msg) { print "check_report: " msg > "/dev/stderr"; bad = 1 }
        function near(a, b) { return a - b < 0.00051 && b - a < 0.00051 }
        END {
            if (rows != k || cols != k || k < 2) fail("classes: " k " table rows, " rows "x" cols " matrix")
            total = 0; diag = 0
            for (t = 0; t < k; t++) {
                if (row[t] != support[t]) fail("row " t " sums to " row[t] ", support " support[t])
                total += row[t]; diag += c[t, t]
                if (support[t] > 0 && !near(rec[t], c[t, t] / support[t])) fail("recall of " t)
                if (colsum[t] > 0 && !near(prec[t], c[t, t] / colsum[t])) fail("precision of " t)
                if (colsum[t] == 0 && prec[t] != "-") fail("precision of " t " without predictions")
            }
            if (total != n) fail("the matrix holds " total " examples, the report " n)
            if (!near(acc, diag / n)) fail("accuracy " acc ", diagonal " diag "/" n)
            if (!near(acc + mis, 1)) fail("accuracy + misclass")
            exit bad
        }' "$1"
}

@test "--help prints the usage to stdout, --version the version" {
    run -0 --separate-stderr ml-eval --help
    [ "${lines[0]}" = "Usage: ml-eval [OPTION]... MODEL DATA" ]
    [[ "$output" == *"-p, --predict FILE"* ]]
    [ -z "$stderr" ]
    run -0 --separate-stderr ml-eval -V
    [ "${lines[0]}" = "ml-eval (ml) 0.1.0" ]
    [[ "${lines[1]}" == "features: cuda="* ]]
}

@test "the report of a trained model: lines, class table, confusion matrix" {
    run -0 --separate-stderr ml-eval model.h5 valid.h5
    [ -z "$stderr" ]
    [ "${lines[0]}" = "examples	60" ]
    [ "${lines[1]}" = "accuracy	1.0000" ]
    [ "${lines[2]}" = "misclass	0.0000" ]
    [[ "${lines[3]}" =~ ^nll$'\t'0\.[0-9]{4}$ ]]
    [ "$(sed -n '/^class/,/^$/p' <<< "$output")" = "class	precision	recall	support
0	1.0000	1.0000	20
1	1.0000	1.0000	20
2	1.0000	1.0000	20" ]
    [ "$(sed -n '/^confusion/,$p' <<< "$output")" = "confusion (rows: true class, columns: predicted class)
true\\pred	0	1	2
0	20	0	0
1	0	20	0
2	0	0	20" ]
    echo "$output" > report.txt
    check_report report.txt
}

@test "the report of an untrained model adds up" {
    ml-init --seed 7 exp.yaml -o init.h5
    ml-eval init.h5 valid.h5 > report.txt
    check_report report.txt
    # not everything on the diagonal
    ! grep -qx 'accuracy	1.0000' report.txt
    # the training set: 150 examples
    ml-eval init.h5 train.h5 > report2.txt
    grep -qx 'examples	150' report2.txt
    check_report report2.txt
    # five classes: a model of five classes on data of five
    make_blobs_dataset five.h5 50 5
    ml-init -s model.layers.1.n_classes=5 exp.yaml -o five_init.h5
    ml-eval five_init.h5 five.h5 > report3.txt
    [ "$(sed -n '/^true/,$p' report3.txt | wc -l)" -eq 6 ]
    check_report report3.txt
}

@test "-q prints only examples, accuracy, misclass and nll" {
    run -0 --separate-stderr ml-eval -q model.h5 valid.h5
    [ "${#lines[@]}" -eq 4 ]
    [ "${lines[0]}" = "examples	60" ]
    [ "${lines[1]}" = "accuracy	1.0000" ]
    [ "${lines[2]}" = "misclass	0.0000" ]
    [[ "${lines[3]}" == "nll	"* ]]
    [ -z "$stderr" ]
    # the same numbers as the full report, in any batch size
    full=$(ml-eval model.h5 valid.h5 | head -4)
    [ "$output" = "$full" ]
    run -0 ml-eval -q -b 7 model.h5 valid.h5
    [ "$output" = "$full" ]
    run -0 ml-eval -q --batch-size 1 model.h5 valid.h5
    [ "$output" = "$full" ]
}

@test "--predict FILE writes /predictions and /probabilities" {
    run -0 --separate-stderr ml-eval --predict pred.h5 model.h5 valid.h5
    [ "${lines[0]}" = "examples	60" ]
    [ -z "$stderr" ]
    run -0 h5ls pred.h5
    [[ "$output" == *"predictions              Dataset {60}"* ]]
    [[ "$output" == *"probabilities            Dataset {60, 3}"* ]]
    h5dump -H -d /predictions pred.h5 | grep -q H5T_STD_I32LE
    h5dump -H -d /probabilities pred.h5 | grep -q H5T_IEEE_F32LE
    # the predictions are the labels here (accuracy 1): i % 3
    h5dump -y -w 0 -d /predictions -o p.txt pred.h5 > /dev/null
    [ "$(tr -d ' \n' < p.txt | tr ',' '\n' | head -6 | tr '\n' ' ')" = "0 1 2 0 1 2 " ]
    # -p, and an existing file is replaced
    run -0 ml-eval -q -p pred.h5 model.h5 train.h5
    run -0 h5ls pred.h5
    [[ "$output" == *"predictions              Dataset {150}"* ]]
}

@test "--predict - writes CSV to stdout and the report to stderr" {
    run -0 --separate-stderr ml-eval --predict - model.h5 valid.h5
    [ "${lines[0]}" = "index,predicted,p0,p1,p2" ]
    [ "${#lines[@]}" -eq 61 ]
    [[ "${lines[1]}" == "0,0,"* ]]
    [[ "${lines[60]}" == "59,2,"* ]]
    [ "${stderr_lines[0]}" = "examples	60" ]
    [ "${stderr_lines[1]}" = "accuracy	1.0000" ]
    [[ "$stderr" == *"confusion (rows: true class, columns: predicted class)"* ]]
    # each row: its index, the most probable class, probabilities adding to 1
    awk -F , 'NR > 1 {
        if ($1 != NR - 2 || NF != 5) exit 1
        best = 0; sum = 0
        for (c = 0; c < 3; c++) { sum += $(c + 3); if ($(c + 3) > $(best + 3)) best = c }
        if (best != $2 || sum < 0.999 || sum > 1.001) exit 1
    }' <<< "$output"
    # the same predictions as the HDF5 file
    ml-eval -q -p pred.h5 model.h5 valid.h5 > /dev/null
    h5dump -y -w 0 -d /predictions -o p.txt pred.h5 > /dev/null
    [ "$(tr -d ' \n' < p.txt | tr ',' '\n')" = "$(tail -n +2 <<< "$output" | cut -d, -f2)" ]
    # with -q, the short report on stderr
    run -0 --separate-stderr ml-eval -q -p - model.h5 valid.h5
    [ "${#stderr_lines[@]}" -eq 4 ]
    [ "${#lines[@]}" -eq 61 ]
}

@test "the model, or the data, from standard input" {
    run -0 --separate-stderr ml-eval -q - valid.h5 < model.h5
    [ "${lines[0]}" = "examples	60" ]
    [ "${lines[1]}" = "accuracy	1.0000" ]
    run -0 --separate-stderr ml-eval -q model.h5 - < valid.h5
    [ "${lines[0]}" = "examples	60" ]
    # through a pipe
    ml-init exp.yaml | ml-eval -q - valid.h5 > r.txt
    grep -qx 'examples	60' r.txt
    cat valid.h5 | ml-eval -q model.h5 - > r.txt
    grep -qx 'examples	60' r.txt
}

# ---- models and data that do not fit ----------------------------------------

@test "a model for 64 features on 16-feature data, and the reverse" {
    make_blobs_dataset small.h5 30 3 4
    run -1 --separate-stderr ml-eval model.h5 small.h5
    [ -z "$output" ]
    [ "$stderr" = "ml-eval: small.h5: rows of 16 values do not fit the model's input VectorSpace(64)" ]
    printf '!obj:MLP { nvis: 16, layers: [ !obj:Softmax { layer_name: y, n_classes: 3 } ] }\n' > m16.yaml
    ml-init m16.yaml -o m16.h5
    run -1 --separate-stderr ml-eval m16.h5 valid.h5
    [ "$stderr" = "ml-eval: valid.h5: rows of 64 values do not fit the model's input VectorSpace(16)" ]
    run -1 --separate-stderr ml-eval -p pred.h5 model.h5 small.h5
    [ -z "$output" ]
    [ ! -e pred.h5 ]
}

@test "labels outside the model's classes" {
    make_blobs_dataset five.h5 30 5
    run -1 --separate-stderr ml-eval model.h5 five.h5
    [ -z "$output" ]
    [ "$stderr" = "ml-eval: five.h5:/y: row 3 has label 3, outside the model's 0..2" ]
    run -1 --separate-stderr ml-eval -p - model.h5 five.h5
    [ -z "$output" ]
}

@test "data without labels" {
    # an IDX import of images alone has no y
    make_idx_images img.idx 5 8 8
    ml-preprocess import idx img.idx -o noy.h5
    run -1 --separate-stderr ml-eval model.h5 noy.h5
    [ -z "$output" ]
    [ "$stderr" = "ml-eval: noy.h5: no labels y to score the model against (--predict writes predictions)" ]
}

# ---- bad files ------------------------------------------------------------------

@test "a missing model file, a missing data file" {
    run -1 --separate-stderr ml-eval absent.h5 valid.h5
    [ -z "$output" ]
    [ "$stderr" = "ml-eval: absent.h5: cannot open: No such file or directory" ]
    run -1 --separate-stderr ml-eval model.h5 absent.h5
    [ "$stderr" = "ml-eval: absent.h5: cannot open: No such file or directory" ]
}

@test "a model file that is not HDF5, or truncated" {
    echo "not a model" > text.h5
    run -1 --separate-stderr ml-eval text.h5 valid.h5
    [ -z "$output" ]
    [ "$stderr" = "ml-eval: text.h5: not an HDF5 file" ]
    run -1 --separate-stderr ml-eval - valid.h5 < text.h5
    [ "$stderr" = "ml-eval: <stdin>: not an HDF5 file" ]
    : > empty.h5
    run -1 --separate-stderr ml-eval - valid.h5 < empty.h5
    [ "$stderr" = "ml-eval: <stdin>: not an HDF5 file (it is empty)" ]
    run -1 --separate-stderr ml-eval empty.h5 valid.h5
    [ "$stderr" = "ml-eval: empty.h5: not an HDF5 file (it is empty)" ]
    run -1 --separate-stderr ml-eval - valid.h5 < <(:)
    [ "$stderr" = "ml-eval: <stdin>: not an HDF5 file (it is empty)" ]
    head -c 5000 model.h5 > cut.h5
    run -1 --separate-stderr ml-eval cut.h5 valid.h5
    [[ "$stderr" == "ml-eval: cut.h5: truncated or damaged HDF5 file"* ]]
}

@test "a dataset file given as the model, a model as the data" {
    run -1 --separate-stderr ml-eval valid.h5 valid.h5
    [ -z "$output" ]
    [ "$stderr" = "ml-eval: valid.h5: not an ml model file (ml_format is 'ml-dataset')" ]
    run -1 --separate-stderr ml-eval - valid.h5 < valid.h5
    [ "$stderr" = "ml-eval: <stdin>: not an ml model file (ml_format is 'ml-dataset')" ]
    run -1 --separate-stderr ml-eval model.h5 model.h5
    [ "$stderr" = "ml-eval: model.h5: not a dataset file (ml_format is 'ml-model', expected 'ml-dataset')" ]
}

@test "--predict into a folder that does not exist fails first" {
    run -1 --separate-stderr ml-eval -p nodir/p.h5 model.h5 valid.h5
    [ -z "$output" ]
    [ "$stderr" = "ml-eval: nodir/p.h5: cannot create: No such file or directory" ]
    [ ! -e nodir ]
}

@test "a failed run leaves an existing predictions file byte-identical" {
    echo "older predictions" > pred.h5
    before=$(file_digest pred.h5)
    run -1 ml-eval -p pred.h5 absent.h5 valid.h5
    [ "$(file_digest pred.h5)" = "$before" ]
    make_blobs_dataset five.h5 30 5
    run -1 ml-eval -p pred.h5 model.h5 five.h5
    [ "$(file_digest pred.h5)" = "$before" ]
    [ "$(files)" = "exp.yaml five.h5 model.h5 pred.h5 train.h5 valid.h5 " ]
}

# ---- usage errors ---------------------------------------------------------------

@test "an unknown option is a usage error of two lines" {
    run -2 --separate-stderr ml-eval --frobnicate model.h5 valid.h5
    [ -z "$output" ]
    [ "$stderr" = "ml-eval: unknown option '--frobnicate'
Try 'ml-eval --help' for more information." ]
}

@test "the wrong number of operands, both on standard input, a bad batch size" {
    run -2 --separate-stderr ml-eval model.h5
    [ -z "$output" ]
    [ "$stderr" = "ml-eval: expected a model file and a dataset file
Try 'ml-eval --help' for more information." ]
    run -2 --separate-stderr ml-eval
    [ "${stderr_lines[0]}" = "ml-eval: expected a model file and a dataset file" ]
    run -2 --separate-stderr ml-eval model.h5 valid.h5 train.h5
    [ "$stderr" = "ml-eval: too many operands: expected MODEL DATA
Try 'ml-eval --help' for more information." ]
    run -2 --separate-stderr ml-eval - - < model.h5
    [ "${stderr_lines[0]}" = "ml-eval: only one of MODEL and DATA can be standard input" ]
    run -2 --separate-stderr ml-eval -b 0 model.h5 valid.h5
    [ "${stderr_lines[0]}" = "ml-eval: invalid value '0' for '--batch-size' (expected an integer >= 1)" ]
    run -2 --separate-stderr ml-eval model.h5 valid.h5 -p
    [ "${stderr_lines[0]}" = "ml-eval: option '-p' requires an argument" ]
}

@test "data without labels: --predict works, scoring says why it cannot" {
    /usr/bin/python3 -c 'import h5py' 2>/dev/null || skip "python3-h5py is not installed"
    /usr/bin/python3 - <<'PY'
import h5py
with h5py.File("valid.h5", "r") as src, h5py.File("nolabels.h5", "w") as dst:
    dst["X"] = src["X"][...]
PY
    run -1 --separate-stderr ml-eval model.h5 nolabels.h5
    [ "$stderr" = "ml-eval: nolabels.h5: no labels y to score the model against (--predict writes predictions)" ]
    run -0 --separate-stderr ml-eval --predict - model.h5 nolabels.h5
    n=$(/usr/bin/python3 -c 'import h5py; print(h5py.File("nolabels.h5")["X"].shape[0])')
    [ "${#lines[@]}" -eq $((n + 1)) ]
    [ "${lines[0]%%,p0*}" = "index,predicted" ]
    [ -z "$stderr" ]
}
