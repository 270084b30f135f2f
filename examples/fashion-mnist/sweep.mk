# A grid search, the Unix way: one ml-train run per point of a grid of
# learning rates x momentums x hidden sizes, each run a file target that
# `make -j` builds side by side (and a re-run redoes only what is missing),
# then the runs ranked by their best validation error, with a column for
# each hyperparameter that differs between them (ml-monitor --rank).
#
#   make -f sweep.mk -j4                 the 2 x 2 x 2 grid, 3 epochs a run, the ranking
#   make -f sweep.mk rank                the ranking again
#   make -f sweep.mk -j4 LR='0.1 0.05 0.01' HIDDEN=1000 EPOCHS=10
#   make -f sweep.mk SET='algorithm.batch_size=50'   more -s overrides for every run
#   make -f sweep.mk clean-sweep         remove runs/
#
# Run i of the grid is runs/lr=LR_mom=MOMENTUM_h=HIDDEN.h5 (its monitor stream
# beside it in .tsv), trained from share/ml/mlp.yaml with -s overrides: the
# learning rate of SGD, the init_momentum of its Momentum rule and the dim
# of both hidden layers.  The data are out/train.h5 and out/valid.h5, made
# by the targets of the Makefile beside this one, which is included here.
#
# Each run uses THREADS threads for its matrix products (default 1), so that
# -jN runs N of them on N cores.

THREADS ?= 1
include $(dir $(lastword $(MAKEFILE_LIST)))Makefile

LR ?= 0.1 0.02
MOMENTUM ?= 0.5 0.9
HIDDEN ?= 100 400
EPOCHS ?= 3
SET ?=
EXPERIMENT ?= $(SHARE)/mlp.yaml
CHANNEL ?= valid_y_misclass
RUNS_DIR ?= runs

RUNS := $(strip $(foreach l,$(LR),$(foreach m,$(MOMENTUM),$(foreach h,$(HIDDEN),\
	$(RUNS_DIR)/lr=$(l)_mom=$(m)_h=$(h).h5))))

# $(call param,NAME,STEM): the value of NAME in a stem "lr=0.1_mom=0.5_h=100".
param = $(patsubst $(1)=%,%,$(filter $(1)=%,$(subst _, ,$(2))))

.DEFAULT_GOAL := rank
.PHONY: rank clean-sweep

rank: $(RUNS)
	ml-monitor --rank $(CHANNEL) $(RUNS)

$(RUNS_DIR):
	mkdir -p $@

$(RUNS): $(RUNS_DIR)/%.h5: $(EXPERIMENT) $(OUT)/train.h5 $(OUT)/valid.h5 | $(RUNS_DIR)
	ml-train --quiet -o $@ \
	    -s algorithm.learning_rate=$(call param,lr,$*) \
	    -s algorithm.learning_rule.init_momentum=$(call param,mom,$*) \
	    -s model.layers.0.dim=$(call param,h,$*) \
	    -s model.layers.1.dim=$(call param,h,$*) \
	    -s algorithm.termination_criterion.max_epochs=$(EPOCHS) \
	    $(addprefix -s ,$(SET)) $(EXPERIMENT) > $(RUNS_DIR)/$*.tsv

clean-sweep:
	rm -rf $(RUNS_DIR)
