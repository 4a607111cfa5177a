/**
 * Small pieces shared by the command groups that register themselves on the program
 * (`ipam`, `workload`): the action wrapper that records the exit code, and help examples.
 */

/** Wraps a command's run function so its exit code reaches `run()`'s result. */
export type Act = <A extends unknown[]>(fn: (...args: A) => Promise<number> | number) => (...args: A) => Promise<void>;

/** The "Examples:" block of a command's --help. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

/** Commander's collector for repeatable options (`-l a=b -l c=d`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `1 workload`, `2 workloads`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
