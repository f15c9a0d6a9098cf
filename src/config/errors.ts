// The one error type of the configuration layer: "file:line: what is wrong" (line omitted when not tied to a line).
export class ConfigError extends Error {
  constructor(readonly file: string, readonly line: number | undefined, readonly reason: string) {
    super(line === undefined ? `${file}: ${reason}` : `${file}:${line}: ${reason}`);
    this.name = 'ConfigError';
  }
}
