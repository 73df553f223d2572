/* cmd-report.c: placeholder until the subcommand lands. */
#include <stdio.h>

#include "lb-cmd.h"

int lb_cmd_report(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "llmbench: report: not implemented yet\n");
    return LB_EXIT_USAGE;
}
