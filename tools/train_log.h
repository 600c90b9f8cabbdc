/* train_log.h - what `trellis train` shows and records: a progress line
 * redrawn in place on a terminal (plain lines otherwise), and a log file with
 * one record per iteration, CSV (FILE.csv) or JSON lines (any other name):
 * iter, loss, reg_loss, accuracy (cross_entropy), grad_norm, val_loss,
 * val_accuracy, seconds, the gradient norm of every tensor (gnorm.NAME) and
 * the firing rate of every spiking node in Hz (rate.ID). */
#ifndef TRELLIS_TRAIN_LOG_H
#define TRELLIS_TRAIN_LOG_H

#include <stdbool.h>

#include "trellis.h"

struct train_log;

/* path may be NULL (no file). append: continue an existing log (--resume).
 * NULL with the reason printed if the file cannot be opened. g must outlive
 * the log. */
struct train_log *train_log_open(const char *path, const trl_graph *g, bool append, bool quiet);
void train_log_start(struct train_log *l, const trl_train_config *cfg, const char *source,
                     long start);
void train_log_iteration(struct train_log *l, const trl_train_metrics *m);
/* Ends the progress line. */
void train_log_end(struct train_log *l);
void train_log_close(struct train_log *l);

#endif
