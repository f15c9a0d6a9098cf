// The one error type of the configuration layer: "file:line: what is wrong" (line omitted when not tied to a line).
export class ConfigError extends Error {
  constructor(readonly file: string, readonly line: number | undefined, readonly reason: string) {
    super(line === undefined ? `${file}: ${reason}` : `${file}:${line}: ${reason}`);
    this.name = 'ConfigError';
  }
}

/** Several bad lines at once: the message has one "file:line: reason" line each; file/line/reason are the first's. */
export class ConfigErrors extends ConfigError {
  constructor(readonly errors: ConfigError[]) {
    super(errors[0]!.file, errors[0]!.line, errors[0]!.reason);
    this.name = 'ConfigErrors';
    this.message = errors.map((e) => e.message).join('\n');
  }
}
