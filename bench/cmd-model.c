/* cmd-model.c: placeholder until the subcommand lands. */
#include <stdio.h>

#include "lb-cmd.h"

int lb_cmd_model(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "llmbench: model: not implemented yet\n");
    return LB_EXIT_USAGE;
}
