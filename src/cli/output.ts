// What a command prints: its result as text for a person or as JSON for a script.

/** The result as pretty JSON with `--json`, else the text; one trailing newline either way. */
export function print(json: boolean | undefined, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

/** Every line indented by four spaces (a script under the command that reads it). */
export function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

/** The progress line a run shows once Ctrl-C reached it. */
export const INTERRUPT_NOTICE =
  'interrupted: stopping the traffic, keeping what was measured, tearing the lab down';
