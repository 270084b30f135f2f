#!/usr/bin/env bats
# ml-train's training control (issue 5): every learning rule on a small MLP,
# the termination criteria ChannelTarget, And and Or, the schedules
# MomentumAdjustor, LinearDecayOverEpoch and ExponentialDecay as the monitor
# shows them, and PolyakAveraging's parameters in the model file.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
    enter_blobs_workdir
}

# col FILE NAME: the values of a channel of ml-train's monitor stream, one a line.
col() {
    awk -F '\t' -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next } c { print $c }' "$1"
}

# the last value of a channel
last() {
    col "$1" "$2" | tail -n 1
}

@test "every learning rule trains: the objective falls, the rule's learning rate is monitored" {
    for rule in 'Momentum { init_momentum: 0.5 }' 'Momentum { init_momentum: 0.5, nesterov_momentum: true }' \
                'AdaGrad {}' 'AdaGrad { max_scaling: 1e5 }' 'RMSProp {}' 'RMSProp { decay: 0.5, max_scaling: 100 }' \
                'AdaDelta {}' 'Adam {}' 'Adamax { beta1: 0.8 }' 'Nadam { epsilon: 1e-6 }'; do
        rm -f model.h5
        ml-train -q -s "algorithm.learning_rule=!obj:$rule" -s algorithm.learning_rate=0.01 exp.yaml > stream.tsv
        [ "$(col stream.tsv epoch | tr '\n' ' ')" = "0 1 2 3 " ]
        first=$(col stream.tsv valid_objective | head -n 1)
        final=$(last stream.tsv valid_objective)
        echo "$rule: $first -> $final"
        awk -v a="$first" -v b="$final" 'BEGIN { exit !(b < a) }'
        [ "$(last stream.tsv learning_rate)" = 0.00999999978 ]
        h5ls model.h5/params/h0 | grep -q '^W  *Dataset {64, 10}'
        h5ls model.h5/monitor | grep -q '^learning_rate '
        [ -z "$(h5ls model.h5 | grep params_averaged)" ]
    done
}

@test "Pylearn2's names of the learning rules are accepted" {
    for rule in AdaGrad RMSProp AdaDelta Adam; do
        ml-train -q -s "algorithm.learning_rule=!obj:pylearn2.training_algorithms.learning_rule.$rule {}" exp.yaml > stream.tsv
        [ "$(col stream.tsv epoch | wc -l)" -eq 4 ]
    done
}

@test "only Momentum has a momentum channel" {
    ml-train -q -s 'algorithm.learning_rule=!obj:Momentum { init_momentum: 0.25 }' exp.yaml > m.tsv
    [ "$(col m.tsv momentum | tr '\n' ' ')" = "0.25 0.25 0.25 0.25 " ]
    ml-train -q -s 'algorithm.learning_rule=!obj:Adam {}' exp.yaml > a.tsv
    [ -z "$(head -n 1 a.tsv | tr '\t' '\n' | grep -x momentum)" ]
    [ -n "$(head -n 1 a.tsv | tr '\t' '\n' | grep -x learning_rate)" ]
}

@test "a bad value of a learning rule is named with its place" {
    run -1 --separate-stderr ml-train -s 'algorithm.learning_rule=!obj:RMSProp { decay: 1 }' exp.yaml
    [[ "$stderr" == *"'decay' of RMSProp must be in [0, 1)"* ]]
    run -1 --separate-stderr ml-train -s 'algorithm.learning_rule=!obj:Adam { epsilon: 0 }' exp.yaml
    [[ "$stderr" == *"'epsilon' of Adam must be positive"* ]]
    run -1 --separate-stderr ml-train -s 'algorithm.learning_rule=!obj:Adam { beta3: 0.5 }' exp.yaml
    [[ "$stderr" == *"Adam has no parameter 'beta3'"* ]]
    [ ! -e model.h5 ]
}

@test "MomentumAdjustor and LinearDecayOverEpoch: the monitor shows the schedules" {
    ml-train -q -s 'algorithm.learning_rule=!obj:Momentum { init_momentum: 0.5 }' \
        -s algorithm.termination_criterion.max_epochs=6 \
        -s 'extensions=[!obj:pylearn2.training_algorithms.learning_rule.MomentumAdjustor { start: 1, saturate: 4, final_momentum: 0.9 }, !obj:LinearDecayOverEpoch { start: 2, saturate: 4, decay_factor: 0.1 }]' \
        exp.yaml > s.tsv
    [ "$(col s.tsv momentum | tr '\n' ' ')" = "0.5 0.5 0.633333325 0.766666651 0.899999976 0.899999976 0.899999976 " ]
    [ "$(col s.tsv learning_rate | tr '\n' ' ')" = "0.100000001 0.100000001 0.0700000003 0.0399999991 0.00999999978 0.00999999978 0.00999999978 " ]
    # the model file's records say the same
    h5dump -d /monitor/learning_rate model.h5 | grep -q '0.04'
    [ "$(h5dump -d /monitor/momentum model.h5 | grep -c '0.9,\|0.9$')" -ge 1 ]
}

