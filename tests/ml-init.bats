#!/usr/bin/env bats
# ml-init: model files from a Train and from a bare model, standard output,
# --seed, -s, and bad input (no file left behind, an existing one unchanged).

bats_require_minimum_version 1.5.0
load test_helper

setup() {
    # a folder of its own: bats keeps files of its own in $BATS_TEST_TMPDIR
    T=$BATS_TEST_TMPDIR/w
    mkdir -p "$T"
    cd "$T"
    make_blobs_train_valid
    write_blobs_experiment exp.yaml
    cat > mlp.yaml <<'EOF'
# a model alone: no data needed
!obj:pylearn2.models.mlp.MLP {
    nvis: 16,
    layers: [
        !obj:pylearn2.models.mlp.Tanh { layer_name: h, dim: 5, irange: 0.2 },
        !obj:pylearn2.models.mlp.Softmax { layer_name: out, n_classes: 4 },
    ],
}
EOF
}

files() {
    ls -A | tr '\n' ' '
}

@test "--help prints the usage to stdout, --version the version" {
    run -0 --separate-stderr ml-init --help
    [ "${lines[0]}" = "Usage: ml-init [OPTION]... EXPERIMENT.yaml" ]
    [[ "$output" == *"--seed N"* ]]
    [[ "$output" == *"Exit status: 0 written, 1 failed, 2 usage error."* ]]
    [ -z "$stderr" ]
    run -0 --separate-stderr ml-init --version
    [ "${lines[0]}" = "ml-init (ml) 0.1.0" ]
    [[ "${lines[1]}" == "features: cuda="* ]]
    [ -z "$stderr" ]
}

@test "a model file from a Train experiment" {
    run -0 --separate-stderr ml-init exp.yaml -o init.h5
    [ -z "$output" ] && [ -z "$stderr" ]
    run -0 h5ls -r init.h5
    [[ "$output" == *"/experiment "* ]]
    [[ "$output" == *"/model_spec "* ]]
    [[ "$output" == *"/params/h0/W             Dataset {64, 10}"* ]]
    [[ "$output" == *"/params/h0/b             Dataset {10}"* ]]
    [[ "$output" == *"/params/y/W              Dataset {10, 3}"* ]]
    [[ "$output" == *"/params/y/b              Dataset {3}"* ]]
    # no monitor records yet
    [[ "$output" != *"/monitor/"* ]]
    h5dump -A -a /ml_format init.h5 | grep -q '"ml-model"'
    h5dump -d /model_spec init.h5 | grep -q '!obj:pylearn2.models.mlp.MLP'
    # ml-eval reads it: an untrained model
    run -0 ml-eval -q init.h5 valid.h5
    [ "${lines[0]}" = "examples	60" ]
    # -v says what was written
    run -0 --separate-stderr ml-init -v exp.yaml -o again.h5
    [ "$stderr" = "ml-init: wrote again.h5" ]
}

@test "a model file from a bare !obj:MLP with nvis" {
    run -0 --separate-stderr ml-init mlp.yaml -o m.h5
    [ -z "$output" ] && [ -z "$stderr" ]
    run -0 h5ls -r m.h5
    [[ "$output" == *"/params/h/W              Dataset {16, 5}"* ]]
    [[ "$output" == *"/params/out/W            Dataset {5, 4}"* ]]
    h5dump -A -a /input_shape m.h5 | grep -q '(0): 16'
    # the Softmax without irange starts at zero
    h5dump -y -w 0 -d /params/out/W -o w.txt m.h5 > /dev/null
    [ "$(tr -d ' \n' < w.txt | tr ',' '\n' | sort -u)" = "0" ]
    h5dump -y -w 0 -d /params/h/W -o w.txt m.h5 > /dev/null
    [ "$(tr -d ' \n' < w.txt | tr ',' '\n' | sort -u | wc -l)" -gt 50 ]
}

@test "without nvis the Train's dataset decides the input (1 x 8 x 8)" {
    grep -v 'nvis: 64' exp.yaml > nonvis.yaml
    run -0 ml-init nonvis.yaml -o m.h5
    run -0 h5ls m.h5/params/h0/W
    [[ "$output" == *"Dataset {64, 10}"* ]]
    h5dump -A -a /input_shape m.h5 | grep -q '(0): 1, 8, 8'
}

@test "standard output when it is not a terminal, and -o -" {
    ml-init exp.yaml > piped.h5
    run -0 h5ls piped.h5/params
    [[ "$output" == *"h0 "*"Group"* ]]
    ml-init mlp.yaml -o - > piped2.h5
    run -0 h5ls piped2.h5/params/h/W
    # and straight into ml-eval
    ml-init exp.yaml | ml-eval -q - valid.h5 > report.txt
    grep -qx 'examples	60' report.txt
}

