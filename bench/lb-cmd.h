/* lb-cmd.h: the CLI's subcommands other than run/hw/suites (bench/main.c
 * dispatches on argv[1]). Each gets the arguments after its name and
 * returns the process exit status: 0 success, 1 a failed check (a
 * regression, a failed case), 2 bad input (one line on stderr naming what
 * was wrong and what is accepted). */
#ifndef LB_CMD_H
#define LB_CMD_H

#ifdef __cplusplus
extern "C" {
#endif

#define LB_EXIT_OK 0
#define LB_EXIT_FAILED 1
#define LB_EXIT_USAGE 2

/* llmbench model synth|info|generate ... (bench/cmd-model.c) */
int lb_cmd_model(int argc, char **argv);
/* llmbench model generate ... (bench/cmd-generate.c; lb_cmd_model
 * dispatches to it) */
int lb_cmd_model_generate(int argc, char **argv);
/* llmbench compare BASE.json NEW.json ... (bench/cmd-compare.c) */
int lb_cmd_compare(int argc, char **argv);
/* llmbench report RUN.json ... --format ... (bench/cmd-report.c) */
int lb_cmd_report(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
