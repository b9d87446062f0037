//! Integration tests of `run-task`: the built binary against the emulator (moto 5.2.5)
//! through the harness' recording proxy.
//!
//! What moto cannot do, and what stands in for it:
//! - A container's end: moto reports every container with exit code 0 and no stop code,
//!   and ends a task only when asked. The test ends the task with StopTask (as ECS does
//!   when the essential container exits) and the proxy's `TaskEnd` writes into the
//!   DescribeTasks answers what ECS says then: the exit code, `EssentialContainerExited`
//!   or `TaskFailedToStart` with `CannotPullContainerError`.
//! - A task's life: moto advances a task's status on every DescribeTasks; its state
//!   manager is set to keep tasks RUNNING until they are stopped.
//! - `clientToken`: moto ignores it, so a RunTask whose answer is lost would start a second
//!   task; the proxy loses or throttles RunTask's answer and the test counts the tasks.
//! - awsvpc: moto fails RunTask with an awsvpc network configuration, so the services
//!   here have none and the task definition uses the default network mode.
//!
//! The container's log lines are real: the test writes them to moto's CloudWatch Logs
//! stream the task definition's `awslogs` options name, while the task runs.

mod support;

mod failures;
mod follow;
mod refusals;
mod start_once;
