/*
 * log.h - the node's stdout (CTL-LOG-1): one JSON object per UART line with ts (ms since boot),
 * level, node, msg, optional clause and extra members; or a plain text line with EKC_LOG=text.
 */
#ifndef MCU_LOG_H
#define MCU_LOG_H

#include "ekc_core.h"

void log_setup(const char *node_id, int text_mode);
const char *log_node_name(void); /* "mcu" until the configuration is read */
/* `fields` is "" or JSON members without braces, as in ekc_log_record_t. */
void log_line(ekc_log_level_t level, const char *msg, const char *clause, const char *fields);
/* Hook for ekc_config_t.log. */
void log_core_hook(void *ctx, const ekc_log_record_t *rec);

#endif
