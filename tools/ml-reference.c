/* ml-reference: print the reference of every registered component of the
 * experiment language, as mdoc(7) for the COMPONENTS section of
 * ml-experiment(5) (the default), or as plain text with --text.  The
 * Makefile substitutes its output for @COMPONENTS@ in
 * man/man5/ml-experiment.5.in, so the page always says what the code's
 * parameter tables say. */
#include <stdio.h>
#include <string.h>

#include "ml.h"

int main(int argc, char **argv)
{
    int mdoc = 1;
    if (argc == 2 && strcmp(argv[1], "--text") == 0) {
        mdoc = 0;
    } else if (argc != 1) {
        fprintf(stderr, "usage: ml-reference [--text]\n");
        return 2;
    }
    if (ml_components_register() != ML_OK) {
        fprintf(stderr, "ml-reference: %s\n", ml_last_error());
        return 1;
    }
    ml_cfg_print_reference(stdout, mdoc);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "ml-reference: cannot write the reference\n");
        return 1;
    }
    return 0;
}
