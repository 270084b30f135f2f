#!/usr/bin/env bats
# ml-train: experiments on small generated data (the monitor stream, the model
# file, -s, -o, --seed, --model, ${VAR}, termination, save-best, conv layers,
# costs), bad input (each failure names the problem and leaves no output file
# and an existing one unchanged), signals and divergence.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
    # a folder of its own: bats keeps files of its own in $BATS_TEST_TMPDIR
    T=$BATS_TEST_TMPDIR/w
    mkdir -p "$T"
    cd "$T"
    make_blobs_train_valid
    write_blobs_experiment exp.yaml
}

# The files of the test folder, one a line (no temporaries left behind).
files() {
    ls -A | tr '\n' ' '
}

# ---- the usual options -------------------------------------------------------

@test "--help prints the usage to stdout and exits 0" {
    run -0 --separate-stderr ml-train --help
    [ "${lines[0]}" = "Usage: ml-train [OPTION]... EXPERIMENT.yaml" ]
    [[ "$output" == *"-s, --set KEY=VALUE"* ]]
    [[ "$output" == *"--model FILE"* ]]
    [[ "$output" == *"Exit status: 0 trained, 1 failed, 2 usage error, 130 or 143"* ]]
    [ -z "$stderr" ]
    run -0 ml-train -h
    [ "${lines[0]}" = "Usage: ml-train [OPTION]... EXPERIMENT.yaml" ]
}

@test "--version names the program, the version and the build features" {
    run -0 --separate-stderr ml-train --version
    [ "${lines[0]}" = "ml-train (ml) 0.1.0" ]
    [[ "${lines[1]}" == "features: cuda="*" hdf5="*" zlib="* ]]
    [ "${#lines[@]}" -eq 2 ]
    [ -z "$stderr" ]
    run -0 ml-train -V
    [ "${lines[0]}" = "ml-train (ml) 0.1.0" ]
}

