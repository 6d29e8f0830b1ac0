/** An error the user can fix (bad flag, missing file, wrong checkpoint): printed as one `gm: …` line, exit code 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}
