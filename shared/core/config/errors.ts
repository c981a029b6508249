/** Every problem of a configuration at once, each with its file:line:col. */
export class ConfigError extends Error {
  override name = 'ConfigError' as const;
  readonly code = 'TELLTALE_CONFIG' as const;
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}