@test "binary data is never written to a terminal" {
    command -v script >/dev/null || skip "no script(1)"
    run script -qec "ml-init exp.yaml" /dev/null
    [ "$status" -eq 2 ]
    [[ "$output" == *"ml-init: no output file given (-o) and standard output is a terminal"* ]]
    run script -qec "ml-init exp.yaml -o -" /dev/null
    [ "$status" -eq 2 ]
    [[ "$output" == *"ml-init: refusing to write binary data to a terminal"* ]]
    [ "$(files)" = "exp.yaml mlp.yaml train.h5 valid.h5 " ]
}

@test "--seed: the same seed draws the same weights, another seed others" {
    for f in exp mlp; do
        ml-init --seed 3 $f.yaml -o a.h5
        ml-init --seed 3 $f.yaml -o b.h5
        ml-init --seed 4 $f.yaml -o c.h5
        ml-init $f.yaml -o d.h5
        ml-init $f.yaml -o e.h5
        W=$([ $f = exp ] && echo /params/h0/W || echo /params/h/W)
        [ "$(h5_data a.h5 $W)" = "$(h5_data b.h5 $W)" ]
        [ "$(h5_data a.h5 $W)" != "$(h5_data c.h5 $W)" ]
        [ "$(h5_data a.h5 $W)" != "$(h5_data d.h5 $W)" ]
        [ "$(h5_data d.h5 $W)" = "$(h5_data e.h5 $W)" ]
    done
    # --seed is the model's seed: the same as -s model.seed (Train) or -s seed (model)
    ml-init -s model.seed=3 exp.yaml -o s.h5
    ml-init --seed 3 exp.yaml -o a.h5
    [ "$(h5_data a.h5 /params/h0/W)" = "$(h5_data s.h5 /params/h0/W)" ]
    ml-init -s seed=3 mlp.yaml -o s.h5
    ml-init --seed 3 mlp.yaml -o a.h5
    [ "$(h5_data a.h5 /params/h/W)" = "$(h5_data s.h5 /params/h/W)" ]
    # and ml-train --seed starts from the same weights
    ml-train -q --seed 3 -s algorithm.termination_criterion.max_epochs=0 exp.yaml -o t.h5 > /dev/null
    ml-init --seed 3 exp.yaml -o a.h5
    [ "$(h5_data a.h5 /params/h0/W)" = "$(h5_data t.h5 /params/h0/W)" ]
}

@test "-s model.layers.0.dim=7 changes the shapes in /params" {
    run -0 ml-init -s model.layers.0.dim=7 exp.yaml -o m.h5
    run -0 h5ls -r m.h5
    [[ "$output" == *"/params/h0/W             Dataset {64, 7}"* ]]
    [[ "$output" == *"/params/h0/b             Dataset {7}"* ]]
    [[ "$output" == *"/params/y/W              Dataset {7, 3}"* ]]
    h5dump -d /model_spec m.h5 | grep -q 'dim: 7,'
    run -0 ml-init -s layers.0.dim=9 -s layers.1.n_classes=2 mlp.yaml -o b.h5
    run -0 h5ls -r b.h5
    [[ "$output" == *"/params/h/W              Dataset {16, 9}"* ]]
    [[ "$output" == *"/params/out/W            Dataset {9, 2}"* ]]
}

@test "the experiment can come from standard input" {
    ml-init - -o m.h5 < mlp.yaml
    run -0 h5ls m.h5/params/h/W
    ml-init - -o t.h5 < exp.yaml
    run -0 h5ls t.h5/params/h0/W
}

@test "--seed with the experiment on standard input" {
    run -0 --separate-stderr ml-init --seed 3 - -o m.h5 < mlp.yaml
    ml-init --seed 3 mlp.yaml -o f.h5
    [ "$(h5_data m.h5 /params/h/W)" = "$(h5_data f.h5 /params/h/W)" ]
    run -0 --separate-stderr ml-init --seed 3 - -o t.h5 < exp.yaml
}

# ---- bad input ---------------------------------------------------------------

