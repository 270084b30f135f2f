/* libml: the whole public interface. */
#ifndef ML_H
#define ML_H

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "tensor/tensor.h"
#include "backend/ops.h"
#include "backend/backend.h"
#include "graph/graph.h"
#include "io/h5.h"
#include "config/suggest.h"
#include "config/yaml.h"
#include "config/component.h"
#include "io/atomic.h"
#include "io/png.h"
#include "io/font.h"
#include "io/plot.h"
#include "io/tile.h"
#include "io/records.h"
#include "space/space.h"
#include "data/dataset.h"
#include "model/model.h"
#include "model/cost.h"
#include "train/train.h"
#include "train/evaluate.h"
#include "config/yaml.h"
#include "config/component.h"
#include "config/components.h"
#include "config/experiment.h"
#include "data/idx.h"
#include "data/preprocess.h"

#include "core/version.h"

#endif
