/**
 * The Plan closed over the step kind registry: `src/model/plan.ts` is generic over
 * the step data (it imports no step kind); here `C` is the registry's `StepCheck`
 * union and `K` its `StepKindName`, so code above this layer (compile, engine,
 * library, cli, ui) narrows `task.check` by its `kind`. Import plan types from here
 * everywhere above src/steps; below it (transport, host), from src/model/plan.ts.
 */
import type { PlanOf, PlanPhaseOf, PlanStepOf, TaskOf } from '../model/plan.js';
import type { StepCheck, StepKindName } from './index.js';

export type { BatchAround, Facts, MaxFail, PayloadRef, PlanBundle, PlanHost, PlanInputs, PredictedStatus, Probe, StepStatus, TaskOf } from '../model/plan.js';
export type { StepCheck } from './index.js';

/** One host's part of one step; `check` is one of the registry's kinds (src/steps/index.ts). */
export type Task = TaskOf<StepCheck>;

/** One step of a node, compiled for every host that runs it. */
export type PlanStep = PlanStepOf<StepCheck, StepKindName>;

/** One node = one phase: starts when the previous phase finished on all its hosts. */
export type PlanPhase = PlanPhaseOf<StepCheck, StepKindName>;

/** The plan `compilePlan` makes and `apply` runs (JSON-serialisable, `planVersion: 1`). */
export type Plan = PlanOf<StepCheck, StepKindName>;
