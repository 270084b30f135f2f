/* Internal to lib/config: shared between the parser and the component registry. */
#ifndef ML_CONFIG_IMPL_H
#define ML_CONFIG_IMPL_H

#include "config/yaml.h"

/* Parses a YAML value that is not a document of its own (a -s value, a
 * parameter's default): name is its only position ("-s model.nvis: ...").
 * seed (may be NULL) lends the anchors of its tree to aliases in text. */
ml_status ml_cfg_parse_value(const char *text, const char *name, ml_cfg_node *seed,
                             ml_cfg_node **root);

#endif
