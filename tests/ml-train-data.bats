#!/usr/bin/env bats
# Issue 4 (data) in experiments: preprocessors as `preprocessor:` of a
# dataset (fitted on the training set, shared with the others through an
# anchor, or read from a transform file of ml-preprocess) train as the files
# preprocessed by ml-preprocess do; one_hot targets train as int labels do;
# the errors; IndexSpace and CompositeSpace components.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
    enter_blobs_workdir
}

# with_sets IN OUT TRAIN-EXTRA VALID-EXTRA: exp.yaml with more parameters
# for the training and the validation HDF5Dataset.
with_sets() {
    local t=${3//&/\\&} v=${4//&/\\&}
    sed -e "s|{ filename: train.h5 }|{ filename: train.h5$t }|" \
        -e "s|{ filename: valid.h5 }|{ filename: valid.h5$v }|" "$1" > "$2"
}

# same_numbers A B: two monitor streams agree in every column that does not
# measure time, within a relative 1e-5 (float rounding).
same_numbers() {
    paste <(without_seconds "$1") <(without_seconds "$2") | awk -F '\t' '
        NR == 1 { next }
        { n = NF / 2
          for (i = 1; i <= n; i++) {
              a = $i; b = $(i + n); d = a - b; if (d < 0) d = -d
              m = a < 0 ? -a : a; if (m < 1) m = 1
              if (d > 1e-5 * m) { print "row " NR " column " i ": " a " vs " b; bad = 1 }
          } }
        END { exit bad }' || return 1
    [ "$(head -1 "$1" | without_seconds /dev/stdin)" = "$(head -1 "$2" | without_seconds /dev/stdin)" ]
}

@test "a Standardize fitted on train and shared with valid through an anchor trains as ml-preprocess standardize" {
    ml-preprocess standardize --fit --save-transform std.h5 train.h5 -o train-std.h5
    ml-preprocess standardize --transform std.h5 valid.h5 -o valid-std.h5
    sed -e 's/train.h5/train-std.h5/; s/valid.h5/valid-std.h5/' exp.yaml > files.yaml
    ml-train -q files.yaml -o files.h5 > files.tsv
    with_sets exp.yaml yaml.yaml \
        ", preprocessor: &prep !obj:pylearn2.datasets.preprocessing.Standardize {}, fit_preprocessor: true" \
        ", preprocessor: *prep"
    ml-train -q yaml.yaml -o yaml.h5 > yaml.tsv
    same_numbers files.tsv yaml.tsv
    # and preprocessing changed something
    ml-train -q exp.yaml -o raw.h5 > raw.tsv
    [ "$(without_seconds raw.tsv)" != "$(without_seconds yaml.tsv)" ]
}

@test "a transform file of ml-preprocess as preprocessor (TransformFile) trains as the preprocessed files" {
    ml-preprocess standardize --fit --save-transform std.h5 train.h5 -o train-std.h5
    ml-preprocess standardize --transform std.h5 valid.h5 -o valid-std.h5
    sed -e 's/train.h5/train-std.h5/; s/valid.h5/valid-std.h5/' exp.yaml > files.yaml
    ml-train -q files.yaml -o files.h5 > files.tsv
    with_sets exp.yaml tf.yaml ", preprocessor: &t !obj:TransformFile { filename: std.h5 }" ", preprocessor: *t"
    ml-train -q tf.yaml -o tf.h5 > tf.tsv
    same_numbers files.tsv tf.tsv
}

@test "a Pipeline fits each item on the output of the previous one, as ml-preprocess does step by step" {
    ml-preprocess gcn --fit --save-transform gcn.h5 train.h5 -o train-g.h5
    ml-preprocess remove-mean --fit --save-transform rm.h5 train-g.h5 -o train-gr.h5
    ml-preprocess gcn --transform gcn.h5 valid.h5 -o valid-g.h5
    ml-preprocess remove-mean --transform rm.h5 valid-g.h5 -o valid-gr.h5
    sed -e 's/train.h5/train-gr.h5/; s/valid.h5/valid-gr.h5/' exp.yaml > files.yaml
    ml-train -q files.yaml -o files.h5 > files.tsv
    with_sets exp.yaml p.yaml \
        ", fit_preprocessor: true, preprocessor: &p !obj:Pipeline { items: [ !obj:GlobalContrastNormalization {}, !obj:RemoveMean {} ] }" \
        ", preprocessor: *p"
    ml-train -q p.yaml -o p.h5 > p.tsv
    same_numbers files.tsv p.tsv
}

@test "preprocessor errors: unfitted, streamed data, another shape, refitting a file, fit without preprocessor" {
    # a ZCA that no dataset fits
    with_sets exp.yaml e1.yaml "" ", preprocessor: !obj:ZCA {}"
    run -1 --separate-stderr ml-train -q e1.yaml -o x.h5
    [[ "$stderr" == *"e1.yaml:16:"*"'preprocessor' of HDF5Dataset"*"valid.h5: the ZCA preprocessor is not fitted"* ]]
    # GCN has nothing to fit: applied unfitted it is fine
    with_sets exp.yaml ok.yaml "" ", preprocessor: !obj:GCN {}"
    run -0 --separate-stderr ml-train -q ok.yaml -o x.h5
    # streamed
    with_sets exp.yaml e2.yaml ", storage: stream, preprocessor: !obj:Standardize {}, fit_preprocessor: true" ""
    run -1 --separate-stderr ml-train -q e2.yaml -o x.h5
    [[ "$stderr" == *"e2.yaml:3:"*"'preprocessor' of HDF5Dataset"*"needs the data in memory"* ]]
    # a transform fitted on 16 features, data of 64
    make_blobs_dataset small.h5 30 3 4
    ml-preprocess standardize --fit --save-transform s16.h5 small.h5 -o /dev/null
    with_sets exp.yaml e3.yaml "" ", preprocessor: !obj:TransformFile { filename: s16.h5 }"
    run -1 --separate-stderr ml-train -q e3.yaml -o x.h5
    [[ "$stderr" == *"e3.yaml:16:"*"'preprocessor' of HDF5Dataset"*"transform s16.h5 was fitted on 16 features, the data has 64"* ]]
    # a transform file is never refitted
    with_sets exp.yaml e4.yaml ", preprocessor: !obj:TransformFile { filename: s16.h5 }, fit_preprocessor: true" ""
    run -1 --separate-stderr ml-train -q e4.yaml -o x.h5
    [[ "$stderr" == *"'fit_preprocessor' of HDF5Dataset must be false with a TransformFile"* ]]
    with_sets exp.yaml e5.yaml ", fit_preprocessor: true" ""
    run -1 --separate-stderr ml-train -q e5.yaml -o x.h5
    [[ "$stderr" == *"'fit_preprocessor' of HDF5Dataset needs a 'preprocessor'"* ]]
    # a missing transform file names the file
    with_sets exp.yaml e6.yaml "" ", preprocessor: !obj:TransformFile { filename: nope.h5 }"
    run -1 --separate-stderr ml-train -q e6.yaml -o x.h5
    [[ "$stderr" == *"TransformFile: nope.h5: cannot open"* ]]
    # the category is checked
    with_sets exp.yaml e7.yaml "" ", preprocessor: !obj:VectorSpace { dim: 3 }"
    run -1 --separate-stderr ml-train -q e7.yaml -o x.h5
    [[ "$stderr" == *"'VectorSpace' is a space, expected a preprocessor"* ]]
}

@test "one_hot targets train the numbers of int labels (cross-entropy and argmax misclass)" {
    ml-train -q exp.yaml -o int.h5 > int.tsv
    with_sets exp.yaml oh.yaml ", one_hot: true" ", one_hot: true"
    ml-train -q oh.yaml -o oh.h5 > oh.tsv
    same_numbers int.tsv oh.tsv
    # one-hot on one set only: a clear error
    with_sets exp.yaml mixed.yaml ", one_hot: true" ""
    run -1 --separate-stderr ml-train -q mixed.yaml -o x.h5
    [[ "$stderr" == *"valid.h5: the valid targets are class labels, the training targets one-hot"* ]]
}

@test "IndexSpace and CompositeSpace build, and an MLP refuses them as its input space" {
    sed -e 's|nvis: 64,|input_space: !obj:pylearn2.space.CompositeSpace { components: [ !obj:VectorSpace { dim: 60 }, !obj:pylearn2.space.IndexSpace { dim: 1, max_labels: 4 } ] },|' exp.yaml > c.yaml
    run -1 --separate-stderr ml-train -q c.yaml -o x.h5
    [[ "$stderr" == *"'input_space' of MLP must be a VectorSpace or Conv2DSpace: the layers take no CompositeSpace(VectorSpace(60), IndexSpace(dim=1, max_labels=4))"* ]]
    sed -e 's|nvis: 64,|input_space: !obj:IndexSpace { dim: 1, max_labels: 0 },|' exp.yaml > i.yaml
    run -1 --separate-stderr ml-train -q i.yaml -o x.h5
    [[ "$stderr" == *"'max_labels' of IndexSpace must be positive"* ]]
}
