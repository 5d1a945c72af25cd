/* tier_gate.h — holding a module's background compiler in tests: closing the gate installs
 * the tier-up test hook, so every tier-up waits at it (counted) until the gate opens. */
#ifndef MF_TEST_TIER_GATE_H
#define MF_TEST_TIER_GATE_H

#include "module/module.h"

void tsupport_gate_close(void);          /* tier-ups from now on wait at the gate */
void tsupport_gate_open(void);           /* lets them all through */
void tsupport_gate_wait_reached(int n);  /* until n tier-ups are at the gate since it closed */
void tsupport_gate_remove(void);         /* no hook any more */

/* A module of g on the given tier (default options otherwise); fails the test if refused. */
mf_module *tsupport_tier_module(const mf_graph *g, mf_tier_mode tier);
/* Runs m on x and fails the test unless the result is within the op tolerance (0.3 % of the
 * largest output) of the interpreter running g; the run's tier info. */
mf_module_tier_info tsupport_tier_run(mf_module *m, const mf_graph *g, mf_tensor *x, const char *what);

#endif
