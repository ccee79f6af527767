import { FAULT_SCENARIOS } from './fault-scenarios';
import { FILE_SCENARIOS } from './file-scenarios';
import { OPERATOR_SCENARIOS } from './operator-scenarios';
import type { Scenario } from './scenario';

/** Every scenario, in the order a run goes through them. */
export const SCENARIOS: Scenario[] = [...FAULT_SCENARIOS, ...FILE_SCENARIOS, ...OPERATOR_SCENARIOS];