@test "MomentumAdjustor needs the Momentum rule" {
    run -1 --separate-stderr ml-train -s 'algorithm.learning_rule=!obj:Adam {}' \
        -s 'extensions=[!obj:MomentumAdjustor { start: 1, saturate: 2, final_momentum: 0.9 }]' exp.yaml
    [[ "$stderr" == *"MomentumAdjustor: the learning rule is Adam, not Momentum"* ]]
    run -1 --separate-stderr ml-train -s 'extensions=[!obj:LinearDecayOverEpoch { start: 3, saturate: 3, decay_factor: 0.1 }]' exp.yaml
    [[ "$stderr" == *"'saturate' of LinearDecayOverEpoch must be greater than start"* ]]
}

@test "ExponentialDecay divides the learning rate after every batch, down to min_lr" {
    # 150 examples in batches of 10: 15 batches an epoch; 0.1 / 1.1^15 = 0.02394
    ml-train -q -s 'algorithm.update_callbacks=[!obj:pylearn2.training_algorithms.sgd.ExponentialDecay { decay_factor: 1.1, min_lr: 0.01 }]' \
        exp.yaml > e.tsv
    [ "$(col e.tsv learning_rate | tr '\n' ' ')" = "0.100000001 0.0239392053 0.00999999978 0.00999999978 " ]
    # the same as an extension
    ml-train -q -s 'extensions=[!obj:ExponentialDecay { decay_factor: 1.1, min_lr: 0.01 }]' exp.yaml > x.tsv
    [ "$(col x.tsv learning_rate | tr '\n' ' ')" = "0.100000001 0.0239392053 0.00999999978 0.00999999978 " ]
}

@test "ChannelTarget, And and Or stop training as Pylearn2's do" {
    # valid_objective falls below 0.5 after epoch 2 of this run
    ml-train -q -s algorithm.termination_criterion='!obj:ChannelTarget { channel_name: valid_objective, target: 0.5 }' exp.yaml > t.tsv
    [ "$(col t.tsv epoch | tr '\n' ' ')" = "0 1 2 " ]
    ml-train -q -s algorithm.termination_criterion='!obj:Or { criteria: [!obj:EpochCounter { max_epochs: 5 }, !obj:pylearn2.termination_criteria.ChannelTarget { channel_name: valid_objective, target: 0.5 }] }' exp.yaml > o.tsv
    [ "$(col o.tsv epoch | tr '\n' ' ')" = "0 1 2 3 4 5 " ]
    ml-train -q -s algorithm.termination_criterion='!obj:pylearn2.termination_criteria.And { criteria: [!obj:EpochCounter { max_epochs: 5 }, !obj:ChannelTarget { channel_name: valid_objective, target: 0.5 }] }' exp.yaml > a.tsv
    [ "$(col a.tsv epoch | tr '\n' ' ')" = "0 1 2 " ]
    # nested: And(Or(...), EpochCounter 1)
    ml-train -q -s algorithm.termination_criterion='!obj:And { criteria: [!obj:Or { criteria: [!obj:EpochCounter { max_epochs: 5 }] }, !obj:EpochCounter { max_epochs: 1 }] }' exp.yaml > n.tsv
    [ "$(col n.tsv epoch | tr '\n' ' ')" = "0 1 " ]
    run -1 --separate-stderr ml-train -s algorithm.termination_criterion='!obj:And { criteria: [] }' exp.yaml
    [[ "$stderr" == *"'criteria' of And must list at least one criterion"* ]]
}

@test "PolyakAveraging writes the averaged parameters beside the trained ones" {
    ml-train -q -s 'algorithm.learning_rule=!obj:Adam {}' -s algorithm.learning_rate=0.01 \
        -s 'extensions=[!obj:pylearn2.training_algorithms.sgd.PolyakAveraging { start: 1 }]' exp.yaml > p.tsv
    run -0 h5ls -r model.h5/params_averaged
    [[ "$output" == *"/h0/W                    Dataset {64, 10}"* ]]
    [[ "$output" == *"/y/b                     Dataset {3}"* ]]
    # after epoch 1's record: epochs 2 and 3, 15 batches each
    h5dump -a /params_averaged/steps model.h5 | grep -q '(0): 30'
    h5dump -a /params_averaged/start_epoch model.h5 | grep -q '(0): 1'
    [ "$(h5_data model.h5 /params_averaged/h0/W)" != "$(h5_data model.h5 /params/h0/W)" ]
    # a start after the last epoch: nothing averaged, nothing written
    ml-train -q -s 'extensions=[!obj:PolyakAveraging { start: 9 }]' -o late.h5 exp.yaml > /dev/null
    [ -n "$(h5ls late.h5 | grep params)" ]
    [ -z "$(h5ls late.h5 | grep params_averaged)" ]
}
