/**
 * How the command line logs. `--log-format=auto|text|json` (a global flag): text is Effect's pretty
 * console logger, for a person at a terminal; json is one JSON object per line (Effect's structured
 * format), for log collectors; auto, the default, is text when stderr is a terminal and json
 * otherwise (a pod, a pipe, a file). Logs always go to stderr: stdout carries only what a command
 * prints (manifests, a plan). A command's failure is logged here once, in the chosen format, and
 * marked as reported so the runtime does not print it again. What to log is the callers' business.
 */
import { Cause, Effect, Layer, Logger, Runtime, Schema } from "effect"
import { Flag, GlobalFlag } from "effect/cli"

export type LogFormat = "auto" | "text" | "json"

export const logFormat = GlobalFlag.Setting("log-format")({
  flag: Flag.Literals("log-format", ["auto", "text", "json"]).pipe(
    Flag.withDescription("Logs as text or JSON lines, on stderr; auto: text when stderr is a terminal."),
    Flag.withMetavar("<auto|text|json>"),
    Flag.withDefault("auto")
  )
})

/** `auto` made concrete: text for a terminal, JSON for anything else. */
export const resolveLogFormat = (format: LogFormat, stderrIsTerminal: boolean): "text" | "json" =>
  format === "auto" ? (stderrIsTerminal ? "text" : "json") : format

/** Effect's loggers for one format, writing to stderr. */
export const loggerLayer = (format: "text" | "json"): Layer.Layer<never> =>
  format === "text"
    ? Layer.merge(
        Logger.layer([Logger.consolePretty({ mode: "tty", colors: process.stderr.isTTY === true })]),
        Layer.succeed(Logger.LogToStderr, true)
      )
    : Logger.layer([Logger.withConsoleError(Logger.formatJson)])

/** The logger `--log-format` chose, for the command handlers. */
export const selectedLogger = Layer.unwrap(
  Effect.map(Effect.service(logFormat), (format) =>
    loggerLayer(resolveLogFormat(format, process.stderr.isTTY === true))
  )
)

/** A command failed; its cause has been logged already. */
export class CommandFailed extends Schema.TaggedError<CommandFailed>()("CommandFailed", {
  message: Schema.String
}) {
  /** Logged by `reportFailure`: the runtime must not print it again. */
  override readonly [Runtime.errorReported] = false
}

const errorMessage = (error: unknown): string =>
  error instanceof Error || (typeof error === "object" && error !== null && "message" in error)
    ? String((error as { readonly message: unknown }).message)
    : String(error)

const errorTag = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : undefined

/**
 * Logs a handler's failure once (an error by its message, a defect with its stack) and fails with
 * `CommandFailed`, so the process exits 1. An interruption (a requested stop) passes unchanged.
 */
export const reportFailure = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, CommandFailed, R> =>
  Effect.catchCause(self, (cause) => {
    if (Cause.hasInterruptsOnly(cause)) return Effect.interrupt
    const error = Cause.findErrorOption(cause)
    const message = error._tag === "Some" ? errorMessage(error.value) : Cause.pretty(cause)
    const tag = error._tag === "Some" ? errorTag(error.value) : "Defect"
    return Effect.logError(message).pipe(
      Effect.annotateLogs(tag === undefined ? {} : { error: tag }),
      Effect.andThen(Effect.fail(new CommandFailed({ message })))
    )
  })
