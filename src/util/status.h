/* The program's exit statuses, which the run functions also return. Below
 * everything (util/) because the communicator's start-up (src/dist/) must
 * return them too, and it sits under the runner. */
#ifndef CNN_STATUS_H
#define CNN_STATUS_H

/* CNN_INTERRUPTED is the shell's 128 + SIGINT: training stopped on request
 * and saved. */
enum { CNN_OK = 0, CNN_FAILED = 1, CNN_BAD_CONFIG = 2, CNN_INTERRUPTED = 130 };

#endif