@test "an unknown option is a usage error of two lines" {
    run -2 --separate-stderr ml-train --frobnicate exp.yaml
    [ -z "$output" ]
    [ "$stderr" = "ml-train: unknown option '--frobnicate'
Try 'ml-train --help' for more information." ]
    run -2 --separate-stderr ml-train -Z exp.yaml
    [ "$stderr" = "ml-train: unknown option '-Z'
Try 'ml-train --help' for more information." ]
    [ ! -e model.h5 ]
}

@test "no operand, two operands, a missing or bad option value are usage errors" {
    run -2 --separate-stderr ml-train
    [ -z "$output" ]
    [ "$stderr" = "ml-train: no experiment file given
Try 'ml-train --help' for more information." ]
    run -2 --separate-stderr ml-train exp.yaml exp.yaml
    [ "${stderr_lines[0]}" = "ml-train: one experiment file at a time" ]
    run -2 --separate-stderr ml-train exp.yaml --seed
    [ "${stderr_lines[0]}" = "ml-train: option '--seed' requires an argument" ]
    run -2 --separate-stderr ml-train --seed abc exp.yaml
    [ "${stderr_lines[0]}" = "ml-train: invalid value 'abc' for '--seed' (expected an integer >= 0)" ]
    run -2 --separate-stderr ml-train --threads 0 exp.yaml
    [ "${stderr_lines[0]}" = "ml-train: invalid value '0' for '--threads' (expected an integer >= 1)" ]
    [ "${stderr_lines[1]}" = "Try 'ml-train --help' for more information." ]
    [ ! -e model.h5 ]
}

# ---- the happy path ------------------------------------------------------------

@test "trains: the monitor stream on stdout, progress on stderr, the model file" {
    run -0 --separate-stderr ml-train exp.yaml
    # a header, then records of epochs 0..3, all with the header's fields
    [ "${#lines[@]}" -eq 5 ]
    [[ "${lines[0]}" == "epoch	batches	examples	seconds	"* ]]
    for ch in train_objective train_y_misclass valid_objective valid_y_misclass; do
        [[ "${lines[0]}" == *"	$ch	"* ]]
    done
    n=$(awk -F '\t' 'NR == 1 { print NF }' <<< "$output")
    [ "$n" -gt 4 ]
    [ "$(awk -F '\t' '{ print NF }' <<< "$output" | sort -u)" = "$n" ]
    [ "$(cut -f 1-3 <<< "$output" | tail -n +2 | tr '\t\n' ', ')" = "0,0,0 1,15,150 2,30,300 3,45,450 " ]
    # the training learnt: valid_y_misclass ends at 0
    col=$(awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "valid_y_misclass") print i }' <<< "$output")
    [ "$(cut -f "$col" <<< "${lines[4]}")" = "0" ]
    # stderr: one progress line per record, then where the model went
    [ "${#stderr_lines[@]}" -eq 5 ]
    [[ "${stderr_lines[0]}" == "ml-train: epoch 0 ("*" s): train_objective "*" valid_y_misclass "* ]]
    [ "${stderr_lines[4]}" = "ml-train: saved model.h5" ]
    # the model file: params, monitor, spec, experiment
    run -0 h5ls -r model.h5
    [[ "$output" == *"/params/h0/W             Dataset {64, 10}"* ]]
    [[ "$output" == *"/params/y/W              Dataset {10, 3}"* ]]
    [[ "$output" == *"/monitor/valid_y_misclass Dataset {4, 5}"* ]]
    [[ "$output" == *"/experiment "* ]] && [[ "$output" == *"/model_spec "* ]]
    [ "$(files)" = "exp.yaml model.h5 train.h5 valid.h5 " ]
}

@test "-q: the monitor stream alone, nothing on stderr" {
    run -0 --separate-stderr ml-train -q exp.yaml
    [ "${#lines[@]}" -eq 5 ]
    [ -z "$stderr" ]
    [ -e model.h5 ]
}

@test "-s algorithm.learning_rate=0.01 changes the training and the stored experiment" {
    ml-train -q exp.yaml > a.tsv
    ml-train -q -s algorithm.learning_rate=0.01 exp.yaml -o slow.h5 > b.tsv
    h5dump -d /experiment model.h5 | grep -q 'learning_rate: 0.1,'
    h5dump -d /experiment slow.h5 | grep -q 'learning_rate: 0.01,'
    ! h5dump -d /experiment slow.h5 | grep -q 'learning_rate: 0.1,'
    # the learning_rate channel follows, and the training differs
    [ "$(without_seconds a.tsv | head -1)" = "$(without_seconds b.tsv | head -1)" ]
    [ "$(without_seconds a.tsv)" != "$(without_seconds b.tsv)" ]
    col=$(head -1 b.tsv | tr '\t' '\n' | grep -nx learning_rate | cut -d: -f1)
    [ "$(cut -f "$col" b.tsv | tail -n +2 | sort -u)" = "0.00999999978" ]
    # several -s, and a list index
    run -0 ml-train -q -s model.layers.0.dim=7 -s algorithm.batch_size=50 exp.yaml -o small.h5
    [ "$(cut -f 1-3 <<< "${lines[4]}")" = "3	9	450" ]
    run -0 h5ls -r small.h5
    [[ "$output" == *"/params/h0/W             Dataset {64, 7}"* ]]
}

@test "-o overrides save_path, and the command line is kept in the file" {
    run -0 --separate-stderr ml-train exp.yaml -o other.h5
    [ "${stderr_lines[4]}" = "ml-train: saved other.h5" ]
    [ -e other.h5 ] && [ ! -e model.h5 ]
    h5dump -A -a /command other.h5 | grep -q '"ml-train .*-o other.h5'
    mkdir sub
    run -0 ml-train -q --output sub/m.h5 exp.yaml
    run -0 h5ls sub/m.h5/params
    [[ "$output" == *"h0 "*"Group"* ]]
}

@test "--seed: the same seed trains the same model, another seed another" {
    ml-train -q --seed 5 exp.yaml -o a.h5 > a.tsv
    ml-train -q --seed 5 exp.yaml -o b.h5 > b.tsv
    ml-train -q --seed 6 exp.yaml -o c.h5 > c.tsv
    [ "$(without_seconds a.tsv)" = "$(without_seconds b.tsv)" ]
    [ "$(without_seconds a.tsv)" != "$(without_seconds c.tsv)" ]
    [ "$(h5_data a.h5 /params/h0/W)" = "$(h5_data b.h5 /params/h0/W)" ]
    [ "$(h5_data a.h5 /params/y/b)" = "$(h5_data b.h5 /params/y/b)" ]
    [ "$(h5_data a.h5 /params/h0/W)" != "$(h5_data c.h5 /params/h0/W)" ]
    # without --seed the seeds of the file (Pylearn2's defaults): repeatable too
    ml-train -q exp.yaml -o d.h5 > d.tsv
    ml-train -q exp.yaml -o e.h5 > e.tsv
    [ "$(without_seconds d.tsv)" = "$(without_seconds e.tsv)" ]
    [ "$(h5_data d.h5 /params/h0/W)" = "$(h5_data e.h5 /params/h0/W)" ]
}

@test "--model starts from the parameters of another model file" {
    ml-train -q --seed 5 exp.yaml -o first.h5 > first.tsv
    # no epoch at all: the parameters come through unchanged
    run -0 ml-train -q --model first.h5 -s algorithm.termination_criterion.max_epochs=0 exp.yaml -o same.h5
    [ "${#lines[@]}" -eq 2 ]
    [ "$(h5_data same.h5 /params/h0/W)" = "$(h5_data first.h5 /params/h0/W)" ]
    [ "$(h5_data same.h5 /params/y/b)" = "$(h5_data first.h5 /params/y/b)" ]
    # epoch 0 of the new run is where the first one ended
    col=$(head -1 first.tsv | tr '\t' '\n' | grep -nx train_objective | cut -d: -f1)
    [ "$(cut -f "$col" <<< "${lines[1]}")" = "$(tail -1 first.tsv | cut -f "$col")" ]
    # ml-init --seed N then ml-train --model --seed N is ml-train --seed N
    ml-init --seed 3 exp.yaml -o init.h5
    ml-train -q --seed 3 --model init.h5 exp.yaml -o x1.h5 > /dev/null
    ml-train -q --seed 3 exp.yaml -o x2.h5 > /dev/null
    [ "$(h5_data x1.h5 /params/y/W)" = "$(h5_data x2.h5 /params/y/W)" ]
}

@test "--model: a missing file, a dataset file, a model of other shapes" {
    run -1 --separate-stderr ml-train --model absent.h5 exp.yaml
    [ -z "$output" ]
    [ "$stderr" = "ml-train: absent.h5: cannot open: No such file or directory" ]
    ml-train -q -s model.layers.0.dim=7 exp.yaml -o seven.h5 > /dev/null
    run -1 --separate-stderr ml-train --model seven.h5 exp.yaml
    [ -z "$output" ]
    [ "$stderr" = "ml-train: seven.h5:/params/h0/W: expected float32 [64, 10], found [64, 7]" ]
    run -1 --separate-stderr ml-train --model train.h5 exp.yaml
    [[ "$stderr" == "ml-train: train.h5"* ]]
    [ ! -e model.h5 ]
}

@test "\${VAR} in the experiment is the environment variable; unset is an error" {
    mkdir data
    mv train.h5 valid.h5 data/
    sed -e "s|filename: train.h5|filename: '\${BLOBS}/train.h5'|" \
        -e "s|filename: valid.h5|filename: '\${BLOBS}/valid.h5'|" exp.yaml > var.yaml
    BLOBS=data run -0 --separate-stderr ml-train var.yaml
    [ "${#lines[@]}" -eq 5 ]
    # the stored experiment holds the values the variables had
    h5dump -d /experiment model.h5 | grep -q "filename: 'data/train.h5'"
    rm model.h5
    run -1 --separate-stderr env -u BLOBS ml-train var.yaml
    [ -z "$output" ]
    [ "$stderr" = "ml-train: var.yaml:3:74: environment variable 'BLOBS' is not set" ]
    [ ! -e model.h5 ]
}

@test "the experiment can come from standard input" {
    run -0 --separate-stderr ml-train - -o piped.h5 < exp.yaml
    [ "${#lines[@]}" -eq 5 ]
    [ -e piped.h5 ]
}

@test "MonitorBased stops when the channel stops improving; MonitorBasedSaveBest keeps the best" {
    cat > mb.yaml <<'EOF'
!obj:Train {
    dataset: &train !obj:HDF5Dataset { filename: train.h5 },
    model: !obj:MLP {
        nvis: 64,
        layers: [ !obj:Softmax { layer_name: y, n_classes: 3, irange: 0.1 } ],
    },
    algorithm: !obj:SGD {
        learning_rate: 0.1,
        batch_size: 10,
        monitoring_dataset: { valid: !obj:HDF5Dataset { filename: valid.h5 } },
        termination_criterion: !obj:MonitorBased {
            channel_name: valid_y_misclass, prop_decrease: 0.01, N: 2,
        },
    },
    extensions: [
        !obj:MonitorBasedSaveBest { channel_name: valid_y_misclass, save_path: best.h5 },
    ],
    save_path: last.h5,
}
EOF
    run -0 --separate-stderr ml-train mb.yaml
    # valid_y_misclass is 0 from epoch 1 on: no improvement in epochs 2 and 3
    [ "${#lines[@]}" -eq 5 ]
    [ "$(cut -f 1 <<< "${lines[4]}")" = "3" ]
    [[ "${lines[0]}" == *"	valid_y_misclass	"* ]]
    [[ "${lines[0]}" != *"train_"* ]]
    # the best file was written at epoch 1, the last one at epoch 3
    run -0 h5ls best.h5/monitor/valid_y_misclass
    [[ "$output" == *"Dataset {2, 5}"* ]]
    run -0 h5ls last.h5/monitor/valid_y_misclass
    [[ "$output" == *"Dataset {4, 5}"* ]]
    run -0 h5ls best.h5/params/y
    [[ "$output" == *"W "*"Dataset {64, 3}"* ]]
}

@test "a channel that does not exist stops MonitorBased and MonitorBasedSaveBest" {
    run -1 --separate-stderr ml-train -s 'algorithm.termination_criterion=!obj:MonitorBased { channel_name: valid_y_misclas }' exp.yaml
    [ "${stderr_lines[-1]}" = "ml-train: MonitorBased: no channel 'valid_y_misclas'" ]
    [ ! -e model.h5 ]
    run -1 --separate-stderr ml-train -s 'extensions=[!obj:MonitorBasedSaveBest { channel_name: nope, save_path: best.h5 }]' exp.yaml
    [ "${stderr_lines[-1]}" = "ml-train: MonitorBasedSaveBest: no channel 'nope'" ]
    [ ! -e model.h5 ] && [ ! -e best.h5 ]
}

@test "a conv net (ConvRectifiedLinear on a Conv2DSpace of 8x8 images) trains" {
    cat > conv.yaml <<'EOF'
!obj:Train {
    dataset: &train !obj:HDF5Dataset { filename: train.h5 },
    model: !obj:MLP {
        input_space: !obj:Conv2DSpace { shape: [8, 8], num_channels: 1, axes: ['b', 'c', 0, 1] },
        layers: [
            !obj:ConvRectifiedLinear {
                layer_name: c0, output_channels: 4, kernel_shape: [3, 3],
                pool_shape: [2, 2], pool_stride: [2, 2], irange: 0.3, max_kernel_norm: 1.9,
            },
            !obj:ConvRectifiedLinear {
                layer_name: c1, output_channels: 8, kernel_shape: [3, 3], border_mode: same,
                pool_shape: [2, 2], pool_type: mean, tied_b: true, irange: 0.3,
            },
            !obj:Softmax { layer_name: y, n_classes: 3, irange: 0.1 },
        ],
    },
    algorithm: !obj:SGD {
        learning_rate: 0.1,
        batch_size: 10,
        learning_rule: !obj:Momentum { init_momentum: 0.5 },
        monitoring_dataset: { train: *train, valid: !obj:HDF5Dataset { filename: valid.h5 } },
        termination_criterion: !obj:EpochCounter { max_epochs: 3 },
    },
    save_path: conv.h5,
}
EOF
    run -0 --separate-stderr ml-train conv.yaml
    [ "${#lines[@]}" -eq 5 ]
    [[ "${lines[0]}" == *"	momentum	"* ]]
    run -0 h5ls -r conv.h5
    # 8x8 -> 3x3 filters -> 6x6 -> pool 2 -> 3x3 -> same 3x3 -> pool 2 -> 2x2 (partial windows)
    [[ "$output" == *"/params/c0/W             Dataset {4, 1, 3, 3}"* ]]
    [[ "$output" == *"/params/c0/b             Dataset {4, 6, 6}"* ]]
    [[ "$output" == *"/params/c1/W             Dataset {8, 4, 3, 3}"* ]]
    [[ "$output" == *"/params/c1/b             Dataset {8}"* ]]
    [[ "$output" == *"/params/y/W              Dataset {32, 3}"* ]]
    run -0 ml-eval -q conv.h5 valid.h5
    [ "${lines[0]}" = "examples	60" ]
    acc=$(awk '$1 == "accuracy" { print $2 }' <<< "$output")
    awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }'
}

@test "the Dropout, WeightDecay, L1WeightDecay and SumOfCosts costs train" {
    run -0 ml-train -q -s 'algorithm.cost=!obj:Dropout { input_include_probs: { h0: 1.0 }, input_scales: { h0: 1.0 } }' exp.yaml -o dropout.h5
    [ "${#lines[@]}" -eq 5 ]
    h5dump -d /experiment dropout.h5 | grep -q '!obj:Dropout'
    # WeightDecay alone is the whole objective (as in Pylearn2): the sum of
    # squared weights times the coefficients, which training shrinks
    run -0 ml-train -q -s 'algorithm.cost=!obj:WeightDecay { coeffs: { h0: 0.001, y: 0.001 } }' exp.yaml -o wd.h5
    [ "${#lines[@]}" -eq 5 ]
    awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                 !($c["train_objective"] < 0.01 && $c["train_objective"] < $c["train_y_nll"]) { exit 1 }
                 NR > 2 && !($c["train_objective"] < last) { exit 1 }
                 { last = $c["train_objective"] }' <<< "$output"
    # with the model's own cost, the objective is the NLL plus the decay
    run -0 ml-train -q -s 'algorithm.cost=!obj:SumOfCosts { costs: [ !obj:Default {}, [0.01, !obj:L1WeightDecay { coeffs: [0.1, 0.1] }], !obj:WeightDecay { coeffs: [0.01, 0.01] } ] }' exp.yaml -o sum.h5
    [ "${#lines[@]}" -eq 5 ]
    awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                 !($c["train_objective"] > $c["train_y_nll"]) { exit 1 }' <<< "$output"
    run -0 ml-train -q -s 'algorithm.cost=!obj:SumOfCosts { costs: [ !obj:Dropout {}, [0.001, !obj:WeightDecay { coeffs: [0.01, 0.01] }] ] }' exp.yaml -o both.h5
    [ "${#lines[@]}" -eq 5 ]
    run -0 h5ls both.h5/params
    # a bad cost is refused before training
    run -1 --separate-stderr ml-train -s 'algorithm.cost=!obj:Dropout { default_input_include_prob: 1.5 }' exp.yaml
    [ "$stderr" = "ml-train: -s algorithm.cost: 'default_input_include_prob' of Dropout must be in (0, 1]" ]
    [ -z "$output" ]
    [ ! -e model.h5 ]
}

# ---- bad experiments: exit 1, a positioned message, nothing written ---------------

@test "a missing experiment file" {
    run -1 --separate-stderr ml-train absent.yaml
    [ -z "$output" ]
    [ "$stderr" = "ml-train: absent.yaml: cannot open: No such file or directory" ]
    [ "$(files)" = "exp.yaml train.h5 valid.h5 " ]
}

@test "a YAML syntax error names file:line:col" {
    cat > bad.yaml <<'EOF'
!obj:Train {
    dataset: !obj:HDF5Dataset { filename: train.h5 },
    model: !obj:MLP { nvis: 64, layers: [ !obj:Softmax { layer_name: y, n_classes: 3 } },
}
EOF
    run -1 --separate-stderr ml-train bad.yaml -o out.h5
    [ -z "$output" ]
    [ "$stderr" = "ml-train: bad.yaml:3:88: did not find expected ',' or ']'" ]
    printf '!obj:Train\n\tdataset: 1\n' > tab.yaml
    run -1 --separate-stderr ml-train tab.yaml -o out.h5
    [ "$stderr" = "ml-train: tab.yaml:2:1: found character that cannot start any token" ]
    [ ! -e out.h5 ]
}

@test "an unknown component, with a suggestion" {
    sed 's/mlp.RectifiedLinear {/mlp.RectifiedLiner {/' exp.yaml > typo.yaml
    run -1 --separate-stderr ml-train typo.yaml
    [ -z "$output" ]
    [ "$stderr" = "ml-train: typo.yaml:7:13: unknown component 'pylearn2.models.mlp.RectifiedLiner' (did you mean 'pylearn2.models.mlp.RectifiedLinear'?)" ]
    sed 's/!obj:pylearn2.models.mlp.RectifiedLinear /!obj:RectifiedLiner /' exp.yaml > typo2.yaml
    run -1 --separate-stderr ml-train typo2.yaml
    [ "$stderr" = "ml-train: typo2.yaml:7:13: unknown component 'RectifiedLiner' (did you mean 'RectifiedLinear'?)" ]
    # a component of another category
    run -1 --separate-stderr ml-train -s 'model.layers.0=!obj:SGD { learning_rate: 1, batch_size: 1 }' exp.yaml
    [ "$stderr" = "ml-train: -s model.layers.0: 'SGD' is an algorithm, expected a layer" ]
    [ "$(files)" = "exp.yaml train.h5 typo.yaml typo2.yaml valid.h5 " ]
}

@test "an unknown parameter, with a suggestion" {
    sed 's/learning_rate: 0.1/learning_rat: 0.1/' exp.yaml > typo.yaml
    run -1 --separate-stderr ml-train typo.yaml
    [ -z "$output" ]
    [ "$stderr" = "ml-train: typo.yaml:12:9: SGD has no parameter 'learning_rat' (did you mean 'learning_rate'?)" ]
    [ ! -e model.h5 ]
}

@test "a value of the wrong type" {
    sed 's/learning_rate: 0.1/learning_rate: fast/' exp.yaml > bad.yaml
    run -1 --separate-stderr ml-train bad.yaml
    [ -z "$output" ]
    [ "$stderr" = "ml-train: bad.yaml:12:24: 'learning_rate' of SGD expects a number, found 'fast'" ]
    run -1 --separate-stderr ml-train -s model.layers.0.dim=1.5 exp.yaml
    [ "$stderr" = "ml-train: -s model.layers.0.dim: 'dim' of RectifiedLinear expects an integer, found '1.5'" ]
    run -1 --separate-stderr ml-train -s "algorithm.learning_rate='0.1'" exp.yaml
    [ "$stderr" = "ml-train: -s algorithm.learning_rate: 'learning_rate' of SGD expects a number, found '0.1' (quoted)" ]
    run -1 --separate-stderr ml-train -s model.layers=3 exp.yaml
    [ "$stderr" = "ml-train: -s model.layers: 'layers' of MLP expects a list of layer objects, found '3'" ]
    run -1 --separate-stderr ml-train -s algorithm.learning_rate=-1 exp.yaml
    [ "$stderr" = "ml-train: -s algorithm.learning_rate: 'learning_rate' of SGD must be positive" ]
    [ ! -e model.h5 ]
}

@test "a missing required parameter" {
    grep -v 'batch_size: 10' exp.yaml > bad.yaml
    run -1 --separate-stderr ml-train bad.yaml
    [ -z "$output" ]
    [ "$stderr" = "ml-train: bad.yaml:11:16: SGD needs 'batch_size'" ]
    sed 's/layer_name: y, //' exp.yaml > bad2.yaml
    run -1 --separate-stderr ml-train bad2.yaml
    [ "$stderr" = "ml-train: bad2.yaml:8:13: Softmax needs 'layer_name'" ]
    [ ! -e model.h5 ]
}

@test "a duplicate key, an empty file, a model alone" {
    sed 's/max_epochs: 3/max_epochs: 3, max_epochs: 4/' exp.yaml > dup.yaml
    run -1 --separate-stderr ml-train dup.yaml
    [ "$stderr" = "ml-train: dup.yaml:18:97: duplicate key 'max_epochs' (first on line 18)" ]
    : > empty.yaml
    run -1 --separate-stderr ml-train empty.yaml
    [ "$stderr" = "ml-train: empty.yaml:1:1: an experiment is a !obj:Train or a model component" ]
    printf '!obj:MLP { nvis: 4, layers: [ !obj:Softmax { layer_name: y, n_classes: 2 } ] }\n' > mlp.yaml
    run -1 --separate-stderr ml-train mlp.yaml
    [ "$stderr" = "ml-train: mlp.yaml: not a training experiment (a !obj:Train)" ]
    [ ! -e model.h5 ]
}

@test "a -s path that does not exist, with a suggestion" {
    run -1 --separate-stderr ml-train -s algorithm.learnin_rate.x=0.1 exp.yaml
    [ -z "$output" ]
    [ "$stderr" = "ml-train: -s algorithm.learnin_rate.x: no key 'learnin_rate' in !obj:pylearn2.training_algorithms.sgd.SGD (did you mean 'learning_rate'?)" ]
    # a new key is checked against the component's parameters
    run -1 --separate-stderr ml-train -s algorithm.learnin_rate=0.1 exp.yaml
    [ "$stderr" = "ml-train: -s algorithm.learnin_rate: SGD has no parameter 'learnin_rate' (did you mean 'learning_rate'?)" ]
    run -1 --separate-stderr ml-train -s model.layers.5.dim=3 exp.yaml
    [ "$stderr" = "ml-train: -s model.layers.5.dim: no item '5' in 'model.layers' (a list of 2)" ]
    run -1 --separate-stderr ml-train -s learning_rate exp.yaml
    [ "$stderr" = "ml-train: -s learning_rate: expected PATH=VALUE" ]
    run -1 --separate-stderr ml-train -s 'algorithm.learning_rate=[1' exp.yaml
    [ "$stderr" = "ml-train: -s algorithm.learning_rate: did not find expected ',' or ']'" ]
    [ "$(files)" = "exp.yaml train.h5 valid.h5 " ]
}

# ---- bad data ----------------------------------------------------------------------

@test "a dataset file that does not exist" {
    run -1 --separate-stderr ml-train -s dataset.filename=absent.h5 exp.yaml
    [ -z "$output" ]
    [ "$stderr" = "ml-train: exp.yaml:3:14: HDF5Dataset: absent.h5: cannot open: No such file or directory" ]
    [ "$(files)" = "exp.yaml train.h5 valid.h5 " ]
}

@test "a dataset file that is not HDF5" {
    echo "just some text" > text.h5
    run -1 --separate-stderr ml-train -s algorithm.monitoring_dataset.valid.filename=text.h5 exp.yaml
    [ -z "$output" ]
    [ "$stderr" = "ml-train: exp.yaml:16:20: HDF5Dataset: text.h5: not an HDF5 file" ]
    [ ! -e model.h5 ]
}

@test "a truncated dataset file" {
    head -c 20000 train.h5 > cut.h5
    run -1 --separate-stderr ml-train -s dataset.filename=cut.h5 exp.yaml
    [ -z "$output" ]
    [[ "$stderr" == "ml-train: exp.yaml:3:14: HDF5Dataset: cut.h5: truncated or damaged HDF5 file"* ]]
    [ ! -e model.h5 ]
    head -c 1000 train.h5 > cut.h5
    run -1 --separate-stderr ml-train -s dataset.filename=cut.h5 exp.yaml
    [[ "$stderr" == "ml-train: exp.yaml:3:14: HDF5Dataset: cut.h5: truncated or damaged HDF5 file"* ]]
    [ ! -e model.h5 ]
}

@test "a model and data that do not fit (nvis 10 on 64 features)" {
    run -1 --separate-stderr ml-train -s model.nvis=10 exp.yaml
    [ -z "$output" ]
    [[ "$stderr" == "ml-train: exp.yaml:4:12: the model's input is VectorSpace(10), the data's rows are "* ]]
    [ ! -e model.h5 ]
    # a monitoring dataset of other rows than the training data
    make_blobs_dataset small.h5 30 3 4
    run -1 --separate-stderr ml-train -s algorithm.monitoring_dataset.valid.filename=small.h5 exp.yaml
    [ -z "$output" ]
    [[ "$stderr" == "ml-train: "*"small.h5"* || "$stderr" == "ml-train: exp.yaml:16:"* ]]
    [ ! -e model.h5 ]
}

@test "an output folder that does not exist fails before any training" {
    run -1 --separate-stderr ml-train exp.yaml -o nodir/m.h5
    [ -z "$output" ]
    [ "$stderr" = "ml-train: nodir/m.h5: cannot create: No such file or directory" ]
    [ ! -e nodir ]
    # save_path of the file, and of MonitorBasedSaveBest
    run -1 --separate-stderr ml-train -s save_path=nodir/m.h5 exp.yaml
    [ "$stderr" = "ml-train: nodir/m.h5: cannot create: No such file or directory" ]
    run -1 --separate-stderr ml-train -s 'extensions=[!obj:MonitorBasedSaveBest { channel_name: valid_y_misclass, save_path: nodir/best.h5 }]' exp.yaml
    [ -z "$output" ]
    [ "$stderr" = "ml-train: nodir/best.h5: cannot create: No such file or directory" ]
    [ "$(files)" = "exp.yaml train.h5 valid.h5 " ]
}

@test "a failed run leaves an existing output file byte-identical" {
    echo "an older model" > model.h5
    before=$(file_digest model.h5)
    run -1 ml-train -s algorithm.learning_rat=0.1 exp.yaml
    [ "$(file_digest model.h5)" = "$before" ]
    run -1 ml-train -s dataset.filename=absent.h5 exp.yaml
    [ "$(file_digest model.h5)" = "$before" ]
    run -1 ml-train -s model.nvis=10 exp.yaml
    [ "$(file_digest model.h5)" = "$before" ]
    run -1 ml-train --model absent.h5 exp.yaml
    [ "$(file_digest model.h5)" = "$before" ]
    # failing during training (diverging)
    run -1 ml-train -q -s algorithm.learning_rate=1e30 exp.yaml
    [ "$(file_digest model.h5)" = "$before" ]
    # allow_overwrite: false refuses to replace it
    run -1 --separate-stderr ml-train -s allow_overwrite=false exp.yaml
    [ "$stderr" = "ml-train: model.h5: exists, and allow_overwrite is false" ]
    [ -z "$output" ]
    [ "$(file_digest model.h5)" = "$before" ]
    [ "$(files)" = "exp.yaml model.h5 train.h5 valid.h5 " ]
}

# ---- during training -----------------------------------------------------------------

@test "a learning rate that diverges stops with the epoch, the batch and NaN" {
    run -1 --separate-stderr ml-train -s algorithm.learning_rate=1e30 exp.yaml
    [[ "${stderr_lines[-1]}" =~ ^ml-train:\ epoch\ [0-9]+,\ batch\ [0-9]+:\ .*(NaN|infinite) ]]
    [ "${stderr_lines[-1]}" = "ml-train: epoch 1, batch 2: the objective is NaN" ]
    # the records before it were printed
    [[ "${lines[0]}" == "epoch	batches	examples	seconds	"* ]]
    [ "$(cut -f 1 <<< "${lines[1]}")" = "0" ]
    [ ! -e model.h5 ]
}

@test "SIGINT during training saves the model and exits 130; SIGTERM 143" {
    for sig in INT TERM; do
        rm -f stream.tsv
        ml-train -s algorithm.termination_criterion.max_epochs=100000000 exp.yaml -o $sig.h5 \
            > stream.tsv 2> err.txt 3>&- &
        pid=$!
        # wait for the header and the first record
        for i in $(seq 200); do
            [ "$(wc -l < stream.tsv)" -ge 2 ] && break
            sleep 0.05
        done
        kill -$sig "$pid"
        status=0
        wait "$pid" || status=$?
        [ "$(wc -l < stream.tsv)" -ge 2 ]
        if [ $sig = INT ]; then [ "$status" -eq 130 ]; else [ "$status" -eq 143 ]; fi
        [ "$(tail -1 err.txt)" = "ml-train: stopped by signal $([ $sig = INT ] && echo 2 || echo 15), model saved" ]
        run -0 h5ls -r $sig.h5
        [[ "$output" == *"/params/h0/W             Dataset {64, 10}"* ]]
        # the file holds the records printed (every complete line)
        records=$(( $(wc -l < stream.tsv) - 1 ))
        [[ "$output" == *"/monitor/valid_y_misclass Dataset {$records, 5}"* ]]
    done
    [ ! -e model.h5 ]
}

@test "-o - is refused: standard output carries the monitor stream" {
    ml-train -o - exp.yaml > out.bin 2> err.txt && status=0 || status=$?
    [ "$status" -eq 2 ]
    ! grep -q HDF out.bin
}

@test "device: in the experiment; --device and ML_DEVICE come first" {
    run -1 --separate-stderr ml-train -q -s device=tpu exp.yaml
    [[ "$stderr" == *"device"*"must be cpu or cuda, not 'tpu'"* ]]
    [ ! -e model.h5 ]
    ml-train -q --device cpu -s device=cuda exp.yaml -o a.h5 > a.tsv
    ML_DEVICE=cpu ml-train -q -s device=cuda exp.yaml -o b.h5 > b.tsv
    [ "$(without_seconds a.tsv)" = "$(without_seconds b.tsv)" ]
    # on cuda it trains where a GPU is, and says why not elsewhere
    status=0
    ml-train -q -s device=cuda exp.yaml -o c.h5 > c.tsv 2> err.txt || status=$?
    if [ "$status" -ne 0 ]; then
        grep -Eq "no CUDA device|without CUDA" err.txt
        [ ! -e c.h5 ]
    fi
}
