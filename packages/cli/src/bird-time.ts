/**
 * Times as BIRD prints them in `show protocols` (the SINCE column of `calicoctl node
 * status`), and the short ages tabbyctl prints ("5m10s ago").
 */

/**
 * BIRD's `timeformat protocol iso short` (`%T` / `%F` with a 20-hour limit,
 * sysdep/unix/timer.c `tm_format_datetime`): `HH:MM:SS` when `time` is less than 20 hours
 * before `now` (or after it), `YYYY-MM-DD` otherwise, in the local time zone (`TZ`).
 * BIRD's rule is "less than 20 hours ago", not "today": 23:00 yesterday seen at 08:00 is
 * `23:00:00`.
 */
export function birdTime(time: Date, now: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  if (now.getTime() - time.getTime() < 20 * 3600 * 1000) return `${two(time.getHours())}:${two(time.getMinutes())}:${two(time.getSeconds())}`;
  return `${String(time.getFullYear()).padStart(4, '0')}-${two(time.getMonth() + 1)}-${two(time.getDate())}`;
}

/** BIRD's SINCE for an RFC 3339 text; text that is not a time is shown as it is. */
export function birdSince(rfc3339: string, now: Date): string {
  const t = parseTime(rfc3339);
  return t === undefined ? rfc3339 : birdTime(t, now);
}

/** An RFC 3339 time, or undefined when `text` is empty or not a time. */
export function parseTime(text: string): Date | undefined {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i.test(text)) return undefined;
  const t = new Date(text);
  return Number.isNaN(t.getTime()) ? undefined : t;
}

/**
 * A duration the way kubectl prints ages: `45s`, `5m10s` (under 10 minutes), `42m`,
 * `5h10m` (under 8 hours), `20h`, `3d4h` (under 8 days), `12d`, `2y30d`.
 */
export function humanAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  const y = Math.floor(d / 365);
  return d % 365 === 0 ? `${y}y` : `${y}y${d % 365}d`;
}
