/* The container's pseudo-terminal (process.terminal). Child side only: the pty is allocated
 * inside the container (its /dev/ptmx, i.e. the container's devpts instance), the slave
 * becomes the controlling terminal and stdio of the process, and the master is handed to the
 * parent (see oci/sync.h), which owns it from then on. */
#ifndef SKIFF_OCI_TERMINAL_H
#define SKIFF_OCI_TERMINAL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

/* Opens /dev/ptmx (CLOEXEC), unlocks it and opens its slave (CLOEXEC, through TIOCGPTPEER).
 * Applies the window size when rows/cols are non-zero. */
int skiff_terminal_open(uint32_t rows, uint32_t cols, int *ret_master, int *ret_slave,
                        skiff_err_t *err);

/* Makes slave (the peer of master) the controlling terminal of a new session (setsid + TIOCSCTTY)
 * and dups it to 0, 1 and 2. When bind_console, also bind-mounts the slave over /dev/console
 * (creating the file if needed). Does not close slave. */
int skiff_terminal_setup_slave(int master, int slave, bool bind_console, skiff_err_t *err);

/* TIOCSWINSZ on fd. */
int skiff_terminal_set_size(int fd, uint32_t rows, uint32_t cols, skiff_err_t *err);

#endif
