// The rehearsal's clock and console lines, and the number formats of its report.

export const t0 = Date.now();
export const secs = (at: number): string => `${((at - t0) / 1000).toFixed(1).padStart(6)}s`;
let output = (line: string): void => void process.stdout.write(`${line}\n`);
/** Where progress lines go (default stdout; a test collects them instead). */
export function sayTo(out: (line: string) => void): void {
  output = out;
}
export const say = (msg: string): void => output(`${secs(Date.now())}  ${msg}`);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function pct(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export const ms = (v: number): string => (Number.isFinite(v) ? `${Math.round(v)} ms` : '–');
