/**
 * Stopping with the parent process. A parent that starts the operator with a Node IPC channel
 * (`tools/start.ts` does) ties the operator's life to its own: when the channel closes, the parent
 * is gone (exited, or killed outright, which it cannot pass on), and the operator stops as on
 * SIGTERM — it drains, releases its leader Lease and exits 0. Without a channel (a container, a
 * shell, a supervisor) nothing changes. It never keeps the process alive by itself.
 */

/** Stops this process as on SIGTERM once the IPC channel it was started with closes. */
export const stopWithParent = (): void => {
  const channel = process.channel
  if (channel === undefined) return
  channel.unref()
  process.once("disconnect", () => process.kill(process.pid, "SIGTERM"))
}
