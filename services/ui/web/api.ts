/** The tabby-ui API as the page calls it: JSON in, a typed error out. */
import type { ApiError } from '../src/view.js';

/** A failed call: `status` 0 when tabby-ui itself could not be reached. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function isApiError(v: unknown): v is ApiError {
  return typeof v === 'object' && v !== null && 'error' in v && typeof (v as ApiError).error?.message === 'string';
}

/** GET (or POST with a text body) a JSON answer; non-2xx becomes an ApiFailure with the server's message. */
export async function api<T>(path: string, body?: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, body === undefined ? { headers: { accept: 'application/json' } } : { method: 'POST', body, headers: { 'content-type': 'text/plain', accept: 'application/json' } });
  } catch (err) {
    throw new ApiFailure(0, `tabby-ui unreachable (${err instanceof Error ? err.message : String(err)})`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiFailure(res.status, `${res.status} ${res.statusText}: not JSON`);
  }
  if (!res.ok) throw new ApiFailure(res.status, isApiError(json) ? json.error.message : `${res.status} ${res.statusText}`);
  return json as T;
}
