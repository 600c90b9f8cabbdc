/* registry.c - the list of built-in tasks. A new task is one file in tasks/
 * and one line here. */
#include <stdio.h>
#include <string.h>

#include "tasks/task.h"

extern const struct task_kind task_sine, task_evidence, task_store_recall, task_delayed_xor;

const struct task_kind *const task_kinds[] = {
    &task_sine,
    &task_evidence,
    &task_store_recall,
    &task_delayed_xor,
};
const int task_n_kinds = sizeof task_kinds / sizeof task_kinds[0];

const struct task_kind *task_find(const char *name)
{
    for (int i = 0; i < task_n_kinds; i++)
        if (strcmp(task_kinds[i]->name, name) == 0) return task_kinds[i];
    return NULL;
}

void task_list_names(char *buf, size_t cap)
{
    size_t len = 0;
    if (cap) buf[0] = 0;
    for (int i = 0; i < task_n_kinds && len < cap; i++) {
        int n = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", task_kinds[i]->name);
        if (n < 0) break;
        len += (size_t)n;
    }
}
