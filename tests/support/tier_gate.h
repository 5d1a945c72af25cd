/* tier_gate.h — holding a module's background compiler in tests: closing the gate installs
 * the tier-up test hook, so every tier-up waits at it (counted) until the gate opens. */
#ifndef MF_TEST_TIER_GATE_H
#define MF_TEST_TIER_GATE_H

void tsupport_gate_close(void);          /* tier-ups from now on wait at the gate */
void tsupport_gate_open(void);           /* lets them all through */
void tsupport_gate_wait_reached(int n);  /* until n tier-ups are at the gate since it closed */
void tsupport_gate_remove(void);         /* no hook any more */

#endif
