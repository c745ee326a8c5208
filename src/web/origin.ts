// Cross-site WebSocket hijacking guard: a browser always sends Origin on a WebSocket
// upgrade, and a page of ours always has the same host as the request it makes.

export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: readonly string[],
): boolean {
  if (!origin) return false;
  if (allowed.includes(origin)) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  return !!host && url.host.toLowerCase() === host.toLowerCase();
}