@test "usage errors: unknown option, no operand, two operands, bad --seed" {
    run -2 --separate-stderr ml-init --frobnicate exp.yaml -o m.h5
    [ -z "$output" ]
    [ "$stderr" = "ml-init: unknown option '--frobnicate'
Try 'ml-init --help' for more information." ]
    run -2 --separate-stderr ml-init -o m.h5
    [ "$stderr" = "ml-init: no experiment file given
Try 'ml-init --help' for more information." ]
    run -2 --separate-stderr ml-init exp.yaml mlp.yaml -o m.h5
    [ "${stderr_lines[0]}" = "ml-init: one experiment file at a time" ]
    run -2 --separate-stderr ml-init --seed -1 exp.yaml -o m.h5
    [ "${stderr_lines[0]}" = "ml-init: invalid value '-1' for '--seed' (expected an integer >= 0)" ]
    run -2 --separate-stderr ml-init exp.yaml -o
    [ "${stderr_lines[0]}" = "ml-init: option '-o' requires an argument" ]
    [ ! -e m.h5 ]
}

@test "an unknown component, with a suggestion, writes nothing" {
    sed 's/!obj:pylearn2.models.mlp.Tanh /!obj:Tahn /' mlp.yaml > typo.yaml
    run -1 --separate-stderr ml-init typo.yaml -o m.h5
    [ -z "$output" ]
    [ "$stderr" = "ml-init: typo.yaml:5:9: unknown component 'Tahn' (did you mean 'Tanh'?)" ]
    [ ! -e m.h5 ]
    sed 's/!obj:pylearn2.models.mlp.RectifiedLinear /!obj:RectifiedLiner /' exp.yaml > typo2.yaml
    run -1 --separate-stderr ml-init typo2.yaml -o m.h5
    [ "$stderr" = "ml-init: typo2.yaml:7:13: unknown component 'RectifiedLiner' (did you mean 'RectifiedLinear'?)" ]
    [ ! -e m.h5 ]
    # nothing on standard output either
    run -1 --separate-stderr ml-init typo.yaml
    [ -z "$output" ]
}

@test "an unknown parameter, a missing one, a bad -s" {
    run -1 --separate-stderr ml-init -s layers.1.n_classe=4 mlp.yaml -o m.h5
    [ "$stderr" = "ml-init: -s layers.1.n_classe: Softmax has no parameter 'n_classe' (did you mean 'n_classes'?)" ]
    grep -v 'nvis' mlp.yaml > nonvis.yaml
    run -1 --separate-stderr ml-init nonvis.yaml -o m.h5
    [ "$stderr" = "ml-init: nonvis.yaml:2:1: the model gives neither nvis nor input_space" ]
    run -1 --separate-stderr ml-init -s model.layers.3.dim=2 exp.yaml -o m.h5
    [ "$stderr" = "ml-init: -s model.layers.3.dim: no item '3' in 'model.layers' (a list of 2)" ]
    [ "$(files)" = "exp.yaml mlp.yaml nonvis.yaml train.h5 valid.h5 " ]
}

@test "a missing experiment file, a missing dataset of the Train" {
    run -1 --separate-stderr ml-init absent.yaml -o m.h5
    [ -z "$output" ]
    [ "$stderr" = "ml-init: absent.yaml: cannot open: No such file or directory" ]
    run -1 --separate-stderr ml-init -s dataset.filename=absent.h5 exp.yaml -o m.h5
    [ "$stderr" = "ml-init: exp.yaml:3:14: HDF5Dataset: absent.h5: cannot open: No such file or directory" ]
    [ ! -e m.h5 ]
}

@test "an output folder that does not exist" {
    run -1 --separate-stderr ml-init exp.yaml -o nodir/m.h5
    [ -z "$output" ]
    [ "$stderr" = "ml-init: nodir/m.h5: cannot create: No such file or directory" ]
    [ ! -e nodir ]
    [ "$(files)" = "exp.yaml mlp.yaml train.h5 valid.h5 " ]
}

@test "a failed run leaves an existing output file byte-identical" {
    ml-init mlp.yaml -o m.h5
    before=$(file_digest m.h5)
    sed 's/Tanh /Tahn /' mlp.yaml > typo.yaml
    run -1 ml-init typo.yaml -o m.h5
    [ "$(file_digest m.h5)" = "$before" ]
    run -1 ml-init absent.yaml -o m.h5
    [ "$(file_digest m.h5)" = "$before" ]
    run -1 ml-init -s nvis=0 mlp.yaml -o m.h5
    [ "$(file_digest m.h5)" = "$before" ]
    [ "$(files)" = "exp.yaml m.h5 mlp.yaml train.h5 typo.yaml valid.h5 " ]
}

@test "-o to a FIFO writes into the FIFO (and never replaces it)" {
    mkfifo out.fifo
    timeout 10 cat out.fifo > got.h5 3>&- &
    reader=$!
    run -0 timeout 10 ml-init mlp.yaml -o out.fifo
    status=0
    wait "$reader" || status=$?
    [ -p out.fifo ]
    [ "$status" -eq 0 ]
    run -0 h5ls got.h5/params/h/W
}
