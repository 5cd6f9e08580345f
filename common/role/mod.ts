/**
 * The role runner both roles use ({@linkcode runRoleWork}): output, shutdown
 * signal, metrics endpoint, progress, the role's work, ordered clean-up,
 * expected errors and the exit status. Sits above the transports and below
 * the role folders; it knows no concrete transport.
 *
 * @module
 */

// The runner, what a role hands it, and the errors it expects.
export {
  type ErrorClass,
  type ErrorLine,
  errorLine,
  expectedLine,
  type RoleContext,
  type RoleMetrics,
  type RoleRunnerOptions,
  type RoleWork,
  type RunEnd,
  runRoleWork,
} from "./runner.ts";
