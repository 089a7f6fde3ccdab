/* cnnrun's usage text and manual page, from the same tables (help.c). */
#ifndef CNN_HELP_H
#define CNN_HELP_H

#include <stdio.h>

/* `cnnrun --help`: commands, options, exit status, signals, environment,
 * files and examples. */
void help_print(FILE *f);

/* The same as a manual page in roff (man(7)), for cnnrun.1. */
void help_print_man(FILE *f, const char *version);

#endif
